// What the proxy answered, request by request, for a test or a tool that
// watches DynamoDB's traffic (SetObserver).

package ddbproxy

import (
	"bytes"
	"net/http"
	"time"
)

// Observation is one request the proxy answered, for SetObserver.
type Observation struct {
	// Op is the operation, e.g. "GetItem"; Table the request's TableName
	// ("" for the batch operations).
	Op, Table string
	// Status is the HTTP status answered; 0 when the target could not be
	// reached (the client's connection was ended).
	Status int
	// Took is the time from the request to its answer.
	Took time.Duration
	// Throttled is an answer DynamoDB gives when it throttles.
	Throttled bool
	// Canceled: the client gave up on the request before its answer.
	Canceled bool
}

// SetObserver has fn called with every DynamoDB request once it is
// answered (the proxy's own reads are not observed); the local stack
// counts DynamoDB's CloudWatch metrics from them. nil stops it.
func (p *Proxy) SetObserver(fn func(Observation)) {
	p.mu.Lock()
	p.observe = fn
	p.mu.Unlock()
}

// observedWriter keeps the status answered and an error answer's type.
type observedWriter struct {
	http.ResponseWriter
	status int
	prefix []byte // the start of an error answer's body
}

func (o *observedWriter) WriteHeader(status int) {
	if o.status == 0 {
		o.status = status
	}
	o.ResponseWriter.WriteHeader(status)
}

func (o *observedWriter) Write(b []byte) (int, error) {
	if o.status == 0 {
		o.status = http.StatusOK
	}
	if o.status >= 400 && len(o.prefix) < 256 {
		o.prefix = append(o.prefix, b[:min(len(b), 256-len(o.prefix))]...)
	}
	return o.ResponseWriter.Write(b)
}

func (o *observedWriter) throttled() bool {
	return o.status == http.StatusBadRequest &&
		(bytes.Contains(o.prefix, []byte("ThrottlingException")) || bytes.Contains(o.prefix, []byte("ProvisionedThroughputExceededException")))
}
