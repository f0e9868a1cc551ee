package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
)

var idFormat = regexp.MustCompile(`^[A-Za-z0-9+/]{15}=$`)

func TestEventsAreShapedLikeAPIGateways(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, echo, Config{Stage: "dev", APIID: "abc123"})
	before := time.Now().UnixMilli()

	c, id := s.dial(ctx, t, "?name=Alice&room=lobby&tag=a&tag=b")
	write(ctx, t, c, `{"action":"sendPublic","message":"hi"}`)
	_ = s.events.waitFor(ctx, t, "message", func(ev events.APIGatewayWebsocketProxyRequest) bool { return ev.RequestContext.EventType == "MESSAGE" })
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close: %v", err)
	}
	disc := s.events.disconnectOf(ctx, t, id)

	evs := s.events.all()
	if len(evs) != 3 {
		t.Fatalf("want 3 events ($connect, message, $disconnect), got %d", len(evs))
	}
	conn, msg := evs[0], evs[1]
	host := strings.TrimPrefix(s.base, "http://")
	for i, ev := range evs {
		rc := ev.RequestContext
		if rc.ConnectionID != id || !idFormat.MatchString(rc.ConnectionID) {
			t.Errorf("event %d: connectionId %q, want %q in API Gateway's format", i, rc.ConnectionID, id)
		}
		if rc.Stage != "dev" || rc.APIID != "abc123" || rc.DomainName != host {
			t.Errorf("event %d: stage %q apiId %q domainName %q", i, rc.Stage, rc.APIID, rc.DomainName)
		}
		if rc.Identity.SourceIP != "127.0.0.1" {
			t.Errorf("event %d: sourceIp %q", i, rc.Identity.SourceIP)
		}
		if !idFormat.MatchString(rc.RequestID) {
			t.Errorf("event %d: requestId %q", i, rc.RequestID)
		}
		if rc.ConnectedAt < before || rc.ConnectedAt > rc.RequestTimeEpoch {
			t.Errorf("event %d: connectedAt %d, requestTimeEpoch %d, test started %d", i, rc.ConnectedAt, rc.RequestTimeEpoch, before)
		}
	}
	want := []struct{ route, eventType string }{{"$connect", "CONNECT"}, {"sendPublic", "MESSAGE"}, {"$disconnect", "DISCONNECT"}}
	for i, w := range want {
		if evs[i].RequestContext.RouteKey != w.route || evs[i].RequestContext.EventType != w.eventType {
			t.Errorf("event %d: %s/%s, want %s/%s", i, evs[i].RequestContext.RouteKey, evs[i].RequestContext.EventType, w.route, w.eventType)
		}
	}
	if conn.QueryStringParameters["name"] != "Alice" || conn.QueryStringParameters["room"] != "lobby" {
		t.Errorf("$connect query: %v", conn.QueryStringParameters)
	}
	if got := conn.MultiValueQueryStringParameters["tag"]; len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("$connect multi-value query tag: %v", got)
	}
	if conn.Headers["Host"] != host || conn.Headers["Sec-Websocket-Key"] == "" || conn.MultiValueHeaders["Host"] == nil {
		t.Errorf("$connect headers: %v", conn.Headers)
	}
	if msg.Body != `{"action":"sendPublic","message":"hi"}` || msg.IsBase64Encoded {
		t.Errorf("message body %q (base64 %v)", msg.Body, msg.IsBase64Encoded)
	}
	if mid, _ := msg.RequestContext.MessageID.(string); !idFormat.MatchString(mid) {
		t.Errorf("messageId %v", msg.RequestContext.MessageID)
	}
	if msg.QueryStringParameters != nil || msg.Headers != nil {
		t.Errorf("a message event carries no query or headers: %v %v", msg.QueryStringParameters, msg.Headers)
	}
	if disc.RequestContext.DisconnectStatusCode != 1000 || disc.RequestContext.DisconnectReason == nil || *disc.RequestContext.DisconnectReason != "bye" {
		t.Errorf("$disconnect status %d reason %v, want 1000 bye", disc.RequestContext.DisconnectStatusCode, disc.RequestContext.DisconnectReason)
	}
}

func TestRoutesAndRouteResponses(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	// One at a time, so that the answer to a marker after each frame proves
	// whether that frame was answered; which routes answer does not depend
	// on the order.
	s := start(t, echo, Config{SerialFrames: true})
	c, _ := s.dial(ctx, t, "")
	cases := []struct {
		name, frame, route string
		answered           bool // $default is the only route with a route response
	}{
		{"a custom action selects its route", `{"action":"sendPublic","message":"x"}`, "sendPublic", false},
		{"setName", `{"action":"setName","name":"A"}`, "setName", false},
		{"sendPrivate", `{"action":"sendPrivate","to":["A"],"message":"x"}`, "sendPrivate", false},
		{"an unknown action goes to $default", `{"action":"dance"}`, "$default", true},
		{"a reserved key goes to $default", `{"action":"$connect"}`, "$default", true},
		{"a non-string action goes to $default", `{"action":5}`, "$default", true},
		{"no action goes to $default", `{"message":"x"}`, "$default", true},
		{"not JSON goes to $default", `hello`, "$default", true},
	}
	for _, tc := range cases {
		write(ctx, t, c, tc.frame)
		// With SerialFrames the answer to this marker proves whether the
		// frame before it was answered.
		write(ctx, t, c, "marker")
		got := read(ctx, t, c)
		if tc.answered {
			if want := tc.route + ":" + tc.frame; got != want {
				t.Errorf("%s: client got %q, want the route response %q", tc.name, got, want)
			}
			got = read(ctx, t, c)
		}
		if got != "$default:marker" {
			t.Errorf("%s: client got %q, want only the marker's answer (no route response for %s)", tc.name, got, tc.route)
		}
		evs := s.events.all()
		if ev := evs[len(evs)-2]; ev.RequestContext.RouteKey != tc.route {
			t.Errorf("%s: route %q, want %q", tc.name, ev.RequestContext.RouteKey, tc.route)
		}
	}
}

func TestEmptyRouteResponseSendsNothing(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if ev.Body == "quiet" {
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		}
		return echo(context.Background(), ev)
	}, Config{})
	c, _ := s.dial(ctx, t, "")
	write(ctx, t, c, "quiet")
	write(ctx, t, c, "loud")
	if got := read(ctx, t, c); got != "$default:loud" {
		t.Fatalf("client got %q, want only the answer to the second frame", got)
	}
}

func TestConnectRefusedWithTheHandlersStatus(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if ev.RequestContext.RouteKey == "$connect" && ev.QueryStringParameters["room"] == "!" {
			return events.APIGatewayProxyResponse{StatusCode: 400, Body: "bad room"}, nil
		}
		if ev.RequestContext.RouteKey == "$connect" && ev.QueryStringParameters["room"] == "boom" {
			return events.APIGatewayProxyResponse{}, errors.New("storage down")
		}
		return echo(context.Background(), ev)
	}, Config{})
	for _, tc := range []struct {
		query  string
		status int
	}{{"?room=%21", 400}, {"?room=boom", 500}} {
		_, resp, err := websocket.Dial(ctx, s.wsURL+tc.query, nil)
		if err == nil {
			t.Fatalf("%s: handshake accepted, want HTTP %d", tc.query, tc.status)
		}
		if resp == nil || resp.StatusCode != tc.status {
			t.Fatalf("%s: response %v, want HTTP %d", tc.query, resp, tc.status)
		}
	}
	// A refused client never existed: no $disconnect, nothing listed.
	c, id := s.dial(ctx, t, "?room=ok")
	_ = c.Close(websocket.StatusNormalClosure, "")
	s.events.disconnectOf(ctx, t, id)
	for _, ev := range s.events.all() {
		if ev.RequestContext.RouteKey == "$disconnect" && ev.RequestContext.ConnectionID != id {
			t.Errorf("$disconnect for a refused connection %s", ev.RequestContext.ConnectionID)
		}
	}
}

func TestHandlerFailureSendsAPIGatewaysErrorFrame(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		switch ev.Body {
		case "fail":
			return events.APIGatewayProxyResponse{}, errors.New("boom")
		case "panic":
			panic("boom")
		case "slow":
			<-ctx.Done() // runs into the Lambda deadline
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: "too late"}, nil
		}
		return echo(ctx, ev)
	}, Config{HandlerTimeout: 100 * time.Millisecond})
	c, id := s.dial(ctx, t, "")
	for _, body := range []string{"fail", "panic", "slow"} {
		write(ctx, t, c, body)
		var frame map[string]string
		if err := json.Unmarshal([]byte(read(ctx, t, c)), &frame); err != nil {
			t.Fatal(err)
		}
		if frame["message"] != "Internal server error" || frame["connectionId"] != id || frame["requestId"] == "" {
			t.Errorf("%s: client got %v, want API Gateway's internal error frame", body, frame)
		}
	}
	write(ctx, t, c, "still there?")
	if got := read(ctx, t, c); got != "$default:still there?" {
		t.Errorf("after failures the connection answers %q", got)
	}
}

func TestHandlerGetsALambdaLikeContextWithTheFunctionsTimeout(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		began := time.Now()
		deadline, ok := ctx.Deadline()
		lc, _ := lambdacontext.FromContext(ctx)
		if ev.RequestContext.EventType != "MESSAGE" {
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		}
		budget := deadline.Sub(began)
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: fmt.Sprintf("%t %d %t", ok, budget, lc != nil && lc.AwsRequestID == ev.RequestContext.RequestID)}, nil
	}, Config{})
	if got := s.gw.Config().HandlerTimeout; got != contract.FunctionTimeout {
		t.Errorf("default HandlerTimeout %s, want the function's timeout %s", got, contract.FunctionTimeout)
	}
	c, _ := s.dial(ctx, t, "")
	write(ctx, t, c, "x")
	var hasDeadline, hasRequestID bool
	var budget time.Duration
	if _, err := fmt.Sscan(read(ctx, t, c), &hasDeadline, &budget, &hasRequestID); err != nil {
		t.Fatal(err)
	}
	// On AWS the handler's deadline is the function's timeout (25 s), not
	// API Gateway's 29-second integration timeout.
	if !hasDeadline || budget > contract.FunctionTimeout || budget < contract.FunctionTimeout-time.Second {
		t.Errorf("handler's deadline is %s after the invocation began (deadline set: %t), want about %s", budget, hasDeadline, contract.FunctionTimeout)
	}
	if !hasRequestID {
		t.Error("the Lambda context does not carry the event's request id")
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, echo, Config{})

	// Frames of up to 32 KB make up messages of up to 128 KB.
	c, _ := s.dial(ctx, t, "")
	big := strings.Repeat("a", 120<<10)
	writeFrames(ctx, t, c, big, 16<<10)
	if got := read(ctx, t, c); got != "$default:"+big {
		t.Fatalf("a 120 KB message in 16 KB frames: got %d bytes back", len(got))
	}

	cases := []struct {
		name       string
		size, step int
	}{
		{"a frame over 32 KB", 33 << 10, 33 << 10},
		{"a message over 128 KB", 130 << 10, 16 << 10},
	}
	for _, tc := range cases {
		c, id := s.dial(ctx, t, "")
		// The write may fail once the gateway has closed; the close frame counts.
		w, err := c.Writer(ctx, websocket.MessageText)
		if err != nil {
			t.Fatal(err)
		}
		for sent := 0; sent < tc.size; sent += tc.step {
			if _, err := w.Write([]byte(strings.Repeat("b", min(tc.step, tc.size-sent)))); err != nil {
				break
			}
		}
		_ = w.Close()
		if ce := closeStatusOf(ctx, t, c); ce.Code != websocket.StatusMessageTooBig {
			t.Errorf("%s: closed with %v, want 1009", tc.name, ce)
		}
		if d := s.events.disconnectOf(ctx, t, id); d.RequestContext.DisconnectStatusCode != 1009 {
			t.Errorf("%s: $disconnect status %d, want 1009", tc.name, d.RequestContext.DisconnectStatusCode)
		}
	}
}

func TestBinaryFrameClosesWith1003AndInvokesNothing(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, echo, Config{})
	c, id := s.dial(ctx, t, "")
	if err := c.Write(ctx, websocket.MessageBinary, []byte(`{"action":"sendPublic","message":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	if ce := closeStatusOf(ctx, t, c); ce.Code != websocket.StatusUnsupportedData {
		t.Errorf("closed with %v, want 1003 like API Gateway", ce)
	}
	if d := s.events.disconnectOf(ctx, t, id); d.RequestContext.DisconnectStatusCode != 1003 {
		t.Errorf("$disconnect status %d, want 1003", d.RequestContext.DisconnectStatusCode)
	}
	for _, ev := range s.events.all() {
		if ev.RequestContext.ConnectionID == id && ev.RequestContext.EventType == "MESSAGE" {
			t.Errorf("the binary frame was handed to route %s", ev.RequestContext.RouteKey)
		}
	}
}

// writeFrames sends msg as one message split into frames of step bytes.
func writeFrames(ctx context.Context, t *testing.T, c *websocket.Conn, msg string, step int) {
	t.Helper()
	w, err := c.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(msg); i += step {
		if _, err := w.Write([]byte(msg[i:min(i+step, len(msg))])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMaxConnectionDurationClosesBusyConnections(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	const maxAge = 300 * time.Millisecond
	s := start(t, echo, Config{MaxConnectionDuration: maxAge})
	opened := time.Now() // before the gateway's own clock starts
	c, id := s.dial(ctx, t, "")
	var ce websocket.CloseError
	for {
		if err := c.Write(ctx, websocket.MessageText, []byte("busy")); err != nil {
			ce = closeStatusOf(ctx, t, c)
			break
		}
		if _, _, err := c.Read(ctx); err != nil {
			if !errors.As(err, &ce) {
				t.Fatalf("connection ended without a close frame: %v", err)
			}
			break
		}
	}
	if ce.Code != websocket.StatusGoingAway || time.Since(opened) < maxAge {
		t.Errorf("closed with %v after %s, want 1001 after %s", ce, time.Since(opened), maxAge)
	}
	if d := s.events.disconnectOf(ctx, t, id); d.RequestContext.DisconnectStatusCode != 1001 {
		t.Errorf("$disconnect status %d, want 1001", d.RequestContext.DisconnectStatusCode)
	}
}

func TestVanishedClientGetsDisconnect(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	var dropped sync.Map
	s := start(t, echo, Config{Faults: Faults{DropDisconnect: func(id string) bool { _, ok := dropped.Load(id); return ok }}})

	c, id := s.dial(ctx, t, "")
	_ = c.CloseNow() // no close frame: the TCP connection just ends
	d := s.events.disconnectOf(ctx, t, id)
	if d.RequestContext.DisconnectStatusCode != 1006 {
		t.Errorf("$disconnect status %d, want 1006", d.RequestContext.DisconnectStatusCode)
	}

	// With the DropDisconnect fault the connection ends silently: it is
	// gone from the list, and no $disconnect ever comes.
	c, id = s.dial(ctx, t, "")
	dropped.Store(id, true)
	_ = c.CloseNow()
	for slices.Contains(adminList(ctx, t, s), id) {
		time.Sleep(5 * time.Millisecond) // polling the list; nothing else signals the end
	}
	other, otherID := s.dial(ctx, t, "")
	_ = other.Close(websocket.StatusNormalClosure, "")
	s.events.disconnectOf(ctx, t, otherID) // events after the drop have run
	for _, ev := range s.events.all() {
		if ev.RequestContext.RouteKey == "$disconnect" && ev.RequestContext.ConnectionID == id {
			t.Errorf("$disconnect delivered for %s despite DropDisconnect", id)
		}
	}
}

func TestAdminClosesEveryConnection(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, echo, Config{})
	var clients []*websocket.Conn
	for range 3 {
		c, _ := s.dial(ctx, t, "")
		clients = append(clients, c)
	}
	if got := adminList(ctx, t, s); len(got) != 3 {
		t.Fatalf("GET /_local/connections lists %v, want 3 ids", got)
	}
	closed := awaitClose(ctx, t, clients...)
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, s.base+"/_local/connections", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// DELETE answers after every $disconnect ran.
	var disconnects int
	for _, ev := range s.events.all() {
		if ev.RequestContext.RouteKey == "$disconnect" {
			disconnects++
			if ev.RequestContext.DisconnectStatusCode != 1001 {
				t.Errorf("$disconnect status %d, want 1001", ev.RequestContext.DisconnectStatusCode)
			}
		}
	}
	if disconnects != 3 {
		t.Errorf("%d $disconnect events when DELETE answered, want 3", disconnects)
	}
	for i, ce := range closed() {
		if ce.Code != websocket.StatusGoingAway || ce.Reason != "Going Away" {
			t.Errorf("client %d closed with %v, want 1001 Going Away", i, ce)
		}
	}
	if got := adminList(ctx, t, s); len(got) != 0 {
		t.Errorf("after DELETE the list is %v", got)
	}
}

func adminList(ctx context.Context, t *testing.T, s *stack) []string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/_local/connections", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Connections []string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Connections
}

func TestShutdownDisconnectsEveryone(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, echo, Config{})
	a, idA := s.dial(ctx, t, "")
	b, idB := s.dial(ctx, t, "")
	closed := awaitClose(ctx, t, a, b)
	if err := s.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Shutdown returns after $disconnect ran for both.
	got := map[string]int64{}
	for _, ev := range s.events.all() {
		if ev.RequestContext.RouteKey == "$disconnect" {
			got[ev.RequestContext.ConnectionID] = ev.RequestContext.DisconnectStatusCode
		}
	}
	if got[idA] != 1001 || got[idB] != 1001 || len(got) != 2 {
		t.Errorf("$disconnect after shutdown: %v, want 1001 for both", got)
	}
	for _, ce := range closed() {
		if ce.Code != websocket.StatusGoingAway {
			t.Errorf("client closed with %v, want 1001", ce)
		}
	}
	_, resp, err := websocket.Dial(ctx, s.wsURL, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a new connection during shutdown: %v %v, want 503", err, resp)
	}
}

func TestPageAndRuntimeConfig(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>built frontend</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	builtin := start(t, echo, Config{Stage: "dev"})
	built := start(t, echo, Config{StaticDir: dir})
	cases := []struct {
		name, url, want string
	}{
		{"config.json points at the stage", builtin.base + "/config.json", `{"wsUrl":"` + builtin.wsURL + `"}`},
		{"the built-in page says how to connect", builtin.base + "/", "websocat"},
		{"the built frontend is served", built.base + "/", "built frontend"},
		{"config.json next to the built frontend", built.base + "/config.json", `"wsUrl":"ws://127.0.0.1:`},
		{"a plain GET of the endpoint explains itself", builtin.wsURL, "WebSocket endpoint"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.Replace(tc.url, "ws://", "http://", 1), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %s answered %d %q, want it to contain %q", tc.name, tc.url, resp.StatusCode, body, tc.want)
		}
	}
}

func TestConnectLogLineHidesQueryValuesThatMayBeSecret(t *testing.T) {
	t.Parallel()
	log := &testkit.Buffer{}
	s := start(t, echo, Config{Log: log})
	ctx := testkit.Context(t, 20*time.Second)
	s.dial(ctx, t, "?name=Alice&room=lobby&resume=s3cr3t-token")
	// The line is written once the handshake completes on the server side,
	// which may be just after the client's dial returns.
	var line string
	for line = log.String(); !strings.Contains(line, "$connect") && ctx.Err() == nil; line = log.String() {
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(line, "name=Alice") || !strings.Contains(line, "room=lobby") {
		t.Fatalf("log %q does not show who connected where", line)
	}
	if strings.Contains(line, "s3cr3t-token") || !strings.Contains(line, "resume=***") {
		t.Fatalf("log %q shows the resume token", line)
	}
}
