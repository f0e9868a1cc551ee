package chat_test

// The crash points of a public message with a mention (crash_test.go): alice
// says "@bob look"; killed after any of its lookups or its write, she sends
// it again (no answer), and every record of it marks bob, as he held his name
// in the room throughout. And bob edits his "meet at 5" to "@alice meet at
// 6": killed anywhere, the record reads the old text unmarked or the new one
// marking alice, and after his retry the new one marking alice.

import (
	"context"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

func init() {
	crashScenarios = append(crashScenarios, crashScenario{route: contract.RouteSendPublic, what: "alice-mentions-bob", open: true, signed: true,
		start: func(r *crashRoom) (func(context.Context), func(bool)) {
			const text = "@bob look"
			invoke, after := r.retried(r.conn("alice", ""), contract.RouteSendPublic, "m1", `,"message":"`+text+`"`, "public")
			return invoke, func(killed bool) {
				after(killed)
				recs, _, err := r.h.Store.History(context.Background(), crashRoomName, "", 50)
				if err != nil {
					r.problem("mentions", "read the history: %v", err)
				}
				for _, m := range recs {
					if m.Message == text && (len(m.Mentions) != 1 || chat.Fold(m.Mentions[0].Name) != "bob") {
						r.problem("mentions", "alice's mention of bob was recorded with mentions %+v", m.Mentions)
					}
				}
			}
		}})
	crashScenarios = append(crashScenarios, crashScenario{route: "$default", what: "bob-edits-in-a-mention-of-alice", open: true, signed: true,
		start: func(r *crashRoom) (func(context.Context), func(bool)) {
			bob := r.conn("bob", "")
			const old, text = "meet at 5", "@alice meet at 6"
			id := r.sentMessage(bob, "public", `{"action":"sendPublic","message":"`+old+`"}`, old)
			invoke, after := r.editedAfter(bob, editSent{id: id, old: old, new: text, kind: chat.KindPublic})
			marks := func(when string) {
				msg, err := r.h.Store.MessageOf(context.Background(), chat.KindPublic, crashRoomName, id)
				switch {
				case err != nil:
					r.problem("mentions", "read the message %s: %v", when, err)
				case msg.Message == old && len(msg.Mentions) != 0:
					r.problem("mentions", "the old text marks %+v %s", msg.Mentions, when)
				case msg.Message == text && (len(msg.Mentions) != 1 || chat.Fold(msg.Mentions[0].Name) != "alice"):
					r.problem("mentions", "the edit that mentions alice marks %+v %s", msg.Mentions, when)
				}
			}
			return invoke, func(killed bool) {
				marks("after the kill")
				after(killed)
				marks("after the retry")
			}
		}})
}
