package chat_test

// Hostile review of issue 24 (second pass): an account's deletion racing
// its own $connects and a rename, through DynamoDB's AWS-like semantics.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/contract"
)

// Dave deletes his account from his laptop while his phone renames him and
// two more of his devices connect, all at once (it failed: the rename's new
// name stayed owned by the deleted account, listed in the lobby for good;
// and a device whose add met the tombstone was added to it, open). However they interleave:
// the account ends deleted, every device of his that got in is closed (or
// its frames are neither stored nor delivered), both names are free for
// another account, and bob's room lists neither name once the closes'
// $disconnects ran.
func TestHunt24BHeldADeletionRacingARenameAndConnectsLeavesNoDeviceNoNameNoMember(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	bob, _ := h.ConnectAs("sub-bob", "bob", map[string]string{"room": "lobby"})
	ctx := context.Background()
	var drift []string
	for k := range 5 {
		user := fmt.Sprintf("rdave%d", k)
		sub := "sub-" + user
		if e := signUp(t, h, "PreSignUp_SignUp", testPool, user); e != "" {
			t.Fatal(e)
		}
		laptop, _ := h.ConnectAs(sub, user, map[string]string{"room": "lobby"})
		phone, _ := h.ConnectAs(sub, user, map[string]string{"room": "lobby"})
		h.Settle()
		var mu sync.Mutex
		ids := []string{laptop, phone}
		var wg sync.WaitGroup
		wg.Go(func() { h.Send(laptop, `{"action":"deleteAccount","ref":"d"}`) })
		wg.Go(func() { h.Send(phone, `{"action":"setName","name":"`+user+`x"}`) })
		for range 2 {
			wg.Go(func() {
				id, resp := h.ConnectAs(sub, user, map[string]string{"room": "lobby"})
				if resp.StatusCode == 200 {
					mu.Lock()
					ids = append(ids, id)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		h.Settle()
		closedIDs := h.GW.Closed()
		for _, id := range ids {
			if slices.Contains(closedIDs, id) {
				h.Invoke(ctx, id, contract.RouteDisconnect, "", nil) // API Gateway's, after the close
				continue
			}
			text := "still here " + id
			inbox(t, h, bob)
			resp := h.Send(id, `{"action":"sendPublic","message":"`+text+`"}`)
			if gotPublic(inbox(t, h, bob), text) {
				t.Errorf("round %d: dave's device %s, open after his deletion, still posts (answered %s)", k, id, resp)
			}
		}
		h.Settle()
		if a, err := h.Store.Account(ctx, sub); err != nil || a.Deleted.IsZero() || len(a.Devices) != 0 {
			t.Errorf("round %d: after the race dave's account is %+v (%v), want a tombstone without devices", k, a, err)
		}
		for _, n := range []string{user, user + "x"} {
			if owner, err := h.Store.NameOwner(ctx, n); err != nil || owner != "" {
				t.Errorf("round %d: %q is held by %q (%v) after dave's deletion", k, n, owner, err)
			}
		}
		s := state(t, h, bob)
		if slices.Contains(s.Members, user) || slices.Contains(s.Members, user+"x") {
			t.Errorf("round %d: bob's lobby lists %q", k, s.Members)
		}
		if s.Count != len(s.Members) {
			drift = append(drift, fmt.Sprintf("round %d: counts %d, lists %q", k, s.Count, s.Members))
		}
		inbox(t, h, bob)
	}
	if len(drift) > 0 {
		// It failed: a $connect's record put before the tombstone, its
		// device add after; the tombstone's Put replaced the account item
		// and its r_<room> map, so the record's removal could not take the
		// person off the room's count, which stayed one too high.
		t.Errorf("a deletion racing a $connect leaves the room's count above the people listed: %q", drift)
	}
}
