package faults

import (
	"slices"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/load"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/gateway"
)

// TestLiveClientsLoseNothingWhenAThirdVanish: 30% of the clients drop
// mid-run without a close frame and without a $disconnect (a lost network);
// every message taken still reaches every live member exactly once, and the next
// broadcast in each room removes every stale record and frees its name.
func TestLiveClientsLoseNothingWhenAThirdVanish(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, scale(90*time.Second, 10*time.Minute))
	s := startStack(t, local.Options{
		Gateway: gateway.Config{Faults: gateway.Faults{
			// No $disconnect ever arrives: the records of vanished clients
			// go stale and only a 410 during a broadcast finds them.
			DropDisconnect: func(string) bool { return true },
		}},
		// The clients vanish seconds after joining; the default 30 s grace
		// would spare their records.
		Chat: chat.Options{StaleGrace: time.Millisecond},
	})

	var liveNames []string
	var conns, claims, rooms []record
	var metrics map[string]float64
	cfg := load.Config{
		URL: s.URL, Clients: scale(30, 300), RoomSize: 10,
		Rate: scale(30.0, 100.0), Duration: scale(3*time.Second, 30*time.Second),
		VanishFraction: 0.3, VanishAfter: scale(time.Second, 10*time.Second),
		// One at a time: a join's broadcast must not find a client whose
		// $connect is still running (with a 1 ms grace it would be removed).
		ConnectConcurrency: 1,
		// A bound for a delivery that never comes, not a wait: the drain
		// ends as soon as every delivery arrived (on a loaded machine a
		// delivery took 5 s).
		Drain: 30 * time.Second,
		BeforeClose: func() {
			// Every message was delivered, so every invocation has
			// started; their stale removals, and the members frames
			// after them, may still be running.
			waitIdle(ctx, t, s, nil)
			conns, claims, rooms = connectionsTable(ctx, t, s)
			metrics = metricTotals(t, s.Metrics())
		},
	}
	res, err := load.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("load run: %v", err)
	}
	t.Logf("figures: %d clients, %d vanished; %d of %d messages accepted; %d of %d deliveries to live clients made, %d lost, %d duplicates; latency p50 %.1f ms p99 %.1f ms; %d members frames",
		cfg.Clients, res.Vanished, res.Messages.Accepted, res.Messages.Sent, res.Deliveries.Delivered, res.Deliveries.Expected,
		res.Deliveries.Lost, res.Deliveries.Duplicates, res.LatencyMS.P50, res.LatencyMS.P99, res.Frames.ByType["members"])

	vanished := int(0.3 * float64(cfg.Clients))
	if res.Vanished != vanished || res.Disconnected != 0 {
		t.Fatalf("%d clients vanished and %d were disconnected; want %d and 0", res.Vanished, res.Disconnected, vanished)
	}
	// Every message is answered: taken (its copy) or refused with
	// internal, which the sender's page shows failed, with Retry. A refusal
	// is the store's failure, not the vanished clients': on a loaded
	// machine (load average 8 on 2 cores) a DynamoDB request of the charge
	// or of the record ran past its 3 s limit with no retry left, and the
	// refusal is right (docs/design.md, Fan-out). Whether the store answers
	// in time is the machine's speed, so a refusal is counted, not failed.
	msgs, d := res.Messages, res.Deliveries
	refused := msgs.RejectedByCode[contract.CodeInternal]
	if refused > 0 {
		t.Logf("%d of %d messages refused with %s (the store failed; the sender's page shows each failed)", refused, msgs.Sent, contract.CodeInternal)
	}
	if msgs.Accepted+refused != msgs.Sent || msgs.Rejected != refused || msgs.Unconfirmed != 0 || msgs.SendFailed != 0 {
		t.Fatalf("a message was neither taken nor refused with %s: messages %+v", contract.CodeInternal, msgs)
	}
	// What was taken reaches every live member exactly once.
	if d.Lost != 0 || d.Duplicates != 0 || d.Misdelivered != 0 || d.Delivered == 0 {
		t.Fatalf("live clients did not get every message taken exactly once: messages %+v, deliveries %+v", msgs, d)
	}
	if res.Frames.ByType["members"] == 0 {
		t.Errorf("no room was told who went (no members frame)")
	}

	// What the table holds: exactly the live clients, connections and names.
	for _, c := range conns {
		liveNames = append(liveNames, c.Name)
	}
	if live := cfg.Clients - vanished; len(conns) != live || len(claims) != live {
		t.Errorf("the Connections table holds %d connections and %d name claims; want the %d live clients'", len(conns), len(claims), live)
	}
	for _, c := range claims {
		if !slices.Contains(liveNames, c.Name) {
			t.Errorf("the vanished client %s still holds its name", c.Name)
		}
	}
	// Every room's count is its live members: the removals were counted.
	counted := 0
	for _, r := range rooms {
		counted += r.Count
	}
	if live := cfg.Clients - vanished; counted != live {
		t.Errorf("the rooms count %d members in all; want the %d live clients", counted, live)
	}
	// Each vanished connection's removal is counted once: by the invocation
	// that marked it (StaleConnectionsRemoved), or, when that one's mark was
	// applied but answered with an error (a request past its 3 s limit on a
	// loaded machine: counted StaleConnectionsLeft), by the one that
	// finished it (GoneAlreadyRemoved, which also counts 410s of connections
	// already removed, so it bounds from one side only).
	removed, left, finished := metrics[contract.MetricStaleRemoved], metrics[contract.MetricStaleLeft], metrics[contract.MetricGoneAlreadyRemoved]
	if removed > float64(vanished) || (left == 0 && removed != float64(vanished)) || removed+finished < float64(vanished) {
		t.Errorf("%s = %v (%s %v, %s %v), want %d: every vanished connection's removal counted once",
			contract.MetricStaleRemoved, removed, contract.MetricStaleLeft, left, contract.MetricGoneAlreadyRemoved, finished, vanished)
	}
}
