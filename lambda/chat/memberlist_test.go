package chat_test

import (
	"bytes"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// dynamoDBAttempts is how many times the SDK's DynamoDB client tries a
// request (its own default, 4, where other clients' is retry.DefaultMaxAttempts).
const dynamoDBAttempts = 4

// A message the log took reaches the room even when the first read of the
// room's member list fails, every attempt the SDK makes of it (under load a
// Query ran past its 3 s limit and the client's retry quota was spent:
// TestLiveClientsLoseNothingWhenAThirdVanish lost a message to six live
// members). Before, the sender was sent his own copy alone: his page showed
// the message sent, and nobody else got it.
func TestAMessageReachesTheRoomWhenTheFirstReadOfItsMemberListFails(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob, carol := h.Join("Alice", "r1"), h.Join("Bob", "r1"), h.Join("Carol", "r1")
	h.Settle() // the index lists everyone
	for _, id := range []string{alice, bob, carol} {
		h.GW.Take(id)
	}
	var armed atomic.Bool
	var dropped atomic.Int32
	h.DynamoDB.Inject(ddbproxy.Faults{Drop: func(w ddbproxy.Write) bool {
		// Every attempt of one read of the member list: the SDK sees the
		// connection end each time, as a request cut at its time limit.
		return armed.Load() && w.Op == "Query" && bytes.Contains(w.Body, []byte(contract.RoomIndex)) &&
			int(dropped.Add(1)) <= dynamoDBAttempts
	}})
	defer h.DynamoDB.Restore()
	armed.Store(true)
	h.Send(alice, `{"action":"sendPublic","message":"anyone there?","ref":"a1"}`)
	armed.Store(false)
	if n := int(dropped.Load()); n < dynamoDBAttempts {
		t.Fatalf("the member list was read %d times; the fault needs %d attempts to fail one read", n, dynamoDBAttempts)
	}
	for name, id := range map[string]string{"Alice": alice, "Bob": bob, "Carol": carol} {
		if fs := inbox(t, h, id); !slices.Contains(types(fs), "public") {
			t.Errorf("%s received %v, not the message (Alice's page shows it sent)", name, types(fs))
		}
	}
}
