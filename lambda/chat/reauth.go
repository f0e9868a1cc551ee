// A connection lives no longer than its sign-in: $connect keeps the token's
// expiry on the record (Connection.AuthExpiresAt, and the authorizer's
// context carries it to every event); past it every frame but reauth is
// answered reauth_required, and a connection that has not signed in again
// within Options.ReauthGrace is closed (DeleteConnection) at its next
// frame. signOutEverywhere closes every connection of the account.
// docs/auth.md tells the bound.

package chat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
)

// DefaultReauthGrace is Options.ReauthGrace's default: a page renews its
// tokens 5 minutes before they expire and reauths at once, so only a page
// that was asleep or offline meets reauth_required; 2 minutes lets it
// refresh its tokens (one call to the issuer) and send reauth.
const DefaultReauthGrace = 2 * time.Minute

// signInStore is what a connection's sign-in needs of storage.
type signInStore interface {
	// Reauthed makes until the end of the live connection id's sign-in,
	// unless the record already has a later one, and returns the record
	// after it; ErrNotFound when there is no live record.
	// A reauth's token's iat (issued) is kept with it (AuthIssuedAt).
	Reauthed(ctx context.Context, id string, until, issued time.Time) (Connection, error)
	// SignOut records that the account signed out everywhere at at
	// (unless a later sign-out is recorded), moves its device version on
	// (a $connect racing it puts its record again, and reads this), and
	// returns the account's item after it: the devices to close.
	SignOut(ctx context.Context, accountID string, at time.Time) (Account, error)
}

// KindReauthed is reauth's answer.
const KindReauthed Kind = contract.FrameReauthed

type reauthedFrame struct {
	Type      Kind   `json:"type"`
	ExpiresAt int64  `json:"expiresAt"`
	Ref       string `json:"ref,omitempty"`
}

// signInEnded is draw's refusal of a frame of a connection whose sign-in
// ended: the account signed out everywhere after it signed in (closed at
// once), its token expired (reauth_required), or that more than the grace
// ago (closed).
type signInEnded struct {
	signedOut bool
	// byDeletion: the sign-out was an account's deletion asked for by
	// this connection, which may still be running
	// (Account.leftToDeletion): it answers and closes the connection.
	byDeletion bool
	until      time.Time // when the sign-in ended (expiry)
	pastGrace  bool
}

func (e *signInEnded) Error() string {
	if e.signedOut {
		return "the account signed out everywhere after the connection signed in"
	}
	return fmt.Sprintf("the sign-in ended at %s", e.until)
}

// stillSignedIn checks, after the charge, that the connection's sign-in
// has not ended. a is the account's item the charge read (its UpdateItem
// returns it: as consistent as the charge itself). The authorizer's
// context tells the token's iat and exp: a token issued after the
// account's last sign-out everywhere and not expired costs nothing more;
// otherwise one consistent GetItem of the record tells whether a reauth
// renewed it. reauth checks its own token (and is exempt); signOutEverywhere
// is exempt from the expiry (signing out must always work), not from a
// sign-out everywhere that already ended this connection.
func (inv *invocation) stillSignedIn(ctx context.Context, a Account) error {
	if inv.id.AccountID == "" || inv.action.Name == contract.ActionReauth {
		return nil
	}
	now := inv.opt.Now()
	signedOut := inv.signedOutSince(a)
	expired := !inv.id.ExpiresAt.IsZero() && !now.Before(inv.id.ExpiresAt) &&
		inv.action.Name != contract.ActionSignOutEverywhere
	if !signedOut && !expired {
		return nil
	}
	ended := &signInEnded{signedOut: true, byDeletion: a.leftToDeletion(inv.connID, now)}
	c, err := inv.store.GetConnection(ctx, inv.connID)
	switch {
	case errors.Is(err, ErrNotFound) && signedOut:
		return ended
	case errors.Is(err, ErrNotFound):
		return nil // the handler answers not_connected
	case err != nil:
		return fmt.Errorf("read the connection's sign-in: %w", err)
	}
	if signedOut && !c.AuthIssuedAt.After(a.SignedOutAt) {
		return ended
	}
	if !expired {
		return nil
	}
	until := c.AuthExpiresAt
	if until.IsZero() {
		until = inv.id.ExpiresAt
	}
	if now.Before(until) {
		return nil
	}
	return &signInEnded{until: until, pastGrace: !now.Before(until.Add(inv.opt.ReauthGrace))}
}

// endedFrame answers a frame refused by stillSignedIn. A connection signed
// out everywhere is told signed_out (posted, then closed: the close is
// what this frame would otherwise have been lost to); one past the grace
// is closed; one within it is answered reauth_required. The empty reply
// of a close means "answered already". The connection that asked for its
// account's deletion, signed out by it while it may still be running, is
// neither answered nor closed: the deletion answers it accountDeleted,
// then closes it (a frame of that page handled meanwhile, a ping or a
// hello, must not close it first: the page would never learn its account
// is deleted, nor delete its sign-in account). Every other connection of
// the account is told signed_out and closed as after a sign-out
// everywhere: one that connected during the deletion, after it read the
// devices, is never closed by it.
func (inv *invocation) endedFrame(ctx context.Context, req request, e *signInEnded) []byte {
	switch {
	case e.signedOut && e.byDeletion:
		inv.log.Info("not answered: this connection's deletion of its account is running, and answers and closes it")
		return []byte{}
	case e.signedOut:
		inv.log.Info("closing: the account signed out everywhere after this connection signed in")
		inv.reply(ctx, inv.fail(req, problem(contract.CodeSignedOut,
			"Your account signed out everywhere: this connection is closed. Sign in again.")))
		inv.closeConnections(ctx, []string{inv.connID})
		return []byte{}
	case e.pastGrace:
		inv.log.Info("closing: its sign-in ended and no reauth came within the grace", "signInEnded", e.until)
		inv.closeConnections(ctx, []string{inv.connID})
		return []byte{}
	}
	return inv.fail(req, problem(contract.CodeReauthRequired,
		"Your sign-in ended: send reauth with a fresh token within %s, or the connection closes.", inv.opt.ReauthGrace))
}

// pastGrace closes the connection when its sign-in ended more than the
// grace ago: API Gateway then runs its $disconnect, which removes it.
func (inv *invocation) pastGrace(ctx context.Context, until, now time.Time) bool {
	if now.Before(until.Add(inv.opt.ReauthGrace)) {
		return false
	}
	inv.log.Info("closing: its sign-in ended and no reauth came within the grace", "signInEnded", until)
	inv.closeConnections(ctx, []string{inv.connID})
	return true
}

// reauth renews the connection's sign-in with a fresh ID token, checked by
// the Verifier exactly as the $connect authorizer checks one, of the same
// account.
func (inv *invocation) reauth(ctx context.Context, req request) []byte {
	token, p := field[string](req, "token", "a string")
	if p == nil && utf8.RuneCountInString(token) > TokenMax {
		p = problem(contract.CodeBadField, "The field \"token\" must be at most %d characters.", TokenMax)
	}
	if p != nil {
		return inv.fail(req, p)
	}
	if inv.opt.Verifier == nil || inv.id.AccountID == "" {
		return inv.fail(req, problem(contract.CodeReauthRefused, "Sign-in is off: there is no sign-in to renew."))
	}
	_, _, a, fail := inv.charge(ctx, req)
	if fail != nil {
		return fail
	}
	c, err := inv.store.GetConnection(ctx, inv.connID)
	switch {
	case errors.Is(err, ErrNotFound):
		return inv.fail(req, notConnected)
	case err != nil:
		return inv.internal(req, "read the connection's sign-in", err)
	}
	// A banned connection (its close lost) renews nothing: a page that
	// only reads sends reauth and nothing else.
	if fail := inv.shutOut(ctx, req, c, a); fail != nil {
		return fail
	}
	until := c.AuthExpiresAt
	if until.IsZero() {
		until = inv.id.ExpiresAt
	}
	if !until.IsZero() && inv.pastGrace(ctx, until, inv.opt.Now()) {
		return nil
	}
	id, err := inv.opt.Verifier.Verify(ctx, token)
	var refusal *Refusal
	switch {
	case errors.As(err, &refusal):
		inv.log.Info("reauth refused", "reason", refusal.Reason)
		return inv.fail(req, problem(contract.CodeReauthRefused, "The token was refused (%s): sign in again.", refusal.Reason))
	case err != nil:
		return inv.internal(req, "check the reauth token", err)
	case !id.ExpiresAt.After(inv.opt.Now()):
		// Within the verifier's clock skew: it would renew nothing.
		return inv.fail(req, problem(contract.CodeReauthRefused, "The token has expired: refresh it, then send reauth."))
	case id.AccountID != inv.id.AccountID:
		inv.log.Warn("reauth refused: another account's token", "tokenAccountId", id.AccountID)
		return inv.fail(req, problem(contract.CodeReauthRefused,
			"The token is another account's: a connection stays with the account it signed in as."))
	case !a.Deleted.IsZero():
		return inv.fail(req, problem(contract.CodeReauthRefused, "The account was deleted."))
	case issuedBy(id, a.SignedOutAt):
		return inv.fail(req, problem(contract.CodeReauthRefused,
			"The account signed out everywhere after this token was issued: sign in again."))
	}
	c, err = inv.store.Reauthed(ctx, inv.connID, id.ExpiresAt, id.IssuedAt)
	switch {
	case errors.Is(err, ErrNotFound):
		return inv.fail(req, notConnected)
	case err != nil:
		return inv.internal(req, "renew the connection's sign-in", err)
	case inv.signInOver(c.AuthExpiresAt, inv.opt.Now()):
		// A ban ended its sign-in after shutOut read the account: the
		// record keeps the ban's mark, and the connection is closed.
		inv.log.Info("closing: a ban ended its sign-in while it reauthed")
		inv.closeConnections(ctx, []string{inv.connID})
		return nil
	}
	inv.log.Info("signed in again", "until", c.AuthExpiresAt)
	return encode(reauthedFrame{Type: KindReauthed, ExpiresAt: millis(c.AuthExpiresAt), Ref: req.Ref})
}

// signOutEverywhere closes every connection of the caller's account that
// its item lists (the devices: consistent with every $connect that added
// one), this one last; without sign-in, only this one. Each close runs the
// connection's $disconnect, which removes it.
func (inv *invocation) signOutEverywhere(ctx context.Context, req request) []byte {
	// Drawn from the budget, but never refused by it, nor for an expired
	// sign-in: a person who chatted a lot in the last seconds, or whose
	// page slept past its token, must still be able to end every session.
	// A flood of them is bounded all the same: the first closes the
	// sender. Only a connection a sign-out everywhere already ended is
	// refused (it must not sign out the devices signed in since).
	_, _, a, err := inv.draw(ctx)
	var ended *signInEnded
	switch {
	case errors.As(err, &ended):
		return inv.endedFrame(ctx, req, ended)
	case err != nil && inv.id.AccountID != "":
		// The charge read no item (refused from memory, or failed): read
		// it to know whether this connection was signed out already.
		inv.log.Info("signing out everywhere although the charge refused it", "error", err)
		if a, err = inv.store.Account(ctx, inv.id.AccountID); err != nil {
			return inv.internal(req, "read the account", err)
		}
		if err := inv.stillSignedIn(ctx, a); errors.As(err, &ended) {
			return inv.endedFrame(ctx, req, ended)
		}
	case err != nil:
		inv.log.Info("signing out everywhere although the charge refused it", "error", err)
	}
	if inv.id.AccountID != "" {
		// Recorded first: a token issued until now admits no $connect
		// (and a $connect racing this puts its record again, reading it),
		// and the devices to close are read by the same write.
		if a, err = inv.store.SignOut(ctx, inv.id.AccountID, inv.opt.Now()); err != nil {
			return inv.internal(req, "record the sign-out", err)
		}
	}
	var others []string
	for _, d := range a.Devices {
		if d.ConnID != inv.connID {
			others = append(others, d.ConnID)
		}
	}
	inv.log.Info("signing out everywhere", "accountId", inv.id.AccountID, "connections", len(others)+1)
	inv.closeConnections(ctx, others)
	inv.closeConnections(ctx, []string{inv.connID})
	return nil
}

// issuedBy reports whether a token was issued at or before the account's
// last sign-out everywhere (iat has whole seconds: a token of the same
// second is refused too). A token without iat counts as issued before.
func issuedBy(id Identity, signedOutAt time.Time) bool {
	return !signedOutAt.IsZero() && !id.IssuedAt.After(signedOutAt)
}

// signedOutSince reports whether the $connect's token was issued before
// the account signed out everywhere.
func (inv *invocation) signedOutSince(a Account) bool {
	return !a.Deleted.IsZero() || issuedBy(inv.id, a.SignedOutAt)
}

// errSignedOutWhileConnecting: a $connect's device add met a sign-out
// everywhere or the account's deletion made while it ran.
var errSignedOutWhileConnecting = errors.New("the account signed out everywhere or was deleted while it connected")

// refuseSignedOut refuses a $connect whose token the account's sign-out
// everywhere revoked: the handshake fails with 403, nothing is written.
func (inv *invocation) refuseSignedOut() events.APIGatewayProxyResponse {
	inv.log.Info("refused: the account signed out everywhere after its token was issued")
	return events.APIGatewayProxyResponse{StatusCode: 403}
}

// closeConnections closes each connection through the management API, at
// most PoolSize at once; one already gone is no failure. It returns the
// ones API Gateway answered gone (410): no $disconnect will come for them,
// so a caller that holds their records removes them as a send's 410 does.
func (inv *invocation) closeConnections(ctx context.Context, ids []string) (gone []string) {
	fctx, cancel := inv.fanoutContext(ctx)
	defer cancel()
	var mu sync.Mutex
	inPool(fctx, inv.opt.PoolSize, ids, func(id string) {
		err := inv.poster.Close(fctx, id)
		switch {
		case errors.Is(err, ErrGone):
			mu.Lock()
			gone = append(gone, id)
			mu.Unlock()
		case err != nil:
			inv.log.Warn("close a connection", "connectionId", id, "error", err)
			inv.m.count(countFailed, 1)
		}
	})
	return gone
}
