package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LambdaSpec describes one invocation of a bootstrap.
type LambdaSpec struct {
	Bin string            `json:"bin"`
	Env map[string]string `json:"env"`
	// Event is the CloudFormation custom-resource event; RequestId and ResponseURL are
	// filled in by the tool (the ResponseURL points at the tool itself).
	Event      map[string]any `json:"event"`
	TimeoutSec int            `json:"timeoutSec"`
	// Sandbox gives the process private tmpfs /tmp and /var/tmp (measured).
	Sandbox bool `json:"sandbox"`
	// Masks are extra directories hidden behind empty tmpfs mounts (not counted).
	Masks []string `json:"masks"`
	// CgroupProcs: the process joins this cgroup.procs (a CPU quota) before it execs.
	CgroupProcs string `json:"cgroupProcs"`
	// Cold stops the process at its first poll of the Runtime API: no event is served.
	Cold bool `json:"cold"`
	// PprofDir, for the profiling build: BENCH_PPROF_DIR is set, and the process is
	// stopped with SIGUSR1 so that it writes its profiles before exiting.
	PprofDir string `json:"pprofDir"`
	Log      string `json:"log"`
}

// LambdaResult is what one invocation measured. Times are milliseconds from the exec.
type LambdaResult struct {
	// ExecToPollMs: exec to the first GET of /runtime/invocation/next (cold init).
	ExecToPollMs float64 `json:"execToPollMs"`
	// InvokeToResponseMs: the event handed out to the ResponseURL PUT received.
	InvokeToResponseMs float64 `json:"invokeToResponseMs"`
	// WallMs: exec to the ResponseURL PUT (process start plus the invocation).
	WallMs   float64         `json:"wallMs"`
	Response json.RawMessage `json:"response,omitempty"`
	// Invocation is how the function returned: "response", "error" or "none".
	Invocation     string `json:"invocation"`
	InvocationBody string `json:"invocationBody,omitempty"`
	InitError      string `json:"initError,omitempty"`
	Usage
}

const runtimePrefix = "/2018-06-01/runtime/"

type runtimeServer struct {
	spec      LambdaSpec
	requestID string
	event     []byte
	deadline  time.Time

	mu        sync.Mutex
	polls     int
	pollAt    time.Time
	invokeAt  time.Time
	respAt    time.Time
	cfnBody   []byte
	invKind   string
	invBody   string
	initError string

	firstPoll chan struct{}
	cfnDone   chan struct{}
	invDone   chan struct{}
	closing   chan struct{}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func runLambda(spec LambdaSpec) (*LambdaResult, error) {
	if spec.TimeoutSec == 0 {
		spec.TimeoutSec = 900
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	s := &runtimeServer{
		spec:      spec,
		requestID: fmt.Sprintf("%s-%s-%s-%s-%s", randomHex(4), randomHex(2), randomHex(2), randomHex(2), randomHex(6)),
		firstPoll: make(chan struct{}),
		cfnDone:   make(chan struct{}),
		invDone:   make(chan struct{}),
		closing:   make(chan struct{}),
	}
	ev := map[string]any{}
	for k, v := range spec.Event {
		ev[k] = v
	}
	ev["RequestId"] = s.requestID
	ev["ResponseURL"] = fmt.Sprintf("http://127.0.0.1:%d/cfn-response/%s?X-Amz-Signature=%s", port, s.requestID, randomHex(32))
	if s.event, err = json.Marshal(ev); err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: s}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	}()

	env := map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          "127.0.0.1:" + strconv.Itoa(port),
		"AWS_LAMBDA_FUNCTION_NAME":        "bench-CustomCDKECRDeployment",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/bench-CustomCDKECRDeployment",
		"AWS_LAMBDA_LOG_STREAM_NAME":      "2024/01/01/[$LATEST]" + randomHex(16),
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                "/var/task",
		"TZ":                              ":UTC",
		"PATH":                            "/usr/local/bin:/usr/bin:/bin",
	}
	for k, v := range spec.Env {
		env[k] = v
	}
	sig := syscall.SIGKILL
	if spec.PprofDir != "" {
		env["BENCH_PPROF_DIR"] = spec.PprofDir
		sig = syscall.SIGUSR1
	}
	s.deadline = time.Now().Add(time.Duration(spec.TimeoutSec) * time.Second)
	m, err := startMeasured([]string{spec.Bin}, env, spec.Sandbox, spec.Masks, spec.CgroupProcs, spec.Log)
	if err != nil {
		return nil, err
	}
	res := &LambdaResult{Invocation: "none"}
	limit := time.After(time.Duration(spec.TimeoutSec+30) * time.Second)
	var waitErr error
	select {
	case <-s.firstPoll:
	case <-m.exited:
		waitErr = errors.New("the process exited before polling the Runtime API")
	case <-limit:
		waitErr = errors.New("no poll of the Runtime API in time")
	}
	if waitErr == nil && !spec.Cold {
		select {
		case <-s.cfnDone:
			// The function returns right after answering CloudFormation; wait for that so
			// the process is stopped between invocations, as Lambda would freeze it.
			select {
			case <-s.invDone:
			case <-m.exited:
			case <-time.After(10 * time.Second):
			}
		case <-m.exited:
			waitErr = errors.New("the process exited before answering CloudFormation")
		case <-limit:
			waitErr = errors.New("no CloudFormation response in time")
		}
	}
	grace := 2 * time.Second
	if spec.PprofDir != "" {
		grace = 30 * time.Second
	}
	res.Usage = m.finish(sig, grace)

	s.mu.Lock()
	defer s.mu.Unlock()
	ms := func(t time.Time) float64 { return float64(t.Sub(m.started).Microseconds()) / 1000 }
	if !s.pollAt.IsZero() {
		res.ExecToPollMs = ms(s.pollAt)
	}
	if !s.respAt.IsZero() {
		res.WallMs = ms(s.respAt)
		res.InvokeToResponseMs = float64(s.respAt.Sub(s.invokeAt).Microseconds()) / 1000
		res.Response = s.cfnBody
	}
	if s.invKind != "" {
		res.Invocation, res.InvocationBody = s.invKind, s.invBody
	}
	res.InitError = s.initError
	if waitErr != nil {
		return res, fmt.Errorf("%w (exit: %s; init error: %q; log: %s)", waitErr, res.Exit, s.initError, spec.Log)
	}
	return res, nil
}

func (s *runtimeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/cfn-response/"):
		s.mu.Lock()
		first := s.respAt.IsZero()
		if first {
			s.respAt, s.cfnBody = now, body
		}
		s.mu.Unlock()
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		if first {
			close(s.cfnDone)
		}
	case r.Method == http.MethodGet && r.URL.Path == runtimePrefix+"invocation/next":
		s.mu.Lock()
		s.polls++
		n := s.polls
		if n == 1 {
			s.pollAt = now
		}
		s.mu.Unlock()
		if n == 1 {
			close(s.firstPoll)
		}
		if n > 1 || s.spec.Cold {
			// One invocation per process: later polls wait until the process is stopped.
			select {
			case <-r.Context().Done():
			case <-s.closing:
			}
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", s.requestID)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(s.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench-CustomCDKECRDeployment")
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-"+randomHex(4)+"-"+randomHex(12)+";Parent="+randomHex(8)+";Sampled=0")
		s.mu.Lock()
		s.invokeAt = time.Now()
		s.mu.Unlock()
		_, _ = w.Write(s.event)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, runtimePrefix+"invocation/"):
		kind := "response"
		if strings.HasSuffix(r.URL.Path, "/error") {
			kind = "error"
		}
		s.mu.Lock()
		first := s.invKind == ""
		if first {
			s.invKind, s.invBody = kind, string(body)
		}
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		if first {
			close(s.invDone)
		}
	case r.Method == http.MethodPost && r.URL.Path == runtimePrefix+"init/error":
		s.mu.Lock()
		s.initError = string(body)
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

// ExecSpec describes one command run to completion.
type ExecSpec struct {
	Argv    []string          `json:"argv"`
	Env     map[string]string `json:"env"`
	Sandbox bool              `json:"sandbox"`
	// Masks are extra directories hidden behind empty tmpfs mounts (not counted).
	Masks []string `json:"masks"`
	// CgroupProcs: the process joins this cgroup.procs (a CPU quota) before it execs.
	CgroupProcs string `json:"cgroupProcs"`
	Log         string `json:"log"`
	TimeoutSec  int    `json:"timeoutSec"`
}

// ExecResult is what one command run measured.
type ExecResult struct {
	// WallMs: exec to exit.
	WallMs float64 `json:"wallMs"`
	Usage
}

func runExec(spec ExecSpec) (*ExecResult, error) {
	if spec.TimeoutSec == 0 {
		spec.TimeoutSec = 900
	}
	m, err := startMeasured(spec.Argv, spec.Env, spec.Sandbox, spec.Masks, spec.CgroupProcs, spec.Log)
	if err != nil {
		return nil, err
	}
	var ended time.Time
	select {
	case <-m.exited:
		ended = time.Now()
	case <-time.After(time.Duration(spec.TimeoutSec) * time.Second):
		ended = time.Now()
	}
	res := &ExecResult{WallMs: float64(ended.Sub(m.started).Microseconds()) / 1000}
	res.Usage = m.finish(syscall.SIGKILL, time.Second)
	if res.Exit != "exit 0" {
		return res, fmt.Errorf("%s: %s (log: %s)", spec.Argv[0], res.Exit, spec.Log)
	}
	return res, nil
}
