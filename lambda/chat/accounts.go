// Names that belong to accounts (sign-in on): a name is one account's across
// the environment, compared by NameKey, held online or not until the
// account renames; the account's first name is its username. One person
// may be connected several times (phone and laptop, in one room or
// several): every connection carries the account's name, a private message
// to it reaches each of them once, and none evicts another. The account's
// devices are on its item (devices.go), and renames finish there
// (rename.go). Without sign-in, names are claimed per room by connections
// (names.go, connection.go).

package chat

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
)

// accountStore holds the accounts (sign-in on): a name belongs to one
// account across the environment; names are compared by NameKey.
type accountStore interface {
	// Account reads the account's item (one consistent GetItem): its name
	// ("" before it has one), its devices and their versions.
	Account(ctx context.Context, accountID string) (Account, error)
	// ClaimAccountName makes name accountID's, signed in as username. It
	// fails with ErrNameTaken when another account holds it (online or
	// not) or it is reserved for another username, and with a
	// *RenamePending when the account holding it renamed away from it and
	// has not finished (its connections may still show it). A name
	// reserved for username is the account's whoever held it (a deleted
	// account of that username). Claiming a name the account holds again
	// only updates its spelling. It returns the claim: a token that
	// changes with every claim of the name, which ReleaseAccountName is
	// given back.
	ClaimAccountName(ctx context.Context, accountID, username, name string) (claim string, err error)
	// SetAccountName changes the account's name from old ("" for none) to
	// name and its name version by one, and returns the item after it. A
	// rename also keeps the old name and oldClaim as the account's pending
	// rename, until FinishedRename (oldClaim "": NoClaim, nothing to
	// release). It
	// fails with ErrConflict when the name is no longer old, or another
	// rename is pending.
	SetAccountName(ctx context.Context, accountID, old, name, oldClaim string) (Account, error)
	// FinishedRename forgets the account's pending rename of claim (not a
	// later one's).
	FinishedRename(ctx context.Context, accountID, claim string) error
	// ReleaseAccountName gives up accountID's hold on name, only if it has
	// it by that claim: a claim made again since (the account renamed back
	// to the name meanwhile) stays.
	ReleaseAccountName(ctx context.Context, accountID, name, claim string) error
	// AccountNameClaim returns the claim by which accountID holds name, ""
	// when it does not hold it. One consistent GetItem.
	AccountNameClaim(ctx context.Context, accountID, name string) (string, error)
	// NameOwner returns the account that holds name, "" when nobody does.
	NameOwner(ctx context.Context, name string) (accountID string, err error)
	// RenameConnection gives a signed-in connection's record the account's
	// name of version nv, only if its record carries an older version; it
	// returns the name the record had and whether this call renamed it
	// (false: gone, or already of version nv or newer).
	RenameConnection(ctx context.Context, id, name string, nv int64) (oldName string, renamed bool, err error)
}

// connectAccount records a signed-in connection under its account's name:
// the name the account has, or on its first connection the requested name,
// else the username, else a guest name. The room hears "joined" only for
// the account's first device in it (joinDevice).
func (inv *invocation) connectAccount(ctx context.Context, c Connection, requested string) events.APIGatewayProxyResponse {
	// Counted first, by the read of the account: past the account's
	// connect limit nothing is written.
	a, refused, err := inv.chargeConnect(ctx, c.AccountID)
	if err != nil {
		inv.log.Error("count the account's connects", "error", err)
		return events.APIGatewayProxyResponse{StatusCode: 500}
	}
	if refused {
		return inv.tooManyConnects()
	}
	if inv.signedOutSince(a) {
		return inv.refuseSignedOut()
	}
	if _, banned := a.Banned(c.Room, inv.opt.Now()); banned {
		return inv.refuseBanned(c.Room)
	}
	a, warning, err := inv.accountName(ctx, a, Identity{AccountID: c.AccountID, Username: c.Username}, requested)
	if err != nil {
		inv.log.Error("name the account", "error", err)
		return events.APIGatewayProxyResponse{StatusCode: 500}
	}
	c.Name, c.NameVersion, c.Warning = a.Name, a.NameVersion, warning
	if !a.UsernameReserved {
		inv.reserveOwnUsername(ctx, Identity{AccountID: c.AccountID, Username: c.Username})
	}
	// Past the cap on the account's devices as read: refused before
	// anything is written. Connects that race are counted again when the
	// device is added (joinDevice).
	a, ok, err := inv.roomForDevice(ctx, a, c)
	if err != nil {
		inv.log.Error("count the account's devices", "error", err)
		return events.APIGatewayProxyResponse{StatusCode: 500}
	}
	if !ok {
		return inv.tooManyDevices()
	}
	// The room counts her once: with another device there as read, her
	// record most likely joins her others without counting (the put's
	// condition on the account's item decides).
	c.PersonHere = len(a.In(c.Room, "", inv.opt.Now())) > 0
	// Logged with the record, in its transaction (connect): whatever
	// removes the record later logs its left or gone, and the log balances.
	joined := Record{Kind: KindJoined, Room: c.Room, From: c.Name, FromAccount: c.AccountID, ConnID: c.ID, TS: inv.opt.Now()}
	inv.stamp(&joined)
	err = inv.store.PutConnection(ctx, c, joined)
	for try := 1; errors.Is(err, ErrDevicesChanged) && try < addTries && RetryAllowed(ctx, 0); try++ {
		// The put met her other connects (or closes) on her account's item
		// and applied nothing: her devices are counted again (many
		// connects at once: those past the cap are refused here).
		if a, err = inv.store.Account(ctx, c.AccountID); err != nil {
			break
		}
		if inv.signedOutSince(a) { // the put met a sign-out everywhere
			return inv.refuseSignedOut()
		}
		if _, banned := a.Banned(c.Room, inv.opt.Now()); banned { // or a ban
			return inv.refuseBanned(c.Room)
		}
		if a, ok, err = inv.roomForDevice(ctx, a, c); err != nil {
			break
		}
		if !ok {
			return inv.tooManyDevices()
		}
		c.PersonHere = len(a.In(c.Room, "", inv.opt.Now())) > 0
		err = inv.store.PutConnection(ctx, c, joined)
	}
	if err != nil {
		inv.log.Error("record connection", "error", err)
		// The put may have been applied all the same: its removal logs
		// its end. The name is the account's whatever happens here:
		// nothing to release.
		inv.withdraw(ctx, c)
		return events.APIGatewayProxyResponse{StatusCode: 500}
	}
	inv.m.count(countAccepted, 1)
	inv.log.Info("connected", "room", c.Room, "accountId", c.AccountID)
	return inv.joinDevice(ctx, c, a)
}

// accountName returns the account (a, as read), giving it a name on its
// first connection, and the warning to show when the requested name could
// not be given.
func (inv *invocation) accountName(ctx context.Context, a Account, id Identity, requested string) (Account, *Problem, error) {
	if a.Name != "" {
		return a, nil, nil
	}
	var err error
	var warning *Problem
	var candidates []string
	var claim, name string
	if requested != "" {
		n, p := CleanName(requested)
		if warning = p; p == nil {
			candidates = append(candidates, n)
		}
	}
	if n, p := CleanName(id.Username); p == nil && !slices.Contains(candidates, n) {
		candidates = append(candidates, n)
	}
	for i := range len(candidates) + 8 {
		cand := fmt.Sprintf("guest-%04d", mrand.IntN(10000))
		if i < len(candidates) {
			cand = candidates[i]
		}
		claim, err = inv.claimAccountName(ctx, id, cand)
		if errors.Is(err, ErrNameTaken) {
			if requested != "" && i == 0 && warning == nil {
				warning = problem(contract.CodeNameTaken, "The name %q belongs to someone else.", cand)
			}
			continue
		}
		if err != nil {
			return Account{}, nil, err
		}
		name = cand
		break
	}
	if name == "" {
		return Account{}, nil, fmt.Errorf("no free name after %d tries: %w", len(candidates)+8, err)
	}
	a, err = inv.store.SetAccountName(ctx, id.AccountID, "", name, "")
	if err != nil && !errors.Is(err, ErrConflict) {
		// Perhaps applied, or kept out by the transactions of the account's
		// other connections (their records' puts hold its item): if it has
		// a name now, that one wins, as below.
		if current, rerr := inv.store.Account(ctx, id.AccountID); rerr == nil && current.Name != "" {
			err = ErrConflict
		}
	}
	if errors.Is(err, ErrConflict) {
		// Another connection of the account named it first: its name wins.
		current, err := inv.store.Account(ctx, id.AccountID)
		if err != nil {
			return Account{}, nil, err
		}
		if NameKey(current.Name) != NameKey(name) {
			inv.releaseAccountName(ctx, id.AccountID, name, claim)
		}
		return current, nil, nil
	} else if err != nil {
		// Unknown: the claim stays (it is orphaned, and taken over later, if
		// the account's name is not it).
		return Account{}, nil, err
	}
	if warning != nil {
		warning.Message += fmt.Sprintf(" You are %s.", name)
	}
	return a, warning, nil
}

// claimAccountName claims name for the account. A name whose owner renamed
// away from it without finishing is taken only once that rename is
// finished here (its connections renamed, the room told), so no connection
// shows the name when it changes hands.
func (inv *invocation) claimAccountName(ctx context.Context, id Identity, name string) (string, error) {
	claim, err := inv.store.ClaimAccountName(ctx, id.AccountID, id.Username, name)
	var pending *RenamePending
	if !errors.As(err, &pending) {
		return claim, err
	}
	holder, err := inv.store.Account(ctx, pending.AccountID)
	if err != nil {
		return "", err
	}
	if _, err := inv.finishRename(ctx, holder, ack{}, "", false); err != nil {
		return "", fmt.Errorf("finish the rename of the name's owner: %w", err)
	}
	claim, err = inv.store.ClaimAccountName(ctx, id.AccountID, id.Username, name)
	if errors.As(err, &pending) {
		return "", ErrNameTaken
	}
	return claim, err
}

// releaseAccountName gives up the account's claim of name, unless the
// account has claimed the name again since.
func (inv *invocation) releaseAccountName(ctx context.Context, accountID, name, claim string) {
	if claim == "" {
		return // not the account's
	}
	if err := inv.store.ReleaseAccountName(ctx, accountID, name, claim); err != nil {
		inv.log.Warn("release name", "accountId", accountID, "error", err)
	}
}

// accountRecipients finds, for each name, its owner (the owner item) and the
// owner's account item, both read consistently: the name counts only while
// it is the account's name (or the old name of its unfinished rename,
// which is finished first), and reaches the account's devices in room. It
// returns the recipients' connections, the names as their owners spell them
// and their accounts, once each; unknown lists names of nobody in the room.
// sender is the caller's account, as its charge returned it.
func (inv *invocation) accountRecipients(ctx context.Context, room string, sender Account, to []string) (conns []Member, names, accounts, unknown []string, err error) {
	now := inv.opt.Now()
	for _, name := range to {
		owner, err := inv.store.NameOwner(ctx, name)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if owner != "" && slices.Contains(accounts, owner) {
			continue
		}
		a := sender
		if owner != "" && owner != sender.ID {
			if a, err = inv.store.Account(ctx, owner); err != nil {
				return nil, nil, nil, nil, err
			}
		}
		if owner != "" && NameKey(a.Name) != NameKey(name) && a.PendingName != "" && NameKey(a.PendingName) == NameKey(name) {
			// Her rename away from the name is unfinished (its invocation
			// died): the name is still hers, and every page still shows it.
			// It is finished now, which tells her rooms, and she gets the
			// message under her new name.
			if _, err := inv.finishRename(ctx, a, ack{}, "", false); err != nil {
				inv.log.Warn("finish the recipient's rename", "error", err)
			}
			a.PendingName, a.PendingClaim = "", ""
			name = a.Name
		}
		var found []Member
		if owner != "" && NameKey(a.Name) == NameKey(name) {
			found = a.members(room, now)
		}
		if len(found) == 0 {
			unknown = append(unknown, name)
			continue
		}
		accounts = append(accounts, owner)
		names = append(names, a.Name)
		conns = append(conns, found...)
	}
	return conns, names, accounts, unknown, nil
}

// sendPrivateAccount is sendPrivate with sign-in: the message reaches every
// device in the room of each recipient's account, and the sender's other
// devices in the room see it too, each connection once.
func (inv *invocation) sendPrivateAccount(ctx context.Context, req request, c Connection, a Account, to, unknown []string, msg string) []byte {
	recipients, toNames, toAccounts, missing, err := inv.accountRecipients(ctx, c.Room, a, to)
	if err != nil {
		return inv.internal(req, "look up recipient", err)
	}
	if unknown = append(unknown, missing...); len(unknown) > 0 {
		return inv.fail(req, unknownRecipients(unknown))
	}
	r := Record{Kind: KindPrivate, Room: c.Room, From: c.Name, FromAccount: c.AccountID, FromUsername: c.Username, To: toNames,
		ToAccounts: toAccounts, Message: msg, ConnID: c.ID, Readers: accountReaders(c.AccountID, toAccounts)}
	if err := inv.append(ctx, &r); err != nil {
		return inv.internal(req, "record message", err)
	}
	inv.m.count(countAccepted, 1)
	frame := privateFrame{Type: KindPrivate, ID: r.ID, TS: millis(r.TS), Room: r.Room, From: r.From, To: r.To,
		Message: r.Message, Account: c.AccountID, Username: c.Username}
	targets := []target{{Member{ConnID: c.ID, Name: c.Name, AccountID: c.AccountID}, encode(withRef(frame, req.Ref))}}
	data := encode(frame)
	var devices []Member
	for _, m := range append(a.members(c.Room, inv.opt.Now()), recipients...) {
		if m.ConnID != c.ID && !slices.ContainsFunc(devices, func(d Member) bool { return d.ConnID == m.ConnID }) {
			devices = append(devices, m)
		}
	}
	// The devices come from the accounts' items, which carry no sign-in:
	// each record is read, and a device past its sign-in and the grace,
	// or banned from the room, is closed, not sent to, as a broadcast
	// does with the room's.
	for _, m := range inv.stillSignedInMembers(ctx, devices, inv.opt.Now()) {
		targets = append(targets, target{m, data})
	}
	inv.deliver(ctx, targets)
	return nil
}
