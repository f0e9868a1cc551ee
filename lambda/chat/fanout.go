package chat

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is one delivery: a frame for one connection.
type target struct {
	m    Member
	data []byte
}

// broadcast sends frame to every live member of room except those in skip;
// the member self gets selfFrame instead (its own copy, carrying its ref).
// It is one Query of the room index plus one PostToConnection per member.
// The index is eventually consistent: it may not list self yet (right after
// its $connect), so self is sent its copy whether the index lists it or not;
// its copy is its only confirmation.
func (inv *invocation) broadcast(ctx context.Context, room string, frame []byte, self string, selfFrame []byte, skip ...string) {
	members, err := inv.roomMembers(ctx, room)
	if err != nil {
		inv.log.Error("list members for broadcast", "room", room, "error", err)
		inv.m.count(countInternal, 1)
		if self != "" && selfFrame != nil {
			inv.deliver(ctx, []target{{Member{ConnID: self}, selfFrame}})
		}
		return
	}
	targets := make([]target, 0, len(members)+1)
	if self != "" {
		if selfFrame == nil {
			selfFrame = frame
		}
		targets = append(targets, target{Member{ConnID: self}, selfFrame})
	}
	var ended []Member
	now := inv.opt.Now()
	for _, m := range members {
		switch {
		case m.ConnID == self || slices.Contains(skip, m.ConnID):
		case inv.signInOver(m.AuthExpiresAt, now):
			ended = append(ended, m)
		default:
			targets = append(targets, target{m, frame})
		}
	}
	for _, m := range inv.stillSignedInMembers(ctx, ended, now) {
		targets = append(targets, target{m, frame})
	}
	inv.deliver(ctx, inv.shard(ctx, room, frame, targets))
}

// memberListReads bounds the reads of a broadcast's member list: the first
// and those after a failure, each with the SDK's own attempts.
const memberListReads = 3

// memberListPause is the pause before the second read of a member list;
// each later one doubles it.
const memberListPause = 100 * time.Millisecond

// memberListReadLimit is how long one read of a member list may take: a
// request's time limit (lambda/wire's dynamoRequestTimeout). A read is made
// again only if it would end before the cut-off even at that limit: the read
// runs on the invocation's context, to its deadline itself, and a read that
// ended past the cut-off left no time for any delivery, the sender's own
// copy included.
const memberListReadLimit = 3 * time.Second

// roomMembers reads room's member list for a broadcast, and reads it again
// after a failure (at most memberListReads in all, with pauses, and none
// that RetryAllowed forbids): every delivery of the broadcast depends on
// this one read, and without it only the sender is sent his copy, which
// tells his page the message went out (docs/design.md, Fan-out). Under load
// one read failed at the 3 s limit of its request with no SDK retry left
// (the client's retry quota spent), and a recorded message reached nobody
// else in its room.
func (inv *invocation) roomMembers(ctx context.Context, room string) ([]Member, error) {
	pause := memberListPause
	for read := 1; ; read++ {
		members, err := inv.store.Members(ctx, room)
		if err == nil || read == memberListReads || !RetryAllowed(ctx, pause+memberListReadLimit) {
			return members, err
		}
		inv.log.Warn("list members for broadcast: reading again", "room", room, "read", read, "error", err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		if !RetryAllowed(ctx, memberListReadLimit) {
			return nil, err // the pause ended late: the machine is busy
		}
		pause *= 2
	}
}

// signInOver reports whether a sign-in that ends at until ended more than
// the grace ago (never, without sign-in).
func (inv *invocation) signInOver(until, now time.Time) bool {
	return !until.IsZero() && !now.Before(until.Add(inv.opt.ReauthGrace))
}

// signedIn leaves out of a member list (ms, its order kept) those whose
// sign-in the room index says ended more than the grace ago, or a ban
// ended (contract.ConnAuthEnded), unless the record's consistent read
// finds it renewed; and closes them (stillSignedInMembers): a list never
// shows someone the room's messages no longer reach.
func (inv *invocation) signedIn(ctx context.Context, ms []Member) []Member {
	now := inv.opt.Now()
	var ended []Member
	for _, m := range ms {
		if inv.signInOver(m.AuthExpiresAt, now) {
			ended = append(ended, m)
		}
	}
	if len(ended) == 0 {
		return ms
	}
	renewed := inv.stillSignedInMembers(ctx, ended, now)
	return slices.DeleteFunc(ms, func(m Member) bool {
		return inv.signInOver(m.AuthExpiresAt, now) && !slices.ContainsFunc(renewed, func(r Member) bool { return r.ConnID == m.ConnID })
	})
}

// stillSignedInMembers takes the members whose sign-in the room index says
// ended more than the grace ago (or, for a private message's devices,
// whose sign-in nothing read yet): each record is read (one consistent
// GetItem: the index may not have caught up with a reauth), and a
// connection whose sign-in did end (or a ban ended) is closed instead of
// sent to (its $disconnect removes it; a silent connection is not left
// receiving its room until API Gateway closes it). It returns those still
// signed in.
func (inv *invocation) stillSignedInMembers(ctx context.Context, ended []Member, now time.Time) []Member {
	if len(ended) == 0 {
		return nil
	}
	var (
		mu      sync.Mutex
		renewed []Member
		closing []string
		byID    = map[string]Member{}
	)
	fctx, cancel := inv.fanoutContext(ctx)
	defer cancel()
	inPool(fctx, inv.opt.PoolSize, ended, func(m Member) {
		c, err := inv.store.GetConnection(fctx, m.ConnID)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(err, ErrNotFound): // gone already
		case err != nil:
			inv.log.Warn("read a connection whose sign-in ended", "connectionId", m.ConnID, "error", err)
			renewed = append(renewed, m) // not known to have ended: delivered as before
		case inv.signInOver(c.AuthExpiresAt, now):
			closing = append(closing, m.ConnID)
			byID[m.ConnID] = m
		default:
			renewed = append(renewed, m)
		}
	})
	if len(closing) > 0 {
		inv.log.Info("closing connections whose sign-in ended past the grace", "connections", len(closing))
		// One already gone (410: it vanished, or its close was lost and it
		// left since) gets no $disconnect: its record is removed here, as a
		// send's 410 removes it, or the room would count it for good.
		var stale []Member
		closed := inv.opt.Now()
		for _, id := range inv.closeConnections(ctx, closing) {
			stale = append(stale, byID[id])
		}
		inv.removeStale(ctx, stale, closed)
	}
	return renewed
}

// deliver fans the targets out, then removes the connections found stale.
func (inv *invocation) deliver(ctx context.Context, targets []target) {
	posted := inv.opt.Now()
	inv.removeStale(ctx, inv.fanout(ctx, targets), posted)
}

// reply sends the caller its answer on a route without a route response.
func (inv *invocation) reply(ctx context.Context, data []byte) {
	inv.deliver(ctx, []target{{Member{ConnID: inv.connID}, data}})
}

// fanout posts every target's frame through a pool of at most PoolSize
// goroutines, each call with its own timeout and the whole fan-out bounded by
// the invocation's deadline less DeadlineMargin. It returns the members whose
// connection is gone (410), for removeStale to count. Other failures are
// logged and counted, and never stop the remaining deliveries.
func (inv *invocation) fanout(ctx context.Context, targets []target) (stale []Member) {
	if len(targets) == 0 {
		return nil
	}
	start := time.Now()
	defer func() { inv.m.fanout(len(targets), time.Since(start)) }()
	fctx, cancel := inv.fanoutContext(ctx)
	defer cancel()
	var (
		mu        sync.Mutex
		delivered int
		failed    int
	)
	others, own := inv.ownLast(targets)
	work := func(ctx context.Context, t target) {
		err := inv.post(ctx, t)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			delivered++
		case errors.Is(err, ErrGone):
			stale = append(stale, t.m)
		default:
			failed++
			inv.log.Warn("delivery failed", "to", t.m.ConnID, "error", err)
		}
	}
	sent := inPool(fctx, inv.opt.PoolSize, others, func(t target) { work(fctx, t) })
	if len(own) > 0 && sent == len(others) {
		// Every other copy went out (delivered, failed or given up): the
		// answer may go, with half the margin left for it. One given up
		// unsent at the cut-off leaves the caller unanswered too.
		actx, cancel := inv.answerContext(ctx)
		sent += inPool(actx, 1, own, func(t target) { work(actx, t) })
		cancel()
	}
	if skipped := len(targets) - sent; skipped > 0 {
		failed += skipped
		inv.log.Error("fan-out stopped at the invocation deadline", "undelivered", skipped)
	}
	inv.m.count(countDelivered, delivered)
	inv.m.count(countFailed, failed)
	return stale
}

// ownLast splits targets into the others and the caller's own copy. The
// caller's copy is posted after every other was posted (delivered, failed,
// or given up at the cut-off while on the wire), then with half the margin
// left for it, and not at all when the cut-off came before one of them was
// posted: its page takes it as the answer to its request, so it must not
// arrive while another copy could still be lost with this invocation
// (killed between two posts, by its timeout or its memory). A page that has
// its answer knows every other reader was sent the frame (docs/design.md,
// Fan-out).
func (inv *invocation) ownLast(targets []target) (others, own []target) {
	i := slices.IndexFunc(targets, func(t target) bool { return inv.connID != "" && t.m.ConnID == inv.connID })
	switch {
	case i < 0:
		return targets, nil
	case i == 0: // where broadcast and the others put it: no copy of a room's targets
		return targets[1:], targets[:1]
	}
	return slices.Concat(targets[:i], targets[i+1:]), targets[i : i+1]
}

// inPool calls work for each item from at most PoolSize goroutines, and
// starts no item once ctx has ended: the feeder stops handing items out,
// and a worker that receives one as ctx ends drops it (the feeder's select
// may pick a ready worker even then). It returns how many it started.
func inPool[T any](ctx context.Context, size int, items []T, work func(T)) int {
	var (
		wg      sync.WaitGroup
		started atomic.Int64
	)
	next := make(chan T)
	for range min(size, len(items)) {
		wg.Go(func() {
			for it := range next {
				if ctx.Err() != nil {
					continue
				}
				started.Add(1)
				work(it)
			}
		})
	}
feed:
	for _, it := range items {
		if ctx.Err() != nil {
			break // select would still pick a ready worker half the time
		}
		select {
		case next <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return int(started.Load())
}

func (inv *invocation) post(ctx context.Context, t target) error {
	ctx, cancel := context.WithTimeout(ctx, inv.opt.PostTimeout)
	defer cancel()
	return inv.poster.Post(ctx, t.m.ConnID, t.data)
}
