package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/gateway"
)

// testStack is a whole local stack (its own dynalite included) for one test.
type testStack struct {
	*localtest.Stack
	dropped sync.Map // connection ids whose $disconnect is skipped
}

// startTestStack starts it with gw; with envs, the function runs in
// execution environments.
func startTestStack(t *testing.T, gw gateway.Config, envs ...*local.Environments) *testStack {
	t.Helper()
	ts := &testStack{}
	gw.Faults.DropDisconnect = func(id string) bool { _, ok := ts.dropped.Load(id); return ok }
	o := local.Options{
		Gateway: gw,
		// StaleGrace spares brand-new connections from 410 clean-up; the
		// tests vanish clients seconds after they joined. (Not with
		// environments: the bootstrap takes its options from its
		// variables only.)
		Chat: chat.Options{StaleGrace: time.Millisecond},
		Log:  testWriter{t},
	}
	if len(envs) > 0 {
		o.Environments = envs[0]
	}
	ts.Stack = localtest.Start(t, o)
	return ts
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// frame is one JSON frame the server sent.
type frame map[string]any

func (f frame) str(k string) string { s, _ := f[k].(string); return s }

func (f frame) num(k string) float64 { n, _ := f[k].(float64); return n }

func (f frame) strs(k string) []string {
	var out []string
	for _, v := range f[k].([]any) {
		out = append(out, v.(string))
	}
	return out
}

// client is a chat client: a real WebSocket client speaking the protocol.
type client struct {
	t    *testing.T
	ws   *websocket.Conn
	name string
}

// settle waits until the stack's DynamoDB shows every write so far in the
// room index and to eventually consistent reads (ddbproxy.Proxy.Settle).
// The stack answers as AWS does, and a broadcast reaches the members the
// room index lists, which the design lets lag behind a join
// (docs/design.md, the Members read: a page's settle hello repairs it;
// these clients have none), and a state lists the names the index shows
// (a rename just made may still show the old one). So join waits for the
// index before (the newcomer's state lists the room as it is) and after
// (it is told what others do, and they what it does), the faults staying
// on for what follows.
func (s *testStack) settle(ctx context.Context, t *testing.T) {
	t.Helper()
	if err := s.DynamoDBProxy.Settle(ctx); err != nil {
		t.Fatalf("settle the room index: %v", err)
	}
}

// tokens returns a function that signs user in with the stack's local
// issuer and returns its ID token, failing the test if it cannot.
func (s *testStack) tokens(ctx context.Context, t *testing.T) func(user string) string {
	return func(user string) string {
		t.Helper()
		tok, err := s.Token(ctx, user, true)
		if err != nil {
			t.Fatalf("%s's token: %v", user, err)
		}
		return tok
	}
}

// join connects to room as name, sends hello, returns the state frame
// once the room index has caught up with the join (settle, before and
// after).
func (s *testStack) join(ctx context.Context, t *testing.T, name, room string) (*client, frame) {
	t.Helper()
	s.settle(ctx, t)
	u := s.URL + "?" + url.Values{"name": {name}, "room": {room}}.Encode()
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatalf("%s joins %s: %v", name, room, err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	c := &client{t: t, ws: ws, name: name}
	c.send(ctx, map[string]any{"action": "hello"})
	st := c.expect(ctx, "state")
	s.settle(ctx, t)
	return c, st
}

func (c *client) send(ctx context.Context, v any) {
	c.t.Helper()
	data, _ := json.Marshal(v)
	c.sendRaw(ctx, string(data))
}

func (c *client) sendRaw(ctx context.Context, data string) {
	c.t.Helper()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(data)); err != nil {
		c.t.Fatalf("%s sends %s: %v", c.name, data, err)
	}
}

func (c *client) next(ctx context.Context) frame {
	c.t.Helper()
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("%s reads: %v", c.name, err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		c.t.Fatalf("%s got a frame that is not JSON: %q", c.name, data)
	}
	return f
}

// expect reads the next frame, which must have the given type.
func (c *client) expect(ctx context.Context, typ string) frame {
	c.t.Helper()
	f := c.next(ctx)
	if f.str("type") != typ {
		c.t.Fatalf("%s got %v, want a %q frame", c.name, f, typ)
	}
	return f
}

// quiet proves the client received nothing it has not read yet: it pings,
// and the pong must be the next frame. Frames to one connection arrive in
// order, so whatever was sent to it before the ping would come first.
func (c *client) quiet(ctx context.Context) {
	c.t.Helper()
	c.send(ctx, map[string]any{"action": "ping"})
	if f := c.next(ctx); f.str("type") != "pong" {
		c.t.Fatalf("%s received %v, want nothing", c.name, f)
	}
}

func (c *client) closeStatus(ctx context.Context) websocket.StatusCode {
	c.t.Helper()
	for {
		_, _, err := c.ws.Read(ctx)
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

// connectionIDs lists the gateway's open connections (admin API).
func (s *testStack) connectionIDs(ctx context.Context, t *testing.T) []string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.PageURL+"_local/connections", nil)
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

// newID returns the one id in after that is not in before.
func newID(t *testing.T, before, after []string) string {
	t.Helper()
	var added []string
	for _, id := range after {
		if !slices.Contains(before, id) {
			added = append(added, id)
		}
	}
	if len(added) != 1 {
		t.Fatalf("want exactly one new connection, got %v", added)
	}
	return added[0]
}

// quiet waits until no handler invocation is running (a $disconnect the
// gateway started after a close included), then for the room index: what a
// client does next meets the stack after everything before it.
func (s *testStack) quiet(ctx context.Context, t *testing.T) {
	t.Helper()
	for s.Running() > 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d invocations still running: %v", s.Running(), ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	s.settle(ctx, t)
}

// waitGone waits until the gateway no longer lists id.
func (s *testStack) waitGone(ctx context.Context, t *testing.T, id string) {
	t.Helper()
	for slices.Contains(s.connectionIDs(ctx, t), id) {
		select {
		case <-ctx.Done():
			t.Fatalf("connection %s still open: %v", id, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func must(t *testing.T, cond bool, format string, args ...any) {
	t.Helper()
	if !cond {
		t.Errorf(format, args...)
	}
}
