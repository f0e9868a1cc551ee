// Removing a connection's record: a mark that says how the record ends
// (End), the room told, then one transaction that deletes the record and
// logs its end (Store.MarkRemoved, Store.DeleteMarked). Whoever deletes the
// record logs its end, exactly once, whoever that is: the removal that
// marked it, or the next one to find the mark after the first was killed
// or failed in between.

package chat

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// removalStore removes a connection's record in two steps: marked (how
// it ends), then deleted with its count and its end logged.
type removalStore interface {
	// MarkRemoved is the first step of a connection's removal: it marks the
	// record removed, with end (how the record ends: left, gone or replaced),
	// only when it connected before connectedBefore (unless zero: a
	// connection whose $connect is still running answers 410 as well, and
	// must be kept), and returns it with its Mark and End; mine is true when
	// this call marked it, false when another removal had (this call may
	// then finish it, with the end that removal's mark says). It fails with
	// ErrNotFound when there is no live record to mark (none, or spared).
	MarkRemoved(ctx context.Context, id string, connectedBefore time.Time, end End) (c Connection, mine bool, err error)
	// DeleteMarked is the second step: one transaction deletes the record
	// marked c.Mark, takes it from its room's count (one counted by its
	// person only when it is the account's last record there), (signed in) its device
	// from the account's item, and adds end, the record's end, to the
	// message log: whoever deletes the record logs its end, once. It
	// returns false when the record was no longer there with that mark
	// (another removal deleted it, counted it and logged its end).
	DeleteMarked(ctx context.Context, c Connection, end Record) (bool, error)
	// StillCounted reports whether deleting the marked record c will still
	// take one from its room's count: it is still there (not deleted yet)
	// and, counted by its person, the account's last record in the room.
	// One consistent GetItem (of the record, or of the account's item).
	StillCounted(ctx context.Context, c Connection) (bool, error)
}

// endRecord is the activity record of c's end, as its mark says (c.End),
// stamped at the mark (now for a record marked before marks kept their
// time), not at the delete: the removal releases the name after the mark
// and deletes the record later still, and whoever takes the name in
// between (the same person resuming) logs a joined that must come after
// this left, as the left frame (stamped before the release) already does.
// A mark from before marks carried their end has none: the
// finisher's own (fallback) is logged. A resume that finishes a removal
// its $disconnect marked (left) logs the replacement: that $disconnect,
// finding the resume holding the name, would have logged it too.
func (inv *invocation) endRecord(c Connection, fallback End) Record {
	end := c.End
	if end.Kind == "" || (end.Kind == KindLeft && fallback.Kind == KindReplaced) {
		end = fallback
	}
	r := Record{Kind: end.Kind, Room: c.Room, From: c.Name, FromAccount: c.AccountID, ConnID: c.ID, TS: c.MarkedAt}
	if r.TS.IsZero() {
		r.TS = inv.opt.Now()
	}
	if r.Kind == KindReplaced {
		// Taken over by the resume token, or because the old record had
		// expired (its record, and so its claim, outlived their TTL).
		r.ReplacedBy, r.Reason = end.By, ReasonResumed
		if c.ExpiresAt.Before(r.TS) {
			r.Reason = ReasonExpired
		}
	}
	inv.stamp(&r)
	return r
}

// finishRemoval deletes c's marked record and logs its end (c.End) in the
// same transaction; false when another removal had deleted it (and logged
// its end).
func (inv *invocation) finishRemoval(ctx context.Context, c Connection, fallback End) (bool, error) {
	return inv.store.DeleteMarked(ctx, c, inv.endRecord(c, fallback))
}

// removeConnection removes a connection's record at once (mark, then
// delete), ending it as end says; ok when this call marked it. A record
// another removal marked and left is finished here, with the end its mark
// says, and ok is false. With ok, err may still report that the delete
// failed: the record is then marked, hidden from GetConnection, and the
// next removal to find it finishes it.
func (inv *invocation) removeConnection(ctx context.Context, id string, end End) (Connection, bool, error) {
	c, mine, err := inv.store.MarkRemoved(ctx, id, time.Time{}, end)
	switch {
	case errors.Is(err, ErrNotFound):
		return Connection{}, false, nil
	case err != nil:
		return Connection{}, false, err
	}
	if _, err := inv.finishRemoval(ctx, c, end); err != nil {
		if !mine {
			return Connection{}, false, fmt.Errorf("finish removing connection: %w", err)
		}
		return c, true, fmt.Errorf("remove connection: %w", err)
	}
	if !mine {
		return Connection{}, false, nil
	}
	return c, true, nil
}
