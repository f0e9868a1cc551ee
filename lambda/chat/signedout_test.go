package chat_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// A device whose close was lost after a sign-out everywhere, signed in
// again (a token issued after the sign-out) and reauthed in band on its
// open connection, chats again: the reauth's iat is kept on the record.
func TestADeviceThatReauthedAfterSigningOutEverywhereChatsAgain(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	const room = "signed-out-reauth"
	now := s.Now()
	phone := authorized(t, s, s.pool.Token(now.Add(-time.Minute), "sub-alice", "alice"), room)
	s.Settle()
	if _, err := s.Store.SignOut(context.Background(), "sub-alice", now); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"action": contract.ActionReauth,
		"token": s.pool.Token(s.Now().Add(2*time.Second), "sub-alice", "alice")})
	if fs := phone.send(t, s.Harness, string(body)); len(fs) != 1 || fs[0].Type != contract.FrameReauthed {
		t.Fatalf("reauth with a token issued after the sign-out: %v %+v", types(fs), fs)
	}
	if fs := phone.send(t, s.Harness, `{"action":"sendPublic","message":"signed in again"}`); !gotPublic(fs, "signed in again") {
		t.Errorf("the reauthed phone's send: %+v (closed %v)", fs, s.GW.Closed())
	}
}

// signOutEverywhere from a connection a sign-out everywhere already ended
// is refused: it must not sign out the devices signed in since.
func TestSignOutEverywhereFromAnAlreadySignedOutDeviceSignsNothingOut(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	const room = "signed-out-twice"
	now := s.Now()
	old := authorized(t, s, s.pool.Token(now.Add(-time.Minute), "sub-alice", "alice"), room)
	s.Settle()
	at := now
	if _, err := s.Store.SignOut(context.Background(), "sub-alice", at); err != nil {
		t.Fatal(err)
	}
	s.Advance(2 * time.Second)
	fresh := authorized(t, s, s.pool.Token(s.Now(), "sub-alice", "alice"), room)
	s.Settle()
	fs := old.send(t, s.Harness, `{"action":"signOutEverywhere","ref":"o1"}`)
	if len(fs) != 1 || fs[0].Code != contract.CodeSignedOut {
		t.Errorf("the signed-out device's signOutEverywhere was answered %+v", fs)
	}
	a, err := s.Store.Account(context.Background(), "sub-alice")
	if err != nil {
		t.Fatal(err)
	}
	if closed := s.GW.Closed(); !a.SignedOutAt.Equal(at.Truncate(time.Millisecond)) || slices.Contains(closed, fresh.id) {
		t.Errorf("signed out at %v (want %v), closed %v (the fresh device %s must stay)", a.SignedOutAt, at, closed, fresh.id)
	}
}

// A frame that meets a connection past its grace closes it and is itself
// refused: neither stored nor sent (the close used to let the frame on to
// its handler, whose reads still found the record: API Gateway runs the
// $disconnect only later).
func TestAFramePastTheGraceClosesTheConnectionAndIsNeitherStoredNorSent(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "past-grace-frame"
	now := h.Now()
	phone := newSignedConn("alice", now.Add(-14*time.Minute), now.Add(time.Minute))
	phone.connect(t, h, room, true)
	bob := h.JoinAs("bob", room)
	h.Settle()
	inbox(t, h, bob)
	h.Advance(time.Minute + chat.DefaultReauthGrace + time.Second)
	phone.send(t, h, `{"action":"sendPublic","message":"past the grace"}`)
	if !slices.Contains(h.GW.Closed(), phone.id) {
		t.Errorf("closed %v, want the phone", h.GW.Closed())
	}
	if gotPublic(inbox(t, h, bob), "past the grace") {
		t.Error("bob got the message of a connection past its grace")
	}
	for _, e := range state(t, h, bob).History {
		if e.Message == "past the grace" {
			t.Errorf("the message of a connection past its grace was stored: %+v", e)
		}
	}
}
