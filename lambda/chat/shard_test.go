package chat_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// countShard is the shard of room's count that a transaction's action
// asked about (w.Action) updates, or "".
func countShard(w ddbproxy.Write, room string) string {
	var in struct {
		TransactItems []struct {
			Update *struct{ Key map[string]struct{ S string } }
		}
	}
	if json.Unmarshal(w.Body, &in) != nil || w.Action >= len(in.TransactItems) {
		return ""
	}
	u := in.TransactItems[w.Action].Update
	if u == nil || u.Key[contract.MessagesStream].S != contract.CountStreamPrefix+room {
		return ""
	}
	return u.Key[contract.MessagesID].S
}

// A lecture's room is busy: every join and leave adds to a shard of its
// count in a transaction, and DynamoDB cancels a transaction that meets
// another on one of its items. Here another transaction holds the shard
// Bob's join tries first, for as long as the test runs: his next attempt
// takes the next shard, so he gets in, and the count stays exact. (The
// timing of a real burst, 1,000 joins in 10 s, is
// TestABusyRoomCountsExactlyAndRemovesTheVanished's figures and
// scripts/bench.sh busy's targets; this does not depend on the machine's
// speed.)
func TestBobGetsIntoABusyRoomWhileAnotherTransactionHoldsTheShardOfItsCountHeTriedFirst(t *testing.T) {
	t.Parallel()
	const room = "lecture"
	h := chattest.New(t)
	alice := h.Join("Alice", room)
	var (
		mu        sync.Mutex
		held      string // the shard another transaction holds
		cancelled int
	)
	h.DynamoDB.SetFaults(ddbproxy.Faults{Conflict: func(w ddbproxy.Write) bool {
		shard := countShard(w, room)
		mu.Lock()
		defer mu.Unlock()
		if shard != "" && held == "" {
			held = shard
		}
		if shard == "" || shard != held {
			return false
		}
		cancelled++
		return true
	}})
	_, resp := h.Connect(map[string]string{"name": "Bob", "room": room})
	h.DynamoDB.SetFaults(ddbproxy.Faults{})
	mu.Lock()
	defer mu.Unlock()
	if cancelled == 0 {
		t.Fatal("no transaction of Bob's join updated a shard of the room's count")
	}
	if resp.StatusCode != 200 {
		t.Fatalf("Bob's join was answered %d %s, after %d attempts on the held shard %s", resp.StatusCode, resp.Body, cancelled, held)
	}
	if s := state(t, h, alice); s.Count != 2 {
		t.Errorf("Alice's state counts %d in the room; Alice and Bob are in it", s.Count)
	}
	if n, err := h.Store.RoomCount(context.Background(), room); err != nil || n != 2 {
		t.Errorf("the room counts %d (%v); Alice and Bob are in it", n, err)
	}
}
