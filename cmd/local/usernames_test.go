package main

import (
	"slices"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local"
)

// TestAListedMemberCarriesHerUsername (issue 22, item 3), with real tokens
// through the local stack: a page that joins after alice renamed to Alicia
// has had no joined or renamed frame about her, only the state's list and
// the pages of the members action, both read from the room index. Each
// listed member carries her username there too, so the page shows
// "Alicia (@alice)" and never a bare "Alicia" anyone could be.
func TestAListedMemberCarriesHerUsername(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 90*time.Second)
	s := &testStack{Stack: localtest.Start(t, local.Options{
		Auth: contract.AuthCognito,
		Chat: chat.Options{StaleGrace: time.Millisecond},
		Log:  testWriter{t},
	})}
	token := s.tokens(ctx, t)
	alice, _ := s.joinWith(ctx, t, "", "lobby", token("alice"))
	alice.send(ctx, map[string]any{"action": "setName", "name": "Alicia"})
	alice.waitFor(ctx, "renamed")
	s.quiet(ctx, t) // the room index shows the rename

	bob, st := s.joinWith(ctx, t, "", "lobby", token("bob"))
	// The usernames at the index of their names ("" where the name is the
	// username: a page shows none beside it); the names stay as they were,
	// for older pages.
	usernames, _ := st["usernames"].([]any)
	must(t, slices.Equal(st.strs("members"), []string{"Alicia", "bob"}) && len(usernames) == 2 &&
		usernames[0] == "alice" && usernames[1] == "",
		"bob's state lists members %v with usernames %v, want [Alicia bob] with [alice \"\"]", st["members"], st["usernames"])

	bob.send(ctx, map[string]any{"action": "members"})
	page := bob.waitFor(ctx, "memberPage")
	listed := map[string]string{}
	for _, m := range page.list("members") {
		listed[m.str("name")] = m.str("username")
	}
	_, bobListed := listed["bob"]
	must(t, len(listed) == 2 && listed["Alicia"] == "alice" && bobListed && listed["bob"] == "",
		"bob's memberPage lists %v, want Alicia with username alice and bob without one (his name is his username)", page["members"])
}

// list is a field's list of objects.
func (f frame) list(k string) []frame {
	var out []frame
	items, _ := f[k].([]any)
	for _, v := range items {
		if m, ok := v.(map[string]any); ok {
			out = append(out, frame(m))
		}
	}
	return out
}
