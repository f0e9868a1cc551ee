package chat_test

// Private deliveries follow the rule public ones follow: a connection past
// its sign-in and the grace, or banned from the room with its close lost,
// is not sent the copy (and is closed); the recipient's other, live device
// is.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/groupchat/groupchat/lambda/chat"
)

func gotPrivate(fs []frame, text string) bool {
	return slices.ContainsFunc(fs, func(f frame) bool { return f.Type == "private" && f.Message == text })
}

// Bob's phone slept past its sign-in and the grace: it sends nothing, so
// nothing of its own closes it. Alice writes to bob privately: his laptop,
// signed in, gets the copy; the phone does not, and is closed, as a public
// message's fan-out would have closed it. Real tokens, checked by the
// verifier at the authorizer.
func TestAPrivateMessageSkipsTheRecipientsDevicePastItsSignInAndReachesHisLiveOne(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	const room = "private-past-grace"
	now := s.Now()
	alice := authorized(t, s, s.pool.Token(now, "sub-alice", "alice"), room)
	phone := authorized(t, s, s.pool.Token(now.Add(time.Minute-time.Hour), "sub-bob", "bob"), room) // expires in a minute
	laptop := authorized(t, s, s.pool.Token(now, "sub-bob", "bob"), room)
	s.Settle()
	s.Advance(time.Minute + chat.DefaultReauthGrace + time.Second)
	for _, c := range []signedConn{alice, phone, laptop} {
		inbox(t, s.Harness, c.id)
	}
	if fs := alice.send(t, s.Harness, `{"action":"sendPrivate","to":["bob"],"message":"just us"}`); !gotPrivate(fs, "just us") {
		t.Fatalf("alice's private message got %v %+v, want her copy", types(fs), fs)
	}
	if fs := inbox(t, s.Harness, laptop.id); !gotPrivate(fs, "just us") {
		t.Errorf("bob's live laptop got %v, want the private message", types(fs))
	}
	if fs := inbox(t, s.Harness, phone.id); gotPrivate(fs, "just us") {
		t.Errorf("bob's phone, past its sign-in and the grace, got the private message")
	}
	if !closed(s.Harness, phone.id) {
		t.Errorf("bob's phone past the grace was not closed (closed: %v)", s.GW.Closed())
	}
}

// Bob is banned from the room and the ban's close was lost. A private
// message to him in that room reaches none of his connections there, as
// the room's public messages do not, and re-attempts their close.
func TestAPrivateMessageDoesNotReachABannedConnectionWhoseCloseWasLost(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	const room = "private-banned"
	now := s.Now()
	alice := authorized(t, s, s.pool.Token(now, "sub-alice", "alice"), room)
	bob := authorized(t, s, s.pool.Token(now, "sub-bob", "bob"), room)
	s.Settle()
	ban := chat.Record{Kind: chat.KindModerated, ID: "01JDDDDDDDDDDDDDDDDDDDDDDD", TS: s.Now(), Room: room, Act: "ban", ToAccounts: []string{"sub-bob"}}
	if _, err := s.Store.Sanction(context.Background(), "sub-bob", chat.Sanction{Kind: chat.SanctionBan, Room: room}, false, ban); err != nil {
		t.Fatal(err)
	}
	s.Settle()
	inbox(t, s.Harness, bob.id)
	alice.send(t, s.Harness, `{"action":"sendPrivate","to":["bob"],"message":"still there?"}`)
	if fs := inbox(t, s.Harness, bob.id); gotPrivate(fs, "still there?") {
		t.Errorf("bob, banned from the room, got a private message in it")
	}
	if !closed(s.Harness, bob.id) {
		t.Errorf("bob's banned connection was not closed (closed: %v)", s.GW.Closed())
	}
}

// Alice edits a private message to bob after his phone slept past its
// sign-in and the grace: the new text reaches his laptop, not the phone,
// which is closed, as the message itself would have been.
func TestAnEditOfAPrivateMessageSkipsTheRecipientsDevicePastItsSignIn(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	const room = "private-edit-past-grace"
	now := s.Now()
	alice := authorized(t, s, s.pool.Token(now, "sub-alice", "alice"), room)
	phone := authorized(t, s, s.pool.Token(now.Add(time.Minute-time.Hour), "sub-bob", "bob"), room) // expires in a minute
	laptop := authorized(t, s, s.pool.Token(now, "sub-bob", "bob"), room)
	s.Settle()
	var id string
	for _, f := range alice.send(t, s.Harness, `{"action":"sendPrivate","to":["bob"],"message":"just us"}`) {
		if f.Type == "private" {
			id = f.ID
		}
	}
	if id == "" {
		t.Fatal("alice's private message was not sent")
	}
	s.Advance(time.Minute + chat.DefaultReauthGrace + time.Second)
	inbox(t, s.Harness, phone.id)
	inbox(t, s.Harness, laptop.id)
	alice.send(t, s.Harness, fmt.Sprintf(`{"action":"edit","id":%q,"message":"just us, edited"}`, id))
	edited := func(fs []frame) bool {
		return slices.ContainsFunc(fs, func(f frame) bool { return f.Type == "edited" && f.Message == "just us, edited" })
	}
	if fs := inbox(t, s.Harness, laptop.id); !edited(fs) {
		t.Errorf("bob's live laptop got %v, want the edit", types(fs))
	}
	if edited(inbox(t, s.Harness, phone.id)) {
		t.Errorf("bob's phone, past its sign-in and the grace, got the edited private text")
	}
	if !closed(s.Harness, phone.id) {
		t.Errorf("bob's phone past the grace was not closed (closed: %v)", s.GW.Closed())
	}
}
