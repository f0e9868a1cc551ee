package chat_test

// hunt24c: the private message's price (1 + recipients/2) counts people,
// not spellings: a name given twice, or in another case, is one recipient.

import (
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

func TestHunt24CHeldAPrivateMessageToOneNameSpelledThreeWaysCostsOneUnit(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn) // 20 units per 10 s
	alice, bob := h.JoinAs("alice", ""), h.JoinAs("bob", "")
	h.Settle()
	for range 19 {
		if f := decode(t, []byte(h.Send(alice, `{"action":"ping"}`))); f.Type != "pong" {
			t.Fatalf("a ping within the budget: %+v", f)
		}
	}
	inbox(t, h, alice)
	inbox(t, h, bob)
	h.Send(alice, `{"action":"sendPrivate","to":["bob","BOB","bob"],"message":"once"}`)
	if got := ofType(inbox(t, h, bob), "private"); len(got) != 1 || got[0].Message != "once" {
		t.Errorf("bob got %+v; one unit left buys a message to one person, however spelled", got)
	}
	inbox(t, h, alice)
	if e := sendErr(t, h, alice, `{"action":"sendPrivate","to":["bob"],"message":"over"}`); e.Code != "rate_limited" {
		t.Errorf("the next message with the budget spent: %+v", e)
	}
}
