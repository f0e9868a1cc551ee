package chat_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

func TestSendPublicReachesEveryoneInTheRoomExactlyOnce(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob, carol := h.Join("Alice", "r1"), h.Join("Bob", "r1"), h.Join("Carol", "r1")
	dave := h.Join("Dave", "r2")
	h.Settle() // the index lists everyone: a broadcast may miss whoever joined an instant before
	for _, id := range []string{alice, bob, carol, dave} {
		h.GW.Take(id)
	}
	if resp := h.Send(alice, `{"action":"sendPublic","message":"hi all","from":"Mallory","ref":"a1"}`); resp != "" {
		t.Fatalf("sendPublic has no route response, got %q", resp)
	}
	for _, id := range []string{alice, bob, carol} {
		f := only(t, inbox(t, h, id), "public")
		if f.From != "Alice" || f.Message != "hi all" || f.Room != "r1" || f.ID == "" || f.TS == 0 {
			t.Fatalf("delivered %+v; want Alice's message with id and time (the payload's from is ignored)", f)
		}
		if wantRef := map[bool]string{true: "a1", false: ""}[id == alice]; f.Ref != wantRef {
			t.Fatalf("ref = %q, want %q (only the sender's copy carries it)", f.Ref, wantRef)
		}
	}
	if fs := inbox(t, h, dave); len(fs) != 0 {
		t.Fatalf("another room received %v", types(fs))
	}
	if s := state(t, h, bob); len(s.History) != 1 || s.History[0].Message != "hi all" {
		t.Fatalf("history = %+v", s.History)
	}
}

func TestSendPrivateReachesOnlyTheRecipientsAndTheSender(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob, carol, dave := h.Join("Alice", ""), h.Join("Bob", ""), h.Join("Carol", ""), h.Join("Dave", "")
	eve := h.Join("Eve", "other")
	all := []string{alice, bob, carol, dave, eve}
	for _, id := range all {
		h.GW.Take(id)
	}
	h.Send(alice, `{"action":"sendPrivate","to":["bob","DAVE","Bob"],"message":"psst","ref":"p1"}`)
	got := map[string][]frame{}
	for _, id := range all {
		got[id] = inbox(t, h, id)
	}
	for _, id := range []string{alice, bob, dave} {
		f := only(t, got[id], "private")
		if f.From != "Alice" || f.Message != "psst" || !slices.Equal(f.To, []string{"Bob", "Dave"}) {
			t.Fatalf("delivered %+v; want from Alice to [Bob Dave] as the server spells them", f)
		}
	}
	if got[alice][0].Ref != "p1" || got[bob][0].Ref != "" {
		t.Fatalf("ref: sender %q, recipient %q", got[alice][0].Ref, got[bob][0].Ref)
	}
	for _, id := range []string{carol, eve} {
		if len(got[id]) != 0 {
			t.Fatalf("a non-recipient received %v", types(got[id]))
		}
	}
	if s := state(t, h, carol); len(s.History) != 0 {
		t.Fatalf("a private message shows in the public history: %+v", s.History)
	}

	// Naming yourself: one copy.
	h.Send(bob, `{"action":"sendPrivate","to":["Bob"],"message":"note to self"}`)
	only(t, inbox(t, h, bob), "private")
	// Someone in another room is unknown here, and nothing is sent.
	e := sendErr(t, h, alice, `{"action":"sendPrivate","to":["Eve","Bob","Zed"],"message":"x","ref":"p2"}`)
	if e.Code != "recipients_unknown" || !slices.Equal(e.Unknown, []string{"Eve", "Zed"}) || e.Ref != "p2" || e.Action != "sendPrivate" {
		t.Fatalf("error = %+v; want recipients_unknown naming Eve and Zed", e)
	}
	for _, id := range all {
		if fs := inbox(t, h, id); len(fs) != 0 {
			t.Fatalf("a refused private message delivered %v", types(fs))
		}
	}
}

func TestFramesKeepHTMLCharactersAsTheyAre(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice := h.Join("Alice", "")
	h.Send(alice, `{"action":"sendPublic","message":"<b>&</b>"}`)
	raw := string(h.GW.Take(alice)[0])
	if !strings.Contains(raw, `"<b>&</b>"`) {
		t.Fatalf("frame %s escapes HTML characters (six bytes each instead of one)", raw)
	}
}

func TestOverlongRecipientNamesAreUnknownNotInternalErrors(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice := h.Join("Alice", "")
	h.Join("Bob", "")
	h.GW.Take(alice)
	huge := strings.Repeat("z", 3000)
	e := sendErr(t, h, alice, `{"action":"sendPrivate","to":["Bob","`+huge+`"],"message":"x"}`)
	// Repeated cut to a name's 32 characters, the last one "…".
	if cut := strings.Repeat("z", chat.NameMax-1) + "…"; e.Code != "recipients_unknown" || len(e.Unknown) != 1 || e.Unknown[0] != cut {
		t.Fatalf("error = %s %q", e.Code, e.Unknown)
	}
	if n := metricTotals(t, h)["InternalErrors"]; n != 0 {
		t.Fatalf("InternalErrors = %v: a client can set off the internal-error alarm", n)
	}
}

// The room index is eventually consistent: right after $connect it may not
// list the newcomer, yet a sender's own copy is its only confirmation.
func TestASenderRightAfterConnectGetsItsOwnCopy(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	h.DynamoDB.Inject(ddbproxy.Faults{IndexLag: time.Minute})
	alice := h.Join("Alice", "")
	h.Send(alice, `{"action":"sendPublic","message":"first","ref":"r1"}`)
	if f := only(t, inbox(t, h, alice), "public"); f.Ref != "r1" {
		t.Fatalf("Alice's copy = %+v, want ref r1", f)
	}
	h.Send(alice, `{"action":"setName","name":"Alicia","ref":"r2"}`)
	if f := only(t, inbox(t, h, alice), "renamed"); f.Ref != "r2" || f.Name != "Alicia" {
		t.Fatalf("Alice's rename confirmation = %+v", f)
	}
}
