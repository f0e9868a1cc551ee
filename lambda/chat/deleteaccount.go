// Deleting an account (docs/design.md, "Deleting an account"): by its
// person (deleteAccount) or by an operator (operator.go). Its connections
// leave their rooms, then one transaction replaces its item with a
// tombstone and deletes the items of the names it holds (its name, a
// rename's old name, its username's reservation): a kill at any point
// leaves either the account with its names or neither. Its records are
// forgotten after (private-history copies deleted, its account id and
// username taken from its messages), and the connections closed.

package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// deletionStore is what an account's deletion needs of storage.
type deletionStore interface {
	// SignOutToDelete is SignOut (reauth.go) made by a deletion: the
	// same update records its time as the account's DeletingAt and adds
	// conn (the deleting page's connection; "" for an operator's) to its
	// DeletingConns. When a later sign-out is recorded already, conn is
	// added all the same (with the device version moved on).
	SignOutToDelete(ctx context.Context, accountID, conn string, at time.Time) (Account, error)
	// DeleteAccount is one transaction: the account's item replaced by
	// its tombstone (deleted at, expiring at until: an item with nothing
	// of the person's but the id) and, of names (prepared names), each
	// owned name's item the account holds deleted, and the item of the
	// username's reservation too while no account has claimed it. It
	// reads the account's item and the names' items consistently first,
	// and the transaction is conditional on them being unchanged (read
	// again and made again when they changed). It returns the account as
	// it was, the names released (their spelling), and false when the
	// item was a tombstone already (nothing done).
	DeleteAccount(ctx context.Context, accountID, username string, names []string, at, until time.Time) (Account, []string, bool, error)
	// ForgetAccountRecords forgets the account's records in rooms: its
	// private-history copies are deleted, and its messages (and the
	// recipients' copies of its private ones) lose its account id and
	// username. Then the rooms are taken off its tombstone. Made again,
	// it does the same (nothing left to do).
	ForgetAccountRecords(ctx context.Context, accountID string, rooms []string) error
	// ReservationOwner returns the account whose username's reservation
	// is the item of name (a prepared name): "" when the name is not
	// reserved for username or no account has claimed it yet. One
	// consistent GetItem.
	ReservationOwner(ctx context.Context, username, name string) (string, error)
	// ReleaseReservation deletes the item of name when it is reserved for
	// username and no account has claimed it (a username whose account
	// never connected), and returns the name as the item spelled it ("":
	// nothing released). One conditional DeleteItem returning the item.
	ReleaseReservation(ctx context.Context, username, name string) (string, error)
}

// tombstoneKeep is how long a deleted account's tombstone refuses its
// tokens: an ID token issued just before the deletion lives
// contract.IDTokenValidity, and one issued while the page or the operator
// deletes the sign-in account as well (seconds after) as long again; the
// clock skew the verifier allows on top.
const tombstoneKeep = 2*contract.IDTokenValidity + 5*time.Minute

// deletion is what an account's deletion did.
type deletion struct {
	account  Account
	released []string
	closed   int
	already  bool
}

// deleteAccountOf deletes the account accountID, signed in as username;
// keep (the caller's own connection) is closed by the caller, after its
// answer. by names who asked: the operator, or the account's own name.
func (inv *invocation) deleteAccountOf(ctx context.Context, accountID, username, keep string) (deletion, error) {
	now := inv.opt.Now().Truncate(time.Millisecond)
	// First: a token issued until now admits no $connect and no reauth
	// (a $connect racing this reads it), and the devices to close are
	// read by the same write.
	a, err := inv.store.SignOutToDelete(ctx, accountID, keep, now)
	if err != nil {
		return deletion{}, fmt.Errorf("sign the account out: %w", err)
	}
	var del deletion
	devices := a.Devices
	asking := slices.Clone(a.DeletingConns)
	if !a.Deleted.IsZero() {
		// Deleted before: a run killed after its transaction left its
		// records to forget, and perhaps connections open.
		del.already = true
	} else {
		// Each connection leaves its room as its $disconnect would: its
		// record is gone before its name is released, so no room ever
		// lists the name twice.
		var ids []string
		for _, d := range a.Devices {
			ids = append(ids, d.ConnID)
		}
		inv.leave(ctx, ids)
		var names []string
		for _, n := range []string{a.Name, a.PendingName} {
			if n != "" {
				names = append(names, n)
			}
		}
		if n, p := CleanName(username); username != "" && p == nil {
			names = append(names, n)
		}
		var done bool
		a, del.released, done, err = inv.store.DeleteAccount(ctx, accountID, username, names, now, now.Add(tombstoneKeep))
		if err != nil {
			return deletion{}, fmt.Errorf("delete the account: %w", err)
		}
		del.already = !done
	}
	// A write drawn before the sign-out may land after the forget below:
	// the forget runs again once no such write can (forgetagain.go). It
	// is sent before the devices below leave, so a kill among them leaves
	// them to it as well as to a run again.
	inv.forgetLater(ctx, accountID, a.Rooms)
	// The devices the tombstone's transaction found (a $connect with a
	// token issued after the sign-out: a page that refreshed its token; or
	// a device whose leave above failed) were on the item it replaced, and
	// are kept on the tombstone: they leave now and are closed too, and a
	// run again after a kill finds them there.
	late := deletedDevices(a)
	inv.leave(ctx, late)
	for _, id := range late {
		devices = append(devices, Device{ConnID: id})
	}
	if err := inv.store.ForgetAccountRecords(ctx, accountID, a.Rooms); err != nil {
		return deletion{}, fmt.Errorf("forget the account's records: %w", err)
	}
	// A connection that asked for the deletion itself (another page of the
	// account deleting it at the same moment) is not closed here: its own
	// deletion answers it accountDeleted, then closes it; closed first, it
	// would never learn its account is deleted. The item is read again
	// (consistently) for one that asked since this deletion's reads.
	asking = append(asking, a.DeletingConns...)
	if now, err := inv.store.Account(ctx, accountID); err == nil {
		asking = append(asking, now.DeletingConns...)
	}
	var ids []string
	for _, d := range devices {
		if d.ConnID != keep && !slices.Contains(ids, d.ConnID) && !slices.Contains(asking, d.ConnID) {
			ids = append(ids, d.ConnID)
		}
	}
	inv.closeConnections(ctx, ids)
	del.account, del.closed = a, len(ids)
	return del, nil
}

// deletedDevices are the connections whose devices the tombstone's
// transaction found: those of the item it replaced (a as DeleteAccount
// read it), or those the tombstone keeps (a is the tombstone).
func deletedDevices(a Account) []string {
	if !a.Deleted.IsZero() {
		return a.DeletedDevices
	}
	var ids []string
	for _, d := range a.Devices {
		ids = append(ids, d.ConnID)
	}
	return ids
}

// leave removes each connection as its $disconnect would (its record
// marked, its room told, the record deleted); one already removed is
// nothing to do.
func (inv *invocation) leave(ctx context.Context, ids []string) {
	for _, id := range ids {
		sub := *inv
		sub.connID = id
		sub.disconnect(ctx)
	}
}

// deleteAccount is the person's own deletion: every connection of the
// account leaves, its names are released, and this connection is answered
// accountDeleted, then closed with the others.
func (inv *invocation) deleteAccount(ctx context.Context, req request) []byte {
	if inv.id.AccountID == "" {
		return inv.fail(req, &Problem{Code: contract.CodeForbidden, Message: "Only a signed-in account can be deleted."})
	}
	if fail := inv.mayDelete(ctx, req); fail != nil {
		return fail
	}
	del, err := inv.deleteAccountOf(ctx, inv.id.AccountID, inv.id.Username, inv.connID)
	if err != nil {
		return inv.internal(req, "delete the account", err)
	}
	inv.logAct(ctx, inv.id.Username, contract.OpDeleteAccount, inv.id.Username, inv.id.AccountID, "")
	inv.log.Info("account deleted", "accountId", inv.id.AccountID, "released", len(del.released), "closed", del.closed+1)
	inv.reply(ctx, encode(accountDeletedFrame{Type: KindAccountDeleted, Ref: req.Ref}))
	inv.closeConnections(ctx, []string{inv.connID})
	return nil
}

// mayDelete draws deleteAccount from the budget, never refused by it (as
// signOutEverywhere), but refuses a connection whose sign-in ended: its
// token expired (reauth_required, or closed past the grace) or the account
// signed out everywhere since (signed_out, closed). Only one whose account
// is deleted already (a tombstone: a deletion killed after its
// transaction, sent again), or signed out by a deletion that may still be
// running (Account.deleting), is let through to finish it and be answered
// accountDeleted. A charge refused without reading the account (the
// budget, remembered or not) reads it.
func (inv *invocation) mayDelete(ctx context.Context, req request) []byte {
	_, _, a, err := inv.draw(ctx)
	var ended *signInEnded
	if err != nil && !errors.As(err, &ended) {
		inv.log.Info("deleting the account although the charge refused it", "error", err)
		if a, err = inv.store.Account(ctx, inv.id.AccountID); err != nil {
			return inv.internal(req, "read the account", err)
		}
		err = inv.stillSignedIn(ctx, a)
	}
	switch {
	case errors.As(err, &ended) && ended.signedOut && !a.Deleted.IsZero():
		inv.log.Info("finishing the account's deletion", "deleted", a.Deleted)
		return nil
	case errors.As(err, &ended) && ended.signedOut && a.deleting(inv.opt.Now()):
		// Signed out by a deletion still running (the operator's, or
		// another device's): this one runs it too, and both converge.
		inv.log.Info("deleting the account with the deletion that signed it out", "deleting", a.DeletingAt)
		return nil
	case errors.As(err, &ended):
		return inv.endedFrame(ctx, req, ended)
	case err != nil:
		return inv.internal(req, "check the connection's sign-in", err)
	}
	return nil
}

// deleting reports whether the account's last sign-out was a deletion's
// that may still be running: within contract.FunctionTimeout of it (a
// deletion killed before its tombstone leaves the account signed out and
// intact; past that, a connection it ended cannot delete the account).
func (a Account) deleting(now time.Time) bool {
	return !a.DeletingAt.IsZero() && a.DeletingAt.Equal(a.SignedOutAt) && now.Sub(a.DeletingAt) < contract.FunctionTimeout
}

// deletionRunning reports whether a deletion of the account may still be
// running: signed out by one (deleting), or a tombstone made within
// contract.FunctionTimeout (its deletion, or a run after it, forgetting
// and closing).
func (a Account) deletionRunning(now time.Time) bool {
	return a.deleting(now) || (!a.Deleted.IsZero() && now.Sub(a.Deleted) < contract.FunctionTimeout)
}

// leftToDeletion reports whether a frame of the connection conn, signed
// out, is left to the account's deletion: conn asked for it (one of
// DeletingConns), and it may still be running; that deletion answers conn
// accountDeleted and closes it. Any other connection of the account (one
// that connected during the deletion, after it read the devices, may never
// be closed by it) is told signed_out and closed.
func (a Account) leftToDeletion(conn string, now time.Time) bool {
	return a.deletionRunning(now) && slices.Contains(a.DeletingConns, conn)
}

type accountDeletedFrame struct {
	Type Kind   `json:"type"`
	Ref  string `json:"ref,omitempty"`
}

// logAct records an act on an account as activity: who, whom (name and
// account), what, why, now. A failure is logged: the act is done.
func (inv *invocation) logAct(ctx context.Context, who, what, whom, whomAccount, why string) {
	r := Record{Kind: KindOperator, From: who, Message: what, Reason: why, TS: inv.opt.Now()}
	if whom != "" {
		r.To = []string{whom}
	}
	if whomAccount != "" {
		r.ToAccounts = []string{whomAccount}
	}
	if err := inv.append(ctx, &r); err != nil {
		inv.log.Error("record the act", "what", what, "error", err)
	}
}

func cmpName(name, username string) string {
	if name != "" {
		return name
	}
	return username
}
