// Package mgmt delivers frames through API Gateway's management API
// (@connections): the chat.Poster adapter.
package mgmt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/groupchat/groupchat/lambda/chat"
)

// API is the part of the management API client the poster calls:
// PostToConnection and DeleteConnection, which is all the function's IAM
// policy allows (infra/stack ties the two together).
type API interface {
	PostToConnection(context.Context, *apigatewaymanagementapi.PostToConnectionInput, ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
	DeleteConnection(context.Context, *apigatewaymanagementapi.DeleteConnectionInput, ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.DeleteConnectionOutput, error)
}

var _ API = (*apigatewaymanagementapi.Client)(nil)

// Poster implements chat.Poster.
//
// Built by NewFromConfig, it makes each delivery's first attempt itself: one
// POST to @connections/{id}, signed by the SDK's SigV4 signer
// (v4.Signer.SignHTTP) with the frame's SHA-256 computed once per frame, not
// once per delivery, and sent through the same HTTP client as the SDK
// client's. The generated client builds its whole middleware stack for
// every call (about 230 of its 330 allocations per delivery); a broadcast
// needs none of it when the answer is 200 or 410. Any other outcome (an error
// status, a broken connection, the context ending) is handed to the SDK
// client, which makes the call again with its retries and its typed errors:
// what the chat sees of a failure is exactly what the SDK reports. After a
// status the SDK retries (500, 502, 503, 504, 429), the first attempt counts
// as the SDK's first, so a failing delivery is tried three times, as before;
// after any other, the SDK's own call is one more attempt.
type Poster struct {
	api  API
	fast *direct // nil: every delivery through api
}

var _ chat.Poster = (*Poster)(nil)

// New returns a Poster making every delivery through api.
func New(api API) *Poster { return &Poster{api: api} }

// NewFromConfig builds the management API client for endpoint (the
// stage's callback URL) from awsCfg, with room for pool concurrent
// deliveries, and returns a Poster using it.
func NewFromConfig(awsCfg aws.Config, endpoint string, pool int) *Poster {
	// Keep a warm connection per concurrent delivery: the SDK's default of
	// 10 idle connections per host would reconnect on every large fan-out.
	// A write buffer of 64 KB holds a whole frame (API Gateway's frames are
	// at most 32 KB) with its headers: with net/http's default of 4 KB, a
	// large body is copied to the socket through a fresh 32 KB buffer per
	// request (BenchmarkPost/frame=32768B: 41.6 KB and 90 µs of CPU per
	// delivery, 8.7 KB and 46 µs with it). At most pool connections hold one.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = pool
		t.MaxIdleConnsPerHost = pool
		t.WriteBufferSize = 64 << 10
	})
	api := apigatewaymanagementapi.NewFromConfig(awsCfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.HTTPClient = httpClient
	})
	p := New(api)
	if awsCfg.Credentials != nil && awsCfg.Region != "" {
		p.fast = &direct{
			client: httpClient,
			signer: v4.NewSigner(), // one signer: it caches the derived signing key
			creds:  awsCfg.Credentials,
			region: awsCfg.Region,
			prefix: strings.TrimSuffix(endpoint, "/") + "/@connections/",
		}
	}
	return p
}

// Post sends data to one connection; a 410 Gone becomes chat.ErrGone.
func (p *Poster) Post(ctx context.Context, connID string, data []byte) error {
	var optFns []func(*apigatewaymanagementapi.Options)
	if p.fast != nil {
		status, err := p.fast.post(ctx, connID, data)
		switch {
		case err == nil && status >= 200 && status < 300:
			return nil
		case err == nil && status == http.StatusGone:
			return chat.ErrGone
		case isRetryable(status):
			// The SDK waits before a retry; so does its first one here.
			// The attempt made here was the first of the SDK's three, so
			// the SDK client makes the other two: a failing delivery costs
			// the same attempts as before.
			_ = sleep(ctx, firstRetryDelay())
			optFns = append(optFns, withAttempts(retry.DefaultMaxAttempts-1))
		}
	}
	_, err := p.api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &connID, Data: data}, optFns...)
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return chat.ErrGone
	}
	if err != nil {
		return fmt.Errorf("post to %s: %w", connID, err)
	}
	return nil
}

// Close closes one connection (DELETE @connections/{id}): API Gateway
// closes the socket and runs the connection's $disconnect. A connection
// already gone (410) is chat.ErrGone.
func (p *Poster) Close(ctx context.Context, connID string) error {
	_, err := p.api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &connID})
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return chat.ErrGone
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", connID, err)
	}
	return nil
}

// direct makes the first attempt of a delivery without the generated
// client's middleware: the request PostToConnection would send, signed the
// same way.
type direct struct {
	client aws.HTTPClient
	signer *v4.Signer
	creds  aws.CredentialsProvider
	region string
	prefix string // the endpoint's URL + "/@connections/"
	last   atomic.Pointer[payload]
}

// payload is a frame with its SHA-256, kept for the deliveries after the
// first of a broadcast (the same frame goes to every member).
type payload struct {
	data []byte // a copy: the caller's slice may be reused
	hash string // hex, as SigV4 wants it
}

// The request's fixed headers, as the SDK client sends them.
var (
	contentType = []string{"application/octet-stream"}
	userAgent   = []string{"aws-sdk-go-v2/" + aws.SDKVersion + " groupchat-mgmt"}
)

// signingName is the management API's SigV4 service name.
const signingName = "execute-api"

// post sends one attempt and returns the answer's status, or the error that
// kept it from getting one.
func (d *direct) post(ctx context.Context, connID string, data []byte) (int, error) {
	creds, err := d.creds.Retrieve(ctx)
	if err != nil {
		return 0, err
	}
	// The id is one path segment, escaped as the SDK escapes it (ids are
	// base64: / + and = are escaped too).
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.prefix+httpbinding.EscapePath(connID, true), bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	req.Header["Content-Type"] = contentType
	req.Header["User-Agent"] = userAgent
	if err := d.signer.SignHTTP(ctx, creds, req, d.hash(data), signingName, d.region, time.Now()); err != nil {
		return 0, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	// Read the (small) answer to the end, so the connection is kept.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// hash returns data's SHA-256 in hex, computed once for consecutive
// deliveries of the same frame.
func (d *direct) hash(data []byte) string {
	if last := d.last.Load(); last != nil && bytes.Equal(last.data, data) {
		return last.hash
	}
	sum := sha256.Sum256(data)
	p := &payload{data: bytes.Clone(data), hash: hex.EncodeToString(sum[:])}
	d.last.Store(p)
	return p.hash
}

// isRetryable tells the statuses the SDK's standard retryer retries: 500,
// 502, 503, 504 and throttling (429).
func isRetryable(status int) bool {
	_, ok := retry.DefaultRetryableHTTPStatusCodes[status]
	return ok || status == http.StatusTooManyRequests
}

// firstRetryDelay is the SDK's delay before a first retry.
func firstRetryDelay() time.Duration {
	d, err := retry.NewExponentialJitterBackoff(retry.DefaultMaxBackoff).BackoffDelay(1, nil)
	if err != nil {
		return 0
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// withAttempts bounds the SDK client's attempts for one call.
func withAttempts(n int) func(*apigatewaymanagementapi.Options) {
	return func(o *apigatewaymanagementapi.Options) { o.RetryMaxAttempts = n }
}
