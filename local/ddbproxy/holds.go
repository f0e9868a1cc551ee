package ddbproxy

import "sync"

// Item holds: how transactions conflict as DynamoDB's do without running
// one at a time. A transaction holds each of its items from before its
// first action is applied until its last one is (or until it is undone);
// a plain write holds its items while it is forwarded. A transaction that
// finds one of its items held is cancelled (TransactionConflict for that
// item), a plain write that finds one held by a transaction is refused
// (TransactionConflictException), and plain writes of one item wait for
// nothing: the target orders them, as DynamoDB does.
//
// Reads are never held. So that none sees half of a transaction (DynamoDB's
// reads are serializable or read committed against transactions, never
// less), a read that overlapped a transaction applying to one of its tables
// is made again once that transaction is done (readCommitted).

// holds are the items held and the transactions applying, per table.
type holds struct {
	mu    sync.Mutex
	items map[string]*hold // itemKey → hold
	// applying counts the transactions applying to a table now, and gen
	// how many ever began to: a read that saw both unchanged and no
	// transaction applying cannot have seen one half done.
	applying map[string]map[*txn]struct{}
	gen      map[string]uint64
}

type hold struct {
	tx     *txn // the transaction holding the item, nil: none
	writes int  // plain writes of the item in flight
}

// txn is one transaction in flight; done is closed when it has let go of
// its items.
type txn struct {
	keys   []string
	tables []string
	done   chan struct{}
}

func newHolds() *holds {
	return &holds{items: map[string]*hold{}, applying: map[string]map[*txn]struct{}{}, gen: map[string]uint64{}}
}

// itemKey identifies an item of a table across tables.
func itemKey(tableName, key string) string { return tableName + "\x00" + key }

// take holds every key for tx, or none: held[i] tells which keys another
// transaction or a plain write in flight holds (ok is then false).
func (hs *holds) take(tx *txn) (held []bool, ok bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	held = make([]bool, len(tx.keys))
	ok = true
	for i, k := range tx.keys {
		if h := hs.items[k]; h != nil && (h.tx != nil || h.writes > 0) {
			held[i], ok = true, false
		}
	}
	if !ok {
		return held, false
	}
	for _, k := range tx.keys {
		hs.items[k] = &hold{tx: tx}
	}
	return held, true
}

// beginApply marks tx as changing its tables from now on.
func (hs *holds) beginApply(tx *txn) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, t := range tx.tables {
		if hs.applying[t] == nil {
			hs.applying[t] = map[*txn]struct{}{}
		}
		hs.applying[t][tx] = struct{}{}
		hs.gen[t]++
	}
}

// release lets go of tx's items and marks it done.
func (hs *holds) release(tx *txn) {
	hs.mu.Lock()
	for _, k := range tx.keys {
		if h := hs.items[k]; h != nil && h.tx == tx {
			if h.tx = nil; h.writes == 0 {
				delete(hs.items, k)
			}
		}
	}
	for _, t := range tx.tables {
		delete(hs.applying[t], tx)
		if len(hs.applying[t]) == 0 {
			delete(hs.applying, t)
		}
	}
	hs.mu.Unlock()
	close(tx.done)
}

// write holds keys for a plain write, unless a transaction holds one of
// them (ok false: the write must be refused).
func (hs *holds) write(keys []string) (ok bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, k := range keys {
		if h := hs.items[k]; h != nil && h.tx != nil {
			return false
		}
	}
	for _, k := range keys {
		h := hs.items[k]
		if h == nil {
			h = &hold{}
			hs.items[k] = h
		}
		h.writes++
	}
	return true
}

// written lets go of a plain write's keys.
func (hs *holds) written(keys []string) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, k := range keys {
		if h := hs.items[k]; h != nil {
			if h.writes--; h.writes <= 0 && h.tx == nil {
				delete(hs.items, k)
			}
		}
	}
}

// readMark is what a read saw of the transactions on its tables when it
// began.
type readMark struct {
	gen     map[string]uint64
	overlap []*txn
}

// readBegin marks the start of a read of tables.
func (hs *holds) readBegin(tables []string) readMark {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	m := readMark{gen: make(map[string]uint64, len(tables))}
	for _, t := range tables {
		m.gen[t] = hs.gen[t]
		for tx := range hs.applying[t] {
			m.overlap = append(m.overlap, tx)
		}
	}
	return m
}

// readEnd reports the transactions that applied to the tables while the
// read ran; clean is true when there were none.
func (hs *holds) readEnd(m readMark) (overlap []*txn, clean bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	clean = len(m.overlap) == 0
	for t, g := range m.gen {
		if hs.gen[t] != g {
			clean = false
		}
		for tx := range hs.applying[t] {
			m.overlap = append(m.overlap, tx)
		}
	}
	return m.overlap, clean
}
