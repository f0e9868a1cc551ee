package ddbproxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/groupchat/groupchat/internal/testkit"
)

// Transactions that overlap conflict as DynamoDB's do. Each test keeps a
// first transaction in flight with the TransactionHold hook (it holds its
// items, has applied nothing yet) and sends the second request meanwhile:
// no sleep decides the overlap.

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk)}
}

// txAdd adds 1 to the item's n.
func txAdd(table, pk string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(table), Key: key(pk),
		UpdateExpression:          aws.String("ADD #n :one"),
		ExpressionAttributeNames:  map[string]string{"#n": "n"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	}}
}

// txCreate puts the item unless it exists.
func txCreate(table, pk string) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(table), Item: key(pk), ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}}
}

// n reads an item's n straight from dynalite: "none" without the item.
func (fx *fixture) n(ctx context.Context, t *testing.T, pk string) string {
	t.Helper()
	out, err := fx.direct.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(fx.conns), Key: key(pk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := out.Item["n"].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	if len(out.Item) > 0 {
		return "item"
	}
	return "none"
}

// holding keeps the first transaction that reaches TransactionHold in
// flight until release is called; it returns once that transaction holds
// its items.
func holding(ctx context.Context, t *testing.T, fx *fixture, f Faults, first *dynamodb.TransactWriteItemsInput) (release func() error) {
	t.Helper()
	entered, let := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.TransactionHold = func(Write) {
		once.Do(func() {
			close(entered)
			<-let
		})
	}
	fx.proxy.Inject(f)
	errc := make(chan error, 1)
	go func() {
		_, err := fx.via.TransactWriteItems(ctx, first)
		errc <- err
	}()
	select {
	case <-entered:
	case err := <-errc:
		t.Fatalf("the first transaction ended before it held its items: %v", err)
	case <-ctx.Done():
		t.Fatal("the first transaction never held its items")
	}
	var (
		released sync.Once
		err      error
	)
	return func() error {
		released.Do(func() {
			close(let)
			err = <-errc
		})
		return err
	}
}

// errorCode is an API error's code, such as "ValidationException" (which
// the SDK has no type for), or "".
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

func reasonCodes(err error) []string {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return nil
	}
	codes := make([]string, len(tc.CancellationReasons))
	for i, r := range tc.CancellationReasons {
		codes[i] = aws.ToString(r.Code)
	}
	return codes
}

func TestATransactionOnAnItemAnotherTransactionHoldsIsCancelledWithTransactionConflict(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{TransactionConflicts: true})
	release := holding(ctx, t, fx, Faults{TransactionConflicts: true}, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{txAdd(fx.conns, "r#room"), txAdd(fx.conns, "a")}})
	defer release()

	second := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		txCreate(fx.conns, "c#new"), txAdd(fx.conns, "r#room"), txAdd(fx.conns, "b")}}
	_, err := fx.via.TransactWriteItems(ctx, second)
	expect(t, "the second transaction's cancellation reasons", reasonCodes(err), "None", "TransactionConflict", "None")
	if got := fx.n(ctx, t, "c#new"); got != "none" {
		t.Errorf("the cancelled transaction's put was applied (%s)", got)
	}
	if err := release(); err != nil {
		t.Fatalf("the first transaction, released: %v", err)
	}
	if _, err := fx.via.TransactWriteItems(ctx, second); err != nil {
		t.Fatalf("the second transaction once the first is done: %v", err)
	}
	if got := fx.n(ctx, t, "r#room"); got != "2" {
		t.Errorf("the room's count = %s; want 2, one per transaction that succeeded", got)
	}
}

func TestAPlainWriteOfAnItemATransactionHoldsIsRefusedWithTransactionConflictException(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{TransactionConflicts: true})
	release := holding(ctx, t, fx, Faults{TransactionConflicts: true}, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{txAdd(fx.conns, "r#room")}})
	defer release()

	var conflict *types.TransactionConflictException
	_, err := fx.via.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fx.conns), Item: key("r#room")})
	if !errors.As(err, &conflict) {
		t.Errorf("a PutItem of the held item: %v; want TransactionConflictException", err)
	}
	_, err = fx.via.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(fx.conns), Key: key("r#room"),
		UpdateExpression: aws.String("SET x = :x"), ExpressionAttributeValues: map[string]types.AttributeValue{":x": s("x")}})
	if !errors.As(err, &conflict) {
		t.Errorf("an UpdateItem of the held item: %v; want TransactionConflictException", err)
	}
	_, err = fx.via.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(fx.conns), Key: key("r#room")})
	if !errors.As(err, &conflict) {
		t.Errorf("a DeleteItem of the held item: %v; want TransactionConflictException", err)
	}
	_, err = fx.via.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{fx.conns: {
		{PutRequest: &types.PutRequest{Item: key("other")}}, {DeleteRequest: &types.DeleteRequest{Key: key("r#room")}}}}})
	if !errors.As(err, &conflict) {
		t.Errorf("a BatchWriteItem with the held item: %v; want TransactionConflictException", err)
	}
	if _, err := fx.via.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fx.conns), Item: key("free")}); err != nil {
		t.Errorf("a PutItem of another item while the transaction runs: %v", err)
	}
	// Reads are not held: a GetItem answers at once, with the item as it
	// was before the transaction.
	got, err := fx.via.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(fx.conns), Key: key("r#room"), ConsistentRead: aws.Bool(true)})
	if err != nil || len(got.Item) != 0 {
		t.Errorf("a GetItem of the held item = %v, %v; want no item yet", got.Item, err)
	}
	if err := release(); err != nil {
		t.Fatalf("the transaction, released: %v", err)
	}
	if n, other := fx.n(ctx, t, "r#room"), fx.n(ctx, t, "other"); n != "1" || other != "none" {
		t.Errorf("after the transaction: the room's n = %s, the refused batch's other item %s; want 1 and none", n, other)
	}
}

func TestATransactionRefusedAsAWholeAsDynamoDBValidatesIt(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{TransactionConflicts: true})
	actions := func(n int) []types.TransactWriteItem {
		out := make([]types.TransactWriteItem, n)
		for i := range out {
			out[i] = txAdd(fx.conns, fmt.Sprintf("item-%d", i))
		}
		return out
	}
	_, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: actions(101)})
	if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "less than or equal to 100") {
		t.Errorf("101 actions: %v; want ValidationException", err)
	}
	if got := fx.n(ctx, t, "item-0"); got != "none" {
		t.Errorf("the refused transaction of 101 actions applied its first (%s)", got)
	}
	if _, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: actions(100)}); err != nil {
		t.Errorf("100 actions: %v; want success", err)
	}
	_, err = fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		txAdd(fx.conns, "twice"), txCreate(fx.conns, "twice")}})
	if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "Transaction request cannot include multiple operations on one item") {
		t.Errorf("two actions on one item: %v; want ValidationException", err)
	}
}

func TestEveryFailingConditionOfATransactionHasItsReason(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{TransactionConflicts: true})
	for _, pk := range []string{"a", "c"} {
		fx.put(ctx, t, fx.direct, key(pk))
	}
	_, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		txCreate(fx.conns, "a"), txAdd(fx.conns, "b"), txCreate(fx.conns, "c"), txCreate(fx.conns, "d")}})
	expect(t, "the cancellation reasons", reasonCodes(err), "ConditionalCheckFailed", "None", "ConditionalCheckFailed", "None")
	if b, d := fx.n(ctx, t, "b"), fx.n(ctx, t, "d"); b != "none" || d != "none" {
		t.Errorf("the cancelled transaction left b = %s, d = %s; want none applied", b, d)
	}
}

func TestAForcedConflictNamesTheActionsItWasAskedAbout(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{Conflict: func(w Write) bool { return w.Action == 1 }})
	_, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		txAdd(fx.conns, "a"), txAdd(fx.conns, "r#room")}})
	expect(t, "the cancellation reasons", reasonCodes(err), "None", "TransactionConflict")
	if got := fx.n(ctx, t, "a"); got != "none" {
		t.Errorf("the cancelled transaction applied its first action (%s)", got)
	}
}

// A retry sent while its first attempt still runs (the SDK's, after a
// timeout) is answered TransactionInProgressException, which the SDK
// retries: it never conflicts with itself, and is applied once.
func TestARetryOfATransactionInFlightIsInProgressNotAConflict(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{TransactionConflicts: true})
	in := &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String("token-1"),
		TransactItems: []types.TransactWriteItem{txAdd(fx.conns, "r#room")}}
	release := holding(ctx, t, fx, Faults{TransactionConflicts: true}, in)
	defer release()

	_, err := fx.via.TransactWriteItems(ctx, in, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	if !errors.As(err, new(*types.TransactionInProgressException)) {
		t.Errorf("the same token while the first attempt runs: %v; want TransactionInProgressException", err)
	}
	if err := release(); err != nil {
		t.Fatalf("the first attempt, released: %v", err)
	}
	if _, err := fx.via.TransactWriteItems(ctx, in); err != nil {
		t.Errorf("the retry once the first attempt is done: %v; want success", err)
	}
	if got := fx.n(ctx, t, "r#room"); got != "1" {
		t.Errorf("the count = %s; want 1: applied once", got)
	}
}

func TestConcurrentTransactionsOnOneItem(t *testing.T) {
	t.Parallel()
	const n = 16
	for _, conflicts := range []bool{false, true} {
		t.Run(fmt.Sprintf("TransactionConflicts=%v", conflicts), func(t *testing.T) {
			ctx := testkit.Context(t, time.Minute)
			fx := newFixture(t, Faults{TransactionConflicts: conflicts})
			var wg sync.WaitGroup
			var ok, conflicted atomic.Int64
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					_, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
						txAdd(fx.conns, "r#room"), txCreate(fx.conns, fmt.Sprintf("c#%d", i))}})
					switch codes := reasonCodes(err); {
					case err == nil:
						ok.Add(1)
					case len(codes) == 2 && codes[0] == "TransactionConflict" && codes[1] == "None":
						conflicted.Add(1)
					default:
						t.Errorf("transaction %d: %v", i, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if got := fx.n(ctx, t, "r#room"); got != fmt.Sprint(ok.Load()) {
				t.Errorf("the count = %s; want %d, one per transaction that succeeded (%d conflicted)", got, ok.Load(), conflicted.Load())
			}
			if !conflicts && conflicted.Load() != 0 {
				t.Errorf("%d transactions conflicted without TransactionConflicts", conflicted.Load())
			}
			if conflicts && conflicted.Load() == 0 {
				t.Logf("no transaction conflicted: none overlapped")
			}
			t.Logf("%d succeeded, %d conflicted", ok.Load(), conflicted.Load())
		})
	}
}
