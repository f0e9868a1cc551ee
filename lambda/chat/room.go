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
	names, usernames := sortedPeople(members)
	frame := stateFrame{Type: KindState, Room: c.Room, You: c.Name, Members: names, Usernames: usernames,
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

// sortedPeople lists members the way people read a list, ignoring case,
// each person once (with sign-in, one person's connections share a name):
// their names, and at the same index the username a page shows beside each
// (listedUsername), as the room index projects it; nil when there is none
// (always without sign-in), where it would say nothing more.
func sortedPeople(ms []Member) (names, usernames []string) {
	people := entries(ms)
	slices.SortFunc(people, func(a, b MemberEntry) int {
		return cmp.Or(strings.Compare(Fold(a.Name), Fold(b.Name)), strings.Compare(a.Name, b.Name))
	})
	names, usernames = make([]string, len(people)), make([]string, len(people))
	listed := false
	for i, p := range people {
		names[i], usernames[i] = p.Name, p.Username
		listed = listed || p.Username != ""
	}
	if !listed {
		usernames = nil
	}
	return names, usernames
}

// sortedNames lists members' names as sortedPeople does.
func sortedNames(ms []Member) []string {
	names, _ := sortedPeople(ms)
	return names
}
