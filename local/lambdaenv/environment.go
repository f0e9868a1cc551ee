package lambdaenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The Runtime API's routes (the API side; aws-lambda-go is the runtime
// side) and headers.
const (
	routeNext      = "GET /2018-06-01/runtime/invocation/next"
	routeResponse  = "POST /2018-06-01/runtime/invocation/{id}/response"
	routeError     = "POST /2018-06-01/runtime/invocation/{id}/error"
	routeInitError = "POST /2018-06-01/runtime/init/error"

	headerRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerDeadline    = "Lambda-Runtime-Deadline-Ms"
	headerFunctionArn = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID     = "Lambda-Runtime-Trace-Id"
	headerErrorType   = "Lambda-Runtime-Function-Error-Type"

	// maxResponse is Lambda's bound on a synchronous answer.
	maxResponse = 6 << 20
	// region and account of the function's ARN locally.
	region  = "us-east-1"
	account = "000000000000"
)

// environment is one execution environment: a process of the bootstrap
// and the Runtime API it alone reaches.
type environment struct {
	svc *Service
	id  int

	cmd       *exec.Cmd
	pid       int
	srv       *http.Server
	group     string // its cgroup, "" without limits
	startedAt time.Time
	readyAt   time.Time // its first request for an event
	ready     sync.Once
	cold      bool // no event handed to it yet
	lastUsed  time.Time

	next    chan *invocation   // taken by the runtime's GET /next
	initErr chan FunctionError // its /init/error, once
	exited  chan struct{}      // closed when the process has ended
	gone    chan struct{}      // closed when killed
	killed  sync.Once

	mu      sync.Mutex // held by start throughout, so that kill follows it
	current *invocation
}

// invocation is one event handed to an environment.
type invocation struct {
	id       string
	event    []byte
	deadline time.Time
	done     chan answer // one answer
	// handed and cpu are when serveNext gave it to the runtime and the
	// process's CPU then (under the environment's mu): before the runtime
	// could start on it, however late invoke's goroutine runs after.
	handed time.Time
	cpu    time.Duration
}

type answer struct {
	body []byte
	err  *FunctionError
}

// outcome is what Invoke learns from an environment.
type outcome struct {
	body    []byte
	report  Report
	fatal   bool // the environment cannot take another event
	initErr bool
	// unhanded: a warm environment's process ended before it took the
	// event (after its last answer, as aws-lambda-go does after a panic):
	// the event is another environment's, as Lambda resets this one.
	unhanded bool
}

// newEnvironment is environment id of svc, not started: what Stats, Close
// and kill may see of it while it starts.
func newEnvironment(svc *Service, id int) *environment {
	return &environment{svc: svc, id: id, cold: true,
		next:    make(chan *invocation),
		initErr: make(chan FunctionError, 1),
		exited:  make(chan struct{}),
		gone:    make(chan struct{}),
	}
}

// errKilled is start's error when the environment was killed (the service
// closed) before its process started.
var errKilled = errors.New("the environment was stopped as it started")

// start starts the process with its Runtime API listening, unless it was
// killed first; kill waits for it.
func (e *environment) start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.gone:
		return errKilled
	default:
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc(routeNext, e.serveNext)
	mux.HandleFunc(routeResponse, e.serveResponse)
	mux.HandleFunc(routeError, e.serveError)
	mux.HandleFunc(routeInitError, e.serveInitError)
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()

	cfg := e.svc.cfg
	bootstrap, err := filepath.Abs(cfg.Bootstrap)
	if err != nil {
		_ = e.srv.Close()
		return err
	}
	if e.svc.limits != nil {
		if e.group, err = e.svc.limits.create(e.id); err != nil {
			_ = e.srv.Close()
			return err
		}
		// The shell joins the environment's cgroups, then becomes the
		// bootstrap: it runs limited from its first instruction.
		e.cmd = exec.Command("/bin/sh", append([]string{"-c", joinScript, "sh", bootstrap}, e.svc.limits.procs(e.group)...)...)
	} else {
		e.cmd = exec.Command(bootstrap)
	}
	e.cmd.Dir = filepath.Dir(bootstrap)
	e.cmd.Env = e.environ(ln.Addr().String(), bootstrap)
	out := &lineWriter{svc: e.svc}
	e.cmd.Stdout, e.cmd.Stderr = out, out
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	e.startedAt = time.Now()
	if err := e.cmd.Start(); err != nil {
		_ = e.srv.Close()
		if e.group != "" {
			_ = e.svc.limits.removeGroup(e.group)
		}
		return err
	}
	e.pid = e.cmd.Process.Pid
	go func() {
		_ = e.cmd.Wait()
		out.flush()
		close(e.exited)
	}()
	fmt.Fprintf(cfg.Log, "lambda environment %d: started, pid %d\n", e.id, e.pid)
	return nil
}

// joinScript writes the shell's pid into each cgroup.procs file given
// after the bootstrap, then execs the bootstrap.
const joinScript = `b=$1; shift; for f in "$@"; do echo $$ >"$f" || exit 125; done; exec "$b"`

// environ is the process's whole environment: what Lambda sets, then the
// function's variables.
func (e *environment) environ(api, bootstrap string) []string {
	cfg := e.svc.cfg
	vars := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        cfg.FunctionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(cfg.MemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + cfg.FunctionName,
		"AWS_LAMBDA_LOG_STREAM_NAME":      fmt.Sprintf("%s/[$LATEST]local%d", time.Now().UTC().Format("2006/01/02"), e.id),
		"AWS_REGION":                      region,
		"AWS_DEFAULT_REGION":              region,
		"AWS_ACCESS_KEY_ID":               "local",
		"AWS_SECRET_ACCESS_KEY":           "local",
		"AWS_SESSION_TOKEN":               "",
		"LAMBDA_TASK_ROOT":                filepath.Dir(bootstrap),
		"_HANDLER":                        filepath.Base(bootstrap),
		"TZ":                              ":UTC",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/usr/local/bin:/usr/bin:/bin",
	}
	for k, v := range cfg.Env {
		vars[k] = v
	}
	vars["AWS_LAMBDA_RUNTIME_API"] = api
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// handedOff, when a test sets it, runs after each event's hand-over to a
// runtime, before the answer is awaited.
var handedOff func(event []byte, exited <-chan struct{})

// invoke hands the event (which Invoke had at called) to the environment
// and waits for its answer, its end or the deadline.
func (e *environment) invoke(ctx context.Context, id string, event []byte, called, deadline time.Time) outcome {
	inv := &invocation{id: id, event: event, deadline: deadline, done: make(chan answer, 1)}
	o := outcome{report: Report{RequestID: id, Environment: e.id, PID: e.pid}}
	budget := time.Until(deadline)
	timer := time.NewTimer(budget)
	defer timer.Stop()
	timedOut := func() outcome {
		o.fatal = true
		o.report.Err = &FunctionError{Type: ErrorTypeTimeout,
			Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", id, budget.Seconds())}
		return o
	}
	exited := func() outcome {
		o.fatal = true
		select {
		case ie := <-e.initErr:
			o.initErr = true
			o.report.Err = &ie
		default:
			o.report.Err = &FunctionError{Type: ErrorTypeExit, Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %v", id, e.cmd.ProcessState)}
		}
		return o
	}
	select {
	case e.next <- inv:
	case ie := <-e.initErr:
		o.fatal, o.initErr, o.report.Err = true, true, &ie
		return o
	case <-e.exited:
		if !e.cold {
			o.fatal, o.unhanded = true, true
			return o
		}
		return exited()
	case <-timer.C:
		return timedOut()
	case <-ctx.Done():
		return timedOut()
	}
	handed, cpu := time.Now(), processCPU(e.pid)
	if handedOff != nil {
		handedOff(event, e.exited)
	}
	if e.cold {
		e.cold = false
		o.report.Init = e.readyAt.Sub(e.startedAt)
	}
	select {
	case a := <-inv.done:
		o.body = a.body
		if a.err != nil {
			o.report.Err = a.err
		}
	case <-e.exited:
		// The runtime answers and then may end at once (aws-lambda-go
		// after a panic): its answer, in done before the runtime had its
		// 202, is the invocation's, whichever this select saw first.
		select {
		case a := <-inv.done:
			o.body, o.report.Err = a.body, a.err
		default:
			o = exited()
		}
	case <-timer.C:
		o = timedOut()
	case <-ctx.Done():
		o = timedOut()
	}
	e.mu.Lock()
	if !inv.handed.IsZero() { // the runtime's side of the handing, as it should be
		handed, cpu = inv.handed, inv.cpu
	}
	e.mu.Unlock()
	o.report.Duration = time.Since(handed)
	o.report.Waited = max(0, handed.Sub(called)-o.report.Init)
	if cpu > 0 {
		o.report.CPU = max(0, e.cpu()-cpu)
	}
	return o
}

// cpu is the CPU time the process has spent so far: its threads' from
// /proc while it runs, the kernel's count of the whole process (wait4's,
// user and system) once it has ended and /proc has nothing left of it.
func (e *environment) cpu() time.Duration {
	select {
	case <-e.exited:
		return e.cmd.ProcessState.UserTime() + e.cmd.ProcessState.SystemTime()
	default:
	}
	return processCPU(e.pid)
}

// running reports whether the process has not ended (starting counts).
func (e *environment) running() bool {
	select {
	case <-e.exited:
		return false
	default:
		return true
	}
}

// kill ends the process (its whole process group), its Runtime API and its
// cgroups.
func (e *environment) kill() {
	e.killed.Do(func() {
		e.mu.Lock() // a start in progress ends first
		close(e.gone)
		e.mu.Unlock()
		if e.cmd != nil && e.cmd.Process != nil {
			_ = syscall.Kill(-e.pid, syscall.SIGKILL)
			<-e.exited
			fmt.Fprintf(e.svc.cfg.Log, "lambda environment %d: ended, pid %d (%v)\n", e.id, e.pid, e.cmd.ProcessState)
		}
		if e.srv != nil {
			_ = e.srv.Close()
		}
		if e.group != "" {
			_ = e.svc.limits.removeGroup(e.group)
		}
	})
}

// serveNext hands the runtime its next event, once there is one.
func (e *environment) serveNext(w http.ResponseWriter, r *http.Request) {
	e.ready.Do(func() { e.readyAt = time.Now() })
	var inv *invocation
	select {
	case inv = <-e.next:
	case <-r.Context().Done():
		return
	case <-e.gone:
		return
	}
	handed, cpu := time.Now(), processCPU(e.pid)
	e.mu.Lock()
	e.current = inv
	inv.handed, inv.cpu = handed, cpu
	e.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(headerRequestID, inv.id)
	h.Set(headerDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set(headerFunctionArn, fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, e.svc.cfg.FunctionName))
	h.Set(headerTraceID, traceID(inv))
	_, _ = w.Write(inv.event)
}

// traceID is an X-Ray trace header, not sampled: nothing collects traces
// locally.
func traceID(inv *invocation) string {
	return fmt.Sprintf("Root=1-%08x-%024x;Parent=%016x;Sampled=0", time.Now().Unix(), inv.deadline.UnixNano(), inv.deadline.UnixNano())
}

// take returns the current invocation when id names it, and clears it: an
// invocation is answered once.
func (e *environment) take(id string) *invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	inv := e.current
	if inv == nil || inv.id != id {
		return nil
	}
	e.current = nil
	return inv
}

func (e *environment) serveResponse(w http.ResponseWriter, r *http.Request) {
	inv := e.take(r.PathValue("id"))
	if inv == nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation "+r.PathValue("id")+" in progress")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxResponse))
	if err != nil {
		inv.done <- answer{err: &FunctionError{Type: ErrorTypeTooLarge, Message: "Response payload size exceeded maximum allowed payload size (6291556 bytes)."}}
		runtimeError(w, http.StatusRequestEntityTooLarge, ErrorTypeTooLarge, "the answer is over 6 MB")
		return
	}
	inv.done <- answer{body: body}
	accepted(w)
}

func (e *environment) serveError(w http.ResponseWriter, r *http.Request) {
	inv := e.take(r.PathValue("id"))
	if inv == nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation "+r.PathValue("id")+" in progress")
		return
	}
	fe := readError(r)
	inv.done <- answer{err: &fe}
	accepted(w)
}

func (e *environment) serveInitError(w http.ResponseWriter, r *http.Request) {
	fe := readError(r)
	select {
	case e.initErr <- fe:
	default: // reported already
	}
	accepted(w)
}

// readError reads an error body, {"errorMessage", "errorType"}, its type
// defaulting to the header's.
func readError(r *http.Request) FunctionError {
	var fe FunctionError
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxResponse))
	if err := json.Unmarshal(body, &fe); err != nil || fe.Message == "" && fe.Type == "" {
		fe = FunctionError{Message: string(body)}
	}
	if fe.Type == "" {
		fe.Type = r.Header.Get(headerErrorType)
	}
	if fe.Type == "" {
		fe.Type = "Unhandled"
	}
	return fe
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func runtimeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(FunctionError{Message: msg, Type: typ})
}

// lineWriter passes the function's output on in whole lines, so that the
// lines of concurrent environments do not interleave.
type lineWriter struct {
	svc *Service
	mu  sync.Mutex
	buf []byte
}

var outputMu sync.Mutex

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if i := bytes.LastIndexByte(w.buf, '\n'); i >= 0 {
		w.emit(w.buf[:i+1])
		w.buf = append(w.buf[:0], w.buf[i+1:]...)
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(append(w.buf, '\n'))
		w.buf = nil
	}
}

func (w *lineWriter) emit(p []byte) {
	outputMu.Lock()
	defer outputMu.Unlock()
	_, _ = w.svc.cfg.Output.Write(p)
}
