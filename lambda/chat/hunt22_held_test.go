package chat_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// What held in the issue-22 hunt: attacks that found nothing, kept as tests.

// A name of 16 four-byte characters is 64 bytes and is taken; a 17th is
// refused as too long, as typed; and a name that NFKC makes longer than 32
// characters (U+FDFA is 18 after it) is refused though it is 2 as typed.
func TestANameAtSixtyFourBytesOfFourByteCharactersIsTakenAndOneMoreIsRefused(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	alice := h.JoinAs("alice", "")
	bob := h.JoinAs("bob", "")
	han := "\U00020000" // CJK Unified Ideographs Extension B: 4 bytes, NFKC-stable
	rename(t, h, alice, strings.Repeat(han, 16))
	h.Settle() // the room index, read by hello, lists both people
	if s := decodeListed(t, h.Send(bob, `{"action":"hello"}`)); len(s.Names) != 2 {
		t.Fatalf("bob's state after alice took 16 four-byte characters: %v", s.Names)
	}
	for _, tc := range []struct{ name, code string }{
		{strings.Repeat(han, 17), contract.CodeNameTooLong},
		{strings.Repeat("\uFDFA", 2), contract.CodeNameTooLong},
	} {
		h.GW.Take(alice)
		h.Send(alice, `{"action":"setName","name":`+strconvQuote(tc.name)+`}`)
		var got []string
		for _, f := range inbox(t, h, alice) {
			got = append(got, f.Type+":"+f.Code)
		}
		if len(got) != 1 || got[0] != "error:"+tc.code {
			t.Errorf("setName of %d characters, %d bytes: got %v, want error %s", len([]rune(tc.name)), len(tc.name), got, tc.code)
		}
	}
}

// Alice has her laptop and phone in Bob's room; she renames on the laptop
// while the phone closes. Bob's room counts two people, and his list shows
// her once, under her new name.
func TestAliceRenamingOnOneTabWhileClosingTheOtherStaysOnePerson(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	bob := h.JoinAs("bob", "")
	laptop := h.JoinAs("alice", "")
	phone := h.JoinAs("alice", "")
	h.Settle()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); h.Send(laptop, `{"action":"setName","name":"Alicia"}`) }()
	go func() {
		defer wg.Done()
		h.GW.Vanish(phone)
		h.Invoke(context.Background(), phone, contract.RouteDisconnect, "", nil)
	}()
	wg.Wait()
	h.Settle()
	var s struct {
		Count   int      `json:"count"`
		Members []string `json:"members"`
	}
	f := decodeListed(t, h.Send(bob, `{"action":"hello"}`))
	s.Members = f.Names
	st := decode(t, []byte(h.Send(bob, `{"action":"hello"}`)))
	s.Count = st.Count
	if s.Count != 2 || len(s.Members) != 2 || s.Members[0] != "Alicia" || s.Members[1] != "bob" {
		t.Errorf("bob's state: count %d, members %v; want 2 and [Alicia bob]", s.Count, s.Members)
	}
}
