// Room state: hello answers with the members, recent history, limits and
// the resume token a page needs to show the room.

package chat

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"
)

func (inv *invocation) hello(ctx context.Context, req request) []byte {
	c, a, fail := inv.charged(ctx, req)
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
	members = inv.signedIn(ctx, withCaller(members, c, a, true))
	pub, own, next, err := inv.readHistory(ctx, c, "")
	if err != nil {
		return inv.internal(req, "read history", err)
	}
	names, usernames := sortedPeople(members)
	frame := stateFrame{Type: KindState, Room: c.Room, You: c.Name, Members: names, Usernames: usernames,
		Count: rc.Count, CV: rc.cv(), MembersCursor: cursor,
		Limits: limits, Resume: c.ResumeToken, Warning: warningOf(c.Warning),
		Account: c.AccountID, Username: c.Username, Roles: inv.roles(),
		// The cursor at its longest is in the budget.
		HistoryCursor: historyCursor(c.Room, ulid.Make().String())}
	// The newest messages that fit, public and private together (ids sort by
	// time): the frame stays inside API Gateway's 128 KB message limit
	// however long the messages are; the history action reads on from
	// HistoryCursor.
	var older string
	frame.History, frame.Private, older = fillHistory(pub, own, next, StateMaxBytes-len(encode(frame)))
	frame.HistoryCursor = historyCursor(c.Room, older)
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
