// Room state: hello answers with the members, recent history, limits and
// the resume token a page needs to show the room.

package chat

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
)

func (inv *invocation) hello(ctx context.Context, req request) []byte {
	c, _, fail := inv.charged(ctx, req)
	if fail != nil {
		return fail
	}
	// The first page of the member list (the whole list in a room of up
	// to StateMembersMax), the caller included (withCaller), and the exact
	// count: the frame stays small however big the room, and the rest is
	// read with the members action.
	members, cursor, err := inv.store.MembersPage(ctx, c.Room, "", StateMembersMax-1)
	if err != nil {
		return inv.internal(req, "list members", err)
	}
	rc, err := inv.store.ReadCount(ctx, c.Room)
	if err != nil {
		return inv.internal(req, "count members", err)
	}
	// The count is the room's count item, exact; the list is read from the
	// room index, which may lag either way (a newcomer missing, someone who
	// left still listed), so it never corrects the count.
	members = withCaller(members, c, true)
	recs, err := inv.store.History(ctx, c.Room, HistoryLimit)
	if err != nil {
		return inv.internal(req, "read history", err)
	}
	own, err := inv.store.PrivateHistory(ctx, c.Room, Reader(c), HistoryLimit)
	if err != nil {
		return inv.internal(req, "read private history", err)
	}
	frame := stateFrame{Type: KindState, Room: c.Room, You: c.Name, Members: sortedNames(members),
		Count: rc.Count, CV: rc.cv(), MembersCursor: cursor,
		History: []json.RawMessage{}, Limits: limits, Resume: c.ResumeToken, Warning: warningOf(c.Warning),
		Account: c.AccountID, Username: c.Username, Private: []json.RawMessage{}, Roles: inv.roles()}
	// The newest messages that fit, public and private together (ids sort by
	// time): the frame stays inside API Gateway's 128 KB message limit
	// however long the messages are.
	budget := StateMaxBytes - len(encode(frame))
	for len(recs)+len(own) > 0 {
		var r Record
		var entry []byte
		if len(own) == 0 || (len(recs) > 0 && recs[len(recs)-1].ID > own[len(own)-1].ID) {
			r, recs = recs[len(recs)-1], recs[:len(recs)-1]
			entry = encode(historyEntry(r))
		} else {
			r, own = own[len(own)-1], own[:len(own)-1]
			entry = encode(privateFrame{Type: KindPrivate, ID: r.ID, TS: millis(r.TS), Room: r.Room, From: r.From, To: r.To,
				Message: r.Message, Account: r.FromAccount, Username: r.FromUsername})
		}
		if budget -= len(entry) + 1; budget < 0 {
			break
		}
		if r.Kind == KindPrivate {
			frame.Private = append(frame.Private, entry)
		} else {
			frame.History = append(frame.History, entry)
		}
	}
	slices.Reverse(frame.History)
	slices.Reverse(frame.Private)
	inv.m.count(countAccepted, 1)
	return encode(frame)
}

// sortedNames lists members' names the way people read a list: ignoring case.
func sortedNames(ms []Member) []string {
	out := names(ms)
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(strings.Compare(Fold(a), Fold(b)), strings.Compare(a, b))
	})
	// With sign-in, one person's connections share a name: listed once.
	return slices.Compact(out)
}
