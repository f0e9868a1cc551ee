// The Service's options and their defaults.

package chat

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// Options tune a Service. The zero value of every field means its default.
type Options struct {
	// PoolSize bounds concurrent deliveries of one broadcast (and the
	// removals after it). Default contract.DefaultFanoutPoolSize (128),
	// chosen by measurement: docs/benchmarks.md, "Fan-out concurrency".
	PoolSize int
	// PostTimeout bounds one delivery. Default 3s.
	PostTimeout time.Duration
	// DeadlineMargin is kept free before the invocation's deadline to finish
	// cleanly after a fan-out. Default 500ms.
	DeadlineMargin time.Duration
	// DeadlineClock is what the invocation's deadline is read against: past
	// the cut-off (the deadline less DeadlineMargin) a fan-out starts no
	// delivery or removal and no write is retried. Default the real clock
	// (the deadline is Lambda's, from the context). A test moves its own
	// clock past the cut-off at a chosen point (chattest.DeadlineClock), so
	// what it checks does not depend on the machine's speed.
	DeadlineClock DeadlineClock
	// MessageRetention is how long the message log keeps a record. Default 30 days.
	MessageRetention time.Duration
	// StaleGrace is how long a new connection is spared removal on 410: API
	// Gateway answers 410 for a connection whose $connect has not returned
	// yet, and a $connect can take up to the 29 s integration timeout.
	// Default 30s.
	StaleGrace time.Duration
	// ReauthGrace is how long after its sign-in ends a signed-in
	// connection may still send reauth; past it the server closes the
	// connection at its next frame (reauth.go). Default DefaultReauthGrace.
	ReauthGrace time.Duration
	// ConnectionTTL is how long a connection record lives at most: a little
	// past API Gateway's 2-hour connection limit. Default 2h10m.
	ConnectionTTL time.Duration
	// Logger receives structured logs. Default: slog.Default().
	Logger *slog.Logger
	// Metrics receives one embedded-metric-format line per invocation.
	// Default os.Stdout (where Lambda's log capture reads it).
	Metrics io.Writer
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// RateLimit is each person's budget (the account's with sign-in, the
	// connection's without): at most Limit units in any Window, each
	// action drawing its contract.Action.Cost. Default 20 per 10 s
	// (DefaultRateLimit).
	RateLimit RateLimit
	// ConnectLimit bounds an account's $connects (sign-in on). Default 20
	// per minute (DefaultConnectLimit).
	ConnectLimit RateLimit
	// MaxDevices is how many connections an account may hold at once
	// (sign-in on); the next $connect is refused (nothing recorded, its
	// frames answered too_many_devices). Default DefaultMaxDevices.
	MaxDevices int
	// Verifier checks sign-in tokens for the $connect authorizer. Default
	// nil: sign-in is off, anyone with the URL may connect, and an
	// authorizer event is denied.
	Verifier Verifier
	// UserPoolID is the user pool whose Pre sign-up trigger the function
	// answers (signup.go): an event of another pool is refused. Default
	// "": not checked (the invoke permission names the pool).
	UserPoolID string
	// Settle sends the settle timer's delayed messages (settle.go). Default
	// nil: no settle; a big room's count then moves only with its credit.
	Settle SettleQueue
	// Shards hands a big broadcast's slices to other environments of the
	// function (shard.go). Default nil: every broadcast is delivered by
	// the invocation that makes it.
	Shards ShardInvoker
	// ShardSize is the most connections one invocation delivers a
	// broadcast to when Shards is set. Default contract.FanoutShardSize.
	ShardSize int
	// SettleDelay is a settle message's delay. Default DefaultSettleDelay.
	SettleDelay time.Duration
	// SettleHold is how long past its delay a pending settle holds its
	// room. Default DefaultSettleHold.
	SettleHold time.Duration
	// Stage is the stage the function serves, the Stage dimension of the
	// metrics of an event that names none (the Pre sign-up trigger's).
	Stage string
}

// WithDefaults returns the options with every zero field set to its default.
func (opt Options) WithDefaults() Options {
	if opt.PoolSize <= 0 {
		opt.PoolSize = contract.DefaultFanoutPoolSize
	}
	if opt.ShardSize <= 0 {
		opt.ShardSize = contract.FanoutShardSize
	}
	if opt.PostTimeout <= 0 {
		opt.PostTimeout = 3 * time.Second
	}
	if opt.DeadlineMargin <= 0 {
		opt.DeadlineMargin = 500 * time.Millisecond
	}
	if opt.DeadlineClock == nil {
		opt.DeadlineClock = realClock{}
	}
	if opt.MessageRetention <= 0 {
		opt.MessageRetention = 30 * 24 * time.Hour
	}
	if opt.StaleGrace <= 0 {
		opt.StaleGrace = 30 * time.Second
	}
	if opt.ReauthGrace <= 0 {
		opt.ReauthGrace = DefaultReauthGrace
	}
	if opt.ConnectionTTL <= 0 {
		opt.ConnectionTTL = 2*time.Hour + 10*time.Minute
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Metrics == nil {
		opt.Metrics = os.Stdout
	}
	if opt.RateLimit.Limit <= 0 {
		opt.RateLimit.Limit = DefaultRateLimit.Limit
	}
	if opt.RateLimit.Window <= 0 {
		opt.RateLimit.Window = DefaultRateLimit.Window
	}
	if opt.ConnectLimit.Limit <= 0 {
		opt.ConnectLimit.Limit = DefaultConnectLimit.Limit
	}
	if opt.ConnectLimit.Window <= 0 {
		opt.ConnectLimit.Window = DefaultConnectLimit.Window
	}
	if opt.MaxDevices <= 0 {
		opt.MaxDevices = DefaultMaxDevices
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.SettleDelay <= 0 {
		opt.SettleDelay = DefaultSettleDelay
	}
	if opt.SettleHold <= 0 {
		opt.SettleHold = DefaultSettleHold
	}
	return opt
}

// DefaultMaxDevices is Options.MaxDevices' default.
const DefaultMaxDevices = 5

// DefaultRateLimit is Options.RateLimit's default: 20 units (20 messages,
// or 6 hellos and 2 messages, …) in any 10 s.
var DefaultRateLimit = RateLimit{Limit: 20, Window: 10 * time.Second}

// DefaultConnectLimit is Options.ConnectLimit's default: 20 $connects of an
// account in any minute.
var DefaultConnectLimit = RateLimit{Limit: 20, Window: time.Minute}

// DeadlineClock is what an invocation's deadline (its context's, which
// Lambda sets in real time) is read against: when the margin before it
// begins (the cut-off). The real clock on Lambda; a test moves its own
// past the cut-off at a chosen point instead of waiting for it, so what
// stops at the cut-off does not depend on the machine's speed.
type DeadlineClock interface {
	// Now is the time the deadline is compared with.
	Now() time.Time
	// WithDeadline returns a copy of ctx that ends when Now reaches d.
	WithDeadline(ctx context.Context, d time.Time) (context.Context, context.CancelFunc)
}

// realClock is the default DeadlineClock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) WithDeadline(ctx context.Context, d time.Time) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, d)
}
