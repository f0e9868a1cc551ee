// Rate limits: sendPublic, sendPrivate and setName count against the
// person's limit (the account's with sign-in, the connection's without),
// kept in the table so it holds across Lambda instances. A frame over the
// limit is answered rate_limited with retryAfterMs, and is neither stored
// nor delivered.

package chat

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// DefaultRateLimit is Options.RateLimit's default: 20 frames in any 10 s.
var DefaultRateLimit = RateLimit{Limit: 20, Window: 10 * time.Second}

// limitedCaller counts the frame against the person's limit and loads the
// caller's record (and, signed in, the account's item, which the charge
// returns), or returns the error frame to send. Without sign-in the count
// and the read are one request (ChargeConnection returns the record).
// Signed in, the account's name is the one that counts: a rename the
// caller's record has not caught up with yet is finished first. Without
// sign-in, a rename of the record whose room was not told (its invocation
// died) is told first.
func (inv *invocation) limitedCaller(ctx context.Context, req request) (Connection, Account, []byte) {
	c, a, fail := inv.charged(ctx, req)
	if fail != nil {
		return c, a, fail
	}
	if c.AccountID == "" {
		if c.PendingName != "" && !inv.tellRename(ctx, c, "") {
			return c, a, inv.fail(req, notConnected)
		}
		return c, a, nil
	}
	c, a = inv.catchUp(ctx, c, a)
	return c, a, nil
}

// charged is limitedCaller without catching up with a rename.
func (inv *invocation) charged(ctx context.Context, req request) (Connection, Account, []byte) {
	asked := inv.opt.Now()
	if wait, ok := inv.refusals.until(inv.refusalKey(), asked); ok {
		return Connection{}, Account{}, inv.chargeFailed(req, asked, &RateLimited{RetryAfter: wait})
	}
	if inv.id.AccountID == "" {
		c, err := inv.store.ChargeConnection(ctx, inv.connID, inv.opt.RateLimit)
		switch {
		case errors.Is(err, ErrNotFound):
			return c, Account{}, inv.fail(req, notConnected)
		case err != nil:
			return c, Account{}, inv.chargeFailed(req, asked, err)
		}
		return c, Account{}, nil
	}
	a, err := inv.store.ChargeAccount(ctx, inv.id.AccountID, inv.opt.RateLimit)
	if err != nil {
		return Connection{}, Account{}, inv.chargeFailed(req, asked, err)
	}
	c, fail := inv.caller(ctx, req)
	return c, a, fail
}

func (inv *invocation) chargeFailed(req request, asked time.Time, err error) []byte {
	var limited *RateLimited
	switch {
	case errors.As(err, &limited):
		// Remembered until the table frees a place, counted from the
		// table's own reading of the clock (or, lacking it, from one taken
		// before the charge): never longer than the table refuses.
		wait := max(limited.RetryAfter, time.Millisecond)
		inv.refusals.remember(inv.refusalKey(), cmp.Or(limited.At, asked).Add(wait))
		inv.m.count(countRateLimited, 1)
		p := problem(contract.CodeRateLimited, "Too many messages: at most %d in %s. Try again in %.1f s.",
			inv.opt.RateLimit.Limit, inv.opt.RateLimit.Window, wait.Seconds())
		p.RetryAfterMs = int64((wait + time.Millisecond - 1) / time.Millisecond) // rounded up: not a moment early
		return inv.fail(req, p)
	case errors.Is(err, ErrConflict):
		return inv.fail(req, problem(contract.CodeBusy, "Your messages were being counted by other requests; try again."))
	}
	return inv.internal(req, "count against the rate limit", err)
}

func (inv *invocation) refusalKey() string {
	if inv.id.AccountID != "" {
		return "a#" + inv.id.AccountID
	}
	return "c#" + inv.connID
}

// refusals remembers, per Lambda instance, until when a person is known to
// be over the limit: the log in the table cannot free a place before the
// time a refusal computed from it, so frames before then are refused
// without a request. A flood then costs DynamoDB one refused charge per
// instance and window, not one per frame. It only ever refuses what the
// table would refuse; the limit itself is the table's.
type refusals struct {
	m sync.Map // who → time.Time
	n atomic.Int64
}

// refusalsMax bounds the instance's memory: past it, refusals are not
// remembered (each then costs its requests, as without this).
const refusalsMax = 10_000

func (r *refusals) until(who string, now time.Time) (time.Duration, bool) {
	v, ok := r.m.Load(who)
	if !ok {
		return 0, false
	}
	if wait := v.(time.Time).Sub(now); wait > 0 {
		return wait, true
	}
	if r.m.CompareAndDelete(who, v) {
		r.n.Add(-1)
	}
	return 0, false
}

func (r *refusals) remember(who string, until time.Time) {
	if r.n.Load() >= refusalsMax {
		return
	}
	if _, loaded := r.m.Swap(who, until); !loaded {
		r.n.Add(1)
	}
}
