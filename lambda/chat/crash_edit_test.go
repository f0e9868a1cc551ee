package chat_test

// The crash points of edit (crash_test.go): bob edits his public message, or
// his private message to alice; killed after any request, the message is
// either its old text or its new one in the record, never lost; he sends
// the edit again (no answer), and the room must end with the new text in
// the record, the edit logged once, and exactly the message's readers told.

import (
	"context"
	"fmt"
	"slices"

	"github.com/groupchat/groupchat/lambda/chat"
)

// editSent is an edit a scenario makes: the message, its text before and
// after, and the connections that must be told (nil: every open one).
type editSent struct {
	id, old, new string
	kind         chat.Kind
	want         []string
	people       []string // a private message's participants, whose copies it has
}

func init() {
	crashScenarios = append(crashScenarios,
		crashScenario{route: "$default", what: "bob-edits-his-message", open: true, signed: true,
			start: func(r *crashRoom) (func(context.Context), func(bool)) {
				bob := r.conn("bob", "")
				id := r.sentMessage(bob, "public", `{"action":"sendPublic","message":"meet at 5"}`, "meet at 5")
				return r.editedAfter(bob, editSent{id: id, old: "meet at 5", new: "meet at 6", kind: chat.KindPublic})
			}},
		crashScenario{route: "$default", what: "bob-edits-his-private-to-alice", open: true, signed: true,
			start: func(r *crashRoom) (func(context.Context), func(bool)) {
				bob := r.conn("bob", "")
				id := r.sentMessage(bob, "private", `{"action":"sendPrivate","to":["alice"],"message":"psst 5"}`, "psst 5")
				r.privates = append(r.privates, privateSent{from: bob, message: "psst 5", want: r.inRoom("alice", "bob")})
				return r.editedAfter(bob, editSent{id: id, old: "psst 5", new: "psst 6", kind: chat.KindPrivate,
					want: r.inRoom("alice", "bob"), people: []string{"alice", "bob"}})
			}},
		// To two: the edit draws one unit more once the message is read
		// (a second charge, a crash point of its own).
		crashScenario{route: "$default", what: "bob-edits-his-private-to-alice-and-carol", open: true, signed: true,
			start: func(r *crashRoom) (func(context.Context), func(bool)) {
				bob := r.conn("bob", "")
				id := r.sentMessage(bob, "private", `{"action":"sendPrivate","to":["alice","carol"],"message":"psst 7"}`, "psst 7")
				r.privates = append(r.privates, privateSent{from: bob, message: "psst 7", want: r.inRoom("alice", "bob", "carol")})
				return r.editedAfter(bob, editSent{id: id, old: "psst 7", new: "psst 8", kind: chat.KindPrivate,
					want: r.inRoom("alice", "bob", "carol"), people: []string{"alice", "bob", "carol"}})
			}})
}

// sentMessage sends body from c (setup, not killed) and returns the id of
// the frame of typ echoing text.
func (r *crashRoom) sentMessage(c *crashConn, typ, body, text string) string {
	r.send(context.Background(), c, body)
	r.drain()
	for _, f := range c.frames {
		if f.Type == typ && f.Message == text {
			return f.ID
		}
	}
	r.t.Fatalf("setup: %q was not echoed", text)
	return ""
}

// editedAfter is the edit to kill, and what bob does after: the record
// checked at once (old or new text, never lost), then the edit sent again.
func (r *crashRoom) editedAfter(bob *crashConn, e editSent) (func(context.Context), func(bool)) {
	r.edits = append(r.edits, e)
	invoke, after := r.retried(bob, "edit", "e1", fmt.Sprintf(`,"id":%q,"message":%q`, e.id, e.new), "edited")
	return invoke, func(killed bool) {
		if msg, err := r.h.Store.MessageOf(context.Background(), e.kind, crashRoomName, e.id); err != nil {
			r.problem("edit", "message %s is lost from the record after the kill (%v)", e.id, err)
		} else if msg.Message != e.old && msg.Message != e.new {
			r.problem("edit", "message %s reads %q after the kill, neither %q nor %q", e.id, msg.Message, e.old, e.new)
		}
		after(killed)
	}
}

// checkEdits: each edited message has its new text in the record (the
// readers' copies too), the edit is logged once, and exactly its readers
// were told.
func (r *crashRoom) checkEdits(add func(string, string, ...any)) {
	for _, e := range r.edits {
		logged := 0
		for _, a := range activityLog(r.t, r.h, crashRoomName) {
			if a.Kind == chat.KindEdited && a.MessageID == e.id {
				logged++
				if a.Previous != e.old || a.Message != e.new {
					add("edit", "the edit of %s is logged as %q → %q", e.id, a.Previous, a.Message)
				}
			}
		}
		if logged != 1 {
			add("edit", "the activity log has %d edits of %s; it was edited once", logged, e.id)
		}
		msg, err := r.h.Store.MessageOf(context.Background(), e.kind, crashRoomName, e.id)
		if err != nil || msg.Message != e.new || msg.Edited.IsZero() {
			add("edit", "message %s in the record: %q edited %v (%v), want %q", e.id, msg.Message, msg.Edited, err, e.new)
		}
		if e.kind == chat.KindPrivate {
			for _, person := range e.people {
				reader := chat.Reader(chat.Connection{ResumeToken: r.people[person].token})
				if r.signed {
					reader = chat.Reader(chat.Connection{AccountID: person})
				}
				recs, _, err := r.h.Store.PrivateHistory(context.Background(), crashRoomName, reader, "", 50)
				if err != nil || !slices.ContainsFunc(recs, func(m chat.Record) bool { return m.ID == e.id && m.Message == e.new }) {
					add("edit", "%s's copy of %s does not read %q (%v)", person, e.id, e.new, err)
				}
			}
		}
		var told []string
		for _, c := range r.conns {
			if slices.ContainsFunc(c.frames, func(f frame) bool { return f.Type == "edited" && f.ID == e.id && f.Message == e.new }) {
				told = append(told, c.id)
			} else if c.open && e.want == nil {
				add("edit", "%s's page was never told %s was edited", c, e.id)
			}
		}
		if e.want != nil && !slices.Equal(slices.Sorted(slices.Values(told)), slices.Sorted(slices.Values(e.want))) {
			add("edit", "the edit of %s reached %s; it must reach %s", e.id, r.named(told), r.named(e.want))
		}
	}
}
