package chat_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// outcomes are the six counts every recipient of a fan-out ends in.
var outcomes = []string{contract.MetricDeliveries, contract.MetricFailedDeliveries, contract.MetricStaleRemoved,
	contract.MetricGoneWhileConnecting, contract.MetricGoneAlreadyRemoved, contract.MetricStaleLeft}

// assertEveryRecipientCounted checks that the recipients of all fan-outs
// (the sum of FanoutSize) equal the sum of the six outcomes.
func assertEveryRecipientCounted(t *testing.T, m map[string]float64) {
	t.Helper()
	var counted float64
	for _, o := range outcomes {
		counted += m[o]
	}
	if m[contract.MetricFanoutSize] == 0 || counted != m[contract.MetricFanoutSize] {
		t.Fatalf("fan-outs had %v recipients, the outcomes count %v: %v", m[contract.MetricFanoutSize], counted, m)
	}
}

func TestAConnectionThatVanishesWhileConnectingIsCountedLoggedAndKept(t *testing.T) {
	t.Parallel()
	logs := &testkit.Buffer{}
	h := chattest.New(t, func(o *chat.Options) { o.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	h.Settle() // the index lists Bob: a broadcast may miss whoever joined an instant before
	h.GW.Take(alice)
	// Younger than the grace: API Gateway answers 410 for a connection
	// whose $connect has not returned yet, and for one that vanished.
	h.GW.Vanish(bob)

	h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
	only(t, inbox(t, h, alice), "public")
	if _, err := h.Store.GetConnection(context.Background(), bob); err != nil {
		t.Fatalf("a connection younger than the grace was removed: %v", err)
	}
	m := metricTotals(t, h)
	if m[contract.MetricGoneWhileConnecting] != 1 || m[contract.MetricStaleRemoved] != 0 {
		t.Fatalf("metrics = %v; want GoneWhileConnecting 1 and nothing removed", m)
	}
	assertEveryRecipientCounted(t, m)

	var logged bool
	for line := range strings.Lines(logs.String()) {
		var rec struct{ Level, Msg, To string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		logged = logged || (rec.Level == "INFO" && rec.To == bob && strings.Contains(rec.Msg, "connecting"))
	}
	if !logged {
		t.Fatalf("no INFO line names the connection %s:\n%s", bob, logs.String())
	}
}

func TestEveryRecipientOfAFanOutIsCountedOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		run  func(h *chattest.Harness) // sets the scene, then broadcasts
		want string                    // the outcome that must be counted
	}{
		{"everyone receives", func(h *chattest.Harness) {
			alice := h.Join("Alice", "")
			h.Join("Bob", "")
			h.Settle() // a broadcast may miss whoever joined an instant before
			h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
		}, contract.MetricDeliveries},
		{"a post fails", func(h *chattest.Harness) {
			alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
			h.Settle() // a broadcast may miss whoever joined an instant before
			h.GW.Fail(bob)
			h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
		}, contract.MetricFailedDeliveries},
		{"a connection vanished after the grace", func(h *chattest.Harness) {
			alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
			h.Settle() // a broadcast may miss whoever joined an instant before
			h.Advance(time.Minute)
			h.GW.Vanish(bob)
			h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
		}, contract.MetricStaleRemoved},
		{"a connection vanished within the grace", func(h *chattest.Harness) {
			alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
			h.Settle() // a broadcast may miss whoever joined an instant before
			h.GW.Vanish(bob)
			h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
		}, contract.MetricGoneWhileConnecting},
		{"the index still lists a connection its $disconnect removed", func(h *chattest.Harness) {
			alice, _, carol := h.Join("Alice", ""), h.Join("Bob", ""), h.Join("Carol", "")
			h.Settle() // a broadcast may miss whoever joined an instant before
			h.Advance(time.Minute)
			h.DynamoDB.Inject(ddbproxy.Faults{IndexLag: time.Minute})
			h.Disconnect(carol)
			h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
		}, contract.MetricGoneAlreadyRemoved},
		{"the deadline comes before the removals", func(h *chattest.Harness) {
			ids := h.Populate("dropped", 40)
			h.Advance(time.Minute)
			alice := h.Join("Alice", "dropped")
			for _, id := range ids {
				h.GW.Vanish(id)
			}
			// Four requests per removal at 50 ms each, two at a time:
			// 40 removals take 4 s, the deadline leaves 1 s.
			h.DynamoDB.Inject(ddbproxy.Faults{Latency: 50 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			h.SendCtx(ctx, alice, `{"action":"sendPublic","message":"anyone?"}`)
		}, contract.MetricStaleLeft},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := chattest.New(t, func(o *chat.Options) { o.PoolSize = 2 })
			tc.run(h)
			m := metricTotals(t, h)
			if m[tc.want] == 0 {
				t.Fatalf("%s not counted: %v", tc.want, m)
			}
			assertEveryRecipientCounted(t, m)
		})
	}
}

// recordKey finds a connection record's key in a request.
var recordKey = regexp.MustCompile(`"c#[^"]+"`)

// Up to 128 removals run at once after a mass drop, each a transaction on
// the room's item, and on DynamoDB they cancel one another
// (TransactionConflict). Here every removal's transaction is cancelled, and
// the cut-off (the invocation's deadline less its margin) comes while they
// retry: no removal is started or retried after it, the handler answers,
// and the next broadcast removes what was left. The invocation's deadline
// is an hour off in real time; the test moves the deadline clock past the
// cut-off once a removal has been retried twice, so what it checks does
// not depend on the machine's speed (how long it takes, with the real
// clock, is scripts/bench.sh's to measure).
func TestAMassDropInABusyRoomLeavesWhatItCannotRemoveForTheNextBroadcastInsteadOfTimingOut(t *testing.T) {
	t.Parallel()
	const (
		dropped = 200
		// pool bounds the removals in flight: each may have decided its
		// next attempt just before the cut-off, and make it after.
		pool   = 8
		margin = 500 * time.Millisecond
	)
	clock := &chattest.DeadlineClock{}
	h := chattest.New(t, func(o *chat.Options) {
		o.DeadlineClock, o.PoolSize, o.DeadlineMargin = clock, pool, margin
	})
	ids := h.Populate("busy", dropped)
	h.Advance(time.Minute)
	alice := h.Join("Alice", "busy")
	for _, id := range ids {
		h.GW.Vanish(id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var (
		mu     sync.Mutex
		before = map[string]int{} // a record's removal transactions before the cut-off
		after  = map[string]int{} // and after it
		cut    bool
	)
	h.DynamoDB.Inject(ddbproxy.Faults{Conflict: func(w ddbproxy.Write) bool {
		if w.Action != 0 {
			return false // asked once per action: the first decides for the transaction
		}
		record := recordKey.FindString(string(w.Body))
		mu.Lock()
		defer mu.Unlock()
		switch {
		case record == "":
		case cut:
			after[record]++
		default:
			if before[record]++; before[record] == 3 {
				// A removal retries for the second time: the cut-off comes.
				clock.AdvanceTo(deadline.Add(-margin + time.Millisecond))
				cut = true
			}
		}
		return true
	}})
	h.SendCtx(ctx, alice, `{"action":"sendPublic","message":"anyone?"}`)
	if ctx.Err() != nil {
		t.Fatal("the handler ran to its deadline")
	}
	mu.Lock()
	defer mu.Unlock()
	var arrived, retried int
	for _, n := range after {
		arrived += n
		if n > 1 {
			retried++
		}
	}
	t.Logf("%d records' removal transactions tried before the cut-off; after it %d arrived, of %d records",
		len(before), arrived, len(after))
	if !cut {
		t.Fatalf("no removal was retried twice: %d records' removals tried", len(before))
	}
	// A removal in flight may have decided its next attempt (its first, or
	// a retry) just before the cut-off: it arrives after it. Any more was
	// decided after the cut-off.
	if retried > 0 {
		t.Errorf("%d records' removal transactions were retried after the cut-off", retried)
	}
	if arrived > pool {
		t.Errorf("%d removal transactions arrived after the cut-off, of %d records; the %d removals in flight "+
			"decided at most one each before it", arrived, len(after), pool)
	}

	h.DynamoDB.Restore()
	h.Send(alice, `{"action":"sendPublic","message":"anyone now?"}`)
	bg := context.Background()
	if n, err := h.Store.RoomCount(bg, "busy"); err != nil || n != 1 {
		t.Fatalf("after the next broadcast the room counts %d (%v), want Alice alone", n, err)
	}
	if members, err := h.Store.Members(bg, "busy"); err != nil || len(members) != 1 {
		t.Fatalf("after the next broadcast %d records are left (%v), want Alice's alone", len(members), err)
	}
}
