// The limit on an account's $connects (issue 22): at most
// Options.ConnectLimit in any minute, counted in a log of their own on the
// account's item by the request that reads the account anyway, so an
// accepted $connect costs no request more. A $connect past it records
// nothing and lets the handshake through, as one past the device cap does
// (a browser cannot read a refused handshake's status, and takes it for a
// refused token); the connection's hello is answered rate_limited with
// retryAfterMs, from the same log (caller, connectsFull). Without sign-in
// there is no account to count: docs/design.md ("Rate limits") says why
// connects are then not limited per person.

package chat

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
)

// chargeConnect counts a $connect of the account and returns the account
// as the same request read it; refused when the account is past its
// limit (nothing counted). A refusal is remembered like a frame's: the
// next $connects of the account on this instance are refused without a
// request until the log frees a place.
func (inv *invocation) chargeConnect(ctx context.Context, accountID string) (_ Account, refused bool, _ error) {
	asked := inv.opt.Now()
	who := "connect#" + accountID
	if _, ok := inv.refusals.until(who, asked); ok {
		return Account{}, true, nil
	}
	a, err := inv.store.ChargeConnect(ctx, accountID, inv.opt.ConnectLimit)
	if errors.Is(err, ErrHeld) {
		// Uncounted, as a frame is (charge): the account's devices are
		// changing, and this connect is one more only if it gets in.
		inv.log.Warn("connect not counted: the account stayed in transactions", "error", err)
		a, err = inv.store.Account(ctx, accountID)
	}
	var limited *RateLimited
	if errors.As(err, &limited) {
		inv.refusals.remember(who, cmp.Or(limited.At, asked).Add(max(limited.RetryAfter, time.Millisecond)))
		return Account{}, true, nil
	}
	return a, false, err
}

// tooManyConnects is the answer to a $connect past the account's limit:
// the handshake goes through with nothing recorded (see the file's
// comment).
func (inv *invocation) tooManyConnects() events.APIGatewayProxyResponse {
	inv.m.count(countRateLimited, 1)
	inv.log.Info("connect refused", "code", contract.CodeRateLimited)
	return events.APIGatewayProxyResponse{StatusCode: 200}
}

// connectsFull is the reason a signed-in connection without a record is
// not connected when its account's connect log, as the frame's charge read
// it, is full: its $connect was refused (tooManyConnects), or a new one
// would be. retryAfterMs is when the log frees a place.
func (inv *invocation) connectsFull(a Account) *Problem {
	l := inv.opt.ConnectLimit
	now := inv.opt.Now()
	var live []time.Time
	for _, t := range a.Connects {
		if now.Sub(t) < l.Window {
			live = append(live, t)
		}
	}
	if len(live) < l.Limit {
		return nil
	}
	wait := live[len(live)-l.Limit].Add(l.Window + time.Millisecond).Sub(now)
	p := problem(contract.CodeRateLimited, "Too many connections: at most %d in %s. Connect again in %.1f s.",
		l.Limit, l.Window, wait.Seconds())
	p.RetryAfterMs = millisUp(wait)
	return p
}
