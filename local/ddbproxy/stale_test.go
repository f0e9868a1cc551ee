package ddbproxy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
)

// A read that overlaps a transaction half applied is made again once the
// transaction is done: it never sees one of its items changed and not the
// other.
func TestAReadNeverSeesHalfATransaction(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{TransactionConflicts: true})
	forwarded := make(chan struct{}, 1)
	fx.proxy.readForwarded = func() {
		select {
		case forwarded <- struct{}{}:
		default:
		}
	}
	scanned := make(chan []string, 1)
	fx.proxy.afterAction = func(i int) {
		if i != 0 {
			return
		}
		// The first of the two puts is applied, the second not yet: a Scan
		// now would see one of them.
		go func() {
			out, err := fx.via.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(fx.conns), ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Errorf("scan: %v", err)
			}
			var pks []string
			for _, it := range out.Items {
				pks = append(pks, it["pk"].(*types.AttributeValueMemberS).Value)
			}
			slices.Sort(pks)
			scanned <- pks
		}()
		select {
		case <-forwarded:
		case <-ctx.Done():
		}
	}
	if _, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		txCreate(fx.conns, "a"), txCreate(fx.conns, "b")}}); err != nil {
		t.Fatal(err)
	}
	expect(t, "a Scan made while the transaction was half applied", <-scanned, "a", "b")
}

func (fx *fixture) get(t *testing.T, pk string, consistent bool) string {
	t.Helper()
	out, err := fx.via.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(fx.conns), Key: key(pk),
		ConsistentRead: aws.Bool(consistent)})
	if err != nil {
		t.Fatalf("GetItem %s: %v", pk, err)
	}
	if v, ok := out.Item["v"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return "none"
}

func versioned(pk, v string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk), "v": s(v)}
}

func TestAnEventuallyConsistentReadRightAfterAWriteReturnsThePreviousVersion(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{StaleReads: time.Hour})
	fx.put(ctx, t, fx.direct, versioned("a", "v1")) // long before: not stale
	fx.put(ctx, t, fx.via, versioned("a", "v2"))
	fx.put(ctx, t, fx.via, versioned("new", "v1"))
	fx.put(ctx, t, fx.direct, versioned("gone", "v1"))
	if _, err := fx.via.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(fx.conns), Key: key("gone")}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ pk, stale, current string }{
		{"a", "v1", "v2"}, {"new", "none", "v1"}, {"gone", "v1", "none"},
	} {
		if got := fx.get(t, c.pk, false); got != c.stale {
			t.Errorf("an eventually consistent GetItem of %s = %s; want %s, as it was before the write", c.pk, got, c.stale)
		}
		if got := fx.get(t, c.pk, true); got != c.current {
			t.Errorf("a consistent GetItem of %s = %s; want %s", c.pk, got, c.current)
		}
	}

	batch, err := fx.via.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		fx.conns: {Keys: []map[string]types.AttributeValue{key("a"), key("new"), key("gone")}}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range batch.Responses[fx.conns] {
		got = append(got, it["pk"].(*types.AttributeValueMemberS).Value+"="+it["v"].(*types.AttributeValueMemberS).Value)
	}
	slices.Sort(got)
	expect(t, "an eventually consistent BatchGetItem", got, "a=v1", "gone=v1")

	scan, err := fx.via.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(fx.conns)})
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, it := range scan.Items {
		got = append(got, it["pk"].(*types.AttributeValueMemberS).Value+"="+it["v"].(*types.AttributeValueMemberS).Value)
	}
	slices.Sort(got)
	expect(t, "an eventually consistent Scan", got, "a=v1", "gone=v1")
}

func TestAnEventuallyConsistentQueryOfTheTableMissesAMessageJustWritten(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{StaleReads: time.Hour})
	msg := func(id string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{contract.MessagesStream: s("pub#lobby"), contract.MessagesID: s(id)}
	}
	if _, err := fx.direct.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fx.messages), Item: msg("01")}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.via.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fx.messages), Item: msg("02")}); err != nil {
		t.Fatal(err)
	}
	history := func(consistent bool) []string {
		out, err := fx.via.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(fx.messages),
			KeyConditionExpression:    aws.String("#stream = :stream"),
			ExpressionAttributeNames:  map[string]string{"#stream": contract.MessagesStream},
			ExpressionAttributeValues: map[string]types.AttributeValue{":stream": s("pub#lobby")},
			ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(50), ConsistentRead: aws.Bool(consistent)})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range out.Items {
			ids = append(ids, it[contract.MessagesID].(*types.AttributeValueMemberS).Value)
		}
		return ids
	}
	expect(t, "an eventually consistent history Query", history(false), "01")
	expect(t, "a consistent history Query", history(true), "02", "01")
}

func TestAStaleReadCatchesUpOnceTheWindowHasPassed(t *testing.T) {
	t.Parallel()
	const window = 300 * time.Millisecond
	fx := newFixture(t, Faults{StaleReads: window})
	ctx := testkit.Context(t, time.Minute)
	fx.put(ctx, t, fx.direct, versioned("a", "v1"))
	written := time.Now()
	fx.put(ctx, t, fx.via, versioned("a", "v2"))
	for {
		got := fx.get(t, "a", false)
		if got == "v2" {
			if since := time.Since(written); since < window {
				t.Fatalf("the new version showed %s after the write, before the %s window", since, window)
			}
			return
		}
		if time.Since(written) > 10*time.Second {
			t.Fatalf("an eventually consistent read still answers %s 10 s after the write", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// As AWS: an index is never read consistently.
func TestAConsistentQueryOfAnIndexIsAValidationException(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, AWSLike())
	_, err := fx.via.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(fx.conns), IndexName: aws.String(contract.RoomIndex),
		KeyConditionExpression:    aws.String("#room = :room"),
		ExpressionAttributeNames:  map[string]string{"#room": contract.ConnRoom},
		ExpressionAttributeValues: map[string]types.AttributeValue{":room": s("lobby")},
		ConsistentRead:            aws.Bool(true)})
	if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "Consistent reads are not supported on global secondary indexes") {
		t.Errorf("a consistent index Query: %v; want ValidationException", err)
	}
}

// A lag switched on mid-test delays the writes from then on only: what was
// written before (under AWSLike's 100 ms, long past) is not hidden again by
// a longer lag.
func TestALagSwitchedOnDelaysOnlyTheWritesAfterIt(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{StaleReads: time.Millisecond, IndexLag: time.Millisecond})
	fx.put(ctx, t, fx.via, conn("a", "lobby", "Alice"))
	fx.put(ctx, t, fx.via, versioned("x", "v1"))
	fx.eventually(ctx, t, "lobby", time.Time{}, "a=Alice")
	for fx.get(t, "x", false) != "v1" { // until the 1 ms has passed
		if ctx.Err() != nil {
			t.Fatalf("an eventually consistent read still misses v1: %v", ctx.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
	fx.proxy.Inject(Faults{StaleReads: time.Hour, IndexLag: time.Hour})
	expect(t, "lobby after the index lag went up to an hour", fx.members(ctx, t, "lobby"), "a=Alice")
	if got := fx.get(t, "x", false); got != "v1" {
		t.Errorf("an eventually consistent read of an item written before the switch = %s; want v1", got)
	}
	fx.put(ctx, t, fx.via, conn("b", "lobby", "Bob"))
	fx.put(ctx, t, fx.via, versioned("x", "v2"))
	expect(t, "lobby right after Bob's put", fx.members(ctx, t, "lobby"), "a=Alice")
	if got := fx.get(t, "x", false); got != "v1" {
		t.Errorf("an eventually consistent read right after the switch and a write = %s; want v1", got)
	}
}

// Settle waits for the lag, not for a guess: it returns once the newest
// write is as old as the lag it was written with (the index and an
// eventually consistent read then show it), and at once when nothing was
// written.
func TestSettleReturnsOnceTheIndexAndTheReadsShowEveryWrite(t *testing.T) {
	t.Parallel()
	const window = 300 * time.Millisecond
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{IndexLag: window, StaleReads: window / 2})
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := fx.proxy.Settle(done); err != nil { // at once: it did not wait for its (cancelled) context
		t.Errorf("Settle with nothing written waited: %v", err)
	}
	fx.put(ctx, t, fx.direct, versioned("x", "v1"))
	written := time.Now()
	fx.put(ctx, t, fx.via, conn("a", "lobby", "Alice"))
	fx.put(ctx, t, fx.via, versioned("x", "v2"))
	if err := fx.proxy.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	if since := time.Since(written); since < window {
		t.Errorf("Settle returned %s after the write, before the %s lag", since, window)
	}
	expect(t, "lobby once settled", fx.members(ctx, t, "lobby"), "a=Alice")
	if got := fx.get(t, "x", false); got != "v2" {
		t.Errorf("an eventually consistent read once settled = %s; want v2", got)
	}
	// A lag no machine outruns, so the write is still inside it however slow the put was.
	fx.proxy.Inject(Faults{IndexLag: time.Hour, StaleReads: time.Hour})
	fx.put(ctx, t, fx.via, conn("b", "lobby", "Bob"))
	if err := fx.proxy.Settle(done); err == nil {
		t.Error("Settle returned inside the hour's lag of a write just made")
	}
}
