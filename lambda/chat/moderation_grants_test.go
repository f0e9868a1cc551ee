package chat_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
	"github.com/groupchat/groupchat/observability"
)

// Every DynamoDB operation the moderation acts make (and a muted send, a
// banned connection's frame and a banned $connect), on each table, is one
// the function is granted (observability.TableOperations, which
// infra/stack's tests hold to the role's policy): the acts need no new
// permission. Their closes are DELETE @connections, granted already.
func TestTheModerationActsMakeOnlyGrantedRequests(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "grants"
	mod, bob := h.JoinModerator("mod", room), h.JoinAs("bob", room)
	h.Settle()
	var mu sync.Mutex
	seen := map[[2]string]bool{}
	tables := map[string]string{h.Tables.Connections: contract.Connections.ID, h.Tables.Messages: contract.Messages.ID}
	h.DynamoDB.SetObserver(func(o ddbproxy.Observation) {
		mu.Lock()
		defer mu.Unlock()
		seen[[2]string{tables[o.Table], o.Op}] = true
	})
	for _, a := range []map[string]any{
		{"action": "mute", "account": "bob", "minutes": 5}, {"action": "unmute", "account": "bob"},
		{"action": "kick", "account": "bob"}, {"action": "ban", "account": "bob", "minutes": 60},
		{"action": "ban", "account": "bob", "scope": "env"}, {"action": "unban", "account": "bob", "scope": "env"},
	} {
		if fs := act(t, h, mod, a); len(fs) == 0 || fs[0].Type != contract.FrameModerated {
			t.Fatalf("%v: %v", a, types(fs))
		}
	}
	h.Send(bob, `{"action":"sendPublic","message":"banned"}`)
	connectTo(h, "bob", room)
	h.DynamoDB.SetObserver(nil)
	mu.Lock()
	defer mu.Unlock()
	if !seen[[2]string{"", "TransactWriteItems"}] {
		t.Error("no act made its transaction")
	}
	for k := range seen {
		table, op := k[0], k[1]
		if table == "" && op == "TransactWriteItems" {
			continue // each item is authorized as its Put, Update or Delete
		}
		if !slices.Contains(observability.TableOperations[table], op) {
			t.Errorf("%s on %q is made but not granted (observability.TableOperations: %v)", op, table, observability.TableOperations[table])
		}
	}
}
