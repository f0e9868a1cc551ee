package chat

import (
	"context"
	"errors"
	"slices"
	"sync"
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
func (inv *invocation) broadcast(room string, frame []byte, self string, selfFrame []byte, skip ...string) {
	members, err := inv.store.Members(inv.ctx, room)
	if err != nil {
		inv.log.Error("list members for broadcast", "room", room, "error", err)
		inv.m.add(&inv.m.internal, 1)
		return
	}
	targets := make([]target, 0, len(members))
	for _, m := range members {
		if slices.Contains(skip, m.ConnID) {
			continue
		}
		data := frame
		if m.ConnID == self && selfFrame != nil {
			data = selfFrame
		}
		targets = append(targets, target{m, data})
	}
	inv.deliver(targets)
}

// deliver fans the targets out, then removes the connections found stale.
func (inv *invocation) deliver(targets []target) {
	start := time.Now()
	stale := inv.fanout(targets)
	inv.m.fanout(len(targets), time.Since(start))
	inv.removeStale(stale)
}

// reply sends the caller its answer on a route without a route response.
func (inv *invocation) reply(data []byte) {
	inv.removeStale(inv.fanout([]target{{Member{ConnID: inv.connID}, data}}))
}

// fanout posts every target's frame through a pool of at most PoolSize
// goroutines, each call with its own timeout and the whole fan-out bounded by
// the invocation's deadline less DeadlineMargin. It returns the members whose
// connection is gone (410). Other failures are logged and counted, and never
// stop the remaining deliveries.
func (inv *invocation) fanout(targets []target) (stale []Member) {
	if len(targets) == 0 {
		return nil
	}
	ctx := inv.ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-inv.opt.DeadlineMargin))
		defer cancel()
	}
	var (
		mu        sync.Mutex
		wg        sync.WaitGroup
		delivered int
		failed    int
		next      = make(chan target)
	)
	for range min(inv.opt.PoolSize, len(targets)) {
		wg.Go(func() {
			for t := range next {
				err := inv.post(ctx, t)
				mu.Lock()
				switch {
				case err == nil:
					delivered++
				case errors.Is(err, ErrGone):
					stale = append(stale, t.m)
				default:
					failed++
					inv.log.Warn("delivery failed", "to", t.m.ConnID, "error", err)
				}
				mu.Unlock()
			}
		})
	}
	sent := 0
feed:
	for _, t := range targets {
		select {
		case next <- t:
			sent++
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if skipped := len(targets) - sent; skipped > 0 {
		failed += skipped
		inv.log.Error("fan-out stopped at the invocation deadline", "undelivered", skipped)
	}
	inv.m.add(&inv.m.delivered, delivered)
	inv.m.add(&inv.m.failed, failed)
	return stale
}

func (inv *invocation) post(ctx context.Context, t target) error {
	ctx, cancel := context.WithTimeout(ctx, inv.opt.PostTimeout)
	defer cancel()
	return inv.poster.Post(ctx, t.m.ConnID, t.data)
}

// removeStale deletes the records of connections that vanished without a
// close, frees their names and sends each affected room one members frame.
// That frame can itself find more stale connections; a few rounds are
// enough, and whatever is left is found by the next broadcast or expires.
func (inv *invocation) removeStale(stale []Member) {
	for round := 0; len(stale) > 0 && round < 3; round++ {
		if deadline, ok := inv.ctx.Deadline(); ok && time.Until(deadline) < 2*inv.opt.DeadlineMargin {
			inv.log.Warn("stale connections left for a later broadcast: the invocation is out of time", "count", len(stale))
			return
		}
		gone := map[string][]string{} // room → names that went
		for _, m := range stale {
			c, ok, err := inv.store.RemoveStale(inv.ctx, m.ConnID, inv.opt.Now().Add(-inv.opt.StaleGrace))
			if err != nil {
				inv.log.Error("remove stale connection", "stale", m.ConnID, "error", err)
				continue
			}
			if !ok {
				continue // removed by another invocation, or still connecting
			}
			if err := inv.store.ReleaseName(inv.ctx, c.Room, c.Name, c.ID); err != nil {
				inv.log.Warn("release stale name", "stale", c.ID, "error", err)
			}
			_ = inv.append(&Record{Kind: KindGone, Room: c.Room, From: c.Name, ConnID: c.ID})
			inv.m.add(&inv.m.stale, 1)
			gone[c.Room] = append(gone[c.Room], c.Name)
		}
		stale = nil
		for room, names := range gone {
			members, err := inv.store.Members(inv.ctx, room)
			if err != nil {
				inv.log.Error("list members after stale removal", "room", room, "error", err)
				continue
			}
			inv.log.Info("removed stale connections", "room", room, "count", len(names))
			frame := encode(membersFrame{Type: KindMembers, Room: room, Members: sortedNames(members),
				Gone: names, TS: millis(inv.opt.Now())})
			targets := make([]target, len(members))
			for i, m := range members {
				targets[i] = target{m, frame}
			}
			stale = append(stale, inv.fanout(targets)...)
		}
	}
}
