package chat_test

// The crash points of a public message with a mention (crash_test.go): alice
// says "@bob look"; killed after any of its lookups or its write, she sends
// it again (no answer), and every record of it marks bob, as he held his name
// in the room throughout.

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
}
