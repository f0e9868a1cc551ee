// Package ddbproxy is a DynamoDB-API proxy for the local stack and tests: it
// forwards every request to a DynamoDB API (dynalite) unchanged, counts
// them per operation, runs the transactions dynalite lacks (or passes them
// to a target that has them, native.go), and on request is as unkind as
// DynamoDB on AWS is in ways dynalite is not, each of which hides races in
// a handler (faults.go; AWSLike turns on those AWS always has):
//
//   - transactions that conflict with each other and refuse plain writes of
//     their items while they run (transact.go, holds.go),
//   - a global secondary index that lags behind the table (Faults.IndexLag),
//   - eventually consistent reads that return an item's previous version
//     (Faults.StaleReads, stale.go),
//   - a write that is applied and then answered with 500, so that the SDK
//     retries it (Faults.ApplyThenFail).
//
// Index lag, in detail. After every write through the proxy to a table
// with an index (PutItem, UpdateItem, DeleteItem, BatchWriteItem,
// TransactWriteItems) the proxy keeps the item's image after it (the
// request's item for a put, none for a delete, a strongly consistent
// GetItem for an update) and, on the item's first write, the image before
// it. A Query of an index then takes the target's answer, drops the items
// written less than IndexLag ago (or being written) and adds their images
// of IndexLag ago that belong to the queried partition, projected as the
// index projects. Its limits:
//
//   - Only writes through the proxy lag; items written straight to the
//     target are seen as they are.
//   - Only a key condition that is a partition key equality ("#room = :room"
//     or "room = :room") lags. A sort key condition, a filter, a projection
//     expression, Select COUNT or the legacy KeyConditions parameters pass
//     through unlagged.
//   - Items lagged into a partition go on the page their sort key puts
//     them in (after the ExclusiveStartKey, up to the LastEvaluatedKey), as
//     on AWS: an item is on one page however its lag moves while the pages
//     are read, and a page that would hold more than its Limit ends at it
//     (its LastEvaluatedKey then the last item's). An index's items of one
//     sort key value are ordered by the table's key, which dynalite may
//     order otherwise. Of an index without a sort key, they are added to
//     the last page (the one without a LastEvaluatedKey), which may then
//     hold more than a Limit.
//   - Numbers are compared by their spelling for the partition key.
//
// Base-table reads follow Faults.StaleReads, which keeps images the same
// way; a read with ConsistentRead is always current, as DynamoDB's is.
package ddbproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// readBackTimeout bounds the proxy's own read of an item after a write.
const readBackTimeout = 5 * time.Second

// targetPrefix begins the X-Amz-Target header of every DynamoDB request.
const targetPrefix = "DynamoDB_20120810."

// Proxy is a running proxy.
type Proxy struct {
	target   string // base URL, no trailing slash
	endpoint string
	srv      *http.Server
	client   *http.Client
	lag      *tracker
	holds    *holds       // the items transactions and writes in flight hold
	txMu     sync.RWMutex // without TransactionConflicts: held by a transaction alone, by every other request shared
	tokens   txTokens
	txTarget txTarget // whether transactions go to the target (native.go)
	broken   brokenLog
	// Test hooks, set before the first request: after a transaction's
	// action i is applied; after a read's attempt is answered.
	afterAction   func(i int)
	readForwarded func()

	mu       sync.Mutex
	faults   Faults // in effect: injected over defaults
	defaults Faults // Start's
	injected Faults // the last Inject's
	observe  func(Observation)
	counts   map[string]int64
	tables   map[string]*table // descriptions by table name
}

// Start starts a proxy on a free loopback port in front of target, a
// DynamoDB API's endpoint URL such as dynalite's.
func Start(target string, f Faults) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("DynamoDB proxy: the target must be an http(s) URL, not %q", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("DynamoDB proxy: listen: %w", err)
	}
	p := &Proxy{
		target:   strings.TrimSuffix(target, "/"),
		endpoint: "http://" + ln.Addr().String(),
		// Bodies are read whole and never compressed: the proxy may rewrite
		// them. Keep a warm connection per concurrent caller.
		client: &http.Client{Transport: &http.Transport{
			Proxy: nil, DisableCompression: true, MaxIdleConns: 256, MaxIdleConnsPerHost: 256,
			IdleConnTimeout: 90 * time.Second,
		}},
		lag:      newTracker(),
		holds:    newHolds(),
		faults:   f,
		defaults: f,
		counts:   map[string]int64{},
		tables:   map[string]*table{},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Endpoint is the proxy's base URL, for the DynamoDB client's BaseEndpoint.
func (p *Proxy) Endpoint() string { return p.endpoint }

// Close stops the proxy at once, ending requests in flight.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	p.client.CloseIdleConnections()
	return err
}

// Inject sets the faults for later requests: f on top of the proxy's
// defaults, the faults it was started with (ddbproxy.AWSLike in the chat's
// test kit, `make dev` and the browser suite). Each field f sets (a
// duration above 0, a hook, a switch turned on) replaces the default's;
// the others keep it, so a test that injects one hook (ApplyThenFail,
// Before, Conflict, Drop…) still runs with the index lag, stale reads and
// conflicts AWS has. It replaces what an earlier Inject set. An opt-out,
// f from Deterministic(reason), is taken alone, defaults off.
//
// When the index lag or the staleness goes down, the writes made under the
// longer one become visible within the new one from now, as an index
// catching up; when both are 0, at once.
func (p *Proxy) Inject(f Faults) {
	if f.Deterministic != "" && strings.TrimSpace(f.Deterministic) == "" {
		panic("ddbproxy: an opt-out (Faults.Deterministic) must say why")
	}
	p.mu.Lock()
	p.injected = f
	eff := f.over(p.defaults)
	p.faults = eff
	p.mu.Unlock()
	if eff.IndexLag <= 0 && eff.StaleReads <= 0 {
		p.lag.reset()
		return
	}
	p.lag.catchUp(eff.IndexLag, eff.StaleReads)
}

// Restore returns to the proxy's defaults, undoing Inject: what a test
// calls once the fault it injected has done its work.
func (p *Proxy) Restore() { p.Inject(Faults{}) }

// Injected returns what the last Inject set (zero after Restore), for a
// test kit that adds a hook to a test's own and then puts them back.
func (p *Proxy) Injected() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected
}

// Defaults returns the faults the proxy was started with, which Inject
// layers on and Restore returns to.
func (p *Proxy) Defaults() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.defaults
}

// Settle returns once the index and eventually consistent reads show every
// write the proxy has answered so far, and none is in flight: when the
// newest is IndexLag (or StaleReads) old, the lag it was written with, so
// the wait is set by the lag, not by how fast the machine is. A test calls
// it between its setup and its act step where the design promises nothing
// until the index has caught up (a broadcast right after a join may miss
// the newcomer). Writes that reach the proxy later are not waited for. It
// returns ctx's error if ctx ends first.
func (p *Proxy) Settle(ctx context.Context) error {
	for {
		until, inFlight, ended := p.lag.settled()
		if !inFlight && !until.After(time.Now()) {
			return nil
		}
		wait := time.Hour // until the write in flight ends
		if !inFlight {
			wait = time.Until(until)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ended:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		timer.Stop()
	}
}

// Faults returns the faults in effect (Inject's over the defaults).
func (p *Proxy) Faults() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// Counts returns how many requests the proxy received so far, per
// operation (such as "Query"; a retry counts again). The proxy's own reads
// for the index lag are not counted.
func (p *Proxy) Counts() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int64, len(p.counts))
	for op, n := range p.counts {
		out[op] = n
	}
	return out
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	p.mu.Lock()
	f := p.faults
	observe := p.observe
	if op != "" {
		p.counts[op]++
	}
	p.mu.Unlock()
	if observe != nil && op != "" {
		ow := &observedWriter{ResponseWriter: w}
		w = ow
		start := time.Now()
		defer func() {
			var in struct{ TableName string }
			_ = json.Unmarshal(body, &in)
			observe(Observation{Op: op, Table: in.TableName, Status: ow.status, Took: time.Since(start), Throttled: ow.throttled(),
				Canceled: r.Context().Err() != nil})
		}()
	}
	if f.Unavailable && op != "" {
		internalServerError(w, "DynamoDB is unavailable (ddbproxy Unavailable).")
		return
	}
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if (f.Before != nil || f.Drop != nil) && op != "" {
		var in struct{ TableName string }
		_ = json.Unmarshal(body, &in)
		req := Write{Op: op, Table: in.TableName, Body: body}
		if f.Before != nil {
			f.Before(req)
		}
		if f.Drop != nil && f.Drop(req) {
			panic(http.ErrAbortHandler) // no answer: the connection ends
		}
	}

	switch op {
	case "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems":
		p.serveWrite(w, r, op, body, f)
	case "TransactGetItems":
		p.serveTransactGet(w, r, body, f)
	case "Query":
		p.serveQuery(w, r, body, f)
	case "GetItem", "BatchGetItem", "Scan":
		p.serveRead(w, r, op, body, f)
	case "CreateTable", "UpdateTable", "DeleteTable":
		var in struct{ TableName string }
		_ = json.Unmarshal(body, &in)
		p.forgetTable(in.TableName)
		resp := p.forwardHeld(r, body)
		p.forgetTable(in.TableName)
		resp.send(w, nil)
	default:
		p.forwardHeld(r, body).send(w, nil)
	}
}

func (p *Proxy) serveWrite(w http.ResponseWriter, r *http.Request, op string, body []byte, f Faults) {
	cs, tableName := changes(op, body)
	var tw *trackedWrite
	if f.IndexLag > 0 || f.StaleReads > 0 {
		tw = p.track(r.Context(), r.Header, cs, f)
	}
	var resp response
	switch {
	case op == "TransactWriteItems":
		resp = p.transact(r, body, f)
	case !f.TransactionConflicts:
		resp = p.forwardHeld(r, body)
	default:
		keys := p.itemKeys(r, cs)
		if !p.holds.write(keys) {
			resp = transactionConflict()
			break
		}
		resp = p.forwardHeld(r, body)
		p.holds.written(keys)
	}
	applied := resp.status == http.StatusOK
	if tw != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), readBackTimeout)
		tw.done(ctx, applied, resp.err != nil)
		cancel()
	}
	// Not held by the proxy's lock from here: the predicate may make
	// requests through the proxy.
	if applied && f.ApplyThenFail != nil && f.ApplyThenFail(Write{Op: op, Table: tableName, Body: body}) {
		internalServerError(w, "The write was applied, then failed (ddbproxy ApplyThenFail).")
		return
	}
	resp.send(w, nil)
}

// itemKeys are the holds' keys of the items a plain write touches (those
// of unknown tables are left out: the target refuses the write).
func (p *Proxy) itemKeys(r *http.Request, cs []change) []string {
	keys := make([]string, 0, len(cs))
	for _, c := range cs {
		t, err := p.tableOf(r.Context(), r.Header, c.table)
		if err != nil {
			continue
		}
		if k := t.key(c.it); k != "" {
			keys = append(keys, itemKey(c.table, k))
		}
	}
	return keys
}

// serveQuery answers a Query: read committed, then as the index was
// IndexLag ago (an index Query) or as the table was StaleReads ago (a table
// Query without ConsistentRead).
func (p *Proxy) serveQuery(w http.ResponseWriter, r *http.Request, body []byte, f Faults) {
	var q queryIn
	parsed := json.Unmarshal(body, &q) == nil
	resp := p.forwardRead(r, body, f, []string{q.TableName})
	// Lagged while the fault is on; each write carries the lag it was made
	// with (lag.go).
	on, v := f.IndexLag > 0, indexView
	if q.IndexName == "" {
		on, v = f.StaleReads > 0, readView
	}
	if resp.status != http.StatusOK || !parsed || !on || !q.supported() || (q.IndexName == "" && q.ConsistentRead) {
		resp.send(w, nil)
		return
	}
	t, err := p.tableOf(r.Context(), r.Header, q.TableName)
	if err != nil {
		resp.send(w, nil)
		return
	}
	ix, found := t.indexes[q.IndexName]
	if q.IndexName == "" {
		ix, found = index{hash: t.hash, rng: t.rng, projection: "ALL"}, true
	}
	attr, pkValue, ok := q.partition()
	if !found || !ok || attr != ix.hash {
		resp.send(w, nil)
		return
	}
	resp.send(w, p.lagQuery(t, ix, &q, pkValue, resp.body, v))
}

// response is the target's answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error // the target could not be reached or did not answer
}

// hopHeaders are not forwarded either way.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding",
	"Upgrade", "Content-Length", "Accept-Encoding"}

func forwardHeader(h http.Header) http.Header {
	out := h.Clone()
	for _, k := range hopHeaders {
		out.Del(k)
	}
	return out
}

// forwardHeld forwards the request while no transaction runs one at a time
// (without TransactionConflicts).
func (p *Proxy) forwardHeld(r *http.Request, body []byte) response {
	p.txMu.RLock()
	defer p.txMu.RUnlock()
	return p.forward(r, body)
}

// forward sends the request to the target as it came.
func (p *Proxy) forward(r *http.Request, body []byte) response {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return response{err: err}
	}
	req.Header = forwardHeader(r.Header)
	resp, err := p.client.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{err: err}
	}
	return response{status: resp.StatusCode, header: resp.Header, body: got}
}

// send writes the response to the client, with body instead of the
// target's when body is not nil. A target that could not be reached is
// passed on as a connection that ends without an answer, as the target's
// own would.
func (r response) send(w http.ResponseWriter, body []byte) {
	if r.err != nil {
		panic(http.ErrAbortHandler)
	}
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
	if body != nil {
		r.body = body
		// The SDK checks DynamoDB's checksum of the body.
		h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	}
	h.Set("Content-Length", strconv.Itoa(len(r.body)))
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}

// internalServerError answers as DynamoDB does when it fails internally.
func internalServerError(w http.ResponseWriter, message string) {
	body, _ := json.Marshal(map[string]string{
		"__type":  "com.amazonaws.dynamodb.v20120810#InternalServerError",
		"message": message,
	})
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(body)
}
