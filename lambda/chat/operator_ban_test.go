package chat_test

import (
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// An operator bans bob from a room for an hour: his connection there is
// closed, his $connect to it refused, his other room untouched, the act
// recorded as the operator's; unbanned, he connects again.
func TestAnOperatorBansBobFromARoomAndLiftsIt(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "op-ban"
	bob, elsewhere := h.JoinAs("bob", room), h.JoinAs("bob", "op-other")
	h.Settle()
	until := time.Now().Add(time.Hour).UnixMilli()
	a := operate(t, h, contract.OperatorRequest{Op: contract.OpBan, Account: "bob", Room: room, Until: until, Reason: "spam"})
	if a.Result != contract.ResultDone || a.Account != "bob" {
		t.Fatalf("ban answered %+v", a)
	}
	if !closed(h, bob) || closed(h, elsewhere) {
		t.Errorf("closed %v: want bob's connection in %s only", h.GW.Closed(), room)
	}
	h.Disconnect(bob)
	if st := connectTo(h, "bob", room); st != 403 {
		t.Errorf("bob's $connect to the room he is banned from: %d, want 403", st)
	}
	recs := moderated(t, h, room)
	if len(recs) != 1 || recs[0].Act != "ban" || recs[0].From != chat.Operator || recs[0].Reason != "spam" {
		t.Errorf("the activity %+v, want the operator's ban", recs)
	}
	if a := operate(t, h, contract.OperatorRequest{Op: contract.OpUnban, Account: "bob", Room: room}); a.Result != contract.ResultDone {
		t.Fatalf("unban answered %+v", a)
	}
	if st := connectTo(h, "bob", room); st != 200 {
		t.Errorf("bob's $connect after the unban: %d, want 200", st)
	}
}

// An operator bans bob from the whole environment: every connection of his
// is closed.
func TestAnOperatorBansBobFromTheEnvironment(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	one, two := h.JoinAs("bob", "env-a"), h.JoinAs("bob", "env-b")
	h.Settle()
	if a := operate(t, h, contract.OperatorRequest{Op: contract.OpBan, Account: "bob"}); a.Result != contract.ResultDone {
		t.Fatalf("ban answered %+v", a)
	}
	if !closed(h, one) || !closed(h, two) {
		t.Errorf("closed %v: want both of bob's connections", h.GW.Closed())
	}
	if recs := moderated(t, h, ""); len(recs) != 1 || recs[0].From != chat.Operator {
		t.Errorf("the environment's activity %+v, want the operator's ban", recs)
	}
}
