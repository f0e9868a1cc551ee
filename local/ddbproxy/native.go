package ddbproxy

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
)

// Transactions says who runs TransactWriteItems and TransactGetItems: the
// proxy itself (dynalite has neither) or the target (moto's server, or
// DynamoDB), which then gets them as they came. Either way the proxy's
// faults stay on: conflicts between transactions and with plain writes in
// flight (Faults.TransactionConflicts, Conflict, TransactionHold), applied
// then failed, index lag and stale reads. Only what the target decides —
// validation, conditions, ClientRequestToken — is the target's when it has
// transactions.
type Transactions int

const (
	// DetectTransactions asks the target once, at the first transaction:
	// a TransactWriteItems without actions, which DynamoDB refuses with a
	// ValidationException, moto accepts (writing nothing), and dynalite,
	// which has no transactions, refuses with UnknownOperationException.
	// The default.
	DetectTransactions Transactions = iota
	// EmulateTransactions has the proxy run them whatever the target.
	EmulateTransactions
	// PassTransactions forwards them to the target.
	PassTransactions
)

func (t Transactions) String() string {
	switch t {
	case EmulateTransactions:
		return "emulated by the proxy"
	case PassTransactions:
		return "passed to the target"
	}
	return "detected at the first transaction"
}

// Options are how the proxy treats its target (faults are separate).
type Options struct {
	// Transactions: DetectTransactions (the zero value), EmulateTransactions
	// or PassTransactions.
	Transactions Transactions
}

// txTarget remembers what DetectTransactions found.
type txTarget struct {
	mu     sync.Mutex
	known  bool
	passed bool
}

// StartWith starts a proxy as Start does, with o.
func StartWith(target string, f Faults, o Options) (*Proxy, error) {
	p, err := Start(target, f)
	if err != nil {
		return nil, err
	}
	switch o.Transactions {
	case EmulateTransactions, PassTransactions:
		p.txTarget.known, p.txTarget.passed = true, o.Transactions == PassTransactions
	}
	return p, nil
}

// TransactionsPassed reports whether the proxy passes transactions to its
// target (asking the target first if it was started to detect it).
func (p *Proxy) TransactionsPassed(ctx context.Context) (bool, error) {
	return p.passTransactions(ctx, unsigned())
}

// unsigned is a request's header for a request of the proxy's own: not
// signed, but naming the service, as a target that serves several (moto's
// server) tells them apart by the credential's scope.
func unsigned() http.Header {
	hdr := http.Header{}
	hdr.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20120810/us-east-1/dynamodb/aws4_request, "+
		"SignedHeaders=host;x-amz-date;x-amz-target, Signature=0")
	hdr.Set("X-Amz-Date", "20120810T000000Z")
	return hdr
}

// passTransactions reports whether transactions go to the target; a
// target that could not be asked is asked again next time.
func (p *Proxy) passTransactions(ctx context.Context, hdr http.Header) (bool, error) {
	tt := &p.txTarget
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if tt.known {
		return tt.passed, nil
	}
	_, got, err := p.callRaw(ctx, hdr, "TransactWriteItems", map[string]any{"TransactItems": []any{}})
	if err != nil {
		return false, fmt.Errorf("ask the target whether it has transactions: %w", err)
	}
	tt.known = true // 200 too: moto accepts a transaction without actions, which writes nothing
	tt.passed = !bytes.Contains(got, []byte("UnknownOperationException"))
	return tt.passed, nil
}
