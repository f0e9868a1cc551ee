package chat_test

// hunt24c: edit under clocks that disagree. Lambdas read their own clocks;
// a page keeps the edit with the latest edited time it was told (an older
// one changes nothing), so the store must never give a later edit an
// earlier edited time than the one it replaced.

import (
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

func TestHunt24CAnEditStampedByAClockBehindTheLastEditIsStillTheLatestOnEveryPage(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24c-skew"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	msg := say(t, h, bob, "at 5", alice)
	h.Advance(time.Minute)
	first := only(t, editFrom(t, h, bob, msg, "at 6"), "edited")
	inbox(t, h, alice)
	// bob's phone edits again; its invocation runs where the clock is 2 s
	// behind the one that made the first edit.
	h.Advance(-2 * time.Second)
	second := only(t, editFrom(t, h, bob, msg, "at 7"), "edited")
	told := only(t, inbox(t, h, alice), "edited")
	if e := historyEntry(t, h, alice, msg); e.Message != "at 7" {
		t.Fatalf("history gives %+v, want the second edit's text", e)
	}
	// alice's page applies an edited frame only when its edited time is
	// after the one it shows (messagelog.ts edited()).
	if told.Edited <= first.Edited || second.Edited <= first.Edited {
		t.Errorf("the second edit was told edited %d, the first %d: alice's page keeps %q while history gives %q",
			told.Edited, first.Edited, "at 6", "at 7")
	}
}
