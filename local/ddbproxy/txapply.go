package ddbproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"
)

// Applying an emulated transaction: checked whole before anything is
// written, so that a transaction its conditions cancel writes nothing, not
// even for a moment (a reader straight at the target included):
//
//  1. Every item is read, strongly consistent: the image
//     ReturnValuesOnConditionCheckFailure returns, and the one an undo
//     (step 4) puts back.
//  2. Every Put, Update and Delete is sent with its own condition and'ed
//     with one that never holds: the target validates it as DynamoDB
//     validates a transaction before it begins (an item over 400 KB, a
//     malformed expression: a ValidationException for the whole request)
//     and then answers ConditionalCheckFailed without writing.
//  3. Every condition is checked with an UpdateItem of the item with that
//     condition and an update that cannot be applied (it sets an attribute
//     from one no item has): ConditionalCheckFailed when the condition
//     fails, a ValidationException naming the missing attribute when it
//     holds, nothing written either way. A ConditionCheck is only this.
//  4. When every condition holds, the writes are sent, Updates first. An
//     Update can still fail on the item as it is (it grows over 400 KB, an
//     ADD to a string), which DynamoDB reports as a cancellation with
//     ValidationError for that action; the Updates before it are then
//     undone from the images of step 1. Puts and Deletes, sent last,
//     cannot fail after steps 2 and 3 but for the target failing.
//
// The items are held throughout (holds.go; without TransactionConflicts
// every other request waits), so no write through the proxy comes between
// the check and the writes. An undo that fails leaves the transaction half
// applied, which DynamoDB never does: the proxy answers 500 and keeps the
// error (Proxy.Broken).

const (
	probeName    = "#ddbproxyProbe"
	missingName  = "#ddbproxyMissing"
	neverHolds   = "attribute_exists(" + probeName + ") AND attribute_not_exists(" + probeName + ")"
	probeUpdate  = "SET " + probeName + " = " + missingName
	probeAttr    = "ddbproxy probe"
	missingAttr  = "ddbproxy attribute no item has"
	missingError = "refers to an attribute that does not exist in the item"
	reasonValid  = "ValidationError"
)

// placeholders are the names (#n) and values (:v) an expression uses.
var placeholders = regexp.MustCompile(`[#:][A-Za-z0-9_]+`)

// apply runs a transaction's actions, all or nothing; the caller holds its
// items.
func (p *Proxy) apply(ctx context.Context, hdr http.Header, req *txRequest) response {
	for i, a := range req.acts {
		prev, err := p.getItem(ctx, hdr, a.tab, a.t, a.key)
		if err != nil {
			return response{err: fmt.Errorf("read %s before the transaction's action %d: %w", a.tab, i, err)}
		}
		a.prev = prev
	}
	for i, a := range req.acts {
		if a.op == "ConditionCheck" {
			continue
		}
		if bad := p.validate(ctx, hdr, i, a); bad != nil {
			return *bad
		}
	}
	reasons := make([]reason, len(req.acts))
	failed := false
	for i, a := range req.acts {
		reasons[i] = reason{Code: reasonNone}
		holds, bad := p.holdsCondition(ctx, hdr, i, a)
		if bad != nil {
			return *bad
		}
		if !holds {
			failed, reasons[i] = true, conditionFailed(a)
		}
	}
	if failed {
		return cancelled(reasons)
	}
	return p.write(ctx, hdr, req, reasons)
}

// conditionFailed is an action's reason when its condition failed.
func conditionFailed(a *txAction) reason {
	r := reason{Code: reasonCondition, Message: messageCondition}
	var rv string
	_ = json.Unmarshal(a.in["ReturnValuesOnConditionCheckFailure"], &rv)
	if rv == "ALL_OLD" && a.prev != nil {
		r.Item = a.prev
	}
	return r
}

// request is an action's request as a single-item operation's.
func (a *txAction) request() map[string]json.RawMessage {
	in := make(map[string]json.RawMessage, len(a.in))
	for k, v := range a.in {
		if k != "ReturnValuesOnConditionCheckFailure" {
			in[k] = v
		}
	}
	return in
}

// validate has the target validate a Put, Update or Delete without
// applying it (step 2); bad is the answer when it is refused.
func (p *Proxy) validate(ctx context.Context, hdr http.Header, i int, a *txAction) (bad *response) {
	in := a.request()
	var cond string
	_ = json.Unmarshal(in["ConditionExpression"], &cond)
	if cond == "" {
		cond = neverHolds
	} else {
		cond = "(" + cond + ") AND " + neverHolds
	}
	names := map[string]string{}
	_ = json.Unmarshal(in["ExpressionAttributeNames"], &names)
	names[probeName] = probeAttr
	in["ConditionExpression"], _ = json.Marshal(cond)
	in["ExpressionAttributeNames"], _ = json.Marshal(names)
	status, got, err := p.callRaw(ctx, hdr, a.op, in)
	switch {
	case err != nil:
		return &response{err: fmt.Errorf("validate the transaction's action %d: %w", i, err)}
	case status == http.StatusOK:
		return &response{err: fmt.Errorf("validate the transaction's action %d: applied under a condition that never holds: %s", i, got)}
	case bytes.Contains(got, []byte("ConditionalCheckFailedException")):
		return nil
	}
	r := ownAnswer(status, got) // refused as a whole, as DynamoDB refuses a malformed action
	return &r
}

// holdsCondition checks an action's condition without writing (step 3);
// bad is the answer when the target refuses the condition itself.
func (p *Proxy) holdsCondition(ctx context.Context, hdr http.Header, i int, a *txAction) (holds bool, bad *response) {
	var cond string
	_ = json.Unmarshal(a.in["ConditionExpression"], &cond)
	if cond == "" {
		return true, nil
	}
	var (
		names  map[string]string
		values map[string]json.RawMessage
	)
	_ = json.Unmarshal(a.in["ExpressionAttributeNames"], &names)
	_ = json.Unmarshal(a.in["ExpressionAttributeValues"], &values)
	// Only the condition's: the target refuses a name or value no
	// expression uses, and an Update's are its update's too.
	probe := map[string]any{"TableName": a.tab, "Key": a.key, "ConditionExpression": cond, "UpdateExpression": probeUpdate}
	useNames, useValues := map[string]string{probeName: probeAttr, missingName: missingAttr}, map[string]json.RawMessage{}
	for _, ph := range placeholders.FindAllString(cond, -1) {
		if v, ok := names[ph]; ok {
			useNames[ph] = v
		}
		if v, ok := values[ph]; ok {
			useValues[ph] = v
		}
	}
	probe["ExpressionAttributeNames"] = useNames
	if len(useValues) > 0 {
		probe["ExpressionAttributeValues"] = useValues
	}
	status, got, err := p.callRaw(ctx, hdr, "UpdateItem", probe)
	switch {
	case err != nil:
		return false, &response{err: fmt.Errorf("check the condition of the transaction's action %d: %w", i, err)}
	case status == http.StatusOK:
		return false, &response{err: fmt.Errorf("check the condition of the transaction's action %d: an update that cannot apply was applied: %s", i, got)}
	case bytes.Contains(got, []byte("ConditionalCheckFailedException")):
		return false, nil
	case bytes.Contains(got, []byte(missingError)):
		return true, nil
	}
	r := ownAnswer(status, got)
	return false, &r
}

// write sends the writes of a transaction whose conditions hold (step 4).
func (p *Proxy) write(ctx context.Context, hdr http.Header, req *txRequest, reasons []reason) response {
	var order []int
	for pass := 0; pass < 2; pass++ {
		for i, a := range req.acts {
			if (pass == 0) == (a.op == "UpdateItem") && a.op != "ConditionCheck" {
				order = append(order, i)
			}
		}
	}
	var applied []*txAction
	consumed := make([]map[string]any, len(req.acts))
	for _, i := range order {
		a := req.acts[i]
		in := a.request()
		in["ReturnConsumedCapacity"] = json.RawMessage(`"TOTAL"`)
		status, got, err := p.callRaw(ctx, hdr, a.op, in)
		if err != nil {
			// An unknown outcome: undone too.
			return p.undoOr(ctx, hdr, append(applied, a), response{err: fmt.Errorf("apply the transaction's action %d: %w", i, err)})
		}
		if status != http.StatusOK {
			switch {
			case bytes.Contains(got, []byte("ConditionalCheckFailedException")):
				// Written straight to the target since the check.
				reasons[i] = conditionFailed(a)
				return p.undoOr(ctx, hdr, applied, cancelled(reasons))
			case a.op == "UpdateItem" && bytes.Contains(got, []byte("ValidationException")):
				reasons[i] = reason{Code: reasonValid, Message: errorMessage(got)}
				return p.undoOr(ctx, hdr, applied, cancelled(reasons))
			}
			return p.undoOr(ctx, hdr, applied, ownAnswer(status, got))
		}
		applied = append(applied, a)
		var out struct {
			ConsumedCapacity struct{ CapacityUnits float64 }
		}
		_ = json.Unmarshal(got, &out)
		// A transaction costs twice the capacity of the same writes.
		consumed[i] = map[string]any{"TableName": a.tab, "CapacityUnits": 2 * out.ConsumedCapacity.CapacityUnits}
		if p.afterAction != nil {
			p.afterAction(i)
		}
	}
	answer := []byte("{}")
	if req.total {
		var list []map[string]any
		for i, c := range consumed {
			if c == nil { // a ConditionCheck: a read of a small item, twice
				c = map[string]any{"TableName": req.acts[i].tab, "CapacityUnits": 2.0}
			}
			list = append(list, c)
		}
		answer, _ = json.Marshal(map[string]any{"ConsumedCapacity": list})
	}
	if req.token != "" {
		p.tokens.remember(req.token, req.digest, time.Now(), answer)
	}
	return okResponse(answer)
}

// undoOr puts back the items the actions found and answers resp; when that
// fails the transaction is half applied.
func (p *Proxy) undoOr(ctx context.Context, hdr http.Header, acts []*txAction, resp response) response {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for i := len(acts) - 1; i >= 0; i-- {
		a := acts[i]
		var out struct{}
		var err error
		if a.prev == nil {
			err = p.call(ctx, hdr, "DeleteItem", map[string]any{"TableName": a.tab, "Key": a.key}, &out)
		} else {
			err = p.call(ctx, hdr, "PutItem", map[string]any{"TableName": a.tab, "Item": a.prev}, &out)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("put back %s %s: %w", a.tab, a.key, err))
		}
	}
	if len(errs) == 0 {
		return resp
	}
	err := fmt.Errorf("a transaction was half applied: %w", errors.Join(errs...))
	p.broken.add(err)
	return apiError(http.StatusInternalServerError, "InternalServerError", "ddbproxy: "+err.Error(), nil)
}

// brokenLog keeps what left the target in a state DynamoDB never is in.
type brokenLog struct {
	mu   sync.Mutex
	errs []error
}

func (b *brokenLog) add(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, err)
}

// Broken returns the transactions the proxy applied in part and could not
// undo (the target failed meanwhile), nil when there are none: a state
// DynamoDB is never in, so a test harness fails when it is not nil.
func (p *Proxy) Broken() error {
	p.broken.mu.Lock()
	defer p.broken.mu.Unlock()
	return errors.Join(p.broken.errs...)
}

// errorMessage is an error answer's message (DynamoDB spells it either way).
func errorMessage(body []byte) string {
	var e struct {
		Lower string `json:"message"`
		Upper string `json:"Message"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Lower + e.Upper
}
