package chat_test

// A busy room (issue 21, part 6): a lecture starting, 1,000 people joining
// one room within 10 s, while 200 members who lost their network are
// removed, on transactions that conflict as DynamoDB's do.

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

const (
	// busyJoins arrive one every busyWindow/busyJoins: 100 a second.
	busyJoins  = 1000
	busyWindow = 10 * time.Second
	// busyInFlight bounds the $connects running at once, as API Gateway
	// and Lambda's concurrency would at 100 joins a second (each takes tens
	// of milliseconds on AWS; more here, on a shared machine).
	busyInFlight = 100
	busyVanished = 200
)

// busyHold is how long a transaction holds its items on AWS, where another
// transaction on one of them conflicts: about a TransactWriteItems'
// latency (its two phases). An assumption, not a figure AWS publishes;
// scripts/bench.sh busy also runs it at twice that.
var busyHold = flag.Duration("busy.hold", 20*time.Millisecond, "how long a transaction holds its items in TestABusyRoom...")

// itemHolds makes transactions conflict as DynamoDB's do, through the
// proxy's Conflict fault: a transaction holds each of its items for
// busyHold, and another transaction that touches one of them in that time
// is cancelled (TransactionConflict) without applying anything. The proxy
// runs the transactions themselves one at a time. (The proxy's own item
// holds, where it has them, last as long as it takes to apply a
// transaction on dynalite: 0.3-0.8 s on a shared 2-core machine, where
// DynamoDB takes tens of milliseconds, so with them this test would
// measure the machine.) A request is decided once, however often the
// proxy asks (once per action, where it asks so) and however often the
// SDK sends it again.
type itemHolds struct {
	hold      time.Duration
	mu        sync.Mutex
	until     map[string]time.Time // item → end of its hold
	decided   map[[sha256.Size]byte]bool
	conflicts atomic.Int64
	tried     atomic.Int64
}

func newItemHolds(hold time.Duration) *itemHolds {
	return &itemHolds{hold: hold, until: map[string]time.Time{}, decided: map[[sha256.Size]byte]bool{}}
}

func (ih *itemHolds) conflict(w ddbproxy.Write) bool {
	var in struct {
		TransactItems []map[string]struct {
			TableName string
			Key, Item map[string]json.RawMessage
		}
	}
	if w.Op != "TransactWriteItems" || json.Unmarshal(w.Body, &in) != nil {
		return false
	}
	var keys []string
	for _, ti := range in.TransactItems {
		for _, a := range ti {
			k := a.Key
			if k == nil { // a put: of a connection record, keyed by pk alone, or of a log record (stream, id)
				k = map[string]json.RawMessage{}
				for _, attr := range []string{contract.ConnPK, contract.MessagesStream, contract.MessagesID} {
					if v, ok := a.Item[attr]; ok {
						k[attr] = v
					}
				}
			}
			b, _ := json.Marshal(k) // sorted by attribute
			keys = append(keys, a.TableName+"\x00"+string(b))
		}
	}
	req := sha256.Sum256(w.Body) // each attempt has a token of its own
	now := time.Now()
	ih.mu.Lock()
	defer ih.mu.Unlock()
	if c, ok := ih.decided[req]; ok {
		return c
	}
	ih.tried.Add(1)
	for _, k := range keys {
		if now.Before(ih.until[k]) {
			ih.conflicts.Add(1)
			ih.decided[req] = true
			return true
		}
	}
	for _, k := range keys {
		ih.until[k] = now.Add(ih.hold)
	}
	ih.decided[req] = false
	return false
}

// TestABusyRoomCountsExactlyAndRemovesTheVanished: a lecture starts.
// 1,000 people join one room within 10 s (100 $connects at once at most),
// with transactions on one item conflicting as on AWS; half way through,
// 200 members who joined a minute ago are found gone (410) by the
// lecturer's message, while joins keep arriving. Whatever the machine's
// speed, the room's count is its records and the lecturer's state says
// so, and the vanished are removed: by that message's invocation, or what
// it left (at its cut-off) by the next broadcast.
//
// Its targets depend on the machine's speed as much as on the design:
// every $connect admitted, no action answered internal, the 200 removed
// before that invocation returned. A transaction's hold is real time, the
// proxy applies transactions one at a time (about 120 a second here; on a
// loaded machine requests wait for seconds and some are given up), and
// every invocation has the function's timeout in real time. So they are figures:
// a run that misses one logs "targets missed", which fails
// scripts/bench.sh busy (it runs this test several times and reports its
// figures: docs/benchmarks.md), not this test.
//
// Not parallel: it has the package's dynalite to itself, and the other
// tests do not share the machine with its 1,000 $connects. Skipped with
// -short.
func TestABusyRoomCountsExactlyAndRemovesTheVanished(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 $connects: 11 to 30 s on a shared 2-core machine")
	}
	const room = "lecture"
	h := chattest.New(t)
	h.GW.Discard = true
	vanished := h.Populate(room, busyVanished)
	lecturer := h.Join("lecturer", room)
	holds := newItemHolds(*busyHold)
	// The test decides the conflicts (docs/design.md, "A busy room"). The
	// proxy's own holds last as long as this machine takes to apply a
	// transaction, and its index lag and stale reads read every written item
	// back: with either, requests outlive the handler's 3 s limit here (with
	// the lag alone 57 of 1,000 $connects, with the stale reads alone 22,
	// answered 500 as the stand-in fell behind; none without), which tries
	// the machine, not AWS.
	f := ddbproxy.Deterministic("the test decides the conflicts; the proxy's holds and lag read-backs outrun this machine at 1,000 joins")
	f.Conflict = holds.conflict
	h.DynamoDB.Inject(f)
	before := h.DynamoDB.Counts()
	var abandoned atomic.Int64 // requests the handler gave up waiting for
	h.DynamoDB.SetObserver(func(o ddbproxy.Observation) {
		if o.Canceled {
			abandoned.Add(1)
		}
	})

	var (
		refused  atomic.Int64
		statuses sync.Map // status -> count, of the refused
		admitted sync.Map // connection id -> true, of the joins answered 200
		sem      = make(chan struct{}, busyInFlight)
		wg       sync.WaitGroup
		removal  = make(chan removed, 1)
	)
	start := time.Now()
	for i := range busyJoins {
		time.Sleep(time.Until(start.Add(time.Duration(i) * busyWindow / busyJoins)))
		if i == busyJoins/2 {
			wg.Go(func() { removal <- removeVanished(t, h, lecturer, room, vanished) })
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), contract.FunctionTimeout)
			defer cancel()
			id, resp := h.ConnectCtx(ctx, map[string]string{"name": fmt.Sprintf("student-%d", i), "room": room})
			if resp.StatusCode == 200 {
				admitted.Store(id, true)
			} else {
				refused.Add(1)
				n, _ := statuses.LoadOrStore(resp.StatusCode, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		})
	}
	arrived := time.Since(start)
	wg.Wait()
	rm := <-removal
	settled := time.Since(start)
	after := h.DynamoDB.Counts()
	h.DynamoDB.Restore()
	h.DynamoDB.SetObserver(nil)

	internal := metricTotals(t, h)[contract.MetricInternalErrors]
	var requests []string
	for _, op := range slices.Sorted(maps.Keys(after)) {
		requests = append(requests, fmt.Sprintf("%s %d", op, after[op]-before[op]))
	}
	t.Logf("hold %s: %d joins arrived in %s, all done in %s; refused %d, internal errors %v; transactions tried %d, "+
		"cancelled for a conflict %d; the invocation that found the %d vanished took %s and left %d; requests: %s",
		*busyHold, busyJoins, arrived.Round(time.Millisecond), settled.Round(time.Millisecond), refused.Load(), internal,
		holds.tried.Load(), holds.conflicts.Load(), busyVanished, rm.took.Round(time.Millisecond), rm.left,
		strings.Join(requests, ", "))
	// The count is exact whatever else happened: it is the room's records,
	// every admitted join's among them (a vanished member not removed yet,
	// or a $connect that ran out of time after its put, has one too).
	records := roomRecords(t, h, room)
	count, err := h.Store.RoomCount(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	if count != len(records) {
		t.Errorf("the room counts %d; it holds %d connection records", count, len(records))
	}
	var unrecorded int
	admitted.Range(func(id, _ any) bool {
		if !records[id.(string)] {
			unrecorded++
		}
		return true
	})
	if unrecorded > 0 {
		t.Errorf("%d of the %d joins answered 200 have no connection record", unrecorded, busyJoins-int(refused.Load()))
	}
	if s := state(t, h, lecturer); s.Count != len(records) {
		t.Errorf("the lecturer's state counts %d; the room holds %d records", s.Count, len(records))
	}

	// The targets: everyone admitted, the vanished removed in time.
	var missed []string
	statuses.Range(func(k, v any) bool {
		missed = append(missed, fmt.Sprintf("%d of %d $connects answered %v", v.(*atomic.Int64).Load(), busyJoins, k))
		return true
	})
	if internal != 0 {
		missed = append(missed, fmt.Sprintf("%v actions answered internal", internal))
	}
	if rm.ranOut {
		missed = append(missed, fmt.Sprintf("the message's invocation ran to its deadline (%s)", contract.FunctionTimeout))
	}
	if rm.left > 0 {
		missed = append(missed, fmt.Sprintf("%d of %d vanished members were still recorded when the invocation that "+
			"found them returned", rm.left, busyVanished))
	}
	if len(missed) > 0 {
		t.Logf("targets missed: %s (%d DynamoDB requests were given up before their answer; load average %s)",
			strings.Join(missed, "; "), abandoned.Load(), loadAverage())
	}

	// What the message's invocation left is removed by the next broadcast.
	h.Send(lecturer, `{"action":"sendPublic","message":"can everyone hear me?"}`)
	records = roomRecords(t, h, room)
	if still := slices.DeleteFunc(slices.Clone(vanished), func(id string) bool { return !records[id] }); len(still) > 0 {
		t.Errorf("%d vanished members are still recorded after the next broadcast", len(still))
	}
	if count, err := h.Store.RoomCount(context.Background(), room); err != nil || count != len(records) {
		t.Errorf("after the next broadcast the room counts %d (%v); it holds %d connection records", count, err, len(records))
	}
}

// removed is what became of the vanished members.
type removed struct {
	took   time.Duration // the invocation that found them
	ranOut bool          // it ran to its deadline
	left   int           // still recorded when it returned
}

// removeVanished has the vanished members lose their network and the
// lecturer send a message, whose broadcast finds them gone (410) and
// removes them, with the function's timeout as its deadline.
func removeVanished(t *testing.T, h *chattest.Harness, lecturer, room string, vanished []string) removed {
	for _, id := range vanished {
		h.GW.Vanish(id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), contract.FunctionTimeout)
	defer cancel()
	start := time.Now()
	h.SendCtx(ctx, lecturer, `{"action":"sendPublic","message":"welcome, everyone"}`)
	r := removed{took: time.Since(start), ranOut: ctx.Err() != nil}
	records := roomRecords(t, h, room)
	for _, id := range vanished {
		if records[id] {
			r.left++
		}
	}
	return r
}

// loadAverage is the machine's, for a skipped run's message.
func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:min(3, len(strings.Fields(string(b))))], " ")
}

// roomRecords reads the room's connection records (marked gone or not)
// straight from the table, by connection id.
func roomRecords(t *testing.T, h *chattest.Harness, room string) map[string]bool {
	t.Helper()
	p := dynamodb.NewScanPaginator(h.DB, &dynamodb.ScanInput{TableName: aws.String(h.Tables.Connections), ConsistentRead: aws.Bool(true)})
	out := map[string]bool{}
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Errorf("scan the Connections table: %v", err)
			return out
		}
		var items []struct {
			PK           string `dynamodbav:"pk"`
			ConnectionID string `dynamodbav:"connectionId"`
			Room         string `dynamodbav:"room"`
		}
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			t.Error(err)
			return out
		}
		for _, it := range items {
			if strings.HasPrefix(it.PK, contract.ConnItemPrefix) && it.Room == room {
				out[it.ConnectionID] = true
			}
		}
	}
	return out
}
