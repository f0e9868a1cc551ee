package chat_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// mentioned is a public frame's mentions, as a page reads them.
type mentioned struct {
	Type     string `json:"type"`
	Message  string `json:"message"`
	Mentions []struct {
		Name    string `json:"name"`
		Account string `json:"account"`
	} `json:"mentions"`
	History []mentioned `json:"history"`
}

func (m mentioned) String() string {
	var parts []string
	for _, x := range m.Mentions {
		parts = append(parts, x.Name+"/"+x.Account)
	}
	return strings.Join(parts, ",")
}

// publicsOf decodes the public frames of id's inbox.
func publicsOf(t *testing.T, h *chattest.Harness, id string) []mentioned {
	t.Helper()
	var out []mentioned
	for _, raw := range h.GW.Take(id) {
		var m mentioned
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("frame %s: %v", raw, err)
		}
		if m.Type == contract.FramePublic {
			out = append(out, m)
		}
	}
	return out
}

// sayTo sends a public message from id and returns what to received of it.
func sayTo(t *testing.T, h *chattest.Harness, from, to, body string) mentioned {
	t.Helper()
	h.GW.Take(to)
	if resp := h.Send(from, body); resp != "" {
		t.Fatalf("%s was answered %s", body, resp)
	}
	got := publicsOf(t, h, to)
	if len(got) != 1 {
		t.Fatalf("%s: got %d public frames, want 1", body, len(got))
	}
	return got[0]
}

// With sign-in, "@bob" marks the message for bob's account, in the live frame
// and in the history a reload reads; "@dave" (an account, but not in the room)
// and "@nobody" are not marked.
func TestAMentionOfAPresentNameIsMarkedWithItsAccountAndAnAbsentOneIsNot(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "mention-signed"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.JoinAs("dave", "elsewhere")
	h.Settle()

	got := sayTo(t, h, alice, bob, `{"action":"sendPublic","message":"@bob look, and @dave and @nobody too"}`)
	if got.String() != "bob/bob" {
		t.Errorf("bob got mentions %q, want bob/bob only", got)
	}
	var st mentioned
	if err := json.Unmarshal([]byte(h.Send(bob, `{"action":"hello"}`)), &st); err != nil || len(st.History) == 0 {
		t.Fatalf("state: %v %+v", err, st)
	}
	if last := st.History[len(st.History)-1]; last.String() != "bob/bob" {
		t.Errorf("history gives mentions %q, want bob/bob", last)
	}
	var page mentioned
	if err := json.Unmarshal([]byte(h.Send(bob, `{"action":"history"}`)), &page); err != nil || len(page.History) == 0 {
		t.Fatalf("history page: %v %+v", err, page)
	}
	if last := page.History[len(page.History)-1]; last.String() != "bob/bob" {
		t.Errorf("a history page gives mentions %q, want bob/bob", last)
	}

	if got := sayTo(t, h, alice, bob, `{"action":"sendPublic","message":"no one here, mail me at a@b.c or @dave"}`); len(got.Mentions) != 0 {
		t.Errorf("a message without a present name is marked %q", got)
	}
}

// A client cannot say whom it mentioned: a mentions field it sends is ignored,
// and only the server's reading of the text counts.
func TestAMentionsFieldForgedByTheClientIsIgnored(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "mention-forged"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	got := sayTo(t, h, alice, bob, `{"action":"sendPublic","message":"hi all","mentions":[{"name":"bob","account":"bob"}]}`)
	if len(got.Mentions) != 0 {
		t.Errorf("a forged mention was marked: %q", got)
	}
	got = sayTo(t, h, alice, bob, `{"action":"sendPublic","message":"hi @bob","mentions":[{"name":"carol","account":"carol"}]}`)
	if got.String() != "bob/bob" {
		t.Errorf("mentions %q, want the text's bob/bob only", got)
	}
}

// Without sign-in a mention is marked by the name its holder has in the room,
// as the holder spells it, and a name with a space is found; a name that
// nobody in the room holds is not marked.
func TestAMentionWithoutSignInIsMarkedByTheNameHeldInTheRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	const room = "mention-open"
	alice, bob := h.Join("Alice", room), h.Join("Mary Ann", room)
	h.Join("Carol", "elsewhere")
	h.Settle()
	got := sayTo(t, h, alice, bob, `{"action":"sendPublic","message":"@mary ann, @Carol: lunch?"}`)
	if got.String() != "Mary Ann/" {
		t.Errorf("mentions %q, want Mary Ann/ only", got)
	}
}

// However many @ a message holds, resolving them reads at most
// 2*MentionLookupsMax items and marks at most MentionsMax people.
func TestMentionsReadABoundedNumberOfItems(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "mention-bound"
	alice := h.JoinAs("alice", room)
	var names []string
	for i := range contract.MentionsMax + 2 {
		name := fmt.Sprintf("m%d", i)
		h.JoinAs(name, room)
		names = append(names, "@"+name)
	}
	bob := h.JoinAs("bob", room)
	h.Settle()
	var spam strings.Builder
	for i := range 40 {
		fmt.Fprintf(&spam, "@n%d b c d ", i)
	}
	msg := spam.String() + strings.Join(names, " ")
	before := h.DynamoDB.Counts()["GetItem"]
	got := sayTo(t, h, alice, bob, fmt.Sprintf(`{"action":"sendPublic","message":%q}`, msg))
	reads := h.DynamoDB.Counts()["GetItem"] - before
	if reads > 2*contract.MentionLookupsMax {
		t.Errorf("a message of many @ made %d GetItems, want at most %d", reads, 2*contract.MentionLookupsMax)
	}
	if len(got.Mentions) > contract.MentionsMax {
		t.Errorf("%d mentions marked, want at most %d", len(got.Mentions), contract.MentionsMax)
	}
	got = sayTo(t, h, alice, bob, fmt.Sprintf(`{"action":"sendPublic","message":%q}`, strings.Join(names, " ")))
	if len(got.Mentions) != contract.MentionsMax {
		t.Errorf("%d present names marked %q, want the first %d", len(got.Mentions), got, contract.MentionsMax)
	}
}

// With both "Mary" and "Mary Ann" in the room, "@Mary Ann" marks Mary Ann, the
// longest name held, and "@Mary, hi" still marks Mary: with and without
// sign-in.
func TestTheLongestNameHeldIsTheOneMentioned(t *testing.T) {
	t.Parallel()
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprint("signed=", signed), func(t *testing.T) {
			t.Parallel()
			var opts []chattest.Option
			join := func(h *chattest.Harness, name, room string) string { return h.Join(name, room) }
			if signed {
				opts = append(opts, chattest.SignedIn)
				join = func(h *chattest.Harness, name, room string) string { return h.JoinAs(name, room) }
			}
			h := chattest.New(t, opts...)
			const room = "mention-longest"
			alice := join(h, "alice", room)
			join(h, "Mary", room)
			reader := join(h, "Mary Ann", room)
			h.Settle()
			for _, c := range []struct{ text, want string }{
				{"@Mary Ann can you look", "Mary Ann"},
				{"@mary ann, lunch?", "Mary Ann"},
				{"@Mary, hi", "Mary"},
				{"@Mary and @Mary Ann both", "Mary,Mary Ann"},
				{"@Mary Ann hi @Mary Ann again", "Mary Ann"},
			} {
				got := sayTo(t, h, alice, reader, fmt.Sprintf(`{"action":"sendPublic","message":%q}`, c.text))
				var names []string
				for _, m := range got.Mentions {
					names = append(names, m.Name)
				}
				if strings.Join(names, ",") != c.want {
					t.Errorf("%q marks %q, want %q", c.text, strings.Join(names, ","), c.want)
				}
			}
		})
	}
}
