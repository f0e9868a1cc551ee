package chat_test

// A ban ends the sign-in of the account's connection records it concerns
// (docs/design.md, "A ban ends the sign-in of its connections"): every
// room for an environment ban, never renewed by a reauth, never the
// actor's own connection.

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// Bob is banned from the whole environment and every close is lost: in
// each of his two rooms the next message skips him and closes him, and
// the room lists him no more.
func TestAnEnvironmentBanWhoseClosesWereLostEndsBobInEveryRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	rooms := []string{"envban-one", "envban-two"}
	var speakers, bobs []string
	for _, room := range rooms {
		speakers = append(speakers, h.JoinAs("alice", room))
		bobs = append(bobs, h.JoinAs("bob", room))
	}
	h.Settle()
	ban := chat.Record{Kind: chat.KindModerated, ID: "01JEEEEEEEEEEEEEEEEEEEEEEE", TS: h.Now(), Act: "ban", ToAccounts: []string{"bob"}}
	if _, err := h.Store.Sanction(context.Background(), "bob", chat.Sanction{Kind: chat.SanctionBan}, false, ban); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	for i, room := range rooms {
		inbox(t, h, bobs[i])
		say(t, h, speakers[i], "in "+room)
		if gotPublic(inbox(t, h, bobs[i]), "in "+room) || !closed(h, bobs[i]) {
			t.Errorf("bob in %s: got the message after his environment ban, or is still open (closed %v)", room, h.GW.Closed())
		}
		if s := state(t, h, speakers[i]); slices.Contains(s.Members, "bob") {
			t.Errorf("%s still lists bob after his environment ban: %q", room, s.Members)
		}
	}
}

// A reauth that read the account before the ban and renews the record
// after it must not undo the ban's mark: the renewal leaves the record as
// the ban left it, and the room's next message still closes bob.
func TestARenewalAfterABanLeavesTheBansMark(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "banmark-reauth"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	ban := chat.Record{Kind: chat.KindModerated, ID: "01JFFFFFFFFFFFFFFFFFFFFFFF", TS: h.Now(), Room: room, Act: "ban", ToAccounts: []string{"bob"}}
	if _, err := h.Store.Sanction(context.Background(), "bob", chat.Sanction{Kind: chat.SanctionBan, Room: room}, false, ban); err != nil {
		t.Fatal(err)
	}
	// The reauth's renewal, landing after the ban.
	c, err := h.Store.Reauthed(context.Background(), bob, h.Now().Add(time.Hour), h.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthExpiresAt.After(h.Now()) {
		t.Errorf("a renewal after the ban renewed bob's sign-in to %v", c.AuthExpiresAt)
	}
	h.Settle()
	inbox(t, h, bob)
	say(t, h, alice, "after the renewal")
	if gotPublic(inbox(t, h, bob), "after the renewal") || !closed(h, bob) {
		t.Errorf("bob, banned, got the room's message after a renewal, or is still open (closed %v)", h.GW.Closed())
	}
}

// A moderator who bans their own account from the room by mistake keeps
// the connection they banned from (to unban): the ban's mark is not put on
// it, and the room's next message still reaches it.
func TestAModeratorWhoBansThemselvesKeepsTheConnectionTheyActedFrom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "banmark-self"
	mod, bob := h.JoinModerator("mod", room), h.JoinAs("bob", room)
	h.Settle()
	inbox(t, h, mod)
	only(t, act(t, h, mod, map[string]any{"action": "ban", "account": "mod"}), "moderated")
	h.Settle()
	inbox(t, h, mod)
	say(t, h, bob, "still there?")
	if !gotPublic(inbox(t, h, mod), "still there?") || closed(h, mod) {
		t.Errorf("the moderator's own connection missed the message or was closed (closed %v)", h.GW.Closed())
	}
	only(t, act(t, h, mod, map[string]any{"action": "unban", "account": "mod"}), "moderated")
}
