// Package lambdaenv is a local Lambda service that runs a function's real
// bootstrap as Lambda does: in execution environments, each a separate
// process that fetches its events from the Runtime API this package serves
// (GET /2018-06-01/runtime/invocation/next, POST .../{id}/response,
// .../{id}/error, /runtime/init/error, with the documented headers), one
// event at a time. An invocation takes an idle environment (the most
// recently used: warm), else starts a new one (a cold start: init, then the
// event) up to MaxEnvironments, else is throttled. An environment idle for
// IdleTimeout is stopped. An invocation past its deadline is reported as
// Lambda reports a timeout and its environment's process is killed; the next
// invocation that needs one starts a new one; so does an event whose warm
// environment's process ended before taking it (aws-lambda-go's ends after
// a panic), as Lambda resets such an environment. Each environment is held to
// its memory size's CPU share (MemoryMB/1769 vCPU) and to its memory with
// cgroups v1, where permitted (Service.Limits says what holds).
package lambdaenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config's zero fields.
const (
	DefaultFunctionName    = "groupchat"
	DefaultMemoryMB        = 512
	DefaultTimeout         = 25 * time.Second
	DefaultMaxEnvironments = 1000 // an account's default concurrency
	DefaultIdleTimeout     = 10 * time.Minute
	DefaultCgroupRoot      = "/sys/fs/cgroup"
	// MBPerVCPU is the memory size at which Lambda gives a function one
	// full vCPU; its CPU share is proportional to its memory below that.
	MBPerVCPU = 1769
)

// Error types the service reports itself, as Lambda names them.
const (
	ErrorTypeTimeout   = "Sandbox.Timedout"
	ErrorTypeExit      = "Runtime.ExitError"
	ErrorTypeThrottled = "TooManyRequestsException"
	ErrorTypeTooLarge  = "Function.ResponseSizeTooLarge"
)

// Config describes the function and its environments.
type Config struct {
	// Bootstrap is the executable Lambda's provided runtime runs (for this
	// machine's OS and architecture; scripts/build-lambda.sh).
	Bootstrap string
	// Env holds the function's environment variables, as its template sets
	// them; the service adds those Lambda sets (AWS_LAMBDA_RUNTIME_API,
	// AWS_LAMBDA_FUNCTION_NAME, AWS_REGION, the credentials...). Nothing
	// of this process's environment is passed on.
	Env map[string]string
	// FunctionName, MemoryMB, Timeout: the function's. Defaults
	// DefaultFunctionName, DefaultMemoryMB, DefaultTimeout. The timeout
	// covers a cold start's init too.
	FunctionName string
	MemoryMB     int
	Timeout      time.Duration
	// MaxEnvironments bounds the environments alive at once (the function's
	// reserved concurrency); an invocation when all are busy is throttled.
	// Default DefaultMaxEnvironments.
	MaxEnvironments int
	// IdleTimeout stops an environment unused for this long. Default
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Output receives what the function writes (stdout and stderr, whole
	// lines): its logs and its embedded-metric lines. Default: discarded.
	Output io.Writer
	// Log receives the service's own notes (the limits in force, an
	// environment's start and end). Default: discarded.
	Log io.Writer
	// NoLimits runs the environments without cgroups even where permitted.
	NoLimits bool
	// CgroupRoot is where the cgroup v1 controllers are mounted. Default
	// DefaultCgroupRoot. Where no cpu controller can be written there (not
	// root, cgroup v2 only), the environments run without a CPU quota or a
	// memory limit and Limits says so.
	CgroupRoot string
}

// FunctionError is an invocation's error as Lambda returns it: the
// function's (its runtime's /error or /init/error body) or the service's
// (a timeout, a process exit, a throttle).
type FunctionError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (e *FunctionError) Error() string { return e.Message }

// ErrorType is the error's type (Lambda's errorType): what the Invoke API
// (local/lambdainvoke) knows a throttle by.
func (e *FunctionError) ErrorType() string { return e.Type }

// Throttled says the error is the service's refusal of an invocation over
// the concurrency limit (ErrorTypeThrottled): what the gateway
// (local/gateway) counts in Throttles instead of Invocations.
func (e *FunctionError) Throttled() bool { return e.Type == ErrorTypeThrottled }

// Report describes one invocation once it has ended, as Lambda's REPORT
// log line does.
type Report struct {
	RequestID string
	// Environment numbers the environment (from 1, in start order); PID is
	// its process.
	Environment, PID int
	// Init is the cold start's init (process start to its first request
	// for an event); 0 on a warm environment.
	Init time.Duration
	// Duration is the event's, from handing it to the runtime to its answer.
	Duration time.Duration
	// Waited is how long the event waited before that apart from Init: for
	// a warm environment's runtime to ask for it (one held back by its CPU
	// quota after its last answer), for a cold one's process to start.
	// Waited, Init and Duration make the time from Invoke to the answer.
	Waited time.Duration
	// CPU is the CPU time the environment's process spent in that while (its
	// threads' time on a CPU): the event's cost apart from waiting, on a
	// network or for its CPU share. 0 where the system cannot tell.
	CPU time.Duration
	Err *FunctionError
}

// Stats count what the service did.
type Stats struct {
	// Started counts environments started (cold starts); Alive those
	// whose process runs now; Busy those of them handling an event or
	// starting for one.
	Started, Alive, Busy int
	// Timeouts, InitErrors, Exits and Throttles count invocations so
	// ended (Exits also environments whose process ended between events);
	// Recycled environments stopped after idling.
	Timeouts, InitErrors, Exits, Throttles, Recycled int
}

// Service is the local Lambda service of one function.
type Service struct {
	cfg     Config
	limits  *cgroups // nil: none
	note    string
	observe atomic.Pointer[func(Report)]

	mu      sync.Mutex
	idle    []*environment // most recently used last
	alive   map[*environment]bool
	seq     int
	stats   Stats
	closed  bool
	reqSeq  uint64
	stop    chan struct{}
	stopped chan struct{}
	// stopping counts environments acquire is stopping, no longer alive
	// (their process ended while idle); Add only while not closed.
	stopping sync.WaitGroup
}

// Start checks cfg and prepares the environments' limits; environments
// start on demand.
func Start(cfg Config) (*Service, error) {
	if cfg.Bootstrap == "" {
		return nil, errors.New("lambdaenv: no bootstrap")
	}
	if cfg.FunctionName == "" {
		cfg.FunctionName = DefaultFunctionName
	}
	if cfg.MemoryMB <= 0 {
		cfg.MemoryMB = DefaultMemoryMB
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxEnvironments <= 0 {
		cfg.MaxEnvironments = DefaultMaxEnvironments
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = DefaultCgroupRoot
	}
	if cfg.Output == nil {
		cfg.Output = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	s := &Service{cfg: cfg, alive: map[*environment]bool{}, stop: make(chan struct{}), stopped: make(chan struct{})}
	if cfg.NoLimits {
		s.note = "no CPU or memory limit (asked for)"
	} else if cg, err := newCgroups(cfg.CgroupRoot, cfg.MemoryMB); err != nil {
		s.note = fmt.Sprintf("NO CPU QUOTA OR MEMORY LIMIT: cgroups are not permitted here (%v), so each environment may use every CPU, not %.2f vCPU: figures measured so are kinder than Lambda's", err, float64(cfg.MemoryMB)/MBPerVCPU)
	} else {
		s.limits = cg
		s.note = cg.describe()
	}
	fmt.Fprintf(cfg.Log, "lambda environments: %s, %d MB, timeout %s, at most %d, recycled after %s idle; %s\n",
		cfg.Bootstrap, cfg.MemoryMB, cfg.Timeout, cfg.MaxEnvironments, cfg.IdleTimeout, s.note)
	go s.recycle()
	return s, nil
}

// Limits says what each environment is held to: its CPU share and memory,
// or why nothing.
func (s *Service) Limits() string { return s.note }

// Limited reports whether the environments run under cgroups.
func (s *Service) Limited() bool { return s.limits != nil }

// Observe has fn told of every invocation once it has ended (from the
// invocation's goroutine: fn must be safe for concurrent use).
func (s *Service) Observe(fn func(Report)) { s.observe.Store(&fn) }

// Stats returns the counts so far.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	for e := range s.alive {
		if e.running() {
			st.Alive++
		}
	}
	for _, e := range s.idle {
		if e.running() {
			st.Busy--
		}
	}
	st.Busy += st.Alive
	return st
}

// Invoke runs one synchronous invocation of event (JSON) and returns the
// function's answer (JSON) or a *FunctionError. Its deadline is the
// function's timeout or ctx's deadline, whichever is sooner; ctx ending
// earlier ends the invocation as a timeout does.
func (s *Service) Invoke(ctx context.Context, event []byte) (json.RawMessage, error) {
	called := time.Now()
	deadline := called.Add(s.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	id := s.requestID()
	e, err := s.acquire()
	if err != nil {
		return nil, err
	}
	res := e.invoke(ctx, id, event, called, deadline)
	for res.unhanded { // its process ended after its last answer: another takes the event
		s.mu.Lock()
		s.stats.Exits++
		s.mu.Unlock()
		s.discard(e)
		if e, err = s.acquire(); err != nil {
			return nil, err
		}
		res = e.invoke(ctx, id, event, called, deadline)
	}
	if fn := s.observe.Load(); fn != nil {
		(*fn)(res.report)
	}
	s.mu.Lock()
	switch {
	case res.report.Err == nil || !res.fatal:
	case res.report.Err.Type == ErrorTypeTimeout:
		s.stats.Timeouts++
	case res.initErr:
		s.stats.InitErrors++
	default:
		s.stats.Exits++
	}
	s.mu.Unlock()
	if res.fatal {
		s.discard(e)
	} else {
		s.release(e)
	}
	if res.report.Err != nil {
		return nil, res.report.Err
	}
	return res.body, nil
}

func (s *Service) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqSeq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().Unix()&0xffffffff, s.reqSeq)
}

// errStopped answers an invocation of a closed service.
func errStopped() *FunctionError {
	return &FunctionError{Type: "ServiceException", Message: "the local Lambda service is stopped"}
}

// acquire takes the most recently used idle environment, else starts one.
func (s *Service) acquire() (*environment, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errStopped()
	}
	for n := len(s.idle); n > 0; n = len(s.idle) {
		e := s.idle[n-1]
		s.idle = s.idle[:n-1]
		select {
		case <-e.exited: // ended while idle (killed, out of memory): never handed an event
			delete(s.alive, e)
			s.stats.Exits++
			s.stopping.Add(1) // Close waits for its cgroups' removal
			s.mu.Unlock()
			e.kill()
			s.stopping.Done()
			s.mu.Lock()
			if s.closed { // no environment starts after Close
				s.mu.Unlock()
				return nil, errStopped()
			}
			continue
		default:
		}
		s.mu.Unlock()
		return e, nil
	}
	if len(s.alive) >= s.cfg.MaxEnvironments {
		s.stats.Throttles++
		s.mu.Unlock()
		return nil, &FunctionError{Type: ErrorTypeThrottled, Message: "Rate Exceeded."}
	}
	s.seq++
	id := s.seq
	s.stats.Started++
	e := newEnvironment(s, id)
	s.alive[e] = true
	s.mu.Unlock()
	if err := e.start(); err != nil {
		s.discard(e)
		return nil, &FunctionError{Type: "ServiceException", Message: fmt.Sprintf("start an environment: %v", err)}
	}
	return e, nil
}

// release puts e back as the warmest idle environment.
func (s *Service) release(e *environment) {
	s.mu.Lock()
	e.lastUsed = time.Now()
	if s.closed {
		s.mu.Unlock()
		s.discard(e)
		return
	}
	s.idle = append(s.idle, e)
	s.mu.Unlock()
}

// discard stops e and forgets it.
func (s *Service) discard(e *environment) {
	e.kill()
	s.mu.Lock()
	delete(s.alive, e)
	s.mu.Unlock()
}

// recycle stops environments idle for IdleTimeout.
func (s *Service) recycle() {
	defer close(s.stopped)
	tick := time.NewTicker(min(s.cfg.IdleTimeout/4, 10*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		s.stopIdle(s.cfg.IdleTimeout)
	}
}

// StopIdle stops every idle environment now, as idling for IdleTimeout
// would (counted in Recycled), and returns how many: the next events start
// cold. The benchmarks measure a shard on a cold environment so.
func (s *Service) StopIdle() int { return s.stopIdle(0) }

// stopIdle stops the environments idle for at least d.
func (s *Service) stopIdle(d time.Duration) int {
	var old []*environment
	s.mu.Lock()
	keep := s.idle[:0]
	for _, e := range s.idle {
		if time.Since(e.lastUsed) >= d {
			old = append(old, e)
		} else {
			keep = append(keep, e)
		}
	}
	s.idle = keep
	s.mu.Unlock()
	for _, e := range old {
		s.discard(e)
		s.mu.Lock()
		s.stats.Recycled++
		s.mu.Unlock()
	}
	return len(old)
}

// Close stops the recycling and every environment (an event in progress
// ends as a process exit), and removes the cgroups.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.idle = nil
	var all []*environment
	for e := range s.alive {
		all = append(all, e)
	}
	s.mu.Unlock()
	close(s.stop)
	<-s.stopped
	for _, e := range all {
		s.discard(e)
	}
	s.stopping.Wait()
	if s.limits != nil {
		return s.limits.remove()
	}
	return nil
}
