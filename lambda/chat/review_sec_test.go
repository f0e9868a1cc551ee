package chat_test

// Attacks on names that belong to accounts, private history and rate
// limits (review of issues 12 and 15), through dynalite and the management
// API stand-in.

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Alice renames to "bob" on her phone and, as soon as that lands, back to
// "alice" on her laptop: the phone's release of "alice" must not drop the
// claim her laptop has just made again. Otherwise her account is named
// "alice" while nobody owns the name, and Mallory takes it: two accounts
// speaking as "alice".
func TestARenameAwayAndBackKeepsTheNameOwned(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	phone, laptop := h.JoinAs("alice", ""), h.JoinAs("alice", "")
	mallory := h.JoinAs("mallory", "")
	var fired atomic.Bool
	var back string
	h.DynamoDB.SetFaults(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		// The phone's release of its old name, after its account write.
		if w.Op == "DeleteItem" && bytes.Contains(w.Body, []byte(`"o#alice"`)) && fired.CompareAndSwap(false, true) {
			back = h.Send(laptop, `{"action":"setName","name":"alice"}`)
		}
	}})
	h.Send(phone, `{"action":"setName","name":"bob"}`)
	h.DynamoDB.SetFaults(ddbproxy.Faults{})
	if !fired.Load() {
		t.Fatal("the phone's rename never released alice")
	}
	is, err := h.Store.AccountName(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	owner, err := h.Store.NameOwner(t.Context(), is)
	if err != nil {
		t.Fatal(err)
	}
	if owner != "alice" {
		t.Errorf("alice's account is named %q (laptop: %s) but the name's owner is %q", is, back, owner)
	}
	inbox(t, h, mallory)
	if f := sendErr(t, h, mallory, `{"action":"setName","name":"`+is+`"}`); f.Code != "name_taken" {
		t.Errorf("mallory renaming himself %q, alice's name: %+v; want name_taken", is, f)
	}
	if s := state(t, h, mallory); chat.NameKey(s.You) == chat.NameKey(is) {
		t.Fatalf("mallory is %q, alice's name", s.You)
	}
}
