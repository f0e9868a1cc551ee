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
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case 200:
				in = append(in, id)
			default:
				refused = append(refused, resp.Body)
				if resp.StatusCode != 429 {
					t.Errorf("a refused tab got status %d (%s), want 429", resp.StatusCode, resp.Body)
				}
			}
		}()
	}
	wg.Wait()
	return in, refused
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
func TestAliceGetsFiveTabsAtOnceAndTheSixthIsRefusedWithTheReason(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "lobby")
	in, refused := tabsAtOnce(t, h, 6)
	if len(in) != chat.DefaultMaxDevices || len(refused) != 1 {
		t.Fatalf("alice got %d of 6 tabs in (refused: %q), want %d", len(in), refused, chat.DefaultMaxDevices)
	}
	if code := refusalCode(t, refused[0]); code != contract.CodeTooManyDevices {
		t.Errorf("the sixth tab was refused with %q, want %q", code, contract.CodeTooManyDevices)
	}
	if _, resp := h.ConnectAs("alice", "alice", map[string]string{"room": "other"}); resp.StatusCode != 429 {
		t.Errorf("a seventh tab, in another room, got %d, want 429", resp.StatusCode)
	}
	h.Disconnect(in[0])
	if _, resp := h.ConnectAs("alice", "alice", map[string]string{"room": "lobby"}); resp.StatusCode != 200 {
		t.Errorf("after closing a tab, a new one got %d (%s), want 200", resp.StatusCode, resp.Body)
	}
	h.Settle()
	inbox(t, h, bob)
}

// Sixty connects of one account racing never hold more than five.
func TestSixtyRacingConnectsOfOneAccountGetFiveIn(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	in, _ := tabsAtOnce(t, h, 60)
	if len(in) != chat.DefaultMaxDevices {
		t.Errorf("60 racing connects of alice got %d in, want %d", len(in), chat.DefaultMaxDevices)
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
	if _, resp := h.ConnectAs("alice", "alice", map[string]string{"room": "lobby"}); resp.StatusCode != 200 {
		t.Errorf("alice's fifth tab (a dead one on her account) got %d (%s), want 200", resp.StatusCode, resp.Body)
	}
}
