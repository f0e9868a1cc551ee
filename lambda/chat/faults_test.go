package chat_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// metricTotals sums each metric over the EMF lines the service wrote.
func metricTotals(t *testing.T, h *chattest.Harness) map[string]float64 {
	t.Helper()
	totals := map[string]float64{}
	for line := range strings.Lines(h.Metrics.String()) {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("metrics line is not JSON: %q", line)
		}
		aws, _ := doc["_aws"].(map[string]any)
		directives, _ := aws["CloudWatchMetrics"].([]any)
		if len(directives) == 0 {
			t.Fatalf("metrics line without directives: %s", line)
		}
		for _, d := range directives {
			for _, m := range d.(map[string]any)["Metrics"].([]any) {
				name := m.(map[string]any)["Name"].(string)
				switch v := doc[name].(type) {
				case float64:
					totals[name] += v
				case []any:
					for _, x := range v {
						totals[name] += x.(float64)
					}
				default:
					t.Fatalf("metric %s has no value in %s", name, line)
				}
			}
		}
	}
	return totals
}

func TestVanishedConnectionIsRemovedOnTheNextBroadcast(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob, carol := h.Join("Alice", ""), h.Join("Bob", ""), h.Join("Carol", "")
	h.Settle()             // the index lists Carol: a broadcast may miss whoever joined an instant before
	h.Advance(time.Minute) // past the grace given to connections still connecting
	for _, id := range []string{alice, bob, carol} {
		h.GW.Take(id)
	}
	h.GW.Vanish(carol) // no close frame, no $disconnect

	h.Send(alice, `{"action":"sendPublic","message":"still there?"}`)
	for _, id := range []string{alice, bob} {
		fs := inbox(t, h, id)
		if !slices.Equal(types(fs), []string{"public", "members"}) {
			t.Fatalf("live member received %v, want the message then the new member list", types(fs))
		}
		if m := fs[1]; !slices.Equal(m.Members, []string{"Alice", "Bob"}) || !slices.Equal(m.Gone, []string{"Carol"}) {
			t.Fatalf("members frame = %+v", m)
		}
	}
	if _, err := h.Store.GetConnection(context.Background(), carol); err != chat.ErrNotFound {
		t.Fatalf("the stale record is still there (err %v)", err)
	}
	if s := state(t, h, h.Join("carol", "")); s.You != "carol" {
		t.Fatalf("the stale connection's name was not freed: %q", s.You)
	}
	if got := metricTotals(t, h)["StaleConnectionsRemoved"]; got != 1 {
		t.Fatalf("StaleConnectionsRemoved = %v, want 1", got)
	}
}

func TestConnectionsStillConnectingAreNotRemovedOn410(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice := h.Join("Alice", "")
	// A $connect that has recorded its connection but not yet returned:
	// API Gateway answers 410 for it.
	bob := chattest.NewConnID()
	h.Connect(map[string]string{"name": "Bob"}) // a normal, open one for contrast
	if err := h.Store.PutConnection(context.Background(), chat.Connection{ID: bob, Room: "lobby", Name: "Bobby",
		ConnectedAt: h.Now(), ExpiresAt: h.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
	if _, err := h.Store.GetConnection(context.Background(), bob); err != nil {
		t.Fatalf("a connecting client's record was removed: %v", err)
	}
}

func TestFailedDeliveriesAreCountedAndOthersStillReceive(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob, carol := h.Join("Alice", ""), h.Join("Bob", ""), h.Join("Carol", "")
	h.Settle() // the index lists Bob: a broadcast may miss whoever joined an instant before
	h.Advance(time.Minute)
	for _, id := range []string{alice, bob, carol} {
		h.GW.Take(id)
	}
	h.GW.Fail(bob) // 500 for Bob
	h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
	for _, id := range []string{alice, carol} {
		only(t, inbox(t, h, id), "public")
	}
	if _, err := h.Store.GetConnection(context.Background(), bob); err != nil {
		t.Fatalf("a 500 must not remove the connection: %v", err)
	}
	m := metricTotals(t, h)
	if m["FailedDeliveries"] != 1 || m["StaleConnectionsRemoved"] != 0 {
		t.Fatalf("metrics = %v; want FailedDeliveries 1 and nothing removed", m)
	}
}

func TestFanOutStopsAtTheInvocationDeadline(t *testing.T) {
	t.Parallel()
	// The default margin (500 ms) is what leaves the handler time to return
	// before Lambda ends the invocation. The cut-off (the deadline less the
	// margin) comes on a clock the test moves, as the fourth of 40 posts
	// arrives: the fan-out stops there however fast the machine is.
	const margin = 500 * time.Millisecond
	clock := &chattest.DeadlineClock{}
	h := chattest.New(t, func(o *chat.Options) { o.PoolSize, o.DeadlineClock = 2, clock })
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = h.Join(strings.Repeat("n", 1+i%30)+string(rune('A'+i)), "")
	}
	// The index lists all 40: a broadcast may miss whoever joined an instant before.
	h.Settle()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	deadline, _ := ctx.Deadline()
	before := h.GW.Posts()
	var posts atomic.Int64
	h.GW.OnPost = func(string) {
		if posts.Add(1) == 4 {
			clock.AdvanceTo(deadline.Add(-margin + time.Millisecond))
		}
	}
	h.SendCtx(ctx, ids[0], `{"action":"sendPublic","message":"hi"}`)
	if n := h.GW.Posts() - before; n >= 40 {
		t.Fatalf("%d posts: the fan-out went on past the cut-off", n)
	}
	m := metricTotals(t, h)
	if m["Deliveries"] == 0 || m["FailedDeliveries"] == 0 || m["Deliveries"]+m["FailedDeliveries"] < 40 {
		t.Fatalf("metrics = %v; want some delivered and the rest counted as failed", m)
	}
}

func TestMetricsAreEmbeddedMetricFormat(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice := h.Join("Alice", "")
	h.Join("Bob", "")
	h.Settle() // the index lists Bob: a broadcast may miss whoever joined an instant before
	h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
	lines := strings.Split(strings.TrimSpace(h.Metrics.String()), "\n")
	var doc struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Stage            string
		Route            string
		MessagesAccepted int
		Deliveries       int
		FanoutSize       []float64
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Stage != "test" || doc.Route != "sendPublic" || doc.MessagesAccepted != 1 || doc.Deliveries != 2 ||
		!slices.Equal(doc.FanoutSize, []float64{2}) {
		t.Fatalf("metrics line = %s", lines[len(lines)-1])
	}
	dims := map[string][][]string{}
	for _, d := range doc.AWS.CloudWatchMetrics {
		if d.Namespace != "GroupChat" {
			t.Fatalf("namespace %q", d.Namespace)
		}
		for _, m := range d.Metrics {
			dims[m.Name] = d.Dimensions
		}
	}
	if !slices.Equal(dims["MessagesAccepted"][0], []string{"Stage", "Route"}) || !slices.Equal(dims["Deliveries"][0], []string{"Stage"}) {
		t.Fatalf("dimensions = %v", dims)
	}
}

func TestExpiredConnectionsAreIgnoredBeforeTTLDeletesThem(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice := h.Join("Alice", "")
	h.Advance(3 * time.Hour) // past the record's TTL; DynamoDB may take hours to delete it
	bob := h.Join("Bob", "")
	if s := state(t, h, bob); !slices.Equal(s.Members, []string{"Bob"}) {
		t.Fatalf("members = %v; an expired record is listed", s.Members)
	}
	if e := sendErr(t, h, alice, `{"action":"hello"}`); e.Code != "not_connected" {
		t.Fatalf("expired connection got %+v", e)
	}
	if s := state(t, h, h.Join("ALICE", "")); s.You != "ALICE" {
		t.Fatalf("an expired connection still holds its name: you = %q", s.You)
	}
}

func TestAnOrphanedNameClaimIsFreedAfterTheGrace(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	// A $connect that claimed a name and then failed before recording its connection.
	if _, err := h.Store.ClaimName(context.Background(), chat.Claim{Room: "lobby", Name: "Alice", ConnID: "crashed",
		Token: "t", ExpiresAt: h.Now().Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if s := state(t, h, h.Join("Alice", "")); s.You == "Alice" {
		t.Fatal("a fresh claim was taken: the claimer may still be connecting")
	}
	h.Advance(time.Minute)
	if s := state(t, h, h.Join("Alice", "")); s.You != "Alice" {
		t.Fatalf("the orphaned claim was not taken over: you = %q", s.You)
	}
}

func TestEveryRouteCountsWhatItAccepted(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	h.Send(alice, `{"action":"ping"}`)
	h.Send(alice, `{"action":"hello"}`)
	h.Send(alice, `{"action":"setName","name":"Ally"}`)
	h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
	h.Send(alice, `{"action":"sendPrivate","to":["Bob"],"message":"psst"}`)
	h.Send(alice, `{"action":"sendPublic","message":""}`) // refused: not counted
	h.Disconnect(bob)
	perRoute := map[string]float64{}
	for line := range strings.Lines(h.Metrics.String()) {
		var doc struct {
			Route            string
			MessagesAccepted float64
		}
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatal(err)
		}
		perRoute[doc.Route] += doc.MessagesAccepted
	}
	want := map[string]float64{"$connect": 2, "$default": 2, "setName": 1, "sendPublic": 1, "sendPrivate": 1, "$disconnect": 1}
	for route, n := range want {
		if perRoute[route] != n {
			t.Errorf("MessagesAccepted for %s = %v, want %v (all: %v)", route, perRoute[route], n, perRoute)
		}
	}
}

// A rename whose release of the old name failed leaves that name's claim
// pointing at a connection now called something else. That stale claim must
// neither route private messages for the old name to the renamed member nor,
// once someone takes the name over, cost the renamed member its connection.
func TestAStaleClaimAfterARenameHarmsNobody(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	h.Send(bob, `{"action":"setName","name":"Robert"}`)
	// What a failed release leaves behind: "Bob" still claimed by Bob's connection.
	if _, err := h.Store.ClaimName(context.Background(), chat.Claim{Room: "lobby", Name: "Bob", ConnID: bob,
		Token: "t", ExpiresAt: h.Now().Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	inbox(t, h, alice)
	inbox(t, h, bob)

	if e := sendErr(t, h, alice, `{"action":"sendPrivate","to":["Bob"],"message":"for Bob only"}`); e.Code != "recipients_unknown" {
		t.Fatalf("a private message to the stale name: %+v, want recipients_unknown", e)
	}
	if fs := inbox(t, h, bob); len(fs) != 0 {
		t.Fatalf("Robert received %v, sent to the name he gave up", types(fs))
	}

	h.Advance(time.Minute) // past the grace that protects claims still being made
	newBob := h.Join("Bob", "")
	if s := state(t, h, newBob); s.You != "Bob" {
		t.Fatalf("the stale claim was not taken over: you = %q", s.You)
	}
	h.Settle() // Robert's state lists the newcomer once the index has her (his page applied her joined)
	if s := state(t, h, bob); s.You != "Robert" || !slices.Equal(s.Members, []string{"Alice", "Bob", "Robert"}) {
		t.Fatalf("Robert after the takeover: you %q, members %v", s.You, s.Members)
	}
}

func TestAMassDropIsCleanedUpInsideTheDeadline(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	ids := h.Populate("dropped", 200)
	h.Advance(time.Minute)
	alice := h.Join("Alice", "dropped")
	for _, id := range ids {
		h.GW.Vanish(id)
	}
	// DynamoDB answers in milliseconds, not at loopback speed: each request
	// here takes 100 ms, so 200 removals of three or four requests each, one
	// at a time, would take a minute. What keeps them inside the deadline is
	// that they go through the pool: the test holds that (requests of the
	// removals in flight at once), not a wall-clock figure, which depends on
	// the machine (docs/benchmarks.md has the timings). The deadline given
	// is generous so that only the handler's own cut-off could end it early:
	// the handler must return inside it, whatever it leaves.
	// The index lag and stale reads stay as on AWS; the proxy's own
	// transaction holds do not: they last as long as this machine takes to
	// apply a transaction (0.3-0.8 s here, docs/design.md, "A busy room"),
	// not DynamoDB's milliseconds, and with them 4-13 of the 200 removals,
	// all on the room's count at once, ran out of retries.
	f := ddbproxy.Deterministic("the proxy's transaction holds last this machine's 0.3-0.8 s, not DynamoDB's milliseconds")
	f.IndexLag, f.StaleReads = ddbproxy.AWSLike().IndexLag, ddbproxy.AWSLike().StaleReads
	f.Latency = 100 * time.Millisecond
	h.DynamoDB.Inject(f)
	var (
		mu    sync.Mutex
		spans [][2]time.Time // the removals' writes: from request to answer
	)
	h.DynamoDB.SetObserver(func(o ddbproxy.Observation) {
		if o.Op == "TransactWriteItems" || o.Op == "UpdateItem" || o.Op == "DeleteItem" {
			end := time.Now()
			mu.Lock()
			spans = append(spans, [2]time.Time{end.Add(-o.Took), end})
			mu.Unlock()
		}
	})
	const deadline = 2 * time.Minute // one at a time: 200 × 3 writes × 100 ms = 60 s
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	h.SendCtx(ctx, alice, `{"action":"sendPublic","message":"anyone?"}`)
	took := time.Since(start)
	h.DynamoDB.SetObserver(nil)
	mu.Lock()
	overlap := maxOverlap(spans)
	mu.Unlock()
	t.Logf("200 removals took %s of the %s deadline; at most %d writes in flight at once", took, deadline, overlap)
	if took >= deadline {
		t.Fatalf("the handler returned after %s, past its %s deadline", took, deadline)
	}
	if overlap < 8 {
		t.Fatalf("at most %d of the removals' writes were in flight at once: they did not go through the pool", overlap)
	}
	members, err := h.Store.Members(context.Background(), "dropped")
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 1 {
		t.Fatalf("%d of 200 vanished connections are still recorded", len(members)-1)
	}
	if got := metricTotals(t, h)["StaleConnectionsRemoved"]; got != 200 {
		t.Fatalf("StaleConnectionsRemoved = %v, want 200", got)
	}
	// The count the members frame told ahead of the 200 deletes is
	// confirmed after them (presence).
	fs := inbox(t, h, alice)
	if !slices.Equal(types(fs), []string{"public", "members", "presence"}) || !slices.Equal(fs[1].Members, []string{"Alice"}) {
		t.Fatalf("Alice received %v (members %v), want her message, a member list of herself and its count", types(fs), fs[min(1, len(fs)-1)].Members)
	}
}

// The index still lists a connection just removed as stale; the member list
// sent after the removal must not.
func TestTheMemberListAfterAStaleRemovalLeavesTheRemovedOut(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob, carol := h.Join("Alice", ""), h.Join("Bob", ""), h.Join("Carol", "")
	h.Settle() // the index lists the three (joined under AWSLike's lag) before it stops
	h.Advance(time.Minute)
	h.DynamoDB.Inject(ddbproxy.Faults{IndexLag: time.Minute}) // from now on the index lags behind
	h.GW.Take(alice)
	h.GW.Take(bob)
	h.GW.Vanish(carol)
	h.Send(alice, `{"action":"sendPublic","message":"still there?"}`)
	fs := inbox(t, h, bob)
	if !slices.Equal(types(fs), []string{"public", "members"}) {
		t.Fatalf("Bob received %v", types(fs))
	}
	if m := fs[1]; !slices.Equal(m.Members, []string{"Alice", "Bob"}) || !slices.Equal(m.Gone, []string{"Carol"}) {
		t.Fatalf("members frame = %+v, want Alice and Bob with Carol gone", m)
	}
}

// maxOverlap is the most spans that were open at one instant.
func maxOverlap(spans [][2]time.Time) int {
	type edge struct {
		at   time.Time
		open int
	}
	var edges []edge
	for _, s := range spans {
		edges = append(edges, edge{s[0], 1}, edge{s[1], -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.open - b.open // an end before a start at the same instant
	})
	most, open := 0, 0
	for _, e := range edges {
		open += e.open
		most = max(most, open)
	}
	return most
}
