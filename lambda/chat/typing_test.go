package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// typings returns the typing frames among fs.
func typings(fs []frame) []frame {
	var out []frame
	for _, f := range fs {
		if f.Type == contract.FrameTyping {
			out = append(out, f)
		}
	}
	return out
}

// In a small room, typing reaches everyone else once, with the typist's name and
// account, and neither the typist's own devices nor any history or record.
func TestTypingReachesTheOthersInASmallRoomOnceAndIsNotStored(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "typing-small"
	alice, bob, carol := h.JoinAs("alice", room), h.JoinAs("bob", room), h.JoinAs("carol", room)
	alice2 := h.JoinAs("alice", room) // her phone
	h.Settle()
	for _, id := range []string{alice, bob, carol, alice2} {
		inbox(t, h, id)
	}
	records := len(activityLog(t, h, room))

	if resp := h.Send(alice, `{"action":"typing"}`); resp != "" {
		t.Fatalf("typing was answered %s, want no answer", resp)
	}
	for _, id := range []string{bob, carol} {
		got := typings(inbox(t, h, id))
		if len(got) != 1 || got[0].Name != "alice" || got[0].Account != "alice" || got[0].Room != room || got[0].TS == 0 {
			t.Errorf("%s got typing frames %+v, want one from alice", id, got)
		}
	}
	for _, id := range []string{alice, alice2} {
		if got := inbox(t, h, id); len(got) != 0 {
			t.Errorf("alice's own device %s got %+v, want nothing", id, got)
		}
	}
	if n := len(activityLog(t, h, room)); n != records {
		t.Errorf("typing recorded %d activity records, want none", n-records)
	}
	for _, e := range state(t, h, bob).History {
		if e.Type == contract.FrameTyping {
			t.Errorf("the history holds a typing: %+v", e)
		}
	}
}

// In a room of more than contract.TypingMax, typing is charged and goes to nobody.
func TestTypingIsNotFannedOutInARoomOverTwenty(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	const room = "typing-big"
	others := h.Populate(room, contract.TypingMax)
	ann := h.Join("ann", room) // the 21st
	h.Settle()
	if st := state(t, h, ann); st.Count != contract.TypingMax+1 {
		t.Fatalf("the room counts %d, want %d", st.Count, contract.TypingMax+1)
	}
	for _, id := range others {
		inbox(t, h, id)
	}
	if resp := h.Send(ann, `{"action":"typing"}`); resp != "" {
		t.Fatalf("typing was answered %s, want no answer", resp)
	}
	for _, id := range others {
		if got := typings(inbox(t, h, id)); len(got) != 0 {
			t.Fatalf("%s got %+v in a room of %d", id, got, contract.TypingMax+1)
		}
	}
}

// A connection nobody knows, or one over its budget, is told so, like any action.
func TestTypingIsChargedLikeAnAction(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	const room = "typing-budget"
	ann, bob := h.Join("ann", room), h.Join("bob", room)
	h.Settle()
	limited := false
	for i := 0; i < 40 && !limited; i++ {
		if resp := h.Send(ann, `{"action":"typing","ref":"t"}`); resp != "" {
			f := decode(t, []byte(resp))
			limited = f.Code == contract.CodeRateLimited && f.Action == contract.ActionTyping && f.Ref == "t"
			if !limited {
				t.Fatalf("typing was answered %+v", f)
			}
		}
	}
	if !limited {
		t.Fatal("40 typings in a row were never rate_limited")
	}
	if n := len(typings(inbox(t, h, bob))); n == 0 || n >= 40 {
		t.Errorf("bob was told %d typings, want those the budget paid for", n)
	}
}

// A typing frame is stamped when API Gateway received it (the event's
// requestTimeEpoch), not when the handler got round to it: frames of one
// socket are received in order but handled concurrently, and the page
// drops a typing frame stamped before the typist's last message, which it
// may receive after that message (frontend/src/typing.ts).
func TestATypingFrameIsStampedWhenItWasReceived(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	const room = "typing-stamp"
	alice, bob := h.Join("alice", room), h.Join("bob", room)
	h.Settle()
	inbox(t, h, bob)
	received := h.Now().Add(-3 * time.Second) // held 3 s before the handler ran
	_, err := h.Service.Handle(context.Background(), events.APIGatewayWebsocketProxyRequest{Body: `{"action":"typing"}`,
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{RouteKey: contract.RouteDefault, EventType: "MESSAGE",
			ConnectionID: alice, Stage: h.Stage, RequestTimeEpoch: received.UnixMilli(), RequestID: "typing-stamp"}})
	if err != nil {
		t.Fatal(err)
	}
	got := typings(inbox(t, h, bob))
	if len(got) != 1 || got[0].TS != received.UnixMilli() {
		t.Errorf("bob got typing frames %+v, want one stamped %d, when it was received", got, received.UnixMilli())
	}
}
