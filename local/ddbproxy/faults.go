package ddbproxy

import (
	"math/rand/v2"
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
	// consistent: writes typically reach them within a second. Base-table
	// reads (GetItem, Query without an index, Scan) are never lagged.
	// Default 0: the index is read as it is now.
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
	// Conflict, when it returns true for a TransactWriteItems, cancels it
	// without applying anything, with the reason TransactionConflict for
	// its first action, as DynamoDB does when another transaction holds
	// one of its items (the proxy runs transactions one at a time, so it
	// never conflicts by itself). The SDK does not retry it. Default nil.
	Conflict func(w Write) bool
	// Drop, when it returns true for a request, neither forwards nor
	// answers it: the proxy ends the connection, as if the caller had died
	// while sending it. It is asked about every request (reads too), after
	// Before. A test uses it to kill an invocation at an exact request:
	// the predicate cancels the invocation's context, so the SDK does not
	// retry (if it does not, the SDK retries and Drop is asked again). It
	// may be called concurrently. Default nil: never.
	Drop func(r Write) bool
	// Unavailable answers every request with 500 InternalServerError
	// without forwarding it: DynamoDB failing as a whole, as its
	// SystemErrors metric counts it (the SDK retries, then the handler
	// sees the error). Default false.
	Unavailable bool
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
