package ddbproxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/internal/testkit"
)

// The emulation checks a transaction whole before it writes anything: one
// that its conditions cancel never writes, not even for a moment, and the
// undo that remains (an Update that fails once applied, the target
// failing) is reported when it fails, never ignored (txapply.go).

// front stands between the proxy and its target, recording every request
// and its answer's status, and, once failing is set, answering every write
// with 500 without forwarding it.
type front struct {
	url     string
	failing atomic.Bool
	mu      sync.Mutex
	calls   []call
}

type call struct {
	op     string
	status int
	body   string
}

func newFront(t *testing.T, target string) *front {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &front{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if f.failing.Load() && (op == "PutItem" || op == "UpdateItem" || op == "DeleteItem") {
			f.record(op, http.StatusInternalServerError, body)
			internalServerError(w, "failing (the test's front)")
			return
		}
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(rec, r)
		f.record(op, rec.status, body)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *front) record(op string, status int, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{op: op, status: status, body: string(body)})
}

// answered returns the requests of op the target answered with status.
func (f *front) answered(op string, status int) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.op == op && c.status == status {
			out = append(out, c)
		}
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// frontFixture is a fixture whose proxy reaches dynalite through a front.
func frontFixture(t *testing.T, f Faults) (*fixture, *front) {
	t.Helper()
	fx := newFixture(t, f)
	fr := newFront(t, shared.Endpoint())
	p, err := StartWith(fr.url, f, Options{Transactions: EmulateTransactions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	fx.proxy, fx.via = p, client(p.Endpoint())
	return fx, fr
}

func TestACancelledTransactionWritesNothingAtTheTarget(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx, fr := frontFixture(t, AWSLike())
	fx.put(ctx, t, fx.direct, key("taken"))
	check := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(fx.conns), Key: key("absent"),
		ConditionExpression: aws.String("attribute_exists(pk)")}}
	_, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		txAdd(fx.conns, "counter"), check, txCreate(fx.conns, "taken"), txAdd(fx.conns, "other")}})
	expect(t, "the cancellation reasons", reasonCodes(err), "None", "ConditionalCheckFailed", "ConditionalCheckFailed", "None")
	for _, op := range []string{"PutItem", "UpdateItem", "DeleteItem"} {
		if applied := fr.answered(op, http.StatusOK); len(applied) > 0 {
			t.Errorf("a transaction its conditions cancelled had the target apply %d %s (%s…): a reader straight at the target saw it half done",
				len(applied), op, applied[0].body[:min(len(applied[0].body), 120)])
		}
	}
	if got := fx.n(ctx, t, "counter"); got != "none" {
		t.Errorf("counter = %s after the cancelled transaction; want none", got)
	}
}

func TestAnUndoThatFailsIsReportedNotIgnored(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx, fr := frontFixture(t, Deterministic("the target fails right after the first write; one transaction, nothing to conflict with"))
	// The first Update is applied; then the target fails every write: the
	// second Update and the undo of the first.
	fx.proxy.afterAction = func(int) { fr.failing.Store(true) }
	noRetry := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: fx.via.Options().Credentials, RetryMaxAttempts: 1},
		func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(fx.proxy.Endpoint()) })
	_, err := noRetry.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		txAdd(fx.conns, "first"), txAdd(fx.conns, "second")}})
	if got := fx.n(ctx, t, "first"); got != "1" {
		t.Fatalf("first = %s; want 1, applied and not undone (the test's front fails the undo)", got)
	}
	if !strings.Contains(err.Error(), "half applied") {
		t.Errorf("a transaction left half applied was answered %v; want an error that says so", err)
	}
	if broken := fx.proxy.Broken(); broken == nil || !strings.Contains(broken.Error(), "put back") {
		t.Errorf("Broken() = %v; want the failed undo", broken)
	}
}

// AWS (the API reference's TransactionCanceledException: "an item size
// becomes too large … because of changes made by the transaction"; a
// capture against AWS in docs/local.md): an Update that grows its item
// over 400 KB cancels the transaction with ValidationError for it, and
// nothing is applied. moto answers a ValidationException for the request.
func TestAnUpdateThatGrowsItsItemOver400KBCancelsWithValidationError(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, AWSLike())
	fx.put(ctx, t, fx.direct, map[string]types.AttributeValue{"pk": s("big"), "pad": s(strings.Repeat("a", 300<<10))})
	grow := types.TransactWriteItem{Update: &types.Update{TableName: aws.String(fx.conns), Key: key("big"),
		UpdateExpression:          aws.String("SET pad2 = :pad"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pad": s(strings.Repeat("b", 200<<10))}}}
	_, err := fx.via.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		txAdd(fx.conns, "counter"), grow}})
	expect(t, "the cancellation reasons", reasonCodes(err), "None", "ValidationError")
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) && len(tc.CancellationReasons) == 2 &&
		aws.ToString(tc.CancellationReasons[1].Message) != "Item size to update has exceeded the maximum allowed size" {
		t.Errorf("the Update's reason says %q; want DynamoDB's words", aws.ToString(tc.CancellationReasons[1].Message))
	}
	if got := fx.n(ctx, t, "counter"); got != "none" {
		t.Errorf("counter = %s after the cancelled transaction; want none", got)
	}
}

// TransactGetItems over dynalite (which has none): the items as they are,
// none for a missing one, and cancelled with TransactionConflict on an
// item a transaction in flight holds, as DynamoDB documents.
func TestATransactGetItemsReadsCommittedItemsAndConflictsWithATransactionInFlight(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, AWSLike())
	fx.put(ctx, t, fx.direct, map[string]types.AttributeValue{"pk": s("here"), "v": s("1")})
	get := func(pks ...string) (*dynamodb.TransactGetItemsOutput, error) {
		in := &dynamodb.TransactGetItemsInput{}
		for _, pk := range pks {
			in.TransactItems = append(in.TransactItems, types.TransactGetItem{Get: &types.Get{TableName: aws.String(fx.conns), Key: key(pk)}})
		}
		return fx.via.TransactGetItems(ctx, in)
	}
	out, err := get("here", "missing")
	if err != nil || len(out.Responses) != 2 || canon(out.Responses[0].Item) != `{"pk":"here","v":"1"}` || out.Responses[1].Item != nil {
		t.Fatalf("TransactGetItems of an item and a missing one: %+v, %v", out, err)
	}
	release := holding(ctx, t, fx, Faults{}, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{txAdd(fx.conns, "here")}})
	_, err = get("missing", "here")
	expect(t, "the reasons of a TransactGetItems on a held item", reasonCodes(err), "None", "TransactionConflict")
	if err := release(); err != nil {
		t.Fatal(err)
	}
	fx.proxy.Restore()
	if out, err := get("here"); err != nil || canon(out.Responses[0].Item) != `{"n":1,"pk":"here","v":"1"}` {
		t.Errorf("after the transaction: %+v, %v; want its change", out, err)
	}
}
