package chat_test

// The randomized checker's remove: a tab removes one of its account's
// public messages in its room (again, sometimes: the account may pick one
// it removed), and the check that each removal answered removed is
// removed in the record, by its sender.

import (
	"context"
	"fmt"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// published is a public message an account sent, as its echo said.
type published struct{ room, id string }

// removeSend is a remove the checker sent, and its answer.
type removeSend struct {
	from     *account
	room, id string
	answer   frame
}

// remove removes one of the account's public messages of the tab's room;
// a tab whose account has none there sends a public message instead.
func (w *world) remove(d *device) {
	w.mu.Lock()
	var mine []published
	for _, p := range d.a.published {
		if p.room == d.room {
			mine = append(mine, p)
		}
	}
	w.mu.Unlock()
	if len(mine) == 0 {
		w.public(d)
		return
	}
	p := mine[d.a.rng.IntN(len(mine))]
	_, ans, _, _ := w.send(d, "remove", fmt.Sprintf(`"id":%q,"reason":"checker"`, p.id))
	switch {
	case ans.Type == string(chat.KindRemoved) && ans.ID == p.id && ans.By == chat.RemovedBySender:
	case ans.Type == string(chat.KindError) && (ans.Code == contract.CodeNotConnected || ans.Code == contract.CodeInternal ||
		ans.Code == contract.CodeReauthRequired || ans.Code == contract.CodeRateLimited):
	default:
		w.viol.add("remove", "%s's remove of its own %s was answered %+v", d, p.id, ans)
	}
	w.mu.Lock()
	w.removals = append(w.removals, &removeSend{from: d.a, room: p.room, id: p.id, answer: ans})
	w.mu.Unlock()
}

// checkRemovals: a remove answered removed left the message removed in
// the record, by its sender.
func (w *world) checkRemovals() {
	for _, r := range w.removals {
		if r.answer.Type != string(chat.KindRemoved) {
			continue
		}
		msg, err := w.h.Store.Message(context.Background(), r.room, r.id)
		from := r.from.id
		if r.from.deleted {
			from = "" // its deletion took its account off its messages
		}
		if err != nil || msg.Removed == nil || msg.Removed.By != chat.RemovedBySender || msg.FromAccount != from {
			w.viol.add("remove", "%s's message %s in %s was answered removed, and the record has %+v (%v)", r.from.user, r.id, r.room, msg.Removed, err)
		}
	}
}
