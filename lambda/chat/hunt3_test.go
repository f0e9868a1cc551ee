package chat_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"strings"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/local/ddbproxy"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// Alice is in the lobby on her phone and in the kitchen on her laptop: the
// lobby counts her once, and when her phone closes the lobby is told she
// left, although her laptop is still connected elsewhere.
func TestClosingAlicesOnlyDeviceInARoomTellsItSheLeftWhileAnotherRoomHasHer(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "lobby")
	phone := h.JoinAs("alice", "lobby")
	h.JoinAs("alice", "kitchen") // her laptop, elsewhere
	h.Settle()
	inbox(t, h, bob)
	if n := roomCount(t, h, "lobby"); n != 2 {
		t.Errorf("the lobby counts %d with bob and alice, want 2", n)
	}
	if n := roomCount(t, h, "kitchen"); n != 1 {
		t.Errorf("the kitchen counts %d with alice, want 1", n)
	}
	h.Disconnect(phone)
	h.Settle()
	left := false
	for _, f := range inbox(t, h, bob) {
		left = left || (f.Type == "left" && f.Name == "alice" && f.Count == 1)
	}
	if !left {
		t.Error("bob was not told alice left the lobby, whose only device of hers closed")
	}
	if n := roomCount(t, h, "lobby"); n != 1 {
		t.Errorf("the lobby counts %d after alice's only device there closed, want 1", n)
	}
	if n := roomCount(t, h, "kitchen"); n != 1 {
		t.Errorf("the kitchen counts %d, want 1 (alice's laptop)", n)
	}
}

// Alice renames on her phone while her laptop closes, and again while a
// new tab connects: the room still counts her once and lists her once.
func TestRenamingWhileAnotherDeviceComesAndGoesCountsAliceOnce(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "lobby")
	phone, laptop := h.JoinAs("alice", "lobby"), h.JoinAs("alice", "lobby")
	h.Settle()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); h.Send(phone, `{"action":"setName","name":"Alicia"}`) }()
	go func() { defer wg.Done(); h.Disconnect(laptop) }()
	wg.Wait()
	var tab string
	wg.Add(2)
	go func() { defer wg.Done(); h.Send(phone, `{"action":"setName","name":"Ally"}`) }()
	go func() { defer wg.Done(); tab = h.JoinAs("alice", "lobby") }()
	wg.Wait()
	h.Settle()
	if n := roomCount(t, h, "lobby"); n != 2 {
		t.Errorf("the lobby counts %d with bob and alice, want 2", n)
	}
	for _, id := range []string{bob, phone, tab} {
		n, names := memberPage(t, h, id)
		if n != 2 || len(names) != 2 {
			t.Errorf("a member page says %d with %q, want 2 people", n, names)
		}
	}
}

// Alice is in the lobby on her phone; her laptop's $connect dies after
// each of its DynamoDB requests in turn, and the laptop gives up (a failed
// handshake leaves no connection: API Gateway never sends its
// $disconnect). Her phone then closes, and a minute later bob speaks. The
// room must end counting bob alone, and bob's page must not show alice.
func TestAliceLeavesOnceHerPhoneClosesAfterHerLaptopsConnectDiedAndWasAbandoned(t *testing.T) {
	t.Parallel()
	probe := chattest.New(t, chattest.SignedIn)
	probe.JoinAs("bob", "lobby")
	probe.JoinAs("alice", "lobby")
	probe.Settle()
	all := probe.Cut(-1, func(ctx context.Context) {
		probe.SignIn("probe-laptop", "alice", "alice")
		probe.Invoke(ctx, "probe-laptop", contract.RouteConnect, "", map[string]string{"room": "lobby"})
	})
	n := len(all.Requests())
	for k := 1; k < n; k++ {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			t.Parallel()
			h := chattest.New(t, chattest.SignedIn)
			bob := h.JoinAs("bob", "lobby")
			phone := h.JoinAs("alice", "lobby")
			h.Settle()
			p := pageOf(t, h, bob)
			laptop := chattest.NewConnID()
			crash := h.Cut(k, func(ctx context.Context) {
				h.SignIn(laptop, "alice", "alice")
				h.Invoke(ctx, laptop, contract.RouteConnect, "", map[string]string{"room": "lobby"})
			})
			killed, after := crash.Killed()
			if !killed {
				t.Skipf("not killed at %d", k)
			}
			h.Disconnect(phone)
			h.Settle()
			h.Advance(time.Minute)
			h.Send(bob, `{"action":"sendPublic","message":"anyone?"}`)
			h.Settle()
			follow(t, h, p, bob)
			if c := roomCount(t, h, "lobby"); c != 1 {
				t.Errorf("killed after %s: the lobby counts %d with bob alone, want 1", after, c)
			}
			if names := p.Names(); !slices.Equal(names, []string{"bob"}) {
				t.Errorf("killed after %s: bob's page shows %q, want [bob]", after, names)
			}
		})
	}
}

// Alice's devices come and go in rounds, all at once: in each round two
// close, two connect and one renames her, together. After each round the
// room counts bob and alice (she always keeps a device), bob's page shows
// the two of them, and bob was never told she left.
func TestAlicesDevicesComingAndGoingTogetherNeverMakeHerLeave(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "lobby")
	devices := []string{h.JoinAs("alice", "lobby"), h.JoinAs("alice", "lobby"), h.JoinAs("alice", "lobby")}
	h.Settle()
	p := pageOf(t, h, bob)
	for round := range 6 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		closing, staying := devices[:2], devices[2]
		devices = []string{staying}
		for _, id := range closing {
			wg.Add(1)
			go func() { defer wg.Done(); h.Disconnect(id) }()
		}
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := h.JoinAs("alice", "lobby")
				mu.Lock()
				devices = append(devices, id)
				mu.Unlock()
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.Send(staying, fmt.Sprintf(`{"action":"setName","name":"Alice%d"}`, round))
		}()
		wg.Wait()
		h.Settle()
		for _, f := range follow(t, h, p, bob) {
			if f.Type == "left" {
				t.Errorf("round %d: bob was told %q left while alice kept a device", round, f.Name)
			}
		}
		if c := roomCount(t, h, "lobby"); c != 2 {
			t.Errorf("round %d: the lobby counts %d, want 2", round, c)
		}
		if names := p.Names(); len(names) != 2 {
			t.Errorf("round %d: bob's page shows %q, want bob and alice", round, names)
		}
		n, names := memberPage(t, h, bob)
		if n != 2 || len(names) != 2 {
			t.Errorf("round %d: a member page says %d with %q, want 2", round, n, names)
		}
	}
}

// Every other transaction that writes alice's items is cancelled with
// TransactionConflict while her phone and laptop connect at once, and again
// while they close at once: the room counts her once while either is there,
// bob is told she joined and, at the end, that she left.
func TestAlicesTwoDevicesUnderConflictsOnHerAccountCountOnce(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "lobby")
	h.Settle()
	p := pageOf(t, h, bob)
	var n atomic.Int64
	f := h.DynamoDB.Injected()
	f.Conflict = func(w ddbproxy.Write) bool {
		return w.Action == 0 && strings.Contains(string(w.Body), "alice") && n.Add(1)%2 == 1
	}
	h.DynamoDB.Inject(f)
	var phone, laptop string
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); phone = h.JoinAs("alice", "lobby") }()
	go func() { defer wg.Done(); laptop = h.JoinAs("alice", "lobby") }()
	wg.Wait()
	h.Settle()
	follow(t, h, p, bob)
	if c := roomCount(t, h, "lobby"); c != 2 {
		t.Errorf("with alice's two devices the lobby counts %d, want 2", c)
	}
	if names := p.Names(); !slices.Equal(names, []string{"alice", "bob"}) {
		t.Errorf("bob's page shows %q, want [alice bob]", names)
	}
	wg.Add(2)
	go func() { defer wg.Done(); h.Disconnect(phone) }()
	go func() { defer wg.Done(); h.Disconnect(laptop) }()
	wg.Wait()
	h.Settle()
	follow(t, h, p, bob)
	if c := roomCount(t, h, "lobby"); c != 1 {
		t.Errorf("after alice's two devices closed the lobby counts %d, want 1", c)
	}
	if names := p.Names(); !slices.Equal(names, []string{"bob"}) {
		t.Errorf("bob's page shows %q, want [bob]", names)
	}
	if n.Load() == 0 {
		t.Error("no transaction of alice's was asked about")
	}
}

// Dave's account is deleted while his laptop is still connected (its token
// lives up to an hour) and made again with the same username: the new
// account connects beside the old connection. Bob's room must never show
// two people called dave: the name is one person's at a time.
func TestARecreatedDaveAndHisOldAccountsConnectionAreNeverBothDave(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	if e := signUp(t, h, "PreSignUp_SignUp", testPool, "dave"); e != "" {
		t.Fatal(e)
	}
	bob, _ := h.ConnectAs("sub-bob", "bob", map[string]string{"room": "lobby"})
	old, _ := h.ConnectAs("sub-dave-1", "dave", map[string]string{"room": "lobby"})
	h.Settle()
	if e := signUp(t, h, "PreSignUp_SignUp", testPool, "dave"); e != "" {
		t.Fatalf("dave made again: %s", e)
	}
	again, _ := h.ConnectAs("sub-dave-2", "dave", map[string]string{"room": "lobby"})
	h.Settle()
	// The old account's laptop reconnects with its still-valid token.
	h.Disconnect(old)
	oldAgain, _ := h.ConnectAs("sub-dave-1", "dave", map[string]string{"room": "lobby"})
	h.Settle()
	s := state(t, h, bob)
	daves := 0
	for _, m := range s.Members {
		if m == "dave" {
			daves++
		}
	}
	a, b := state(t, h, again), state(t, h, oldAgain)
	if a.You == b.You {
		t.Errorf("the recreated dave and the old account's connection are both %q (bob's list: %q)", a.You, s.Members)
	}
	if daves > 1 {
		t.Errorf("bob's list shows dave %d times: %q", daves, s.Members)
	}
	if s.Count != len(s.Members) {
		t.Errorf("bob's state counts %d people and lists %q", s.Count, s.Members)
	}
}
