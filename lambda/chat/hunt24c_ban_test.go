package chat_test

// hunt24c: a ban racing a $connect of the banned account (ban24's marks:
// a banned connection gets nothing more of the room and is listed nowhere).

import (
	"bytes"
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Bob's phone connects to the room while a moderator bans him: the phone's
// record is put, then the ban runs whole (it marks and closes the devices
// on bob's item: not the phone's yet), then the phone adds its device. The
// phone must not be left in the room reading it: refused or closed, listed
// by nobody, and alice's next message must not reach it.
func TestHunt24CHeldABanBetweenAConnectsRecordAndItsDeviceLeavesThePhoneOut(t *testing.T) {
	t.Parallel()
	for _, scope := range []string{"room", "env"} {
		t.Run(scope, func(t *testing.T) {
			t.Parallel()
			banBetweenRecordAndDevice(t, scope)
		})
	}
}

func banBetweenRecordAndDevice(t *testing.T, scope string) {
	h := chattest.New(t, chattest.SignedIn)
	room := "h24c-ban-connect-" + scope
	alice, mod := h.JoinAs("alice", room), h.JoinModerator("mod", room)
	h.JoinAs("bob", room)
	h.Settle()
	inbox(t, h, alice)
	h.Settle()
	phone := chattest.NewConnID()
	var fired atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		if w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"d_`+phone+`"`)) &&
			bytes.Contains(w.Body, []byte("ADD #dv")) && fired.CompareAndSwap(false, true) {
			if got := ofType(act(t, h, mod, map[string]any{"action": "ban", "account": "bob", "scope": scope}), "moderated"); len(got) != 1 {
				t.Errorf("the ban was not made")
			}
		}
	}})
	resp := h.ConnectAsID(phone, "bob", "bob", map[string]string{"room": room})
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("the phone's $connect never added its device")
	}
	open := resp.StatusCode == 200 && !slices.Contains(h.GW.Closed(), phone)
	for _, id := range h.GW.Closed() {
		h.Disconnect(id) // API Gateway's $disconnect of each closed connection
	}
	h.Settle()
	inbox(t, h, alice)
	h.GW.Take(phone)
	h.Send(alice, `{"action":"sendPublic","message":"bob is gone"}`)
	if got := ofType(inbox(t, h, phone), "public"); open && len(got) > 0 {
		t.Errorf("bob's phone, banned, got alice's message %q", got[0].Message)
	}
	if s := state(t, h, alice); slices.Contains(s.Members, "bob") || s.Count != len(s.Members) {
		t.Errorf("after the ban alice's room lists %q counting %d", s.Members, s.Count)
	}
	if open && !slices.Contains(h.GW.Closed(), phone) {
		t.Errorf("bob's phone is open after the ban")
	}
}

// As TestHunt24BABannedPersonWhoseCloseWasLostGoesOnReadingTheRoom, but
// alice speaks before the room index has caught up with the ban's marks
// (its entry of bob still shows his sign-in live).
func TestHunt24CHeldABannedConnectionWhoseCloseWasLostGetsNothingFromAStaleIndex(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24c-ban-stale"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	ban := chat.Record{Kind: chat.KindModerated, ID: "01JBBBBBBBBBBBBBBBBBBBBBBC", TS: h.Now(), Room: room, Act: "ban", ToAccounts: []string{"bob"}}
	if _, err := h.Store.Sanction(context.Background(), "bob", chat.Sanction{Kind: chat.SanctionBan, Room: room}, false, ban); err != nil {
		t.Fatal(err)
	}
	inbox(t, h, bob)
	say(t, h, alice, "right after the ban")
	if got := inbox(t, h, bob); gotPublic(got, "right after the ban") {
		t.Errorf("bob, banned, got alice's message sent while the index lagged (got %v)", types(got))
	}
}

// A ban from one room ends bob's sign-in there only: his connection to
// another room goes on getting its messages and stays listed, and after
// an unban he connects to the first room again and reads it.
func TestHunt24CHeldARoomBanLeavesBobsOtherRoomAndAnUnbanLetsHimBack(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room, other = "h24c-ban-a", "h24c-ban-b"
	mod, carol := h.JoinModerator("mod", room), h.JoinAs("carol", other)
	h.JoinAs("bob", room)
	bobB := h.JoinAs("bob", other)
	h.Settle()
	inbox(t, h, mod)
	only(t, act(t, h, mod, map[string]any{"action": "ban", "account": "bob"}), "moderated")
	h.Settle()
	inbox(t, h, bobB)
	say(t, h, carol, "still here, bob?")
	if got := inbox(t, h, bobB); !gotPublic(got, "still here, bob?") || slices.Contains(h.GW.Closed(), bobB) {
		t.Errorf("bob's connection to the other room got %v (closed: %v)", types(got), slices.Contains(h.GW.Closed(), bobB))
	}
	if s := state(t, h, carol); !slices.Contains(s.Members, "bob") {
		t.Errorf("the other room lists %q without bob", s.Members)
	}
	inbox(t, h, mod)
	only(t, act(t, h, mod, map[string]any{"action": "unban", "account": "bob"}), "moderated")
	back, resp := h.ConnectAs("bob", "bob", map[string]string{"room": room})
	if resp.StatusCode != 200 {
		t.Fatalf("bob's $connect after the unban: %d", resp.StatusCode)
	}
	h.Settle()
	inbox(t, h, back)
	say(t, h, mod, "welcome back")
	if got := inbox(t, h, back); !gotPublic(got, "welcome back") {
		t.Errorf("bob, back after the unban, got %v", types(got))
	}
}
