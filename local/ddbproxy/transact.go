package ddbproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Transactions. dynalite has no TransactWriteItems, so the proxy runs one
// itself, as DynamoDB does in the ways a handler can notice:
//
//   - All or nothing: the actions are applied one by one (a ConditionCheck
//     as an UpdateItem with its condition and nothing to update); when one
//     is refused, those applied are undone from the images read before
//     them, and the answer is TransactionCanceledException with one
//     cancellation reason per action (ConditionalCheckFailed, or None).
//   - Isolated: a transaction holds every other request through the proxy
//     until it is done, so no request sees half of it.
//   - Idempotent by ClientRequestToken: the same token with the same
//     actions within ten minutes of a transaction that succeeded answers
//     success again without applying anything; the same token with other
//     actions answers IdempotentParameterMismatchException. (The SDK sets a
//     token of its own when the caller does not, and sends it again with
//     every retry: a retry of a transaction applied and then answered with
//     an error, see Faults.ApplyThenFail, is not applied twice.)
//   - Two actions on one item are refused (ValidationException).
//
// Only requests through the proxy are held; items written straight to the
// target may interleave with a transaction.

// tokenWindow is how long DynamoDB remembers a ClientRequestToken.
const tokenWindow = 10 * time.Minute

type txTokens struct {
	mu   sync.Mutex
	seen map[string]txSeen
}

type txSeen struct {
	actions [sha256.Size]byte
	at      time.Time
	answer  []byte
}

// lookup reports what a request with this token and these actions gets
// from an earlier success: its answer, or mismatch.
func (tk *txTokens) lookup(token string, actions [sha256.Size]byte, now time.Time) (answer []byte, found, mismatch bool) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	for t, s := range tk.seen {
		if now.Sub(s.at) > tokenWindow {
			delete(tk.seen, t)
		}
	}
	s, ok := tk.seen[token]
	if !ok {
		return nil, false, false
	}
	return s.answer, true, s.actions != actions
}

func (tk *txTokens) remember(token string, actions [sha256.Size]byte, now time.Time, answer []byte) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	if tk.seen == nil {
		tk.seen = map[string]txSeen{}
	}
	tk.seen[token] = txSeen{actions: actions, at: now, answer: answer}
}

// txAction is one action of a transaction: its kind and its request, which
// is the single-item operation's request but for the fields that only the
// transaction has.
type txAction struct {
	op   string // PutItem, UpdateItem, DeleteItem, ConditionCheck
	in   map[string]json.RawMessage
	tab  string
	key  item
	t    *table
	done bool
	prev item // the item before the action, nil when there was none
}

// transact runs a TransactWriteItems request; the caller holds p.txMu.
func (p *Proxy) transact(r *http.Request, body []byte) response {
	var in struct {
		TransactItems          []map[string]map[string]json.RawMessage
		ClientRequestToken     string
		ReturnConsumedCapacity string
	}
	if err := json.Unmarshal(body, &in); err != nil || len(in.TransactItems) == 0 {
		return apiError(http.StatusBadRequest, "ValidationException", "TransactItems must hold at least one action", nil)
	}
	ctx := r.Context()
	actionsJSON, _ := json.Marshal(in.TransactItems)
	digest := sha256.Sum256(actionsJSON)
	now := time.Now()
	if in.ClientRequestToken != "" {
		if answer, found, mismatch := p.tokens.lookup(in.ClientRequestToken, digest, now); mismatch {
			return apiError(http.StatusBadRequest, "IdempotentParameterMismatchException",
				"The request uses the same client token as a previous, but non-identical request.", nil)
		} else if found {
			return okResponse(answer)
		}
	}

	acts := make([]*txAction, 0, len(in.TransactItems))
	keys := map[string]bool{}
	for _, ti := range in.TransactItems {
		if len(ti) != 1 {
			return apiError(http.StatusBadRequest, "ValidationException", "each TransactItem must hold exactly one action", nil)
		}
		for kind, req := range ti {
			a := &txAction{in: req}
			switch kind {
			case "Put":
				a.op = "PutItem"
			case "Update":
				a.op = "UpdateItem"
			case "Delete":
				a.op = "DeleteItem"
			case "ConditionCheck":
				a.op = "ConditionCheck"
			default:
				return apiError(http.StatusBadRequest, "ValidationException", "unknown TransactItem action "+kind, nil)
			}
			_ = json.Unmarshal(req["TableName"], &a.tab)
			t, err := p.tableOf(ctx, r.Header, a.tab)
			if err != nil {
				return apiError(http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found", nil)
			}
			a.t = t
			var it item
			field := "Key"
			if a.op == "PutItem" {
				field = "Item"
			}
			if json.Unmarshal(req[field], &it) != nil || t.key(it) == "" {
				return apiError(http.StatusBadRequest, "ValidationException", "an action lacks its item's key", nil)
			}
			a.key = item{t.hash: it[t.hash]}
			if t.rng != "" {
				a.key[t.rng] = it[t.rng]
			}
			k := a.tab + "\x00" + t.key(it)
			if keys[k] {
				return apiError(http.StatusBadRequest, "ValidationException",
					"Transaction request cannot include multiple operations on one item", nil)
			}
			keys[k] = true
			acts = append(acts, a)
		}
	}

	var consumed []map[string]any
	for i, a := range acts {
		prev, err := p.getItem(ctx, r.Header, a.tab, a.t, a.key)
		if err != nil {
			p.undo(ctx, r.Header, acts[:i])
			return response{err: err}
		}
		a.prev = prev
		req := map[string]json.RawMessage{}
		for k, v := range a.in {
			if k != "ReturnValuesOnConditionCheckFailure" {
				req[k] = v
			}
		}
		op := a.op
		if op == "ConditionCheck" {
			op = "UpdateItem" // nothing to update: only its condition counts
		}
		req["ReturnConsumedCapacity"] = json.RawMessage(`"TOTAL"`)
		status, got, err := p.callRaw(ctx, r.Header, op, req)
		a.done = err == nil // an unknown outcome is undone too
		if err == nil && status == http.StatusOK {
			if a.op == "ConditionCheck" {
				p.undo(ctx, r.Header, []*txAction{a})
				a.done = false
			}
			var out struct {
				ConsumedCapacity struct{ CapacityUnits float64 }
			}
			_ = json.Unmarshal(got, &out)
			// A transaction costs twice the capacity of the same writes.
			consumed = append(consumed, map[string]any{"TableName": a.tab, "CapacityUnits": 2 * out.ConsumedCapacity.CapacityUnits})
			continue
		}
		p.undo(ctx, r.Header, acts[:i+1])
		if err != nil {
			return response{err: err}
		}
		if !bytes.Contains(got, []byte("ConditionalCheckFailedException")) {
			return ownAnswer(status, got) // refused as a whole, as DynamoDB refuses a malformed action
		}
		reasons := make([]map[string]string, len(acts))
		codes := make([]string, len(acts))
		for j := range acts {
			reasons[j], codes[j] = map[string]string{"Code": "None"}, "None"
		}
		reasons[i] = map[string]string{"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
		codes[i] = "ConditionalCheckFailed"
		return apiError(http.StatusBadRequest, "TransactionCanceledException",
			"Transaction cancelled, please refer cancellation reasons for specific reasons ["+strings.Join(codes, ", ")+"]",
			map[string]any{"CancellationReasons": reasons})
	}
	answer := []byte("{}")
	if in.ReturnConsumedCapacity == "TOTAL" || in.ReturnConsumedCapacity == "INDEXES" {
		answer, _ = json.Marshal(map[string]any{"ConsumedCapacity": consumed})
	}
	if in.ClientRequestToken != "" {
		p.tokens.remember(in.ClientRequestToken, digest, now, answer)
	}
	return okResponse(answer)
}

// conflict is DynamoDB's answer to a transaction cancelled because another
// transaction held one of its items.
func conflict(body []byte) response {
	var in struct{ TransactItems []json.RawMessage }
	_ = json.Unmarshal(body, &in)
	reasons := make([]map[string]string, max(len(in.TransactItems), 1))
	codes := make([]string, len(reasons))
	for i := range reasons {
		reasons[i], codes[i] = map[string]string{"Code": "None"}, "None"
	}
	reasons[0] = map[string]string{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
	codes[0] = "TransactionConflict"
	return apiError(http.StatusBadRequest, "TransactionCanceledException",
		"Transaction cancelled, please refer cancellation reasons for specific reasons ["+strings.Join(codes, ", ")+"]",
		map[string]any{"CancellationReasons": reasons})
}

// undo puts back, last first, the items the actions found.
func (p *Proxy) undo(ctx context.Context, hdr http.Header, acts []*txAction) {
	ctx = context.WithoutCancel(ctx)
	for i := len(acts) - 1; i >= 0; i-- {
		a := acts[i]
		if !a.done {
			continue
		}
		var out struct{}
		if a.prev == nil {
			_ = p.call(ctx, hdr, "DeleteItem", map[string]any{"TableName": a.tab, "Key": a.key}, &out)
		} else {
			_ = p.call(ctx, hdr, "PutItem", map[string]any{"TableName": a.tab, "Item": a.prev}, &out)
		}
	}
}

// callRaw makes a request of the proxy's own to the target and returns its
// answer, whatever its status.
func (p *Proxy) callRaw(ctx context.Context, hdr http.Header, op string, in any) (int, []byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, p.target+"/", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = forwardHeader(hdr)
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	return resp.StatusCode, got, nil
}

func okResponse(body []byte) response {
	return ownAnswer(http.StatusOK, body)
}

// ownAnswer is an answer of the proxy's own with DynamoDB's headers.
func ownAnswer(status int, body []byte) response {
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	return response{status: status, header: h, body: body}
}

// apiError is an error answer as DynamoDB words it.
func apiError(status int, code, message string, extra map[string]any) response {
	m := map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#" + code, "message": message}
	for k, v := range extra {
		m[k] = v
	}
	body, _ := json.Marshal(m)
	return ownAnswer(status, body)
}
