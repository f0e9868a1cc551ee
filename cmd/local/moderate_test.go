package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
)

// TestModeratorsAndSendersRemoveMessagesThroughTheLocalStack: real tokens
// of the local issuer, the real authorizer and real WebSocket clients. A
// person removes their own message and everyone is told; a member removing
// another's gets forbidden; mod (a member of the pool's moderators group)
// removes anyone's; a repeat is told again, the same; history gives the
// removal, not the text; a token whose cognito:groups was forged is refused.
func TestModeratorsAndSendersRemoveMessagesThroughTheLocalStack(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 90*time.Second)
	s := &testStack{Stack: localtest.Start(t, local.Options{Auth: contract.AuthCognito, Log: testWriter{t}})}
	token := func(user string) string {
		tok, err := s.Token(ctx, user, false)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	const room = "moderated"
	alice, aliceState := s.joinWith(ctx, t, "Alice", room, token("alice"))
	bob, _ := s.joinWith(ctx, t, "Bob", room, token("bob"))
	mod, modState := s.joinWith(ctx, t, "Mod", room, token("mod"))
	must(t, slices.Equal(roles(modState), []string{contract.RoleModerator}), "mod's roles %v", modState["roles"])
	must(t, len(roles(aliceState)) == 0, "alice's roles %v", aliceState["roles"])
	everyone := []*client{alice, bob, mod}

	say := func(from *client, text string) string {
		t.Helper()
		from.send(ctx, map[string]any{"action": "sendPublic", "message": text})
		var id string
		for _, c := range everyone {
			f := c.waitFor(ctx, "public")
			must(t, f.str("message") == text, "%s got %v, want %q", c.name, f, text)
			id = f.str("id")
		}
		return id
	}
	allTold := func(id, by, reason string) frame {
		t.Helper()
		var first frame
		for _, c := range everyone {
			f := c.waitFor(ctx, "removed")
			must(t, f.str("id") == id && f.str("by") == by && f.str("reason") == reason && f.str("room") == room,
				"%s was told %v, want %s removed by %s (%q)", c.name, f, id, by, reason)
			if first == nil {
				first = f
			}
			must(t, f["at"] == first["at"], "%s was told at %v, %s at %v", c.name, f["at"], everyone[0].name, first["at"])
		}
		return first
	}

	a1 := say(alice, "alice's first")
	alice.send(ctx, map[string]any{"action": "remove", "id": a1, "reason": "typo", "ref": "r1"})
	first := allTold(a1, "sender", "typo")

	b1 := say(bob, "bob's first")
	alice.send(ctx, map[string]any{"action": "remove", "id": b1, "ref": "r2"})
	e := alice.waitFor(ctx, "error")
	must(t, e.str("code") == contract.CodeForbidden && e.str("ref") == "r2", "alice removing bob's: %v", e)

	mod.send(ctx, map[string]any{"action": "remove", "id": b1, "reason": "spam"})
	allTold(b1, "moderator", "spam")

	alice.send(ctx, map[string]any{"action": "remove", "id": a1, "reason": "again"})
	again := allTold(a1, "sender", "typo")
	must(t, again["at"] == first["at"], "a repeat's at %v, the first's %v", again["at"], first["at"])

	kept := say(bob, "bob's second")
	_, carol := s.joinWith(ctx, t, "Carol", room, token("carol"))
	var got []string
	for _, e := range carol["history"].([]any) {
		m := e.(map[string]any)
		r, _ := m["removed"].(map[string]any)
		switch m["id"] {
		case a1, b1:
			must(t, m["message"] == "" && r != nil, "a removed message in history: %v", m)
			got = append(got, m["message"].(string)+"removed by "+r["by"].(string))
		case kept:
			must(t, m["message"] == "bob's second" && r == nil, "a standing message in history: %v", m)
			got = append(got, m["message"].(string))
		}
	}
	want := []string{"removed by sender", "removed by moderator", "bob's second"}
	must(t, slices.Equal(got, want), "history %q, want %q", got, want)

	t.Run("a forged cognito:groups is refused with the token", func(t *testing.T) {
		tok := token("alice")
		parts := strings.Split(tok, ".")
		c := claims(t, tok)
		c["cognito:groups"] = []string{contract.ModeratorsGroup}
		payload, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		must(t, s.handshake(ctx, t, forged) == http.StatusForbidden, "want 403")
	})
}

// roles are a state's roles (absent: none).
func roles(st frame) []string {
	if st["roles"] == nil {
		return nil
	}
	return st.strs("roles")
}
