package gateway

import (
	"errors"
	"net/http"
	"time"

	"github.com/groupchat/groupchat/observability"
)

// The metrics the stand-in counts in place of API Gateway's (namespace
// AWS/ApiGateway), Lambda's (AWS/Lambda: the gateway is the function's
// runtime) and, for the page it serves, Amplify Hosting's
// (AWS/AmplifyHosting), given to Config.Metric. As on AWS, the error
// metrics get a 0 for every request that did not fail, so their Sum counts
// failures and their SampleCount requests.

// metric hands one value to Config.Metric, if set.
func (g *Gateway) metric(namespace, name string, v float64) {
	if g.cfg.Metric != nil {
		g.cfg.Metric(namespace, name, v)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// integration counts one route invocation as API Gateway does: its
// latency, and whether the integration failed (the function's error, or a
// 4XX/5XX status it answered, such as $connect's 400 for an invalid room).
// ExecutionError counts failures to call the integration at all, which the
// in-process stand-in never has.
func (g *Gateway) integration(took time.Duration, status int, err error) {
	g.metric(observability.NamespaceAPI, "IntegrationLatency", ms(took))
	g.metric(observability.NamespaceAPI, "IntegrationError", boolValue(err != nil || status >= 400))
	g.metric(observability.NamespaceAPI, "ExecutionError", 0)
}

// invoked counts one invocation of the function as Lambda does: one the
// function's concurrency refused (a throttle) only in Throttles, as no
// invocation.
func (g *Gateway) invoked(took time.Duration, err error, concurrent int64) {
	if throttled(err) {
		g.metric(observability.NamespaceLambda, "Throttles", 1)
		return
	}
	g.metric(observability.NamespaceLambda, "Invocations", 1)
	g.metric(observability.NamespaceLambda, "Errors", boolValue(err != nil))
	g.metric(observability.NamespaceLambda, "Duration", ms(took))
	g.metric(observability.NamespaceLambda, "ConcurrentExecutions", float64(concurrent))
}

// throttle is an error that says whether the function's concurrency
// refused the invocation (local/lambdaenv's FunctionError has the method;
// the in-process handler never throttles).
type throttle interface{ Throttled() bool }

func throttled(err error) bool {
	var t throttle
	return errors.As(err, &t) && t.Throttled()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// countedPage serves the page through h and counts each response as
// Amplify Hosting counts its app's: Requests, BytesDownloaded (GET, HEAD,
// OPTIONS), BytesUploaded (POST, PUT), 4xxErrors, 5xxErrors and Latency,
// the time to first byte in seconds.
func (g *Gateway) countedPage(w http.ResponseWriter, r *http.Request, h http.Handler) {
	if g.cfg.Metric == nil {
		h.ServeHTTP(w, r)
		return
	}
	cw := &countingWriter{ResponseWriter: w, start: time.Now()}
	h.ServeHTTP(cw, r)
	if cw.status == 0 {
		cw.WriteHeader(http.StatusOK)
	}
	ns := observability.NamespaceAmplify
	g.metric(ns, "Requests", 1)
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		g.metric(ns, "BytesDownloaded", float64(cw.bytes))
	case http.MethodPost, http.MethodPut:
		g.metric(ns, "BytesUploaded", float64(max(r.ContentLength, 0)))
	}
	g.metric(ns, "4xxErrors", boolValue(cw.status >= 400 && cw.status < 500))
	g.metric(ns, "5xxErrors", boolValue(cw.status >= 500))
	g.metric(ns, "Latency", cw.firstByte.Seconds())
}

type countingWriter struct {
	http.ResponseWriter
	start     time.Time
	status    int
	bytes     int
	firstByte time.Duration
}

func (c *countingWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
		c.firstByte = time.Since(c.start)
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	n, err := c.ResponseWriter.Write(p)
	c.bytes += n
	return n, err
}
