package gateway

import (
	"io"
	"math/rand/v2"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// Config tunes the stand-in. The zero value of every field means its default,
// which is API Gateway's own value where API Gateway has one.
type Config struct {
	// Stage is the stage name: clients connect to ws://HOST/<Stage> and the
	// management API also answers at /<Stage>/@connections/{id}.
	// Default "local".
	Stage string
	// APIID is the requestContext.apiId of every event. Default "local".
	APIID string

	// MessageLimit is the largest message a client may send, in bytes; a
	// larger one closes the connection with 1009. It also bounds what is
	// sent to a client: a management API POST above it is answered 413, and
	// a route response above it is not delivered (and logged). Default
	// 128 KiB, as API Gateway.
	MessageLimit int64
	// FrameLimit is the largest single frame a client may send, in bytes; a
	// larger one closes the connection with 1009. Default 32 KiB, as API
	// Gateway.
	FrameLimit int64
	// IdleTimeout closes a connection with 1001 "Going Away" when the client
	// has sent no message for this long. Default 10 minutes, as API Gateway.
	IdleTimeout time.Duration
	// MaxConnectionDuration closes every connection with 1001 "Going Away"
	// this long after it connected. Default 2 hours, as API Gateway.
	MaxConnectionDuration time.Duration
	// HandlerTimeout is the deadline of the context each handler invocation
	// gets; a handler that returns later counts as failed (the client of a
	// message gets API Gateway's "Internal server error" frame). On AWS the
	// deadline is the Lambda function's timeout, which is shorter than API
	// Gateway's 29-second integration timeout. Default
	// contract.FunctionTimeout (25 seconds), the deployed function's timeout.
	HandlerTimeout time.Duration
	// SerialFrames hands one connection's messages to the handler one at a
	// time, in the order they arrived, and runs $disconnect only after the
	// last of them has been handled, as the stand-in used to. API Gateway
	// does not do this: it invokes the handler for every message as it
	// arrives, so messages of one connection are handled concurrently,
	// their route responses come back in the order the invocations finish,
	// and $disconnect may run while some are still in the handler.
	// Default false: AWS's behaviour.
	SerialFrames bool

	// Authorize is the $connect route's REQUEST authorizer, with the
	// identity source contract.AuthIdentitySource (the query parameter
	// contract.AuthQueryParam). As on API Gateway, a handshake without it
	// is refused 401 without any invocation; otherwise the authorizer is
	// invoked first: its policy's Allow on the methodArn lets $connect run,
	// with the authorizer's context as requestContext.authorizer there and
	// in every later event of the connection; Deny refuses the handshake
	// with 403; an error or a timeout with 500 (the error "Unauthorized"
	// with 401). Default nil: no authorizer, anyone may connect.
	Authorize Authorizer

	// StaticDir is served at / (with /config.json answered by the gateway).
	// Default "": a small built-in page that says how to connect.
	StaticDir string
	// Page is the page's runtime configuration, answered at /config.json;
	// its WSURL is always the gateway's WebSocket URL on the host the
	// browser used. Default: only that URL.
	Page contract.PageConfig

	// Log receives one line per event (and per failed management call).
	// Default nil: no log.
	Log io.Writer
	// LogManagement also logs every successful management API call.
	// Default false: a broadcast to many connections stays one log line.
	LogManagement bool

	// Faults are injected into the management API. Default: none.
	Faults Faults

	// Metric, when set, receives every value the stand-in counts in place
	// of API Gateway's, Lambda's and (for the page) Amplify Hosting's
	// CloudWatch metrics (see metrics.go), with the metric's namespace and
	// name. It may be called concurrently. Default nil: none counted.
	Metric func(namespace, name string, value float64)
}

// Faults make the management API behave worse than loopback does, for load
// and fault tests. The zero value injects nothing.
type Faults struct {
	// Latency delays every management API call (POST, GET, DELETE) before
	// it is answered; about 20ms makes loopback behave like AWS.
	Latency time.Duration
	// FailPost, when it returns true for a POST's connection id, answers the
	// POST with 500 InternalServerErrorException and sends nothing.
	FailPost func(connectionID string) bool
	// StallPost, when it returns true for a POST's connection id, holds the
	// POST unanswered until the caller gives up or the gateway shuts down,
	// and sends nothing.
	StallPost func(connectionID string) bool
	// DropDisconnect, when it returns true for a connection that ends,
	// skips its $disconnect, as AWS may (delivery is best effort): the
	// handler's record of it goes stale and is found by a 410 later.
	DropDisconnect func(connectionID string) bool
}

// Fraction returns a predicate for the Faults switches that
// is true for about the fraction p (0–1) of calls, chosen at random per call.
// It returns nil for p <= 0.
func Fraction(p float64) func(connectionID string) bool {
	if p <= 0 {
		return nil
	}
	return func(string) bool { return rand.Float64() < p }
}

// Defaults of Config, exported so a command can show them in its flags.
const (
	DefaultStage                 = "local"
	DefaultAPIID                 = "local"
	DefaultMessageLimit          = contract.MessageLimit
	DefaultFrameLimit            = 32 << 10
	DefaultIdleTimeout           = 10 * time.Minute
	DefaultMaxConnectionDuration = 2 * time.Hour
	DefaultHandlerTimeout        = contract.FunctionTimeout
)

func (c Config) withDefaults() Config {
	if c.Stage == "" {
		c.Stage = DefaultStage
	}
	if c.APIID == "" {
		c.APIID = DefaultAPIID
	}
	if c.MessageLimit <= 0 {
		c.MessageLimit = DefaultMessageLimit
	}
	if c.FrameLimit <= 0 {
		c.FrameLimit = DefaultFrameLimit
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxConnectionDuration <= 0 {
		c.MaxConnectionDuration = DefaultMaxConnectionDuration
	}
	if c.HandlerTimeout <= 0 {
		c.HandlerTimeout = DefaultHandlerTimeout
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}
