package chat_test

// Hostile review of issue 24 (second pass): moderation acts on an account
// with three devices, while they send and connect.

import (
	"fmt"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// Bob has three devices in the room, all sending while a moderator mutes
// him, then bans him from the environment while a fourth connects. After
// the mute's answer no device of his gets a message through; after the
// ban's, every device of his is closed (or closed at its next frame, which
// is not stored), and neither a reconnect to the room nor to another room
// gets in.
func TestHunt24BHeldThreeDevicesSendingThroughAMuteAndABanGetNothingThroughAfterIt(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24b-three"
	mod, alice := h.JoinModerator("mod", room), h.JoinAs("alice", room)
	bobs := []string{h.JoinAs("bob", room), h.JoinAs("bob", room), h.JoinAs("bob", room)}
	h.Settle()
	inbox(t, h, mod)
	var wg sync.WaitGroup
	for i, id := range bobs {
		wg.Go(func() {
			for j := range 4 {
				h.Send(id, fmt.Sprintf(`{"action":"sendPublic","message":"before %d.%d"}`, i, j))
			}
		})
	}
	moderatedIn(t, act(t, h, mod, map[string]any{"action": "mute", "account": "bob", "minutes": 10}))
	wg.Wait()
	inbox(t, h, alice)
	for i, id := range bobs {
		inbox(t, h, id)
		if e := sendErr(t, h, id, fmt.Sprintf(`{"action":"sendPublic","message":"after mute %d"}`, i)); e.Code != contract.CodeMuted {
			t.Errorf("bob's device %d after the mute's answer: %+v, want muted", i, e)
		}
	}
	if got := inbox(t, h, alice); len(got) != 0 {
		t.Errorf("alice got %v from bob after his mute", types(got))
	}

	var fourth string
	var status int
	wg.Go(func() {
		id, r := h.ConnectAs("bob", "bob", map[string]string{"room": room})
		fourth, status = id, r.StatusCode
	})
	for i, id := range bobs {
		wg.Go(func() { h.Send(id, fmt.Sprintf(`{"action":"typing","ref":"t%d"}`, i)) })
	}
	inbox(t, h, mod)
	moderatedIn(t, act(t, h, mod, map[string]any{"action": "ban", "account": "bob", "scope": "env"}))
	wg.Wait()
	h.Settle()
	open := append([]string{}, bobs...)
	if status == 200 {
		open = append(open, fourth)
	}
	for i, id := range open {
		if closed(h, id) {
			continue
		}
		inbox(t, h, alice)
		text := fmt.Sprintf("after ban %d", i)
		h.Send(id, `{"action":"sendPublic","message":"`+text+`"}`)
		if gotPublic(inbox(t, h, alice), text) || !closed(h, id) {
			t.Errorf("bob's device %s, open after the ban, posted or stayed open", id)
		}
	}
	for _, r := range []string{room, "h24b-elsewhere"} {
		if st := connectTo(h, "bob", r); st != 403 {
			t.Errorf("bob's $connect to %s after the environment ban: %d, want 403", r, st)
		}
	}
}

// moderatedIn fails unless the frames a moderator got hold its act's
// answer (others' messages may come with it).
func moderatedIn(t *testing.T, fs []frame) {
	t.Helper()
	for _, f := range fs {
		if f.Type == contract.FrameModerated {
			return
		}
	}
	t.Fatalf("the moderator got %v, want its act's moderated", types(fs))
}
