// Names: setName claims the new name, renames the connection and releases
// the old name, so at most one connection of a room holds a name.

package chat

import (
	"context"
	"errors"

	"github.com/groupchat/groupchat/contract"
)

// nameStore holds the claims of names in a room: a name belongs to one live
// connection of the room at a time (sign-in off; with sign-in, accountStore).
type nameStore interface {
	// ClaimName makes c.Name c.ID's name in c.Room. It fails with ErrNameTaken
	// when another live connection holds the name (compared by Fold) and the
	// claim does not present that connection's resume token. On success it
	// returns the connections the name was taken over from with that token
	// (or from an expired holder), if any: the same person's previous
	// connection, and every reconnect of it since that failed after its
	// claim, until ForgetReplaced. Each is to be removed.
	ClaimName(ctx context.Context, c Claim) (previousOwners []string, err error)
	// ForgetReplaced tells the claim of name that connID, its holder, has
	// removed the connections replaced (ClaimName's previous owners): a
	// later claim no longer returns them. It does nothing once another
	// connection holds the claim.
	ForgetReplaced(ctx context.Context, room, name, connID string, replaced []string) error
	// ReleaseName gives up a claim, only if connID still holds it. When a
	// resume took the name over from connID first, it returns the
	// connection that did; a claim already gone, or taken by someone else
	// after a release, returns "".
	ReleaseName(ctx context.Context, room, name, connID string) (resumedBy string, err error)
	// Owner returns the connection holding a name's claim in a room, with the
	// name as its holder spelled it; ok is false when nobody holds it. The
	// holder may be a reconnect still in $connect, or (after a release that
	// failed) a connection now called something else.
	Owner(ctx context.Context, room, name string) (m Member, ok bool, err error)
}

func (inv *invocation) setName(ctx context.Context, req request) []byte {
	name, p := text(req, "name", CleanName)
	if p != nil {
		return inv.fail(req, p)
	}
	c, a, fail := inv.charged(ctx, req)
	if fail != nil {
		return fail
	}
	if c.AccountID != "" {
		if fail := inv.silenced(req, c, a); fail != nil {
			return fail
		}
		return inv.setAccountName(ctx, req, c, a, name)
	}
	if c.PendingName != "" {
		ref := ""
		if name == c.Name {
			ref = req.Ref // the client's retry: its answer is the rename, told to the room now
		}
		if !inv.tellRename(ctx, c, ref) {
			return inv.fail(req, notConnected)
		}
		if name == c.Name {
			inv.m.count(countAccepted, 1)
			return nil
		}
	}
	frame := renamedFrame{Type: KindRenamed, Room: c.Room, OldName: c.Name, Name: name, TS: millis(inv.opt.Now())}
	if name == c.Name {
		return encode(withRef(frame, req.Ref))
	}
	_, err := inv.store.ClaimName(ctx, Claim{Room: c.Room, Name: name, ConnID: c.ID, Token: c.ResumeToken, ExpiresAt: c.ExpiresAt})
	if errors.Is(err, ErrNameTaken) {
		return inv.fail(req, problem(contract.CodeNameTaken, "The name %q is already taken in this room.", name))
	}
	if err != nil {
		return inv.internal(req, "claim name", err)
	}
	// Stamped after the new name's claim, before the old name's release,
	// and kept on the record with the old name until the room is told: an
	// invocation that dies after the Rename leaves it to the client's retry
	// or the connection's next action (tellRename).
	at := inv.opt.Now()
	if err := inv.store.Rename(ctx, c.ID, c.Name, name, at); err != nil {
		if reply, done := inv.renameFailed(ctx, req, c, name, Fold(name) == Fold(c.Name), frame, err); done {
			return reply
		}
	}
	c.Name, c.PendingName, c.PendingAt = name, c.Name, at
	if !inv.tellRename(ctx, c, req.Ref) {
		return inv.fail(req, notConnected)
	}
	inv.m.count(countAccepted, 1)
	return nil
}

// tellRename finishes a rename without sign-in whose record carries the new
// name (c.Name) and keeps the old one as pending: the old name is released,
// the room is told with the rename's own stamp (taken before the release:
// whoever took the old name since is later, and wins on every page), and
// the pending rename is forgotten. Told again by a retry, the frame is the
// same, and a page applies it once. ref is the ref of the sender's copy
// ("": none). It returns false when the person reconnected while the rename
// ran (the new connection has the old name and removed this one's record):
// nobody is told of the new name, and it is nobody's.
func (inv *invocation) tellRename(ctx context.Context, c Connection, ref string) bool {
	if Fold(c.PendingName) != Fold(c.Name) {
		if resumedBy := inv.release(ctx, c.Room, c.PendingName, c.ID); resumedBy != "" {
			inv.release(ctx, c.Room, c.Name, c.ID)
			return false
		}
	}
	renamed := Record{Kind: KindRenamed, Room: c.Room, From: c.Name, OldName: c.PendingName, ConnID: c.ID, TS: c.PendingAt}
	frame := renamedFrame{Type: KindRenamed, Room: c.Room, OldName: c.PendingName, Name: c.Name, TS: millis(c.PendingAt)}
	_ = inv.append(ctx, &renamed)
	switch {
	case c.Mark != "": // being removed: not to itself
		inv.broadcast(ctx, c.Room, encode(frame), "", nil, c.ID)
	case ref != "":
		inv.broadcast(ctx, c.Room, encode(frame), c.ID, encode(withRef(frame, ref)))
	default:
		inv.broadcast(ctx, c.Room, encode(frame), c.ID, nil)
	}
	if err := inv.store.RenameTold(ctx, c.ID, c.PendingAt); err != nil {
		inv.log.Warn("forget the told rename", "error", err)
	}
	return true
}

// renameFailed decides what a failed Rename leaves: every name the
// connection's record is known not to carry is released, old and new (each
// only if this connection still holds it). A concurrent setName of this
// connection may have won (its record then carries that name, and the claim
// is that request's); a write that failed by timeout may have been applied;
// the record may be gone ($disconnect removed it, perhaps after this rename
// landed and its answer was lost). It returns the reply and true when
// setName is over; false when the rename turned out to have been applied by
// this request and setName goes on as if it had succeeded.
func (inv *invocation) renameFailed(ctx context.Context, req request, c Connection, name string, sameName bool, frame renamedFrame, err error) ([]byte, bool) {
	cur, getErr := inv.store.GetConnection(ctx, c.ID)
	switch {
	case getErr == nil && cur.Name == name && errors.Is(err, ErrConflict):
		// Another request of this connection made the same rename and
		// tells the room; this one only confirms it to its sender.
		return encode(withRef(frame, req.Ref)), true
	case getErr == nil && cur.Name == name:
		return nil, false
	case getErr != nil && !errors.Is(getErr, ErrNotFound):
		// Unknown: keeping a claim is safe (it is orphaned, and taken over
		// later, if the record does not carry the name); releasing one the
		// record carries would let a second person take the name.
		return inv.internal(req, "rename", errors.Join(err, getErr)), true
	}
	gone := getErr != nil // ErrNotFound
	if gone || Fold(cur.Name) != Fold(name) {
		inv.release(ctx, c.Room, name, c.ID)
	}
	if !sameName && (gone || Fold(cur.Name) != Fold(c.Name)) {
		// The room may know this connection only by its old name: if the
		// record is gone, its $disconnect announced the name the record
		// carried, perhaps the new one. Presence is ordered by ts, so a
		// "left" taken before the release cannot hide a later holder.
		left := presenceFrame{Type: KindLeft, Room: c.Room, Name: c.Name, TS: millis(inv.opt.Now())}
		if resumedBy := inv.release(ctx, c.Room, c.Name, c.ID); gone && resumedBy == "" {
			inv.broadcast(ctx, c.Room, encode(left), "", nil)
		}
	}
	switch {
	case errors.Is(err, ErrNotFound) || errors.Is(getErr, ErrNotFound):
		return inv.fail(req, notConnected), true
	case errors.Is(err, ErrConflict):
		return inv.fail(req, problem(contract.CodeBusy, "Your name was being changed by another request; try again.")), true
	}
	return inv.internal(req, "rename", err), true
}

// release gives up a name's claim if this connection still holds it, and
// returns the connection a resume handed it to, if any.
func (inv *invocation) release(ctx context.Context, room, name, connID string) string {
	resumedBy, err := inv.store.ReleaseName(ctx, room, name, connID)
	if err != nil {
		inv.log.Warn("release name", "holder", connID, "error", err)
	}
	return resumedBy
}
