package ddbproxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/internal/testkit"
)

// The proxy runs TransactWriteItems as DynamoDB does: all or nothing, a
// retry with the same ClientRequestToken answered without applying it
// again, and the same token with other actions refused.
func TestTransactionsAreAtomicAndIdempotentByToken(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 30*time.Second)
	// Every transaction is applied and then answered 500 once: the SDK
	// retries it with the same token.
	fx := newFixture(t, Faults{ApplyThenFail: Once(func(w Write) bool { return w.Op == "TransactWriteItems" })})
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	add := func(pk string) types.TransactWriteItem {
		return types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(fx.conns), Key: map[string]types.AttributeValue{"pk": s(pk)},
			UpdateExpression:          aws.String("ADD #n :one"),
			ExpressionAttributeNames:  map[string]string{"#n": "n"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		}}
	}
	put := func(pk string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(fx.conns), Item: map[string]types.AttributeValue{"pk": s(pk)},
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}}
	}
	count := func(pk string) string {
		t.Helper()
		out, err := fx.direct.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(fx.conns),
			Key: map[string]types.AttributeValue{"pk": s(pk)}, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := out.Item["n"].(*types.AttributeValueMemberN); ok {
			return n.Value
		}
		if len(out.Item) > 0 {
			return "item"
		}
		return "none"
	}

	in := &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String("token-1"),
		TransactItems: []types.TransactWriteItem{put("c#1"), add("r#room")}}
	if _, err := fx.via.TransactWriteItems(ctx, in); err != nil {
		t.Fatalf("a transaction applied, answered 500 and retried: %v", err)
	}
	if got := count("r#room"); got != "1" {
		t.Errorf("after a transaction applied, answered 500 and retried, the count is %s; want 1", got)
	}
	// The same token and actions again: success, nothing applied.
	if _, err := fx.via.TransactWriteItems(ctx, in); err != nil || count("r#room") != "1" {
		t.Errorf("a repeat of an applied transaction: %v, count %s; want success and 1", err, count("r#room"))
	}
	// The same token, other actions.
	_, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String("token-1"),
		TransactItems: []types.TransactWriteItem{put("c#2"), add("r#room")}})
	var mismatch *types.IdempotentParameterMismatchException
	if !errors.As(err, &mismatch) {
		t.Errorf("the same token with other actions: %v; want IdempotentParameterMismatchException", err)
	}
	// A failed condition cancels the whole transaction: the count's ADD,
	// listed first and applied first, is undone.
	_, err = fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String("token-2"),
		TransactItems: []types.TransactWriteItem{add("r#room"), put("c#1")}})
	var cancelled *types.TransactionCanceledException
	if !errors.As(err, &cancelled) || len(cancelled.CancellationReasons) != 2 ||
		aws.ToString(cancelled.CancellationReasons[0].Code) != "None" ||
		aws.ToString(cancelled.CancellationReasons[1].Code) != "ConditionalCheckFailed" {
		t.Fatalf("a transaction whose put finds its item: %v; want TransactionCanceledException [None, ConditionalCheckFailed]", err)
	}
	if got := count("r#room"); got != "1" {
		t.Errorf("after a cancelled transaction the count is %s; want 1 (nothing applied)", got)
	}
	if got := count("c#2"); got != "none" {
		t.Errorf("the mismatched transaction wrote c#2 (%s)", got)
	}
}

// The same actions are the same parameters however the client orders the
// keys of a JSON object: the SDK writes a map (ExpressionAttributeValues)
// in Go's map order, which changes from call to call. Found by
// TestTransactionsAgreeWithMotoOnRandomSequences (seed 1796431825093014813:
// a repeat of a transaction with its token was refused with
// IdempotentParameterMismatchException).
func TestARepeatWithItsTokenIsTheSameWhateverTheOrderOfItsKeys(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 30*time.Second)
	fx := newFixture(t, AWSLike())
	send := func(values string) (int, string) {
		body := `{"ClientRequestToken":"token-order","TransactItems":[{"Update":{"TableName":"` + fx.conns + `",` +
			`"Key":{"pk":{"S":"ordered"}},"UpdateExpression":"SET v = :v ADD n :one","ExpressionAttributeValues":` + values + `}}]}`
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, fx.proxy.Endpoint(), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = unsigned()
		req.Header.Set("X-Amz-Target", targetPrefix+"TransactWriteItems")
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got)
	}
	if status, got := send(`{":v":{"N":"1"},":one":{"N":"1"}}`); status != http.StatusOK {
		t.Fatalf("the first attempt: %d %s", status, got)
	}
	if status, got := send(`{":one":{"N":"1"},":v":{"N":"1"}}`); status != http.StatusOK {
		t.Errorf("the same transaction with its token, its values' keys in another order: %d %s; want success", status, got)
	}
	if got := fx.n(ctx, t, "ordered"); got != "1" {
		t.Errorf("n = %s; want 1 (applied once)", got)
	}
}
