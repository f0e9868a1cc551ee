// Package costs measures what GroupChat's actions cost, from the code's own
// counters, and writes docs/costs.md: for each environment of cdk.json, one
// public message, one private message, one join and one connection-hour at
// rooms of 10 to 10,000, in API Gateway messages (32 KB units) and connection
// minutes, Lambda GB-seconds on arm64 at the measured durations, and DynamoDB
// read and write request units as DynamoDB computes them (dynalite's
// ReturnConsumedCapacity). cmd/costs runs it; scripts/bench.sh costs too.
package costs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/dynamo"
)

// Usage is what one action used.
type Usage struct {
	Invocations int
	// Millis is the handler's measured time, summed over the invocations.
	Millis float64
	// Deliveries are frames the function posted (PostToConnection);
	// Replies frames it answered on a two-way route; Inbound frames the
	// client sent. All are API Gateway messages, billed in 32 KB units.
	Deliveries, Replies, Inbound int
	MessageUnits                 int // 32 KB units of all of them
	FrameBytes                   int // bytes of the frames sent to clients
	Requests                     map[string]int
	RRU, WRU                     float64
	// AllocBytes is what the handler allocated (Go's TotalAlloc across the
	// invocation): what the function's memory must hold at most, and more.
	AllocBytes uint64
}

func (u *Usage) add(o Usage) {
	u.Invocations += o.Invocations
	u.Millis += o.Millis
	u.Deliveries += o.Deliveries
	u.Replies += o.Replies
	u.Inbound += o.Inbound
	u.MessageUnits += o.MessageUnits
	u.FrameBytes += o.FrameBytes
	u.RRU += o.RRU
	u.WRU += o.WRU
	u.AllocBytes = max(u.AllocBytes, o.AllocBytes)
	if u.Requests == nil {
		u.Requests = map[string]int{}
	}
	for k, v := range o.Requests {
		u.Requests[k] += v
	}
}

// units is how many 32 KB units API Gateway bills a frame of n bytes.
func units(n int) int { return max(1, (n+32*1024-1)/(32*1024)) }

// meter counts what the function does: the DynamoDB requests it makes and
// the capacity DynamoDB reports for them, and the frames it posts.
type meter struct {
	db      *dynamodb.Client
	latency time.Duration

	mu       sync.Mutex
	requests map[string]int
	rru, wru float64
	posts    atomic.Int64
	bytes    atomic.Int64
	units    atomic.Int64
}

var (
	_ dynamo.API  = (*meter)(nil)
	_ chat.Poster = (*meter)(nil)
)

// capacity asks DynamoDB for the capacity of each request, the table's and
// its indexes' shares included.
const capacity = types.ReturnConsumedCapacityIndexes

func (m *meter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	in.ReturnConsumedCapacity = capacity
	out, err := m.db.GetItem(ctx, in, o...)
	if out != nil {
		m.read("GetItem", out.ConsumedCapacity)
	}
	return out, err
}

func (m *meter) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	in.ReturnConsumedCapacity = capacity
	out, err := m.db.Query(ctx, in, o...)
	if out != nil {
		m.read("Query", out.ConsumedCapacity)
	}
	return out, err
}

func (m *meter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	in.ReturnConsumedCapacity = capacity
	out, err := m.db.PutItem(ctx, in, o...)
	m.write("PutItem", out, err, func() *types.ConsumedCapacity { return out.ConsumedCapacity })
	if _, indexed := in.Item[contract.ConnRoom]; indexed && err == nil {
		m.indexWrite()
	}
	return out, err
}

func (m *meter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	in.ReturnConsumedCapacity = capacity
	out, err := m.db.UpdateItem(ctx, in, o...)
	m.write("UpdateItem", out, err, func() *types.ConsumedCapacity { return out.ConsumedCapacity })
	return out, err
}

func (m *meter) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	in.ReturnConsumedCapacity = capacity
	out, err := m.db.DeleteItem(ctx, in, o...)
	m.write("DeleteItem", out, err, func() *types.ConsumedCapacity { return out.ConsumedCapacity })
	if pk, ok := in.Key[contract.ConnPK].(*types.AttributeValueMemberS); ok && err == nil && strings.HasPrefix(pk.Value, contract.ConnItemPrefix) {
		m.indexWrite()
	}
	return out, err
}

func (m *meter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	in.ReturnConsumedCapacity = capacity
	out, err := m.db.TransactWriteItems(ctx, in, o...)
	m.mu.Lock()
	m.requests["TransactWriteItems"]++
	switch {
	case err != nil || out == nil:
		m.wru += 2 * float64(len(in.TransactItems)) // a cancelled transaction still costs its items
	default:
		for _, c := range out.ConsumedCapacity {
			m.wru += aws.ToFloat64(c.CapacityUnits) // twice the items' units (ddbproxy, as DynamoDB)
		}
	}
	m.mu.Unlock()
	for _, ti := range in.TransactItems {
		// The room index's write for a connection item put or deleted: an
		// index is updated after the transaction, at a standard write's price.
		if err == nil && ((ti.Put != nil && ti.Put.Item[contract.ConnRoom] != nil) ||
			(ti.Delete != nil && strings.HasPrefix(keyString(ti.Delete.Key), contract.ConnItemPrefix))) {
			m.indexWrite()
		}
	}
	return out, err
}

func keyString(k map[string]types.AttributeValue) string {
	if pk, ok := k[contract.ConnPK].(*types.AttributeValueMemberS); ok {
		return pk.Value
	}
	return ""
}

// read counts a read's capacity: dynalite reports CapacityUnits (table
// plus indexes); for a read they are read units.
func (m *meter) read(op string, c *types.ConsumedCapacity) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[op]++
	if c != nil {
		m.rru += aws.ToFloat64(c.CapacityUnits)
	}
}

// write counts a write's capacity. A write that failed its condition
// still costs DynamoDB one write unit per KB; dynalite reports nothing for
// it, so 1 is counted.
func (m *meter) write(op string, out any, err error, cc func() *types.ConsumedCapacity) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[op]++
	if err != nil || out == nil {
		m.wru++
		return
	}
	if c := cc(); c != nil {
		m.wru += aws.ToFloat64(c.CapacityUnits)
	}
}

// indexWrite counts the room index's write unit for a connection item put
// or deleted: DynamoDB charges it like the table's, dynalite does not
// report it. (A rename's index update is not among the actions priced.)
func (m *meter) indexWrite() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.wru++
}

// Close implements chat.Poster: the cost model prices no close.
func (m *meter) Close(context.Context, string) error { return nil }

// Post implements chat.Poster: counts the frame, after the management API's
// latency.
func (m *meter) Post(ctx context.Context, _ string, data []byte) error {
	if m.latency > 0 {
		t := time.NewTimer(m.latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.posts.Add(1)
	m.bytes.Add(int64(len(data)))
	m.units.Add(int64(units(len(data))))
	return nil
}

func (m *meter) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = map[string]int{}
	m.rru, m.wru = 0, 0
	m.posts.Store(0)
	m.bytes.Store(0)
	m.units.Store(0)
}

func (m *meter) usage() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Usage{Deliveries: int(m.posts.Load()), FrameBytes: int(m.bytes.Load()), MessageUnits: int(m.units.Load()),
		Requests: maps(m.requests), RRU: m.rru, WRU: m.wru}
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// rig is one environment's function on fresh tables.
type rig struct {
	svc   *chat.Service
	store *dynamo.Store // direct, uncounted: for seeding
	m     *meter
	seq   atomic.Int64
}

func newRig(ctx context.Context, db *dynamodb.Client, prefix string, poolSize int, latency time.Duration) (*rig, error) {
	names := dynamo.Names{Connections: prefix + "-" + contract.Connections.ID, Messages: prefix + "-" + contract.Messages.ID}
	if err := dynamo.CreateTables(ctx, db, names); err != nil {
		return nil, err
	}
	m := &meter{db: db, latency: latency, requests: map[string]int{}}
	opt := chat.Options{PoolSize: poolSize, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: io.Discard,
		// The actor's join, hellos, messages and pings come faster than the
		// default budget allows (21 units inside 10 s in a small room): each
		// is still charged, as on AWS, but none refused, or a refusal's
		// cost would be measured in place of the action's.
		RateLimit: chat.RateLimit{Limit: 1000, Window: time.Second}}
	return &rig{svc: chat.New(dynamo.New(m, names, nil), m, opt), store: dynamo.New(db, names, nil), m: m}, nil
}

// event runs one event through the handler and returns what it used.
func (r *rig) event(ctx context.Context, id, route, body string, query map[string]string) (Usage, string, error) {
	ctx, cancel := context.WithTimeout(ctx, contract.FunctionTimeout)
	defer cancel()
	r.m.reset()
	typ := map[string]string{contract.RouteConnect: "CONNECT", contract.RouteDisconnect: "DISCONNECT"}[route]
	req := events.APIGatewayWebsocketProxyRequest{Body: body, QueryStringParameters: query,
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{RouteKey: route, EventType: cmpOr(typ, "MESSAGE"),
			ConnectionID: id, Stage: "costs", RequestTimeEpoch: time.Now().UnixMilli()}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	resp, err := r.svc.Handle(ctx, req)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		return Usage{}, "", fmt.Errorf("%s: %w", route, err)
	}
	if resp.StatusCode != 200 {
		return Usage{}, "", fmt.Errorf("%s answered %d %s", route, resp.StatusCode, resp.Body)
	}
	u := r.m.usage()
	u.Invocations = 1
	u.Millis = float64(took.Microseconds()) / 1000
	u.AllocBytes = after.TotalAlloc - before.TotalAlloc
	if body != "" {
		u.Inbound = 1
		u.MessageUnits += units(len(body))
	}
	if resp.Body != "" {
		u.Replies = 1
		u.MessageUnits += units(len(resp.Body))
		u.FrameBytes += len(resp.Body)
	}
	return u, resp.Body, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// seed puts n members in room through the store, as their joins would have.
func (r *rig) seed(ctx context.Context, room string, n int) ([]string, error) {
	now := time.Now()
	ids := make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, 16)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%06d=", room, i)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := chat.Connection{ID: ids[i], Room: room, Name: fmt.Sprintf("member-%d", i), ConnectedAt: now.Add(-time.Minute),
				ExpiresAt: now.Add(2 * time.Hour), ResumeToken: "t"}
			_, err := r.store.ClaimName(ctx, chat.Claim{Room: room, Name: c.Name, ConnID: c.ID, ExpiresAt: c.ExpiresAt})
			if err == nil {
				err = r.store.PutConnection(ctx, c)
			}
			if err != nil {
				mu.Lock()
				first = cmpErr(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return ids, nil // counted by their records' puts
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Actions are what docs/costs.md prices, for one room size.
type Actions struct {
	Room int
	// Join is $connect plus the page's two hellos (the state and the
	// settle hello) plus the join's share of the room's presence.
	Join, Public, Private, Ping Usage
	// Typing is one typing frame: sent on while a person types, at most
	// one every contract.TypingEveryMs.
	Typing Usage
	// PresencePerJoin is the deliveries of presence a join causes: every
	// other member in a room of up to chat.PresenceLiveMax; above, at most
	// the credit it earns (the presence frames it pays for, amortised).
	PresencePerJoin float64
}

// measure runs each action in a room of n (the actor included), repeating
// the quick ones and taking the median time.
func (r *rig) measure(ctx context.Context, n int) (Actions, error) {
	room := fmt.Sprintf("room%d", n)
	ids, err := r.seed(ctx, room, n-1)
	if err != nil {
		return Actions{}, fmt.Errorf("seed a room of %d: %w", n, err)
	}
	a := Actions{Room: n}
	me := fmt.Sprintf("actor-%d=", r.seq.Add(1))
	join, _, err := r.event(ctx, me, contract.RouteConnect, "", map[string]string{"room": room, "name": "actor"})
	if err != nil {
		return a, err
	}
	for range 2 {
		hello, _, err := r.event(ctx, me, contract.RouteDefault, `{"action":"hello"}`, nil)
		if err != nil {
			return a, err
		}
		join.add(hello)
	}
	a.PresencePerJoin = float64(join.Deliveries)
	if n > chat.PresenceLiveMax {
		a.PresencePerJoin = 2 // the credit a join earns: what it can pay for, amortised over the room's joins
		join.Deliveries = 0
	}
	a.Join = join

	reps := 5
	if n >= 10000 {
		reps = 1
	}
	runs := func(route, body string) (Usage, error) {
		var us []Usage
		for range reps {
			u, _, err := r.event(ctx, me, route, body, nil)
			if err != nil {
				return Usage{}, err
			}
			us = append(us, u)
		}
		slices.SortFunc(us, func(a, b Usage) int { return int(a.Millis*1000) - int(b.Millis*1000) })
		return us[len(us)/2], nil
	}
	msg := `{"action":"sendPublic","message":"` + string(make64()) + `"}`
	if a.Public, err = runs(contract.RouteSendPublic, msg); err != nil {
		return a, err
	}
	if a.Private, err = runs(contract.RouteSendPrivate, `{"action":"sendPrivate","to":["member-0"],"message":"`+string(make64())+`"}`); err != nil {
		return a, err
	}
	if a.Ping, err = runs(contract.RouteDefault, `{"action":"ping"}`); err != nil {
		return a, err
	}
	if a.Typing, err = runs(contract.RouteDefault, `{"action":"typing"}`); err != nil {
		return a, err
	}
	_ = ids
	return a, nil
}

func make64() []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = 'x'
	}
	return b
}
