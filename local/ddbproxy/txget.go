package ddbproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// TransactGetItems. Passed to a target that has transactions (native.go),
// with the conflicts below still the proxy's; else the proxy runs it as DynamoDB does where a handler can notice: 1 to
// 100 Gets, each read strongly consistent while the transaction holds its
// items (holds.go), so that no transaction or write through the proxy is
// seen half done. With Faults.TransactionConflicts one that finds an item
// held by a transaction or a plain write in flight is cancelled with
// TransactionConflict for it, as DynamoDB's is; a plain write of an item
// it holds meanwhile is refused with TransactionConflictException (AWS
// documents only the first). Two Gets of one item are not refused (AWS's
// answer is not documented).

// getAction is one Get of a TransactGetItems.
type getAction struct {
	tab string
	in  map[string]json.RawMessage
}

// serveTransactGet answers a TransactGetItems.
func (p *Proxy) serveTransactGet(w http.ResponseWriter, r *http.Request, body []byte, f Faults) {
	ctx := r.Context()
	passed, err := p.passTransactions(ctx, r.Header)
	if err != nil {
		response{err: err}.send(w, nil)
		return
	}
	gets, tx, bad := p.parseGets(ctx, r.Header, body)
	if bad != nil {
		if passed {
			p.forwardHeld(r, body).send(w, nil) // refused by the target, in its words
			return
		}
		bad.send(w, nil)
		return
	}
	run := func() response {
		if passed {
			return p.forward(r, body)
		}
		return p.getAll(ctx, r.Header, gets)
	}
	if !f.TransactionConflicts {
		p.txMu.Lock()
		defer p.txMu.Unlock()
		run().send(w, nil)
		return
	}
	if held, ok := p.holds.take(tx); !ok {
		close(tx.done)
		cancelled(conflictReasons(held)).send(w, nil)
		return
	}
	resp := run()
	p.holds.release(tx)
	resp.send(w, nil)
}

// parseGets validates a TransactGetItems as DynamoDB does.
func (p *Proxy) parseGets(ctx context.Context, hdr http.Header, body []byte) ([]getAction, *txn, *response) {
	refuse := func(r response) ([]getAction, *txn, *response) { return nil, nil, &r }
	var in struct {
		TransactItems []struct{ Get map[string]json.RawMessage }
	}
	if err := json.Unmarshal(body, &in); err != nil || len(in.TransactItems) == 0 {
		return refuse(validation("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: " +
			"Member must have length greater than or equal to 1"))
	}
	if len(in.TransactItems) > maxActions {
		return refuse(tooMany())
	}
	tx := &txn{done: make(chan struct{})}
	gets := make([]getAction, 0, len(in.TransactItems))
	seen := map[string]bool{}
	for _, ti := range in.TransactItems {
		g := getAction{in: ti.Get}
		_ = json.Unmarshal(ti.Get["TableName"], &g.tab)
		t, err := p.tableOf(ctx, hdr, g.tab)
		if err != nil {
			return refuse(apiError(http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found", nil))
		}
		var k item
		_ = json.Unmarshal(ti.Get["Key"], &k)
		if key := t.key(k); key != "" && !seen[itemKey(g.tab, key)] {
			seen[itemKey(g.tab, key)] = true
			tx.keys = append(tx.keys, itemKey(g.tab, key))
		}
		gets = append(gets, g)
	}
	return gets, tx, nil
}

// getAll reads every item, strongly consistent; the caller holds them. A
// Get the target refuses cancels the transaction with ValidationError for
// it, as DynamoDB reports an action's own invalid input.
func (p *Proxy) getAll(ctx context.Context, hdr http.Header, gets []getAction) response {
	out := make([]map[string]json.RawMessage, len(gets))
	reasons := make([]reason, len(gets))
	failed := false
	for i, g := range gets {
		reasons[i] = reason{Code: reasonNone}
		in := map[string]json.RawMessage{}
		for k, v := range g.in {
			in[k] = v
		}
		in["ConsistentRead"] = json.RawMessage("true")
		status, got, err := p.callRaw(ctx, hdr, "GetItem", in)
		if err != nil {
			return response{err: fmt.Errorf("the transaction's Get %d: %w", i, err)}
		}
		if status != http.StatusOK {
			failed, reasons[i] = true, reason{Code: reasonValid, Message: errorMessage(got)}
			continue
		}
		var one struct{ Item json.RawMessage }
		_ = json.Unmarshal(got, &one)
		out[i] = map[string]json.RawMessage{}
		if len(one.Item) > 0 {
			out[i]["Item"] = one.Item
		}
	}
	if failed {
		return cancelled(reasons)
	}
	answer, _ := json.Marshal(map[string]any{"Responses": out})
	return okResponse(answer)
}
