package chat_test

// The randomized checker's operations: what a person does with a tab, one
// at a time per account, all accounts at once.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// renameTo are the names people rename to: some are one name by NameKey
// (Ann and ANN, Bob and B0b), and usernames of others are among them
// (owned, online or not).
var renameTo = []string{"Ann", "ANN", "Bob", "B0b", "Cid", "Dot", "Eve", "Fay", "user1", "user2"}

// connect opens a connection for an idle device in room and reads its
// state, as the page does (it retries a refused handshake or a failed
// hello on a new connection, as the page reconnects). It reports whether
// the device is connected.
func (w *world) connect(d *device, room string) bool {
	for range 4 {
		id := chattest.NewConnID()
		c := &connLife{id: id, room: room, a: d.a}
		t0 := time.Now()
		var status int
		w.event(func() { status = w.h.ConnectAsID(id, d.a.id, d.a.user, map[string]string{"room": room}).StatusCode })
		w.logf("%s (%s) connected to %s: %d", id, d, room, status)
		if status != 200 {
			w.tally.failed.Add(1)
			continue
		}
		c.up = time.Now()
		w.mu.Lock()
		w.conns[id] = c
		w.mu.Unlock()
		d.conn, d.room, d.page, d.seen = c, room, &chattest.Page{}, nil
		// What arrived before the state is replaced by it.
		for _, raw := range w.h.GW.Take(id) {
			w.receive(d, c, raw)
		}
		var resp string
		w.event(func() { resp = w.h.Send(id, `{"action":"hello"}`) })
		w.tally.frames.Add(1)
		w.logf("%s (%s) hello: %.300s", id, d, resp)
		f, ok := w.decodeFrame([]byte(resp))
		if !ok || f.Type != "state" {
			// No state: the page drops the connection and starts over.
			w.close(d)
			continue
		}
		if err := d.page.Apply([]byte(resp)); err != nil {
			w.viol.add("frame-invalid", "%v", err)
		}
		d.saw([]byte(resp))
		d.settleAt = time.Now().Add(2 * w.lag)
		if !d.a.named {
			d.a.named = true
			w.hold(d.a, f.You, t0, c.up)
		}
		return true
	}
	return false
}

// close closes the device's connection: the tab is closed or reloaded.
func (w *world) close(d *device) {
	c := w.down(d)
	w.logf("%s (%s) closes", c.id, d)
	w.event(func() { w.h.Disconnect(c.id) })
}

// down takes what the device's connection got and marks it down, as the
// client stops reading it; it returns the connection.
func (w *world) down(d *device) *connLife {
	c := d.conn
	w.mu.Lock()
	c.down = time.Now()
	w.mu.Unlock()
	w.drain(d)
	d.conn, d.settleAt = nil, time.Time{}
	return c
}

// settle sends the page's settle hello once the index lag has passed.
func (w *world) settle(d *device, force bool) {
	if d.conn == nil || d.settleAt.IsZero() || (!force && time.Now().Before(d.settleAt)) {
		return
	}
	w.drain(d)
	var resp string
	w.event(func() { resp = w.h.Send(d.conn.id, `{"action":"hello"}`) })
	w.tally.frames.Add(1)
	w.logf("%s (%s) settle hello: %.300s", d.conn.id, d, resp)
	if f, ok := w.decodeFrame([]byte(resp)); ok && f.Type == "state" {
		_ = d.page.Settle([]byte(resp))
		d.saw([]byte(resp))
		d.settleAt = time.Time{}
	}
}

// reload reloads a tab: the old connection closes and a new one opens, in
// either order or at once, as a browser does.
func (w *world) reload(d *device) {
	w.tally.reloads.Add(1)
	room := d.room
	switch d.a.rng.IntN(3) {
	case 0:
		w.close(d)
		w.connect(d, room)
	case 1:
		old := w.down(d)
		w.connect(d, room)
		w.logf("%s (%s) closes after its reload connected", old.id, d)
		w.event(func() { w.h.Disconnect(old.id) })
	default:
		old := w.down(d)
		w.logf("%s (%s) closes as its reload connects", old.id, d)
		var wg sync.WaitGroup
		wg.Go(func() { w.event(func() { w.h.Disconnect(old.id) }) })
		w.connect(d, room)
		wg.Wait()
	}
}

// vanish loses the device's connection without a close: no $disconnect,
// and the management API answers 410 from now on.
func (w *world) vanish(d *device) {
	w.tally.vanished.Add(1)
	c := w.down(d)
	w.logf("%s (%s) vanishes", c.id, d)
	w.h.GW.Vanish(c.id)
}

// overtaken opens a connection whose $connect is held before one of its
// requests while its $disconnect runs: the client gave up on the slow
// handshake. The device stays idle.
func (w *world) overtaken(d *device, room string) {
	id := chattest.NewConnID()
	hc := &heldConnect{id: id, at: 1 + d.a.rng.IntN(2)}
	hc.run = func() { w.nested(func() { w.h.Disconnect(id) }) }
	w.faults.hold(hc)
	w.mu.Lock()
	w.conns[id] = &connLife{id: id, room: room, a: d.a} // never up for its client
	w.mu.Unlock()
	w.event(func() { w.h.ConnectAsID(id, d.a.id, d.a.user, map[string]string{"room": room}) })
	w.logf("%s (%s) overtaken $connect to %s returned", id, d, room)
	w.h.GW.Vanish(id) // ConnectAsID opened it on a 200: the client is gone
	if !hc.fired.Swap(true) {
		w.event(func() { w.h.Disconnect(id) }) // it never reached the point: closed after
	}
}

// rename renames the account from this tab.
func (w *world) rename(d *device, name string) {
	_, ans, t0, t1 := w.send(d, "setName", fmt.Sprintf(`"name":%q`, name))
	a := d.a
	w.mu.Lock()
	if ans.Type == "error" && ans.Code == "internal" && a.unsure.IsZero() {
		a.unsure = t0 // it may have landed, or half
	}
	if !a.unsure.IsZero() {
		a.tried = append(a.tried, name)
	}
	w.mu.Unlock()
	if ans.Type == "renamed" && chat.NameKey(ans.OldName) != chat.NameKey(ans.Name) {
		w.release(a, ans.OldName, t0, t1)
		w.hold(a, ans.Name, t0, t1)
	}
}

// public sends a public message to the tab's room.
func (w *world) public(d *device) {
	text := fmt.Sprintf("pub.%s.%d.%d", d.a.user, d.n, d.a.seq.Add(1))
	w.mu.Lock()
	w.publics[text] = d.room
	w.mu.Unlock()
	_, ans, _, _ := w.send(d, "sendPublic", fmt.Sprintf(`"message":%q`, text))
	if ans.Type == "public" && ans.ID != "" {
		w.mu.Lock()
		d.a.published = append(d.a.published, published{room: d.room, id: ans.ID})
		w.mu.Unlock()
	}
}

// private sends a private message to one or two people the page lists
// (the sender may be among them, as on the page).
func (w *world) private(d *device) {
	names := d.page.Names()
	if len(names) == 0 {
		return
	}
	var to []string
	for range 1 + d.a.rng.IntN(2) {
		to = append(to, names[d.a.rng.IntN(len(names))])
	}
	text := fmt.Sprintf("priv.%s.%d.%d", d.a.user, d.n, d.a.seq.Add(1))
	quoted := make([]string, len(to))
	for i, n := range to {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	_, ans, t0, t1 := w.send(d, "sendPrivate", fmt.Sprintf(`"to":[%s],"message":%q`, strings.Join(quoted, ","), text))
	w.mu.Lock()
	w.privates = append(w.privates, &privateSend{from: d.a, room: d.room, text: text, to: to, t0: t0, t1: t1, answer: ans})
	w.mu.Unlock()
}

// ping is the page's keep-alive: the pong's count is the page's count.
func (w *world) ping(d *device) {
	var resp string
	w.event(func() { resp = w.h.Send(d.conn.id, `{"action":"ping"}`) })
	w.tally.frames.Add(1)
	if resp != "" {
		w.receive(d, d.conn, []byte(resp))
	}
	w.drain(d)
}

// reauth renews the tab's sign-in with a fresh token of its account, as
// the page does when it renews its tokens: answered reauthed whatever the
// record meets meanwhile (a rename, another tab's reauth), or
// not_connected once its removal has begun.
func (w *world) reauth(d *device) {
	_, ans, _, _ := w.send(d, "reauth", fmt.Sprintf(`"token":%q`, chattest.Token(d.a.id, d.a.user)))
	switch {
	case ans.Type == string(chat.KindReauthed):
	case ans.Type == string(chat.KindError) && ans.Code == contract.CodeNotConnected:
	default:
		w.viol.add("reauth", "%s's reauth was answered %+v", d, ans)
	}
}

// jump moves the harness's clock past the stale grace, so that the next
// broadcasts remove the connections that vanished before it; no event is
// being handled meanwhile (world.clock).
func (w *world) jump() {
	w.tally.clockJumps.Add(1)
	w.clock.Lock()
	defer w.clock.Unlock()
	w.logf("the clock jumps 31 s")
	w.h.Advance(31 * time.Second) // chat.Options.StaleGrace's default is 30 s
	// In 31 s the index and the reads would have caught up: without this
	// a member list read right after the jump lags by milliseconds of real
	// time behind changes the clock puts 31 s back (its stamp, 2 s before
	// the read, no longer covers them).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.h.DynamoDB.Settle(ctx); err != nil {
		w.viol.add("settle", "the index did not catch up after a clock jump: %v", err)
	}
}
