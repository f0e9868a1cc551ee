package chat_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// presenceEntries is the part of a members frame that names people.
type presenceEntries struct {
	Type string `json:"type"`
	Left []struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	} `json:"left"`
}

// With sign-in, the frames that tell a room who came, who went and who is
// now called what carry the person's username beside the name, as messages
// do (TestMessagesCarryTheSendersUsernameBesideTheirName): a page shows
// "Alicia (@alice)" on the joined, left and renamed lines and in the member
// list, so mallory calling herself "alice" never looks like alice.
func TestPresenceFramesCarryTheUsernameBesideTheName(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	bob := h.JoinAs("bob", "")
	h.Settle() // the room index lists bob before the others join: their joined reach him
	carol, _ := h.ConnectAs("sub-carol", "carol", map[string]string{"name": "Caro"})
	alice, _ := h.ConnectAs("sub-alice", "alice", nil)
	h.Settle()
	joined := ofType(inbox(t, h, bob), "joined")
	if len(joined) != 2 || joined[0].Username != "carol" || joined[1].Name != "alice" || joined[1].Username != "alice" {
		t.Fatalf("bob got joined %+v; want carol's and alice's, each with the username", joined)
	}

	h.Send(alice, `{"action":"setName","name":"Alicia"}`)
	renamed := ofType(inbox(t, h, bob), "renamed")
	if len(renamed) != 1 || renamed[0].Name != "Alicia" || renamed[0].Username != "alice" {
		t.Fatalf("bob got renamed %+v; want alice's to Alicia with her username", renamed)
	}

	// Carol's network goes (no $disconnect): the next send finds her, and the
	// members frame's left entry names her username too.
	h.Advance(time.Minute) // past the stale grace
	h.GW.Vanish(carol)
	h.Send(bob, `{"action":"sendPublic","message":"anyone?"}`)
	var gone []string
	for _, raw := range h.GW.Take(bob) {
		var f presenceEntries
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		for _, l := range f.Left {
			if f.Type == "members" {
				gone = append(gone, l.Name+"@"+l.Username)
			}
		}
	}
	if len(gone) != 1 || gone[0] != "Caro@carol" {
		t.Fatalf("bob's members frames left %v; want Caro with carol's username", gone)
	}

	h.Disconnect(alice)
	left := ofType(inbox(t, h, bob), "left")
	if len(left) != 1 || left[0].Name != "Alicia" || left[0].Username != "alice" {
		t.Fatalf("bob got left %+v; want Alicia's with her username", left)
	}
}
