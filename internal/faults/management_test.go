package faults

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/load"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/gateway"
)

// TestFailingAndStallingDeliveriesSpareTheOthers: the management API answers
// 500 for one member of every room and never answers for another. Every
// other member still receives every message, the handler returns within its
// deadline, and each failed delivery is counted in FailedDeliveries.
func TestFailingAndStallingDeliveriesSpareTheOthers(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, scale(90*time.Second, 10*time.Minute))
	var failing, stalling sync.Map // connection ids
	// A stalled POST outlives the invocation: the fan-out must give up at
	// the deadline less its margin, not wait for the per-call timeout,
	// which is longer. Deadline and margin are seconds, however busy the
	// machine: at 2 s and 500 ms (the default margin), on a loaded
	// machine, the reads before the fan-out took the whole deadline and
	// even the sender's own copy was given up; at 8 s, ending the
	// invocation after the fan-out gave up took up to 800 ms.
	const handlerTimeout, margin, postTimeout = 10 * time.Second, 3 * time.Second, time.Minute
	s := startStack(t, local.Options{
		Chat: chat.Options{PostTimeout: postTimeout, DeadlineMargin: margin},
		Gateway: gateway.Config{
			HandlerTimeout: handlerTimeout,
			Faults: gateway.Faults{
				FailPost:  func(id string) bool { _, ok := failing.Load(id); return ok },
				StallPost: func(id string) bool { _, ok := stalling.Load(id); return ok },
				// The clients' closes at the end must not add deliveries.
				DropDisconnect: func(string) bool { return true },
			},
		},
	})

	var victims []string
	var before, after map[string]float64
	var joinInvocations int
	cfg := load.Config{
		URL: s.URL, Clients: scale(30, 300), RoomSize: 10,
		Rate: scale(20.0, 50.0), Duration: scale(2*time.Second, 30*time.Second),
		// The faulty members' copies never arrive: the drain always runs
		// to its end. Every other delivery is made or given up within its
		// invocation's deadline.
		Drain:              handlerTimeout,
		ConnectConcurrency: 2,
		AfterJoin: func(ctx context.Context) error {
			// Member 1 of each room gets 500s, member 2 stalls.
			conns, _, _ := connectionsTable(ctx, t, s)
			for _, c := range conns {
				// Clients are named l<run>-<n> and fill rooms of 10 in order.
				_, num, _ := strings.Cut(c.Name, "-")
				n, err := strconv.Atoi(num)
				if err != nil {
					return fmt.Errorf("unexpected client name %q", c.Name)
				}
				switch n % 10 {
				case 1:
					failing.Store(c.ConnectionID, true)
					victims = append(victims, c.Name)
				case 2:
					stalling.Store(c.ConnectionID, true)
					victims = append(victims, c.Name)
				}
			}
			before = metricTotals(t, s.Metrics())
			joinInvocations = len(s.Invocations())
			return nil
		},
		BeforeClose: func() {
			// Every message was answered (or the run fails), so its
			// invocation has started; it writes its metrics when it ends,
			// after its stalled deliveries are given up.
			waitIdle(ctx, t, s, nil)
			after = metricTotals(t, s.Metrics())
		},
	}
	res, err := load.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("load run: %v", err)
	}
	if res.Connect.Failed != 0 {
		t.Fatalf("%d clients could not join: %s", res.Connect.Failed, res.Connect.FirstError)
	}
	rooms := cfg.Clients / cfg.RoomSize
	if len(victims) != 2*rooms {
		t.Fatalf("found %d clients to fail, want %d", len(victims), 2*rooms)
	}

	// Everyone else received every message; the victims missed every one.
	m, d := res.Messages, res.Deliveries
	if m.Sent == 0 || m.Accepted != m.Sent || m.Rejected != 0 || d.Duplicates != 0 || d.Misdelivered != 0 {
		t.Fatalf("messages %+v, deliveries %+v", m, d)
	}
	if d.Lost != 2*m.Accepted {
		t.Errorf("%d deliveries lost; want exactly the 2 faulty members' copies of each of the %d messages", d.Lost, m.Accepted)
	}
	for name := range d.LostByClient {
		if !slices.Contains(victims, name) {
			t.Errorf("%s lost %d messages, but the management API fails only for %v", name, d.LostByClient[name], victims)
		}
	}
	// The failures are counted, and nothing else failed.
	if got := after[contract.MetricFailedDeliveries] - before[contract.MetricFailedDeliveries]; got != float64(d.Lost) {
		t.Errorf("FailedDeliveries grew by %v, want %d (one per lost delivery)", got, d.Lost)
	}
	if got := after[contract.MetricDeliveries] - before[contract.MetricDeliveries]; got != float64(d.Delivered) {
		t.Errorf("Deliveries grew by %v, want %d", got, d.Delivered)
	}
	// Every invocation returned in time; the gateway never had to answer
	// for a timed-out handler.
	var slowest time.Duration
	for _, inv := range s.Invocations()[joinInvocations:] {
		slowest = max(slowest, inv.Took)
		if inv.Took >= handlerTimeout || inv.Err != nil {
			t.Errorf("a %s invocation took %s of its %s (error %v)", inv.Route, inv.Took, handlerTimeout, inv.Err)
		}
	}
	t.Logf("figures: %d clients, %d messages, %d of %d deliveries lost (the faulty members' copies), slowest invocation %s of %s",
		cfg.Clients, m.Sent, d.Lost, d.Expected, slowest, handlerTimeout)
	if res.Frames.GatewayErrors != 0 {
		t.Errorf("%d clients got API Gateway's internal server error frame", res.Frames.GatewayErrors)
	}
}
