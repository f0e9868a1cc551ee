package ddbproxy

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenWindow is how long DynamoDB remembers a ClientRequestToken.
const tokenWindow = 10 * time.Minute

// txTokens remembers the ClientRequestTokens of transactions that
// succeeded, and those of transactions in flight.
type txTokens struct {
	mu       sync.Mutex
	seen     map[string]txSeen
	inFlight map[string]bool
}

type txSeen struct {
	actions [sha256.Size]byte
	at      time.Time
	answer  []byte
}

// begin marks a transaction with this token in flight; busy is true when
// one already is (DynamoDB answers TransactionInProgressException, which
// the SDK retries, rather than let a retry conflict with its own first
// attempt). Call the returned function when the transaction is done.
func (tk *txTokens) begin(token string) (done func(), busy bool) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	if tk.inFlight[token] {
		return nil, true
	}
	if tk.inFlight == nil {
		tk.inFlight = map[string]bool{}
	}
	tk.inFlight[token] = true
	return func() {
		tk.mu.Lock()
		delete(tk.inFlight, token)
		tk.mu.Unlock()
	}, false
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
