package chat_test

// The randomized checker's invariants, checked once the run is at rest
// against the tables themselves (read consistently, never through the
// index) and against what every tab was sent.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// tableItem is any item of the Connections table, as far as the checks
// read it.
type tableItem struct {
	PK        string `dynamodbav:"pk"`
	ID        string `dynamodbav:"connectionId"`
	Room      string `dynamodbav:"room"`
	Name      string `dynamodbav:"name"`
	Gone      string `dynamodbav:"gone"`
	AccountID string `dynamodbav:"accountId"`
	Owner     string `dynamodbav:"owner"`
	Count     int    `dynamodbav:"count"`
}

func (it tableItem) person() (string, string) { return it.AccountID, it.ID }

// tables is the Connections table at rest, by kind of item.
type tables struct {
	conns    []tableItem            // live connection records
	owners   map[string]string      // name key → owning account
	names    map[string]string      // account → its name
	counts   map[string]int         // room → its count
	rooms    map[string][]tableItem // room → its live connection records
	accounts map[string]bool
}

func (w *world) readTables() tables {
	tb := tables{owners: map[string]string{}, names: map[string]string{}, counts: map[string]int{},
		rooms: map[string][]tableItem{}, accounts: map[string]bool{}}
	p := dynamodb.NewScanPaginator(w.h.DB, &dynamodb.ScanInput{TableName: aws.String(w.h.Tables.Connections),
		ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			w.t.Fatal(err)
		}
		var items []tableItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
			w.t.Fatal(err)
		}
		for _, it := range items {
			switch {
			case strings.HasPrefix(it.PK, contract.ConnItemPrefix) && it.Gone == "":
				tb.conns = append(tb.conns, it)
				tb.rooms[it.Room] = append(tb.rooms[it.Room], it)
			case strings.HasPrefix(it.PK, contract.OwnerItemPrefix):
				tb.owners[strings.TrimPrefix(it.PK, contract.OwnerItemPrefix)] = it.Owner
			case strings.HasPrefix(it.PK, contract.AccountItemPrefix):
				tb.names[strings.TrimPrefix(it.PK, contract.AccountItemPrefix)] = it.Name
			case strings.HasPrefix(it.PK, contract.RoomItemPrefix):
				// The room item and the shards of its count (Messages).
				room := strings.TrimPrefix(it.PK, contract.RoomItemPrefix)
				n, err := w.h.Store.RoomCount(context.Background(), room)
				if err != nil {
					w.t.Fatal(err)
				}
				tb.counts[room] = n
			}
		}
	}
	return tb
}

// verify checks every invariant, adding what breaks to w.viol.
func (w *world) verify() {
	tb := w.readTables()
	w.checkNames(tb)
	w.checkRooms(tb)
	w.checkPages(tb)
	w.checkActivity(tb)
	w.checkAnswers()
	w.checkMessages()
	w.checkRemovals()
	w.checkEdits()
	w.checkActs()
	w.checkDeleted(tb)
	w.checkShards()
}

// checkNames: a name is held by at most one account, and every
// connection's record carries its account's current name.
func (w *world) checkNames(tb tables) {
	byKey := map[string]string{}
	for acct, name := range tb.names {
		if name == "" {
			continue
		}
		k := chat.NameKey(name)
		if other, dup := byKey[k]; dup {
			w.viol.add("name-unique", "%s and %s are both called %q (by key)", other, acct, name)
		}
		byKey[k] = acct
		if owner := tb.owners[k]; owner != acct {
			w.viol.add("name-unique", "%s is called %q, yet the name belongs to %q", acct, name, owner)
		}
	}
	shown := map[string]map[string]bool{} // name key → accounts whose connections carry it
	for _, c := range tb.conns {
		k := chat.NameKey(c.Name)
		if shown[k] == nil {
			shown[k] = map[string]bool{}
		}
		shown[k][c.AccountID] = true
		if cur := tb.names[c.AccountID]; c.Name != cur {
			w.viol.add("name-current", "connection %s of %s (%s) is called %q; the account is %q", c.ID, c.AccountID, c.Room, c.Name, cur)
		}
	}
	for k, accts := range shown {
		if len(accts) > 1 {
			w.viol.add("name-unique", "connections of %v all show the name %q (by key)", slices.Sorted(maps.Keys(accts)), k)
		}
	}
}

// checkRooms: the records of a room are the connections its tabs hold
// open (no ghost, none lost), and its count counts their people.
func (w *world) checkRooms(tb tables) {
	open := map[string][]string{}
	for _, a := range w.accounts {
		for _, d := range a.devices {
			if d.conn != nil {
				open[d.room] = append(open[d.room], d.conn.id)
			}
		}
	}
	for _, room := range w.rooms {
		var records []string
		for _, c := range tb.rooms[room] {
			records = append(records, c.ID)
		}
		for _, id := range records {
			if !slices.Contains(open[room], id) {
				w.viol.add("ghost", "%s has a record of connection %s (%s), which no tab holds open", room, id, w.who(id))
			}
		}
		for _, id := range open[room] {
			if !slices.Contains(records, id) {
				var logged []string
				for _, r := range activityLog(w.t, w.h, room) {
					if r.ConnID == id {
						logged = append(logged, string(r.Kind))
					}
				}
				w.viol.add("lost", "a tab of %s holds connection %s open in %s, which has no record (its log: %v)", w.who(id), id, room, logged)
			}
		}
		if n, want := tb.counts[room], countPeople(tb.rooms[room], tableItem.person); n != want {
			w.viol.add("room-count", "%s counts %d, yet has %d people (%d connection records)", room, n, want, len(records))
		}
	}
}

func (w *world) who(id string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.conns[id]; ok {
		return c.a.user
	}
	return "nobody the checker knows"
}

// checkPages: every open tab's member list is the room's, and the count it
// was sent last is the room's count of people (accounts, and connections
// without sign-in), at rest: after the frames, the settle hello, and the
// list read of a page whose list and count disagreed (world.relist, as
// converge.ts does). A wrong page prints its frames into the trace.
func (w *world) checkPages(tb tables) {
	for _, a := range w.accounts {
		for _, d := range a.devices {
			if d.conn == nil {
				continue
			}
			recs := tb.rooms[d.room]
			want := map[string]string{}
			for _, c := range recs {
				want[chat.Fold(c.Name)] = c.Name
			}
			wantNames := slices.Sorted(maps.Values(want))
			wrong := false
			if got := d.page.Names(); !slices.Equal(got, wantNames) {
				wrong = true
				w.viol.add("page-members", "%s's page in %s shows %v; the room is %v (its frames are in the trace)", d, d.room, got, wantNames)
			}
			if n, ok := d.page.Count(); !ok || n != countPeople(recs, tableItem.person) {
				wrong = true
				w.viol.add("page-count", "%s's page in %s shows the count %d; the room has %d people (its frames are in the trace)", d, d.room, n, countPeople(recs, tableItem.person))
			}
			if wrong {
				w.logf("%s's page (connection %s in %s) is wrong at rest; the frames it applied, in order, each with what it showed after:\n\t%s",
					d, d.conn.id, d.room, strings.Join(d.seen, "\n\t"))
			}
		}
	}
}

// checkActivity: the activity record balances, room by room (joined =
// left + gone + replaced + open), and no connection ends twice.
func (w *world) checkActivity(tb tables) {
	for _, room := range w.rooms {
		n := map[chat.Kind]int{}
		joined, ends := map[string]int{}, map[string]int{}
		for _, r := range activityLog(w.t, w.h, room) {
			n[r.Kind]++
			switch r.Kind {
			case chat.KindJoined:
				joined[r.ConnID]++
			case chat.KindLeft, chat.KindGone, chat.KindReplaced:
				ends[r.ConnID]++
			}
		}
		live := map[string]bool{}
		for _, c := range tb.rooms[room] {
			live[c.ID] = true
		}
		if n[chat.KindJoined] == n[chat.KindLeft]+n[chat.KindGone]+n[chat.KindReplaced]+len(live) {
			continue
		}
		var odd []string
		for _, id := range slices.Sorted(maps.Keys(joined)) {
			if open := map[bool]int{true: 1}[live[id]]; joined[id] != ends[id]+open {
				odd = append(odd, fmt.Sprintf("%s of %s joined %d, ended %d, open %d", id, w.who(id), joined[id], ends[id], open))
			}
		}
		for id, e := range ends {
			if joined[id] == 0 {
				odd = append(odd, fmt.Sprintf("%s of %s ended %d times, never joined", id, w.who(id), e))
			}
		}
		w.viol.add("activity-balance", "%s: %d joined against %d left + %d gone + %d replaced + %d open: %s",
			room, n[chat.KindJoined], n[chat.KindLeft], n[chat.KindGone], n[chat.KindReplaced], len(live), strings.Join(odd, "; "))
	}
}

// checkAnswers: every frame sent with a ref was answered exactly once.
func (w *world) checkAnswers() {
	for ref, n := range w.answers {
		if n != 1 {
			w.viol.add("answered-once", "%s was answered %d times", ref, n)
		}
	}
}

// checkMessages: every private message reached exactly the connections of
// the sender's and the named accounts (those live in the room while it was
// sent), once each, and nobody else; one refused as unknown named nobody
// the room had; a public message reached each connection at most once,
// in its room only.
func (w *world) checkMessages() {
	for _, p := range w.privates {
		got := w.got[p.text]
		if p.answer.Type != "private" {
			if len(got) > 0 {
				w.viol.add("private-delivery", "%s (answered %s %s) reached %d connections", p.text, p.answer.Type, p.answer.Code, len(got))
			}
			if p.answer.Code == "recipients_unknown" {
				for _, u := range p.answer.Unknown {
					if _, must := w.mayHold(u, p.t0, p.t1); must != nil && w.liveIn(must, p.room, p) {
						w.viol.add("private-refused", "%s to %v was refused: %q unknown, yet %s held it and was in %s", p.text, p.to, u, must.user, p.room)
					}
				}
			}
			continue
		}
		allowed := []*account{p.from}
		required := []*account{p.from}
		for _, n := range p.to {
			may, must := w.mayHold(n, p.t0, p.t1)
			allowed = append(allowed, may...)
			if must != nil {
				required = append(required, must)
			}
		}
		for id, copies := range got {
			c := w.conns[id]
			switch {
			case copies != 1:
				w.viol.add("private-delivery", "%s reached %s (%s) %d times", p.text, id, c.a.user, copies)
			case c.room != p.room || !slices.Contains(allowed, c.a):
				w.viol.add("private-delivery", "%s from %s to %v reached %s of %s in %s, who was none of them", p.text, p.from.user, p.to, id, c.a.user, c.room)
			}
		}
		for _, c := range w.conns {
			if c.room == p.room && slices.Contains(required, c.a) && c.liveThroughout(p.t0, p.t1) && got[c.id] == 0 {
				w.viol.add("private-delivery", "%s from %s to %v missed %s of %s, in %s all along", p.text, p.from.user, p.to, c.id, c.a.user, c.room)
			}
		}
	}
	for text, room := range w.publics {
		for id, copies := range w.got[text] {
			if c := w.conns[id]; copies != 1 || c.room != room {
				w.viol.add("public-delivery", "%s, sent in %s, reached %s of %s in %s %d times", text, room, id, c.a.user, c.room, copies)
			}
		}
	}
}

// liveIn reports whether one of the account's connections was live in
// room throughout the send.
func (w *world) liveIn(a *account, room string, p *privateSend) bool {
	for _, c := range w.conns {
		if c.a == a && c.room == room && c.liveThroughout(p.t0, p.t1) {
			return true
		}
	}
	return false
}
