package faults

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/dynalite"
)

// TestDynamoDBOutageAnswersInternalAndServiceResumes: DynamoDB (dynalite)
// stops while clients are connected. Actions that need it are answered with
// the error frame "internal" (carrying the ref), nothing panics, the
// gateway never answers for a failed handler, and once DynamoDB is back on
// the same endpoint the chat works again without a restart.
func TestDynamoDBOutageAnswersInternalAndServiceResumes(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, scale(120*time.Second, 5*time.Minute))
	dir := t.TempDir()
	port := freePort(t)
	db := startDynalite(ctx, t, dynalite.Options{Dir: dir, Port: port})
	s := startStack(t, local.Options{DynamoDBEndpoint: db.Endpoint()})

	alice := dial(ctx, t, s, "Alice")
	alice.send(ctx, `{"action":"hello"}`)
	alice.expect(ctx, "state")
	// Bob's joined goes to the members the room index lists, which may
	// lag behind Alice's join as on AWS: the design promises nothing
	// until it has caught up.
	if err := s.DynamoDBProxy.Settle(ctx); err != nil {
		t.Fatalf("settle the room index: %v", err)
	}
	bob := dial(ctx, t, s, "Bob")
	alice.expect(ctx, "joined")
	if err := s.DynamoDBProxy.Settle(ctx); err != nil { // Alice's message reaches Bob through the index too
		t.Fatalf("settle the room index: %v", err)
	}

	for round := range scale(1, 3) {
		if err := db.Stop(); err != nil {
			t.Fatalf("stop dynalite: %v", err)
		}
		for _, action := range []string{`"sendPublic","message":"lost?"`, `"hello"`, `"setName","name":"Al"`} {
			alice.send(ctx, `{"action":`+action+`,"ref":"down"}`)
			e := alice.expect(ctx, "error")
			if e["code"] != "internal" || e["ref"] != "down" {
				t.Fatalf("round %d: during the outage %s was answered %v; want the internal error with its ref", round, action, e)
			}
		}
		alice.send(ctx, `{"action":"ping"}`) // needs no storage
		alice.expect(ctx, "pong")

		db = startDynalite(ctx, t, dynalite.Options{Dir: dir, Port: port})
		alice.send(ctx, `{"action":"sendPublic","message":"back","ref":"up"}`)
		if p := alice.expect(ctx, "public"); p["message"] != "back" || p["ref"] != "up" {
			t.Fatalf("round %d: after the outage Alice got %v", round, p)
		}
		if p := bob.expect(ctx, "public"); p["message"] != "back" {
			t.Fatalf("round %d: after the outage Bob got %v; the message sent during it must never arrive", round, p)
		}
	}
	alice.send(ctx, `{"action":"hello"}`)
	st := alice.expect(ctx, "state")
	if h, _ := st["history"].([]any); len(h) != scale(1, 3) {
		t.Errorf("history after the outages = %v; want only the messages sent while DynamoDB was up", st["history"])
	}

	log := s.Log()
	for _, bad := range []string{"panicked", "timed out"} {
		if strings.Contains(log, bad) {
			t.Errorf("the gateway log says %q", bad)
		}
	}
	internal := metricTotals(t, s.Metrics())[contract.MetricInternalErrors]
	if internal < float64(3*scale(1, 3)) {
		t.Errorf("InternalErrors = %v; want at least one per refused action", internal)
	}
	t.Logf("figures: %d outages; every action needing storage answered internal during each (InternalErrors %v); service back after each restart", scale(1, 3), internal)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startDynalite(ctx context.Context, t *testing.T, o dynalite.Options) *dynalite.Server {
	t.Helper()
	testkit.Slow(t, "a dynalite outage")
	o.Stderr = testWriter{t}
	var s *dynalite.Server
	var err error
	// The port was just freed; another process may hold it for a moment.
	for range 20 {
		if s, err = dynalite.Start(ctx, o); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("start dynalite on port %d: %v", o.Port, err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// wsClient is a chat client speaking raw frames.
type wsClient struct {
	t    *testing.T
	name string
	ws   *websocket.Conn
}

func dial(ctx context.Context, t *testing.T, s *localtest.Stack, name string) *wsClient {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, s.URL+"?"+url.Values{"name": {name}, "room": {"outage"}}.Encode(), nil)
	if err != nil {
		t.Fatalf("%s connects: %v", name, err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &wsClient{t: t, name: name, ws: ws}
}

func (c *wsClient) send(ctx context.Context, frame string) {
	c.t.Helper()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		c.t.Fatalf("%s sends %s: %v", c.name, frame, err)
	}
}

// expect reads the next frame, which must be of the given type.
func (c *wsClient) expect(ctx context.Context, typ string) map[string]any {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("%s waits for a %s frame: %v", c.name, typ, err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil || f["type"] != typ {
		c.t.Fatalf("%s got %s, want a %s frame", c.name, data, typ)
	}
	return f
}
