package ddbproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/lambda/dynamo"
)

// The differential check of transactions: the same requests go to the
// proxy on dynalite (which runs transactions itself) and to the proxy on
// moto's server (which passes them to moto), and must get the same
// outcome — the error's type, every cancellation reason's code and item —
// and leave the same items behind. Both proxies run Deterministic: moto
// runs one request at a time, so nothing there conflicts or lags, and the
// comparison is of what the two implementations decide, not of timing;
// the faults are the proxy's on either target (native_test.go).
//
// Where moto differs from AWS's documentation, AWS is trusted and the
// difference is pinned as one (docs/local.md, "Checked against moto"):
//
//   - moto ignores ClientRequestToken (it applies a repeat again, and
//     accepts the token with other actions). The moto side therefore gets
//     AWS's documented rule on top (diff.transact): a repeat of a transaction
//     that succeeded is success without sending it, the token with other
//     actions IdempotentParameterMismatchException.
//   - moto refuses a transaction whose Update grows its item over 400 KB
//     with a ValidationException for the request; AWS cancels it with
//     ValidationError for that action.
//   - moto accepts a transaction without actions; AWS refuses it with a
//     ValidationException.

// compareDecisions is why both sides run Deterministic.
const compareDecisions = "moto runs one request at a time: the comparison is of what each side decides, not of timing"

// diff is the two sides of the comparison.
type diff struct {
	t      *testing.T
	ctx    context.Context
	emu    *dynamodb.Client // through the proxy on dynalite
	mot    *dynamodb.Client // through the proxy on moto
	motRaw *dynamodb.Client // moto itself
	table  string
	tokens map[string]string // AWS's rule for moto: token → the actions of its success
	where  string            // how to rerun, in every failure
}

// outcome is what a request got, as compared.
type outcome struct {
	Code    string   // the error's type, "" for success
	Reasons []string // the cancellation reasons' codes
	Items   []string // the cancellation reasons' items (ReturnValuesOnConditionCheckFailure)
	Got     []string // a TransactGetItems' items
}

func newDiff(t *testing.T, ctx context.Context) *diff {
	t.Helper()
	endpoint, raw := startMoto(ctx, t)
	fx := newFixture(t, Deterministic(compareDecisions))
	mp, err := Start(endpoint, Deterministic(compareDecisions))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mp.Close() })
	if err := dynamo.CreateTables(ctx, raw, dynamo.Names{Connections: fx.conns, Messages: fx.messages}); err != nil {
		t.Fatalf("create the tables in moto: %v", err)
	}
	for name, p := range map[string]*Proxy{"dynalite": fx.proxy, "moto": mp} {
		passed, err := p.TransactionsPassed(ctx)
		if err != nil || passed != (name == "moto") {
			t.Fatalf("the proxy on %s passes transactions to it: %v (%v); want %v", name, passed, err, name == "moto")
		}
	}
	return &diff{t: t, ctx: ctx, emu: fx.via, mot: client(mp.Endpoint()), motRaw: raw, table: fx.conns, tokens: map[string]string{}}
}

// outcomeOf is a response's outcome.
func outcomeOf(err error) outcome {
	o := outcome{Code: errorCode(err), Reasons: reasonCodes(err)}
	if err != nil && o.Code == "" {
		o.Code = "transport: " + err.Error()
	}
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			o.Items = append(o.Items, canon(r.Item))
		}
	}
	return o
}

// canon is an item as comparable text ("-" for none); a long string is
// its length.
func canon(it map[string]types.AttributeValue) string {
	if len(it) == 0 {
		return "-"
	}
	var m map[string]any
	if err := attributevalue.UnmarshalMap(it, &m); err != nil {
		return "unreadable: " + err.Error()
	}
	for k, v := range m {
		if s, ok := v.(string); ok && len(s) > 64 {
			m[k] = fmt.Sprintf("%d bytes", len(s))
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// transact sends a transaction to both sides; actions identifies its
// parameters for AWS's token rule on the moto side.
func (d *diff) transact(in *dynamodb.TransactWriteItemsInput, actions string) (emu, mot outcome) {
	_, err := d.emu.TransactWriteItems(d.ctx, in)
	emu = outcomeOf(err)
	token := aws.ToString(in.ClientRequestToken)
	// AWS's rule on top of moto, after validation (which comes first is
	// not documented; the proxy validates first).
	if prior, seen := d.tokens[token]; seen && token != "" && valid(in) {
		if prior != actions {
			return emu, outcome{Code: "IdempotentParameterMismatchException"}
		}
		return emu, outcome{}
	}
	_, err = d.mot.TransactWriteItems(d.ctx, in)
	if mot = outcomeOf(err); err == nil && token != "" {
		d.tokens[token] = actions
	}
	return emu, mot
}

// get sends a TransactGetItems to both sides.
func (d *diff) get(in *dynamodb.TransactGetItemsInput) (emu, mot outcome) {
	one := func(db *dynamodb.Client) outcome {
		out, err := db.TransactGetItems(d.ctx, in)
		o := outcomeOf(err)
		if out != nil {
			for _, r := range out.Responses {
				o.Got = append(o.Got, canon(r.Item))
			}
		}
		return o
	}
	return one(d.emu), one(d.mot)
}

// plain sends a plain write to both sides.
func (d *diff) plain(send func(db *dynamodb.Client) error) (emu, mot outcome) {
	return outcomeOf(send(d.emu)), outcomeOf(send(d.mot))
}

// same requires both sides to have answered alike and to hold the same
// items.
func (d *diff) same(what string, emu, mot outcome) {
	d.t.Helper()
	if !reflect.DeepEqual(emu, mot) {
		d.t.Errorf("%s%s:\n the proxy on dynalite: %+v\n moto:                  %+v", what, d.where, emu, mot)
	}
	d.sameItems(what)
}

// differs requires each side to have answered as pinned: the proxy on
// dynalite as AWS documents, moto as it is known to differ.
func (d *diff) differs(what string, emu, mot, aws, motoKnown outcome) {
	d.t.Helper()
	if !reflect.DeepEqual(emu, aws) {
		d.t.Errorf("%s: the proxy on dynalite answered %+v; AWS %+v", what, emu, aws)
	}
	if !reflect.DeepEqual(mot, motoKnown) {
		d.t.Errorf("%s: moto answered %+v, no longer the known difference %+v: compare again and update docs/local.md", what, mot, motoKnown)
	}
	d.sameItems(what)
}

// sameItems compares every item of the table on both sides.
func (d *diff) sameItems(what string) {
	d.t.Helper()
	scan := func(db *dynamodb.Client) []string {
		var items []string
		p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(d.table), ConsistentRead: aws.Bool(true)})
		for p.HasMorePages() {
			out, err := p.NextPage(d.ctx)
			if err != nil {
				d.t.Fatalf("%s: scan: %v", what, err)
			}
			for _, it := range out.Items {
				items = append(items, canon(it))
			}
		}
		slices.Sort(items)
		return items
	}
	emu, mot := scan(d.emu), scan(d.mot)
	if !slices.Equal(emu, mot) {
		d.t.Fatalf("after %s%s the items differ:\n the proxy on dynalite: %s\n moto:                  %s",
			what, d.where, strings.Join(emu, " "), strings.Join(mot, " "))
	}
}

// valid reports whether a transaction passes DynamoDB's validation of its
// shape: 1 to 100 actions, no two on one item.
func valid(in *dynamodb.TransactWriteItemsInput) bool {
	seen := map[string]bool{}
	for _, ti := range in.TransactItems {
		var k map[string]types.AttributeValue
		switch {
		case ti.Put != nil:
			k = map[string]types.AttributeValue{"pk": ti.Put.Item["pk"]}
		case ti.Update != nil:
			k = ti.Update.Key
		case ti.Delete != nil:
			k = ti.Delete.Key
		case ti.ConditionCheck != nil:
			k = ti.ConditionCheck.Key
		}
		if seen[canon(k)] {
			return false
		}
		seen[canon(k)] = true
	}
	return len(in.TransactItems) >= 1 && len(in.TransactItems) <= maxActions
}
