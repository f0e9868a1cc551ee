package chat_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// A private message is priced by its recipients (issue 22 #5; the
// definition's sendPrivate entry): with 5 units left, Alice's message to
// one person still goes, but her message to 20 is refused rate_limited with
// the time when it fits, reaches nobody and is stored nowhere, and costs
// the table at most the charge's two requests (a second refusal none).
// Sent again once the wait is over, it reaches all 20.
func TestAPrivateMessageToTwentyOverTheBudgetLeftIsRefusedAndReachesNobody(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn) // the default budget: 20 units per 10 s
	alice := h.JoinAs("alice", "")
	var to, ids []string
	for i := range 20 {
		name := fmt.Sprintf("user%d", i+1) // distinct skeletons ("pix" and "plx" are one name)
		ids = append(ids, h.JoinAs(name, ""))
		to = append(to, name)
	}
	h.Settle()
	for range 15 {
		if f := decode(t, []byte(h.Send(alice, `{"action":"ping"}`))); f.Type != "pong" {
			t.Fatalf("a ping within the budget: %+v", f)
		}
	}
	for _, id := range append(ids, alice) {
		h.GW.Take(id)
	}
	h.Send(alice, `{"action":"sendPrivate","to":["user1"],"message":"one"}`)
	if got := ofType(inbox(t, h, ids[0]), "private"); len(got) != 1 || got[0].Message != "one" {
		t.Fatalf("user1 got %+v; a message to one person fits in the 5 units left", got)
	}
	inbox(t, h, alice)

	all, _ := json.Marshal(to)
	body := `{"action":"sendPrivate","to":` + string(all) + `,"message":"everyone","ref":"r20"}`
	before := requests(h)
	f := sendErr(t, h, alice, body)
	if f.Code != "rate_limited" || f.Action != "sendPrivate" || f.Ref != "r20" || f.RetryAfterMs <= 0 || f.RetryAfterMs > 10_001 {
		t.Fatalf("a private message to 20 with 4 units left: %+v; want rate_limited with retryAfterMs in (0, 10 s]", f)
	}
	if n := requests(h) - before; n > 2 {
		t.Errorf("the refusal cost %d DynamoDB requests; want at most the charge's 2", n)
	}
	before = requests(h)
	if again := sendErr(t, h, alice, body); again.Code != "rate_limited" {
		t.Fatalf("the same message again at once: %+v", again)
	}
	if n := requests(h) - before; n != 0 {
		t.Errorf("a second refusal cost %d DynamoDB requests; want none (the instance remembers)", n)
	}
	for i, id := range ids {
		if got := ofType(inbox(t, h, id), "private"); len(got) != 0 {
			t.Fatalf("%s got %+v from a refused message", to[i], got)
		}
	}
	if s := state(t, h, ids[19]); len(s.Private) != 0 {
		t.Fatalf("user20's private history holds %+v: the refused message was stored", s.Private)
	}

	h.Advance(time.Duration(f.RetryAfterMs) * time.Millisecond)
	if resp := h.Send(alice, body); resp != "" {
		t.Fatalf("sent again once the wait was over: answered %s", resp)
	}
	for _, raw := range h.GW.Take(alice) {
		if e := decode(t, raw); e.Type == "error" {
			t.Fatalf("sent again once the wait was over: %+v", e)
		}
	}
	for i, id := range ids {
		if got := ofType(inbox(t, h, id), "private"); len(got) != 1 || got[0].Message != "everyone" {
			t.Errorf("%s got %+v once the wait was over; want the message once", to[i], got)
		}
	}
}
