package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/coder/websocket"
)

// stack is a gateway served on a free loopback port.
type stack struct {
	gw     *Gateway
	srv    *httptest.Server
	base   string // http://127.0.0.1:PORT
	wsURL  string // ws://127.0.0.1:PORT/<stage>
	events *recorder
}

// start serves a gateway with handler h (the recorder sees every event
// before h does) and shuts it down at the end of the test.
func start(t *testing.T, h Handler, cfg Config, setup ...func(*Gateway)) *stack {
	t.Helper()
	rec := &recorder{changed: make(chan struct{})}
	if cfg.Log == nil {
		cfg.Log = testLog{t}
	}
	gw := New(rec.wrap(h), cfg)
	for _, f := range setup {
		f(gw)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		srv.Close()
	})
	return &stack{gw: gw, srv: srv, base: srv.URL, wsURL: gw.WebSocketURL(strings.TrimPrefix(srv.URL, "http://")), events: rec}
}

// testLog sends the gateway's log lines to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// recorder keeps every event the handler receives.
type recorder struct {
	mu      sync.Mutex
	events  []events.APIGatewayWebsocketProxyRequest
	changed chan struct{} // closed and replaced on every event
}

func (r *recorder) wrap(h Handler) Handler {
	return func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		r.mu.Lock()
		r.events = append(r.events, ev)
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
		return h(ctx, ev)
	}
}

// waitFor waits until some recorded event satisfies match and returns it.
func (r *recorder) waitFor(ctx context.Context, t *testing.T, what string, match func(events.APIGatewayWebsocketProxyRequest) bool) events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	for {
		r.mu.Lock()
		for _, ev := range r.events {
			if match(ev) {
				r.mu.Unlock()
				return ev
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("no %s event: %v", what, ctx.Err())
		}
	}
}

func (r *recorder) all() []events.APIGatewayWebsocketProxyRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.APIGatewayWebsocketProxyRequest(nil), r.events...)
}

// disconnectOf waits for the $disconnect event of connection id.
func (r *recorder) disconnectOf(ctx context.Context, t *testing.T, id string) events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	return r.waitFor(ctx, t, "$disconnect of "+id, func(ev events.APIGatewayWebsocketProxyRequest) bool {
		return ev.RequestContext.RouteKey == "$disconnect" && ev.RequestContext.ConnectionID == id
	})
}

func (r *recorder) connectIDs() []string {
	var ids []string
	for _, ev := range r.all() {
		if ev.RequestContext.RouteKey == "$connect" {
			ids = append(ids, ev.RequestContext.ConnectionID)
		}
	}
	return ids
}

// echo answers every event with 200 and, for messages, the body "<route>:<body>".
func echo(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	if ev.RequestContext.EventType != "MESSAGE" {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.RequestContext.RouteKey + ":" + ev.Body}, nil
}

// dial connects a client and returns it with the connection id the gateway
// gave it (from the $connect event).
func (s *stack) dial(ctx context.Context, t *testing.T, query string) (*websocket.Conn, string) {
	t.Helper()
	before := len(s.events.connectIDs())
	c, resp, err := websocket.Dial(ctx, s.wsURL+query, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", s.wsURL+query, err, status)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	c.SetReadLimit(-1)
	ids := s.events.connectIDs()
	if len(ids) != before+1 {
		// Several tests dial concurrently only through dialN.
		t.Fatalf("expected one new $connect, have %d → %d", before, len(ids))
	}
	return c, ids[len(ids)-1]
}

func read(ctx context.Context, t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(data)
}

func write(ctx context.Context, t *testing.T, c *websocket.Conn, frame string) {
	t.Helper()
	if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		t.Fatalf("write %q: %v", frame, err)
	}
}

// closeStatusOf reads until the connection ends and returns the close frame
// the server sent.
func closeStatusOf(ctx context.Context, t *testing.T, c *websocket.Conn) websocket.CloseError {
	t.Helper()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("connection ended without a close frame: %v", err)
		}
		return ce
	}
}

// managementClient is the real SDK client pointed at the gateway's stage.
func (s *stack) managementClient(opts ...func(*apigatewaymanagementapi.Options)) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.base + "/" + s.gw.Config().Stage),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:   http.DefaultClient,
	}, opts...)
}

// awaitClose reads from every client in the background, as a browser does,
// so each answers the gateway's close frame at once; the returned function
// waits for the close frames the clients received.
func awaitClose(ctx context.Context, t *testing.T, clients ...*websocket.Conn) func() []websocket.CloseError {
	t.Helper()
	type result struct {
		i   int
		ce  websocket.CloseError
		err error
	}
	results := make(chan result, len(clients))
	for i, c := range clients {
		go func() {
			for {
				_, _, err := c.Read(ctx)
				if err == nil {
					continue
				}
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					err = nil
				}
				results <- result{i, ce, err}
				return
			}
		}()
	}
	return func() []websocket.CloseError {
		t.Helper()
		out := make([]websocket.CloseError, len(clients))
		for range clients {
			r := <-results
			if r.err != nil {
				t.Errorf("client %d ended without a close frame: %v", r.i, r.err)
			}
			out[r.i] = r.ce
		}
		return out
	}
}
