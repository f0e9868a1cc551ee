// Package lambdainvoke serves the one call of the Lambda API the local stack
// needs: Invoke, synchronous (POST /2015-03-31/functions/{name}/invocations,
// InvocationType RequestResponse), which hands the payload to a Go handler
// in the same process and answers as Lambda does: the handler's answer as
// JSON, or its error as {"errorMessage", "errorType"} with the header
// X-Amz-Function-Error: Unhandled. cognito-local invokes the user pool's
// triggers through it (local/cognito), so the local stack runs the same
// handler AWS runs for them.
package lambdainvoke

import (
	"context"
	"encoding/json"
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
	// maxPayload is Lambda's bound on a synchronous invocation's request.
	maxPayload = 6 << 20
)

// Server is the local Lambda Invoke endpoint.
type Server struct {
	srv      *http.Server
	endpoint string
	served   chan struct{}
	timeout  time.Duration

	mu      sync.RWMutex
	fns     map[string]Handler
	observe func(name string, took time.Duration, err error)
}

// Start listens on a free loopback port. timeout bounds each invocation
// (the function's timeout); 0: none.
func Start(timeout time.Duration) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("local Lambda endpoint: %w", err)
	}
	s := &Server{endpoint: "http://" + ln.Addr().String(), served: make(chan struct{}), timeout: timeout, fns: map[string]Handler{}}
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

// Close stops the server, waiting for invocations in progress.
func (s *Server) Close() error {
	err := s.srv.Shutdown(context.Background())
	<-s.served
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
	if t := r.Header.Get("X-Amz-Invocation-Type"); t != "" && t != "RequestResponse" {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", "only RequestResponse invocations are served locally")
		return
	}
	s.mu.RLock()
	h, observe := s.fns[name], s.observe
	s.mu.RUnlock()
	if h == nil {
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "the payload is over 6 MB")
		return
	}
	if !json.Valid(payload) {
		apiError(w, http.StatusBadRequest, "InvalidRequestContentException", "the payload is not JSON")
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

// errorType names err's type as the Go runtime does (without the pointer).
func errorType(err error) string {
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
