package chat_test

// A hostile review of issue 26's mentions (hunt26): a client cannot mark
// anyone through an edit's fields, a private message's "@name" marks nobody
// and reaches nobody beyond its recipients (its edit included), and every
// device of a mentioned account gets the marked frame.

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// framesOf decodes id's inbox with the marks each frame carries.
func framesOf(t *testing.T, h *chattest.Harness, id string) []struct {
	mentioned
	ID string `json:"id"`
} {
	t.Helper()
	var out []struct {
		mentioned
		ID string `json:"id"`
	}
	for _, raw := range h.GW.Take(id) {
		var f struct {
			mentioned
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("frame %s: %v", raw, err)
		}
		out = append(out, f)
	}
	return out
}

// An edit's own "mentions" field is no field of edit: only the new text's
// @names, resolved by the server, mark anyone.
func TestAnEditsForgedMentionsFieldIsIgnored(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "hunt26-forged-edit"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	msg := say(t, h, alice, "hi all", bob)
	resp := h.Send(alice, fmt.Sprintf(`{"action":"edit","id":%q,"message":"hi all!","mentions":[{"name":"bob","account":"bob"}]}`, msg))
	if resp != "" {
		t.Fatalf("the edit was answered %s", resp)
	}
	for _, f := range framesOf(t, h, bob) {
		if f.Type == "edited" && len(f.Mentions) != 0 {
			t.Errorf("a forged mark was made by an edit: %q", f.mentioned)
		}
	}
	if frame, history := markedIn(t, h, bob, msg); history != "" || frame != "no edited frame" {
		t.Errorf("history marks %q (frame %q), want nobody", history, frame)
	}
}

// A private message's "@carol" marks nobody, and carol, in the room but no
// recipient, is sent nothing of it, nor of its edit that names her again.
func TestAPrivateMessagesMentionMarksNobodyAndReachesOnlyItsRecipients(t *testing.T) {
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
			const room = "hunt26-private"
			alice, bob, carol := join(h, "alice", room), join(h, "bob", room), join(h, "carol", room)
			h.Settle()
			h.GW.Take(carol)
			msg := whisper(t, h, alice, "@carol is late again", "bob")
			editFrom(t, h, alice, msg, "@carol is late, @bob")
			for _, f := range framesOf(t, h, bob) {
				if (f.Type == "private" || f.Type == "edited") && len(f.Mentions) != 0 {
					t.Errorf("bob's %s frame marks %q: a private message marks nobody", f.Type, f.mentioned)
				}
			}
			for _, f := range framesOf(t, h, carol) {
				if f.ID == msg || f.Type == "private" || f.Type == "edited" {
					t.Errorf("carol, no recipient, was sent %s %q", f.Type, f.Message)
				}
			}
		})
	}
}

// Bob on two devices: alice's "@bob" reaches both marked for his account.
func TestEveryDeviceOfAMentionedAccountGetsTheMark(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "hunt26-devices"
	alice, phone, desk := h.JoinAs("alice", room), h.JoinAs("bob", room), h.JoinAs("bob", room)
	h.Settle()
	h.GW.Take(phone)
	if got := sayTo(t, h, alice, desk, `{"action":"sendPublic","message":"@bob on both?"}`); got.String() != "bob/bob" {
		t.Errorf("the desk got mentions %q, want bob/bob", got)
	}
	if got := publicsOf(t, h, phone); len(got) != 1 || got[0].String() != "bob/bob" {
		t.Errorf("the phone got %v, want one frame marking bob/bob", got)
	}
}

// Alice mentioned dave; dave deleted his account and carol took the name
// "dave". The old mark still carries dave's (deleted, never reissued)
// account, not carol's, so carol's page, which highlights by account, is not
// told she was mentioned there; a new "@dave" marks carol. What the old mark
// keeps, and why it is left: docs/design.md, Mentions.
func TestADeletedAccountsMarkNeverNamesWhoeverTakesItsNameLater(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "hunt26-deleted-mark"
	alice, dave, carol := h.JoinAs("alice", room), h.JoinAs("dave", room), h.JoinAs("carol", room)
	h.Settle()
	old := say(t, h, alice, "@dave your turn", dave, carol)
	h.Send(dave, `{"action":"deleteAccount","ref":"del"}`)
	if !deleted(t, h, "dave") {
		t.Fatal("dave's account is not deleted")
	}
	if resp := h.Send(carol, `{"action":"setName","name":"dave"}`); resp != "" {
		t.Fatalf("carol's rename to dave was answered %s", resp)
	}
	h.Settle()
	var page struct {
		History []struct {
			ID string `json:"id"`
			mentioned
		} `json:"history"`
	}
	if err := json.Unmarshal([]byte(h.Send(carol, `{"action":"history"}`)), &page); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range page.History {
		found = found || e.ID == old
		if e.ID == old && e.String() != "dave/dave" {
			t.Errorf("the old mark reads %q after the name changed hands, want dave's own account only", e.mentioned)
		}
	}
	if !found {
		t.Fatal("alice's message is not in the history page")
	}
	h.GW.Take(carol)
	if got := sayTo(t, h, alice, carol, `{"action":"sendPublic","message":"@dave welcome"}`); got.String() != "dave/carol" {
		t.Errorf("a new @dave marks %q, want carol's account (dave/carol)", got)
	}
}

// "@bоb" (a Cyrillic о) then "@BOB": with sign-in the look-alike is bob's
// name (the owner item folds look-alikes); without, the room's claims fold
// case only, so "bоb" is nobody's here, but the "@BOB" after it is bob.
// Either way bob is marked: a look-alike tried first must not stand for his
// name as tried already.
func TestAMentionAfterALookAlikeOfItIsStillMarked(t *testing.T) {
	t.Parallel()
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprint("signed=", signed), func(t *testing.T) {
			t.Parallel()
			var opts []chattest.Option
			join := func(h *chattest.Harness, name, room string) string { return h.Join(name, room) }
			want := "bob/"
			if signed {
				opts = append(opts, chattest.SignedIn)
				join = func(h *chattest.Harness, name, room string) string { return h.JoinAs(name, room) }
				want = "bob/bob"
			}
			h := chattest.New(t, opts...)
			const room = "hunt26-lookalike"
			alice, bob := join(h, "alice", room), join(h, "bob", room)
			h.Settle()
			if got := sayTo(t, h, alice, bob, `{"action":"sendPublic","message":"@b\u043eb, @BOB: lunch?"}`); got.String() != want {
				t.Errorf("mentions %q, want %q", got, want)
			}
		})
	}
}
