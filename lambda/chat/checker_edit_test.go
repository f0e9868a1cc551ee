package chat_test

// The randomized checker's edit: a tab edits one of its account's public
// messages in its room (sometimes one it removed, or one past the 15
// minutes after a clock jump), and the checks that each edit answered
// edited is in the record's versions, and that a message whose edits were
// all answered reads the last of them.

import (
	"context"
	"fmt"
	"slices"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// editSend is an edit the checker sent, and its answer.
type editSend struct {
	from           *account
	room, id, text string
	answer         frame
}

// edit edits one of the account's public messages of the tab's room; a tab
// whose account has none there sends a public message instead.
func (w *world) edit(d *device) {
	w.mu.Lock()
	var mine []published
	for _, p := range d.a.published {
		if p.room == d.room {
			mine = append(mine, p)
		}
	}
	n := len(w.edits)
	w.mu.Unlock()
	if len(mine) == 0 {
		w.public(d)
		return
	}
	p := mine[d.a.rng.IntN(len(mine))]
	text := fmt.Sprintf("edit %d by %s", n, d.a.user)
	_, ans, _, _ := w.send(d, "edit", fmt.Sprintf(`"id":%q,"message":%q`, p.id, text))
	switch {
	case ans.Type == string(chat.KindEdited) && ans.ID == p.id && ans.Message == text && ans.Edited != 0:
	case ans.Type == string(chat.KindError) && (ans.Code == contract.CodeNotConnected || ans.Code == contract.CodeInternal ||
		ans.Code == contract.CodeReauthRequired || ans.Code == contract.CodeRateLimited || ans.Code == contract.CodeMessageRemoved ||
		ans.Code == contract.CodeEditExpired || ans.Code == contract.CodeBusy || ans.Code == contract.CodeMuted):
	default:
		w.viol.add("edit", "%s's edit of its own %s was answered %+v", d, p.id, ans)
	}
	w.mu.Lock()
	w.edits = append(w.edits, &editSend{from: d.a, room: p.room, id: p.id, text: text, answer: ans})
	w.mu.Unlock()
}

// checkEdits: an edit answered edited is one of its message's versions in
// the activity log, by its sender; a message every edit of which was
// answered edited (and not removed) reads the last of them.
func (w *world) checkEdits() {
	byMessage := map[string][]*editSend{}
	for _, e := range w.edits {
		byMessage[e.id] = append(byMessage[e.id], e)
	}
	logged := map[string][]activityRecord{}
	for _, e := range w.edits {
		if _, read := logged[e.room]; !read {
			logged[e.room] = nil
			for _, a := range activityLog(w.t, w.h, e.room) {
				if a.Kind == chat.KindEdited {
					logged[e.room] = append(logged[e.room], a)
				}
			}
		}
	}
	for id, es := range byMessage {
		all := true
		var last *editSend
		for _, e := range es {
			if e.answer.Type != string(chat.KindEdited) {
				all = false
				continue
			}
			if !slices.ContainsFunc(logged[e.room], func(a activityRecord) bool {
				// A deleted account's edits are taken off it with its
				// messages (design.md, Deleting an account).
				return a.MessageID == id && a.Message == e.text &&
					(a.FromAccount == e.from.id || e.from.deleted && a.FromAccount == "")
			}) {
				w.viol.add("edit", "%s's edit of %s to %q was answered edited, and the log has no such version", e.from.user, id, e.text)
			}
			if last == nil || e.answer.Edited > last.answer.Edited {
				last = e
			}
		}
		if !all || last == nil {
			continue
		}
		msg, err := w.h.Store.MessageOf(context.Background(), chat.KindPublic, last.room, id)
		if err != nil || (msg.Removed == nil && msg.Message != last.text) {
			w.viol.add("edit", "%s's message %s was last answered edited to %q, and the record reads %q (%v)", last.from.user, id, last.text, msg.Message, err)
		}
	}
}
