package chat_test

// The randomized checker's moderation acts: the first account is a
// moderator (its verified token's group), and acts on itself, so that
// only its own goroutine drives the devices an act closes: it mutes itself
// (its next public message must be refused muted) then lifts the mute, bans
// itself from the tab's room then lifts the ban, or kicks itself from it.
// A ban or kick closes its other tabs in the room, which then run their
// $disconnect. The check: each act answered moderated is in the record
// (at least once; at most once per frame sent), and no sanction is left.

import (
	"context"
	"fmt"
	"slices"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// moderationSend is an act the checker sent, and its answer.
type moderationSend struct {
	a      *account
	act    string
	room   string
	answer frame
}

// moderate is one self-act of the account's; an account that is not the
// moderator sends a public message instead.
func (w *world) moderate(d *device) {
	if d.a != w.accounts[0] {
		w.public(d)
		return
	}
	switch d.a.rng.IntN(3) {
	case 0:
		if w.act(d, "mute", `,"minutes":1`).Type == contract.FrameModerated {
			_, ans, _, _ := w.send(d, "sendPublic", `"message":"while muted"`)
			if ans.Type != "error" || (ans.Code != contract.CodeMuted && ans.Code != contract.CodeInternal &&
				ans.Code != contract.CodeNotConnected && ans.Code != contract.CodeRateLimited) {
				w.viol.add("mute", "%s's send after its mute was answered %+v", d, ans)
			}
		}
		w.lift(d, "unmute")
	case 1:
		w.act(d, "ban", "")
		w.closedByAct(d)
		w.lift(d, "unban")
	default:
		w.act(d, "kick", "")
		w.closedByAct(d)
	}
}

// act sends one act on the device's own account and returns its answer.
func (w *world) act(d *device, act, fields string) frame {
	w.h.MakeModerator(d.conn.id)
	room := d.room
	_, ans, _, _ := w.send(d, act, fmt.Sprintf(`"account":%q%s`, d.a.id, fields))
	switch {
	case ans.Type == contract.FrameModerated && ans.Act == act && ans.Account == d.a.id:
	case ans.Type == "error" && (ans.Code == contract.CodeInternal || ans.Code == contract.CodeNotConnected ||
		ans.Code == contract.CodeRateLimited || ans.Code == contract.CodeReauthRequired):
	default:
		w.viol.add("moderate", "%s's %s was answered %+v", d, act, ans)
	}
	w.mu.Lock()
	w.acts = append(w.acts, &moderationSend{a: d.a, act: act, room: room, answer: ans})
	w.mu.Unlock()
	return ans
}

// lift lifts the sanction, trying again while it is not answered (the
// checker's accounts must end free).
func (w *world) lift(d *device, act string) {
	for range 5 {
		if d.conn == nil || w.act(d, act, "").Type == contract.FrameModerated {
			return
		}
	}
}

// closedByAct takes down the account's other tabs in the room that the act
// closed, and runs their $disconnect, as API Gateway does.
func (w *world) closedByAct(d *device) {
	closed := w.h.GW.Closed()
	for _, o := range d.a.devices {
		if o != d && o.conn != nil && slices.Contains(closed, o.conn.id) {
			c := w.down(o)
			w.logf("%s (%s) closed by a moderation act", c.id, o)
			w.event(func() { w.h.Disconnect(c.id) })
		}
	}
}

// checkActs: each act answered moderated is logged (at least once, at most
// once per frame sent), and no account is left muted or banned.
func (w *world) checkActs() {
	logged := map[string]int{} // account/room/act → records
	for _, room := range w.rooms {
		for _, a := range activityLog(w.t, w.h, room) {
			if a.Kind == chat.KindModerated && len(a.ToAccounts) == 1 {
				logged[a.ToAccounts[0]+"/"+room+"/"+a.Act]++
			}
		}
	}
	answered, sent := map[string]int{}, map[string]int{}
	for _, s := range w.acts {
		k := s.a.id + "/" + s.room + "/" + s.act
		sent[k]++
		if s.answer.Type == contract.FrameModerated {
			answered[k]++
		}
	}
	for k, n := range sent {
		if logged[k] < answered[k] || logged[k] > n {
			w.viol.add("moderate", "%s: %d answered moderated of %d sent, %d logged", k, answered[k], n, logged[k])
		}
	}
	for _, a := range w.accounts {
		acct, err := w.h.Store.Account(context.Background(), a.id)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, room := range w.rooms {
			if _, banned := acct.Banned(room, w.h.Now()); banned {
				w.viol.add("moderate", "%s is still banned from %s", a.user, room)
			}
		}
	}
}
