package chat_test

import (
	"bytes"
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Alice's laptop is in Bob's room. She opens a second tab and closes it at
// once: its $disconnect overtakes its $connect (it runs whole after the
// record was put and before the device was added), and the $connect dies
// right after adding the device, before it could see that the record was
// gone. Then she closes the laptop's tab, her last: Bob must be told she
// left. (No record is left for a broadcast to find: only the account's item
// remembers the second tab, as a device in the room for two hours.)
func TestBobSeesAliceLeaveAfterATabWhoseCloseOvertookItsConnectDied(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob, laptop := h.JoinAs("bob", ""), h.JoinAs("alice", "")
	h.Settle()
	p := pageOf(t, h, bob)
	tab := chattest.NewConnID()
	h.SignIn(tab, "alice", "alice")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var closed, added, killed atomic.Bool
	var f ddbproxy.Faults
	f.Before = func(w ddbproxy.Write) {
		if w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"`+contract.AccountDevicePrefix+tab+`"`)) &&
			bytes.Contains(w.Body, []byte(`SET #d = :d`)) && closed.CompareAndSwap(false, true) {
			h.Disconnect(tab) // the close overtakes the $connect
			added.Store(true)
		}
	}
	f.Drop = func(w ddbproxy.Write) bool {
		// The $connect's next request after adding the device: it dies.
		if added.Load() && touches(w, tab) && killed.CompareAndSwap(false, true) {
			cancel()
			return true
		}
		return false
	}
	h.DynamoDB.Inject(f)
	h.Invoke(ctx, tab, contract.RouteConnect, "", map[string]string{})
	h.DynamoDB.Restore()
	if !closed.Load() || !killed.Load() {
		t.Fatalf("the tab's close did not overtake its $connect (%v) or the $connect was not killed (%v)", closed.Load(), killed.Load())
	}
	a, err := h.Store.Account(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("alice's devices after the dead $connect: %+v", a.Devices)
	h.Settle()
	follow(t, h, p, bob)
	h.Disconnect(laptop)
	h.Settle()
	fs := follow(t, h, p, bob)
	t.Logf("bob got %v", types(fs))
	if names := p.Names(); !slices.Equal(names, []string{"bob"}) {
		t.Errorf("Bob's page shows %q after alice closed her last tab", names)
	}
}
