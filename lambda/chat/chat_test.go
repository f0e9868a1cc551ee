package chat_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// sendErr sends a frame that must be refused and returns the error frame,
// wherever the route delivers it (route response or PostToConnection).
func sendErr(t *testing.T, h *chattest.Harness, id, body string) frame {
	t.Helper()
	var fs []frame
	if resp := h.Send(id, body); resp != "" {
		fs = append(fs, decode(t, []byte(resp)))
	}
	fs = append(fs, inbox(t, h, id)...)
	return only(t, fs, "error")
}

func TestConnectDefaultsToGuestInLobbyAndTellsTheRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice := h.Join("Alice", "")
	guest, resp := h.Connect(nil)
	if resp.StatusCode != 200 {
		t.Fatalf("connect without query: status %d", resp.StatusCode)
	}
	s := state(t, h, guest)
	if s.Room != "lobby" || !strings.HasPrefix(s.You, "guest-") || s.Warning != nil {
		t.Fatalf("state = room %q you %q warning %v; want lobby, a guest name, no warning", s.Room, s.You, s.Warning)
	}
	joined := only(t, inbox(t, h, alice), "joined")
	if joined.Name != s.You || joined.Room != "lobby" {
		t.Fatalf("Alice saw %+v, want %s joined lobby", joined, s.You)
	}
	if fs := inbox(t, h, guest); len(fs) != 0 {
		t.Fatalf("the newcomer received %v; it cannot receive before $connect returns", types(fs))
	}
}

func TestConnectRefusesAnInvalidRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	for _, room := range []string{"no spaces", strings.Repeat("r", 33), "-lead", "ünï"} {
		if _, resp := h.Connect(map[string]string{"room": room}); resp.StatusCode != 400 {
			t.Errorf("room %q: status %d, want 400", room, resp.StatusCode)
		}
	}
	if _, resp := h.Connect(map[string]string{"room": "Team-Blue_2"}); resp.StatusCode != 200 {
		t.Errorf("room Team-Blue_2: status %d, want 200", resp.StatusCode)
	}
}

func TestConnectWithTakenOrInvalidNameJoinsAsGuestWithWarning(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	h.Join("Alice", "")
	for _, tc := range []struct{ name, code string }{
		{"ALICE", "name_taken"},
		{" alice ", "name_taken"},
		{strings.Repeat("x", 33), "name_too_long"},
		{"bad\u0007bell", "name_invalid"},
		{"   ", "name_empty"},
	} {
		id, resp := h.Connect(map[string]string{"name": tc.name})
		if resp.StatusCode != 200 {
			t.Fatalf("connect as %q: status %d, want 200 (joins as a guest)", tc.name, resp.StatusCode)
		}
		s := state(t, h, id)
		if !strings.HasPrefix(s.You, "guest-") || s.Warning == nil || s.Warning.Code != tc.code {
			t.Errorf("connect as %q: you %q warning %+v; want a guest name and warning %s", tc.name, s.You, s.Warning, tc.code)
		} else if !strings.Contains(s.Warning.Message, s.You) {
			t.Errorf("warning %q does not tell the guest name %s", s.Warning.Message, s.You)
		}
	}
}

func TestHelloReturnsNameMembersHistoryAndLimits(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	bob := h.Join("bob", "")
	alice := h.Join("Alice", "")
	h.Join("Zed", "elsewhere")
	for i := range 55 {
		h.Send(bob, fmt.Sprintf(`{"action":"sendPublic","message":"m%d"}`, i))
	}
	h.Send(bob, `{"action":"sendPrivate","to":["Alice"],"message":"secret"}`)
	s := state(t, h, alice)
	if s.You != "Alice" || s.Room != "lobby" {
		t.Fatalf("you=%q room=%q", s.You, s.Room)
	}
	if !slices.Equal(s.Members, []string{"Alice", "bob"}) {
		t.Fatalf("members = %v, want [Alice bob] (sorted ignoring case, room only)", s.Members)
	}
	if len(s.History) != 50 || s.History[0].Message != "m5" || s.History[49].Message != "m54" {
		t.Fatalf("history has %d messages from %q to %q; want the 50 most recent public ones, oldest first",
			len(s.History), s.History[0].Message, s.History[len(s.History)-1].Message)
	}
	for _, m := range s.History {
		if m.Type != "public" || m.From != "bob" || m.ID == "" || m.TS == 0 {
			t.Fatalf("history entry %+v", m)
		}
	}
	if s.Limits == nil || s.Limits.NameMax != 32 || s.Limits.MessageMax != 2000 || s.Limits.RecipientsMax != 20 {
		t.Fatalf("limits = %+v", s.Limits)
	}
	if len(s.Resume) < 20 {
		t.Fatalf("resume token %q is too short to be a secret", s.Resume)
	}
}

func TestPingAnswersPong(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	id := h.Join("Alice", "")
	f := decode(t, []byte(h.Send(id, `{"action":"ping"}`)))
	if f.Type != "pong" || f.TS == 0 {
		t.Fatalf("ping answered %+v", f)
	}
}

func TestSendPublicReachesEveryoneInTheRoomExactlyOnce(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob, carol := h.Join("Alice", "r1"), h.Join("Bob", "r1"), h.Join("Carol", "r1")
	dave := h.Join("Dave", "r2")
	for _, id := range []string{alice, bob, carol, dave} {
		h.GW.Take(id)
	}
	if resp := h.Send(alice, `{"action":"sendPublic","message":"hi all","from":"Mallory","ref":"a1"}`); resp != "" {
		t.Fatalf("sendPublic has no route response, got %q", resp)
	}
	for _, id := range []string{alice, bob, carol} {
		f := only(t, inbox(t, h, id), "public")
		if f.From != "Alice" || f.Message != "hi all" || f.Room != "r1" || f.ID == "" || f.TS == 0 {
			t.Fatalf("delivered %+v; want Alice's message with id and time (the payload's from is ignored)", f)
		}
		if wantRef := map[bool]string{true: "a1", false: ""}[id == alice]; f.Ref != wantRef {
			t.Fatalf("ref = %q, want %q (only the sender's copy carries it)", f.Ref, wantRef)
		}
	}
	if fs := inbox(t, h, dave); len(fs) != 0 {
		t.Fatalf("another room received %v", types(fs))
	}
	if s := state(t, h, bob); len(s.History) != 1 || s.History[0].Message != "hi all" {
		t.Fatalf("history = %+v", s.History)
	}
}

func TestSendPrivateReachesOnlyTheRecipientsAndTheSender(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob, carol, dave := h.Join("Alice", ""), h.Join("Bob", ""), h.Join("Carol", ""), h.Join("Dave", "")
	eve := h.Join("Eve", "other")
	all := []string{alice, bob, carol, dave, eve}
	for _, id := range all {
		h.GW.Take(id)
	}
	h.Send(alice, `{"action":"sendPrivate","to":["bob","DAVE","Bob"],"message":"psst","ref":"p1"}`)
	got := map[string][]frame{}
	for _, id := range all {
		got[id] = inbox(t, h, id)
	}
	for _, id := range []string{alice, bob, dave} {
		f := only(t, got[id], "private")
		if f.From != "Alice" || f.Message != "psst" || !slices.Equal(f.To, []string{"Bob", "Dave"}) {
			t.Fatalf("delivered %+v; want from Alice to [Bob Dave] as the server spells them", f)
		}
	}
	if got[alice][0].Ref != "p1" || got[bob][0].Ref != "" {
		t.Fatalf("ref: sender %q, recipient %q", got[alice][0].Ref, got[bob][0].Ref)
	}
	for _, id := range []string{carol, eve} {
		if len(got[id]) != 0 {
			t.Fatalf("a non-recipient received %v", types(got[id]))
		}
	}
	if s := state(t, h, carol); len(s.History) != 0 {
		t.Fatalf("a private message shows in the public history: %+v", s.History)
	}

	// Naming yourself: one copy.
	h.Send(bob, `{"action":"sendPrivate","to":["Bob"],"message":"note to self"}`)
	only(t, inbox(t, h, bob), "private")
	// Someone in another room is unknown here, and nothing is sent.
	e := sendErr(t, h, alice, `{"action":"sendPrivate","to":["Eve","Bob","Zed"],"message":"x","ref":"p2"}`)
	if e.Code != "recipients_unknown" || !slices.Equal(e.Unknown, []string{"Eve", "Zed"}) || e.Ref != "p2" || e.Action != "sendPrivate" {
		t.Fatalf("error = %+v; want recipients_unknown naming Eve and Zed", e)
	}
	for _, id := range all {
		if fs := inbox(t, h, id); len(fs) != 0 {
			t.Fatalf("a refused private message delivered %v", types(fs))
		}
	}
}

func TestSetNameRenamesAndTellsTheRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	other := h.Join("Zed", "other")
	h.GW.Take(alice)
	h.GW.Take(other)
	h.Send(alice, `{"action":"setName","name":"  Ally ","ref":"n1"}`)
	a, b := only(t, inbox(t, h, alice), "renamed"), only(t, inbox(t, h, bob), "renamed")
	if a.OldName != "Alice" || a.Name != "Ally" || a.Ref != "n1" || b.Name != "Ally" || b.Ref != "" {
		t.Fatalf("renamed frames: %+v / %+v", a, b)
	}
	if fs := inbox(t, h, other); len(fs) != 0 {
		t.Fatalf("another room heard of the rename: %v", types(fs))
	}
	if s := state(t, h, bob); !slices.Equal(s.Members, []string{"Ally", "Bob"}) {
		t.Fatalf("members = %v", s.Members)
	}
	// The old name is free again.
	h.Send(bob, `{"action":"setName","name":"alice"}`)
	if s := state(t, h, bob); s.You != "alice" {
		t.Fatalf("Bob could not take the released name: you = %q", s.You)
	}
	inbox(t, h, alice)
	inbox(t, h, bob)
	// Taken, compared ignoring case.
	if e := sendErr(t, h, alice, `{"action":"setName","name":"ALICE"}`); e.Code != "name_taken" {
		t.Fatalf("error = %+v, want name_taken", e)
	}
	// A change of case only is allowed; the same name is a no-op for the caller alone.
	h.Send(alice, `{"action":"setName","name":"ALLY"}`)
	if f := only(t, inbox(t, h, bob), "renamed"); f.Name != "ALLY" {
		t.Fatalf("case change: %+v", f)
	}
	inbox(t, h, alice)
	h.Send(alice, `{"action":"setName","name":"ALLY"}`)
	if f := only(t, inbox(t, h, alice), "renamed"); f.Name != "ALLY" || f.OldName != "ALLY" {
		t.Fatalf("same name: %+v", f)
	}
	if fs := inbox(t, h, bob); len(fs) != 0 {
		t.Fatalf("a no-op rename was broadcast: %v", types(fs))
	}
}

func TestNameRacesHaveExactlyOneWinner(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	const n = 12
	ids := make([]string, n)
	for i := range ids {
		ids[i] = h.Join(fmt.Sprintf("p%d", i), "")
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { h.Send(id, `{"action":"setName","name":"Bob"}`) })
	}
	wg.Wait()
	winners := 0
	for _, id := range ids {
		if state(t, h, id).You == "Bob" {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d connections are called Bob after a race, want 1", winners)
	}

	// The same race at connect time: one gets the name, the rest are guests.
	var mu sync.Mutex
	var joined []string
	for range n {
		wg.Go(func() {
			id, _ := h.Connect(map[string]string{"name": "carol"})
			mu.Lock()
			joined = append(joined, id)
			mu.Unlock()
		})
	}
	wg.Wait()
	winners = 0
	for _, id := range joined {
		if state(t, h, id).You == "carol" {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d connections joined as carol, want 1", winners)
	}
}

func TestDisconnectTellsTheRoomOnceAndFreesTheName(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	h.GW.Take(alice)
	h.Disconnect(bob)
	h.Disconnect(bob) // API Gateway may deliver $disconnect more than once
	if f := only(t, inbox(t, h, alice), "left"); f.Name != "Bob" {
		t.Fatalf("left = %+v", f)
	}
	if s := state(t, h, alice); !slices.Equal(s.Members, []string{"Alice"}) {
		t.Fatalf("members = %v", s.Members)
	}
	if s := state(t, h, h.Join("BOB", "")); s.You != "BOB" {
		t.Fatalf("the name was not freed: you = %q", s.You)
	}
}

func TestResumeTakesTheNameBackBeforeTheOldConnectionIsGone(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	token := state(t, h, alice).Resume
	// Without the token the name is taken…
	if s := state(t, h, h.Join("Alice", "")); s.You == "Alice" {
		t.Fatal("took Alice's name without her resume token")
	}
	// …a wrong token does not help…
	wrong, _ := h.Connect(map[string]string{"name": "Alice", "resume": "guess"})
	if s := state(t, h, wrong); s.You == "Alice" {
		t.Fatal("took Alice's name with a wrong token")
	}
	// …and with it, the reconnecting client gets its name back at once.
	again, _ := h.Connect(map[string]string{"name": "Alice", "resume": token})
	if s := state(t, h, again); s.You != "Alice" {
		t.Fatalf("reconnect with the resume token: you = %q (%+v)", s.You, s.Warning)
	}
	members := state(t, h, bob).Members
	if n := slices.Index(members, "Alice"); n < 0 || slices.Contains(members[n+1:], "Alice") {
		t.Fatalf("members = %v; want Alice exactly once", members)
	}
	h.GW.Take(bob)
	h.Disconnect(alice) // the old connection's late $disconnect
	if fs := inbox(t, h, bob); len(fs) != 0 {
		t.Fatalf("the replaced connection's $disconnect sent %v", types(fs))
	}
	if s := state(t, h, again); s.You != "Alice" {
		t.Fatalf("after the old $disconnect: you = %q", s.You)
	}
}

func TestUnknownConnectionIsToldToReconnect(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	ghost := chattest.NewConnID()
	h.GW.Open(ghost)
	if e := sendErr(t, h, ghost, `{"action":"hello"}`); e.Code != "not_connected" {
		t.Fatalf("error = %+v", e)
	}
	if e := sendErr(t, h, ghost, `{"action":"sendPublic","message":"hi"}`); e.Code != "not_connected" {
		t.Fatalf("error = %+v", e)
	}
}
