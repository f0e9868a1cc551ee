package chat_test

// The invariants a crash-point scenario (crash_test.go) checks once the
// stack is quiet: what people would notice.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/lambda/chat"
)

// violation is one invariant broken: its name (the skip list's key) and
// what a user would see.
type violation struct{ invariant, detail string }

func (v violation) String() string { return v.invariant + ": " + v.detail }

type liveRecord struct {
	ID        string `dynamodbav:"connectionId"`
	Room      string `dynamodbav:"room"`
	Name      string `dynamodbav:"name"`
	Gone      string `dynamodbav:"gone"`
	AccountID string `dynamodbav:"accountId"`
}

// records reads the room's live connection records from the table itself
// (never a lagging index).
func (r *crashRoom) records() []liveRecord {
	out, err := r.h.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(r.h.Tables.Connections), ConsistentRead: aws.Bool(true)})
	if err != nil {
		r.t.Fatal(err)
	}
	var all []liveRecord
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &all); err != nil {
		r.t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(c liveRecord) bool { return c.Room != crashRoomName || c.Gone != "" || c.ID == "" })
}

// check returns every invariant the room breaks.
func (r *crashRoom) check() []violation {
	vs := slices.Clone(r.problems)
	add := func(invariant, format string, args ...any) {
		vs = append(vs, violation{invariant, fmt.Sprintf(format, args...)})
	}
	live := r.records()
	r.checkConnections(live, add)
	r.checkNames(live, add)

	// Every page shows the room's people, and its count.
	var people []string
	for _, c := range live {
		if !slices.ContainsFunc(people, func(n string) bool { return chat.Fold(n) == chat.Fold(c.Name) }) {
			people = append(people, c.Name)
		}
	}
	slices.Sort(people)
	count, err := r.h.Store.RoomCount(context.Background(), crashRoomName)
	if err != nil {
		r.t.Fatal(err)
	}
	// The room counts people: each account once, each connection without
	// sign-in once.
	want := countPeople(live, func(c liveRecord) (string, string) { return c.AccountID, c.ID })
	if count != want {
		add("count", "the room's count is %d; it has %d people", count, want)
	}
	for _, c := range r.conns {
		if !c.open {
			continue
		}
		if got := c.page.Names(); !slices.Equal(got, people) {
			add("member-list", "%s's page shows %v; the room is %v", c, got, people)
		}
		if got, ok := c.page.Count(); !ok || got != want {
			add("count", "%s's page says the room counts %d; it has %d people", c, got, want)
		}
	}

	// Private messages reach exactly the connections of the people named.
	for _, p := range r.privates {
		var got []string
		for _, c := range r.conns {
			if slices.ContainsFunc(c.frames, func(f frame) bool { return f.Type == "private" && f.Message == p.message }) {
				got = append(got, c.id)
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(p.want))
		if !slices.Equal(got, want) {
			add("private", "%q from %s reached %s; it must reach %s", p.message, p.from, r.named(got), r.named(want))
		}
	}
	r.checkAnswers(add)
	r.checkRemovals(add)
	r.checkEdits(add)
	r.checkSanctions(add)
	r.checkPublics(add)
	r.checkShards(add)

	// The activity log balances, and no connection ends twice.
	n := map[chat.Kind]int{}
	ends := map[string]int{}
	for _, a := range activityLog(r.t, r.h, crashRoomName) {
		n[a.Kind]++
		if a.Kind == chat.KindLeft || a.Kind == chat.KindGone || a.Kind == chat.KindReplaced {
			if ends[a.ConnID]++; ends[a.ConnID] == 2 {
				add("activity", "the log ends %s twice (the second: %s)", r.named([]string{a.ConnID}), a.Kind)
			}
		}
	}
	if n[chat.KindJoined] != n[chat.KindLeft]+n[chat.KindGone]+n[chat.KindReplaced]+len(live) {
		add("activity", "the log holds %d joined against %d left + %d gone + %d replaced + %d still connected",
			n[chat.KindJoined], n[chat.KindLeft], n[chat.KindGone], n[chat.KindReplaced], len(live))
	}
	return vs
}

// checkConnections: every open connection has a live record, and every
// live record is an open connection (no ghost).
func (r *crashRoom) checkConnections(live []liveRecord, add func(string, string, ...any)) {
	for _, c := range r.conns {
		if c.open && !slices.ContainsFunc(live, func(l liveRecord) bool { return l.ID == c.id }) {
			add("connections", "%s is connected but has no record: the room cannot see it and its frames answer not_connected", c)
		}
	}
	for _, l := range live {
		i := slices.IndexFunc(r.conns, func(c *crashConn) bool { return c.id == l.ID })
		if i < 0 || !r.conns[i].open {
			add("connections", "the room has a record of %s (%q), which is not connected: a ghost", r.named([]string{l.ID}), l.Name)
		}
	}
}

// checkNames: a name is held by at most one connection (one account with
// sign-in), and every live record carries its name as held.
func (r *crashRoom) checkNames(live []liveRecord, add func(string, string, ...any)) {
	ctx := context.Background()
	if !r.signed {
		held := map[string]string{}
		for _, c := range live {
			if other, dup := held[chat.Fold(c.Name)]; dup {
				add("names", "%q is carried by two connections (%s and %s)", c.Name, other, c.ID)
			}
			held[chat.Fold(c.Name)] = c.ID
			if owner, ok, err := r.h.Store.Owner(ctx, crashRoomName, c.Name); err != nil || !ok || owner.ConnID != c.ID {
				add("names", "%s is called %q but the name's claim is %+v (held %v, err %v)", r.named([]string{c.ID}), c.Name, owner, ok, err)
			}
		}
		return
	}
	names, byKey := map[string]string{}, map[string]string{}
	for _, acct := range []string{"alice", "bob", "carol", "dave"} {
		name, err := r.h.Store.AccountName(ctx, acct)
		if err != nil {
			r.t.Fatal(err)
		}
		if name == "" {
			continue
		}
		names[acct] = name
		if owner, err := r.h.Store.NameOwner(ctx, name); err != nil || owner != acct {
			add("names", "%s's account is called %q but the name is held by %q (%v)", acct, name, owner, err)
		}
		if other, dup := byKey[chat.NameKey(name)]; dup {
			add("names", "%s and %s are both called %q", other, acct, name)
		}
		byKey[chat.NameKey(name)] = acct
	}
	for _, c := range live {
		if c.Name != names[c.AccountID] {
			add("names", "%s's record says %q; its account's name is %q", r.named([]string{c.ID}), c.Name, names[c.AccountID])
		}
	}
}

// checkAnswers: every frame sent with a ref was answered once (a retried
// one once or twice), last with what says it worked; every message stored
// once (a retried one once or twice, never not at all).
func (r *crashRoom) checkAnswers(add func(string, string, ...any)) {
	ctx := context.Background()
	for _, s := range r.sent {
		var got []string
		for _, f := range s.conn.frames {
			if f.Ref == s.ref {
				got = append(got, f.Type+":"+f.Code)
			}
		}
		switch {
		case len(got) == 0:
			add("answers", "%s's %s (ref %s) was never answered", s.conn, s.action, s.ref)
		case len(got) > max(s.attempts, 1) || (s.attempts <= 1 && len(got) != 1):
			add("answers", "%s's %s (ref %s), sent %d times, was answered %v", s.conn, s.action, s.ref, s.attempts, got)
		case got[len(got)-1] != s.want+":":
			add("answers", "%s's %s (ref %s) was answered %v; want %s", s.conn, s.action, s.ref, got, s.want)
		}
		var m struct{ Message string }
		if s.action == "edit" { // checkEdits: an edit's text is its message's, not a message of its own
			continue
		}
		if json.Unmarshal([]byte(s.sent), &m) != nil || m.Message == "" {
			continue
		}
		var recs []chat.Record
		var err error
		if s.action == "sendPrivate" {
			reader := chat.Reader(chat.Connection{ResumeToken: s.conn.person.token})
			if r.signed {
				reader = chat.Reader(chat.Connection{AccountID: s.conn.person.key})
			}
			recs, _, err = r.h.Store.PrivateHistory(ctx, crashRoomName, reader, "", 50)
		} else {
			recs, _, err = r.h.Store.History(ctx, crashRoomName, "", 50)
		}
		if err != nil {
			r.t.Fatal(err)
		}
		stored := 0
		for _, rec := range recs {
			if rec.Message == m.Message {
				stored++
			}
		}
		if stored == 0 || stored > max(s.attempts, 1) {
			add("history", "%q from %s, sent %d times, is stored %d times", m.Message, s.conn, s.attempts, stored)
		}
	}
}

// named says whose the connections are.
func (r *crashRoom) named(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "an unknown connection " + id
		if tried, ok := r.tried[id]; ok {
			out[i] = tried
		}
		if j := slices.IndexFunc(r.conns, func(c *crashConn) bool { return c.id == id }); j >= 0 {
			out[i] = r.conns[j].String()
		}
	}
	return fmt.Sprint(out)
}
