package load

// The connect phase: every client dials, then the run waits for the joined
// frames to pass.

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
)

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
			token, err := r.signIn(ctx, c)
			t0 := time.Now()
			if err == nil {
				err = r.dial(ctx, c, token)
			}
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
	r.connectedAt = time.Now()
	res.Seconds = time.Since(start).Seconds()
	if res.Seconds > 0 {
		res.PerSecond = float64(res.Connected) / res.Seconds
	}
	res.LatencyMS = percentiles(times)
	return res
}

// signIn gets the client's ID token when the run signs in (before the
// handshake is timed: a handshake's latency is the stage's, not the
// issuer's).
func (r *run) signIn(ctx context.Context, c *client) (string, error) {
	if r.cfg.Token == nil {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
	defer cancel()
	tok, err := r.cfg.Token(ctx, c.name)
	if err != nil {
		r.t.markGone(c)
		return "", fmt.Errorf("sign %s in: %w", c.name, err)
	}
	return tok, nil
}

func (r *run) dial(ctx context.Context, c *client, token string) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
	defer cancel()
	q := url.Values{"name": {c.name}, "room": {r.roomName(c.room)}}
	if token != "" {
		q.Set(contract.AuthQueryParam, token)
	}
	u := r.cfg.URL + "?" + q.Encode()
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

// settle waits until no frame has arrived, and no client has connected,
// for Settle. A newcomer is sent no frame of its own join (nor, in a room
// over 20 members, is anyone else every time), so the last handshake
// counts as activity too: without it the broadcast followed the last
// $connect by some 70 ms, inside the room index's lag, and its Query did
// not list the last joiners yet (a newcomer is promised nothing before the
// index lists it: docs/design.md).
func (r *run) settle(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.SettleMax)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		last := r.t.lastFrameAt()
		if r.connectedAt.After(last) {
			last = r.connectedAt
		}
		quiet := time.Since(last)
		if quiet >= r.cfg.Settle {
			return
		}
		sleep(ctx, r.cfg.Settle-quiet)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
