package ddbproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/lambda/dynamo"
)

// In front of a target that has transactions (moto's server) the proxy
// passes them on as they came, and its faults stay on (native.go).

// motoFixture is a fixture whose proxy reaches moto through a front.
func motoFixture(ctx context.Context, t *testing.T, f Faults) (*fixture, *front) {
	t.Helper()
	endpoint, raw := startMoto(ctx, t)
	fr := newFront(t, endpoint)
	p, err := Start(fr.url, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	n := tableSeq.Add(1)
	names := dynamo.Names{Connections: fmt.Sprintf("Connections-%d", n), Messages: fmt.Sprintf("Messages-%d", n)}
	if err := dynamo.CreateTables(ctx, raw, names); err != nil {
		t.Fatalf("create the tables in moto: %v", err)
	}
	return &fixture{proxy: p, via: client(p.Endpoint()), direct: raw, conns: names.Connections, messages: names.Messages}, fr
}

func TestATargetWithTransactionsGetsThemPassedOn(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 3*time.Minute)
	fx, fr := motoFixture(ctx, t, AWSLike())
	if _, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		txAdd(fx.conns, "a"), txCreate(fx.conns, "b")}}); err != nil {
		t.Fatalf("a transaction through the proxy on moto: %v", err)
	}
	var passed []call
	for _, c := range fr.answered("TransactWriteItems", http.StatusOK) {
		if c.body != `{"TransactItems":[]}` { // the proxy's question: does the target have transactions?
			passed = append(passed, c)
		}
	}
	if len(passed) != 1 {
		t.Errorf("moto applied %d TransactWriteItems with actions; want the client's, passed on", len(passed))
	}
	out, err := fx.via.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: aws.String(fx.conns), Key: key("a")}}, {Get: &types.Get{TableName: aws.String(fx.conns), Key: key("none")}}}})
	if err != nil || len(out.Responses) != 2 || canon(out.Responses[0].Item) != `{"n":1,"pk":"a"}` || out.Responses[1].Item != nil {
		t.Errorf("a TransactGetItems through the proxy on moto: %v; want a's item and none", err)
	}
	if got := fr.answered("TransactGetItems", http.StatusOK); len(got) != 1 {
		t.Errorf("moto answered %d TransactGetItems; want the client's, passed on", len(got))
	}
	if passed, err := fx.proxy.TransactionsPassed(ctx); !passed || err != nil {
		t.Errorf("TransactionsPassed = %v, %v; want true", passed, err)
	}
	dyn := newFixture(t, AWSLike())
	if passed, err := dyn.proxy.TransactionsPassed(ctx); passed || err != nil {
		t.Errorf("on dynalite TransactionsPassed = %v, %v; want false (emulated)", passed, err)
	}
}

func TestThroughToMotoTheFaultsStayTheProxys(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 3*time.Minute)
	fx, fr := motoFixture(ctx, t, AWSLike())

	t.Run("a forced conflict", func(t *testing.T) {
		fx.proxy.Inject(Faults{Conflict: func(w Write) bool { return w.Action == 1 }})
		defer fx.proxy.Restore()
		_, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			txAdd(fx.conns, "forced-0"), txAdd(fx.conns, "forced-1")}})
		expect(t, "the cancellation reasons", reasonCodes(err), "None", "TransactionConflict")
		if got := fx.n(ctx, t, "forced-0"); got != "none" {
			t.Errorf("moto applied a transaction the proxy cancelled: n = %s", got)
		}
	})

	t.Run("a transaction in flight", func(t *testing.T) {
		release := holding(ctx, t, fx, Faults{}, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{txAdd(fx.conns, "held")}})
		_, err := fx.via.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fx.conns), Item: key("held")})
		var conflict *types.TransactionConflictException
		if !errors.As(err, &conflict) {
			t.Errorf("a plain write of an item a transaction holds: %v; want TransactionConflictException", err)
		}
		_, err = fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			txAdd(fx.conns, "free"), txAdd(fx.conns, "held")}})
		expect(t, "a second transaction's reasons", reasonCodes(err), "None", "TransactionConflict")
		_, err = fx.via.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
			{Get: &types.Get{TableName: aws.String(fx.conns), Key: key("held")}}}})
		expect(t, "a TransactGetItems' reasons", reasonCodes(err), "TransactionConflict")
		if err := release(); err != nil {
			t.Fatalf("the transaction held: %v", err)
		}
		fx.proxy.Restore()
		if got := fx.n(ctx, t, "held"); got != "1" {
			t.Errorf("held: n = %s; want 1 (the first transaction only)", got)
		}
	})

	t.Run("index lag", func(t *testing.T) {
		fx.proxy.Inject(Faults{IndexLag: lag})
		defer fx.proxy.Restore()
		written := time.Now()
		if _, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(fx.conns), Item: conn("c1", "lobby", "ann")}}}}); err != nil {
			t.Fatal(err)
		}
		fx.eventually(ctx, t, "lobby", written.Add(lag), "c1=ann")
	})

	t.Run("applied, then failed", func(t *testing.T) {
		before := len(fr.answered("TransactWriteItems", http.StatusOK)) // the proxy's question included
		fx.proxy.Inject(Faults{ApplyThenFail: Once(func(w Write) bool { return w.Op == "TransactWriteItems" })})
		defer fx.proxy.Restore()
		if _, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			txAdd(fx.conns, "retried")}}); err != nil {
			t.Fatalf("a transaction applied, answered 500 and retried: %v", err)
		}
		if got := len(fr.answered("TransactWriteItems", http.StatusOK)) - before; got != 2 {
			t.Errorf("moto applied the transaction %d times; want 2: once, then the SDK's retry after the proxy's 500", got)
		}
		// moto applies the retry again (it ignores the token; AWS would
		// not): n = 2 here, 1 on AWS and on the proxy over dynalite.
		t.Logf("after a transaction applied, failed and retried with its token: n = %s on moto", fx.n(ctx, t, "retried"))
	})
}
