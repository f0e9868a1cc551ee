package chat_test

// Hostile review of issue 24's moderation acts, operator events and account
// deletion (second pass): findings. What held is in hunt24b_held_test.go.

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

// Bob is muted in the room; his page still sends typing while he types
// (typing.ts sends it whenever the box has text). The others must not see
// "bob is typing…" from someone who cannot send: a mute refuses his sends,
// and typing is the room being told he is about to. Nothing is answered
// (typing never is), nothing reaches the room.
func TestHunt24BAMutedAccountIsNotShownTypingToTheRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24b-muted-typing"
	mod, bob, bobPhone, carol := h.JoinModerator("mod", room), h.JoinAs("bob", room), h.JoinAs("bob", room), h.JoinAs("carol", room)
	h.Settle()
	inbox(t, h, mod)
	only(t, act(t, h, mod, map[string]any{"action": "mute", "account": "bob", "minutes": 5}), "moderated")
	for _, id := range []string{bob, bobPhone, carol} {
		inbox(t, h, id)
	}
	for _, id := range []string{bob, bobPhone} {
		if resp := h.Send(id, `{"action":"typing"}`); resp != "" {
			t.Errorf("a muted device's typing was answered %s, want nothing", resp)
		}
	}
	for _, id := range []string{mod, carol} {
		if got := typings(inbox(t, h, id)); len(got) != 0 {
			t.Errorf("%s was told a muted account is typing: %+v", id, got)
		}
	}
	// Once the mute is lifted his typing reaches the room again.
	only(t, act(t, h, mod, map[string]any{"action": "unmute", "account": "bob"}), "moderated")
	inbox(t, h, carol)
	h.Send(bob, `{"action":"typing"}`)
	if got := typings(inbox(t, h, carol)); len(got) != 1 || got[0].Account != "bob" {
		t.Errorf("after the unmute carol got typing frames %+v, want one from bob", got)
	}
}

// A ban's close is lost: the moderator's invocation was killed right after
// the ban's transaction (the moderator's page does not send the act again
// by itself), or DELETE @connections was throttled, or bob's connection was
// opening (410). Bob's page never sends a frame: he reads the room. The
// docs say "a banned account sends nothing more", and the room must not go
// on listing him and delivering him every message for up to API Gateway's
// 2 hours. He stayed listed and got each message until he sent a frame;
// now the ban's transaction ends his records' sign-in (docs/design.md, "A
// ban ends the sign-in of its connections"): the room's next message skips
// and closes him, and no list shows him.
func TestHunt24BABannedPersonWhoseCloseWasLostGoesOnReadingTheRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24b-ban-lost-close"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	// What a ban killed after its transaction leaves: the ban on bob's
	// item and its record, nothing told, nothing closed.
	ban := chat.Record{Kind: chat.KindModerated, ID: "01JBBBBBBBBBBBBBBBBBBBBBBB", TS: h.Now(), Room: room, Act: "ban", ToAccounts: []string{"bob"}}
	if _, err := h.Store.Sanction(context.Background(), "bob", chat.Sanction{Kind: chat.SanctionBan, Room: room}, false, ban); err != nil {
		t.Fatal(err)
	}
	h.Settle() // the room index has caught up with the ban
	inbox(t, h, bob)
	say(t, h, alice, "after the ban")
	h.Settle()
	if got := inbox(t, h, bob); gotPublic(got, "after the ban") && !closed(h, bob) {
		t.Errorf("bob, banned, got alice's message after the ban and is still open (got %v)", types(got))
	}
	if s := state(t, h, alice); slices.Contains(s.Members, "bob") {
		t.Errorf("the room still lists bob after his ban: %q", s.Members)
	}
}

// Bob's phone, banned from the room with its close lost, only reads: the
// one frame it sends is the page's reauth, with a fresh token, before its
// sign-in ends. Answered reauthed, the banned connection would read the
// room for API Gateway's 2 hours; it must be answered banned and closed,
// its sign-in not renewed.
func TestHunt24BABannedConnectionCannotRenewItsSignIn(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	const room = "h24b-ban-reauth"
	now := s.Now()
	phone := authorized(t, s, s.pool.Token(now.Add(-time.Minute), "sub-bob", "bob"), room)
	s.Settle()
	ban := chat.Record{Kind: chat.KindModerated, ID: "01JCCCCCCCCCCCCCCCCCCCCCCC", TS: s.Now(), Room: room, Act: "ban", ToAccounts: []string{"sub-bob"}}
	if _, err := s.Store.Sanction(context.Background(), "sub-bob", chat.Sanction{Kind: chat.SanctionBan, Room: room}, false, ban); err != nil {
		t.Fatal(err)
	}
	inbox(t, s.Harness, phone.id)
	body, _ := json.Marshal(map[string]string{"action": contract.ActionReauth,
		"token": s.pool.Token(s.Now().Add(2*time.Second), "sub-bob", "bob")})
	fs := phone.send(t, s.Harness, string(body))
	if len(fs) != 1 || fs[0].Code != contract.CodeBanned || !closed(s.Harness, phone.id) {
		t.Errorf("a banned connection's reauth got %v %+v, closed %v: want banned, closed", types(fs), fs, closed(s.Harness, phone.id))
	}
}
