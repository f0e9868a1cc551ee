package ddbproxy

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The index lag keeps, per table with a global secondary index (every
// table with StaleReads) and per primary key, the images of the item after
// each recent write through the proxy, and the one before the first of
// them. Each image is stamped with when the index, and when an eventually
// consistent read, may first show it: the write's time plus the IndexLag,
// and plus the StaleReads, in effect when it was written. An index Query
// then answers with each recently written item's newest image the index
// shows by now, instead of dynalite's current one; an eventually
// consistent read of the table likewise (stale.go). Stamping each write
// with its own lag means a lag switched on (or lengthened) mid-test delays
// the writes from then on only, as a slower index would.

// view is who reads an image: an index, or an eventually consistent read
// of the table.
type view int

const (
	indexView view = iota
	readView
)

// history is what the proxy knows of one item.
type history struct {
	// ready is closed once images holds the item as it was before the
	// first write (or the read of it failed: then images starts empty and
	// the item is not lagged until its first write is visible).
	ready chan struct{}
	// images are in the order written; the base image is visible from the
	// start.
	images []image
	// pending counts writes of the item in flight: while one is, the
	// target may already have applied it.
	pending int
}

type image struct {
	item item // nil: no item
	// visible is when each view may first show the image.
	visible [2]time.Time
}

// at returns the item as v shows it at now: the newest image visible by
// then; ok is false when that is unknown.
func (h *history) at(v view, now time.Time) (it item, ok bool) {
	for _, im := range slices.Backward(h.images) {
		if !im.visible[v].After(now) {
			return im.item, true
		}
	}
	return nil, false
}

// lagged reports whether v may show the item differently from the target
// at now: its newest write is not visible yet, or one is in flight.
func (h *history) lagged(v view, now time.Time) bool {
	if h.pending > 0 {
		return true
	}
	return len(h.images) > 0 && h.images[len(h.images)-1].visible[v].After(now)
}

// prune forgets images no view can show any more (those before the newest
// one both views show) and reports whether the whole history can go:
// nothing in flight and the newest image shown by both.
func (h *history) prune(now time.Time) (drop bool) {
	shown := func(im image) bool { return !im.visible[indexView].After(now) && !im.visible[readView].After(now) }
	i := len(h.images) - 1
	for i > 0 && !shown(h.images[i]) {
		i--
	}
	if i > 0 {
		h.images = h.images[i:]
	}
	return h.pending == 0 && (len(h.images) == 0 || shown(h.images[len(h.images)-1]))
}

// tracker holds the histories of the items written through the proxy.
type tracker struct {
	mu        sync.Mutex
	items     map[string]map[string]*history // table name → primary key → history
	lastSweep time.Time
	// ended is closed, and replaced, whenever a write ends: settle waits
	// on it while a write is in flight.
	ended chan struct{}
}

func newTracker() *tracker {
	return &tracker{items: map[string]map[string]*history{}, ended: make(chan struct{})}
}

// settled reports when every view shows every write made so far: at
// until, unless a write is in flight (inFlight: wait for ended first).
func (tr *tracker) settled() (until time.Time, inFlight bool, ended <-chan struct{}) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, keys := range tr.items {
		for _, h := range keys {
			if h.pending > 0 {
				inFlight = true
			}
			if n := len(h.images); n > 0 {
				for _, v := range h.images[n-1].visible {
					if v.After(until) {
						until = v
					}
				}
			}
		}
	}
	return until, inFlight, tr.ended
}

// begin registers a write of an item in flight and returns its history;
// first is true when the caller must read the base image and call ready.
func (tr *tracker) begin(tableName, key string) (h *history, first bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	keys := tr.items[tableName]
	if keys == nil {
		keys = map[string]*history{}
		tr.items[tableName] = keys
	}
	h = keys[key]
	if h == nil {
		h = &history{ready: make(chan struct{})}
		keys[key] = h
		first = true
	}
	h.pending++
	return h, first
}

// setBase records the item as it was before the first write; ok is false
// when it could not be read.
func (tr *tracker) setBase(h *history, base item, ok bool) {
	tr.mu.Lock()
	if ok {
		h.images = append([]image{{item: base}}, h.images...)
	}
	tr.mu.Unlock()
	close(h.ready)
}

// sweepEvery is how often end prunes every history, not only its own.
const sweepEvery = time.Second

// end records a write's outcome: the item's image after it when the
// target applied it (applied false: it did not), visible to the index
// after indexLag and to eventually consistent reads after staleReads.
func (tr *tracker) end(tableName, key string, h *history, applied bool, after item, indexLag, staleReads time.Duration) {
	now := time.Now()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	h.pending--
	close(tr.ended)
	tr.ended = make(chan struct{})
	if applied {
		h.images = append(h.images, image{item: after, visible: [2]time.Time{now.Add(indexLag), now.Add(staleReads)}})
	}
	if h.prune(now) && tr.items[tableName][key] == h {
		delete(tr.items[tableName], key)
	}
	if now.Sub(tr.lastSweep) < sweepEvery {
		return
	}
	tr.lastSweep = now
	for _, keys := range tr.items {
		for k, h := range keys {
			if h.prune(now) {
				delete(keys, k)
			}
		}
	}
}

// asOf returns, for every item of a table that v may show differently
// from the target now, the item as v shows it (nil: none). Items whose
// state then is unknown are left out: the target's answer stands for them.
func (tr *tracker) asOf(tableName string, v view, now time.Time) map[string]item {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := map[string]item{}
	for k, h := range tr.items[tableName] {
		if !h.lagged(v, now) {
			continue
		}
		if it, ok := h.at(v, now); ok {
			out[k] = it
		}
	}
	return out
}

// itemAt returns an item as v shows it now when that may differ from the
// target and is known; ok is false when the target's answer stands.
func (tr *tracker) itemAt(tableName, key string, v view, now time.Time) (it item, ok bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	h := tr.items[tableName][key]
	if h == nil || !h.lagged(v, now) {
		return nil, false
	}
	return h.at(v, now)
}

// catchUp makes every image visible within the lags from now at the
// latest: an index (or a table's reads) catching up after its lag went
// down. Images due sooner keep their time.
func (tr *tracker) catchUp(indexLag, staleReads time.Duration) {
	now := time.Now()
	due := [2]time.Time{indexView: now.Add(indexLag), readView: now.Add(staleReads)}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, keys := range tr.items {
		for _, h := range keys {
			for i := range h.images {
				for v := range h.images[i].visible {
					if h.images[i].visible[v].After(due[v]) {
						h.images[i].visible[v] = due[v]
					}
				}
			}
		}
	}
	close(tr.ended) // a Settle waiting for the longer lag looks again
	tr.ended = make(chan struct{})
}

func (tr *tracker) reset() {
	tr.mu.Lock()
	tr.items = map[string]map[string]*history{}
	close(tr.ended)
	tr.ended = make(chan struct{})
	tr.mu.Unlock()
}

// change is one item a write touches.
type change struct {
	table string
	// it holds the item's key, and for a put the whole item.
	it item
	// afterPut: the item after the write is it; afterDelete: none;
	// afterRead: read it back.
	after int
}

const (
	afterPut = iota
	afterDelete
	afterRead
)

// changes lists the items a write request touches, and the table for
// Write.Table.
func changes(op string, body []byte) (cs []change, tableName string) {
	type keyed struct {
		TableName string
		Item, Key item
	}
	one := func(k *keyed, after int) change {
		if after == afterPut {
			return change{table: k.TableName, it: k.Item, after: after}
		}
		return change{table: k.TableName, it: k.Key, after: after}
	}
	switch op {
	case "PutItem", "UpdateItem", "DeleteItem":
		var in keyed
		if json.Unmarshal(body, &in) != nil {
			return nil, ""
		}
		after := map[string]int{"PutItem": afterPut, "UpdateItem": afterRead, "DeleteItem": afterDelete}[op]
		return []change{one(&in, after)}, in.TableName
	case "BatchWriteItem":
		var in struct {
			RequestItems map[string][]struct{ PutRequest, DeleteRequest *keyed }
		}
		if json.Unmarshal(body, &in) != nil {
			return nil, ""
		}
		for name, reqs := range in.RequestItems {
			tableName = name
			for _, r := range reqs {
				// Read back: items left unprocessed were not written.
				switch {
				case r.PutRequest != nil:
					cs = append(cs, change{table: name, it: r.PutRequest.Item, after: afterRead})
				case r.DeleteRequest != nil:
					cs = append(cs, change{table: name, it: r.DeleteRequest.Key, after: afterRead})
				}
			}
		}
		if len(in.RequestItems) != 1 {
			tableName = ""
		}
		return cs, tableName
	case "TransactWriteItems":
		var in struct {
			TransactItems []struct{ Put, Update, Delete *keyed }
		}
		if json.Unmarshal(body, &in) != nil {
			return nil, ""
		}
		tables := map[string]bool{}
		for _, ti := range in.TransactItems {
			switch {
			case ti.Put != nil:
				cs = append(cs, one(ti.Put, afterPut))
			case ti.Update != nil:
				cs = append(cs, one(ti.Update, afterRead))
			case ti.Delete != nil:
				cs = append(cs, one(ti.Delete, afterDelete))
			default:
				continue // a ConditionCheck writes nothing
			}
			tables[cs[len(cs)-1].table] = true
		}
		for name := range tables {
			tableName = name
		}
		if len(tables) != 1 {
			tableName = ""
		}
		return cs, tableName
	}
	return nil, ""
}

// trackedWrite is a write whose items are tracked for the index lag and
// stale reads.
type trackedWrite struct {
	p                    *Proxy
	hdr                  http.Header
	indexLag, staleReads time.Duration
	items                []trackedItem
}

type trackedItem struct {
	change
	t   *table
	key string
	h   *history
}

// track registers a write's items (those of tables with an index, or of
// every table with StaleReads) before it is forwarded, reading each item's
// base image the first time; f's lags stamp its images.
func (p *Proxy) track(ctx context.Context, hdr http.Header, cs []change, f Faults) *trackedWrite {
	tw := &trackedWrite{p: p, hdr: hdr, indexLag: max(f.IndexLag, 0), staleReads: max(f.StaleReads, 0)}
	for _, c := range cs {
		t, err := p.tableOf(ctx, hdr, c.table)
		if err != nil || (len(t.indexes) == 0 && f.StaleReads <= 0) {
			continue // an unknown table: the write fails; no index: nothing to lag
		}
		key := t.key(c.it)
		if key == "" {
			continue
		}
		h, first := p.lag.begin(c.table, key)
		if first {
			base, err := p.getItem(ctx, hdr, c.table, t, c.it)
			p.lag.setBase(h, base, err == nil)
		} else {
			select {
			case <-h.ready:
			case <-ctx.Done():
			}
		}
		tw.items = append(tw.items, trackedItem{change: c, t: t, key: key, h: h})
	}
	return tw
}

// done records the items' images after the write: applied when the target
// answered 200; unknown when it did not answer (it may have applied the
// write: the items are read back as they are now).
func (tw *trackedWrite) done(ctx context.Context, applied, unknown bool) {
	for _, ti := range tw.items {
		var after item
		ok := applied || unknown
		if ok {
			how := ti.after
			if unknown {
				how = afterRead
			}
			switch how {
			case afterPut:
				after = ti.it
			case afterRead:
				var err error
				after, err = tw.p.getItem(ctx, tw.hdr, ti.table, ti.t, ti.it)
				ok = err == nil
			}
		}
		tw.p.lag.end(ti.table, ti.key, ti.h, ok, after, tw.indexLag, tw.staleReads)
	}
}

// queryIn is what the proxy reads of a Query request.
type queryIn struct {
	TableName, IndexName      string
	KeyConditionExpression    string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues item
	Select                    string
	ScanIndexForward          *bool
	ConsistentRead            bool
	ExclusiveStartKey         item
	Limit                     int
	// Set only for shapes the lag does not support.
	FilterExpression, ProjectionExpression string
	KeyConditions, QueryFilter             json.RawMessage
	AttributesToGet                        []string
}

var partitionEquality = regexp.MustCompile(`^\(?\s*(#?[A-Za-z0-9_.\-]+)\s*=\s*(:[A-Za-z0-9_]+)\s*\)?$`)

// partition returns the attribute and the value of a key condition that
// is a partition key equality only, like "#room = :room".
func (q *queryIn) partition() (attr string, v json.RawMessage, ok bool) {
	m := partitionEquality.FindStringSubmatch(strings.TrimSpace(q.KeyConditionExpression))
	if m == nil {
		return "", nil, false
	}
	attr = m[1]
	if strings.HasPrefix(attr, "#") {
		if attr, ok = q.ExpressionAttributeNames[attr]; !ok {
			return "", nil, false
		}
	}
	v, ok = q.ExpressionAttributeValues[m[2]]
	return attr, v, ok
}

// supported reports whether the lag can rewrite the Query's answer: a
// partition key equality, no filter or projection.
func (q *queryIn) supported() bool {
	return q.FilterExpression == "" && q.ProjectionExpression == "" &&
		len(q.KeyConditions) == 0 && len(q.QueryFilter) == 0 && len(q.AttributesToGet) == 0 &&
		(q.Select == "" || q.Select == "ALL_PROJECTED_ATTRIBUTES" || q.Select == "ALL_ATTRIBUTES")
}

// lagQuery rewrites an index Query's answer (a 200 from the target) to
// show the index as it is now, or a table Query's to show the table as an
// eventually consistent read does (v readView; ix is then the table's key,
// all projected). It returns nil when the answer stands as it is.
func (p *Proxy) lagQuery(t *table, ix index, q *queryIn, pkValue json.RawMessage, answer []byte, v view) []byte {
	return rewriteAsOf(t, ix, p.lag.asOf(q.TableName, v, time.Now()), answer, pkValue, q)
}
