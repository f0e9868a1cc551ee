package chat_test

// A deletion's tombstone and the records of $connects it overtakes
// (docs/design.md, "A deletion keeps the records it has not removed
// counted").

import (
	"bytes"
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Dave's phone connects to the lobby just as he deletes his account from
// his laptop: the phone's record is put, then the deletion runs whole, then
// the phone's $connect adds its device (refused: the account is deleted).
// Bob's lobby then counts as many people as it lists: bob alone. It failed
// before (the tombstone replaced the account's map of its records in the
// lobby, so the phone's record left without taking dave off the count:
// bob saw 2 people and one name).
func TestADeletionBetweenAConnectsRecordAndItsDeviceLeavesTheCountAtThePeopleListed(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	bob, _ := h.ConnectAs("sub-bob", "bob", map[string]string{"room": "lobby"})
	if e := signUp(t, h, "PreSignUp_SignUp", testPool, "dave"); e != "" {
		t.Fatal(e)
	}
	laptop, _ := h.ConnectAs("sub-dave", "dave", map[string]string{"room": "lobby"})
	h.Settle()
	phone := chattest.NewConnID()
	var fired atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		if w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"d_`+phone+`"`)) &&
			bytes.Contains(w.Body, []byte("ADD #dv")) && fired.CompareAndSwap(false, true) {
			h.Send(laptop, `{"action":"deleteAccount","ref":"d"}`)
		}
	}})
	resp := h.ConnectAsID(phone, "sub-dave", "dave", map[string]string{"room": "lobby"})
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("the phone's $connect never added its device")
	}
	if a, err := h.Store.Account(context.Background(), "sub-dave"); err != nil || a.Deleted.IsZero() {
		t.Fatalf("dave's account after the deletion: %+v (%v)", a, err)
	}
	if resp.StatusCode == 200 && !slices.Contains(h.GW.Closed(), phone) {
		t.Errorf("the phone got in (%d) and was not closed", resp.StatusCode)
	}
	h.Settle()
	s := state(t, h, bob)
	if s.Count != len(s.Members) || !slices.Equal(s.Members, []string{"bob"}) {
		t.Errorf("bob's lobby counts %d and lists %q, want 1 and [bob]", s.Count, s.Members)
	}
}
