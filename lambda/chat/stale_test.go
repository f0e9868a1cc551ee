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
			h.DynamoDB.SetFaults(ddbproxy.Faults{IndexLag: time.Minute})
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
			h.DynamoDB.SetFaults(ddbproxy.Faults{Latency: 50 * time.Millisecond})
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
// (TransactionConflict). Here every removal's transaction is cancelled: no
// retry starts inside the invocation's deadline margin, the handler answers
// before its deadline, and the next broadcast removes what was left.
func TestAMassDropInABusyRoomLeavesWhatItCannotRemoveForTheNextBroadcastInsteadOfTimingOut(t *testing.T) {
	t.Parallel()
	const margin = 1500 * time.Millisecond
	h := chattest.New(t, func(o *chat.Options) { o.DeadlineMargin = margin })
	ids := h.Populate("busy", 200)
	h.Advance(time.Minute)
	alice := h.Join("Alice", "busy")
	for _, id := range ids {
		h.GW.Vanish(id)
	}
	// A removal retries its transaction with pauses that add up to 1.3 s
	// on average (2.5 s at most): many of the 200 are still retrying when
	// the cut-off (the deadline less the margin) comes.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	cutoff := deadline.Add(-margin)
	// A removal started before the cut-off makes its first attempt whenever
	// it comes to it; only its retries must stop. A retry decided before the
	// cut-off reaches the proxy a moment later: on a loaded machine,
	// hundreds of milliseconds. Retries that do not stop at the cut-off
	// keep coming until the deadline.
	const flight = margin / 2
	var (
		mu          sync.Mutex
		seen        = map[string]bool{} // records whose removal was tried
		tried, late int
	)
	h.DynamoDB.SetFaults(ddbproxy.Faults{Conflict: func(w ddbproxy.Write) bool {
		if w.Action != 0 {
			return false // asked once per action: the first decides for the transaction
		}
		record := recordKey.FindString(string(w.Body))
		mu.Lock()
		defer mu.Unlock()
		tried++
		if seen[record] && time.Now().After(cutoff.Add(flight)) {
			late++
		}
		seen[record] = true
		return true
	}})
	h.SendCtx(ctx, alice, `{"action":"sendPublic","message":"anyone?"}`)
	returned := time.Now()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d removal transactions of %d records cancelled, %d retried inside the margin; the handler returned %s before its deadline (margin %s)",
		tried, len(seen), late, deadline.Sub(returned), margin)
	if late > 0 {
		t.Errorf("%d removal transactions were retried inside the deadline margin", late)
	}
	if !returned.Before(deadline) {
		t.Errorf("the handler returned %s after its deadline", returned.Sub(deadline))
	}
	if tried < 200 {
		t.Fatalf("only %d removal transactions were tried", tried)
	}

	h.DynamoDB.SetFaults(ddbproxy.Faults{})
	h.Send(alice, `{"action":"sendPublic","message":"anyone now?"}`)
	bg := context.Background()
	if n, err := h.Store.RoomCount(bg, "busy"); err != nil || n != 1 {
		t.Fatalf("after the next broadcast the room counts %d (%v), want Alice alone", n, err)
	}
	if members, err := h.Store.Members(bg, "busy"); err != nil || len(members) != 1 {
		t.Fatalf("after the next broadcast %d records are left (%v), want Alice's alone", len(members), err)
	}
}
