package chat_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// TestRequestsPerSignedInAction logs the DynamoDB requests (as the proxy
// counts them) of a signed-in person's join, private message, rename and
// leave in a room with one other person, and of a moderator's ban: the
// figures of docs/design.md ("Devices on the account item", "A ban ends
// the sign-in of its connections"). Run with -v to see them.
func TestRequestsPerSignedInAction(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "")
	mod, carol := h.JoinModerator("mod", "moderated"), h.JoinAs("carol", "moderated")
	var alice, laptop string
	steps := []struct {
		name string
		do   func()
	}{
		{"join (the account's first connection: it is named)", func() { alice = h.JoinAs("alice", "") }},
		{"join (a second device, in another room)", func() { laptop = h.JoinAs("alice", "other") }},
		{"private message", func() { h.Send(alice, `{"action":"sendPrivate","to":["bob"],"message":"hi"}`) }},
		{"rename (two devices, two rooms)", func() { h.Send(alice, `{"action":"setName","name":"Alicia"}`) }},
		{"leave (a device; another stays elsewhere)", func() { h.Disconnect(laptop) }},
		{"leave (the last device)", func() { h.Disconnect(alice) }},
		{"ban (one device in the room)", func() { h.Send(mod, `{"action":"ban","account":"carol"}`) }},
	}
	for _, s := range steps {
		before := h.DynamoDB.Counts()
		s.do()
		after := h.DynamoDB.Counts()
		var parts []string
		total := int64(0)
		for _, op := range slices.Sorted(maps.Keys(after)) {
			if n := after[op] - before[op]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", op, n))
				total += n
			}
		}
		t.Logf("%s: %d requests (%s)", s.name, total, strings.Join(parts, ", "))
	}
	inbox(t, h, bob)
	inbox(t, h, carol)
}
