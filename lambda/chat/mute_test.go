package chat_test

import (
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// A muted account's sends in the room (public, private, a rename) are
// refused muted with the time left; elsewhere it sends; the mute ends by
// itself, or when lifted.
func TestAMutedAccountsSendsAreRefusedWithTheTimeLeftUntilTheMuteEnds(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "mute-room"
	mod, bob, bobElsewhere := h.JoinModerator("mod", room), h.JoinAs("bob", room), h.JoinAs("bob", "mute-other")
	h.Settle()
	inbox(t, h, mod)
	inbox(t, h, bob)
	got := only(t, act(t, h, mod, map[string]any{"action": "mute", "account": "bob", "minutes": 5, "reason": "flood", "ref": "m"}), "moderated")
	if got.Act != "mute" || got.Room != room || got.Until == 0 || got.Ref != "m" {
		t.Errorf("the moderator's answer %+v", got)
	}
	if told := only(t, inbox(t, h, bob), "moderated"); told.Act != "mute" || told.Until != got.Until || told.Reason != "flood" || told.Ref != "" {
		t.Errorf("bob was told %+v", told)
	}
	for _, body := range []string{`{"action":"sendPublic","message":"hi"}`, `{"action":"sendPrivate","to":["mod"],"message":"hi"}`,
		`{"action":"setName","name":"Robert"}`} {
		e := sendErr(t, h, bob, body)
		if e.Code != contract.CodeMuted || e.RetryAfterMs <= 4*60*1000 || e.RetryAfterMs > 5*60*1000 || e.Message != "A moderator muted you in this room for 5 minutes more." {
			t.Errorf("%s while muted: %+v", body, e)
		}
	}
	if fs := inbox(t, h, mod); len(fs) != 0 {
		t.Errorf("the room got %v from a muted account", types(fs))
	}
	say(t, h, bobElsewhere, "in another room")
	h.Advance(4 * time.Minute)
	if e := sendErr(t, h, bob, `{"action":"sendPublic","message":"hi"}`); e.Code != contract.CodeMuted || e.Message != "A moderator muted you in this room for 1 minute more." {
		t.Errorf("a minute before the end: %+v", e)
	}
	h.Advance(time.Minute + time.Second)
	say(t, h, bob, "free again", mod)
	// Muted again, then lifted.
	only(t, act(t, h, mod, map[string]any{"action": "mute", "account": "bob", "minutes": 60}), "moderated")
	inbox(t, h, bob)
	if e := sendErr(t, h, bob, `{"action":"sendPublic","message":"hi"}`); e.Code != contract.CodeMuted {
		t.Fatalf("muted again: %+v", e)
	}
	only(t, act(t, h, mod, map[string]any{"action": "unmute", "account": "bob"}), "moderated")
	if told := only(t, inbox(t, h, bob), "moderated"); told.Act != "unmute" {
		t.Errorf("bob was told %+v", told)
	}
	say(t, h, bob, "lifted", mod)
	var acts []string
	for _, r := range moderated(t, h, room) {
		acts = append(acts, r.Act)
	}
	if len(acts) != 3 || acts[0] != "mute" || acts[1] != "mute" || acts[2] != "unmute" {
		t.Errorf("the activity %v", acts)
	}
}

// A kick closes the account's connections in the room only; it may come
// back at once.
func TestAKickClosesTheAccountsConnectionsInTheRoomAndItMayComeBack(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "kick-room"
	mod := h.JoinModerator("mod", room)
	laptop, phone, elsewhere := h.JoinAs("bob", room), h.JoinAs("bob", room), h.JoinAs("bob", "kick-other")
	h.Settle()
	inbox(t, h, mod)
	got := only(t, act(t, h, mod, map[string]any{"action": "kick", "account": "bob", "reason": "cool off"}), "moderated")
	if got.Act != "kick" || got.Account != "bob" || got.Room != room || got.Until != 0 {
		t.Errorf("the moderator's answer %+v", got)
	}
	if !closed(h, laptop) || !closed(h, phone) || closed(h, elsewhere) || closed(h, mod) {
		t.Errorf("closed %v, want bob's two in the room", h.GW.Closed())
	}
	if recs := moderated(t, h, room); len(recs) != 1 || recs[0].Act != "kick" || recs[0].Reason != "cool off" || recs[0].From != "mod" {
		t.Errorf("the activity %+v", recs)
	}
	h.Disconnect(laptop)
	h.Disconnect(phone)
	if st := connectTo(h, "bob", room); st != 200 {
		t.Errorf("bob's $connect after the kick: %d, want 200", st)
	}
}
