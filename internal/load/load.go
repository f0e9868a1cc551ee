// Package load is GroupChat's load generator: it opens many WebSocket
// clients against a stage (the local stack or a deployed one), spreads them
// over rooms, sends public messages at a given total rate (or one broadcast
// at a time), and checks that every accepted message reached every member of
// its room exactly once and nobody else, measuring end-to-end latency.
// cmd/load is its command line; the fault tests and benchmarks drive it too.
package load

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Bounds keep a run finite whatever it is given.
const (
	MaxClients  = 20000
	MaxDuration = time.Hour
	MaxRate     = 10000
)

// Config describes one run. The zero value of every field means its default.
type Config struct {
	// URL is the stage's WebSocket URL without a query, such as
	// ws://127.0.0.1:8080/local or wss://<api-id>.execute-api.<region>.amazonaws.com/<stage>.
	// Required.
	URL string
	// Clients is how many WebSocket clients connect. Default 10.
	Clients int
	// RoomSize is how many clients share a room; the last room may have
	// fewer. Default 10.
	RoomSize int
	// RoomPrefix names the rooms "<prefix>-<n>". Default "load-<run id>",
	// so runs never share a room.
	RoomPrefix string
	// Rate is the total number of messages per second in steady mode.
	// Default 10.
	Rate float64
	// Duration is how long steady mode sends. Default 10s.
	Duration time.Duration
	// Broadcasts, when positive, selects broadcast mode instead: this many
	// messages, one at a time, each sent when the previous one has reached
	// every member of its room (or Drain passed), rotating over the rooms.
	Broadcasts int
	// MessageSize is the length of each message's text in bytes (at least
	// the marker that identifies it). Default 64.
	MessageSize int
	// ConnectConcurrency bounds handshakes in flight. Default 32.
	ConnectConcurrency int
	// ConnectTimeout bounds one handshake. Default 30s.
	ConnectTimeout time.Duration
	// Settle is how long no frame may arrive before sending starts, so the
	// joined frames of the connect phase do not mix with the measurement.
	// Default 500ms; it waits at most SettleMax (default 5m).
	Settle    time.Duration
	SettleMax time.Duration
	// Drain is how long to wait for outstanding deliveries after the last
	// message was sent (in broadcast mode: after each message). Default 10s.
	Drain time.Duration
	// VanishFraction of the clients vanish without a close frame (as after a
	// lost network) VanishAfter into the sending phase. Default 0: none.
	VanishFraction float64
	VanishAfter    time.Duration
	// Progress receives a line every ProgressEvery (default 1s). Default nil:
	// no progress.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Run identifies the run in names, rooms and message markers. Default: random.
	Run string

	// AfterJoin, when set, is called once every client has connected and
	// the stack is quiet, before the first message; an error ends the run.
	// For tests that inject faults at that point.
	AfterJoin func(ctx context.Context) error
	// BeforeClose, when set, is called after the last delivery was awaited,
	// before the clients close.
	BeforeClose func()
	// BeforeBroadcast, when set, is called before broadcast i (broadcast
	// mode), such as to change the stack between broadcasts.
	BeforeBroadcast func(i int)
}

func (c Config) withDefaults() (Config, error) {
	if c.URL == "" {
		return c, errors.New("load: URL is required")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return c, fmt.Errorf("load: URL must be a ws:// or wss:// URL, not %q", c.URL)
	}
	if u.RawQuery != "" {
		return c, fmt.Errorf("load: URL must have no query (the tool sets name and room): %q", c.URL)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Clients, 10)
	def(&c.RoomSize, 10)
	def(&c.ConnectConcurrency, 32)
	def(&c.MessageSize, 64)
	defDur(&c.Duration, 10*time.Second)
	defDur(&c.ConnectTimeout, 30*time.Second)
	defDur(&c.Settle, 500*time.Millisecond)
	defDur(&c.SettleMax, 5*time.Minute)
	defDur(&c.Drain, 10*time.Second)
	defDur(&c.ProgressEvery, time.Second)
	if c.Rate <= 0 {
		c.Rate = 10
	}
	switch {
	case c.Clients > MaxClients:
		return c, fmt.Errorf("load: at most %d clients, not %d", MaxClients, c.Clients)
	case c.Duration > MaxDuration:
		return c, fmt.Errorf("load: at most %s, not %s", MaxDuration, c.Duration)
	case c.Rate > MaxRate:
		return c, fmt.Errorf("load: at most %d messages/s, not %g", MaxRate, c.Rate)
	case c.Broadcasts > 100000:
		return c, fmt.Errorf("load: at most 100000 broadcasts, not %d", c.Broadcasts)
	case c.VanishFraction < 0 || c.VanishFraction > 1:
		return c, fmt.Errorf("load: the vanish fraction is between 0 and 1, not %g", c.VanishFraction)
	case c.MessageSize > 2000:
		return c, fmt.Errorf("load: messages are at most 2000 bytes here, not %d", c.MessageSize)
	}
	if c.Run == "" {
		c.Run = strings.ToLower(rand.Text()[:6])
	}
	if c.RoomPrefix == "" {
		c.RoomPrefix = "load-" + c.Run
	}
	if len(c.RoomPrefix) > 24 {
		return c, fmt.Errorf("load: room prefix %q is longer than 24 characters", c.RoomPrefix)
	}
	return c, nil
}

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
	idx  int
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
}

func newRun(cfg Config) *run {
	r := &run{cfg: cfg, start: time.Now(), phase: "connect"}
	nRooms := (cfg.Clients + cfg.RoomSize - 1) / cfg.RoomSize
	r.rooms = make([][]*client, nRooms)
	r.clients = make([]*client, cfg.Clients)
	for i := range r.clients {
		c := &client{idx: i, name: fmt.Sprintf("l%s-%d", cfg.Run, i), room: i / cfg.RoomSize}
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

func (r *run) setPhase(p string) {
	r.t.mu.Lock()
	r.phase = p
	r.t.mu.Unlock()
}

// connect opens every client, ConnectConcurrency at a time.
func (r *run) connect(ctx context.Context) ConnectResult {
	var (
		mu    sync.Mutex
		res   ConnectResult
		times []time.Duration
		wg    sync.WaitGroup
		sem   = make(chan struct{}, r.cfg.ConnectConcurrency)
	)
	start := time.Now()
	for _, c := range r.clients {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			t0 := time.Now()
			err := r.dial(ctx, c)
			took := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Failed++
				if res.FirstError == "" {
					res.FirstError = err.Error()
				}
				return
			}
			res.Connected++
			times = append(times, took)
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	if res.Seconds > 0 {
		res.PerSecond = float64(res.Connected) / res.Seconds
	}
	res.LatencyMS = percentiles(times)
	return res
}

func (r *run) dial(ctx context.Context, c *client) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
	defer cancel()
	u := r.cfg.URL + "?" + url.Values{"name": {c.name}, "room": {r.roomName(c.room)}}.Encode()
	ws, resp, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		r.t.markGone(c)
		if resp != nil {
			return fmt.Errorf("connect %s: HTTP %d: %w", c.name, resp.StatusCode, err)
		}
		return fmt.Errorf("connect %s: %w", c.name, err)
	}
	ws.SetReadLimit(1 << 20)
	r.t.mu.Lock()
	c.ws = ws
	r.t.mu.Unlock()
	r.readers.Go(func() { r.read(c) })
	return nil
}

// read hands every frame the client receives to the tracker until the
// connection ends.
func (r *run) read(c *client) {
	for {
		_, data, err := c.ws.Read(context.Background())
		now := time.Now()
		if err != nil {
			r.t.readEnded(c)
			return
		}
		r.t.frame(c, parseFrame(data, r.cfg.Run), now)
	}
}

// settle waits until no frame has arrived for Settle.
func (r *run) settle(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.SettleMax)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		quiet := time.Since(r.t.lastFrameAt())
		if quiet >= r.cfg.Settle {
			return
		}
		sleep(ctx, r.cfg.Settle-quiet)
	}
}

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
	data := `{"action":"sendPublic","message":"` + text + `","ref":"` + fmt.Sprint(m.seq) + `"}`
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(data)); err != nil {
		r.t.sendFailed(m)
		return nil
	}
	return m
}

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

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
