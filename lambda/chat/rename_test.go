package chat_test

// Renames of a signed-in person with several devices (issue 21, bug 3): every
// device ends under the account's name, and the old name is free only once
// no device shows it, however the rename interleaves with a device
// connecting, another rename, or a crash.

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// everyDeviceIs fails unless every connection of ids says it is name.
func everyDeviceIs(t *testing.T, h *chattest.Harness, name string, ids ...string) {
	t.Helper()
	for i, id := range ids {
		if s := state(t, h, id); s.You != name {
			t.Errorf("device %d of the account says it is %q, want %q", i, s.You, name)
		}
	}
}

// takenOnlyWhenNobodyShowsIt has mallory ask for name: if she gets it, no
// device of ids may still show it.
func takenOnlyWhenNobodyShowsIt(t *testing.T, h *chattest.Harness, mallory, name string, ids ...string) {
	t.Helper()
	h.Send(mallory, `{"action":"setName","name":"`+name+`"}`)
	if s := state(t, h, mallory); chat.NameKey(s.You) != chat.NameKey(name) {
		return
	}
	for i, id := range ids {
		if s := state(t, h, id); chat.NameKey(s.You) == chat.NameKey(name) {
			t.Errorf("mallory took %q while alice's device %d still shows it", name, i)
		}
	}
}

// isRenamedRecord is a connection record's rename: an UpdateItem of a c#
// item setting its name.
func isRenamedRecord(w ddbproxy.Write) bool {
	return w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"S":"c#`)) &&
		bytes.Contains(w.Body, []byte(`SET #name = :name`))
}

func TestADeviceConnectingWhileAnotherRenamesNeverKeepsTheOldName(t *testing.T) {
	t.Parallel()
	t.Run("the rename lands between the laptop's read of the name and its record", func(t *testing.T) {
		t.Parallel()
		h := chattest.New(t, chattest.SignedIn)
		phone, mallory := joinNamed(t, h, "alice", ""), h.JoinAs("mallory", "")
		h.DynamoDB.Inject(lagging)
		var fired atomic.Bool
		f := lagging
		f.Before = func(w ddbproxy.Write) {
			if w.Op == "TransactWriteItems" && bytes.Contains(w.Body, []byte(`"accountId":{"S":"alice"}`)) &&
				fired.CompareAndSwap(false, true) {
				h.Send(phone, `{"action":"setName","name":"Alicia"}`)
			}
		}
		h.DynamoDB.Inject(f)
		laptop := joinNamed(t, h, "alice", "")
		h.DynamoDB.Inject(lagging)
		if !fired.Load() {
			t.Fatal("the laptop never recorded its connection")
		}
		everyDeviceIs(t, h, "Alicia", phone, laptop)
		takenOnlyWhenNobodyShowsIt(t, h, mallory, "alice", phone, laptop)
	})
	t.Run("the rename lands just after the laptop connected", func(t *testing.T) {
		t.Parallel()
		h := chattest.New(t, chattest.SignedIn)
		phone, mallory := joinNamed(t, h, "alice", ""), h.JoinAs("mallory", "")
		h.DynamoDB.Inject(lagging)
		laptop := joinNamed(t, h, "alice", "other")
		h.Send(phone, `{"action":"setName","name":"Alicia"}`)
		everyDeviceIs(t, h, "Alicia", phone, laptop)
		takenOnlyWhenNobodyShowsIt(t, h, mallory, "alice", phone, laptop)
	})
	t.Run("the function dies between the account's rename and its connections', and the client retries", func(t *testing.T) {
		t.Parallel()
		h := chattest.New(t, chattest.SignedIn)
		phone, laptop, tablet := joinNamed(t, h, "alice", ""), joinNamed(t, h, "alice", "other"), joinNamed(t, h, "alice", "")
		mallory := h.JoinAs("mallory", "")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var fired atomic.Bool
		h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
			if isRenamedRecord(w) && fired.CompareAndSwap(false, true) {
				cancel() // a timeout, or the instance killed
			}
		}})
		h.SendCtx(ctx, phone, `{"action":"setName","name":"Alicia"}`)
		h.DynamoDB.Restore()
		if !fired.Load() {
			t.Fatal("the rename never reached the connections' records")
		}
		// Whatever the records say now, nobody else may show the name
		// one of them shows, even once the name's claim is old.
		h.Advance(time.Minute)
		takenOnlyWhenNobodyShowsIt(t, h, mallory, "alice", phone, laptop, tablet)
		// The page sends its setName again after the error.
		h.Send(phone, `{"action":"setName","name":"Alicia"}`)
		everyDeviceIs(t, h, "Alicia", phone, laptop, tablet)
		h.Send(mallory, `{"action":"setName","name":"alice"}`)
		if s := state(t, h, mallory); s.You != "alice" {
			t.Fatalf("alice's old name is still taken after her rename finished: mallory is %q", s.You)
		}
	})
}

// Alice's phone and laptop rename her at the same moment: one rename wins,
// and both devices end under the winner.
func TestTwoDevicesRenamingAtOnceEndUnderOneName(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	h.DynamoDB.Inject(lagging)
	phone, laptop := h.JoinAs("alice", ""), h.JoinAs("alice", "")
	var fired atomic.Bool
	f := lagging
	f.Before = func(w ddbproxy.Write) {
		// The laptop's whole rename runs just before the phone's changes
		// the account.
		if w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"a#alice"`)) && bytes.Contains(w.Body, []byte(`"Anna"`)) &&
			bytes.Contains(w.Body, []byte(`SET #name = :name`)) && fired.CompareAndSwap(false, true) {
			h.Send(laptop, `{"action":"setName","name":"Bea"}`)
		}
	}
	h.DynamoDB.Inject(f)
	h.Send(phone, `{"action":"setName","name":"Anna"}`)
	h.DynamoDB.Inject(lagging)
	if !fired.Load() {
		t.Fatal("the phone's rename never reached the account")
	}
	account := state(t, h, h.JoinAs("alice", "")).You
	everyDeviceIs(t, h, account, phone, laptop)
}

// Alice renames herself Yara and at once Zoe (two setNames 20 ms apart: the
// second starts while the first is renaming her connections). Her record
// ends as Zoe, and Yara is free only once nothing shows it.
func TestRenamingTwiceInQuickSuccessionEndsUnderTheLastName(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	phone, laptop, mallory := h.JoinAs("alice", ""), h.JoinAs("alice", "other"), h.JoinAs("mallory", "")
	var armed, fired atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		// The request right after the account became Yara: the second
		// rename runs whole there.
		if armed.Load() && fired.CompareAndSwap(false, true) {
			h.Send(phone, `{"action":"setName","name":"Zoe"}`)
			return
		}
		if w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"a#alice"`)) && bytes.Contains(w.Body, []byte(`"Yara"`)) &&
			bytes.Contains(w.Body, []byte(`SET #name = :name`)) {
			armed.Store(true)
		}
	}})
	h.Send(phone, `{"action":"setName","name":"Yara"}`)
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("the first rename never changed the account")
	}
	everyDeviceIs(t, h, "Zoe", phone, laptop)
	takenOnlyWhenNobodyShowsIt(t, h, mallory, "Yara", phone, laptop)
	if s := state(t, h, mallory); s.You != "Yara" {
		t.Errorf("Yara is still taken after alice became Zoe: mallory is %q", s.You)
	}
}
