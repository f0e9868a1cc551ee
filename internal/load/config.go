package load

// What a run is given: Config, its defaults and its bounds.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
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
	// Settle is how long no frame may arrive, and no client connect,
	// before sending starts, so the joined frames of the connect phase do
	// not mix with the measurement and the room index lists the last
	// joiners (their handshakes may bring no frame).
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
	// Hold keeps the clients connected this long after the last delivery
	// was awaited (or until ctx ends), so that a person or a browser test
	// can look at the full room. Default 0: they close at once.
	Hold time.Duration
	// Progress receives a line every ProgressEvery (default 1s). Default nil:
	// no progress.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Run identifies the run in names, rooms and message markers. Default: random.
	Run string
	// Token, when set, signs each client in, as a person on a stage with
	// sign-in on: it returns an ID token for the account named after the
	// client, which the handshake carries (?token=). TokenFromURL asks the
	// local stack for them. Default nil: no sign-in.
	Token func(ctx context.Context, name string) (string, error)

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
	orDefault(&c.Clients, 10)
	orDefault(&c.RoomSize, 10)
	orDefault(&c.ConnectConcurrency, 32)
	orDefault(&c.MessageSize, 64)
	orDefault(&c.Rate, 10)
	orDefault(&c.Duration, 10*time.Second)
	orDefault(&c.ConnectTimeout, 30*time.Second)
	orDefault(&c.Settle, 500*time.Millisecond)
	orDefault(&c.SettleMax, 5*time.Minute)
	orDefault(&c.Drain, 10*time.Second)
	orDefault(&c.ProgressEvery, time.Second)
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

// orDefault sets *v to d unless *v is positive.
func orDefault[T int | float64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}
