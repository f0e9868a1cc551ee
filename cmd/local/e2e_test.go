package main

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/gateway"
)

// TestChatEndToEnd drives the real chat handler and dynalite through the
// gateway with real WebSocket clients: Alice, Bob and Carol in the lobby,
// Dave in the den.
func TestChatEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 60*time.Second)
	// Serial frames: quiet's ping is then answered only after the sender's
	// previous action (its whole broadcast) is over, which is what makes
	// "received nothing" a proof. API Gateway runs frames concurrently; the
	// races that exposes are tested in lambda/chat and the stress test.
	s := startTestStack(t, gateway.Config{SerialFrames: true})

	alice, st := s.join(ctx, t, "Alice", "lobby")
	must(t, st.str("you") == "Alice" && slices.Equal(st.strs("members"), []string{"Alice"}), "Alice's state: %v", st)

	bob, _ := s.join(ctx, t, "Bob", "lobby")
	must(t, alice.expect(ctx, "joined").str("name") == "Bob", "Alice is told Bob joined")
	carol, st := s.join(ctx, t, "Carol", "lobby")
	must(t, slices.Equal(st.strs("members"), []string{"Alice", "Bob", "Carol"}), "Carol's state lists the room: %v", st)
	for _, c := range []*client{alice, bob} {
		must(t, c.expect(ctx, "joined").str("name") == "Carol", "%s is told Carol joined", c.name)
	}
	lobby := []*client{alice, bob, carol}

	dave, st := s.join(ctx, t, "Dave", "den")
	must(t, slices.Equal(st.strs("members"), []string{"Dave"}), "Dave is alone in the den: %v", st)
	for _, c := range lobby {
		c.quiet(ctx) // nobody in the lobby hears of the den
	}

	t.Run("a taken name joins as a guest with a warning", func(t *testing.T) {
		twin, st := s.join(ctx, t, "alice", "lobby")
		warning, _ := st["warning"].(map[string]any)
		must(t, warning["code"] == "name_taken" && strings.HasPrefix(st.str("you"), "guest-"), "state %v", st)
		_ = twin.ws.Close(websocket.StatusNormalClosure, "")
		for _, c := range lobby {
			must(t, c.expect(ctx, "joined").str("name") == st.str("you"), "%s is told the guest joined", c.name)
			must(t, c.expect(ctx, "left").str("name") == st.str("you"), "%s is told the guest left", c.name)
		}
	})

	t.Run("ping is answered with pong", func(t *testing.T) {
		alice.send(ctx, map[string]any{"action": "ping"})
		must(t, alice.expect(ctx, "pong")["ts"] != nil, "pong has a ts")
	})

	t.Run("renames reach the room; conflicts reach only the sender", func(t *testing.T) {
		bob.send(ctx, map[string]any{"action": "setName", "name": "ALICE", "ref": "r1"})
		e := bob.expect(ctx, "error")
		must(t, e.str("code") == "name_taken" && e.str("ref") == "r1", "Bob's conflict: %v", e)
		bob.send(ctx, map[string]any{"action": "setName", "name": "Robert", "ref": "r2"})
		for _, c := range lobby {
			r := c.expect(ctx, "renamed")
			must(t, r.str("oldName") == "Bob" && r.str("name") == "Robert", "%s sees %v", c.name, r)
			must(t, (r.str("ref") == "r2") == (c == bob), "%s sees ref %q", c.name, r.str("ref"))
		}
		bob.name = "Robert"
		dave.quiet(ctx)
	})

	t.Run("public messages reach exactly the room", func(t *testing.T) {
		alice.send(ctx, map[string]any{"action": "sendPublic", "message": "hi all", "ref": "p1"})
		for _, c := range lobby {
			p := c.expect(ctx, "public")
			must(t, p.str("from") == "Alice" && p.str("message") == "hi all" && p.str("room") == "lobby", "%s got %v", c.name, p)
			must(t, (p.str("ref") == "p1") == (c == alice), "%s sees ref %q", c.name, p.str("ref"))
		}
		alice.quiet(ctx) // the broadcast is over once Alice's next action is answered
		dave.quiet(ctx)
	})

	t.Run("private messages reach exactly the recipients and the sender", func(t *testing.T) {
		alice.send(ctx, map[string]any{"action": "sendPrivate", "to": []string{"carol"}, "message": "psst"})
		for _, c := range []*client{alice, carol} {
			p := c.expect(ctx, "private")
			must(t, p.str("from") == "Alice" && p.str("message") == "psst" && slices.Equal(p.strs("to"), []string{"Carol"}), "%s got %v", c.name, p)
		}
		alice.quiet(ctx)
		bob.quiet(ctx)
		dave.quiet(ctx)

		alice.send(ctx, map[string]any{"action": "sendPrivate", "to": []string{"Zed"}, "message": "hello?"})
		e := alice.expect(ctx, "error")
		must(t, e.str("code") == "recipients_unknown" && slices.Equal(e.strs("unknown"), []string{"Zed"}), "unknown recipient: %v", e)
		carol.quiet(ctx)
	})

	t.Run("bad frames get errors and the connection stays usable", func(t *testing.T) {
		carol.sendRaw(ctx, "not json")
		must(t, carol.expect(ctx, "error").str("code") == "bad_json", "bad_json")
		carol.sendRaw(ctx, `{"action":"dance"}`)
		must(t, carol.expect(ctx, "error").str("code") == "unknown_action", "unknown_action")
		carol.quiet(ctx)
	})

	t.Run("state has members and history", func(t *testing.T) {
		before := s.connectionIDs(ctx, t)
		eve, st := s.join(ctx, t, "Eve", "lobby")
		must(t, slices.Equal(st.strs("members"), []string{"Alice", "Carol", "Eve", "Robert"}), "members %v", st["members"])
		history, _ := st["history"].([]any)
		found := false
		for _, h := range history {
			m := frame(h.(map[string]any))
			found = found || (m.str("from") == "Alice" && m.str("message") == "hi all")
		}
		must(t, found, "history %v lacks Alice's message", history)
		for _, c := range lobby {
			c.expect(ctx, "joined")
		}

		// Eve vanishes and API Gateway never says so: the next broadcast
		// finds her gone (410) and tells the room.
		eveID := newID(t, before, s.connectionIDs(ctx, t))
		s.dropped.Store(eveID, true)
		_ = eve.ws.CloseNow()
		s.waitGone(ctx, t, eveID)
		alice.send(ctx, map[string]any{"action": "sendPublic", "message": "anyone?"})
		for _, c := range lobby {
			c.expect(ctx, "public")
			m := c.expect(ctx, "members")
			must(t, slices.Equal(m.strs("gone"), []string{"Eve"}) && !slices.Contains(m.strs("members"), "Eve"), "%s got %v", c.name, m)
		}
	})

	t.Run("a closed connection is announced as left", func(t *testing.T) {
		_ = carol.ws.Close(websocket.StatusNormalClosure, "bye")
		for _, c := range []*client{alice, bob} {
			must(t, c.expect(ctx, "left").str("name") == "Carol", "%s is told Carol left", c.name)
		}
	})

	t.Run("stopping closes every connection with 1001 and stops dynalite", func(t *testing.T) {
		codes := make(chan websocket.StatusCode, 3)
		for _, c := range []*client{alice, bob, dave} {
			go func() { codes <- c.closeStatus(ctx) }()
		}
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			must(t, <-codes == websocket.StatusGoingAway, "a client was closed without 1001")
		}
		select {
		case <-s.Dynalite.Done():
		default:
			t.Error("dynalite still runs after stop")
		}
	})
}

// TestGatewayWithChat checks the gateway's own behaviour in front of the
// real chat handler: refusal, limits, idle timeout, the management API.
func TestGatewayWithChat(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 60*time.Second)
	// Long enough that no client of the other subtests, silent between its
	// join and its checks, is closed for idling on a busy machine.
	const idle = 3 * time.Second
	s := startTestStack(t, gateway.Config{IdleTimeout: idle})

	t.Run("an invalid room refuses the handshake with 400", func(t *testing.T) {
		_, resp, err := websocket.Dial(ctx, s.URL+"?room=no%20spaces", nil)
		must(t, err != nil && resp != nil && resp.StatusCode == http.StatusBadRequest, "dial: %v %v", err, resp)
	})

	t.Run("a frame over 32 KB closes with 1009", func(t *testing.T) {
		c, _ := s.join(ctx, t, "Big", "limits")
		_ = c.ws.Write(ctx, websocket.MessageText, []byte(`{"action":"sendPublic","message":"`+strings.Repeat("x", 33<<10)+`"}`))
		must(t, c.closeStatus(ctx) == websocket.StatusMessageTooBig, "want 1009")
	})

	t.Run("a silent client is closed after the idle timeout", func(t *testing.T) {
		began := time.Now() // before the gateway's idle timer starts, so a close at the timeout is at least idle later
		c, _ := s.join(ctx, t, "Quiet", "idle")
		must(t, c.closeStatus(ctx) == websocket.StatusGoingAway, "want 1001")
		must(t, time.Since(began) >= idle, "closed after %s, idle timeout %s", time.Since(began), idle)
	})

	t.Run("the management API: POST, GET, DELETE and 410", func(t *testing.T) {
		before := s.connectionIDs(ctx, t)
		ann, _ := s.join(ctx, t, "Ann", "mgmt")
		id := newID(t, before, s.connectionIDs(ctx, t))
		ben, _ := s.join(ctx, t, "Ben", "mgmt")
		ann.expect(ctx, "joined")
		api := apigatewaymanagementapi.NewFromConfig(local.AWSConfig(), func(o *apigatewaymanagementapi.Options) {
			o.BaseEndpoint = aws.String("http://" + s.Addr + "/" + gateway.DefaultStage)
		})
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte(`{"type":"pong","ts":1}`)})
		must(t, err == nil, "PostToConnection: %v", err)
		ann.expect(ctx, "pong")

		info, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
		must(t, err == nil && info.Identity != nil && aws.ToString(info.Identity.SourceIp) == "127.0.0.1", "GetConnection: %v %+v", err, info)

		_, err = api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
		must(t, err == nil, "DeleteConnection: %v", err)
		must(t, ann.closeStatus(ctx) == websocket.StatusNormalClosure, "Ann's connection closed")
		must(t, ben.expect(ctx, "left").str("name") == "Ann", "Ben is told Ann left")

		_, err = api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("{}")})
		var gone *types.GoneException
		must(t, errors.As(err, &gone), "POST to a deleted connection: %v, want GoneException", err)
	})
}

// TestRunServesUntilCancelled runs the command itself on a free port.
func TestRunServesUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 60*time.Second)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &lineWriter{lines: make(chan string, 16)}
	done := make(chan error, 1)
	env := map[string]string{"PORT": "0"}
	go func() {
		done <- run(runCtx, []string{"-static", t.TempDir() + "/missing", "-stage", "dev"}, func(k string) string { return env[k] }, out, testWriter{t})
	}()
	var wsURL string
	for wsURL == "" {
		select {
		case line := <-out.lines:
			if f := strings.Fields(line); len(f) > 1 && f[0] == "WebSocket" {
				wsURL = f[1]
			}
		case err := <-done:
			t.Fatalf("run ended early: %v", err)
		case <-ctx.Done():
			t.Fatal("no WebSocket URL printed")
		}
	}
	must(t, strings.HasPrefix(wsURL, "ws://127.0.0.1:") && strings.HasSuffix(wsURL, "/dev"), "printed %q", wsURL)
	c, _, err := websocket.Dial(ctx, wsURL+"?name=Zoe", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	zoe := &client{t: t, ws: c, name: "Zoe"}
	zoe.send(ctx, map[string]any{"action": "hello"})
	must(t, zoe.expect(ctx, "state").str("room") == "lobby", "default room")

	cancel()
	must(t, zoe.closeStatus(ctx) == websocket.StatusGoingAway, "Zoe closed with 1001 on stop")
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

// lineWriter hands each written line to a channel.
type lineWriter struct {
	lines   chan string
	partial string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.partial += string(p)
	for {
		i := strings.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case w.lines <- w.partial[:i]:
		default:
		}
		w.partial = w.partial[i+1:]
	}
}
