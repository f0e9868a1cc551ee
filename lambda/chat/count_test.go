package chat_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Three of five leave and a newcomer comes while the room index still lists
// the three: the newcomer's state counts the room as it is.
func TestANewcomersCountIsExactWhileTheIndexLags(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name string
		opts []chattest.Option
	}{{"without sign-in", nil}, {"with sign-in", []chattest.Option{chattest.SignedIn}}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			h := chattest.New(t, mode.opts...)
			ids := h.Populate("lobby", 5)
			h.DynamoDB.Inject(ddbproxy.Faults{IndexLag: time.Minute})
			for _, id := range ids[:3] {
				h.Disconnect(id)
			}
			var newcomer string
			if mode.opts == nil {
				newcomer = h.Join("newcomer", "")
			} else {
				newcomer = h.JoinAs("newcomer", "")
			}
			s := state(t, h, newcomer)
			if s.Count != 3 {
				t.Fatalf("the newcomer is told the room counts %d (members %v); it has 3", s.Count, s.Members)
			}
			var page struct{ Count int }
			if err := json.Unmarshal([]byte(h.Send(newcomer, `{"action":"members"}`)), &page); err != nil {
				t.Fatal(err)
			}
			if page.Count != 3 {
				t.Fatalf("the member page counts %d; the room has 3", page.Count)
			}
		})
	}
}
