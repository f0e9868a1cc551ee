package chat_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

func TestSetNameRenamesAndTellsTheRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	other := h.Join("Zed", "other")
	h.Settle() // the index lists everyone: a broadcast may miss whoever joined an instant before
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
	h.Settle() // a state's member list is the index's: it shows the new name once the index has it (the page applied the renamed)
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

func TestConcurrentRenamesOfOneConnectionKeepExactlyOneName(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	eve, bob := h.Join("Eve", ""), h.Join("Bob", "")
	wanted := []string{"Ann", "Cid", "Dot", "Fay", "Gus"}
	var wg sync.WaitGroup
	for _, name := range wanted {
		wg.Go(func() { h.Send(eve, `{"action":"setName","name":"`+name+`"}`) })
	}
	wg.Wait()
	now := state(t, h, eve).You
	// Every name Eve does not carry is free for others, and a private
	// message to all of them reaches Eve at most once.
	h.GW.Take(eve)
	for _, name := range append(wanted, "Eve") {
		if name == now {
			continue
		}
		if s := state(t, h, h.Join(name, "")); s.You != name {
			t.Fatalf("Eve is %q, yet %q is still claimed after the race (a newcomer got %q)", now, name, s.You)
		}
	}
	h.GW.Take(eve)
	h.Send(bob, `{"action":"sendPrivate","to":["`+now+`"],"message":"hi"}`)
	only(t, inbox(t, h, eve), "private")
}

func TestLookAlikeNamesAreOneNameOrRefused(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	h.Join("Alice", "")
	for _, tc := range []struct{ name, code string }{
		{"Ａｌｉｃｅ", "name_taken"},                    // fullwidth
		{"ALİCE", ""},                              // dotted capital I is another letter: allowed
		{"Alice\ufe00", "name_invalid"},            // variation selector
		{"Alice\u034f", "name_invalid"},            // combining grapheme joiner
		{"Alice\u3164", "name_invalid"},            // Hangul filler
		{"Ali\u200dce", "name_invalid"},            // zero-width joiner
		{strings.Repeat("😀", 17), "name_too_long"}, // 17 characters but 68 bytes
	} {
		id, _ := h.Connect(map[string]string{"name": tc.name})
		s := state(t, h, id)
		got := ""
		if s.Warning != nil {
			got = s.Warning.Code
		}
		if got != tc.code {
			t.Errorf("connect as %q: warning %q, want %q", tc.name, got, tc.code)
		}
	}
}

func TestTwoSetNamesToTheSameNameKeepItClaimed(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	for round := range 8 {
		room := fmt.Sprintf("same-name-%d", round)
		eve := h.Join("Eve", room)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { h.Send(eve, `{"action":"setName","name":"Ann"}`) })
		}
		wg.Wait()
		if s := state(t, h, eve); s.You != "Ann" {
			t.Fatalf("round %d: Eve is %q after two setName Ann", round, s.You)
		}
		if s := state(t, h, h.Join("Ann", room)); s.You == "Ann" {
			t.Fatalf("round %d: a second person became Ann while Eve is Ann", round)
		}
	}
}

// DynamoDB may apply the rename and still answer 500; the SDK then sends it
// again. The retry must not fail as if another request had renamed Eve.
func TestARenameAppliedThenRetriedKeepsTheNameClaimed(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	eve, bob := h.Join("Eve", ""), h.Join("Bob", "")
	h.GW.Take(eve)
	h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: ddbproxy.Once(func(w ddbproxy.Write) bool {
		return w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"UpdateExpression":"SET #name = :name`))
	})})
	h.Send(eve, `{"action":"setName","name":"Ann","ref":"r1"}`)
	h.DynamoDB.Restore()
	if f := only(t, inbox(t, h, eve), "renamed"); f.Name != "Ann" || f.Ref != "r1" {
		t.Fatalf("Eve's confirmation = %+v", f)
	}
	if s := state(t, h, h.Join("Ann", "")); s.You == "Ann" {
		t.Fatal("a second person became Ann while Eve is Ann")
	}
	h.Settle() // the index shows Eve's rename, made under AWSLike's lag
	if m := state(t, h, bob).Members; slices.Contains(m, "Eve") || !slices.Contains(m, "Ann") {
		t.Fatalf("members = %v", m)
	}
}
