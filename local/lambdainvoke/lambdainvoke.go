// Package lambdainvoke serves the one call of the Lambda API the local stack
// needs: Invoke (POST /2015-03-31/functions/{name}/invocations), which hands
// the payload to a Go handler (in this process, or the local/lambdaenv
// environments' Invoke) as Lambda does. Synchronous (InvocationType
// RequestResponse, the default): the handler's answer as JSON, or its error
// as {"errorMessage", "errorType"} with the header X-Amz-Function-Error:
// Unhandled, or a throttle as the API's 429 TooManyRequestsException.
// cognito-local invokes the user pool's triggers so (local/cognito).
// Asynchronous (InvocationType Event): 202 at once and the handler run
// later; an event whose handler fails is retried twice (AWS waits a minute,
// then two; here AsyncRetryDelay), then dropped (AsyncEventsDropped); one
// the function's concurrency refuses is tried again until it runs. The
// function's fan-out shards invoke the function itself so (lambda/chat).
package lambdainvoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Handler is a function's Lambda handler: an event's JSON in, an answer
// that becomes JSON out.
type Handler func(ctx context.Context, event json.RawMessage) (any, error)

// invokePrefix and invokeSuffix frame the function's name in the path.
const (
	invokePrefix = "/2015-03-31/functions/"
	invokeSuffix = "/invocations"
	// maxPayload is Lambda's bound on a synchronous invocation's request,
	// maxEventPayload on an asynchronous one's.
	maxPayload      = 6 << 20
	maxEventPayload = 256 << 10
	// asyncAttempts: an event's first run and Lambda's two retries.
	asyncAttempts = 3
	// DefaultAsyncRetryDelay is the wait before an event's retry (the
	// second waits twice as long).
	DefaultAsyncRetryDelay = 200 * time.Millisecond
)

// Server is the local Lambda Invoke endpoint.
type Server struct {
	srv      *http.Server
	endpoint string
	served   chan struct{}
	timeout  time.Duration

	// AsyncRetryDelay is the wait before an asynchronous event's first
	// retry, twice it before the second. Default DefaultAsyncRetryDelay;
	// set before the first event.
	AsyncRetryDelay time.Duration

	// EventGate, if set, is called before each attempt of an asynchronous
	// event with the time the event was accepted (its 202); the attempt
	// waits for it to return (its deadline starts after) and calls the
	// release it returns once its handler has. An event still waiting when
	// Close comes is dropped, and its release called whenever the gate
	// opens. The benchmarks run fan-out shards one at a time with it, each
	// alone on the machine (internal/bench, -bench.in-turn). Set before the
	// first event.
	EventGate func(accepted time.Time) (release func())

	mu      sync.RWMutex
	fns     map[string]Handler
	observe func(name string, took time.Duration, err error)
	dropped func(name string)
	// throttledFn is told of every throttle (ObserveThrottled).
	throttledFn func(name string)

	events sync.WaitGroup // asynchronous events running or waiting to retry
	stop   chan struct{}  // closed by Close: no more retries
}

// Start listens on a free loopback port. timeout bounds each invocation
// (the function's timeout); 0: none.
func Start(timeout time.Duration) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("local Lambda endpoint: %w", err)
	}
	s := &Server{endpoint: "http://" + ln.Addr().String(), served: make(chan struct{}), timeout: timeout, fns: map[string]Handler{},
		AsyncRetryDelay: DefaultAsyncRetryDelay, stop: make(chan struct{})}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Endpoint is the Lambda API's base URL, http://127.0.0.1:PORT: an SDK
// client's endpoint.
func (s *Server) Endpoint() string { return s.endpoint }

// Register makes h the function name (replacing any before).
func (s *Server) Register(name string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fns[name] = h
}

// Observe has fn told of every invocation once it has returned: the
// function's name, how long it took and its error (nil: none), for the
// metrics Lambda keeps (Invocations, Errors, Duration).
func (s *Server) Observe(fn func(name string, took time.Duration, err error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observe = fn
}

// ObserveDropped has fn told of every asynchronous event dropped after its
// retries failed (Lambda's AsyncEventsDropped).
func (s *Server) ObserveDropped(fn func(name string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropped = fn
}

// ObserveThrottled has fn told of every invocation the function's
// concurrency refused: a synchronous one answered 429, each attempt of an
// asynchronous event sent back to the queue (Lambda's Throttles; neither
// is an invocation Observe hears of).
func (s *Server) ObserveThrottled(fn func(name string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttledFn = fn
}

// Close stops the server, waiting for invocations in progress, the
// asynchronous ones' included (an event waiting for a retry is dropped).
func (s *Server) Close() error {
	err := s.srv.Shutdown(context.Background())
	<-s.served
	close(s.stop)
	s.events.Wait()
	return err
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	name, isInvoke := strings.CutPrefix(r.URL.Path, invokePrefix)
	name, hasSuffix := strings.CutSuffix(name, invokeSuffix)
	if !isInvoke || !hasSuffix || name == "" || strings.Contains(name, "/") {
		apiError(w, http.StatusNotFound, "UnknownOperationException", "only Invoke is served: POST "+invokePrefix+"{name}"+invokeSuffix)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		apiError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "Invoke is a POST")
		return
	}
	async := false
	switch t := r.Header.Get("X-Amz-Invocation-Type"); t {
	case "", "RequestResponse":
	case "Event":
		async = true
	default:
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", "only RequestResponse and Event invocations are served locally")
		return
	}
	s.mu.RLock()
	h, observe := s.fns[name], s.observe
	s.mu.RUnlock()
	if h == nil {
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	limit, over := int64(maxPayload), "the payload is over 6 MB"
	if async {
		limit, over = maxEventPayload, "the payload is over 256 KB"
	}
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", over)
		return
	}
	if !json.Valid(payload) {
		apiError(w, http.StatusBadRequest, "InvalidRequestContentException", "the payload is not JSON")
		return
	}
	if async {
		s.events.Add(1)
		go s.runEvent(name, h, payload)
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	ctx := r.Context()
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	start := time.Now()
	answer, err := h(ctx, payload)
	if throttled(err) { // the API's refusal, no invocation
		s.throttle(name)
		apiError(w, http.StatusTooManyRequests, errorTypeThrottled, err.Error())
		return
	}
	if observe != nil {
		observe(name, time.Since(start), err)
	}
	var body []byte
	if err == nil {
		body, err = json.Marshal(answer)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if err != nil {
		// As the Go runtime reports a handler's error: its text and type.
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		body, _ = json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": errorType(err)})
	}
	_, _ = w.Write(body)
}

// runEvent runs an asynchronous event, with Lambda's two retries if its
// handler fails, then drops it. An attempt the function's concurrency
// refuses (a throttle) is not one of them: as Lambda does, the event goes
// back to the queue and is tried again, after a wait that starts at a
// sixtieth of AsyncRetryDelay and doubles up to five times it (Lambda's 1 s
// to 5 min beside its 1 min), until it runs or Close drops it; it is no
// invocation either: Lambda counts it in Throttles (ObserveThrottled), not
// Invocations.
func (s *Server) runEvent(name string, h Handler, payload []byte) {
	defer s.events.Done()
	accepted := time.Now()
	backoff := max(s.AsyncRetryDelay/60, time.Millisecond)
	for failures := 0; ; {
		release, open := s.gate(accepted)
		if !open {
			break // closing: dropped
		}
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if s.timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, s.timeout)
		}
		start := time.Now()
		_, err := h(ctx, payload)
		release()
		cancel()
		var wait time.Duration
		if throttled(err) {
			s.throttle(name)
			wait, backoff = backoff, min(2*backoff, 5*s.AsyncRetryDelay)
		} else {
			s.mu.RLock()
			observe := s.observe
			s.mu.RUnlock()
			if observe != nil {
				observe(name, time.Since(start), err)
			}
			if err == nil {
				return
			}
			if failures++; failures == asyncAttempts {
				break
			}
			wait = time.Duration(failures) * s.AsyncRetryDelay
		}
		select {
		case <-time.After(wait):
			continue
		case <-s.stop:
		}
		break
	}
	s.mu.RLock()
	dropped := s.dropped
	s.mu.RUnlock()
	if dropped != nil {
		dropped(name)
	}
}

// gate passes EventGate, if set, for an attempt of an event accepted then:
// false when Close came first (the release is then called once the gate
// opens).
func (s *Server) gate(accepted time.Time) (release func(), open bool) {
	if s.EventGate == nil {
		return func() {}, true
	}
	opened := make(chan func(), 1)
	go func() { opened <- s.EventGate(accepted) }()
	select {
	case release := <-opened:
		return release, true
	case <-s.stop:
		go func() { (<-opened)() }()
		return nil, false
	}
}

// throttle tells ObserveThrottled's function of a throttle of name.
func (s *Server) throttle(name string) {
	s.mu.RLock()
	fn := s.throttledFn
	s.mu.RUnlock()
	if fn != nil {
		fn(name)
	}
}

// errorTypeThrottled is the error type (by an ErrorType method, as
// local/lambdaenv's FunctionError has) of a handler's error that says the
// function's concurrency is used up.
const errorTypeThrottled = "TooManyRequestsException"

func throttled(err error) bool {
	var typed interface{ ErrorType() string }
	return errors.As(err, &typed) && typed.ErrorType() == errorTypeThrottled
}

// errorType is err's type as Lambda names it: the one it says it has
// (ErrorType: the environments' errors carry their runtime's or the
// service's), else its Go type as the Go runtime names it (without the
// pointer).
func errorType(err error) string {
	var typed interface{ ErrorType() string }
	if errors.As(err, &typed) && typed.ErrorType() != "" {
		return typed.ErrorType()
	}
	t := fmt.Sprintf("%T", err)
	if i := strings.LastIndex(t, "."); i >= 0 {
		t = t[i+1:]
	}
	return strings.TrimPrefix(t, "*")
}

// apiError answers as the Lambda API answers a request it refuses.
func apiError(w http.ResponseWriter, status int, typ, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": message})
}
