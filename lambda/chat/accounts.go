// Names that belong to accounts (sign-in on): a name is one account's across
// the environment, compared by NameKey, held online or not until the
// account renames; the account's first name is its username. One person
// may be connected several times (phone and laptop, in one room or
// several): every connection carries the account's name, a private message
// to it reaches each of them once, and none evicts another. Without
// sign-in, names are claimed per room by connections (names.go,
// connection.go).

package chat

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"

	"github.com/aws/aws-lambda-go/events"
)

// connectAccount records a signed-in connection under its account's name:
// the name the account has, or on its first connection the requested name,
// else the username, else a guest name. The room hears "joined" only for
// the account's first connection in it.
func (inv *invocation) connectAccount(c Connection, requested string) events.APIGatewayProxyResponse {
	name, warning, err := inv.accountName(Identity{AccountID: c.AccountID, Username: c.Username}, requested)
	if err != nil {
		inv.log.Error("name the account", "error", err)
		return events.APIGatewayProxyResponse{StatusCode: 500}
	}
	c.Name, c.Warning = name, warning
	if err := inv.store.PutConnection(inv.ctx, c); err != nil {
		inv.log.Error("record connection", "error", err)
		// The put may have been applied all the same. The name is the
		// account's whatever happens here: nothing to release.
		if _, _, err := inv.store.DeleteConnection(inv.ctx, c.ID); err != nil {
			inv.log.Warn("remove the connection's record", "error", err)
		}
		return events.APIGatewayProxyResponse{StatusCode: 500}
	}
	inv.m.add(&inv.m.accepted, 1)
	joined := Record{Kind: KindJoined, Room: c.Room, From: c.Name, FromAccount: c.AccountID, ConnID: c.ID, TS: inv.opt.Now()}
	_ = inv.append(&joined)
	inv.log.Info("connected", "room", c.Room, "accountId", c.AccountID)
	// The room's count is of records: each connection counts.
	if rc, ok := inv.counted(c.Room, 1); ok && !inv.alsoIn(c) {
		inv.announce(c.Room, rc, presenceFrame{Type: KindJoined, Room: c.Room, Name: c.Name, TS: millis(joined.TS),
			Account: c.AccountID}, c.ID)
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}
}

// alsoIn reports whether c's account has another live connection in c's
// room (the room then knows the person already). On an error it says no:
// a repeated "joined" or a "left" of someone still there is corrected by
// the next state; a missing one is not.
func (inv *invocation) alsoIn(c Connection) bool {
	conns, err := inv.store.AccountConnections(inv.ctx, c.AccountID)
	if err != nil {
		inv.log.Warn("list the account's connections", "error", err)
		return false
	}
	return slices.ContainsFunc(conns, func(o Connection) bool { return o.ID != c.ID && o.Room == c.Room })
}

// accountName returns the account's name, giving it one on its first
// connection, and the warning to show when the requested name could not
// be given.
func (inv *invocation) accountName(id Identity, requested string) (string, *Problem, error) {
	name, err := inv.store.AccountName(inv.ctx, id.AccountID)
	if err != nil || name != "" {
		return name, nil, err
	}
	var warning *Problem
	var candidates []string
	var claim string
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
		claim, err = inv.store.ClaimAccountName(inv.ctx, id.AccountID, cand)
		if errors.Is(err, ErrNameTaken) {
			if requested != "" && i == 0 && warning == nil {
				warning = problem(CodeNameTaken, "The name %q belongs to someone else.", cand)
			}
			continue
		}
		if err != nil {
			return "", nil, err
		}
		name = cand
		break
	}
	if name == "" {
		return "", nil, fmt.Errorf("no free name after %d tries: %w", len(candidates)+8, err)
	}
	if err := inv.store.SetAccountName(inv.ctx, id.AccountID, "", name); errors.Is(err, ErrConflict) {
		// Another connection of the account named it first: its name wins.
		current, err := inv.store.AccountName(inv.ctx, id.AccountID)
		if err != nil {
			return "", nil, err
		}
		if NameKey(current) != NameKey(name) {
			inv.releaseAccountName(id.AccountID, name, claim)
		}
		return current, nil, nil
	} else if err != nil {
		// Unknown: the claim stays (it is orphaned, and taken over later, if
		// the account's name is not it).
		return "", nil, err
	}
	if warning != nil {
		warning.Message += fmt.Sprintf(" You are %s.", name)
	}
	return name, warning, nil
}

// releaseAccountName gives up the account's claim of name, unless the
// account has claimed the name again since.
func (inv *invocation) releaseAccountName(accountID, name, claim string) {
	if claim == "" {
		return // not the account's
	}
	if err := inv.store.ReleaseAccountName(inv.ctx, accountID, name, claim); err != nil {
		inv.log.Warn("release name", "accountId", accountID, "error", err)
	}
}

// disconnectAccount tells the room a signed-in connection left, unless
// another connection of the account is still in the room. The name stays
// the account's.
func (inv *invocation) disconnectAccount(c Connection) {
	left := Record{Kind: KindLeft, Room: c.Room, From: c.Name, FromAccount: c.AccountID, ConnID: c.ID, TS: inv.opt.Now()}
	inv.m.add(&inv.m.accepted, 1)
	_ = inv.append(&left)
	inv.log.Info("disconnected", "room", c.Room, "accountId", c.AccountID)
	if rc, ok := inv.counted(c.Room, 1); ok && !inv.alsoIn(c) {
		inv.announce(c.Room, rc, presenceFrame{Type: KindLeft, Room: c.Room, Name: c.Name, TS: millis(left.TS),
			Account: c.AccountID})
	}
}

// setAccountName renames a signed-in person: the new name is claimed for
// the account (refused if another account holds it, online or not), the
// account's name changes from the one it had (of two concurrent renames one
// wins), the old name is released, and every connection of the account
// takes the new name; each room they are in hears "renamed" once.
func (inv *invocation) setAccountName(req request, c Connection, name string) []byte {
	// c.Name is the account's name: limitedCaller read it with the charge.
	acct, old := c.AccountID, c.Name
	frame := renamedFrame{Type: KindRenamed, Room: c.Room, OldName: old, Name: name, TS: millis(inv.opt.Now()), Account: acct}
	if name == old {
		return encode(withRef(frame, req.Ref))
	}
	// The claim of the old name, read before the account leaves it: if
	// another request of the account takes it back once this rename has
	// landed, that claim is a new one and this rename's release spares it.
	oldClaim, err := inv.store.AccountNameClaim(inv.ctx, acct, old)
	if err != nil {
		return inv.internal(req, "read the name's claim", err)
	}
	claim, err := inv.store.ClaimAccountName(inv.ctx, acct, name)
	if errors.Is(err, ErrNameTaken) {
		return inv.fail(req, problem(CodeNameTaken, "The name %q belongs to someone else.", name))
	}
	if err != nil {
		return inv.internal(req, "claim name", err)
	}
	if err := inv.store.SetAccountName(inv.ctx, acct, old, name); err != nil {
		current, getErr := inv.store.AccountName(inv.ctx, acct)
		switch {
		case getErr != nil:
			// Unknown: keep the claim (orphaned if unused, taken over later).
			return inv.internal(req, "rename account", errors.Join(err, getErr))
		case current != name:
			if NameKey(current) != NameKey(name) {
				inv.releaseAccountName(acct, name, claim)
			}
			if errors.Is(err, ErrConflict) {
				return inv.fail(req, problem(CodeBusy, "Your name was being changed by another request; try again."))
			}
			return inv.internal(req, "rename account", err)
		}
		// The rename landed (its answer was lost): go on.
	}
	if NameKey(old) != NameKey(name) {
		inv.releaseAccountName(acct, old, oldClaim)
	}
	conns, err := inv.store.AccountConnections(inv.ctx, acct)
	if err != nil {
		inv.log.Warn("list the account's connections", "error", err)
	}
	if !slices.ContainsFunc(conns, func(o Connection) bool { return o.ID == c.ID }) {
		conns = append(conns, c) // the index is eventually consistent
	}
	var rooms []string
	for _, o := range conns {
		if o.Name != name {
			if err := inv.store.Rename(inv.ctx, o.ID, o.Name, name); err != nil && !errors.Is(err, ErrNotFound) {
				inv.log.Warn("rename the account's connection", "connection", o.ID, "error", err)
			}
		}
		if !slices.Contains(rooms, o.Room) {
			rooms = append(rooms, o.Room)
		}
	}
	inv.m.add(&inv.m.accepted, 1)
	for _, room := range rooms {
		r := Record{Kind: KindRenamed, Room: room, From: name, OldName: old, FromAccount: acct, ConnID: c.ID, TS: inv.opt.Now()}
		_ = inv.append(&r)
		f := frame
		f.Room, f.TS = room, millis(r.TS)
		if room == c.Room {
			inv.broadcast(room, encode(f), c.ID, encode(withRef(f, req.Ref)))
		} else {
			inv.broadcast(room, encode(f), "", nil)
		}
	}
	return nil
}

// accountRecipients finds, for each name, every connection in room of the
// account that holds the name (and still carries it: a name just released
// by a rename reaches nobody). It returns the recipients' connections, the
// names as their owners spell them and their accounts, once each; unknown
// lists names of nobody in the room.
func (inv *invocation) accountRecipients(room string, to []string) (conns []Member, names, accounts, unknown []string, err error) {
	for _, name := range to {
		owner, err := inv.store.NameOwner(inv.ctx, name)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		var found []Member
		if owner != "" {
			found, err = inv.inRoom(owner, room, name)
			if err != nil {
				return nil, nil, nil, nil, err
			}
		}
		if len(found) == 0 {
			unknown = append(unknown, name)
			continue
		}
		if slices.Contains(accounts, owner) {
			continue
		}
		accounts = append(accounts, owner)
		names = append(names, found[0].Name)
		conns = append(conns, found...)
	}
	return conns, names, accounts, unknown, nil
}

// inRoom lists the account's connections in room, only those called name
// when name is not empty.
func (inv *invocation) inRoom(accountID, room, name string) ([]Member, error) {
	all, err := inv.store.AccountConnections(inv.ctx, accountID)
	if err != nil {
		return nil, err
	}
	var out []Member
	for _, o := range all {
		if o.Room == room && (name == "" || NameKey(o.Name) == NameKey(name)) {
			out = append(out, Member{ConnID: o.ID, Name: o.Name, AccountID: accountID})
		}
	}
	return out, nil
}

// sendPrivateAccount is sendPrivate with sign-in: the message reaches every
// connection in the room of each recipient's account, and the sender's
// other connections in the room see it too, each connection once.
func (inv *invocation) sendPrivateAccount(req request, c Connection, to, unknown []string, msg string) []byte {
	recipients, toNames, toAccounts, missing, err := inv.accountRecipients(c.Room, to)
	if err != nil {
		return inv.internal(req, "look up recipient", err)
	}
	if unknown = append(unknown, missing...); len(unknown) > 0 {
		return inv.fail(req, unknownRecipients(unknown))
	}
	mine, err := inv.inRoom(c.AccountID, c.Room, "")
	if err != nil {
		return inv.internal(req, "list the sender's connections", err)
	}
	r := Record{Kind: KindPrivate, Room: c.Room, From: c.Name, FromAccount: c.AccountID, To: toNames,
		ToAccounts: toAccounts, Message: msg, ConnID: c.ID, Readers: accountReaders(c.AccountID, toAccounts)}
	if err := inv.append(&r); err != nil {
		return inv.internal(req, "record message", err)
	}
	inv.m.add(&inv.m.accepted, 1)
	frame := privateFrame{Type: KindPrivate, ID: r.ID, TS: millis(r.TS), Room: r.Room, From: r.From, To: r.To,
		Message: r.Message, Account: c.AccountID}
	targets := []target{{Member{ConnID: c.ID, Name: c.Name, AccountID: c.AccountID}, encode(withRef(frame, req.Ref))}}
	data := encode(frame)
	for _, m := range append(mine, recipients...) {
		if !slices.ContainsFunc(targets, func(t target) bool { return t.m.ConnID == m.ConnID }) {
			targets = append(targets, target{m, data})
		}
	}
	inv.deliver(targets)
	return nil
}
