package chat_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// isConnectionRecord reports a request that writes a new connection's
// record (PutConnection's transaction).
func isConnectionRecord(w ddbproxy.Write) bool {
	return w.Op == "TransactWriteItems" && bytes.Contains(w.Body, []byte(`"connectedAt"`))
}

// failedResume is one way a reconnect with the resume token fails after
// its claim took the name over.
type failedResume func(t *testing.T, h *chattest.Harness, token string)

// conflicted: the record's transaction is cancelled by another on the
// room's item at every attempt (DynamoDB's TransactionConflict), and
// $connect answers 500.
func conflicted(t *testing.T, h *chattest.Harness, token string) {
	t.Helper()
	h.DynamoDB.Inject(ddbproxy.Faults{Conflict: isConnectionRecord})
	defer h.DynamoDB.Restore()
	if _, resp := h.Connect(map[string]string{"name": "Alice", "resume": token}); resp.StatusCode != 500 {
		t.Fatalf("the conflicted reconnect answered %d", resp.StatusCode)
	}
}

// crashed: the invocation dies right after its claim (a Lambda timeout or
// an out-of-memory kill): its context ends as its record's transaction
// goes out, and nothing after the claim is done.
func crashed(t *testing.T, h *chattest.Harness, token string) {
	t.Helper()
	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	h.DynamoDB.Inject(ddbproxy.Faults{Conflict: ddbproxy.Once(func(w ddbproxy.Write) bool {
		if isConnectionRecord(w) {
			kill()
			return true // and not applied
		}
		return false
	})})
	defer h.DynamoDB.Restore()
	resp, _ := h.Service.Handle(ctx, events.APIGatewayWebsocketProxyRequest{
		QueryStringParameters: map[string]string{"name": "Alice", "resume": token},
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{RouteKey: contract.RouteConnect,
			EventType: "CONNECT", ConnectionID: chattest.NewConnID(), Stage: h.Stage},
	})
	if resp.StatusCode == 200 || ctx.Err() == nil {
		t.Fatalf("the reconnect was not killed after its claim: %d", resp.StatusCode)
	}
}

// Alice's phone lost its network; her reconnect with the phone's resume
// token failed after its claim, once or several times, and a retry with
// the same token works. The phone's connection must go: the room counts
// two people, not three, nobody is told she left, and the phone's late
// $disconnect says nothing either.
func TestAResumeWhoseFirstAttemptsFailedLeavesNoGhostOfTheOldConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		attempts []failedResume
	}{
		{"one attempt conflicted", []failedResume{conflicted}},
		{"one attempt crashed after its claim", []failedResume{crashed}},
		{"a crash, then a conflict", []failedResume{crashed, conflicted}},
		{"a conflict, then a crash", []failedResume{conflicted, crashed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := chattest.New(t)
			phone, bob := h.Join("Alice", ""), h.Join("Bob", "")
			token := state(t, h, phone).Resume
			h.GW.Vanish(phone) // the network dropped; $disconnect comes later
			h.GW.Take(bob)
			for _, fail := range tc.attempts {
				fail(t, h, token)
			}
			again, resp := h.Connect(map[string]string{"name": "Alice", "resume": token})
			if resp.StatusCode != 200 {
				t.Fatalf("the retry answered %d", resp.StatusCode)
			}
			h.Settle() // the members lists come from the index: it shows the retry and Bob, made under AWSLike's lag
			s := state(t, h, again)
			if s.You != "Alice" || s.Count != 2 || !slices.Equal(s.Members, []string{"Alice", "Bob"}) {
				t.Errorf("after the retry: you %q, count %d, members %v; want Alice in a room of 2 (Alice, Bob)", s.You, s.Count, s.Members)
			}
			if _, err := h.Store.GetConnection(context.Background(), phone); !errors.Is(err, chat.ErrNotFound) {
				t.Errorf("the phone's connection is still recorded (%v): a ghost", err)
			}
			if n, err := h.Store.RoomCount(context.Background(), "lobby"); err != nil || n != 2 {
				t.Errorf("the room counts %d (%v), want 2", n, err)
			}
			h.Disconnect(phone) // late, at the idle timeout
			for _, f := range inbox(t, h, bob) {
				if f.Type == "left" || f.Type == "members" && !slices.Contains(f.Members, "Alice") {
					t.Errorf("Bob was told Alice left (%s %v), yet she is connected", f.Type, f.Members)
				}
			}
			if s := state(t, h, bob); s.Count != 2 || !slices.Contains(s.Members, "Alice") {
				t.Errorf("Bob's state: count %d, members %v; want 2 with Alice", s.Count, s.Members)
			}
		})
	}
}
