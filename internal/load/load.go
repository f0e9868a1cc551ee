// Package load is GroupChat's load generator: it opens many WebSocket
// clients against a stage (the local stack or a deployed one), spreads them
// over rooms, sends public messages at a given total rate (or one broadcast
// at a time), and checks that every accepted message reached every member of
// its room exactly once and nobody else, measuring end-to-end latency.
// cmd/load is its command line; the fault tests and benchmarks drive it too.
package load

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Run runs one load test and returns its result. It stops by itself: after
// connecting, settling, sending and draining, each bounded; ctx ends it
// early. An error means the run could not be made (bad config, no client
// connected); a run that was made but lost messages returns a Result whose
// Complete is false.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := newRun(cfg)
	return r.run(ctx)
}

// client is one WebSocket client.
type client struct {
	name string
	room int
	pos  int // index in its room
	ws   *websocket.Conn
	// state, guarded by the tracker's mutex
	gone    bool // vanished, closed or failed: no longer expected to receive
	closing bool // the tool is closing it: a read error is expected
}

type run struct {
	cfg     Config
	t       *tracker
	clients []*client
	rooms   [][]*client
	start   time.Time
	phase   string
	readers sync.WaitGroup
	// connectedAt is when the connect phase ended (its last handshake).
	connectedAt time.Time
}

func newRun(cfg Config) *run {
	r := &run{cfg: cfg, start: time.Now(), phase: "connect"}
	nRooms := (cfg.Clients + cfg.RoomSize - 1) / cfg.RoomSize
	r.rooms = make([][]*client, nRooms)
	r.clients = make([]*client, cfg.Clients)
	for i := range r.clients {
		c := &client{name: fmt.Sprintf("l%s-%d", cfg.Run, i), room: i / cfg.RoomSize}
		c.pos = len(r.rooms[c.room])
		r.rooms[c.room] = append(r.rooms[c.room], c)
		r.clients[i] = c
	}
	r.t = newTracker(cfg.Run, r.rooms)
	return r
}

func (r *run) roomName(k int) string { return fmt.Sprintf("%s-%d", r.cfg.RoomPrefix, k) }

func (r *run) run(ctx context.Context) (*Result, error) {
	res := &Result{Run: r.cfg.Run, URL: r.cfg.URL, Clients: r.cfg.Clients, Rooms: len(r.rooms),
		RoomSize: r.cfg.RoomSize, StartedAt: r.start}
	if r.cfg.Broadcasts > 0 {
		res.Mode = "broadcast"
	} else {
		res.Mode = "steady"
		res.TargetRate = r.cfg.Rate
	}
	progressDone := make(chan struct{})
	stopProgress := r.progress(progressDone)
	defer func() {
		stopProgress()
		<-progressDone
	}()

	res.Connect = r.connect(ctx)
	defer r.closeAll()
	if res.Connect.Connected == 0 {
		return res, fmt.Errorf("load: no client connected: %s", res.Connect.FirstError)
	}
	r.setPhase("settle")
	r.settle(ctx)
	res.Fill = r.t.fill(res.Connect.Connected, time.Since(r.start)-r.quietFor())
	if r.cfg.AfterJoin != nil {
		if err := r.cfg.AfterJoin(ctx); err != nil {
			return res, fmt.Errorf("load: after join: %w", err)
		}
	}
	r.t.resetFrames()

	r.setPhase("send")
	sendStart := time.Now()
	if r.cfg.Broadcasts > 0 {
		r.broadcasts(ctx)
	} else {
		r.steady(ctx)
	}
	res.SendSeconds = time.Since(sendStart).Seconds()
	r.setPhase("drain")
	r.t.waitAll(ctx, r.cfg.Drain)
	if r.cfg.Hold > 0 {
		r.setPhase("hold")
		sleep(ctx, r.cfg.Hold)
	}
	if r.cfg.BeforeClose != nil {
		r.cfg.BeforeClose()
	}
	r.setPhase("done")
	r.t.result(res)
	if res.SendSeconds > 0 && res.Mode == "steady" {
		res.AchievedRate = float64(res.Messages.Sent) / res.SendSeconds
	}
	res.Seconds = time.Since(r.start).Seconds()
	return res, ctx.Err()
}

// quietFor is how long no frame has arrived: the end of the settle phase
// that is not part of the fill.
func (r *run) quietFor() time.Duration { return time.Since(r.t.lastFrameAt()) }

// setPhase starts phase p and, with progress on, says so at once (a
// watcher can tell when the sends begin).
func (r *run) setPhase(p string) {
	r.t.mu.Lock()
	r.phase = p
	r.t.mu.Unlock()
	if r.cfg.Progress != nil {
		fmt.Fprintln(r.cfg.Progress, r.status())
	}
}

// progress writes a line every ProgressEvery until stopped.
func (r *run) progress(done chan<- struct{}) (stop func()) {
	if r.cfg.Progress == nil {
		close(done)
		return func() {}
	}
	quit := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				fmt.Fprintln(r.cfg.Progress, r.status())
			}
		}
	}()
	return func() { close(quit) }
}

func (r *run) status() string {
	t := r.t
	t.mu.Lock()
	defer t.mu.Unlock()
	connected := 0
	for _, c := range r.clients {
		if c.ws != nil && !c.gone {
			connected++
		}
	}
	return fmt.Sprintf("load: %5.1fs %-9s clients %d/%d  sent %d  accepted %d  delivered %d/%d  errors %d  frames %d",
		time.Since(r.start).Seconds(), r.phase, connected, len(r.clients), len(t.msgs), t.accepted,
		t.delivered, t.expected, t.rejected, t.frames)
}
