package load

import (
	"context"
	"maps"
	"strings"
	"sync"
	"time"
)

// sent is one message the tool sent, with who should receive it.
type sent struct {
	seq    int
	at     time.Time
	room   int
	sender *client
	// expect[pos]: the member at pos of the room was live when the message
	// was sent, so it must receive it exactly once.
	expect []bool
	got    []uint16
	// outstanding counts expected members that have not received it yet.
	outstanding int
	accepted    bool      // the sender's own copy or any member's copy arrived
	rejected    string    // the error code the sender got for it
	failed      bool      // the tool could not send it
	last        time.Time // when the last expected member received it
	done        chan struct{}
	closed      bool
}

// tracker correlates every frame with the message it belongs to.
type tracker struct {
	run   string
	rooms [][]*client

	mu        sync.Mutex
	msgs      []*sent
	latencies []time.Duration
	lastFrame time.Time
	changed   chan struct{} // closed and replaced whenever a message completes

	frames, foreign, gatewayErrors, badFrames int
	byType                                    map[string]int
	accepted, rejected                        int
	rejectedBy                                map[string]int
	expected, delivered                       int
	duplicates, misdelivered, excused         int
	vanishedN, disconnected                   int
}

func newTracker(run string, rooms [][]*client) *tracker {
	return &tracker{run: run, rooms: rooms, lastFrame: time.Now(), changed: make(chan struct{}),
		byType: map[string]int{}, rejectedBy: map[string]int{}}
}

// register records a message about to be sent by c and returns it with its
// text: the marker, padded to size.
func (t *tracker) register(c *client, size int) (*sent, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	room := t.rooms[c.room]
	m := &sent{seq: len(t.msgs), room: c.room, sender: c, expect: make([]bool, len(room)),
		got: make([]uint16, len(room)), done: make(chan struct{})}
	for i, member := range room {
		if !member.gone {
			m.expect[i] = true
			m.outstanding++
		}
	}
	t.expected += m.outstanding
	t.msgs = append(t.msgs, m)
	text := marker(t.run, m.seq)
	if pad := size - len(text); pad > 0 {
		text += strings.Repeat("x", pad)
	}
	m.at = time.Now()
	return m, text
}

func (t *tracker) sendFailed(m *sent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m.failed = true
	t.finish(m)
}

// finish wakes whoever waits for m; call with mu held.
func (t *tracker) finish(m *sent) {
	if !m.closed {
		m.closed = true
		close(m.done)
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

func (t *tracker) complete(m *sent) bool {
	return m.failed || m.rejected != "" || (m.accepted && m.outstanding == 0)
}

// frame handles one frame received by c at now.
func (t *tracker) frame(c *client, p parsed, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.frames++
	t.lastFrame = now
	if p.typ != "" {
		t.byType[p.typ]++
	}
	switch p.kind {
	case kindBadFrame:
		t.badFrames++
	case kindGateway:
		t.gatewayErrors++
	case kindForeign:
		t.foreign++
	case kindError:
		if p.own && p.seq >= 0 && p.seq < len(t.msgs) && t.msgs[p.seq].sender == c {
			m := t.msgs[p.seq]
			if m.rejected == "" {
				m.rejected = p.code
				t.rejected++
				t.rejectedBy[p.code]++
				t.finish(m)
			}
		}
	case kindPublic:
		if p.seq >= len(t.msgs) {
			t.foreign++
			return
		}
		m := t.msgs[p.seq]
		if m.room != c.room {
			t.misdelivered++
			return
		}
		if !m.accepted {
			m.accepted = true
			t.accepted++
		}
		m.got[c.pos]++
		switch {
		case m.got[c.pos] > 1:
			t.duplicates++
		case m.expect[c.pos]:
			m.outstanding--
			t.delivered++
			t.latencies = append(t.latencies, now.Sub(m.at))
			m.last = now
		}
		if t.complete(m) {
			t.finish(m)
		}
	}
}

// excuse stops expecting deliveries to c that have not arrived; call with
// mu held.
func (t *tracker) excuse(c *client) {
	c.gone = true
	for _, m := range t.msgs {
		if m.room == c.room && m.expect[c.pos] && m.got[c.pos] == 0 {
			m.expect[c.pos] = false
			m.outstanding--
			t.expected--
			t.excused++
			if t.complete(m) {
				t.finish(m)
			}
		}
	}
}

func (t *tracker) markGone(c *client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c.gone = true
}

func (t *tracker) vanished(c *client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.vanishedN++
	c.closing = true
	t.excuse(c)
}

// readEnded is called when c's connection ended; unless the tool ended it,
// the server (or the network) did, and c no longer counts.
func (t *tracker) readEnded(c *client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !c.closing {
		t.disconnected++
		t.excuse(c)
	}
}

func (t *tracker) lastFrameAt() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastFrame
}

// fill reports the frames of the connect phase, before resetFrames.
func (t *tracker) fill(connected int, took time.Duration) FillResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := FillResult{Seconds: took.Seconds(), Frames: t.frames, ByType: maps.Clone(t.byType)}
	if connected > 0 {
		f.PerMember = float64(t.frames) / float64(connected)
	}
	return f
}

// resetFrames forgets the frames of the connect phase.
func (t *tracker) resetFrames() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.frames, t.foreign, t.gatewayErrors, t.badFrames = 0, 0, 0, 0
	t.byType = map[string]int{}
}

// wait waits until m is complete or d passed.
func (t *tracker) wait(ctx context.Context, m *sent, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-m.done:
	case <-timer.C:
	case <-ctx.Done():
	}
}

// waitAll waits until every message is complete or d passed.
func (t *tracker) waitAll(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		t.mu.Lock()
		pending := false
		for _, m := range t.msgs {
			if !t.complete(m) {
				pending = true
				break
			}
		}
		changed := t.changed
		t.mu.Unlock()
		if !pending {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// result fills in the message, delivery, latency and frame figures.
func (t *tracker) result(res *Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	res.Messages = MessageResult{Sent: len(t.msgs), Accepted: t.accepted, Rejected: t.rejected}
	if len(t.rejectedBy) > 0 {
		res.Messages.RejectedByCode = t.rejectedBy
	}
	lostBy := map[string]int{}
	for _, m := range t.msgs {
		switch {
		case m.failed:
			res.Messages.SendFailed++
		case m.rejected == "" && !m.accepted:
			res.Messages.Unconfirmed++
		}
		if !m.accepted {
			continue
		}
		for pos, want := range m.expect {
			if !want {
				continue
			}
			res.Deliveries.Expected++
			if m.got[pos] == 0 {
				res.Deliveries.Lost++
				lostBy[t.rooms[m.room][pos].name]++
			}
		}
	}
	res.Deliveries.Delivered = t.delivered
	res.Deliveries.Duplicates = t.duplicates
	res.Deliveries.Misdelivered = t.misdelivered
	res.Deliveries.Excused = t.excused
	if len(lostBy) > 0 {
		res.Deliveries.LostByClient = lostBy
	}
	res.LatencyMS = percentiles(t.latencies)
	if res.Mode == "broadcast" {
		for _, m := range t.msgs {
			done := -1.0
			if m.accepted && m.outstanding == 0 && !m.last.IsZero() {
				done = ms(m.last.Sub(m.at))
			}
			res.BroadcastMS = append(res.BroadcastMS, done)
		}
	}
	res.Frames = FrameResult{Total: t.frames, ByType: t.byType, Foreign: t.foreign,
		GatewayErrors: t.gatewayErrors, NotJSON: t.badFrames}
	res.Vanished = t.vanishedN
	res.Disconnected = t.disconnected
	res.Complete = res.Messages.Sent > 0 && res.Messages.Rejected == 0 && res.Messages.Unconfirmed == 0 && res.Messages.SendFailed == 0 &&
		res.Deliveries.Lost == 0 && res.Deliveries.Duplicates == 0 && res.Deliveries.Misdelivered == 0 &&
		res.Frames.GatewayErrors == 0
}
