package chat_test

// hunt24d: a hostile review of issue 24's leftovers (docs/design.md,
// "Moderation on the account item", "Deleting an account").

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// kickedWithCloseLost: carol (a moderator) kicks bob, and the DELETE of
// bob's connection fails (throttled, or the function died after the
// kick's write): bob's connection stays open.
func kickedWithCloseLost(t *testing.T, room string) (h *chattest.Harness, alice, bob, carol string) {
	t.Helper()
	h = chattest.New(t, chattest.SignedIn)
	alice, bob, carol = h.JoinAs("alice", room), h.JoinAs("bob", room), h.JoinModerator("carol", room)
	h.Settle()
	h.GW.LoseClose(bob)
	if got := ofType(act(t, h, carol, map[string]any{"action": "kick", "account": "bob"}), "moderated"); len(got) != 1 {
		t.Fatalf("the kick was not made")
	}
	if closed(h, bob) {
		t.Fatal("bob's close was not lost")
	}
	h.Settle() // the room index has caught up with the kick
	inbox(t, h, bob)
	inbox(t, h, alice)
	return h, alice, bob, carol
}

// A kicked connection whose close was lost must not go on speaking in the
// room: its next frame is refused, and it is closed, as a banned one's is.
func TestHunt24DAKickedConnectionWhoseCloseWasLostIsRefusedAndClosed(t *testing.T) {
	t.Parallel()
	h, alice, bob, _ := kickedWithCloseLost(t, "h24d-kick-send")
	got := act(t, h, bob, map[string]any{"action": "sendPublic", "message": "still here"})
	if len(ofType(got, "error")) != 1 || !closed(h, bob) {
		t.Errorf("bob, kicked, sent a message: got %v, closed %v; want an error, closed", types(got), closed(h, bob))
	}
	if gotPublic(inbox(t, h, alice), "still here") {
		t.Errorf("alice got bob's message after his kick")
	}
}

// Nor go on reading it: the room's next message does not reach it (it is
// closed instead), and no member list shows it.
func TestHunt24DAKickedConnectionWhoseCloseWasLostGetsNothingAndIsNotListed(t *testing.T) {
	t.Parallel()
	h, alice, bob, _ := kickedWithCloseLost(t, "h24d-kick-read")
	say(t, h, alice, "after the kick")
	h.Settle()
	if got := inbox(t, h, bob); gotPublic(got, "after the kick") {
		t.Errorf("bob, kicked, got alice's message after the kick (got %v)", types(got))
	}
	if !closed(h, bob) {
		t.Errorf("bob, kicked, is still open after the room's next message")
	}
	if s := state(t, h, alice); slices.Contains(s.Members, "bob") {
		t.Errorf("the room still lists bob after his kick: %q", s.Members)
	}
}

// A deletion killed right after its sign-out leaves dave's account intact
// and signed out. Within the deletion's life his own deleteAccount runs it
// too (TestHunt24CHeldTheOperatorsDeletionAndDavesOwnAtOnceConverge); past
// it, a connection the sign-out ended (a laptop left somewhere) cannot
// delete the account, as after a sign-out everywhere.
func TestHunt24DAConnectionEndedByADeletionKilledLongAgoCannotDeleteTheAccount(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	laptop := h.JoinAs("dave", "h24d-del-killed")
	if _, err := h.Store.SignOutToDelete(context.Background(), "dave", "", h.Now()); err != nil {
		t.Fatal(err)
	}
	h.Advance(contract.FunctionTimeout + time.Second)
	got := act(t, h, laptop, map[string]any{"action": "deleteAccount", "ref": "d1"})
	if deleted(t, h, "dave") || !slices.ContainsFunc(got, func(f frame) bool { return f.Code == contract.CodeSignedOut }) {
		t.Errorf("the laptop's deleteAccount after a deletion killed %v ago got %v, deleted %v; want signed_out, not deleted",
			contract.FunctionTimeout, types(got), deleted(t, h, "dave"))
	}
}
