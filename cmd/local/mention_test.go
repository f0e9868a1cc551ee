package main

import (
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/gateway"
)

// mentionsOf lists a public frame's (or history entry's) mentions as
// "name/account".
func mentionsOf(v any) string {
	f, _ := v.(map[string]any)
	list, _ := f["mentions"].([]any)
	var out []string
	for _, m := range list {
		e, _ := m.(map[string]any)
		name, _ := e["name"].(string)
		account, _ := e["account"].(string)
		out = append(out, name+"/"+account)
	}
	return strings.Join(out, ",")
}

// TestAMentionIsMarkedThroughTheLocalStack: real WebSocket clients through
// the local stack (gateway, function, dynalite). Alice's "@Bob and @Carol"
// reaches Bob marked for Bob, who is in the room, and not for Carol, who is
// in another; the mentions field Alice sent claiming Carol is ignored; Bob's
// state after it reads the mark back from history.
func TestAMentionIsMarkedThroughTheLocalStack(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 60*time.Second)
	s := &testStack{Stack: localtest.Start(t, local.Options{Gateway: gateway.Config{SerialFrames: true}, Log: testWriter{t}})}
	alice, _ := s.join(ctx, t, "Alice", "mention")
	bob, _ := s.join(ctx, t, "Bob", "mention")
	s.join(ctx, t, "Carol", "elsewhere")

	const text = "@Bob and @Carol, look"
	alice.send(ctx, map[string]any{"action": "sendPublic", "message": text, "mentions": []any{map[string]any{"name": "Carol"}}})
	got := bob.waitFor(ctx, "public")
	must(t, got.str("message") == text, "Bob got %v", got)
	must(t, mentionsOf(map[string]any(got)) == "Bob/", "Bob's frame marks %q, want Bob/ only", mentionsOf(map[string]any(got)))
	echo := alice.waitFor(ctx, "public")
	must(t, mentionsOf(map[string]any(echo)) == "Bob/", "Alice's copy marks %q, want Bob/ only", mentionsOf(map[string]any(echo)))

	bob.send(ctx, map[string]any{"action": "hello"})
	st := bob.waitFor(ctx, "state")
	history, _ := st["history"].([]any)
	must(t, len(history) > 0, "Bob's state has no history: %v", st)
	must(t, mentionsOf(history[len(history)-1]) == "Bob/", "the history marks %q, want Bob/", mentionsOf(history[len(history)-1]))
}
