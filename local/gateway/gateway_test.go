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
	"strings"
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
