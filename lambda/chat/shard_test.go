package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/mgmt"
	"github.com/groupchat/groupchat/local"
)

// shardSize is the tests' shard size: a room of 9 and a sender make a
// broadcast of 10 targets, 3 here and 7 in shards of 3, 3 and 1.
const shardSize = 3

// shardInvoker keeps the shard events a broadcast hands on (as Lambda
// queues an asynchronous event); fail makes every Invoke fail.
type shardInvoker struct {
	mu     sync.Mutex
	events [][]byte
	fail   bool
}

func (s *shardInvoker) InvokeShard(_ context.Context, event []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("Lambda refused the event")
	}
	s.events = append(s.events, event)
	return nil
}

func (s *shardInvoker) take() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.events
	s.events = nil
	return ev
}

// shardedRoom is a harness whose broadcasts shard at shardSize, a room of
// 9 members (Populate: no joins' broadcasts) and a sender in it.
func shardedRoom(t *testing.T) (*chattest.Harness, *shardInvoker, []string, string) {
	inv := &shardInvoker{}
	h := chattest.New(t, func(o *chat.Options) { o.Shards, o.ShardSize = inv, shardSize })
	members := h.Populate("big", 9)
	h.Settle()
	sender := h.Join("sender", "big")
	h.Settle()
	inv.take() // the sender's join went out in shards too
	for _, id := range members {
		h.GW.Take(id)
	}
	return h, inv, members, sender
}

// copiesOf counts the public frames of text each connection was posted.
func copiesOf(h *chattest.Harness, ids []string, text string) map[string]int {
	n := map[string]int{}
	for _, id := range ids {
		for _, f := range h.GW.Take(id) {
			if strings.Contains(string(f), `"type":"public"`) && strings.Contains(string(f), text) {
				n[id]++
			}
		}
	}
	return n
}

func TestABigRoomsMessageReachesEveryMemberOnceThroughShards(t *testing.T) {
	t.Parallel()
	h, inv, members, sender := shardedRoom(t)
	h.Send(sender, `{"action":"sendPublic","message":"to everyone","ref":"s1"}`)
	events := inv.take()
	if len(events) != 3 {
		t.Fatalf("%d shard events, want 3 (7 of 10 targets in slices of %d)", len(events), shardSize)
	}
	ctx := testkit.Context(t, contract.FunctionTimeout)
	for _, ev := range events {
		if !strings.HasPrefix(string(ev), `{"`+contract.ShardEventKey+`":`) {
			t.Errorf("a shard event is not keyed by %s: %.60s", contract.ShardEventKey, ev)
		}
		if _, err := h.Service.Invoke(ctx, ev); err != nil {
			t.Errorf("a shard: %v", err)
		}
	}
	got := copiesOf(h, append(members, sender), "to everyone")
	for _, id := range append(members, sender) {
		if got[id] != 1 {
			t.Errorf("%s got %d copies, want 1 (all: %v)", id, got[id], got)
		}
	}
	if !strings.Contains(h.Metrics.String(), `"`+contract.MetricFanoutShards+`":3`) {
		t.Errorf("no %s of 3 in the metrics", contract.MetricFanoutShards)
	}
}

func TestAShardWhoseInvokeFailedIsDeliveredByTheSender(t *testing.T) {
	t.Parallel()
	h, inv, members, sender := shardedRoom(t)
	inv.fail = true
	h.Send(sender, `{"action":"sendPublic","message":"still to everyone","ref":"s1"}`)
	got := copiesOf(h, append(members, sender), "still to everyone")
	for _, id := range append(members, sender) {
		if got[id] != 1 {
			t.Errorf("%s got %d copies, want 1 (all: %v)", id, got[id], got)
		}
	}
	if !strings.Contains(h.Metrics.String(), `"`+contract.MetricShardInvokeErrors+`":7`) {
		t.Errorf("no %s of 7 in the metrics:\n%s", contract.MetricShardInvokeErrors, h.Metrics.String())
	}
}

func TestAShardRemovesTheConnectionsItFindsGone(t *testing.T) {
	t.Parallel()
	h, inv, members, sender := shardedRoom(t)
	h.Send(sender, `{"action":"sendPublic","message":"anyone there","ref":"s1"}`)
	events := inv.take()
	var shard contract.ShardEvent
	var whole map[string]contract.ShardEvent
	if err := json.Unmarshal(events[0], &whole); err != nil {
		t.Fatal(err)
	}
	shard = whole[contract.ShardEventKey]
	gone := shard.Members[0].ConnID
	h.GW.Vanish(gone)
	if _, err := h.Service.Invoke(testkit.Context(t, contract.FunctionTimeout), events[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.GetConnection(context.Background(), gone); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("the gone connection's record: %v, want it removed", err)
	}
	_ = members
}

func TestAShardEventTheFunctionDidNotMakeIsAnError(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	for _, ev := range []string{`{"groupchatShard":{}}`, `{"groupchatShard":"x"}`, `{"groupchatShard":{"room":"r","frame":"eA==","members":[]}}`} {
		if _, err := h.Service.Invoke(testkit.Context(t, contract.FunctionTimeout), json.RawMessage(ev)); err == nil {
			t.Errorf("%s: no error", ev)
		}
	}
}

// cutPoster posts through the management API until after posts passed,
// then kills its invocation: as Lambda's timeout or an out-of-memory kill
// ends an environment between two posts.
type cutPoster struct {
	inner  chat.Poster
	mu     sync.Mutex
	after  int
	cancel context.CancelFunc
}

var errCut = errors.New("killed")

func (p *cutPoster) Post(ctx context.Context, id string, data []byte) error {
	p.mu.Lock()
	if p.after == 0 {
		p.cancel()
		p.mu.Unlock()
		return errCut
	}
	p.after--
	p.mu.Unlock()
	return p.inner.Post(ctx, id, data)
}

func (p *cutPoster) Close(ctx context.Context, id string) error { return p.inner.Close(ctx, id) }

// TestAShardKilledAfterAnyPostAndRetriedLosesNoneAndThePageShowsOne: a
// shard's environment dies after its p-th post, for every p; Lambda runs
// the event again (its retry of a failed asynchronous event). Every member
// of the shard then has the message, and a member delivered before the
// kill has it twice on the wire: the page keeps one (messagelog.ts drops a
// frame whose id it has shown), so each person sees it once.
func TestAShardKilledAfterAnyPostAndRetriedLosesNoneAndThePageShowsOne(t *testing.T) {
	t.Parallel()
	h, inv, members, sender := shardedRoom(t)
	h.Send(sender, `{"action":"sendPublic","message":"exactly once","ref":"s1"}`)
	ev := inv.take()[0]
	var whole map[string]contract.ShardEvent
	if err := json.Unmarshal(ev, &whole); err != nil {
		t.Fatal(err)
	}
	var slice []string
	for _, m := range whole[contract.ShardEventKey].Members {
		slice = append(slice, m.ConnID)
	}
	copiesOf(h, append(members, sender), "") // the sender's own slice: not this test's
	for p := 0; p <= len(slice); p++ {
		ctx, cancel := context.WithCancel(testkit.Context(t, contract.FunctionTimeout))
		killed := chat.New(h.Store, &cutPoster{inner: mgmt.NewFromConfig(local.AWSConfig(), h.GW.URL, 4), after: p, cancel: cancel},
			chat.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: io.Discard, Now: h.Now})
		_, _ = killed.Invoke(ctx, ev)
		cancel()
		if _, err := h.Service.Invoke(testkit.Context(t, contract.FunctionTimeout), ev); err != nil {
			t.Fatalf("p=%d: the retry: %v", p, err)
		}
		got := copiesOf(h, slice, "exactly once")
		twice := 0
		for _, id := range slice {
			switch {
			case got[id] == 0:
				t.Errorf("p=%d: %s never got the message", p, id)
			case got[id] > 2:
				t.Errorf("p=%d: %s got %d copies", p, id, got[id])
			case got[id] == 2:
				twice++
			}
		}
		if twice > p {
			t.Errorf("p=%d: %d members got it twice, more than the %d posts before the kill", p, twice, p)
		}
	}
}
