package chat_test

// The randomized checker's account deletions: the last account of each
// scenario deletes itself at a random step (account.deleteAt), from one of
// its tabs (deleteAccount, as the page does after asking) or by an
// operator's event, sometimes while another of its tabs connects. Its
// goroutine does nothing more after it. What people notice, checked at rest
// (checkDeleted): its names are free for others (no name item is its), it
// has no device and no record (no room lists it; checkRooms holds every
// room's count to its people), its token admits no $connect, no tab of it
// stays open posting, and its messages stay without its account.

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// deleteAccount deletes the account, sometimes while another of its tabs
// connects (the deletion runs from inside that $connect, held before one
// of its requests), then takes its tabs down as their browsers would see
// it: closed by the server (their $disconnect runs, as API Gateway sends
// it), or still open and refused.
func (w *world) deleteAccount(a *account) {
	var live, idle []*device
	for _, d := range a.devices {
		if d.conn != nil {
			live = append(live, d)
		} else {
			idle = append(idle, d)
		}
	}
	byPage := len(live) > 0 && a.rng.IntN(3) != 0
	var tab *device
	if byPage {
		tab = live[a.rng.IntN(len(live))]
	}
	t0 := time.Now()
	done := false
	if len(idle) > 0 && a.rng.IntN(2) == 0 {
		w.tally.op("delete while connecting")
		d, room := idle[0], w.rooms[a.rng.IntN(len(w.rooms))]
		id := chattest.NewConnID()
		c := &connLife{id: id, room: room, a: a}
		hc := &heldConnect{id: id, at: 1 + a.rng.IntN(4)}
		// The point may be reached by another invocation's request naming
		// the connection (a broadcast meeting it while it connects reads
		// its record), whose deletion then runs beside this $connect:
		// waited for below, not read while it runs.
		ran := make(chan struct{})
		hc.run = func() { defer close(ran); done = w.deleteNow(w.nested, a, tab) }
		w.faults.hold(hc)
		w.mu.Lock()
		w.conns[id] = c
		w.mu.Unlock()
		var status int
		w.event(func() { status = w.h.ConnectAsID(id, a.id, a.user, map[string]string{"room": room}).StatusCode })
		w.logf("%s (%s) connected to %s while its account was deleted: %d", id, d, room, status)
		if !hc.fired.Swap(true) {
			done = w.deleteNow(w.event, a, tab) // the point was never reached
		} else {
			<-ran
		}
		if status == 200 {
			c.up = time.Now()
			d.conn, d.room, d.page = c, room, &chattest.Page{}
		}
	} else {
		done = w.deleteNow(w.event, a, tab)
	}
	t1 := time.Now()
	w.logf("%s deleted (%v)", a.user, done)
	if !done {
		w.viol.add("deleted", "%s could not be deleted, by its page or an operator", a.user)
	}
	a.deleted = true
	w.releaseAll(a, t0, t1)
	closed := w.h.GW.Closed()
	for _, d := range a.devices {
		if d.conn == nil {
			continue
		}
		if !slices.Contains(closed, d.conn.id) {
			// Open after the deletion: its frames must reach nobody.
			if _, ans, _, _ := w.send(d, "sendPublic", `"message":"after my deletion"`); ans.Type == "public" {
				w.viol.add("deleted", "%s, open after its account's deletion, still posts", d)
			}
		}
		c := w.down(d)
		w.logf("%s (%s) closed by the deletion", c.id, d)
		w.event(func() { w.h.Disconnect(c.id) })
	}
	id := chattest.NewConnID()
	var status int
	w.event(func() { status = w.h.ConnectAsID(id, a.id, a.user, map[string]string{"room": w.rooms[0]}).StatusCode })
	if status == 200 {
		w.viol.add("deleted", "%s's token connected after its deletion", a.user)
		w.event(func() { w.h.Disconnect(id) })
	}
}

// deleteNow deletes the account from the tab (the page's deleteAccount),
// or by an operator when there is no tab or the page's failed; ev handles
// each event (world.event, or nested inside a held $connect). It reports
// whether the deletion was answered done.
func (w *world) deleteNow(ev func(func()), a *account, tab *device) bool {
	if tab != nil {
		w.tally.op("delete (page)")
		for range 3 {
			if tab.conn == nil {
				break
			}
			_, ans, _, _ := w.sendVia(ev, tab, contract.ActionDeleteAccount, "")
			if ans.Type == string(chat.KindAccountDeleted) {
				return true
			}
			if ans.Type != "error" || (ans.Code != contract.CodeInternal && ans.Code != contract.CodeNotConnected) {
				w.viol.add("deleted", "%s's deleteAccount was answered %+v", tab, ans)
				break
			}
		}
	}
	// The page's deletion failed (or there was no tab): an operator
	// deletes it, again until it is answered.
	w.tally.op("delete (operator)")
	for range 5 {
		if r := w.operatorDelete(ev, a); r == contract.ResultDone || r == contract.ResultAlready {
			return true
		}
	}
	return false
}

// operatorDelete sends the operator's deleteAccount, as `aws lambda
// invoke` does, and returns its result ("" when it failed).
func (w *world) operatorDelete(ev func(func()), a *account) string {
	req, _ := json.Marshal(map[string]any{contract.OperatorEventKey: contract.OperatorRequest{
		Op: contract.OpDeleteAccount, Account: a.id, Username: a.user, Reason: "checker"}})
	var out any
	var err error
	ev(func() { out, err = w.h.Service.Invoke(context.Background(), req) })
	var ans contract.OperatorAnswer
	if data, merr := json.Marshal(out); err == nil && merr == nil {
		err = json.Unmarshal(data, &ans)
	}
	w.logf("operator deletes %s: %+v (%v)", a.user, ans, err)
	if err != nil {
		return ""
	}
	if ans.Error != "" && ans.Error != contract.CodeInternal {
		w.viol.add("deleted", "the operator's deletion of %s was answered %+v", a.user, ans)
	}
	return ans.Result
}

// releaseAll records that the deleted account gave up every name it held
// within [r0, r1].
func (w *world) releaseAll(a *account, r0, r1 time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, hs := range w.holds {
		for _, hd := range hs {
			if hd.a == a && hd.r0.IsZero() {
				hd.r0, hd.r1 = r0, r1
			}
		}
	}
}

// checkDeleted: a deleted account is a tombstone without devices, holds no
// name, and no room has a record of it.
func (w *world) checkDeleted(tb tables) {
	for _, a := range w.accounts {
		if !a.deleted {
			continue
		}
		acct, err := w.h.Store.Account(context.Background(), a.id)
		if err != nil {
			w.t.Fatal(err)
		}
		if acct.Deleted.IsZero() || len(acct.Devices) != 0 {
			w.viol.add("deleted", "%s after its deletion: deleted %v, devices %+v", a.user, acct.Deleted, acct.Devices)
		}
		for k, owner := range tb.owners {
			if owner == a.id {
				w.viol.add("deleted", "the name %q still belongs to the deleted %s", k, a.user)
			}
		}
		for _, p := range a.published {
			// Its messages stay, under the name they were sent with,
			// without its account.
			msg, err := w.h.Store.Message(context.Background(), p.room, p.id)
			if err != nil || msg.From == "" || msg.FromAccount != "" || msg.FromUsername != "" {
				w.viol.add("deleted", "the deleted %s's message %s in %s is %+v (%v)", a.user, p.id, p.room, msg, err)
			}
		}
		for _, c := range tb.conns {
			if c.AccountID == a.id {
				w.viol.add("deleted", "%s lists the deleted %s (connection %s, %q)", c.Room, a.user, c.ID, c.Name)
			}
		}
	}
}
