package ddbproxy

import (
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Faults are the ways the proxy is less kind than dynalite, as DynamoDB on
// AWS is. The zero value is a transparent proxy.
type Faults struct {
	// IndexLag makes every Query of a global secondary index answer with the
	// index as it was IndexLag ago: an item put, updated or deleted (through
	// the proxy) less than IndexLag ago appears in its earlier state — a new
	// item is missing, a deleted one still listed with its old projected
	// attributes, an updated one shows its old projected values (in its old
	// partition if its index key changed). DynamoDB's GSIs are eventually
	// consistent: writes typically reach them within a second. Each write
	// reaches the index after the IndexLag in effect when it was made, so a
	// lag switched on mid-test delays the writes from then on only.
	// Base-table reads follow StaleReads. Default 0: the index is read as it
	// is now.
	IndexLag time.Duration
	// ApplyThenFail, when it returns true for a write (PutItem, UpdateItem,
	// DeleteItem, BatchWriteItem, TransactWriteItems) that the target has
	// applied, answers it with 500 InternalServerError instead of the real
	// response, as DynamoDB may: the SDK retries it, and a conditional
	// write's retry then fails its condition against its own first attempt.
	// It is asked only about writes the target answered 200; a write the
	// target refuses is answered as it is. It may be called concurrently.
	// Default nil: never.
	ApplyThenFail func(w Write) bool
	// Latency delays every request before it is forwarded: DynamoDB answers
	// in single-digit milliseconds, dynalite on loopback faster. Default 0.
	Latency time.Duration
	// Before, when set, is called with every request (reads too: Op is
	// e.g. "GetItem") before it is forwarded, and the request waits for it:
	// a test uses it to make something happen at an exact point between two
	// requests of a handler. It may be called concurrently, and from inside
	// itself when it makes requests through the proxy. Default nil.
	Before func(r Write)
	// Conflict, when it returns true, cancels a TransactWriteItems without
	// applying anything, as DynamoDB does when another transaction holds
	// one of its items. It is asked once per action, in request order, with
	// Write.Action set to the action's index and Write.Table to its table;
	// the cancellation gives TransactionConflict for each action it said
	// true for and None for the others (ask only about Action 0 to cancel
	// whole transactions). It forces what the proxy's per-item holds do by
	// themselves when transactions overlap. The SDK does not retry it.
	// Default nil: never forced.
	Conflict func(w Write) bool
	// Drop, when it returns true for a request, neither forwards nor
	// answers it: the proxy ends the connection, as if the caller had died
	// while sending it. It is asked about every request (reads too), after
	// Before. A test uses it to kill an invocation at an exact request:
	// the predicate cancels the invocation's context, so the SDK does not
	// retry (if it does not, the SDK retries and Drop is asked again). It
	// may be called concurrently. Default nil: never.
	Drop func(r Write) bool
	// TransactionConflicts makes transactions hold their items while they
	// run, as DynamoDB's do: a transaction that touches an item another
	// transaction (or a plain write in flight) holds is cancelled with
	// TransactionConflict for that item, and a plain write of an item a
	// transaction holds is refused with TransactionConflictException
	// (transact.go, holds.go). AWSLike turns it on. Default false: the
	// proxy runs transactions one at a time, every other request held while
	// one runs, so that none ever conflicts and no write is refused, kinder
	// than DynamoDB, for tests that need the determinism.
	TransactionConflicts bool
	// TransactionHold, when set, is called with every TransactWriteItems
	// once it holds its items and before it applies them, and the
	// transaction waits for it: a test uses it to have a transaction in
	// flight while other requests arrive (a PutItem of one of its items is
	// then refused, another transaction on one of them cancelled). Only
	// with TransactionConflicts. Default nil.
	TransactionHold func(w Write)
	// StaleReads makes a read without ConsistentRead (GetItem, BatchGetItem,
	// a Query of the table, Scan) answer with the items as they were
	// StaleReads ago, as DynamoDB's eventually consistent reads may: an item
	// written through the proxy less than StaleReads ago shows its previous
	// version (missing when it is new, still there when it was deleted).
	// Always the version of StaleReads ago, not a random one: a test that
	// reads right after a write sees the stale answer every time. A read
	// with ConsistentRead is always current. As for IndexLag, each write
	// carries the StaleReads in effect when it was made. Index queries
	// follow IndexLag. The limits of IndexLag apply (stale.go). Default 0:
	// never stale.
	StaleReads time.Duration
	// Unavailable answers every request with 500 InternalServerError
	// without forwarding it: DynamoDB failing as a whole, as its
	// SystemErrors metric counts it (the SDK retries, then the handler
	// sees the error). Default false.
	Unavailable bool
	// Deterministic, when not empty, is why a test needs the proxy kinder
	// than DynamoDB on AWS: Proxy.Inject then takes these faults as they
	// are (every field left zero is off) instead of on top of the proxy's
	// defaults. Set it with Deterministic(reason), so that every opt-out
	// says why (the guard in guard_test.go holds it).
	Deterministic string
}

// Deterministic returns faults that opt a test out of the proxy's
// defaults, for the test that needs determinism the AWS-like faults would
// take away (an exact request count, a transaction that must not
// conflict): all off, until the test sets the fields it wants. reason
// says why, in the test's words; it must not be empty.
func Deterministic(reason string) Faults {
	if strings.TrimSpace(reason) == "" {
		panic("ddbproxy.Deterministic: say why the test needs the proxy kinder than AWS")
	}
	return Faults{Deterministic: reason}
}

// OverAWSLike returns f on top of AWSLike, as Inject layers a test's faults
// over a proxy's defaults: what a stack started for a test defaults to
// (internal/testkit/localtest), so that a test left with the zero Faults
// runs as unkind as AWS. f from Deterministic(reason) is taken alone.
func OverAWSLike(f Faults) Faults { return f.over(AWSLike()) }

// over returns f layered on top of d: each field f sets (a duration above
// 0, a hook, a switch turned on) replaces d's, the others keep d's. An
// opt-out (f.Deterministic) is f alone.
func (f Faults) over(d Faults) Faults {
	if f.Deterministic != "" {
		return f
	}
	if f.IndexLag > 0 {
		d.IndexLag = f.IndexLag
	}
	if f.StaleReads > 0 {
		d.StaleReads = f.StaleReads
	}
	if f.Latency > 0 {
		d.Latency = f.Latency
	}
	if f.ApplyThenFail != nil {
		d.ApplyThenFail = f.ApplyThenFail
	}
	if f.Before != nil {
		d.Before = f.Before
	}
	if f.Conflict != nil {
		d.Conflict = f.Conflict
	}
	if f.Drop != nil {
		d.Drop = f.Drop
	}
	if f.TransactionHold != nil {
		d.TransactionHold = f.TransactionHold
	}
	d.TransactionConflicts = d.TransactionConflicts || f.TransactionConflicts
	d.Unavailable = d.Unavailable || f.Unavailable
	return d
}

// Write is a request as the proxy received it: a write, for ApplyThenFail;
// any request, for Before.
type Write struct {
	// Op is the operation, e.g. "PutItem".
	Op string
	// Table is the table written; for BatchWriteItem and TransactWriteItems
	// the table when all of the request's items are in one, else "".
	Table string
	// Body is the request's JSON, as the client sent it. Do not modify it.
	Body []byte
	// Action is, for Conflict only, the index of the transaction's action
	// asked about (0 for every other hook).
	Action int
}

// Once returns a predicate that is true for the first write pred is true
// for, and false from then on.
func Once(pred func(Write) bool) func(Write) bool {
	var (
		mu    sync.Mutex
		fired bool
	)
	return func(w Write) bool {
		mu.Lock()
		defer mu.Unlock()
		if fired || !pred(w) {
			return false
		}
		fired = true
		return true
	}
}

// Fraction returns a predicate that is true for about the fraction p (0–1)
// of writes, chosen at random per write. It returns nil for p <= 0.
func Fraction(p float64) func(Write) bool {
	if p <= 0 {
		return nil
	}
	return func(Write) bool { return rand.Float64() < p }
}

// AWSLike returns the faults in which the proxy answers as DynamoDB on AWS
// does where a handler can notice, the default of `make dev`, the browser
// suite and the chat's test harness (docs/local.md, "As unkind as AWS"):
// the room index and eventually consistent reads 100 ms behind their table
// (AWS: typically well under a second), and transactions that conflict.
// Writes applied then failed, latency and outages stay off: they are
// chosen per test, with Proxy.Inject on top of these.
func AWSLike() Faults {
	return Faults{IndexLag: 100 * time.Millisecond, StaleReads: 100 * time.Millisecond, TransactionConflicts: true}
}
