package chat_test

// The crash points of remove (crash_test.go): bob removes his own public
// message; killed anywhere, he sends it again (no answer), and the room
// must end with the message removed in the record, the act logged once,
// and every page that was there told.

import (
	"context"
	"fmt"
	"slices"

	"github.com/groupchat/groupchat/lambda/chat"
)

func init() {
	crashScenarios = append(crashScenarios, crashScenario{route: "$default", what: "bob-removes-his-message", open: true, signed: true,
		start: func(r *crashRoom) (func(context.Context), func(bool)) {
			bob := r.conn("bob", "")
			r.send(context.Background(), bob, `{"action":"sendPublic","message":"to be removed"}`)
			r.drain()
			var id string
			for _, f := range bob.frames {
				if f.Type == "public" && f.Message == "to be removed" {
					id = f.ID
				}
			}
			if id == "" {
				r.t.Fatal("setup: bob's message was not echoed")
			}
			r.removed = append(r.removed, id)
			return r.retried(bob, "remove", "x1", fmt.Sprintf(`,"id":%q,"reason":"oops"`, id), "removed")
		}})
}

// checkRemovals: each removed message is removed in the record, logged
// once, and every page open since before the removal was told.
func (r *crashRoom) checkRemovals(add func(string, string, ...any)) {
	if len(r.removed) == 0 {
		return
	}
	logged := 0
	for _, a := range activityLog(r.t, r.h, crashRoomName) {
		if a.Kind == chat.KindRemoved {
			logged++
		}
	}
	if logged != len(r.removed) {
		add("removal", "the activity log has %d removals; %d messages were removed", logged, len(r.removed))
	}
	for _, id := range r.removed {
		msg, err := r.h.Store.Message(context.Background(), crashRoomName, id)
		if err != nil || msg.Removed == nil {
			add("removal", "message %s is not removed in the record (%v)", id, err)
		}
		for _, c := range r.conns {
			if c.open && !slices.ContainsFunc(c.frames, func(f frame) bool { return f.Type == "removed" && f.ID == id }) {
				add("removal", "%s's page was never told %s was removed", c, id)
			}
		}
	}
}
