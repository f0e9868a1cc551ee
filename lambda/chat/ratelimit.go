// Rate limits: every action draws its price (contract.Action.Price) from the
// person's budget (the account's with sign-in, the connection's without),
// kept in the table so it holds across Lambda instances; a ping costs
// nothing and reads nothing. A frame over the budget is answered
// rate_limited with retryAfterMs, and is neither stored nor delivered. An
// account's $connects are limited apart (connectlimit.go).

package chat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// rateStore draws actions from the budgets and counts connects against
// their limit, in the table so that both hold across instances.
type rateStore interface {
	// ChargeConnection draws units (a frame's contract.Action.Price, at
	// most l.Limit) from connection id's budget l and returns the
	// connection's record, as GetConnection does (ErrNotFound). Over the
	// budget it fails with a *RateLimited and draws nothing; ErrHeld when
	// the item stayed in transactions (nothing drawn).
	ChargeConnection(ctx context.Context, id string, l RateLimit, units int) (Connection, error)
	// ChargeAccount draws units from the account's budget l and returns
	// the account's item, read by the same request; over the budget it
	// fails with a *RateLimited and draws nothing.
	ChargeAccount(ctx context.Context, accountID string, l RateLimit, units int) (Account, error)
	// ChargeConnect counts one $connect of the account against l (its own
	// log, apart from the budget) and returns the account's item, as
	// Account does; over the limit it fails with a *RateLimited and
	// counts nothing.
	ChargeConnect(ctx context.Context, accountID string, l RateLimit) (Account, error)
}

// limitedCaller draws the frame's cost from the person's budget and loads the
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
	c, known, a, fail := inv.charge(ctx, req)
	switch {
	case fail != nil:
		return c, a, fail
	case inv.id.AccountID != "":
		if c, fail = inv.caller(ctx, req, a); fail == nil {
			fail = inv.shutOut(ctx, req, c, a)
		}
		return c, a, fail
	case !known:
		return c, a, inv.fail(req, notConnected)
	}
	return c, a, nil
}

// charge draws the frame's cost from the person's budget: without sign-in
// the connection's, which returns its record (known: it has one), with it
// the account's, which returns the account's item; or it returns the
// refusal to send. A charge whose item stayed in transactions at every try
// (ErrHeld: the item's own put or removal, an account's devices coming and
// going) lets the frame through uncounted, reading the item instead: those
// transactions come from the person's connects and closes, which are
// limited themselves, and a frame that cannot be counted is not the
// sender's fault.
func (inv *invocation) charge(ctx context.Context, req request) (_ Connection, known bool, _ Account, fail []byte) {
	c, known, a, err := inv.draw(ctx)
	if err != nil {
		return c, false, a, inv.chargeFailed(ctx, req, inv.opt.Now(), inv.units(), err)
	}
	return c, known, a, nil
}

// chargeMore draws units more for the frame, already charged its price: an
// edit of a private message, whose price grows with the recipients the
// message read after the charge names (edit.go). A refusal is the frame's
// answer (rate_limited), with what it drew first spent.
func (inv *invocation) chargeMore(ctx context.Context, req request, units int) []byte {
	priced, items := inv.action, inv.items
	inv.action, inv.items = contract.Action{Name: priced.Name, Cost: units}, 0
	defer func() { inv.action, inv.items = priced, items }()
	_, _, _, fail := inv.charge(ctx, req)
	return fail
}

// draw is charge's work, its failure an error: a *RateLimited (with At
// set) when the person is over the budget.
func (inv *invocation) draw(ctx context.Context) (_ Connection, known bool, _ Account, _ error) {
	asked := inv.opt.Now()
	units := inv.units()
	if wait, ok := inv.refusals.until(inv.refusalKey(units), asked); ok {
		return Connection{}, false, Account{}, &RateLimited{RetryAfter: wait, At: asked}
	}
	if inv.id.AccountID == "" {
		c, err := inv.store.ChargeConnection(ctx, inv.connID, inv.opt.RateLimit, units)
		if errors.Is(err, ErrHeld) {
			inv.log.Warn("frame not counted: the record stayed in transactions", "error", err)
			c, err = inv.store.GetConnection(ctx, inv.connID)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			return c, false, Account{}, nil
		case err != nil:
			return c, false, Account{}, err
		}
		return c, true, Account{}, nil
	}
	a, err := inv.store.ChargeAccount(ctx, inv.id.AccountID, inv.opt.RateLimit, units)
	if errors.Is(err, ErrHeld) {
		inv.log.Warn("frame not counted: the account stayed in transactions", "error", err)
		a, err = inv.store.Account(ctx, inv.id.AccountID)
	}
	if err != nil {
		return Connection{}, false, Account{}, err
	}
	// The sign-in is checked on the item the charge returned (its
	// SignedOutAt): a frame of a connection whose sign-in ended is charged
	// like any, so a flood of them is bounded by the budget and then
	// refused from memory (refusals) without a request.
	return Connection{}, false, a, inv.stillSignedIn(ctx, a)
}

func (inv *invocation) chargeFailed(ctx context.Context, req request, asked time.Time, units int, err error) []byte {
	var limited *RateLimited
	var ended *signInEnded
	switch {
	case errors.As(err, &ended):
		return inv.endedFrame(ctx, req, ended)
	case errors.As(err, &limited):
		// Remembered until the table frees a place, counted from the
		// table's own reading of the clock (or, lacking it, from one taken
		// before the charge): never longer than the table refuses.
		wait := max(limited.RetryAfter, time.Millisecond)
		inv.refusals.remember(inv.refusalKey(units), cmp.Or(limited.At, asked).Add(wait))
		inv.m.count(countRateLimited, 1)
		p := problem(contract.CodeRateLimited, "Too many requests: at most %d units in %s, and %s costs %d. Try again in %.1f s.",
			inv.opt.RateLimit.Limit, inv.opt.RateLimit.Window, inv.action.Name, units, wait.Seconds())
		p.RetryAfterMs = millisUp(wait)
		return inv.fail(req, p)
	case errors.Is(err, ErrConflict):
		return inv.fail(req, problem(contract.CodeBusy, "Your messages were being counted by other requests; try again."))
	}
	return inv.internal(req, "count against the rate limit", err)
}

// millisUp rounds a wait up to whole milliseconds: not a moment early.
func millisUp(wait time.Duration) int64 {
	return int64((wait + time.Millisecond - 1) / time.Millisecond)
}

// refusalKey names the person and the cost: a refusal of units says
// nothing of a cheaper action, which may fit before then.
func (inv *invocation) refusalKey(units int) string {
	if inv.id.AccountID != "" {
		return fmt.Sprintf("a#%s/%d", inv.id.AccountID, units)
	}
	return fmt.Sprintf("c#%s/%d", inv.connID, units)
}

// refusals remembers, per Lambda instance, until when a person is known to
// be over the limit: the log in the table cannot free a place before the
// time a refusal computed from it, so frames of the same cost before then
// are refused without a request. A flood then costs DynamoDB one refused charge per
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
