package chat_test

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// A forget message for an account that is not deleted (none the function
// sends: only a deletion sends one, after its tombstone) changes nothing:
// alice's message keeps her account. One without rooms is not the
// function's and is reported failed (it goes to the dead-letter queue).
func TestASecondForgetOfAnAccountNotDeletedChangesNothing(t *testing.T) {
	t.Parallel()
	q := &settleQueue{}
	h := chattest.New(t, chattest.SignedIn, func(o *chat.Options) { o.Settle = q })
	const room = "forget-live"
	alice := h.JoinAs("alice", room)
	say(t, h, alice, "still mine")
	deliverSettle(t, h, `{"kind":"forget","account":"alice","rooms":["`+room+`"]}`)
	var found bool
	for _, e := range state(t, h, alice).History {
		if e.Message == "still mine" {
			found = true
			if e.Account != "alice" || e.Username != "alice" {
				t.Errorf("after a forget message for the live alice her message has account %q, username %q", e.Account, e.Username)
			}
		}
	}
	if !found {
		t.Fatal("alice's message is not in the history")
	}
	out, err := h.Service.Invoke(context.Background(), settleEvent(`{"kind":"forget","account":"alice"}`))
	if resp, ok := out.(events.SQSEventResponse); err != nil || !ok || len(resp.BatchItemFailures) != 1 {
		t.Errorf("a forget message without rooms answered %#v (%v), want its record failed", out, err)
	}
}
