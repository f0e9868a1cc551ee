// Presence that scales (docs/design.md, Presence in big rooms): every room
// keeps an exact member count; a room of up to PresenceLiveMax members hears
// every join and leave, a bigger one hears a presence frame with the count
// only when the room's presence credit pays for it, and anyone can read the
// member list a bounded page at a time (the members action).

package chat

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// presenceStore lists a room's members and keeps its member count and
// presence credit (docs/design.md, Presence in big rooms).
type presenceStore interface {
	// Members lists the live connections of a room: one Query of the room
	// index, cost proportional to the room.
	Members(ctx context.Context, room string) ([]Member, error)
	// MembersPage lists at most limit live connections of a room, from the
	// cursor a previous page returned ("" for the first page); the cursor it
	// returns is "" after the last page. A cursor it cannot read fails with
	// ErrBadCursor. One Query of the room index, bounded by limit.
	MembersPage(ctx context.Context, room, cursor string, limit int) (members []Member, next string, err error)
	// CountMembers adds credit to a room's presence credit and returns it
	// with the room's member count (docs/design.md, Presence in big rooms).
	// The count is exact, unlike the room index: it moves in the same
	// transaction as the record it counts (PutConnection, DeleteConnection,
	// RemoveStale).
	CountMembers(ctx context.Context, room string, credit int, expiresAt time.Time) (RoomCount, error)
	// SpendCredit takes cost from a room's presence credit if it has that
	// much; false when it has not (another announcement spent it first).
	SpendCredit(ctx context.Context, room string, cost int) (bool, error)
	// ReadCount returns a room's member count and its version (no credit).
	ReadCount(ctx context.Context, room string) (RoomCount, error)
}

const (
	// PresenceLiveMax is the largest room whose members are told of every
	// join and leave (joined, left). Filling a room that big costs at most
	// PresenceLiveMax²/2 deliveries.
	PresenceLiveMax = 20
	// presenceCredit is what each join or leave adds to a room's presence
	// credit; a presence frame costs one credit per recipient. Filling a
	// room of N costs at most PresenceLiveMax²/2 + presenceCredit×N
	// deliveries, and a count is announced once the joins and leaves
	// since the last announcement reach half the room.
	presenceCredit = 2
	// MembersPageMax bounds a page of the member list: 500 entries of the
	// longest names and account ids stay far inside 128 KB (a test checks
	// the worst case).
	MembersPageMax = 500
	// StateMembersMax bounds the names a state frame lists (for clients
	// that predate the count and the pages); the rest is paged.
	StateMembersMax = 100
)

// Presence frames.
const (
	// KindPresence announces a big room's member count.
	KindPresence Kind = contract.FramePresence
	// KindMemberPage answers the members action.
	KindMemberPage Kind = contract.FrameMemberPage
)

// countFrame is a big room's presence: how many are in, now.
type countFrame struct {
	Type  Kind   `json:"type"`
	Room  string `json:"room"`
	Count int    `json:"count"`
	TS    int64  `json:"ts"`
	CV    int64  `json:"cv,omitempty"`
}

// MemberEntry is one member in a member-list frame.
type MemberEntry struct {
	Name     string `json:"name"`
	Account  string `json:"account,omitempty"`
	Username string `json:"username,omitempty"`
}

type memberPageFrame struct {
	Type    Kind          `json:"type"`
	Room    string        `json:"room"`
	Count   int           `json:"count"`
	CV      int64         `json:"cv,omitempty"`
	Members []MemberEntry `json:"members"`
	Cursor  string        `json:"cursor,omitempty"`
	Ref     string        `json:"ref,omitempty"`
}

// counted adds a join's or leave's worth of credit (events) to a room's
// presence credit and returns the room's count and credit after it. The
// count itself moved with the record put or removed, in the same DynamoDB
// transaction (Store.PutConnection, DeleteConnection, RemoveStale): it is
// exact whatever fails after. The credit is best effort: a failure is
// logged and counted, and the announcement it would have paid for is
// skipped (ok false); a retry that adds twice only brings the next
// announcement forward.
func (inv *invocation) counted(ctx context.Context, room string, events int) (RoomCount, bool) {
	rc, err := inv.store.CountMembers(ctx, room, presenceCredit*events, inv.opt.Now().Add(inv.opt.ConnectionTTL))
	if err != nil {
		inv.log.Error("count members", "room", room, "error", err)
		inv.m.count(countInternal, 1)
		inv.unannounced(ctx, room, rc) // no frame tells the room: the settle will
		return rc, false
	}
	return rc, true
}

// announce tells a room of a join or leave that has been counted: a small
// room gets live (joined or left, carrying the count); a big one a presence
// frame, when its credit pays one credit per member it reaches. skip lists
// connections left out (the joiner, the connection it replaced).
func (inv *invocation) announce(ctx context.Context, room string, rc RoomCount, live presenceFrame, skip ...string) {
	live.Count, live.CV = rc.Count, rc.cv()
	if rc.Count <= PresenceLiveMax {
		inv.broadcast(ctx, room, encode(live), "", nil, skip...)
		return
	}
	if !inv.spend(ctx, room, rc, recipients(rc.Count, live.Type)) {
		inv.unannounced(ctx, room, rc)
		return
	}
	inv.broadcast(ctx, room, encode(countFrame{Type: KindPresence, Room: room, Count: rc.Count, TS: live.TS, CV: rc.cv()}), "", nil, skip...)
}

// recount tells a room its new count when a connection comes or goes that
// no joined or left names (a signed-in person's other device in the room):
// a presence frame, at once in a small room, in a big one when its credit
// pays for it. skip lists connections left out.
func (inv *invocation) recount(ctx context.Context, room string, rc RoomCount, ts time.Time, skip ...string) {
	if rc.Count > PresenceLiveMax && !inv.spend(ctx, room, rc, rc.Count) {
		inv.unannounced(ctx, room, rc)
		return
	}
	inv.broadcast(ctx, room, encode(countFrame{Type: KindPresence, Room: room, Count: rc.Count, TS: millis(ts), CV: rc.cv()}), "", nil, skip...)
}

// cv is the count's version as frames carry it (docs/protocol.md, cv):
// twice the version read, plus one for a count announced ahead of the
// deletes it counts (ahead). So an announcement ahead is above every count
// read before its deletes and below every count read after any change
// since, and a page that keeps the count of the greatest cv ends with the
// room's count, whatever order the frames arrive in (confirm).
func (rc RoomCount) cv() int64 {
	if rc.ahead {
		return 2*rc.Version + 1
	}
	return 2 * rc.Version
}

// ahead is the count to tell a room before this invocation deletes the
// marked records: a removal tells the room first, so that a removal that
// dies in between is finished, and told, by the next one to find the
// mark. A record that another removal deleted before the count was read
// is no longer counted in it: only those whose delete still counts after
// the read (StillCounted, one consistent GetItem each: the record is still
// there, and a signed-in person's is her last in the room) are taken from
// it, so the count told is the
// count once it is gone; a record whose read fails, or that is not read
// before the fan-out deadline, is not taken (the count told is then too
// high, which confirm corrects).
func (inv *invocation) ahead(ctx context.Context, rc RoomCount, marked []*Connection) RoomCount {
	rc.told = true
	// Through the delivery pool: after a mass drop there can be hundreds.
	fctx, cancel := inv.fanoutContext(ctx)
	defer cancel()
	var there, failed atomic.Int64
	inPool(fctx, inv.opt.PoolSize, marked, func(c *Connection) {
		ok, err := inv.store.StillCounted(ctx, *c)
		if err != nil {
			inv.log.Warn("read a marked connection", "removed", c.ID, "error", err)
			failed.Add(1)
		}
		if ok {
			there.Add(1)
		}
	})
	if n := int(there.Load()); n > 0 {
		rc.Count, rc.ahead = max(rc.Count-n, 0), true
	}
	rc.unsure = failed.Load() > 0
	return rc
}

// confirm follows a count told ahead of its deletes (told), once this
// invocation deleted what it could (removed records, all: every one it
// marked, by this invocation): it reads the count again and, unless the
// count told was exactly it (one record deleted here, and nothing else
// changed the count since the read: the version moved by one, which
// every put and delete of a record moves it by, also one of a person's
// device that does not change the count), tells a
// small room the count as read. Another removal or join in between, or a
// delete that failed, would otherwise leave every page with a count off
// by the others' changes, for good. A big room hears of it when its
// credit pays (its count may trail by design).
func (inv *invocation) confirm(ctx context.Context, room string, told RoomCount, removed int, all bool, skip ...string) {
	if !told.told || told.Count > PresenceLiveMax {
		return
	}
	rc, err := inv.store.ReadCount(ctx, room)
	if err != nil {
		inv.log.Warn("read the count after a removal", "room", room, "error", err)
		return
	}
	if (!told.unsure && removed == 1 && all && rc.Version == told.Version+1) || rc.Count > PresenceLiveMax {
		return
	}
	inv.broadcast(ctx, room, encode(countFrame{Type: KindPresence, Room: room, Count: rc.Count, TS: millis(inv.opt.Now()),
		CV: rc.cv()}), "", nil, skip...)
}

// recipients is how many members a presence frame reaches: the joiner is
// counted but cannot receive yet; the leaver is no longer counted.
func recipients(count int, kind Kind) int {
	if kind == KindJoined {
		return max(count-1, 0)
	}
	return count
}

// spend takes cost from the room's credit if it has that much: this
// invocation then sends the announcement.
func (inv *invocation) spend(ctx context.Context, room string, rc RoomCount, cost int) bool {
	if rc.Credit < cost {
		return false
	}
	ok, err := inv.store.SpendCredit(ctx, room, cost)
	if err != nil {
		inv.log.Error("spend presence credit", "room", room, "error", err)
		inv.m.count(countInternal, 1)
	}
	return ok
}

// pong answers a ping with the caller's room's count: the keep-alive every
// page sends anyway keeps a big room's count fresh while the room is quiet
// (two GetItems; without sign-in the charge's UpdateItem reads the record).
// A ping is always answered: without the count if the reads fail (a
// charge that fails is answered with its error frame: an answer too).
func (inv *invocation) pong(ctx context.Context) []byte {
	c, err := inv.store.GetConnection(ctx, inv.connID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		inv.log.Warn("count members for a pong", "error", err)
	}
	return inv.pongIn(ctx, c, err == nil)
}

// pongIn is the pong of connection c (known: it has a record), with its
// room's count.
func (inv *invocation) pongIn(ctx context.Context, c Connection, known bool) []byte {
	f := pongFrame{Type: KindPong, TS: millis(inv.opt.Now())}
	if known {
		rc, err := inv.store.ReadCount(ctx, c.Room)
		if err != nil {
			inv.log.Warn("count members for a pong", "error", err)
		}
		f.Count, f.CV = rc.Count, rc.cv()
	}
	return encode(f)
}

// members answers a request for a page of the member list.
func (inv *invocation) members(ctx context.Context, req request) []byte {
	cursor := ""
	if _, ok := req.fields["cursor"]; ok {
		var p *Problem
		if cursor, p = field[string](req, "cursor", "a string"); p != nil {
			return inv.fail(req, p)
		}
	}
	c, a, fail := inv.charged(ctx, req)
	if fail != nil {
		return fail
	}
	// The first page keeps a place for the caller (withCaller).
	limit := MembersPageMax
	if cursor == "" {
		limit--
	}
	ms, next, err := inv.store.MembersPage(ctx, c.Room, cursor, limit)
	if errors.Is(err, ErrBadCursor) {
		return inv.fail(req, problem(contract.CodeBadField, "The field \"cursor\" must be a cursor from a memberPage frame."))
	}
	if err != nil {
		return inv.internal(req, "list a page of members", err)
	}
	rc, err := inv.store.ReadCount(ctx, c.Room)
	if err != nil {
		return inv.internal(req, "count members", err)
	}
	// The count is the exact count item's; the list may lag either way and
	// never corrects it.
	ms = inv.signedIn(ctx, withCaller(ms, c, a, cursor == ""))
	inv.m.count(countAccepted, 1)
	return encode(memberPageFrame{Type: KindMemberPage, Room: c.Room, Count: rc.Count, CV: rc.cv(), Members: entries(ms),
		Cursor: next, Ref: req.Ref})
}

// withCaller lists the caller exactly once across the pages of a member
// list, however far the room index has caught up with its $connect (or its
// last rename): on the first page (a state's list, or a memberPage read
// without a cursor), from its own record, and on no later page, where the
// index may list it where its connection id sorts. So the first page reads
// one member fewer than it may hold. Listing the caller on the page where
// its id sorts would need the cursor's key here and would leave a newcomer
// out of the state's 100 names in a big room.
//
// With sign-in the same goes for the caller's other devices (a, the
// account its charge returned, lists them): they are the caller's person,
// and the index may still list one under a name the account renamed away
// from, which showed her twice on her own page, "alice" beside "Alicia
// (@alice)".
func withCaller(ms []Member, c Connection, a Account, first bool) []Member {
	ms = slices.DeleteFunc(ms, func(m Member) bool {
		return m.ConnID == c.ID || slices.ContainsFunc(a.Devices, func(d Device) bool { return d.ConnID == m.ConnID })
	})
	if first {
		// First: where the lagging index still lists someone else under the
		// caller's name (she renamed away, the caller took it), the
		// caller's own record, which is current, is the one entries keeps.
		ms = slices.Insert(ms, 0, Member{ConnID: c.ID, Name: c.Name, AccountID: c.AccountID, Username: c.Username})
	}
	return ms
}

// entries lists a page's members, one entry per person: with sign-in an
// account's connections in the room share its name, and are listed once
// (the room counts people). A person whose devices fall on two pages is on
// both; a page keys its list by name, so it shows her once. Two members of
// one name with different usernames are two people, one of them listed by
// the lagging index under a name she has renamed away from: the first is
// kept whole (withCaller puts the caller first), never one's name, account
// or username beside the other's.
func entries(ms []Member) []MemberEntry {
	out := make([]MemberEntry, 0, len(ms))
	seen := make(map[string]int, len(ms))
	usernames := make([]string, 0, len(ms))
	for _, m := range ms {
		if i, ok := seen[m.Name]; ok {
			if m.Username != usernames[i] {
				continue
			}
			if out[i].Account == "" {
				out[i].Account = m.AccountID
			}
			continue
		}
		seen[m.Name] = len(out)
		usernames = append(usernames, m.Username)
		out = append(out, MemberEntry{Name: m.Name, Account: m.AccountID, Username: listedUsername(m)})
	}
	return out
}

// listedUsername is the username a member list carries beside a member's
// name: the one a page shows ("Alicia (@alice)"), "" where the name is the
// username (a page shows none then) or where the username is not of a
// name's shape (cleanShape: at most NameMax characters, NameMaxBytes bytes;
// the Pre sign-up trigger admits no other, only an account from before it
// can have one): so a list's frame stays within its bound (MembersPageMax
// of the dearest names and usernames), and such a person shows by name
// alone, as before usernames were listed.
//
// A username of a name's shape is listed as cleanShape gives it (NFC): one
// Cognito keeps decomposed ("e" + U+0301 + "ve") looks the same, and was
// left out, so a renamed "Evie" showed as if that were her username.
func listedUsername(m Member) string {
	if m.Username == "" {
		return ""
	}
	shaped, p := cleanShape(m.Username)
	if p != nil || shaped == m.Name || m.Username == m.Name {
		return ""
	}
	return shaped
}

func names(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}
