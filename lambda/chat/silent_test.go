package chat_test

import (
	"slices"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// A connection that sends nothing past its sign-in's end and the grace
// receives its room no more: the room index carries the sign-in's end, so
// a broadcast skips it and closes it (after a consistent read of its
// record: the index may not have caught up with a reauth). One that
// reauthed in time goes on receiving.
func TestASilentConnectionPastItsSignInAndTheGraceReceivesNothingAndIsClosed(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "silent-past-grace"
	now := h.Now()
	silent := newSignedConn("alice", now.Add(-14*time.Minute), now.Add(time.Minute))
	renewed := newSignedConn("carol", now.Add(-14*time.Minute), now.Add(time.Minute))
	silent.connect(t, h, room, true)
	renewed.connect(t, h, room, true)
	bob := h.JoinAs("bob", room)
	h.Settle()
	h.Advance(90 * time.Second) // both expired 30 s ago: within the grace
	if fs := renewed.send(t, h, `{"action":"reauth","token":"`+chattest.Token("carol", "carol")+`"}`); !slices.ContainsFunc(fs, func(f frame) bool { return f.Type == "reauthed" }) {
		t.Fatalf("carol's reauth: %v", types(fs))
	}
	h.Advance(chat.DefaultReauthGrace) // alice's sign-in ended 2.5 minutes ago; carol's is renewed
	h.Settle()
	inbox(t, h, silent.id)
	inbox(t, h, renewed.id)
	h.Send(bob, `{"action":"sendPublic","message":"anyone there?"}`)
	if fs := inbox(t, h, silent.id); gotPublic(fs, "anyone there?") {
		t.Errorf("the silent connection past its grace got the room's message")
	}
	if !slices.Contains(h.GW.Closed(), silent.id) {
		t.Errorf("closed %v, want the silent connection %s", h.GW.Closed(), silent.id)
	}
	if fs := inbox(t, h, renewed.id); !gotPublic(fs, "anyone there?") {
		t.Errorf("the reauthed connection got %v, want the message", types(fs))
	}
	if slices.Contains(h.GW.Closed(), renewed.id) {
		t.Errorf("the reauthed connection was closed")
	}
}

// typing, sent to a small room's members without a broadcast, skips a
// connection whose sign-in ended past the grace too.
func TestASilentConnectionPastItsSignInAndTheGraceIsNotToldWhoIsTyping(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "silent-typing"
	now := h.Now()
	silent := newSignedConn("alice", now.Add(-14*time.Minute), now.Add(time.Minute))
	silent.connect(t, h, room, true)
	bob, carol := h.JoinAs("bob", room), h.JoinAs("carol", room)
	h.Settle()
	h.Advance(time.Minute + chat.DefaultReauthGrace + time.Second)
	inbox(t, h, silent.id)
	inbox(t, h, carol)
	h.Send(bob, `{"action":"typing"}`)
	if !slices.ContainsFunc(inbox(t, h, carol), func(f frame) bool { return f.Type == "typing" }) {
		t.Fatal("carol was not told bob is typing")
	}
	if fs := inbox(t, h, silent.id); slices.ContainsFunc(fs, func(f frame) bool { return f.Type == "typing" }) {
		t.Error("the silent connection past its grace was told who is typing")
	}
}
