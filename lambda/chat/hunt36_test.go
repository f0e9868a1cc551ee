package chat_test

// hunt36: the promise of f014553 (docs/design.md, Fan-out: "The sender's
// own copy goes last"): a page that has its answer knows every other reader
// was sent the frame. These tests look for answers that still go out before
// other readers were sent the frame.

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/local/ddbproxy"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// h36Frames decodes frames.
func h36Frames(t *testing.T, raw []json.RawMessage) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range raw {
		var m map[string]any
		if err := json.Unmarshal(r, &m); err != nil {
			t.Fatalf("frame %s: %v", r, err)
		}
		out = append(out, m)
	}
	return out
}

func h36Has(fs []map[string]any, typ string, ref string) bool {
	return slices.ContainsFunc(fs, func(f map[string]any) bool {
		r, _ := f["ref"].(string)
		return f["type"] == typ && (ref == "" || r == ref)
	})
}

// Alice is signed in on her laptop in the lobby (with bob) and on her phone
// in the annex (with carol). She renames herself from her laptop. Each room
// where she has a device is told in its own broadcast, one after the other,
// and the laptop's copy (her answer, with its ref) is the last post of the
// lobby's broadcast only: it goes out before the annex was told. An
// invocation ended right after it (its timeout, an out-of-memory kill:
// what TestEveryPostCrashPointKeepsTheInvariants kills at) leaves her laptop
// answered (no retry comes) while carol's page and alice's own phone keep
// showing "alice" for good.
func TestARenamesAnswerGoesOutAfterEveryOtherRoomWasTold(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (h *chattest.Harness, laptop, phone, bob, carol string) {
		h = chattest.New(t, chattest.SignedIn, func(o *chat.Options) { o.PoolSize = 1 })
		// The account's devices are taken in the order of their ids: the
		// laptop's room is told first.
		laptop, phone = "AAAAAAAAAAAAAAA=", "zzzzzzzzzzzzzzw="
		if resp := h.ConnectAsID(laptop, "alice", "alice", map[string]string{"room": "lobby"}); resp.StatusCode != 200 {
			t.Fatalf("laptop: %d %s", resp.StatusCode, resp.Body)
		}
		bob = h.JoinAs("bob", "lobby")
		if resp := h.ConnectAsID(phone, "alice", "alice", map[string]string{"room": "annex"}); resp.StatusCode != 200 {
			t.Fatalf("phone: %d %s", resp.StatusCode, resp.Body)
		}
		carol = h.JoinAs("carol", "annex")
		h.Settle()
		for _, id := range []string{laptop, phone, bob, carol} {
			h.GW.Take(id)
		}
		return
	}
	body := `{"action":"setName","name":"alicia","ref":"r-rename"}`

	// Not killed: the order of the posts.
	h, laptop, _, _, _ := setup(t)
	all := h.CutAtPost(-1, func(ctx context.Context) { h.SendCtx(ctx, laptop, body) })
	posts := all.Posts()
	i := slices.Index(posts, laptop)
	if i < 0 {
		t.Fatalf("the laptop was never posted its answer: posts %v", posts)
	}
	t.Logf("posts in order: %v (laptop at %d)", posts, i)

	// Killed right after the laptop's answer went out.
	h, laptop, phone, bob, carol := setup(t)
	crash := h.CutAtPost(i+1, func(ctx context.Context) { h.SendCtx(ctx, laptop, body) })
	killed, next := crash.Killed()
	t.Logf("killed %v, stopped %s", killed, next)
	answered := h36Has(h36Frames(t, h.GW.Take(laptop)), "renamed", "r-rename")
	if !answered {
		t.Skipf("the laptop was not answered: its page sends setName again (no finding here)")
	}
	var untold []string
	for _, who := range []struct{ name, id string }{{"bob", bob}, {"carol", carol}, {"alice's phone", phone}} {
		if !h36Has(h36Frames(t, h.GW.Take(who.id)), "renamed", "") {
			untold = append(untold, who.name)
		}
	}
	// Later, alice speaks from her phone (its invocation finishes what the
	// rename left): the annex is still not told.
	h.Send(phone, `{"action":"sendPublic","message":"hello from my phone"}`)
	h.Settle()
	carolLater := h36Frames(t, h.GW.Take(carol))
	t.Logf("carol's frames after alice spoke from her phone: %v", carolLater)
	if len(untold) > 0 && !h36Has(carolLater, "renamed", "") {
		t.Errorf("alice's laptop got the answer to her rename (renamed with its ref: its page sends nothing again), "+
			"but %v were never sent renamed: their pages keep showing \"alice\" (posts before the kill: %v); "+
			"carol is still not told after alice spoke from her phone", untold, crash.Posts())
	}
}

// The member list's read of a broadcast ends late: 400 ms before the
// invocation's deadline, past the fan-out's cut-off (the deadline less the
// 500 ms margin) and before the answer's (less half of it). Every other
// copy is given up at the cut-off, unposted, and the sender's own copy,
// now on answerContext, still goes out: alice's page shows "hi all" sent
// and sends nothing again, and bob and carol never see it (live). Before
// f014553 her copy was on the cut-off's context too: nobody got it, and
// her page was left unanswered, as the room. docs/design.md promises
// "a page that has its answer knows every other reader was sent the frame".
func TestNoAnswerGoesToTheSenderAloneWhenTheRoomWasGivenUpAtTheCutOff(t *testing.T) {
	t.Parallel()
	const margin = 500 * time.Millisecond
	clock := &chattest.DeadlineClock{}
	h := chattest.New(t, func(o *chat.Options) { o.DeadlineClock, o.DeadlineMargin = clock, margin })
	alice, bob, carol := h.Join("alice", "r1"), h.Join("bob", "r1"), h.Join("carol", "r1")
	h.Settle()
	for _, id := range []string{alice, bob, carol} {
		h.GW.Take(id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var armed atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{Drop: func(w ddbproxy.Write) bool {
		if armed.Load() && w.Op == "Query" && bytes.Contains(w.Body, []byte(contract.RoomIndex)) {
			// The read answers, slowly: it ends 400 ms before the deadline.
			clock.AdvanceTo(deadline.Add(-400 * time.Millisecond))
		}
		return false
	}})
	defer h.DynamoDB.Restore()
	armed.Store(true)
	h.SendCtx(ctx, alice, `{"action":"sendPublic","message":"hi all","ref":"p1"}`)
	armed.Store(false)
	answered := h36Has(h36Frames(t, h.GW.Take(alice)), "public", "p1")
	var missing []string
	for _, who := range []struct{ name, id string }{{"bob", bob}, {"carol", carol}} {
		if !h36Has(h36Frames(t, h.GW.Take(who.id)), "public", "") {
			missing = append(missing, who.name)
		}
	}
	if answered && len(missing) > 0 {
		t.Errorf("alice's page got her echo (ref p1: shown sent, never sent again), but %v never got \"hi all\": "+
			"the others were given up at the cut-off and her answer went out after it", missing)
	}
}
