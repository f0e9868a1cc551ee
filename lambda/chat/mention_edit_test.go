package chat_test

// Mentions follow edits: an edit's new text is read for `@`s as a sent
// message's is, so an edit that adds "@bob" marks bob, and one that takes it
// out unmarks him, in the edited frame and in history.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// markedIn returns the names marked in the edited frame of id's inbox, and
// in the history entry of msg a reload reads.
func markedIn(t *testing.T, h *chattest.Harness, id, msg string) (frame, history string) {
	t.Helper()
	names := func(m mentioned) string {
		var out []string
		for _, x := range m.Mentions {
			out = append(out, x.Name)
		}
		return strings.Join(out, ",")
	}
	frame = "no edited frame"
	for _, raw := range h.GW.Take(id) {
		var m mentioned
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("frame %s: %v", raw, err)
		}
		if m.Type == "edited" {
			frame = names(m)
		}
	}
	var st struct {
		History []struct {
			ID string `json:"id"`
			mentioned
		} `json:"history"`
	}
	if err := json.Unmarshal([]byte(h.Send(id, `{"action":"history"}`)), &st); err != nil {
		t.Fatal(err)
	}
	history = "not in history"
	for _, e := range st.History {
		if e.ID == msg {
			history = names(e.mentioned)
		}
	}
	return frame, history
}

func TestAnEditMarksTheMentionsOfItsNewText(t *testing.T) {
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
			const room = "mention-edit"
			alice, bob, carol := join(h, "alice", room), join(h, "bob", room), join(h, "carol", room)
			h.Settle()
			msg := say(t, h, alice, "see you at 5", bob, carol)
			for _, c := range []struct{ text, want string }{
				{"@bob see you at 6", "bob"},     // an edit adds a mention
				{"@carol see you at 7", "carol"}, // moves it: bob unmarked
				{"see you at 8", ""},             // takes it out
			} {
				editFrom(t, h, alice, msg, c.text)
				for _, reader := range []string{bob, carol} {
					if frame, history := markedIn(t, h, reader, msg); frame != c.want || history != c.want {
						t.Errorf("edited to %q: the edited frame marks %q and history %q, want %q", c.text, frame, history, c.want)
					}
				}
			}
		})
	}
}
