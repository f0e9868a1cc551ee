package ddbproxy

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// Reads: every read is read committed against the proxy's transactions
// (holds.go), and, with Faults.StaleReads, a read without ConsistentRead
// answers with the items as they were StaleReads ago, from the images the
// index lag keeps (lag.go), which then keeps them for every table, not
// only those with an index. Its limits, beyond those of the index lag:
//
//   - A read with a ProjectionExpression, AttributesToGet, a filter, a
//     sort key condition or Select COUNT is answered fresh: the proxy does
//     not evaluate expressions.
//   - Items of a table Query go on their page as for the index lag; those
//     of a Scan that were deleted or are new are added to or dropped from
//     its last page only; a parallel Scan (Segment) is answered fresh.

// maxReadAttempts bounds how often a read that overlapped a transaction is
// made again; the last answer stands even if it overlapped one too.
const maxReadAttempts = 20

// forwardRead forwards a read of tables so that it sees no transaction
// half applied: a read that overlapped a transaction applying to one of
// them is made again once that transaction is done.
func (p *Proxy) forwardRead(r *http.Request, body []byte, f Faults, tables []string) response {
	if !f.TransactionConflicts {
		return p.forwardHeld(r, body)
	}
	for attempt := 1; ; attempt++ {
		mark := p.holds.readBegin(tables)
		resp := p.forwardHeld(r, body)
		if p.readForwarded != nil {
			p.readForwarded()
		}
		overlap, clean := p.holds.readEnd(mark)
		if clean || resp.status != http.StatusOK || attempt == maxReadAttempts {
			return resp
		}
		for _, tx := range overlap {
			select {
			case <-tx.done:
			case <-r.Context().Done():
				return resp
			}
		}
	}
}

// readIn is what the proxy reads of a GetItem, BatchGetItem or Scan.
type readIn struct {
	TableName, IndexName string
	Key                  item
	ConsistentRead       bool
	RequestItems         map[string]readIn
	Keys                 []item
	// Set only for shapes that are answered fresh.
	ProjectionExpression, FilterExpression, Select string
	AttributesToGet                                []string
	ScanFilter                                     json.RawMessage
	TotalSegments                                  int
}

func (in *readIn) fresh() bool {
	return in.ConsistentRead || in.IndexName != "" || in.ProjectionExpression != "" || in.FilterExpression != "" ||
		len(in.AttributesToGet) > 0 || len(in.ScanFilter) > 0 || in.TotalSegments > 0 ||
		(in.Select != "" && in.Select != "ALL_ATTRIBUTES")
}

// serveRead answers a GetItem, BatchGetItem or Scan.
func (p *Proxy) serveRead(w http.ResponseWriter, r *http.Request, op string, body []byte, f Faults) {
	var in readIn
	_ = json.Unmarshal(body, &in)
	tables := []string{in.TableName}
	if op == "BatchGetItem" {
		tables = tables[:0]
		for name := range in.RequestItems {
			tables = append(tables, name)
		}
	}
	resp := p.forwardRead(r, body, f, tables)
	if resp.status != http.StatusOK || f.StaleReads <= 0 {
		resp.send(w, nil)
		return
	}
	now := time.Now()
	var rewritten []byte
	switch op {
	case "GetItem":
		rewritten = p.staleGet(r, &in, resp.body, now)
	case "BatchGetItem":
		rewritten = p.staleBatchGet(r, &in, resp.body, now)
	case "Scan":
		rewritten = p.staleScan(r, &in, resp.body, now)
	}
	resp.send(w, rewritten)
}

// staleGet rewrites a GetItem's answer to the item as an eventually
// consistent read shows it now; nil when the answer stands.
func (p *Proxy) staleGet(r *http.Request, in *readIn, answer []byte, now time.Time) []byte {
	if in.fresh() {
		return nil
	}
	t, err := p.tableOf(r.Context(), r.Header, in.TableName)
	if err != nil {
		return nil
	}
	old, ok := p.lag.itemAt(in.TableName, t.key(in.Key), readView, now)
	if !ok {
		return nil
	}
	var out map[string]json.RawMessage
	if json.Unmarshal(answer, &out) != nil {
		return nil
	}
	if old == nil {
		delete(out, "Item")
	} else {
		out["Item"], _ = json.Marshal(old)
	}
	b, _ := json.Marshal(out)
	return b
}

// staleBatchGet rewrites a BatchGetItem's answer, table by table.
func (p *Proxy) staleBatchGet(r *http.Request, in *readIn, answer []byte, now time.Time) []byte {
	var out struct {
		Responses       map[string][]item
		UnprocessedKeys map[string]readIn
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(answer, &out) != nil || json.Unmarshal(answer, &raw) != nil {
		return nil
	}
	changed := false
	for name, req := range in.RequestItems {
		if req.fresh() {
			continue
		}
		t, err := p.tableOf(r.Context(), r.Header, name)
		if err != nil {
			continue
		}
		then := p.lag.asOf(name, readView, now)
		if len(then) == 0 {
			continue
		}
		unprocessed := map[string]bool{}
		for _, k := range out.UnprocessedKeys[name].Keys {
			unprocessed[t.key(k)] = true
		}
		kept := slices.DeleteFunc(slices.Clone(out.Responses[name]), func(it item) bool {
			_, recent := then[t.key(it)]
			return recent
		})
		for _, k := range req.Keys {
			if old := then[t.key(k)]; old != nil && !unprocessed[t.key(k)] {
				kept = append(kept, old)
			}
		}
		if out.Responses == nil {
			out.Responses = map[string][]item{}
		}
		if kept == nil {
			kept = []item{}
		}
		out.Responses[name] = kept
		changed = true
	}
	if !changed {
		return nil
	}
	raw["Responses"], _ = json.Marshal(out.Responses)
	b, _ := json.Marshal(raw)
	return b
}

// staleScan rewrites a Scan's answer to the items as an eventually
// consistent read shows them now.
func (p *Proxy) staleScan(r *http.Request, in *readIn, answer []byte, now time.Time) []byte {
	if in.fresh() {
		return nil
	}
	t, err := p.tableOf(r.Context(), r.Header, in.TableName)
	if err != nil {
		return nil
	}
	all := index{hash: t.hash, rng: t.rng, projection: "ALL"}
	return rewriteAsOf(t, all, p.lag.asOf(in.TableName, readView, now), answer, nil, nil)
}

// rewriteAsOf rewrites a page of items (a Query's or a Scan's answer) to
// show the items in then (key → the item as it was, nil: none) as they
// were: recent ones dropped, their old images (projected to ix, those in
// the partition pkValue unless it is nil) added, sorted by ix's sort key
// (forward unless q says otherwise) when it has one. Of a Query (q) by a
// key with a sort key, an old image goes on the page its sort key puts it
// in, as on AWS (placed): so an item is listed once across the pages
// however its lag moves while they are read; a page that would hold more
// than q's Limit ends at it, with the LastEvaluatedKey of its last item.
// Otherwise (a Scan, a key without a sort key) old images are added to the
// last page. It returns nil when the answer stands.
func rewriteAsOf(t *table, ix index, then map[string]item, answer []byte, pkValue json.RawMessage, q *queryIn) []byte {
	if len(then) == 0 {
		return nil
	}
	var out map[string]json.RawMessage
	if json.Unmarshal(answer, &out) != nil {
		return nil
	}
	var items []item
	if json.Unmarshal(out["Items"], &items) != nil {
		return nil
	}
	var scanned int
	_ = json.Unmarshal(out["ScannedCount"], &scanned)
	var last item // the page's LastEvaluatedKey; nil on the last page
	if len(out["LastEvaluatedKey"]) > 0 && json.Unmarshal(out["LastEvaluatedKey"], &last) != nil {
		return nil
	}
	kept := slices.DeleteFunc(slices.Clone(items), func(it item) bool {
		_, changed := then[t.key(it)]
		return changed
	})
	dropped := len(items) - len(kept)
	order := keyOrder(t, ix, q)
	placed := q != nil && ix.rng != ""
	onPage := func(it item) bool {
		if !placed {
			return last == nil
		}
		return (q.ExclusiveStartKey == nil || order(q.ExclusiveStartKey, it) < 0) && (last == nil || order(it, last) <= 0)
	}
	for _, it := range then {
		if it == nil || (pkValue != nil && !sameValue(it[ix.hash], pkValue)) {
			continue
		}
		if _, ok := parseScalar(it[ix.rng]); ix.rng != "" && !ok {
			continue // not in the index: it lacks the index's sort key
		}
		if onPage(it) {
			kept = append(kept, t.project(it, ix))
		}
	}
	if dropped == 0 && len(kept) == len(items) {
		return nil // nothing recently written is in this page
	}
	if ix.rng != "" {
		slices.SortStableFunc(kept, order)
	}
	if placed && q.Limit > 0 && len(kept) > q.Limit {
		kept = kept[:q.Limit]
		out["LastEvaluatedKey"], _ = json.Marshal(keyOf(t, ix, kept[len(kept)-1]))
	}
	if kept == nil {
		kept = []item{}
	}
	out["Items"], _ = json.Marshal(kept)
	out["Count"], _ = json.Marshal(len(kept))
	out["ScannedCount"], _ = json.Marshal(max(0, scanned-len(items)+len(kept)))
	body, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	return body
}

// keyOrder orders the items of a partition of ix as a Query reads them
// (forward unless q says otherwise): by ix's sort key, then (an index's
// items of one sort key value) by the table's key.
func keyOrder(t *table, ix index, q *queryIn) func(a, b item) int {
	fwd := q == nil || q.ScanIndexForward == nil || *q.ScanIndexForward
	by := func(a, b item, attr string) int {
		if attr == "" {
			return 0
		}
		x, _ := parseScalar(a[attr])
		y, _ := parseScalar(b[attr])
		return x.compare(y)
	}
	return func(a, b item) int {
		c := cmp.Or(by(a, b, ix.rng), by(a, b, t.hash), by(a, b, t.rng))
		if !fwd {
			return -c
		}
		return c
	}
}

// keyOf is an item's key in ix as a LastEvaluatedKey gives it: the index's
// key and the table's.
func keyOf(t *table, ix index, it item) item {
	k := item{}
	for _, a := range []string{ix.hash, ix.rng, t.hash, t.rng} {
		if v, ok := it[a]; ok && a != "" {
			k[a] = v
		}
	}
	return k
}
