package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// memberPage asks for the first page of the member list and returns its
// count and names.
func memberPage(t *testing.T, h *chattest.Harness, id string) (int, []string) {
	t.Helper()
	var page struct {
		Type    string
		Count   int
		Members []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(h.Send(id, `{"action":"members"}`)), &page); err != nil || page.Type != "memberPage" {
		t.Fatalf("members answered %+v (%v), want a memberPage", page, err)
	}
	names := make([]string, len(page.Members))
	for i, m := range page.Members {
		names[i] = m.Name
	}
	return page.Count, names
}

// roomCount is the room's count as the store keeps it.
func roomCount(t *testing.T, h *chattest.Harness, room string) int {
	t.Helper()
	n, err := h.Store.RoomCount(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Alice has five tabs open in a room where Bob is: the room has two
// people, and says so in its count and in its list.
func TestFiveTabsOfAliceInBobsRoomCountAsOnePerson(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "lobby")
	var tabs []string
	for range chat.DefaultMaxDevices {
		tabs = append(tabs, h.JoinAs("alice", "lobby"))
	}
	h.Settle()
	if n := roomCount(t, h, "lobby"); n != 2 {
		t.Errorf("the room's count is %d with bob and alice's %d tabs, want 2", n, len(tabs))
	}
	for _, id := range []string{bob, tabs[0], tabs[4]} {
		s := state(t, h, id)
		if s.Count != 2 || len(s.Members) != 2 {
			t.Errorf("a state says %d with members %q, want 2 and [alice bob]", s.Count, s.Members)
		}
		n, names := memberPage(t, h, id)
		if n != 2 || len(names) != 2 {
			t.Errorf("a member page says %d with members %q, want 2 and [alice bob]", n, names)
		}
	}
	for _, f := range inbox(t, h, bob) {
		if f.Type == "joined" && f.Name == "alice" && f.Count != 2 {
			t.Errorf("bob was told alice joined with a count of %d, want 2", f.Count)
		}
		if f.Type == "presence" && f.Count != 2 {
			t.Errorf("bob was told the room counts %d, want 2", f.Count)
		}
	}
}

// Eighteen people and Alice's five tabs make a room of nineteen, a small
// room: the next newcomer is announced by name.
func TestOneAccountsTabsDoNotMakeTheRoomBig(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "lobby")
	for i := range 17 {
		h.JoinAs(fmt.Sprintf("member-%d", i), "lobby")
	}
	for range chat.DefaultMaxDevices {
		h.JoinAs("alice", "lobby")
	}
	h.Settle()
	inbox(t, h, bob)
	h.JoinAs("carol", "lobby")
	h.Settle()
	got := inbox(t, h, bob)
	for _, f := range got {
		if f.Type == "joined" && f.Name == "carol" {
			if f.Count != 20 {
				t.Errorf("carol's joined counts %d, want 20", f.Count)
			}
			return
		}
	}
	t.Errorf("bob got %v when carol joined a room of 19 people, want her joined by name", types(got))
}

// Alice's two tabs connect at once, again and again: each time the room
// counts her once.
func TestTwoTabsConnectingAtOnceCountOnce(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	h.JoinAs("bob", "lobby")
	for i := range 6 {
		account := fmt.Sprintf("alice-%d", i)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.JoinAs(account, "lobby")
			}()
		}
		wg.Wait()
		if n := roomCount(t, h, "lobby"); n != 2+i {
			t.Fatalf("after %s's two tabs connected at once the room counts %d, want %d", account, n, 2+i)
		}
	}
}

// Alice closes one of her two tabs: Bob hears nothing and the count stays;
// she closes the other: Bob is told she left, and the count goes down.
func TestClosingOneOfAlicesTwoTabsTellsBobNothing(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "lobby")
	phone, laptop := h.JoinAs("alice", "lobby"), h.JoinAs("alice", "lobby")
	h.Settle()
	inbox(t, h, bob)
	if n := roomCount(t, h, "lobby"); n != 2 {
		t.Errorf("with bob and alice's two tabs the room counts %d, want 2", n)
	}
	h.Disconnect(phone)
	h.Settle()
	if got := inbox(t, h, bob); len(got) != 0 {
		t.Errorf("bob got %+v when alice closed one of her two tabs, want nothing: the room did not change", got)
	}
	if n := roomCount(t, h, "lobby"); n != 2 {
		t.Errorf("after alice closed one of two tabs the room counts %d, want 2", n)
	}
	h.Disconnect(laptop)
	h.Settle()
	got := inbox(t, h, bob)
	left := false
	for _, f := range got {
		left = left || (f.Type == "left" && f.Name == "alice" && f.Count == 1)
	}
	if !left {
		t.Errorf("bob got %v when alice closed her last tab, want her left with a count of 1", types(got))
	}
	if n := roomCount(t, h, "lobby"); n != 1 {
		t.Errorf("after alice closed her last tab the room counts %d, want 1", n)
	}
}

// countPeople counts a room's people as its count does: each signed-in account
// once however many of its connections are there, each connection without
// sign-in once. key returns a record's account ("" without sign-in) and
// connection id.
func countPeople[T any](records []T, key func(T) (account, id string)) int {
	seen := map[string]bool{}
	for _, r := range records {
		account, id := key(r)
		if account != "" {
			seen["a:"+account] = true
		} else {
			seen["c:"+id] = true
		}
	}
	return len(seen)
}
