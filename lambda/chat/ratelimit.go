// Rate limits: sendPublic, sendPrivate and setName count against the
// person's limit (the account's with sign-in, the connection's without),
// kept in the table so it holds across Lambda instances. A frame over the
// limit is answered rate_limited with retryAfterMs, and is neither stored
// nor delivered.

package chat

import (
	"errors"
	"time"
)

// DefaultRateLimit is Options.RateLimit's default: 20 frames in any 10 s.
var DefaultRateLimit = RateLimit{Limit: 20, Window: 10 * time.Second}

// limitedCaller counts the frame against the person's limit and loads the
// caller's record, or returns the error frame to send. Without sign-in the
// count and the read are one request (ChargeConnection returns the record).
func (inv *invocation) limitedCaller(req request) (Connection, []byte) {
	if inv.id.AccountID == "" {
		c, err := inv.store.ChargeConnection(inv.ctx, inv.connID, inv.opt.RateLimit)
		switch {
		case errors.Is(err, ErrNotFound):
			return c, inv.fail(req, notConnected)
		case err != nil:
			return c, inv.chargeFailed(req, err)
		}
		return c, nil
	}
	if err := inv.store.ChargeAccount(inv.ctx, inv.id.AccountID, inv.opt.RateLimit); err != nil {
		return Connection{}, inv.chargeFailed(req, err)
	}
	return inv.caller(req)
}

func (inv *invocation) chargeFailed(req request, err error) []byte {
	var limited *RateLimited
	switch {
	case errors.As(err, &limited):
		wait := max(limited.RetryAfter, time.Millisecond)
		p := problem(CodeRateLimited, "Too many messages: at most %d in %s. Try again in %.1f s.",
			inv.opt.RateLimit.Limit, inv.opt.RateLimit.Window, wait.Seconds())
		p.RetryAfterMs = wait.Milliseconds()
		return inv.fail(req, p)
	case errors.Is(err, ErrConflict):
		return inv.fail(req, problem(CodeBusy, "Your messages were being counted by other requests; try again."))
	}
	return inv.internal(req, "count against the rate limit", err)
}
