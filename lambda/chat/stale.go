// Stale connections: a 410 from the management API means the connection
// vanished without a close; its record and name go, and the room is told.
// Every 410 is counted once, by what became of the connection.

package chat

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// staleRounds bounds the member lists sent after removals (each can find
// more stale connections).
const staleRounds = 3

// gone is one stale connection this invocation removed.
type gone struct {
	name string
	// person: the connection's person left the room with it (its last
	// device there, decided on the account's item); without sign-in, always.
	person bool
	// account: a signed-in person under the account's current name, which
	// no other member can carry.
	account bool
	// marked: a signed-in connection's record, marked, whose delete waits
	// until the room was told (a removal killed before the delete is
	// finished, and told, by the next one to find the mark).
	marked *Connection
	// at and v stamp the person's leaving in the members frame (left):
	// at is taken after the record took its name and before the removal
	// released it; v is the account's device version the leaving was
	// decided at (signed in).
	at        time.Time
	v         int64
	accountID string
	// username is the signed-in person's, told beside the name.
	username string
	// pending is the old name of the person's unfinished rename (its
	// invocation died after renaming the record, perhaps before telling
	// the room): the room may know them only by it. It goes too, stamped
	// at pendingAt (the rename's own stamp without sign-in; the mark's
	// with sign-in, whose account still holds the old name): whoever took
	// that name since claimed it later, and stays on every page.
	pending   string
	pendingAt time.Time
}

// goneFrom is the gone of a marked connection whose person leaves the room
// with it, stamped at its mark (or now, for a record marked before marks
// kept their time).
func (inv *invocation) goneFrom(c *Connection, person bool, v int64) gone {
	at := c.MarkedAt
	if at.IsZero() {
		at = inv.opt.Now()
	}
	return gone{name: c.Name, person: person, account: c.AccountID != "", marked: c, at: at, v: v, accountID: c.AccountID,
		username: c.Username}
}

// lefts are the people a members frame says left, and (signed in) those
// who stayed on another device, each stamped.
// live is the room's list (the index's, lagging).
func lefts(went []gone, live []Member) (left, stayed []leftEntry) {
	left = []leftEntry{} // present, if empty: a page then follows the entries, not the list
	for _, g := range went {
		e := leftEntry{Name: g.name, TS: millis(g.at), Account: g.accountID, Username: g.username, V: g.v}
		switch {
		case g.accountID != "" && !g.account:
			// A name its account gave up (removeOne), whose rename this room
			// may never have been told: it goes, as without sign-in, unless
			// a member listed carries it (someone who took it since).
			if !slices.ContainsFunc(live, func(m Member) bool { return Fold(m.Name) == Fold(g.name) }) {
				left = append(left, e)
			}
		case g.person:
			left = append(left, e)
		case g.account:
			stayed = append(stayed, e)
		}
		if g.pending != "" {
			left = append(left, leftEntry{Name: g.pending, TS: millis(g.pendingAt), Account: g.accountID, Username: g.username})
		}
	}
	return left, stayed
}

// removeStale deletes the records of connections that vanished without a
// close, frees their names and sends each affected room one members frame.
// That frame can itself find more stale connections; a few rounds are
// enough, and whatever is left is found by the next broadcast or expires.
// The removals of a round run through the delivery pool and stop at the
// same deadline as a fan-out: after a mass drop there can be hundreds.
// posted is when the posts (or closes) that were answered 410 began: a
// 410 is judged as of then (removeAll), however long the removals take.
func (inv *invocation) removeStale(ctx context.Context, stale []Member, posted time.Time) {
	removed := map[string]bool{} // by this invocation: the index may still list them
	// No round starts inside the deadline margin: the connections found
	// stale are left for a later broadcast.
	for round := 0; len(stale) > 0 && round < staleRounds && RetryAllowed(ctx, 0); round++ {
		byRoom := inv.removeAll(ctx, stale, posted, removed)
		stale = nil
		posted = inv.opt.Now() // before the members frames, whose 410s the next round judges
		for room, went := range byRoom {
			found, told := inv.tellGone(ctx, room, went, removed)
			stale = append(stale, found...)
			deleted, all := inv.deleteMarked(ctx, went)
			inv.confirm(ctx, room, told, deleted, all)
		}
	}
	if len(stale) > 0 {
		inv.log.Warn("stale connections left for a later broadcast: the rounds of member lists ran out", "count", len(stale))
		inv.m.count(countStaleLeft, len(stale))
	}
}

// deleteMarked deletes the marked records of the connections that went,
// once their room was told, through the delivery pool (after a mass drop
// there can be hundreds). It starts none past the fan-out deadline: a
// record left marked is finished, and told again, by the next removal to
// find it. It returns how many it deleted, and whether that is all.
func (inv *invocation) deleteMarked(ctx context.Context, went []gone) (deleted int, all bool) {
	var marked []*Connection
	for _, g := range went {
		if g.marked != nil {
			marked = append(marked, g.marked)
		}
	}
	fctx, cancel := inv.fanoutContext(ctx)
	defer cancel()
	var n atomic.Int64
	inPool(fctx, inv.opt.PoolSize, marked, func(c *Connection) {
		ok, err := inv.finishRemoval(ctx, *c, End{Kind: KindGone})
		if err != nil {
			inv.log.Error("remove stale connection", "stale", c.ID, "error", err)
		}
		if ok {
			n.Add(1)
		}
	})
	return int(n.Load()), int(n.Load()) == len(marked)
}

// tellGone sends a room one members frame (a big room a presence frame,
// when its credit pays for it) after stale removals, and returns the
// connections that frame found stale in turn, and the count it told (to
// confirm once the marked records are deleted).
func (inv *invocation) tellGone(ctx context.Context, room string, went []gone, removed map[string]bool) ([]Member, RoomCount) {
	inv.log.Info("removed stale connections", "room", room, "count", len(went))
	rc, ok := inv.counted(ctx, room, len(went))
	if !ok {
		return nil, RoomCount{}
	}
	if rc.Count > PresenceLiveMax && !inv.spend(ctx, room, rc, rc.Count) {
		// A big room hears of it when its credit pays for it, or its settle.
		inv.unannounced(ctx, room, rc)
		return nil, RoomCount{}
	}
	members, err := inv.store.Members(ctx, room)
	if err != nil {
		inv.log.Error("list members after stale removal", "room", room, "error", err)
		return nil, RoomCount{}
	}
	// Records marked but not deleted yet are still counted.
	var marked []*Connection
	for _, g := range went {
		if g.marked != nil {
			marked = append(marked, g.marked)
		}
	}
	rc = inv.ahead(ctx, rc, marked)
	members = slices.DeleteFunc(members, func(m Member) bool { return removed[m.ConnID] })
	names := goneNames(went, members)
	if names == nil {
		names = []string{} // a page before left reads gone as a list
	}
	// The list is read from the lagging index; a signed-in person's
	// presence was decided on the account's item: one who left is not
	// listed under a device the index still shows, one still here (on
	// another device) is listed even if the index does not show it yet.
	left := func(name string) bool { // the person left with another device removed in this round
		return slices.ContainsFunc(went, func(g gone) bool { return g.account && g.person && Fold(g.name) == Fold(name) })
	}
	members = slices.DeleteFunc(members, func(m Member) bool { return left(m.Name) })
	listed := slices.Clone(members)
	for _, g := range went {
		if g.account && !g.person && !left(g.name) && !slices.ContainsFunc(listed, func(m Member) bool { return Fold(m.Name) == Fold(g.name) }) {
			listed = append(listed, Member{Name: g.name})
		}
	}
	// A small room gets the list (the index may still list more than
	// the count: then only the count, which keeps the frame small).
	frame := encode(countFrame{Type: KindPresence, Room: room, Count: rc.Count, TS: millis(inv.opt.Now()), CV: rc.cv()})
	if rc.Count <= PresenceLiveMax && len(members) <= 2*PresenceLiveMax {
		left, stayed := lefts(went, members)
		if len(left)+len(stayed) > GoneMax {
			// A mass drop: the entries would not fit in 128 KB. Without
			// left a page takes the list, as before (the frame is read
			// after the removals, so it lags only behind changes since).
			left, stayed = nil, nil
		}
		frame = encode(membersFrame{Type: KindMembers, Room: room, Members: sortedNames(listed),
			Gone: names, Left: left, Stayed: stayed, TS: millis(inv.opt.Now()), Count: rc.Count, CV: rc.cv()})
	}
	targets := make([]target, len(members))
	for i, m := range members {
		targets[i] = target{m, frame}
	}
	return inv.fanout(ctx, targets), rc
}

// GoneMax bounds the names a members frame says went: after a mass drop
// hundreds can go in one round, and 1,500 of the longest names (85 bytes
// of JSON each) would make the frame more than API Gateway's 128 KB, which
// it refuses: nobody would be told. With at most 40 members listed and 100
// gone the frame is under 13 KB; the list and the count stay exact.
const GoneMax = 100

// goneNames are the names a members frame says went (at most GoneMax): a
// signed-in person whose last device in the room went (decided on the
// account's item, not by the lagging list), and without sign-in each name
// no live member carries.
func goneNames(went []gone, live []Member) []string {
	var out []string
	for _, g := range went {
		switch {
		case g.account && g.person:
			out = append(out, g.name)
		case !g.account && !slices.ContainsFunc(live, func(m Member) bool { return Fold(m.Name) == Fold(g.name) }):
			out = append(out, g.name)
		}
		if g.pending != "" && !slices.ContainsFunc(live, func(m Member) bool { return Fold(m.Name) == Fold(g.pending) }) {
			out = append(out, g.pending)
		}
	}
	out = slices.Compact(out)
	return out[:min(len(out), GoneMax)]
}

// removeAll removes stale connections through a pool of PoolSize, each
// removal a mark and a name release (or the device's leave), and
// returns what went, by room. It starts no removal past the fan-out
// deadline; those left are found again by a later broadcast.
func (inv *invocation) removeAll(ctx context.Context, stale []Member, posted time.Time, removed map[string]bool) map[string][]gone {
	fctx, cancel := inv.fanoutContext(ctx)
	defer cancel()
	// One cutoff for the round, taken from when the frames were posted,
	// not from now: API Gateway answers 410 while a $connect runs (29 s at
	// most), so only a connection older than the grace when its frame was
	// posted had surely vanished. Its $connect may have returned since,
	// and the removals run for seconds after the posts.
	connectedBefore := posted.Add(-inv.opt.StaleGrace)
	var (
		mu     sync.Mutex
		byRoom = map[string][]gone{}
	)
	sent := inPool(fctx, inv.opt.PoolSize, stale, func(m Member) {
		c, g, ok := inv.removeOne(ctx, m, connectedBefore)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		removed[c.ID] = true
		byRoom[c.Room] = append(byRoom[c.Room], g)
	})
	if left := len(stale) - sent; left > 0 {
		inv.log.Warn("stale connections left for a later broadcast: the invocation is out of time", "count", left)
		inv.m.count(countStaleLeft, left)
	}
	return byRoom
}

// removeOne removes one stale connection; ok when this invocation removed
// it (or, signed in, finished a removal that stopped after its mark: the
// room must hear of it). It counts the 410 under what became of the
// connection.
func (inv *invocation) removeOne(ctx context.Context, m Member, connectedBefore time.Time) (Connection, gone, bool) {
	c, mine, err := inv.store.MarkRemoved(ctx, m.ConnID, connectedBefore, End{Kind: KindGone})
	switch {
	case errors.Is(err, ErrNotFound):
		inv.notRemoved(ctx, m, connectedBefore, nil)
		return c, gone{}, false
	case err != nil:
		inv.log.Error("remove stale connection", "stale", m.ConnID, "error", err)
		inv.notRemoved(ctx, m, connectedBefore, err)
		return c, gone{}, false
	}
	if mine {
		inv.m.count(countStaleRemoved, 1)
	} else {
		inv.m.count(countGoneRemoved, 1)
	}
	// The person leaves the room with its last device (decided on the
	// account's item) or, without sign-in, the name is released; the room
	// is told (by the members frame) before the delete, which logs the end
	// (the mark's: gone, or the left of a $disconnect that stopped after
	// its mark), so a removal that dies in between is finished, told and
	// logged by the next one. A removal that stopped after its mark may
	// not have released the name: the release only frees a claim this
	// connection still holds, and a resume that took the name over keeps
	// the person in the room.
	if c.AccountID != "" {
		// A stayed entry's stamp (below), taken before the device update
		// whose name it carries: see there.
		before := inv.opt.Now()
		last, v, name, pending := inv.leaveDevice(ctx, c)
		g := inv.goneFrom(&c, last, v)
		if last && pending != "" && NameKey(pending) != NameKey(c.Name) {
			// As its $disconnect would have (disconnectAccount): her
			// unfinished rename's old name, still hers.
			g.pending, g.pendingAt = pending, g.at
		}
		// A record under a name its account no longer carries (a record
		// that never became a device, which the account's rename missed):
		// the name was released, and another account may carry it now.
		// It is told as a name without an account: gone only when no
		// member listed carries it, and no member is dropped by it (no
		// left or stayed entry).
		g.account = name == "" || Fold(name) == Fold(c.Name)
		if g.account && !last {
			// Still here on another device, under the account's name: a
			// page that missed her joined (its $connect was killed) learns
			// of her now. Stamped as joinDevice stamps a joined: before the
			// update that returned the name, and a millisecond earlier
			// still, so a rename that follows the update (its stamp is
			// taken after its own write) is strictly later, even within
			// the same millisecond, and its release of the name wins on
			// every page (at an equal ts being there wins: stamped after
			// the update, Bob stayed on every page beside the Dot he had
			// become, TestAStayedEntryDoesNotOutliveARenameJustAfter).
			// Whoever held the name before her released it before her
			// claim, which precedes the update by several requests.
			g.name, g.at = cmp.Or(name, c.Name), before.Add(-time.Millisecond)
		}
		return c, g, true
	}
	g := inv.goneFrom(&c, inv.release(ctx, c.Room, c.Name, c.ID) == "", 0)
	if c.PendingName != "" && Fold(c.PendingName) != Fold(c.Name) {
		// A rename whose room was never told: its old name is released
		// (if this connection still holds it) and goes at the rename's
		// stamp, as the renamed its $disconnect would have sent.
		inv.release(ctx, c.Room, c.PendingName, c.ID)
		g.pending, g.pendingAt = c.PendingName, c.PendingAt
	}
	return c, g, true
}

// notRemoved counts a 410 whose connection RemoveStale did not remove: it
// is still connecting (spared), its record is already gone (removed by its
// $disconnect or another invocation), or the removal failed (left). The
// store does not say which of the first two, so one read of the record
// tells; it is made only on this path, never for a removal that worked.
func (inv *invocation) notRemoved(ctx context.Context, m Member, connectedBefore time.Time, removeErr error) {
	if removeErr != nil {
		inv.m.count(countStaleLeft, 1)
		return
	}
	c, err := inv.store.GetConnection(ctx, m.ConnID)
	switch {
	case errors.Is(err, ErrNotFound):
		inv.log.Debug("410 from a connection already removed", "to", m.ConnID)
		inv.m.count(countGoneRemoved, 1)
	case err != nil:
		inv.log.Error("read a connection that answered 410", "to", m.ConnID, "error", err)
		inv.m.count(countStaleLeft, 1)
	case !c.ConnectedAt.Before(connectedBefore):
		// API Gateway answers 410 until $connect returns: the frame is lost,
		// and the client asks for its state (hello) once connected.
		inv.log.Info("410 from a connection still connecting: kept", "to", m.ConnID, "connectedAt", c.ConnectedAt)
		inv.m.count(countGoneConnecting, 1)
	default:
		// Live and old enough, yet RemoveStale kept it: the record changed
		// between the two requests. Not expected; the next 410 decides.
		inv.log.Warn("stale connection not removed", "to", m.ConnID, "connectedAt", c.ConnectedAt)
		inv.m.count(countStaleLeft, 1)
	}
}
