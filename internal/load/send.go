package load

// The sending phase: which client sends each message, when, and the frame it
// writes.

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// steady sends Rate messages per second for Duration, round-robin over the
// rooms and, within a room, over its live members.
func (r *run) steady(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, r.cfg.Duration)
	defer cancel()
	start := time.Now()
	vanishAt := time.Duration(math.MaxInt64)
	if r.cfg.VanishFraction > 0 {
		vanishAt = r.cfg.VanishAfter
	}
	tick := time.NewTicker(min(time.Duration(float64(time.Second)/r.cfg.Rate), 10*time.Millisecond))
	defer tick.Stop()
	var sends sync.WaitGroup
	defer sends.Wait()
	seq := 0
	total := int(r.cfg.Duration.Seconds() * r.cfg.Rate)
	for {
		last := false
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return
			}
			last = true // the duration is over: send what is still due
		case <-tick.C:
		}
		elapsed := time.Since(start)
		if elapsed >= vanishAt {
			r.vanish()
			vanishAt = time.Duration(math.MaxInt64)
		}
		due := min(int(elapsed.Seconds()*r.cfg.Rate), total)
		if last {
			due = total
		}
		for ; seq < due; seq++ {
			sender := r.pickSender(seq)
			if sender == nil {
				return // nobody left to send
			}
			sends.Go(func() { r.send(parent, sender) })
		}
		if last {
			return
		}
	}
}

// broadcasts sends Broadcasts messages one at a time.
func (r *run) broadcasts(ctx context.Context) {
	for i := range r.cfg.Broadcasts {
		sender := r.pickSender(i)
		if sender == nil || ctx.Err() != nil {
			return
		}
		if r.cfg.BeforeBroadcast != nil {
			r.cfg.BeforeBroadcast(i)
		}
		if r.cfg.Progress != nil {
			// A watcher in another process (the benchmarks) learns when
			// each broadcast was sent, by this machine's clock.
			fmt.Fprintf(r.cfg.Progress, "load: broadcast %d at %d\n", i, time.Now().UnixNano())
		}
		if m := r.send(ctx, sender); m != nil {
			r.t.wait(ctx, m, r.cfg.Drain)
		}
	}
}

// pickSender returns the live client that sends message i: rooms in turn,
// and within a room its live members in turn.
func (r *run) pickSender(i int) *client {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	for k := range len(r.rooms) {
		room := r.rooms[(i+k)%len(r.rooms)]
		turn := i / len(r.rooms)
		for j := range len(room) {
			if c := room[(turn+j)%len(room)]; !c.gone && c.ws != nil {
				return c
			}
		}
	}
	return nil
}

// send sends one message from c and registers what should arrive.
func (r *run) send(ctx context.Context, c *client) *sent {
	m, text := r.t.register(c, r.cfg.MessageSize)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	data, err := encodeSendPublic(text, m.seq)
	if err != nil || c.ws.Write(ctx, websocket.MessageText, data) != nil {
		r.t.sendFailed(m)
		return nil
	}
	return m
}
