package chat_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// Bob's phone vanished (no close frame, no $disconnect: API Gateway answers
// 410 for it from now on), then a ban marked its record ended. The next
// broadcasts skip it and close it instead of sending to it; the close's 410
// must remove the record as a send's 410 does. Otherwise no $disconnect
// ever comes for it and the room keeps a record of a connection nobody
// holds (the randomized checker's seed 6415999475520: a moderator who
// banned and unbanned himself left his overtaken $connect's record in
// room2 for good).
func TestAVanishedConnectionMarkedEndedIsRemovedByTheNextBroadcast(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "ghost-ended"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	h.GW.Vanish(bob)
	ban := chat.Record{Kind: chat.KindModerated, ID: "01JDDDDDDDDDDDDDDDDDDDDDDD", TS: h.Now(), Room: room, Act: "ban", ToAccounts: []string{"bob"}}
	if _, err := h.Store.Sanction(context.Background(), "bob", chat.Sanction{Kind: chat.SanctionBan, Room: room}, false, ban); err != nil {
		t.Fatal(err)
	}
	h.Advance(time.Minute) // past the stale grace: a send's 410 would remove it now
	h.Settle()
	say(t, h, alice, "anyone here?")
	h.Settle()
	say(t, h, alice, "anyone?")
	h.Settle()
	if _, err := h.Store.GetConnection(context.Background(), bob); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("bob's vanished, banned connection is still recorded after two broadcasts (%v)", err)
	}
	if s := state(t, h, alice); s.Count != 1 {
		t.Errorf("the room counts %d after bob's connection went, lists %q; want 1", s.Count, s.Members)
	}
}
