// Names: setName claims the new name, renames the connection and releases
// the old name, so at most one connection of a room holds a name.

package chat

import "errors"

func (inv *invocation) setName(req request) []byte {
	name, p := text(req, "name", CleanName)
	if p != nil {
		return inv.fail(req, p)
	}
	c, fail := inv.caller(req)
	if fail != nil {
		return fail
	}
	now := inv.opt.Now()
	frame := renamedFrame{Type: KindRenamed, Room: c.Room, OldName: c.Name, Name: name, TS: millis(now)}
	if name == c.Name {
		return encode(withRef(frame, req.Ref))
	}
	_, err := inv.store.ClaimName(inv.ctx, Claim{Room: c.Room, Name: name, ConnID: c.ID, Token: c.ResumeToken, ExpiresAt: c.ExpiresAt})
	if errors.Is(err, ErrNameTaken) {
		return inv.fail(req, problem(CodeNameTaken, "The name %q is already taken in this room.", name))
	}
	if err != nil {
		return inv.internal(req, "claim name", err)
	}
	sameName := Fold(name) == Fold(c.Name)
	if err := inv.store.Rename(inv.ctx, c.ID, c.Name, name); err != nil {
		if !sameName {
			_ = inv.store.ReleaseName(inv.ctx, c.Room, name, c.ID)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			return inv.fail(req, notConnected)
		case errors.Is(err, ErrConflict):
			return inv.fail(req, problem(CodeBusy, "Your name was being changed by another request; try again."))
		}
		return inv.internal(req, "rename", err)
	}
	if !sameName {
		if err := inv.store.ReleaseName(inv.ctx, c.Room, c.Name, c.ID); err != nil {
			inv.log.Warn("release old name", "error", err)
		}
	}
	inv.m.add(&inv.m.accepted, 1)
	_ = inv.append(&Record{Kind: KindRenamed, Room: c.Room, From: name, OldName: c.Name, ConnID: c.ID})
	inv.broadcast(c.Room, encode(frame), c.ID, encode(withRef(frame, req.Ref)))
	return nil
}
