package load

// Ending connections: on purpose mid-run without a close frame (vanish), and
// every remaining one at the end of the run.

import (
	"math"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// vanish drops VanishFraction of the live clients without a close frame.
func (r *run) vanish() {
	var victims []*client
	r.t.mu.Lock()
	n := int(math.Round(r.cfg.VanishFraction * float64(len(r.clients))))
	// Every room loses its share: take the members at position 1 of every
	// room, then at position 2, and so on; never a room's first member, so
	// each room keeps a sender.
	for pos := 1; len(victims) < n && pos < r.cfg.RoomSize; pos++ {
		for _, room := range r.rooms {
			if len(victims) == n {
				break
			}
			if pos < len(room) && !room[pos].gone && room[pos].ws != nil {
				victims = append(victims, room[pos])
			}
		}
	}
	r.t.mu.Unlock()
	for _, c := range victims {
		r.t.vanished(c)
		_ = c.ws.CloseNow() // no close frame: the TCP connection just ends
	}
}

// closeAll closes every remaining client with a close frame.
func (r *run) closeAll() {
	r.t.mu.Lock()
	var open []*client
	for _, c := range r.clients {
		if c.ws != nil {
			c.closing = true
			open = append(open, c)
		}
	}
	r.t.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range open {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			done := make(chan struct{})
			go func() { _ = c.ws.Close(websocket.StatusNormalClosure, ""); close(done) }()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				_ = c.ws.CloseNow()
			}
		})
	}
	wg.Wait()
	r.readers.Wait()
}
