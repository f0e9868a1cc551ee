// The web page's member list and count, kept from the frames a connection
// receives exactly as frontend/src/presence.ts and members.ts keep them,
// so a test can check what a person would see.

package chattest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/groupchat/groupchat/lambda/chat"
)

// Page is one browser tab's member list and room count, built only from
// the frames its connection received: state (the hello answer), joined,
// left, renamed, members (after a stale removal: its left entries, each a
// left, and stayed, each a joined; its list only from a server before
// them), presence, pong, and the
// settle hello's state (Settle). Per name (folded as the page folds
// names) it remembers the last claim or release applied, by ts, and
// applies only newer ones, so frames of concurrent invocations arriving
// out of order end with the room as it is (docs/protocol.md). A signed-in
// person's joined and left carry v, the account's device version: of those
// only one with a greater v than the last applied for the account counts,
// and against that account's earlier joined or left v decides, not ts.
// Counts are ordered by their cv, the count's version: a frame's count is
// taken only over a smaller cv (frames without cv, from a server before
// it, are taken as they come). The zero value is a page before its first
// state.
type Page struct {
	members map[string]string // folded name → name as shown
	last    map[string]mark
	lastV   map[string]int64 // account → the greatest v applied
	count   int
	counted bool
	cv      int64 // the count's version, from the frame the count came from
	// exact: the state had a count, which the server keeps exactly; the
	// list (read from a lagging index) never corrects it.
	exact bool
	// since is the memory of the marks when the page asked for its list
	// again (Asked); nil when no read is asked for.
	since map[string]mark
}

type mark struct {
	ts      int64
	here    bool
	account string
	v       int64
}

// pageFrame is what the page reads of a server frame.
type pageFrame struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	OldName string   `json:"oldName"`
	TS      int64    `json:"ts"`
	Members []string `json:"members"`
	Count   *int     `json:"count"`
	Account string   `json:"account"`
	V       int64    `json:"v"`
	CV      int64    `json:"cv"`
	// Left (members) is each person who left, stamped as a left frame;
	// nil from a server before it.
	Left *[]stamped `json:"left"`
	// Stayed (members) is each person still in the room on another
	// device, stamped as a joined frame.
	Stayed []stamped `json:"stayed"`
}

// stamped is a person a members frame names, as a joined or left would.
type stamped struct {
	Name    string `json:"name"`
	TS      int64  `json:"ts"`
	Account string `json:"account"`
	V       int64  `json:"v"`
}

// Apply applies one server frame, as the page does on its arrival; frames
// that do not touch the list or the count (public, private, error, …) are
// ignored. A state frame starts the list afresh: pass the hello's answer
// here, and the settle hello's (sent again a little after connecting) to
// Settle instead.
func (p *Page) Apply(raw []byte) error {
	var head struct{ Type string }
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("page: a frame that is not JSON: %q: %w", raw, err)
	}
	switch head.Type {
	case string(chat.KindState), string(chat.KindJoined), string(chat.KindLeft), string(chat.KindRenamed),
		string(chat.KindMembers), string(chat.KindPresence), string(chat.KindPong):
	default:
		return nil // a memberPage's members are objects: the list is not followed from it
	}
	var f pageFrame
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("page: a %s frame the page cannot read: %q: %w", head.Type, raw, err)
	}
	switch f.Type {
	case string(chat.KindState):
		p.members, p.last, p.lastV = byFold(f.Members), map[string]mark{}, map[string]int64{}
		p.count, p.counted, p.exact, p.cv = len(p.members), true, f.Count != nil, f.CV
		if p.exact {
			p.count = *f.Count
		}
		return nil
	case string(chat.KindJoined):
		p.markV(f.Name, f.TS, true, f.Account, f.V)
	case string(chat.KindLeft):
		p.markV(f.Name, f.TS, false, f.Account, f.V)
	case string(chat.KindRenamed):
		switch {
		case f.OldName == f.Name: // the answer to a no-op setName
		case chat.Fold(f.OldName) == chat.Fold(f.Name):
			p.mark(f.Name, f.TS, true)
		default:
			p.mark(f.OldName, f.TS, false)
			p.mark(f.Name, f.TS, true)
		}
	case string(chat.KindMembers):
		if f.Left == nil {
			p.fromList(f.Members, f.TS, false) // a server before left
			break
		}
		// The list is read from the lagging index: only the stamped
		// leavings are applied.
		for _, l := range *f.Left {
			p.markV(l.Name, l.TS, false, l.Account, l.V)
		}
		for _, j := range f.Stayed {
			p.markV(j.Name, j.TS, true, j.Account, j.V)
		}
	case string(chat.KindPresence), string(chat.KindPong):
	default:
		return nil
	}
	if f.Count != nil {
		p.countAt(*f.Count, f.CV)
	}
	return nil
}

// countAt takes a count sent at version cv (0: a server before cv) unless
// the page has one of a greater or equal version.
func (p *Page) countAt(n int, cv int64) {
	if cv != 0 && cv <= p.cv {
		return
	}
	p.count, p.counted = n, true
	p.cv = max(p.cv, cv)
}

// Settle applies the state of the hello the page sends again once the
// room index has caught up with the joins around its own: whom the first
// state and the frames since missed joins the list, and nothing a
// presence frame since said is undone.
func (p *Page) Settle(state []byte) error {
	var f pageFrame
	if err := json.Unmarshal(state, &f); err != nil || f.Type != string(chat.KindState) {
		return fmt.Errorf("page: the settle hello was answered %q, not a state (%v)", state, err)
	}
	p.fromList(f.Members, 0, true)
	if f.Count != nil && f.CV != 0 {
		p.countAt(*f.Count, f.CV)
	} else if !p.exact {
		p.count = max(p.count, len(p.members))
	}
	return nil
}

// Names lists the members the page shows, sorted.
func (p *Page) Names() []string {
	out := make([]string, 0, len(p.members))
	for _, n := range p.members {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Count is the room's count the page shows; ok is false before any.
func (p *Page) Count() (n int, ok bool) { return p.count, p.counted }

// mark applies a claim (here) or release of name at ts, if newer than the
// last one applied for it. At an equal ts being there wins.
func (p *Page) mark(name string, ts int64, here bool) { p.markV(name, ts, here, "", 0) }

// markV is mark for a frame that may carry an account's device version v
// (0: none): a v not greater than the account's last is ignored, and a
// greater one wins over that account's earlier joined or left whatever
// their ts.
func (p *Page) markV(name string, ts int64, here bool, account string, v int64) {
	if p.members == nil {
		p.members, p.last = map[string]string{}, map[string]mark{}
	}
	if p.lastV == nil {
		p.lastV = map[string]int64{}
	}
	k := chat.Fold(name)
	l, ok := p.last[k]
	if account != "" && v > 0 {
		if v <= p.lastV[account] {
			return
		}
		p.lastV[account] = v
		if ok && l.account == account && l.v > 0 {
			ok = false // ordered by v
		}
	}
	if ok && (ts < l.ts || (ts == l.ts && (l.here || !here))) {
		return
	}
	if here {
		p.members[k] = name
	} else {
		delete(p.members, k)
	}
	p.last[k] = mark{ts, here, account, v}
}

// fromList is a whole list read at ts (settled: before every ts): a name
// claimed at or after ts stays, a name released after it is not brought
// back, any other name is in exactly when listed. It remembers nothing.
func (p *Page) fromList(list []string, ts int64, settled bool) {
	listed := byFold(list)
	next := map[string]string{}
	for _, k := range slices.Concat(keys(p.members), keys(listed)) {
		l, marked := p.last[k]
		shown, isShown := p.members[k]
		switch {
		case marked && l.here && (settled || l.ts >= ts) && isShown:
			next[k] = shown
		case marked && !l.here && (settled || l.ts > ts):
		default:
			if n, in := listed[k]; in {
				next[k] = n
			}
		}
	}
	p.members = next
	if p.last == nil {
		p.last = map[string]mark{}
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func byFold(names []string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[chat.Fold(n)] = n
	}
	return m
}

// The page reads its list again (frontend/src/converge.ts): once the
// changes stop for longer than the index lags, a page whose whole list and
// count disagree (a left that never came, a list read while the index
// lagged) sends members, at most RelistTries times per count version, and
// applies the answer as relist (presence.ts) does.

// RelistTries is converge.ts's RETRIES_MAX.
const RelistTries = 3

// Disagrees reports whether the page, a small room's (its list followed
// from frames, so whole), would read its list again: it holds a count and
// shows another number of names.
func (p *Page) Disagrees() bool {
	n, ok := p.Count()
	return ok && len(p.members) != n
}

// Asked notes that the page asked for its list (members without a
// cursor) now: the names a frame speaks of after this keep what that
// frame said when the answer comes (Relist).
func (p *Page) Asked() {
	p.since = maps.Clone(p.last)
	if p.since == nil {
		p.since = map[string]mark{}
	}
}

// Relist applies the answer to the members action asked for at Asked: the
// list is every name listed, but for the names a frame spoke of since the
// ask, which stay as shown; its count is taken as any frame's, by cv.
func (p *Page) Relist(raw []byte) error {
	var f struct {
		Type    string `json:"type"`
		Count   *int   `json:"count"`
		CV      int64  `json:"cv"`
		Members []struct {
			Name string `json:"name"`
		} `json:"members"`
	}
	if err := json.Unmarshal(raw, &f); err != nil || f.Type != "memberPage" {
		return fmt.Errorf("page: the members read was answered %q, not a memberPage (%v)", raw, err)
	}
	if p.since == nil {
		return fmt.Errorf("page: a members answer the page did not ask for")
	}
	if f.Count != nil {
		p.countAt(*f.Count, f.CV)
	}
	names := make([]string, len(f.Members))
	for i, m := range f.Members {
		names[i] = m.Name
	}
	listed := byFold(names)
	next := map[string]string{}
	for _, k := range slices.Concat(keys(p.members), keys(listed)) {
		if p.last[k] != p.since[k] {
			if n, shown := p.members[k]; shown {
				next[k] = n
			}
			continue
		}
		if n, in := listed[k]; in {
			next[k] = n
		}
	}
	p.members, p.since = next, nil
	return nil
}
