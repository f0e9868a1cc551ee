// Typing: "Alice is typing…" in small rooms (docs/protocol.md, typing).

package chat

import (
	"context"

	"github.com/groupchat/groupchat/contract"
)

// typingFrame tells a small room who is typing.
type typingFrame struct {
	Type     Kind   `json:"type"`
	Room     string `json:"room"`
	Name     string `json:"name"`
	TS       int64  `json:"ts"`
	Account  string `json:"account,omitempty"`
	Username string `json:"username,omitempty"`
}

// typing tells the others in a room of up to contract.TypingMax people that
// the caller is typing. Nothing is stored and nothing is answered but an
// error: it costs the charge, a read of the room's count and, in a small
// room, a Query of the room index and a PostToConnection per connection of
// the others (not the caller's own devices). The count may be read stale (a
// room that just grew past TypingMax may be told once more; one that just
// shrank to it, a moment later); the index bounds the deliveries either way.
// A muted account's typing goes to nobody (its sends are refused: the room
// is not told it is about to send), read from the charge's answer.
func (inv *invocation) typing(ctx context.Context, req request) []byte {
	c, a, fail := inv.limitedCaller(ctx, req)
	if fail != nil {
		return fail
	}
	if _, muted := a.Muted(c.Room, inv.opt.Now()); c.AccountID != "" && muted {
		return nil
	}
	rc, err := inv.store.ReadCount(ctx, c.Room)
	if err != nil {
		inv.log.Warn("count members for typing", "error", err)
		return nil // nobody is told: typing is best effort
	}
	if rc.Count > contract.TypingMax {
		return nil
	}
	members, err := inv.store.Members(ctx, c.Room)
	if err != nil {
		inv.log.Warn("list members for typing", "room", c.Room, "error", err)
		return nil
	}
	// Stamped when the frame was received, not after the reads above: the
	// page ignores a typing frame from before the typist's last message,
	// which the server may deliver after it (docs/protocol.md, typing).
	frame := encode(typingFrame{Type: KindTyping, Room: c.Room, Name: c.Name, TS: millis(inv.receivedAt()),
		Account: c.AccountID, Username: c.Username})
	targets := make([]target, 0, len(members))
	now := inv.opt.Now()
	for _, m := range members {
		// With sign-in a name is its account's: the index (which need not
		// carry the account) lists the caller's other devices by it.
		if m.ConnID == c.ID || (c.AccountID != "" && (m.AccountID == c.AccountID || NameKey(m.Name) == NameKey(c.Name))) {
			continue
		}
		// Nor a connection whose sign-in the index says ended past the
		// grace (best effort: no read; the next broadcast closes it).
		if inv.signInOver(m.AuthExpiresAt, now) {
			continue
		}
		targets = append(targets, target{m, frame})
	}
	inv.deliver(ctx, targets)
	return nil
}
