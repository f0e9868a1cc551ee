// Scrollback: the history action pages a room's record backwards from a
// cursor, public messages and the caller's own private conversation merged
// by time, as the state frame reads the newest of them.

package chat

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"

	"github.com/oklog/ulid/v2"

	"github.com/groupchat/groupchat/contract"
)

// KindHistoryPage answers the history action.
const KindHistoryPage Kind = contract.FrameHistory

// historyPageFrame is one page of the record before a cursor.
type historyPageFrame struct {
	Type    Kind              `json:"type"`
	Room    string            `json:"room"`
	History []json.RawMessage `json:"history"`
	Private []json.RawMessage `json:"private"`
	Cursor  string            `json:"cursor,omitempty"`
	Ref     string            `json:"ref,omitempty"`
}

// errBadHistoryCursor: a history cursor the server did not make for this room.
var errBadHistoryCursor = errors.New("bad history cursor")

// historyCursor is where the next older page starts: the messages with ids
// below id, in room. Opaque to clients; it names its room, so a cursor of
// another room is refused rather than read in the caller's.
func historyCursor(room, id string) string {
	if id == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(id + room))
}

// cursorBefore reads a history cursor of room: the id the page reads below.
// A cursor is a ULID followed by its room; anything else, or another room's,
// is errBadHistoryCursor. A well-formed cursor of the caller's own room with
// an id of the caller's choosing reads only what the caller may read anyway.
func cursorBefore(room, cursor string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) <= ulid.EncodedSize {
		return "", errBadHistoryCursor
	}
	id := string(raw[:ulid.EncodedSize])
	if _, err := ulid.ParseStrict(id); err != nil || string(raw[ulid.EncodedSize:]) != room {
		return "", errBadHistoryCursor
	}
	return id, nil
}

// historyPage reads the page of c's room before the id before (the newest
// when empty): up to HistoryLimit public messages and as many of c's own
// private ones (Reader(c): the rule the state frame reads them by), both
// consistent Queries.
func (inv *invocation) readHistory(ctx context.Context, c Connection, before string) (pub, own []Record, next string, err error) {
	pub, pubNext, err := inv.store.History(ctx, c.Room, before, HistoryLimit)
	if err != nil {
		return nil, nil, "", err
	}
	own, ownNext, err := inv.store.PrivateHistory(ctx, c.Room, Reader(c), before, HistoryLimit)
	if err != nil {
		return nil, nil, "", err
	}
	return pub, own, max(pubNext, ownNext), nil
}

// fillHistory adds the newest of pub and own (each oldest first, as read)
// that fit in budget bytes to history and private, oldest first, and
// returns the id the next older page reads below ("" at the room's
// beginning). next is the store's: the greater of the two streams' next.
// Below it the stream that stopped at its limit may have unread messages,
// so no message below it is taken, and the next page starts there: read in
// turn, the pages give every message exactly once.
func fillHistory(pub, own []Record, next string, budget int) (history, private []json.RawMessage, before string) {
	history, private = []json.RawMessage{}, []json.RawMessage{}
	oldest := ""
	for len(pub)+len(own) > 0 {
		var r Record
		if len(own) == 0 || (len(pub) > 0 && pub[len(pub)-1].ID > own[len(own)-1].ID) {
			r, pub = pub[len(pub)-1], pub[:len(pub)-1]
		} else {
			r, own = own[len(own)-1], own[:len(own)-1]
		}
		if r.ID < next {
			break
		}
		var entry []byte
		if r.Kind == KindPrivate {
			entry = encode(privateFrame{Type: KindPrivate, ID: r.ID, TS: millis(r.TS), Room: r.Room, From: r.From, To: r.To,
				Message: r.Message, Account: r.FromAccount, Username: r.FromUsername, Edited: editedMillis(r)})
		} else {
			entry = encode(historyEntry(r))
		}
		if budget -= len(entry) + 1; budget < 0 {
			// A message is at most 12 KB of JSON: a page of 100 KB
			// always holds one, so oldest is set.
			slices.Reverse(history)
			slices.Reverse(private)
			return history, private, oldest
		}
		oldest = r.ID
		if r.Kind == KindPrivate {
			private = append(private, entry)
		} else {
			history = append(history, entry)
		}
	}
	slices.Reverse(history)
	slices.Reverse(private)
	return history, private, next
}

// history answers the history action: the page of the caller's room just
// before the cursor, within StateMaxBytes.
func (inv *invocation) history(ctx context.Context, req request) []byte {
	cursor := ""
	if _, ok := req.fields["cursor"]; ok {
		var p *Problem
		if cursor, p = field[string](req, "cursor", "a string"); p != nil {
			return inv.fail(req, p)
		}
	}
	c, _, fail := inv.charged(ctx, req)
	if fail != nil {
		return fail
	}
	before := ""
	if cursor != "" {
		var err error
		if before, err = cursorBefore(c.Room, cursor); err != nil {
			return inv.fail(req, problem(contract.CodeBadCursor,
				"The field \"cursor\" must be a cursor of your room, from a state or historyPage frame."))
		}
	}
	pub, own, next, err := inv.readHistory(ctx, c, before)
	if err != nil {
		return inv.internal(req, "read history", err)
	}
	frame := historyPageFrame{Type: KindHistoryPage, Room: c.Room, Ref: req.Ref,
		// The cursor's room and id, at their longest, are in the budget.
		Cursor: historyCursor(c.Room, ulid.Make().String())}
	var older string
	frame.History, frame.Private, older = fillHistory(pub, own, next, StateMaxBytes-len(encode(frame)))
	frame.Cursor = historyCursor(c.Room, older)
	inv.m.count(countAccepted, 1)
	return encode(frame)
}
