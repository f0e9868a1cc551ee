package chat_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/local/ddbproxy"
	"github.com/groupchat/groupchat/observability"
)

// Every DynamoDB operation an account's deletion and the operator's acts
// make, on each table, is one the function is granted: infra/stack's tests
// hold observability.TableOperations to the role's policy, and the local
// stack has no IAM to refuse what AWS would (the deletion's DeleteItem of
// private-history copies in Messages was not granted).
func TestTheDeletionAndTheOperatorsActsMakeOnlyGrantedRequests(t *testing.T) {
	t.Parallel()
	h, bob, daves := daveWithBob(t)
	var mu sync.Mutex
	seen := map[[2]string]bool{}
	tables := map[string]string{h.Tables.Connections: contract.Connections.ID, h.Tables.Messages: contract.Messages.ID}
	h.DynamoDB.SetObserver(func(o ddbproxy.Observation) {
		mu.Lock()
		defer mu.Unlock()
		seen[[2]string{tables[o.Table], o.Op}] = true
	})
	h.Send(bob, `{"action":"sendPublic","message":"to be removed"}`)
	h.Send(daves[0], `{"action":"deleteAccount"}`)
	operate(t, h, contract.OperatorRequest{Op: contract.OpCloseConnections, Username: "bob"})
	operate(t, h, contract.OperatorRequest{Op: contract.OpBan, Account: "sub-bob"})
	h.DynamoDB.SetObserver(nil)
	mu.Lock()
	defer mu.Unlock()
	for k := range seen {
		table, op := k[0], k[1]
		if table == "" && op == "TransactWriteItems" {
			continue // the items' tables: each is authorized as its Put, Update or Delete
		}
		if !slices.Contains(observability.TableOperations[table], op) {
			t.Errorf("%s on %q is made but not granted (observability.TableOperations: %v)", op, table, observability.TableOperations[table])
		}
	}
	if !seen[[2]string{contract.Messages.ID, "DeleteItem"}] {
		t.Error("the deletion deleted no private-history copy")
	}
}
