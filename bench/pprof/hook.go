//go:build benchpprof

// This file is not part of the handler. bench/run.ts compiles it into a separate profiling
// build of lambda/ (bench/out/bin/bootstrap-pprof) through `go build -overlay`, so the
// profiled code is exactly the shipped code plus this hook; lambda/ itself is not edited.
//
// With BENCH_PPROF_DIR set, CPU profiling starts before main runs; on SIGUSR1 (sent by the
// bench after the CloudFormation response) the CPU profile is closed, an allocation profile
// (alloc_space / inuse_space) is written next to it, and the process exits.
package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
)

func init() {
	dir := os.Getenv("BENCH_PPROF_DIR")
	if dir == "" {
		return
	}
	// One sample per 64 KiB allocated (the default is 512 KiB): buffers show up.
	runtime.MemProfileRate = 64 << 10
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		return
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		<-sig
		pprof.StopCPUProfile()
		_ = cpu.Close()
		if f, err := os.Create(filepath.Join(dir, "heap.pprof")); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			_ = f.Close()
		}
		os.Exit(0)
	}()
}
