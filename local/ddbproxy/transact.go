package ddbproxy

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"time"
)

// Transactions. dynalite has no TransactWriteItems, so the proxy runs one
// itself, as DynamoDB does in the ways a handler can notice (the sources
// are in docs/local.md); a target that has transactions gets them as they
// came instead (native.go), with the conflicts below still the proxy's:
//
//   - Validated first: more than 100 actions, or two actions on one item,
//     are a ValidationException.
//   - All or nothing, checked before anything is written (txapply.go):
//     every action validated and every condition checked by the target
//     without writing; when conditions fail, the answer is
//     TransactionCanceledException with one cancellation reason per
//     action: ConditionalCheckFailed for every action whose condition
//     failed (all are checked), None for the others. Only an Update that
//     fails on the item as it is (over 400 KB) is undone after the fact:
//     ValidationError for it.
//   - Conflicting, with Faults.TransactionConflicts: a transaction holds
//     its items while it runs (holds.go).
//     One that finds an item held by another transaction, or by a plain
//     write in flight, is cancelled without applying anything, with
//     TransactionConflict for each such item; a plain write of an item a
//     transaction holds is refused with TransactionConflictException. The
//     time a transaction takes to apply its actions one by one is how long
//     it holds them: no sleep is added. Without TransactionConflicts the
//     proxy runs them one at a time instead, every other request held.
//   - Read committed: no read through the proxy sees half of a transaction
//     (holds.go).
//   - Idempotent by ClientRequestToken: the same token with the same
//     actions within ten minutes of a transaction that succeeded answers
//     success again without applying anything; the same token with other
//     actions answers IdempotentParameterMismatchException; the same token
//     while its first attempt is still running answers
//     TransactionInProgressException (the SDK retries it), so a retry never
//     conflicts with its own first attempt. (The SDK sets a token of its own
//     when the caller does not, and sends it again with every retry: a retry
//     of a transaction applied and then answered with an error, see
//     Faults.ApplyThenFail, is not applied twice.)
//
// Only requests through the proxy are held; items written straight to the
// target may interleave with a transaction.

// maxActions is DynamoDB's limit of actions in one transaction.
const maxActions = 100

// txAction is one action of a transaction: its kind and its request, which
// is the single-item operation's request but for the fields that only the
// transaction has.
type txAction struct {
	op   string // PutItem, UpdateItem, DeleteItem, ConditionCheck
	in   map[string]json.RawMessage
	tab  string
	key  item
	t    *table
	prev item // the item before the action, nil when there was none
}

// txRequest is a TransactWriteItems request, validated.
type txRequest struct {
	acts   []*txAction
	keys   []string // itemKey per action
	tables []string
	token  string
	digest [sha256.Size]byte
	total  bool // ReturnConsumedCapacity asks for it
}

var txKinds = map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheck"}

// parseTransaction validates a TransactWriteItems request as DynamoDB
// does; bad is the answer when it is refused.
func (p *Proxy) parseTransaction(ctx context.Context, hdr http.Header, body []byte) (req *txRequest, bad *response) {
	refuse := func(r response) (*txRequest, *response) { return nil, &r }
	var in struct {
		TransactItems          []map[string]map[string]json.RawMessage
		ClientRequestToken     string
		ReturnConsumedCapacity string
	}
	if err := json.Unmarshal(body, &in); err != nil || len(in.TransactItems) == 0 {
		return refuse(validation("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: " +
			"Member must have length greater than or equal to 1"))
	}
	if len(in.TransactItems) > maxActions {
		return refuse(tooMany())
	}
	// The actions as canonical JSON (every object's keys sorted): the SDK
	// writes a map in Go's map order, which differs from call to call.
	var actions struct{ TransactItems any }
	_ = json.Unmarshal(body, &actions)
	actionsJSON, _ := json.Marshal(actions.TransactItems)
	req = &txRequest{token: in.ClientRequestToken, digest: sha256.Sum256(actionsJSON),
		total: in.ReturnConsumedCapacity == "TOTAL" || in.ReturnConsumedCapacity == "INDEXES"}
	tables := map[string]bool{}
	for _, ti := range in.TransactItems {
		if len(ti) != 1 {
			return refuse(validation("each TransactItem must hold exactly one action"))
		}
		for kind, action := range ti {
			op, ok := txKinds[kind]
			if !ok {
				return refuse(validation("unknown TransactItem action " + kind))
			}
			a := &txAction{op: op, in: action}
			_ = json.Unmarshal(action["TableName"], &a.tab)
			t, err := p.tableOf(ctx, hdr, a.tab)
			if err != nil {
				return refuse(apiError(http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found", nil))
			}
			a.t = t
			var it item
			field := "Key"
			if op == "PutItem" {
				field = "Item"
			}
			if json.Unmarshal(action[field], &it) != nil || t.key(it) == "" {
				return refuse(validation("an action lacks its item's key"))
			}
			a.key = item{t.hash: it[t.hash]}
			if t.rng != "" {
				a.key[t.rng] = it[t.rng]
			}
			k := itemKey(a.tab, t.key(it))
			for _, seen := range req.keys {
				if seen == k {
					return refuse(validation("Transaction request cannot include multiple operations on one item"))
				}
			}
			req.keys = append(req.keys, k)
			req.acts = append(req.acts, a)
			if !tables[a.tab] {
				tables[a.tab] = true
				req.tables = append(req.tables, a.tab)
			}
		}
	}
	return req, nil
}

// transact runs a TransactWriteItems request, or passes it to a target
// that has transactions (native.go); the faults are the proxy's either way.
func (p *Proxy) transact(r *http.Request, body []byte, f Faults) response {
	ctx := r.Context()
	passed, err := p.passTransactions(ctx, r.Header)
	if err != nil {
		return response{err: err}
	}
	req, bad := p.parseTransaction(ctx, r.Header, body)
	if bad != nil {
		if passed {
			return p.forwardHeld(r, body) // refused by the target, in its words
		}
		return *bad
	}
	if req.token != "" && !passed {
		done, busy := p.tokens.begin(req.token)
		if busy {
			return apiError(http.StatusBadRequest, "TransactionInProgressException",
				"The transaction with the given request token is already in progress.", nil)
		}
		defer done()
		if answer, found, mismatch := p.tokens.lookup(req.token, req.digest, time.Now()); mismatch {
			return apiError(http.StatusBadRequest, "IdempotentParameterMismatchException",
				"The request uses the same client token as a previous, but non-identical request.", nil)
		} else if found {
			return okResponse(answer)
		}
	}
	if f.Conflict != nil {
		// Asked outside any hold: the predicate may make requests through
		// the proxy.
		forced, anyForced := make([]bool, len(req.acts)), false
		for i, a := range req.acts {
			forced[i] = f.Conflict(Write{Op: "TransactWriteItems", Table: a.tab, Body: body, Action: i})
			anyForced = anyForced || forced[i]
		}
		if anyForced {
			return cancelled(conflictReasons(forced))
		}
	}
	run := func() response {
		if passed {
			return p.forward(r, body)
		}
		return p.apply(ctx, r.Header, req)
	}
	if !f.TransactionConflicts {
		p.txMu.Lock()
		defer p.txMu.Unlock()
		return run()
	}
	tx := &txn{keys: req.keys, tables: req.tables, done: make(chan struct{})}
	if held, ok := p.holds.take(tx); !ok {
		close(tx.done)
		return cancelled(conflictReasons(held))
	}
	defer p.holds.release(tx)
	if f.TransactionHold != nil {
		f.TransactionHold(Write{Op: "TransactWriteItems", Table: onlyTable(req.tables), Body: body})
	}
	p.holds.beginApply(tx)
	return run()
}

func onlyTable(tables []string) string {
	if len(tables) == 1 {
		return tables[0]
	}
	return ""
}
