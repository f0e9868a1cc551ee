// Messages: sendPublic and sendPrivate record a message in the log and
// deliver it to the room or to the named recipients.

package chat

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/groupchat/groupchat/contract"
)

// recordStore is the message record: the log of messages and activity.
type recordStore interface {
	// Append adds a record to the message log.
	Append(ctx context.Context, r Record) error
	// History returns a room's most recent public messages with ids below
	// before (any, when before is empty), at most limit, oldest first. next
	// is set when older ones may exist: the id of the oldest message read
	// (records past their retention are read, and left out).
	History(ctx context.Context, room, before string, limit int) (recs []Record, next string, err error)
	// PrivateHistory returns, as History does, the private messages of a
	// room that reader (a Reader key: Record.Readers) took part in. It
	// reads only that reader's copies: nobody else's conversation is touched.
	PrivateHistory(ctx context.Context, room, reader, before string, limit int) (recs []Record, next string, err error)
}

func (inv *invocation) sendPublic(ctx context.Context, req request) []byte {
	msg, p := text(req, "message", cleanMessage)
	if p != nil {
		return inv.fail(req, p)
	}
	c, a, fail := inv.limitedCaller(ctx, req)
	if fail != nil {
		return fail
	}
	if fail := inv.silenced(req, c, a); fail != nil {
		return fail
	}
	mentioned, lookups, err := inv.mentions(ctx, c, a, msg)
	if err != nil {
		return inv.internal(req, "look up mention", err)
	}
	// Priced by its lookups as a private message is by its recipients: a
	// unit more for every two (each one or two GetItems; docs/design.md,
	// *Mentions*). Charged before the message is recorded: refused, it is
	// neither stored nor delivered.
	if more := lookups / contract.PrivatePer; more > 0 {
		if fail := inv.chargeMore(ctx, req, more); fail != nil {
			return fail
		}
	}
	r := Record{Kind: KindPublic, Room: c.Room, From: c.Name, FromAccount: c.AccountID, FromUsername: c.Username, Message: msg, ConnID: c.ID,
		Mentions: mentioned}
	if err := inv.append(ctx, &r); err != nil {
		return inv.internal(req, "record message", err)
	}
	inv.m.count(countAccepted, 1)
	frame := publicFrame{Type: KindPublic, ID: r.ID, TS: millis(r.TS), Room: r.Room, From: r.From, Message: r.Message,
		Account: r.FromAccount, Username: r.FromUsername, Mentions: mentionFrames(r.Mentions)}
	inv.broadcast(ctx, c.Room, encode(frame), c.ID, encode(withRef(frame, req.Ref)))
	return nil
}

func (inv *invocation) sendPrivate(ctx context.Context, req request) []byte {
	rawTo, p := field[[]string](req, "to", "a list of names")
	if p != nil {
		return inv.fail(req, p)
	}
	to, unknown, p := cleanRecipients(rawTo)
	if p != nil {
		return inv.fail(req, p)
	}
	msg, p := text(req, "message", cleanMessage)
	if p != nil {
		return inv.fail(req, p)
	}
	// Priced by the names it resolves (each two reads and a copy); an
	// invalid name costs no request.
	inv.items = len(to)
	c, a, fail := inv.limitedCaller(ctx, req)
	if fail != nil {
		return fail
	}
	if c.AccountID != "" {
		if fail := inv.silenced(req, c, a); fail != nil {
			return fail
		}
		return inv.sendPrivateAccount(ctx, req, c, a, to, unknown, msg)
	}
	var recipients []Member
	readers := []string{Reader(c)}
	for _, name := range to {
		m, reader, ok, err := inv.recipient(ctx, c.Room, name)
		if err != nil {
			return inv.internal(req, "look up recipient", err)
		}
		if !ok {
			unknown = append(unknown, name)
		} else if !slices.ContainsFunc(recipients, func(r Member) bool { return r.ConnID == m.ConnID }) {
			recipients = append(recipients, m)
			if !slices.Contains(readers, reader) {
				readers = append(readers, reader)
			}
		}
	}
	if len(unknown) > 0 {
		return inv.fail(req, unknownRecipients(unknown))
	}
	r := Record{Kind: KindPrivate, Room: c.Room, From: c.Name, To: names(recipients), Message: msg, ConnID: c.ID,
		Readers: readers}
	if err := inv.append(ctx, &r); err != nil {
		return inv.internal(req, "record message", err)
	}
	inv.m.count(countAccepted, 1)
	frame := privateFrame{Type: KindPrivate, ID: r.ID, TS: millis(r.TS), Room: r.Room, From: r.From, To: r.To, Message: r.Message}
	targets := []target{{Member{ConnID: c.ID, Name: c.Name}, encode(withRef(frame, req.Ref))}}
	data := encode(frame)
	for _, m := range recipients {
		if m.ConnID != c.ID {
			targets = append(targets, target{m, data})
		}
	}
	inv.deliver(ctx, targets)
	return nil
}

// unknownShown bounds the names the sentence of recipients_unknown lists.
const unknownShown = 3

// unknownRecipients is the error for names nobody in the room has. Its list
// carries each of them, at most RecipientsMax (each a clean name, or an
// invalid one cut by echo), and its sentence the first unknownShown: the
// frame stays far inside API Gateway's 128 KB whatever the client sent.
func unknownRecipients(names []string) *Problem {
	names = names[:min(len(names), RecipientsMax)]
	listed := strings.Join(names[:min(len(names), unknownShown)], ", ")
	if more := len(names) - unknownShown; more > 0 {
		listed += fmt.Sprintf(" (and %d more)", more)
	}
	p := problem(contract.CodeRecipientsUnknown, "Nobody called %s is in this room.", listed)
	p.Unknown = names
	return p
}

// recipient finds the member called name in room: the claim's holder, if
// its record is live and still carries that name, and its Reader key. A
// private message must never reach a connection that holds a stale claim
// under another name.
func (inv *invocation) recipient(ctx context.Context, room, name string) (Member, string, bool, error) {
	m, ok, err := inv.store.Owner(ctx, room, name)
	if err != nil || !ok {
		return Member{}, "", false, err
	}
	c, err := inv.store.GetConnection(ctx, m.ConnID)
	switch {
	case errors.Is(err, ErrNotFound):
		return Member{}, "", false, nil
	case err != nil:
		return Member{}, "", false, err
	case c.Room != room:
		return Member{}, "", false, nil
	case Fold(c.Name) != Fold(name) && (c.PendingName == "" || Fold(c.PendingName) != Fold(name)):
		return Member{}, "", false, nil
	case Fold(c.Name) != Fold(name):
		// The old name of its unfinished rename (its invocation died after
		// renaming the record): the name every page still shows, still
		// claimed by this connection. The rename is finished (the room
		// told) first, so the message reaches him under the new name.
		if !inv.tellRename(ctx, c, "") {
			return Member{}, "", false, nil // he reconnected under the old name: that connection holds it now
		}
	}
	return Member{ConnID: c.ID, Name: c.Name}, Reader(c), true, nil
}

// accountReaders are the Reader keys of a signed-in sender and the
// recipients' accounts, each once.
func accountReaders(from string, to []string) []string {
	readers := []string{Reader(Connection{AccountID: from})}
	for _, a := range to {
		if r := Reader(Connection{AccountID: a}); a != "" && !slices.Contains(readers, r) {
			readers = append(readers, r)
		}
	}
	return readers
}

// Reader is the key under which a connection's person reads back their
// private messages: with sign-in the account ("a:" and its id, the same on
// every device), without it the resume token, hashed ("t:" and SHA-256),
// which only that browser holds and presents again on every reconnect and
// reload. A name is never a key: anyone may take a name that is free.
func Reader(c Connection) string {
	if c.AccountID != "" {
		return "a:" + c.AccountID
	}
	sum := sha256.Sum256([]byte(c.ResumeToken))
	return "t:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// stamp gives a record its id, its time unless it has one, and its
// retention.
func (inv *invocation) stamp(r *Record) {
	now := cmp.Or(r.TS, inv.opt.Now()).Truncate(time.Millisecond)
	r.ID = ulid.MustNew(ulid.Timestamp(now), ulid.DefaultEntropy()).String()
	r.TS = now
	r.ExpiresAt = now.Add(inv.opt.MessageRetention)
}

// append stamps a record (id, time unless it has one, retention) and adds
// it to the message log. Activity records (joined, left, renamed, gone) have
// already happened when they are recorded: for them a failure is only logged
// and counted.
func (inv *invocation) append(ctx context.Context, r *Record) error {
	inv.stamp(r)
	err := inv.store.Append(ctx, *r)
	if err != nil && !r.Kind.IsMessage() {
		inv.log.Error("record activity", "kind", r.Kind, "error", err)
		inv.m.count(countInternal, 1)
	}
	return err
}
