// Editing a message (edit): its sender changes the text of a public or
// private message within EditWindow of sending it. It is the second of a
// message's later changes (docs/design.md, "A message's later changes"),
// stored as remove is: attributes added to the message's item (the text now,
// when it was last edited) and an activity record of the act (the text
// before and after, when) in one transaction. The message's readers are told
// with an edited frame; history gives the text as it is now.

package chat

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/groupchat/groupchat/contract"
)

// EditWindow is how long after sending its sender may edit a message.
const EditWindow = contract.EditWindowMs * time.Millisecond

// KindEdited is the edited frame, and the activity record of an edit
// (Record.MessageID the message, Message the text after, Previous the text
// before, TS when; the editor in From and FromAccount).
const KindEdited Kind = contract.FrameEdited

// editStore is what edit needs of storage.
type editStore interface {
	// MessageOf returns a room's message id of kind (KindPublic or
	// KindPrivate), read consistently, or ErrNotFound (none, or expired).
	MessageOf(ctx context.Context, kind Kind, room, id string) (Record, error)
	// EditMessage sets the text of msg (as MessageOf read it) to
	// activity.Message, edited at activity.TS, a public message's mentions
	// to activity.Mentions (none: removed), and in the same transaction
	// adds activity to the log, unless msg changed since it was read (an
	// edit or a removal in between). A private message's copy of each of
	// its readers is changed with it. It returns the message as it is now
	// and whether this call edited it (false: msg had changed; read it
	// again), or ErrNotFound when there is no such message.
	EditMessage(ctx context.Context, msg Record, activity Record) (Record, bool, error)
}

// editedFrame tells a message's readers its new text.
type editedFrame struct {
	Type    Kind   `json:"type"`
	Room    string `json:"room"`
	ID      string `json:"id"`
	Message string `json:"message"`
	Edited  int64  `json:"edited"`
	// Mentions are a public message's marks as its new text resolved.
	Mentions []mention `json:"mentions,omitempty"`
	Ref      string    `json:"ref,omitempty"`
}

// editAttempts bounds the rounds of read and edit that lose to another edit
// of the same message (the sender on two devices at once).
const editAttempts = 3

var (
	notYours = &Problem{Code: contract.CodeForbidden,
		Message: "Only its sender can edit this message."}
	noMessageToEdit = &Problem{Code: contract.CodeNotFound,
		Message: "There is no such message of yours in this room."}
	editExpired = &Problem{Code: contract.CodeEditExpired,
		Message: "A message can be edited for 15 minutes after it was sent."}
	editRemoved = &Problem{Code: contract.CodeMessageRemoved,
		Message: "This message was removed: it cannot be edited."}
)

func (inv *invocation) edit(ctx context.Context, req request) []byte {
	id, p := field[string](req, "id", "a string")
	if p != nil {
		return inv.fail(req, p)
	}
	text, p := text(req, "message", cleanMessage)
	if p != nil {
		return inv.fail(req, p)
	}
	c, a, fail := inv.limitedCaller(ctx, req)
	if fail != nil {
		return fail
	}
	if c.AccountID != "" {
		if fail := inv.silenced(req, c, a); fail != nil {
			return fail
		}
	}
	if _, err := ulid.ParseStrict(id); err != nil {
		return inv.fail(req, noMessageToEdit) // no message has it: nothing to read
	}
	msg, err := inv.store.MessageOf(ctx, KindPublic, c.Room, id)
	if errors.Is(err, ErrNotFound) {
		msg, err = inv.store.MessageOf(ctx, KindPrivate, c.Room, id)
	}
	if extra := privateEditExtra(msg); err == nil && extra > 0 && ownMessage(c, msg) {
		// Priced as it was sent: its copies and its readers are its
		// recipients', known only now that it is read.
		if fail := inv.chargeMore(ctx, req, extra); fail != nil {
			return fail
		}
	}
	var mentioned []Mention
	resolved := false
	for attempt := 0; ; attempt++ {
		switch {
		case errors.Is(err, ErrNotFound):
			return inv.fail(req, noMessageToEdit)
		case err != nil:
			return inv.internal(req, "edit message", err)
		case !ownMessage(c, msg):
			return inv.fail(req, notYours)
		case msg.Removed != nil:
			return inv.fail(req, editRemoved)
		case !msg.Edited.IsZero() && msg.Message == text:
			// Edited to this text already (this frame sent again after no
			// answer, or the same edit twice): nothing to store, the
			// readers told again. A page applies a repeat as nothing new.
			inv.log.Info("edited again", "message", msg.ID)
			inv.m.count(countAccepted, 1)
			inv.tellEdit(ctx, req, c, a, msg)
			return nil
		case inv.opt.Now().Sub(msg.TS) > EditWindow:
			return inv.fail(req, editExpired)
		case attempt == editAttempts:
			return inv.fail(req, busyEditing)
		}
		if msg.Kind == KindPublic && !resolved {
			// The new text's marks replace the old (docs/design.md,
			// Mentions), read once the edit is known to be allowed.
			if mentioned, _, err = inv.mentions(ctx, c, a, text); err != nil {
				return inv.internal(req, "look up an edit's mention", err)
			}
			resolved = true
		}
		act := Record{Kind: KindEdited, Room: c.Room, From: c.Name, FromAccount: c.AccountID, ConnID: c.ID,
			MessageID: msg.ID, Message: text, Previous: msg.Message, Mentions: mentioned, TS: inv.opt.Now().Truncate(time.Millisecond)}
		if !act.TS.After(msg.Edited) {
			// Another invocation's clock ran ahead when it made the edit
			// this one replaces (or it was in the same millisecond): a page
			// keeps the latest edited time it was told, so this one is later.
			act.TS = msg.Edited.Add(time.Millisecond)
		}
		inv.stamp(&act)
		var mine bool
		if msg, mine, err = inv.store.EditMessage(ctx, msg, act); err == nil && mine {
			break
		}
	}
	inv.m.count(countAccepted, 1)
	inv.tellEdit(ctx, req, c, a, msg)
	return nil
}

var busyEditing = &Problem{Code: contract.CodeBusy,
	Message: "The message was being edited from another device at the same moment; try again."}

// tellEdit sends msg's edited frame to its readers: a public message's to
// the room, a private one's to its sender's and recipients' connections in
// the room (found as sendPrivate finds them: by account with sign-in, by
// name and Reader key without), the caller's copy with its ref.
func (inv *invocation) tellEdit(ctx context.Context, req request, c Connection, a Account, msg Record) {
	frame := editedFrame{Type: KindEdited, Room: msg.Room, ID: msg.ID, Message: msg.Message, Edited: millis(msg.Edited),
		Mentions: mentionFrames(msg.Mentions)}
	own := frame
	own.Ref = req.Ref
	if msg.Kind != KindPrivate {
		inv.broadcast(ctx, c.Room, encode(frame), c.ID, encode(own))
		return
	}
	targets := []target{{Member{ConnID: c.ID, Name: c.Name, AccountID: c.AccountID}, encode(own)}}
	add := func(ms ...Member) {
		for _, m := range ms {
			if !slices.ContainsFunc(targets, func(t target) bool { return t.m.ConnID == m.ConnID }) {
				targets = append(targets, target{m, encode(frame)})
			}
		}
	}
	now := inv.opt.Now()
	if c.AccountID != "" {
		devices := a.members(c.Room, now)
		for _, acct := range msg.ToAccounts {
			if acct == a.ID {
				continue
			}
			ra, err := inv.store.Account(ctx, acct)
			if err != nil {
				inv.log.Warn("look up an edit's recipient", "error", err)
				continue
			}
			devices = append(devices, ra.members(c.Room, now)...)
		}
		// As sendPrivate: a device past its sign-in and the grace, or
		// one a ban ended, is closed, not sent the new text.
		slices.SortFunc(devices, func(x, y Member) int { return strings.Compare(x.ConnID, y.ConnID) })
		devices = slices.CompactFunc(devices, func(x, y Member) bool { return x.ConnID == y.ConnID })
		devices = slices.DeleteFunc(devices, func(m Member) bool { return m.ConnID == c.ID })
		add(inv.stillSignedInMembers(ctx, devices, now)...)
	} else {
		for _, name := range msg.To {
			m, reader, ok, err := inv.recipient(ctx, c.Room, name)
			if err != nil {
				inv.log.Warn("look up an edit's recipient", "error", err)
			} else if ok && slices.Contains(msg.Readers, reader) {
				add(m)
			}
		}
	}
	inv.deliver(ctx, targets)
}

// editedMillis is a history entry's edited: when r's text was last edited,
// 0 (absent) if never.
func editedMillis(r Record) int64 {
	if r.Edited.IsZero() {
		return 0
	}
	return millis(r.Edited)
}

// privateEditExtra is what an edit of msg draws beyond the action's Cost: a
// private message's recipients priced as sendPrivate prices them (one unit
// more for every PrivatePer), nothing for a public one.
func privateEditExtra(msg Record) int {
	if msg.Kind != KindPrivate {
		return 0
	}
	send, _ := contract.LookupAction(contract.ActionSendPrivate)
	return send.Price(len(msg.To)) - send.Cost
}
