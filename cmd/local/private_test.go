package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/gateway"
)

// TestPrivateHistoryComesBackOnlyToItsParticipants: a page that reloads
// presents its resume token and gets its own private conversation of the
// room back in the state frame; a third person's reload, someone taking a
// participant's name after they left, someone asking for it while they are
// there, and a made-up token get none of it. Real WebSocket clients through
// the local stack (gateway, function, dynalite).
func TestPrivateHistoryComesBackOnlyToItsParticipants(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 60*time.Second)
	// The deployed StaleGrace (30 s), not startTestStack's 1 ms: nobody
	// vanishes here, and clients connect while others' $disconnects
	// broadcast. API Gateway answers 410 for a connection whose $connect is
	// still running; a 1 ms grace removed such a client as stale, and its
	// hello was answered not_connected (2 of 3 loaded runs).
	s := &testStack{Stack: localtest.Start(t, local.Options{Gateway: gateway.Config{SerialFrames: true}, Log: testWriter{t}})}
	const room = "priv"

	alice, aliceState := s.join(ctx, t, "Alice", room)
	bob, bobState := s.join(ctx, t, "Bob", room)
	carol, carolState := s.join(ctx, t, "Carol", room)
	say := func(from, to *client, text string) {
		t.Helper()
		from.send(ctx, map[string]any{"action": "sendPrivate", "to": []string{to.name}, "message": text})
		must(t, from.waitFor(ctx, "private").str("message") == text, "%s's echo of %q", from.name, text)
		must(t, to.waitFor(ctx, "private").str("message") == text, "%s receives %q", to.name, text)
	}
	say(alice, bob, "a-to-b")
	say(bob, alice, "b-to-a")
	say(carol, alice, "c-to-a")
	alice.send(ctx, map[string]any{"action": "sendPublic", "message": "hello all"})
	alice.waitFor(ctx, "public")

	// Each reloads: the same name, the resume token of its last state.
	reloaded := map[string]*client{}
	reload := func(c *client, st frame) frame {
		t.Helper()
		_ = c.ws.Close(websocket.StatusGoingAway, "reload")
		c2, again := s.dial(ctx, t, c.name, url.Values{"name": {c.name}, "room": {room}, "resume": {st.str("resume")}})
		must(t, again.str("you") == c.name, "%s reloads as %q", c.name, again.str("you"))
		must(t, slices.Equal(messages(again["history"]), []string{"hello all"}), "%s's public history %v", c.name, again["history"])
		reloaded[c.name] = c2
		return again
	}
	want := map[string][]string{
		"Alice": {"a-to-b", "b-to-a", "c-to-a"},
		"Bob":   {"a-to-b", "b-to-a"},
		"Carol": {"c-to-a"},
	}
	for _, r := range []struct {
		c  *client
		st frame
	}{{alice, aliceState}, {bob, bobState}, {carol, carolState}} {
		got := reload(r.c, r.st)
		must(t, slices.Equal(messages(got["private"]), want[r.c.name]), "%s's private history after a reload: %v, want %v",
			r.c.name, messages(got["private"]), want[r.c.name])
	}

	t.Run("asking for a participant's name while they are there gets none of it", func(t *testing.T) {
		_, st := s.dial(ctx, t, "Mallory", url.Values{"name": {"Alice"}, "room": {room}})
		must(t, st.str("you") != "Alice", "Mallory got Alice's name: %v", st)
		must(t, len(messages(st["private"])) == 0, "Mallory's private history: %v", st["private"])
	})

	t.Run("a made-up resume token gets none of it", func(t *testing.T) {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		_, st := s.dial(ctx, t, "Mallory", url.Values{"name": {"Mallory"}, "room": {room}, "resume": {base64.RawURLEncoding.EncodeToString(b)}})
		must(t, len(messages(st["private"])) == 0, "private history for a made-up token: %v", st["private"])
	})

	t.Run("taking a participant's name after they left gets none of it", func(t *testing.T) {
		// Bob leaves for good; once Alice is told, his name is free and Mallory asks for it.
		// Told by his own $disconnect's left, stamped after the close: the left of his
		// reload's $disconnect may still be unread on Alice's socket (a loaded CI run took
		// that one, and Mallory's $connect started with Bob's $disconnect, and got
		// name_taken).
		closed := float64(time.Now().UnixMilli())
		_ = reloaded["Bob"].ws.Close(websocket.StatusNormalClosure, "bye")
		for f := reloaded["Alice"].waitFor(ctx, "left"); f.str("name") != "Bob" || f.num("ts") < closed; f = reloaded["Alice"].waitFor(ctx, "left") {
		}
		// and once his $disconnect has finished: on a stack as slow as AWS can
		// be, it may still hold the name when Alice is told (CI saw Mallory's
		// $connect overtake a 441 ms $disconnect and get name_taken).
		s.quiet(ctx, t)
		_, st := s.dial(ctx, t, "Mallory", url.Values{"name": {"Bob"}, "room": {room}})
		must(t, st.str("you") == "Bob", "Mallory did not get the free name Bob: %v", st)
		must(t, len(messages(st["private"])) == 0, "Mallory, now called Bob, reads: %v", st["private"])
	})
}

// TestPrivateHistoryWithSignInFollowsTheAccount: with sign-in the account
// is the participant: Alice's second device (no resume token) gets her
// conversation, and Carol's account gets none of it even with Alice's name
// and Alice's resume token.
func TestPrivateHistoryWithSignInFollowsTheAccount(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 60*time.Second)
	s := &testStack{Stack: localtest.Start(t, local.Options{
		Auth: contract.AuthCognito, // the deployed StaleGrace: nobody vanishes (see above)
		Log:  testWriter{t},
	})}
	token := func(user string) string {
		tok, err := s.Token(ctx, user, false)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	const room = "signed"
	alice, aliceState := s.joinWith(ctx, t, "Alice", room, token("alice"))
	bob, _ := s.joinWith(ctx, t, "Bob", room, token("bob"))
	alice.send(ctx, map[string]any{"action": "sendPrivate", "to": []string{"Bob"}, "message": "for bob"})
	alice.waitFor(ctx, "private")
	bob.waitFor(ctx, "private")

	_, second := s.dial(ctx, t, "Alice's phone", url.Values{"name": {"Alice-phone"}, "room": {room}, contract.AuthQueryParam: {token("alice")}})
	must(t, slices.Equal(messages(second["private"]), []string{"for bob"}), "Alice's second device: %v", second["private"])

	_, carol := s.dial(ctx, t, "Carol", url.Values{"name": {"Alice"}, "room": {room}, "resume": {aliceState.str("resume")},
		contract.AuthQueryParam: {token("carol")}})
	must(t, len(messages(carol["private"])) == 0, "Carol's account with Alice's name and token reads: %v", carol["private"])
}

// dial connects with the given query, sends hello and returns the state
// once the room index has caught up (settle).
func (s *testStack) dial(ctx context.Context, t *testing.T, who string, q url.Values) (*client, frame) {
	t.Helper()
	s.settle(ctx, t)
	ws, _, err := websocket.Dial(ctx, s.URL+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatalf("%s connects: %v", who, err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	c := &client{t: t, ws: ws, name: q.Get("name")}
	c.send(ctx, map[string]any{"action": "hello"})
	st := c.waitFor(ctx, "state")
	s.settle(ctx, t)
	return c, st
}

// waitFor reads frames until one of the given type (presence frames of
// others come in between).
func (c *client) waitFor(ctx context.Context, typ string) frame {
	c.t.Helper()
	for {
		if f := c.next(ctx); f.str("type") == typ {
			return f
		}
	}
}

// messages lists the message texts of a state's history or private list.
func messages(v any) []string {
	list, _ := v.([]any)
	out := []string{}
	for _, e := range list {
		m, _ := e.(map[string]any)
		s, _ := m["message"].(string)
		out = append(out, s)
	}
	return out
}
