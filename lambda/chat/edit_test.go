package chat_test

// edit (issue 26 item 2): a sender changes the text of a message of theirs
// within 15 minutes; its readers are told with an edited frame, history
// gives the text as it is now, and the record keeps every version.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// editFrom sends edit and returns what the caller got.
func editFrom(t *testing.T, h *chattest.Harness, id, msg, text string) []frame {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"action": "edit", "id": msg, "message": text, "ref": "ed"})
	var fs []frame
	if resp := h.Send(id, string(body)); resp != "" {
		fs = append(fs, decode(t, []byte(resp)))
	}
	return append(fs, inbox(t, h, id)...)
}

// edits are the room's edited activity records, oldest first.
func edits(t *testing.T, h *chattest.Harness, room string) []activityRecord {
	t.Helper()
	var out []activityRecord
	for _, a := range activityLog(t, h, room) {
		if a.Kind == chat.KindEdited {
			out = append(out, a)
		}
	}
	return out
}

// whisper sends a private message from id to the names and returns its id.
func whisper(t *testing.T, h *chattest.Harness, id, text string, to ...string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"action": "sendPrivate", "to": to, "message": text})
	h.Send(id, string(body))
	for _, f := range inbox(t, h, id) {
		if f.Type == "private" && f.Message == text {
			return f.ID
		}
	}
	t.Fatalf("%q was not echoed", text)
	return ""
}

func TestASenderEditsTheirMessageAndTheRoomSeesTheNewTextMarkedEdited(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "ed-own"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	msg := say(t, h, bob, "see you at 5", alice)
	got := only(t, editFrom(t, h, bob, msg, "see you at 6"), "edited")
	if got.ID != msg || got.Message != "see you at 6" || got.Ref != "ed" || got.Edited == 0 || got.Room != room {
		t.Errorf("bob's edited frame %+v", got)
	}
	told := only(t, inbox(t, h, alice), "edited")
	if told.ID != msg || told.Message != "see you at 6" || told.Ref != "" || told.Edited != got.Edited {
		t.Errorf("alice was told %+v", told)
	}
	if e := historyEntry(t, h, alice, msg); e.Message != "see you at 6" || e.Edited != got.Edited {
		t.Errorf("the state's history gives %+v, want the new text marked edited", e)
	}
	resp := h.Send(alice, `{"action":"history"}`)
	page := decode(t, []byte(resp))
	found := false
	for _, e := range page.History {
		if e.ID == msg {
			found = true
			if e.Message != "see you at 6" || e.Edited != got.Edited {
				t.Errorf("the history action gives %+v", e)
			}
		}
	}
	if !found {
		t.Errorf("the history page %s lacks the message", resp)
	}
	// Edited again: the record keeps every version with its time.
	h.Advance(time.Second)
	again := only(t, editFrom(t, h, bob, msg, "see you at 7"), "edited")
	if again.Edited <= got.Edited {
		t.Errorf("the second edit's time %d is not after the first's %d", again.Edited, got.Edited)
	}
	inbox(t, h, alice)
	log := edits(t, h, room)
	if len(log) != 2 || log[0].MessageID != msg || log[0].Previous != "see you at 5" || log[0].Message != "see you at 6" ||
		log[0].TS != got.Edited || log[1].Previous != "see you at 6" || log[1].Message != "see you at 7" || log[1].TS != again.Edited ||
		log[0].FromAccount != "bob" {
		t.Errorf("the record of the edits %+v, want both versions with their times", log)
	}
}

func TestEditingAnothersMessageIsForbiddenModeratorsIncluded(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "ed-forbidden"
	alice, bob, mod := h.JoinAs("alice", room), h.JoinAs("bob", room), h.JoinModerator("mod", room)
	h.Settle()
	msg := say(t, h, bob, "mine", alice, mod)
	for who, id := range map[string]string{"alice": alice, "a moderator": mod} {
		e := only(t, editFrom(t, h, id, msg, "yours now"), "error")
		if e.Code != contract.CodeForbidden || e.Ref != "ed" || e.Action != "edit" {
			t.Errorf("%s editing bob's message: %+v", who, e)
		}
	}
	if fs := inbox(t, h, bob); len(fs) != 0 {
		t.Errorf("bob was sent %v", types(fs))
	}
	if got := historyEntry(t, h, alice, msg); got.Message != "mine" || got.Edited != 0 {
		t.Errorf("history after a forbidden edit: %+v", got)
	}
	if n := len(edits(t, h, room)); n != 0 {
		t.Errorf("the activity log has %d edits", n)
	}
}

func TestAnEditAfterFifteenMinutesIsRefused(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "ed-late"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	msg := say(t, h, bob, "early", alice)
	h.Advance(14 * time.Minute)
	only(t, editFrom(t, h, bob, msg, "still in time"), "edited")
	inbox(t, h, alice)
	h.Advance(time.Minute + time.Second)
	e := only(t, editFrom(t, h, bob, msg, "too late"), "error")
	if e.Code != contract.CodeEditExpired || e.Action != "edit" {
		t.Errorf("an edit after 15 minutes: %+v", e)
	}
	if fs := inbox(t, h, alice); len(fs) != 0 {
		t.Errorf("alice was sent %v", types(fs))
	}
	if got := historyEntry(t, h, alice, msg); got.Message != "still in time" {
		t.Errorf("history after a late edit: %+v", got)
	}
}

func TestARemovedMessageCannotBeEdited(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "ed-removed"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	msg := say(t, h, bob, "gone soon", alice)
	only(t, removeFrom(t, h, bob, msg, ""), "removed")
	inbox(t, h, alice)
	e := only(t, editFrom(t, h, bob, msg, "back again"), "error")
	if e.Code != contract.CodeMessageRemoved {
		t.Errorf("editing a removed message: %+v", e)
	}
	if got := historyEntry(t, h, alice, msg); got.Message != "" || got.Removed == nil || got.Edited != 0 {
		t.Errorf("history after editing a removed message: %+v", got)
	}
	if fs := inbox(t, h, alice); len(fs) != 0 {
		t.Errorf("alice was sent %v", types(fs))
	}
}

func TestTheNewTextIsBoundedAsAMessage(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	const room = "ed-size"
	alice, bob := h.Join("Alice", room), h.Join("Bob", room)
	msg := say(t, h, bob, "short", alice)
	for text, code := range map[string]string{
		strings.Repeat("é", contract.MessageMax+1): contract.CodeMessageTooLong,
		"   ":    contract.CodeMessageEmpty,
		"bell\a": contract.CodeMessageInvalid,
	} {
		if e := only(t, editFrom(t, h, bob, msg, text), "error"); e.Code != code {
			t.Errorf("an edit to %.20q: %+v, want %s", text, e, code)
		}
	}
	long := strings.Repeat("é", contract.MessageMax)
	if got := only(t, editFrom(t, h, bob, msg, long), "edited"); got.Message != long {
		t.Errorf("an edit to 2000 characters was told as %d characters", len([]rune(got.Message)))
	}
	if e := only(t, editFrom(t, h, bob, "01J9Z3K4M5N6P7Q8R9S0T1V2W3", "x"), "error"); e.Code != contract.CodeNotFound {
		t.Errorf("an edit of no message: %+v", e)
	}
}

func TestAPrivateMessagesEditReachesOnlyItsParticipants(t *testing.T) {
	t.Parallel()
	for _, signed := range []bool{false, true} {
		name := map[bool]string{false: "open", true: "signed"}[signed]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			room := "ed-private-" + name
			var h *chattest.Harness
			var alice, bob, carol string
			if signed {
				h = chattest.New(t, chattest.SignedIn)
				alice, bob, carol = h.JoinAs("alice", room), h.JoinAs("bob", room), h.JoinAs("carol", room)
				h.Settle()
			} else {
				h = chattest.New(t)
				alice, bob, carol = h.Join("alice", room), h.Join("bob", room), h.Join("carol", room)
			}
			inbox(t, h, alice)
			inbox(t, h, carol)
			msg := whisper(t, h, bob, "just you", "alice")
			inbox(t, h, alice)
			got := only(t, editFrom(t, h, bob, msg, "just you, alice"), "edited")
			if got.ID != msg || got.Message != "just you, alice" || got.Ref != "ed" {
				t.Errorf("bob's edited frame %+v", got)
			}
			if told := only(t, inbox(t, h, alice), "edited"); told.Message != "just you, alice" || told.Ref != "" {
				t.Errorf("alice was told %+v", told)
			}
			if fs := inbox(t, h, carol); len(fs) != 0 {
				t.Errorf("carol, not a participant, was sent %v", types(fs))
			}
			for who, id := range map[string]string{"alice": alice, "bob": bob} {
				st := state(t, h, id)
				if len(st.Private) != 1 || st.Private[0].Message != "just you, alice" || st.Private[0].Edited != got.Edited {
					t.Errorf("%s's private history %+v, want the new text marked edited", who, st.Private)
				}
			}
			if st := state(t, h, carol); len(st.Private) != 0 {
				t.Errorf("carol's private history %+v", st.Private)
			}
			if e := only(t, editFrom(t, h, alice, msg, "mine?"), "error"); e.Code != contract.CodeForbidden {
				t.Errorf("the recipient editing it: %+v", e)
			}
			if e := only(t, editFrom(t, h, carol, msg, "mine?"), "error"); e.Code != contract.CodeNotFound && e.Code != contract.CodeForbidden {
				t.Errorf("an outsider editing it: %+v", e)
			}
		})
	}
}

// An edit of a private message is priced as the message was sent (the
// definition's Cost and, as sendPrivate's Per, one unit more for every two
// recipients): its transaction writes every participant's copy and it tells
// each of them, so an edit of a message to 20 must not be 3 units.
func TestAnEditOfAPrivateMessageToTwentyDrawsAsItsRecipientsCost(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn) // the default budget: 20 units per 10 s
	const room = "ed-price"
	alice := h.JoinAs("alice", room)
	var to []string
	for i := range 20 {
		name := "p" + string(rune('a'+i)) + "x"
		h.JoinAs(name, room)
		to = append(to, name)
	}
	h.Settle()
	inbox(t, h, alice)
	msg := whisper(t, h, alice, "to all twenty", to...)
	h.Advance(11 * time.Second) // a full budget again
	accepted := 0
	for i := range 10 {
		fs := editFrom(t, h, alice, msg, fmt.Sprintf("to all twenty, take %d", i))
		if slices.ContainsFunc(fs, func(f frame) bool { return f.Type == "error" && f.Code == contract.CodeRateLimited }) {
			break
		}
		only(t, fs, "edited")
		accepted++
	}
	send, _ := contract.LookupAction(contract.ActionSendPrivate)
	edit, _ := contract.LookupAction(contract.ActionEdit)
	price := edit.Cost + send.Price(len(to)) - send.Cost
	if want := 20 / price; accepted != want {
		t.Errorf("%d edits of a private message to 20 were accepted on a full budget of 20 units; at %d units each, want %d", accepted, price, want)
	}
}
