package chattest

import (
	"context"
	"strings"
	"testing"
)

// copies counts the frames holding text each connection was posted.
func copies(h *Harness, ids []string, text string) map[string]int {
	n := map[string]int{}
	for _, id := range ids {
		for _, f := range h.GW.Take(id) {
			if strings.Contains(string(f), text) {
				n[id]++
			}
		}
	}
	return n
}

// A shard is run later, on an environment of its own; an attempt killed
// after its post is run again (the member has it twice on the wire, which
// MayRepeat admits), and a refused Invoke's slice is delivered by the
// sender.
func TestShardsRunLaterRetryAKilledAttemptAndLeaveARefusedSliceToTheSender(t *testing.T) {
	t.Parallel()
	h, room, sender := bigRoomWithSender(t, 2)
	before, calls := len(h.Shards.Runs()), len(h.Shards.Calls())
	refused := room[1]
	h.Shards.Invoke = func(c ShardCall) InvokeAnswer {
		if c.Event.Members[0].ConnID == refused {
			return InvokeRefused
		}
		return InvokeAccepted
	}
	h.Shards.Kill = func(r ShardRun) int {
		if r.Attempt == 1 {
			return 1 // after its one post: killed at its return
		}
		return -1
	}
	h.Send(sender, `{"action":"sendPublic","message":"hello big room","ref":"s1"}`)
	if n := h.Shards.Pending(); n != 1 {
		t.Fatalf("%d shards wait to run; want 1 (one slice queued, one refused)", n)
	}
	if got := copies(h, []string{room[0]}, "hello big room"); got[room[0]] != 0 {
		t.Errorf("the shard's member had the message before the shard ran")
	}
	h.Shards.Run()
	got := copies(h, append(room, sender), "hello big room")
	if got[room[0]] != 2 || got[refused] != 1 || got[sender] != 1 {
		t.Errorf("copies %v; want 2 for the retried shard's member, 1 for the refused slice's and the sender's", got)
	}
	runs := h.Shards.Runs()[before:]
	if len(runs) != 2 || !runs[0].Killed || runs[1].Killed || runs[1].Attempt != 2 || len(runs[0].Ops) != 1 {
		t.Errorf("runs %+v; want the first attempt killed after its post, the second whole", runs)
	}
	frame := h.Shards.Calls()[calls].Event.Frame
	if !h.Shards.MayRepeat(room[0], frame) || h.Shards.MayRepeat(refused, frame) {
		t.Errorf("MayRepeat: the retried member %v, the refused one %v; want true, false",
			h.Shards.MayRepeat(room[0], frame), h.Shards.MayRepeat(refused, frame))
	}
}

// The Invoke is a crash point of the sender: killed right after it, the
// shard was handed over (it runs) and nothing after it happens.
func TestAShardInvokeIsACrashPoint(t *testing.T) {
	t.Parallel()
	h, room, sender := bigRoomWithSender(t, 1)
	send := func(ctx context.Context) {
		h.Invoke(ctx, sender, "sendPublic", `{"action":"sendPublic","message":"cut","ref":"s1"}`, nil)
	}
	whole := h.Cut(-1, send).Requests()
	k := len(whole)
	if k == 0 || whole[k-1].Op != "Invoke" {
		t.Fatalf("requests %v; want the shard's Invoke last", whole)
	}
	copies(h, append(room, sender), "")
	h.Shards.Run()
	copies(h, append(room, sender), "")
	c := h.Cut(k, send)
	if killed, next := c.Killed(); !killed || !strings.Contains(next, "PostToConnection") {
		t.Errorf("killed %v at %q; want killed at the sender's own post, right after the Invoke", killed, next)
	}
	h.Shards.Run()
	if got := copies(h, append(room, sender), "cut"); got[room[0]] != 1 || got[sender] != 0 {
		t.Errorf("copies %v; want the handed-over shard delivered and the sender's own copy lost with it", got)
	}
}

// bigRoomWithSender is a sharded stack (a shard a member) with n members in
// room "big" and a sender joined after them, every frame so far delivered
// (the joins' shards run) and taken.
func bigRoomWithSender(t *testing.T, n int) (*Harness, []string, string) {
	t.Helper()
	h := New(t, Unlimited, Sharded(1))
	room := h.Populate("big", n)
	h.Settle()
	sender := h.Join("sender", "big")
	h.Settle()
	h.Shards.Run()
	copies(h, append(room, sender), "")
	return h, room, sender
}
