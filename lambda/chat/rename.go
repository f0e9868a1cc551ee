// Renaming a signed-in person (docs/design.md, "Names that belong to
// accounts"): claim the new name, change the account's name (one update
// that also keeps the old name as pending and returns the account's
// devices), rename every device's record to the new name's version, tell
// each room, and only then release the old name. Whoever finds the rename
// unfinished finishes it (finishRename): the client's retry, a device whose
// charge shows a newer name than its record, a $connect of the account, or
// someone who wants the old name.

package chat

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/groupchat/groupchat/contract"
)

// ack is the connection whose copy of a renamed frame carries its ref: the
// setName's caller, in its room ("" when nobody asked).
type ack struct {
	connID, room, ref string
	// username is the account's, when the caller is one of its devices:
	// the renamed frames carry it. Finishing another account's rename
	// (its invocation died) knows none: the account item keeps no username.
	username string
}

// setAccountName renames a signed-in person: the new name is claimed for
// the account (refused if another account holds it, online or not), the
// account's name changes from the one it had (of two concurrent renames one
// wins), and finishRename renames every device and releases the old name.
// c and a are the caller's record and account as its charge read them. An
// unfinished rename is finished first; the same setName again (the client's
// retry after an error or a timeout) finishes it and tells every room of
// the account again, in case the first attempt died before it had.
func (inv *invocation) setAccountName(ctx context.Context, req request, c Connection, a Account, name string) []byte {
	if a.Name != "" && name == a.Name && a.PendingName != "" {
		told, err := inv.finishRename(ctx, a, ack{connID: c.ID, room: c.Room, ref: req.Ref, username: c.Username}, "", true)
		if err != nil {
			return inv.internal(req, "finish the account's rename", err)
		}
		inv.m.count(countAccepted, 1)
		if !slices.Contains(told, c.Room) {
			return encode(withRef(renamedFrame{Type: KindRenamed, Room: c.Room, OldName: name, Name: name,
				TS: millis(inv.opt.Now()), Account: a.ID, Username: c.Username}, req.Ref))
		}
		return nil
	}
	c, a = inv.catchUp(ctx, c, a)
	if a.PendingName != "" {
		return inv.internal(req, "finish the account's rename", errors.New("a rename is still pending"))
	}
	old := a.Name
	frame := renamedFrame{Type: KindRenamed, Room: c.Room, OldName: old, Name: name, TS: millis(inv.opt.Now()), Account: a.ID,
		Username: c.Username}
	if name == old {
		return encode(withRef(frame, req.Ref))
	}
	// The claim of the old name, read before the account leaves it: if
	// another request of the account takes it back once this rename has
	// landed, that claim is a new one and this rename's release spares it.
	oldClaim, err := inv.store.AccountNameClaim(ctx, a.ID, old)
	if err != nil {
		return inv.internal(req, "read the name's claim", err)
	}
	claim, err := inv.claimAccountName(ctx, Identity{AccountID: a.ID, Username: c.Username}, name)
	if errors.Is(err, ErrNameTaken) {
		return inv.fail(req, problem(contract.CodeNameTaken, "The name %q belongs to someone else.", name))
	}
	if err != nil {
		return inv.internal(req, "claim name", err)
	}
	next, err := inv.store.SetAccountName(ctx, a.ID, old, name, oldClaim)
	if err != nil {
		current, getErr := inv.store.Account(ctx, a.ID)
		switch {
		case getErr != nil:
			// Unknown: keep the claim (orphaned if unused, taken over later).
			return inv.internal(req, "rename account", errors.Join(err, getErr))
		case current.Name != name:
			if NameKey(current.Name) != NameKey(name) {
				inv.releaseAccountName(ctx, a.ID, name, claim)
			}
			if errors.Is(err, ErrConflict) {
				return inv.fail(req, problem(contract.CodeBusy, "Your name was being changed by another request; try again."))
			}
			return inv.internal(req, "rename account", err)
		}
		next = current // the rename landed (its answer was lost): go on
	}
	inv.m.count(countAccepted, 1)
	told, err := inv.finishRename(ctx, next, ack{connID: c.ID, room: c.Room, ref: req.Ref, username: c.Username}, old, false)
	if err != nil {
		// The account has the new name; the client's retry finishes the rest.
		return inv.internal(req, "rename the account's connections", err)
	}
	if !slices.Contains(told, c.Room) {
		// Every record was renamed by someone else, who told the rooms.
		frame.TS = millis(inv.opt.Now())
		return encode(withRef(frame, req.Ref))
	}
	return nil
}

// finishRename brings every device of a to a's name: each record carrying
// an older name version is renamed (conditionally, so concurrent finishers
// rename each record once and none goes back to an older name), and each
// room where a record was renamed hears "renamed" once per old name. Once
// every record carries the new name (or a newer one), the old name is
// released by the claim the rename kept and the pending rename forgotten.
// It returns the rooms told. previous is the old name when the caller
// knows it (the setName that renamed), else the account's pending name is.
// With all, every room of the account's devices is told, renamed here or
// not (the same setName again: the first attempt may have died before
// telling them); otherwise only where this call renamed a record, so a
// finisher racing another does not tell a room of the old name after
// another finisher released it (and someone else may have taken it). A
// device added after a was read renames its own record (joinDevice).
func (inv *invocation) finishRename(ctx context.Context, a Account, by ack, previous string, all bool) ([]string, error) {
	if previous == "" {
		previous = a.PendingName
	}
	type told struct{ room, oldName string }
	var rooms []told
	var errs []error
	now := inv.opt.Now()
	for _, d := range a.Devices {
		was, renamed, err := inv.store.RenameConnection(ctx, d.ConnID, a.Name, a.NameVersion)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if was == "" || was == a.Name {
			was = previous // a retry of this very rename answers with the new name
		}
		tell := renamed || (all && !d.Leaving && !d.ExpiresAt.Before(now))
		if tell && was != "" && was != a.Name && !slices.Contains(rooms, told{d.Room, was}) {
			rooms = append(rooms, told{d.Room, was})
		}
	}
	// The caller's room last: its broadcast ends with the caller's answer,
	// which must not go out before every other room was told (docs/design.md,
	// Fan-out: the sender's own copy goes last).
	slices.SortStableFunc(rooms, func(x, y told) int {
		return cmp.Compare(boolRank(x.room == by.room), boolRank(y.room == by.room))
	})
	var announced []string
	for _, t := range rooms {
		// Stamped before the records were renamed: a device's left decided
		// after its record took the new name is later, and wins on the page.
		r := Record{Kind: KindRenamed, Room: t.room, From: a.Name, OldName: t.oldName, FromAccount: a.ID, ConnID: by.connID,
			TS: now}
		_ = inv.append(ctx, &r)
		f := renamedFrame{Type: KindRenamed, Room: t.room, OldName: t.oldName, Name: a.Name, TS: millis(r.TS), Account: a.ID,
			Username: by.username}
		if t.room == by.room && by.connID != "" {
			inv.broadcast(ctx, t.room, encode(f), by.connID, encode(withRef(f, by.ref)))
		} else {
			inv.broadcast(ctx, t.room, encode(f), "", nil)
		}
		announced = append(announced, t.room)
	}
	if err := errors.Join(errs...); err != nil {
		return announced, err // the old name stays the account's until every record is renamed
	}
	if a.PendingName == "" {
		return announced, nil
	}
	if a.PendingClaim != NoClaim && NameKey(a.PendingName) != NameKey(a.Name) {
		if err := inv.store.ReleaseAccountName(ctx, a.ID, a.PendingName, a.PendingClaim); err != nil {
			return announced, err
		}
	}
	return announced, inv.store.FinishedRename(ctx, a.ID, a.PendingClaim)
}

// catchUp finishes the account's rename when the caller's charge shows one
// unfinished (a newer name than the caller's record, or an old name not
// released yet), and returns the caller's record under the account's name
// and the account (without its pending rename once finished).
func (inv *invocation) catchUp(ctx context.Context, c Connection, a Account) (Connection, Account) {
	if a.Name == "" || (a.PendingName == "" && a.NameVersion <= c.NameVersion) {
		return c, a
	}
	if _, err := inv.finishRename(ctx, a, ack{username: c.Username}, "", false); err != nil {
		inv.log.Warn("finish the account's rename", "error", err)
	} else {
		a.PendingName, a.PendingClaim = "", ""
	}
	c.Name, c.NameVersion = a.Name, a.NameVersion
	return c, a
}

// boolRank orders false before true.
func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
