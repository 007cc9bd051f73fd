package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// sandboxArg makes the tool a one-shot launcher: it mounts private tmpfs file systems in its
// (already unshared) mount namespace, then execs the measured program in place, keeping the
// pid, so the parent's wait4 rusage is the program's.
const sandboxArg = "__sandbox"

const tmpfsMagic = 0x01021994

// sandboxDirs are replaced by empty tmpfs mounts: the two temp dirs, whose usage is measured,
// and any extra masks (skopeo's blob-info cache, so no run benefits from an earlier one).
var sandboxDirs = []string{"/tmp", "/var/tmp"}

// Usage is what one measured process cost.
type Usage struct {
	UserSec   float64 `json:"userSec"`
	SysSec    float64 `json:"sysSec"`
	CPUSec    float64 `json:"cpuSec"`
	MaxRSSKiB int64   `json:"maxRssKiB"`
	// TmpPeakBytes is the highest total usage of the private /tmp and /var/tmp seen while
	// the process ran (sampled every 5 ms).
	TmpPeakBytes int64  `json:"tmpPeakBytes"`
	Exit         string `json:"exit"`
}

// measured is a started process.
type measured struct {
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{}
	waitErr error
	tmpPeak atomic.Int64
	stopTmp chan struct{}
	tmpDone chan struct{}
}

// startMeasured starts argv with env (nothing inherited). With sandbox, the process gets
// private tmpfs mounts on /tmp and /var/tmp (and on each of masks) and TMPDIR=/tmp. With
// cgroupProcs (a cgroup's cgroup.procs file; needs sandbox), the launcher moves itself into
// that cgroup before the exec, so the program and every thread and child it starts are held to
// the cgroup's CPU quota from their first instruction, and nothing else is (the tool, the
// registries).
func startMeasured(argv []string, env map[string]string, sandbox bool, masks []string, cgroupProcs string, logFile string) (*measured, error) {
	if cgroupProcs != "" && !sandbox {
		return nil, errors.New("a cgroup needs the sandbox launcher")
	}
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, err
	}
	bin, _ = filepath.Abs(bin)
	envList := make([]string, 0, len(env))
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	sort.Strings(envList)
	var cmd *exec.Cmd
	if sandbox {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		args := []string{sandboxArg, strings.Join(masks, ","), cgroupProcs, bin}
		args = append(args, argv[1:]...)
		cmd = exec.Command(self, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Setpgid: true}
		envList = append(envList, "TMPDIR=/tmp")
	} else {
		cmd = exec.Command(bin, argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	cmd.Env = envList
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	m := &measured{cmd: cmd, exited: make(chan struct{}), stopTmp: make(chan struct{}), tmpDone: make(chan struct{})}
	m.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		m.waitErr = cmd.Wait()
		close(m.exited)
	}()
	if sandbox {
		go m.watchTmp()
	} else {
		close(m.tmpDone)
	}
	return m, nil
}

// watchTmp samples the private temp mounts through /proc/PID/root until told to stop.
// Samples taken before the launcher has mounted them (the file system is not tmpfs yet)
// are ignored.
func (m *measured) watchTmp() {
	defer close(m.tmpDone)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		m.sampleTmp()
		select {
		case <-m.stopTmp:
			return
		case <-m.exited:
			return
		case <-t.C:
		}
	}
}

func (m *measured) sampleTmp() {
	var total int64
	for _, d := range sandboxDirs {
		var st syscall.Statfs_t
		if err := syscall.Statfs(fmt.Sprintf("/proc/%d/root%s", m.cmd.Process.Pid, d), &st); err != nil || st.Type != tmpfsMagic {
			continue
		}
		total += int64(st.Blocks-st.Bfree) * st.Bsize
	}
	if total > m.tmpPeak.Load() {
		m.tmpPeak.Store(total)
	}
}

// finish ends the process (sig, or nothing when it is expected to exit by itself) and
// returns its usage. It waits at most grace for the exit before sending SIGKILL.
func (m *measured) finish(sig syscall.Signal, grace time.Duration) Usage {
	select {
	case <-m.exited:
	default:
		m.sampleTmp()
		close(m.stopTmp)
		<-m.tmpDone
		if sig != 0 {
			_ = m.cmd.Process.Signal(sig)
		}
		select {
		case <-m.exited:
		case <-time.After(grace):
			_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			<-m.exited
		}
	}
	<-m.tmpDone
	// Anything the process left running in its group goes too.
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	u := Usage{TmpPeakBytes: m.tmpPeak.Load(), Exit: exitText(m.cmd.ProcessState, m.waitErr)}
	if ru, ok := m.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru != nil {
		u.UserSec = tv(ru.Utime)
		u.SysSec = tv(ru.Stime)
		u.CPUSec = u.UserSec + u.SysSec
		u.MaxRSSKiB = ru.Maxrss
	}
	return u
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func exitText(ps *os.ProcessState, err error) string {
	if ps == nil {
		if err != nil {
			return err.Error()
		}
		return "unknown"
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exit %d", ps.ExitCode())
}

// sandboxChild runs in the new mount namespace: join the cgroup (if any), mount the tmpfs
// file systems, then exec. args: masks, cgroup.procs path (or ""), program, its arguments.
func sandboxChild(args []string) {
	if len(args) < 3 {
		fail(errors.New("sandbox: no program"))
	}
	if args[1] != "" {
		if err := os.WriteFile(args[1], []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			fail(fmt.Errorf("sandbox: joining cgroup %s: %w", args[1], err))
		}
	}
	dirs := append([]string{}, sandboxDirs...)
	if args[0] != "" {
		dirs = append(dirs, strings.Split(args[0], ",")...)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			fail(fmt.Errorf("sandbox: %w", err))
		}
		mode := "mode=1777"
		if err := syscall.Mount("tmpfs", d, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, mode); err != nil {
			fail(fmt.Errorf("sandbox: mounting tmpfs on %s: %w", d, err))
		}
	}
	if err := syscall.Exec(args[2], args[2:], os.Environ()); err != nil {
		fail(fmt.Errorf("sandbox: exec %s: %w", args[2], err))
	}
}
