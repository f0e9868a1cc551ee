package chat_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// tabsAtOnce connects n tabs of alice at once and returns the ids let in and
// the $connect responses of those refused.
func tabsAtOnce(t *testing.T, h *chattest.Harness, n int) (in []string, refused []string) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, resp := h.ConnectAs("alice", "alice", map[string]string{"room": "lobby"})
			if resp.StatusCode != 200 {
				t.Errorf("a tab's handshake got %d (%s): a browser cannot read why", resp.StatusCode, resp.Body)
				return
			}
			reply := h.Send(id, `{"action":"hello"}`)
			mu.Lock()
			defer mu.Unlock()
			if isError(reply) {
				refused = append(refused, reply)
			} else {
				in = append(in, id)
			}
		}()
	}
	wg.Wait()
	return in, refused
}

func isError(reply string) bool {
	var f struct{ Type string }
	_ = json.Unmarshal([]byte(reply), &f)
	return f.Type == "error"
}

// tab opens one more tab of alice's in room and returns the answer to its
// hello: its state, or the error that says why it is not in.
func tab(t *testing.T, h *chattest.Harness, room string) string {
	t.Helper()
	id, resp := h.ConnectAs("alice", "alice", map[string]string{"room": room})
	if resp.StatusCode != 200 {
		t.Fatalf("a tab's handshake got %d (%s): a browser cannot read why", resp.StatusCode, resp.Body)
	}
	return h.Send(id, `{"action":"hello"}`)
}

func refusalCode(t *testing.T, body string) string {
	t.Helper()
	var p chat.Problem
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("the refusal's body %q is not an error: %v", body, err)
	}
	if p.Message == "" {
		t.Errorf("the refusal %q says nothing", body)
	}
	return p.Code
}

// Alice opens six tabs at once: five are let in, the sixth is refused at
// $connect with too_many_devices; when she closes one, a new tab gets in.
// (Her budget would refuse the seventh hello: the cap is what is tested.)
func TestAliceGetsFiveTabsAtOnceAndTheSixthIsRefusedWithTheReason(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	bob := h.JoinAs("bob", "lobby")
	in, refused := tabsAtOnce(t, h, 6)
	if len(in) != chat.DefaultMaxDevices || len(refused) != 1 {
		t.Fatalf("alice got %d of 6 tabs in (refused: %q), want %d", len(in), refused, chat.DefaultMaxDevices)
	}
	if code := refusalCode(t, refused[0]); code != contract.CodeTooManyDevices {
		t.Errorf("the sixth tab was refused with %q, want %q", code, contract.CodeTooManyDevices)
	}
	if reply := tab(t, h, "other"); !isError(reply) || refusalCode(t, reply) != contract.CodeTooManyDevices {
		t.Errorf("a seventh tab, in another room, got %s, want too_many_devices", reply)
	}
	h.Disconnect(in[0])
	if reply := tab(t, h, "lobby"); isError(reply) {
		t.Errorf("after closing a tab, a new one got %s, want its state", reply)
	}
	h.Settle()
	inbox(t, h, bob)
}

// Sixty connects of one account racing never hold more than five. (Past
// twenty a minute the connects would be refused first: the cap is what is
// tested.)
func TestSixtyRacingConnectsOfOneAccountGetFiveIn(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	in, refused := tabsAtOnce(t, h, 60)
	if len(in) != chat.DefaultMaxDevices {
		t.Errorf("60 racing connects of alice got %d in, want %d", len(in), chat.DefaultMaxDevices)
	}
	for _, r := range refused {
		if code := refusalCode(t, r); code != contract.CodeTooManyDevices {
			t.Errorf("a refused tab was told %q, want %q", code, contract.CodeTooManyDevices)
		}
	}
	a, err := h.Store.Account(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Devices) != chat.DefaultMaxDevices {
		t.Errorf("alice's account lists %d devices, want %d", len(a.Devices), chat.DefaultMaxDevices)
	}
}

// A tab whose $connect died after adding its device (its record gone with
// a close that overtook it) holds no slot for longer than a $connect takes:
// with four tabs open and that dead one, Alice still gets her fifth.
func TestADeadConnectsDeviceDoesNotKeepAliceFromHerFifthTab(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	for range 4 {
		h.JoinAs("alice", "lobby")
	}
	// The dead tab: a device on the account with no record behind it, as
	// TestBobSeesAliceLeaveAfterATabWhoseCloseOvertookItsConnectDied
	// leaves one.
	dead := chattest.NewConnID()
	if _, err := h.Store.AddDevice(context.Background(), "alice", chat.Device{ConnID: dead, Room: "lobby",
		ExpiresAt: h.Now().Add(2 * time.Hour)}, -1); err != nil {
		t.Fatal(err)
	}
	h.Advance(time.Minute)
	if reply := tab(t, h, "lobby"); isError(reply) {
		t.Errorf("alice's fifth tab (a dead one on her account) got %s, want its state", reply)
	}
}
