// Removing a message (remove): its sender, or a moderator, marks a public
// message removed. The record keeps the message with its removal (who, as
// what, why, when) and logs the act as activity, in one transaction; the
// room is told with a removed frame, and history gives the removal in the
// message's place. docs/design.md, "A message's later changes".

package chat

import (
	"context"
	"errors"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"github.com/groupchat/groupchat/contract"
)

// moderationStore is what remove needs of storage.
type moderationStore interface {
	// Message returns a room's public message id, read consistently, or
	// ErrNotFound (none, or expired).
	Message(ctx context.Context, room, id string) (Record, error)
	// RemoveMessage marks a room's public message id removed with rm and,
	// in the same transaction, adds activity (the removal's record) to the
	// log. It returns the message's removal: rm and mine true when this
	// call removed it, the first removal and mine false when it had been
	// removed already. It fails with ErrNotFound when there is no such
	// message.
	RemoveMessage(ctx context.Context, room, id string, rm Removal, activity Record) (Removal, bool, error)
}

var (
	forbidden = &Problem{Code: contract.CodeForbidden,
		Message: "Only its sender or a moderator can remove this message."}
	noSuchMessage = &Problem{Code: contract.CodeNotFound,
		Message: "There is no such public message in this room."}
)

func (inv *invocation) remove(ctx context.Context, req request) []byte {
	id, p := field[string](req, "id", "a string")
	if p != nil {
		return inv.fail(req, p)
	}
	reason, p := removalReason(req)
	if p != nil {
		return inv.fail(req, p)
	}
	c, _, fail := inv.limitedCaller(ctx, req)
	if fail != nil {
		return fail
	}
	if _, err := ulid.ParseStrict(id); err != nil {
		return inv.fail(req, noSuchMessage) // no message has it: nothing to read
	}
	msg, err := inv.store.Message(ctx, c.Room, id)
	if errors.Is(err, ErrNotFound) {
		return inv.fail(req, noSuchMessage)
	}
	if err != nil {
		return inv.internal(req, "read message", err)
	}
	by := RemovedBySender
	if !ownMessage(c, msg) {
		if !inv.id.Moderator {
			return inv.fail(req, forbidden)
		}
		by = RemovedByModerator
	}
	now := inv.opt.Now().Truncate(time.Millisecond)
	rm := Removal{By: by, ByName: c.Name, ByAccount: c.AccountID, Reason: reason, At: now}
	act := Record{Kind: KindRemoved, Room: c.Room, From: c.Name, FromAccount: c.AccountID, ConnID: c.ID,
		To: []string{msg.From}, MessageID: msg.ID, Reason: reason, TS: now}
	if msg.FromAccount != "" {
		act.ToAccounts = []string{msg.FromAccount}
	}
	inv.stamp(&act)
	rm, mine, err := inv.store.RemoveMessage(ctx, c.Room, msg.ID, rm, act)
	if errors.Is(err, ErrNotFound) {
		return inv.fail(req, noSuchMessage)
	}
	if err != nil {
		return inv.internal(req, "remove message", err)
	}
	if !mine {
		inv.log.Info("removed again", "message", msg.ID)
	}
	inv.m.count(countAccepted, 1)
	// Told again on a repeat (the first removal's fields): a remove
	// retried after the function died between the write and this
	// fan-out tells the room; a page applies a repeat as nothing new.
	frame := removedFrame{Type: KindRemoved, Room: c.Room, ID: msg.ID, By: rm.By, Reason: rm.Reason, At: millis(rm.At)}
	inv.broadcast(ctx, c.Room, encode(frame), c.ID, encode(withRef(frame, req.Ref)))
	return nil
}

// ownMessage reports whether c's person sent msg: the same account with
// sign-in; without it the same connection (nothing else of the sender's
// is recorded with a public message).
func ownMessage(c Connection, msg Record) bool {
	if msg.FromAccount != "" || c.AccountID != "" {
		return msg.FromAccount == c.AccountID
	}
	return msg.ConnID == c.ID
}

// removalReason reads remove's optional reason: at most ReasonMax
// characters, no control characters but newline, carriage return and tab.
func removalReason(req request) (string, *Problem) {
	raw, ok := req.fields["reason"]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	reason, p := field[string](req, "reason", "a string")
	if p != nil {
		return "", p
	}
	if utf8.RuneCountInString(reason) > contract.ReasonMax {
		return "", problem(contract.CodeReasonTooLong, "The field %q is at most %d characters.", "reason", contract.ReasonMax)
	}
	for _, r := range reason {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return "", problem(contract.CodeBadField, "The field %q cannot contain control characters.", "reason")
		}
	}
	return reason, nil
}

// roles are the caller's roles, from its verified token.
func (inv *invocation) roles() []string {
	if inv.id.Moderator {
		return []string{contract.RoleModerator}
	}
	return nil
}

// historyEntry is a public message as history gives it: a removed one
// without its text, with its removal.
func historyEntry(r Record) publicFrame {
	f := publicFrame{Type: KindPublic, ID: r.ID, TS: millis(r.TS), Room: r.Room, From: r.From, Message: r.Message,
		Account: r.FromAccount, Username: r.FromUsername}
	if !r.Edited.IsZero() {
		f.Edited = millis(r.Edited)
	}
	f.Mentions = mentionFrames(r.Mentions)
	if r.Removed != nil {
		f.Message, f.Edited, f.Mentions = "", 0, nil
		f.Removed = &removal{By: r.Removed.By, Reason: r.Removed.Reason, At: millis(r.Removed.At)}
	}
	return f
}
