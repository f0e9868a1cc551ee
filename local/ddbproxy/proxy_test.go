package ddbproxy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/local/dynalite"
)

var (
	shared     *dynalite.Server
	sharedOnce sync.Once
	sharedErr  error
	tableSeq   atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		_ = shared.Stop()
	}
	stopMoto()
	os.Exit(code)
}

// fixture is a proxy in front of the test binary's dynalite, fresh tables
// with the chat's key schema (the Connections table has the byRoom index),
// and two real SDK clients: one through the proxy, one straight to
// dynalite.
type fixture struct {
	proxy           *Proxy
	via, direct     *dynamodb.Client
	conns, messages string
}

func newFixture(t testing.TB, f Faults) *fixture {
	t.Helper()
	testkit.Slow(t, "the proxy in front of dynalite")
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shared, sharedErr = dynalite.Start(ctx, dynalite.Options{})
	})
	if sharedErr != nil {
		t.Fatalf("dynalite: %v", sharedErr)
	}
	p, err := Start(shared.Endpoint(), f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	fx := &fixture{proxy: p, via: client(p.Endpoint()), direct: client(shared.Endpoint())}
	n := tableSeq.Add(1)
	names := dynamo.Names{Connections: fmt.Sprintf("Connections-%d", n), Messages: fmt.Sprintf("Messages-%d", n)}
	ctx := testkit.Context(t, 30*time.Second)
	if err := dynamo.CreateTables(ctx, fx.direct, names); err != nil {
		t.Fatal(err)
	}
	fx.conns, fx.messages = names.Connections, names.Messages
	return fx
}

func client(endpoint string) *dynamodb.Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// conn is a connection item as the chat writes it (resume is not
// projected into the index).
func conn(id, room, name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		contract.ConnPK: s(contract.ConnItemPrefix + id), contract.ConnID: s(id), contract.ConnRoom: s(room),
		contract.RoomIndexName: s(name), "resume": s("secret"),
	}
}

func (fx *fixture) put(ctx context.Context, t *testing.T, db *dynamodb.Client, it map[string]types.AttributeValue) {
	t.Helper()
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fx.conns), Item: it}); err != nil {
		t.Fatalf("put: %v", err)
	}
}

// members queries one room's partition of the index through the proxy and
// returns "id=name" per item, checking Count and the projection.
// lobbyOfFiveThreeLeft fills the lobby with a=A to e=E, of whom a, c and e
// are deleted through the proxy: on an index an hour behind they are still
// listed, between b and d.
func (fx *fixture) lobbyOfFiveThreeLeft(ctx context.Context, t *testing.T) {
	t.Helper()
	for _, id := range []string{"b", "d"} {
		fx.put(ctx, t, fx.direct, conn(id, "lobby", strings.ToUpper(id)))
	}
	for _, id := range []string{"a", "c", "e"} {
		fx.put(ctx, t, fx.direct, conn(id, "lobby", strings.ToUpper(id)))
		if _, err := fx.via.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(fx.conns),
			Key: map[string]types.AttributeValue{contract.ConnPK: s(contract.ConnItemPrefix + id)}}); err != nil {
			t.Fatal(err)
		}
	}
}

func (fx *fixture) members(ctx context.Context, t *testing.T, room string) []string {
	t.Helper()
	out, err := fx.via.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(fx.conns),
		IndexName:                 aws.String(contract.RoomIndex),
		KeyConditionExpression:    aws.String("#room = :room"),
		ExpressionAttributeNames:  map[string]string{"#room": contract.ConnRoom},
		ExpressionAttributeValues: map[string]types.AttributeValue{":room": s(room)},
	})
	if err != nil {
		t.Fatalf("query %s: %v", room, err)
	}
	if int(out.Count) != len(out.Items) {
		t.Errorf("Count %d, %d items", out.Count, len(out.Items))
	}
	var got []string
	for _, it := range out.Items {
		if _, ok := it["resume"]; ok {
			t.Errorf("the index answered an attribute it does not project: %v", it)
		}
		got = append(got, it[contract.ConnID].(*types.AttributeValueMemberS).Value+"="+
			it[contract.RoomIndexName].(*types.AttributeValueMemberS).Value)
	}
	return got
}

// eventually polls members until it equals want; it fails if that comes
// sooner than notBefore or not within 10 s.
func (fx *fixture) eventually(ctx context.Context, t *testing.T, room string, notBefore time.Time, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := fx.members(ctx, t, room)
		if slices.Equal(got, want) {
			if time.Now().Before(notBefore) {
				t.Fatalf("%s showed %v %v before the lag had passed", room, want, time.Until(notBefore))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v; want %v after the lag", room, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func expect(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %v; want %v", what, got, want)
	}
}

const lag = time.Second

func TestIndexLagHidesANewItemUntilTheLagHasPassed(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{IndexLag: lag})
	fx.put(ctx, t, fx.direct, conn("a", "lobby", "Alice")) // long before: not lagged

	written := time.Now()
	fx.put(ctx, t, fx.via, conn("b", "lobby", "Bob"))
	expect(t, "lobby right after Bob's put", fx.members(ctx, t, "lobby"), "a=Alice")
	fx.eventually(ctx, t, "lobby", written.Add(lag), "a=Alice", "b=Bob")
}

func TestIndexLagStillListsADeletedItem(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{IndexLag: lag})
	fx.put(ctx, t, fx.direct, conn("a", "lobby", "Alice"))
	fx.put(ctx, t, fx.direct, conn("b", "lobby", "Bob"))

	written := time.Now()
	if _, err := fx.via.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(fx.conns),
		Key: map[string]types.AttributeValue{contract.ConnPK: s("c#a")}}); err != nil {
		t.Fatal(err)
	}
	expect(t, "lobby right after Alice's delete", fx.members(ctx, t, "lobby"), "a=Alice", "b=Bob")
	fx.eventually(ctx, t, "lobby", written.Add(lag), "b=Bob")
}

func TestIndexLagShowsTheOldValueOfAnUpdatedAttribute(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{IndexLag: lag})
	fx.put(ctx, t, fx.direct, conn("a", "lobby", "Alice"))

	t.Run("a projected attribute", func(t *testing.T) {
		written := time.Now()
		if _, err := fx.via.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(fx.conns),
			Key:                       map[string]types.AttributeValue{contract.ConnPK: s("c#a")},
			UpdateExpression:          aws.String("SET #name = :name"),
			ExpressionAttributeNames:  map[string]string{"#name": contract.RoomIndexName},
			ExpressionAttributeValues: map[string]types.AttributeValue{":name": s("Al")},
		}); err != nil {
			t.Fatal(err)
		}
		expect(t, "lobby right after the rename", fx.members(ctx, t, "lobby"), "a=Alice")
		fx.eventually(ctx, t, "lobby", written.Add(lag), "a=Al")
	})
	t.Run("the index key: the item moves partitions late", func(t *testing.T) {
		written := time.Now()
		fx.put(ctx, t, fx.via, conn("a", "kitchen", "Al"))
		expect(t, "lobby right after the move", fx.members(ctx, t, "lobby"), "a=Al")
		expect(t, "kitchen right after the move", fx.members(ctx, t, "kitchen"))
		fx.eventually(ctx, t, "kitchen", written.Add(lag), "a=Al")
		expect(t, "lobby after the lag", fx.members(ctx, t, "lobby"))
	})
}

func TestIndexLagKeepsTheIndexOrder(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{IndexLag: time.Hour})
	fx.lobbyOfFiveThreeLeft(ctx, t)
	expect(t, "lobby, deleted items lagged in", fx.members(ctx, t, "lobby"), "a=A", "b=B", "c=C", "d=D", "e=E")
}

func TestBaseTableReadsAreNeverLagged(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{IndexLag: time.Hour})
	fx.put(ctx, t, fx.via, conn("a", "lobby", "Alice"))
	expect(t, "the index", fx.members(ctx, t, "lobby"))

	got, err := fx.via.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(fx.conns),
		Key: map[string]types.AttributeValue{contract.ConnPK: s("c#a")}, ConsistentRead: aws.Bool(true)})
	if err != nil || got.Item == nil {
		t.Errorf("GetItem = %v, %v; want the item", got.Item, err)
	}
	scan, err := fx.via.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(fx.conns)})
	if err != nil || len(scan.Items) != 1 {
		t.Errorf("Scan = %v, %v; want the item", scan.Items, err)
	}
	q, err := fx.via.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(fx.conns),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": contract.ConnPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("c#a")}})
	if err != nil || len(q.Items) != 1 {
		t.Errorf("a Query of the table = %v, %v; want the item", q.Items, err)
	}
}

func TestApplyThenFail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cond *string
		// The caller sees ConditionalCheckFailedException, else success.
		condFailed bool
		asks       int // ApplyThenFail is asked only about applied writes
	}{
		{"an unconditional put is retried and succeeds", nil, false, 2},
		{"a conditional put's retry fails its condition though the item is there",
			aws.String("attribute_not_exists(pk)"), true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testkit.Context(t, time.Minute)
			fx := newFixture(t, Faults{})
			var asked []Write
			var mu sync.Mutex
			putOnce := Once(func(w Write) bool { return w.Op == "PutItem" && w.Table == fx.conns })
			fx.proxy.Inject(Faults{ApplyThenFail: func(w Write) bool {
				mu.Lock()
				asked = append(asked, w)
				mu.Unlock()
				return putOnce(w)
			}})
			_, err := fx.via.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fx.conns),
				Item: conn("a", "lobby", "Alice"), ConditionExpression: tc.cond})
			switch {
			case !tc.condFailed && err != nil:
				t.Fatalf("put = %v; want the retry to succeed", err)
			case tc.condFailed && !errors.As(err, new(*types.ConditionalCheckFailedException)):
				t.Fatalf("put = %v; want ConditionalCheckFailedException from the retry", err)
			}
			if n := fx.proxy.Counts()["PutItem"]; n != 2 {
				t.Errorf("Counts[PutItem] = %d; want 2: the failed attempt and the SDK's retry", n)
			}
			got, err := fx.direct.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(fx.conns),
				Key: map[string]types.AttributeValue{contract.ConnPK: s("c#a")}, ConsistentRead: aws.Bool(true)})
			if err != nil || got.Item == nil {
				t.Errorf("the item = %v, %v; want it written by the first attempt", got.Item, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(asked) != tc.asks {
				t.Errorf("ApplyThenFail was asked %d times; want %d (only about applied writes)", len(asked), tc.asks)
			}
			if len(asked) > 0 && (asked[0].Op != "PutItem" || asked[0].Table != fx.conns || !strings.Contains(string(asked[0].Body), `"Alice"`)) {
				t.Errorf("ApplyThenFail was asked about %+v", asked[0])
			}
		})
	}
}

func TestTransparentByDefault(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{})
	fx.put(ctx, t, fx.via, conn("a", "lobby", "Alice"))
	expect(t, "lobby", fx.members(ctx, t, "lobby"), "a=Alice")
	_, err := fx.via.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fx.conns), Item: conn("a", "lobby", "Alice"),
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if !errors.As(err, new(*types.ConditionalCheckFailedException)) {
		t.Errorf("a failing condition = %v; want ConditionalCheckFailedException passed through", err)
	}
	want := map[string]int64{"PutItem": 2, "Query": 1}
	if got := fx.proxy.Counts(); len(got) != len(want) || got["PutItem"] != 2 || got["Query"] != 1 {
		t.Errorf("Counts = %v; want %v", got, want)
	}
}

func TestBeforeRunsAtThatPointOfTheRequest(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{})
	var ops []string
	fx.proxy.Inject(Faults{Before: func(w Write) {
		ops = append(ops, w.Op)
		if w.Op == "Query" && len(ops) == 1 {
			// Something happening between the caller's requests: Bob joins
			// just before the Query is answered, so it lists him.
			fx.put(ctx, t, fx.direct, conn("b", "lobby", "Bob"))
		}
	}})
	expect(t, "lobby", fx.members(ctx, t, "lobby"), "b=Bob")
	if !slices.Equal(ops, []string{"Query"}) {
		t.Errorf("Before saw %v, want the one Query", ops)
	}
}

// A dropped request is neither applied nor answered: the caller that
// dropped it (a test killing an invocation) cancels its context, and the
// SDK gives up without a retry.
func TestDropNeitherForwardsNorAnswers(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, Faults{})
	ctx, kill := context.WithCancel(testkit.Context(t, time.Minute))
	var asked atomic.Int64
	fx.proxy.Inject(Faults{Drop: func(w Write) bool {
		asked.Add(1)
		kill()
		return w.Op == "PutItem"
	}})
	if _, err := fx.via.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fx.conns), Item: conn("a", "lobby", "Alice")}); err == nil {
		t.Fatal("a dropped PutItem succeeded")
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("Drop was asked %d times; want once (the SDK does not retry once the context is cancelled)", n)
	}
	out, err := fx.direct.GetItem(testkit.Context(t, time.Minute), &dynamodb.GetItemInput{TableName: aws.String(fx.conns),
		Key: map[string]types.AttributeValue{contract.ConnPK: s("c#a")}, ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item != nil {
		t.Errorf("after the drop the item is %v (err %v); want none: a dropped request is not forwarded", out.Item, err)
	}
}

func TestLatencyDelaysEveryRequest(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{Latency: 50 * time.Millisecond})
	start := time.Now()
	fx.put(ctx, t, fx.via, conn("a", "lobby", "Alice"))
	fx.members(ctx, t, "lobby")
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("a put and a Query took %s, want at least 2 × 50ms", took)
	}
}

// BenchmarkOverhead compares a GetItem and an index Query straight to
// dynalite with the same through the proxy (transparent, and lagging).
func BenchmarkOverhead(b *testing.B) {
	for _, bc := range []struct {
		name   string
		faults *Faults // nil: straight to dynalite
	}{{"direct", nil}, {"proxy", &Faults{}}, {"proxy-lag", &Faults{IndexLag: time.Second}}} {
		b.Run(bc.name, func(b *testing.B) {
			fx := newFixture(b, Faults{})
			db := fx.direct
			if bc.faults != nil {
				fx.proxy.Inject(*bc.faults)
				db = fx.via
			}
			ctx := context.Background()
			if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fx.conns), Item: conn("a", "lobby", "Alice")}); err != nil {
				b.Fatal(err)
			}
			b.Run("GetItem", func(b *testing.B) {
				for b.Loop() {
					if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(fx.conns),
						Key: map[string]types.AttributeValue{contract.ConnPK: s("c#a")}, ConsistentRead: aws.Bool(true)}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("PutItem", func(b *testing.B) {
				for b.Loop() {
					if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fx.conns), Item: conn("a", "lobby", "Alice")}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Query", func(b *testing.B) {
				for b.Loop() {
					if _, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(fx.conns), IndexName: aws.String(contract.RoomIndex),
						KeyConditionExpression:    aws.String("#room = :room"),
						ExpressionAttributeNames:  map[string]string{"#room": contract.ConnRoom},
						ExpressionAttributeValues: map[string]types.AttributeValue{":room": s("lobby")}}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
