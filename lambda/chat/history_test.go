package chat_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// pageFrom sends history with cursor ("" for none) and returns the answer
// and its size.
func pageFrom(t *testing.T, h *chattest.Harness, id, cursor string) (frame, int) {
	t.Helper()
	body := `{"action":"history","ref":"h"}`
	if cursor != "" {
		body = fmt.Sprintf(`{"action":"history","cursor":%q,"ref":"h"}`, cursor)
	}
	raw := h.Send(id, body)
	return decode(t, []byte(raw)), len(raw)
}

// scrollBack reads id's state and then every page back to the room's
// beginning, calling between(i) before page i; it returns every message
// given, oldest first (each page's, pages newest first), and each frame's
// size, the state's first.
func scrollBack(t *testing.T, h *chattest.Harness, id string, between func(int)) ([]frame, []int) {
	t.Helper()
	raw := h.Send(id, `{"action":"hello"}`)
	s := decode(t, []byte(raw))
	if s.Type != "state" {
		t.Fatalf("hello answered %+v", s)
	}
	sizes := []int{len(raw)}
	all := merged(s)
	for cursor, i := s.HistoryCursor, 0; cursor != ""; i++ {
		if i > 100 {
			t.Fatal("more than 100 pages: the cursor does not move")
		}
		between(i)
		p, n := pageFrom(t, h, id, cursor)
		if p.Type != "historyPage" || p.Ref != "h" {
			t.Fatalf("history answered %+v", p)
		}
		sizes = append(sizes, n)
		all = append(merged(p), all...)
		cursor = p.Cursor
	}
	return all, sizes
}

// merged is a state's or page's public and private messages, by id.
func merged(f frame) []frame {
	out := append(slices.Clone(f.History), f.Private...)
	slices.SortFunc(out, func(a, b frame) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Paging from the newest message to the first gives every message the
// person may read exactly once, in order, while new ones arrive between the
// pages; nobody else's private conversation is in it.
func TestHistoryPagesBackToTheFirstMessageEachOnceInOrder(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.Unlimited)
	const room = "scroll"
	alice, bob, carol := h.Join("Alice", room), h.Join("Bob", room), h.Join("Carol", room)
	var want []string
	for i := range 140 {
		switch {
		case i%7 == 3:
			// Private to Alice, and sent by her: hers to read back.
			from, to := bob, "Alice"
			if i%2 == 0 {
				from, to = alice, "Bob"
			}
			h.Send(from, fmt.Sprintf(`{"action":"sendPrivate","to":[%q],"message":"m%d"}`, to, i))
		case i%11 == 5:
			// Carol to Bob: not Alice's.
			h.Send(carol, fmt.Sprintf(`{"action":"sendPrivate","to":["Bob"],"message":"secret%d"}`, i))
			continue
		default:
			h.Send(bob, fmt.Sprintf(`{"action":"sendPublic","message":"m%d"}`, i))
		}
		want = append(want, fmt.Sprintf("m%d", i))
	}
	all, _ := scrollBack(t, h, alice, func(i int) {
		// Messages arrive while Alice scrolls back: newer than her state,
		// they are not in the pages (the page gets them live).
		h.Send(bob, fmt.Sprintf(`{"action":"sendPublic","message":"new%d"}`, i))
		h.Send(carol, fmt.Sprintf(`{"action":"sendPrivate","to":["Alice"],"message":"newp%d"}`, i))
	})
	var got []string
	for i, m := range all {
		got = append(got, m.Message)
		if i > 0 && all[i-1].ID >= m.ID {
			t.Fatalf("out of order or twice: %s then %s", all[i-1].ID, m.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("scrolled back to %d messages, want %d:\n got %q\nwant %q", len(got), len(want), got, want)
	}
}

// Pages of 2,000-character messages of the characters that cost the most
// JSON (U+2028 is 6 bytes escaped, " and \ 2, an emoji 4) each stay within
// 100 KB, under API Gateway's 128 KB, and still give every message.
func TestHistoryPagesOfTheCostliestCharactersStayWithin100KB(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.Unlimited)
	const room = "costly"
	alice, bob := h.Join("Alice", room), h.Join("Bob", room)
	costly := []string{"\u2028", `"`, `\`, "😀", "\u2029"}
	n := 0
	for i := range 40 {
		text := fmt.Sprintf("%d:%s", i, strings.Repeat(costly[i%len(costly)], chat.MessageMax-4))
		body, _ := json.Marshal(map[string]any{"action": "sendPublic", "message": text})
		if i%3 == 1 {
			body, _ = json.Marshal(map[string]any{"action": "sendPrivate", "to": []string{"Alice"}, "message": text})
		}
		h.Send(bob, string(body))
		for _, f := range inbox(t, h, bob) {
			if f.Type == "error" {
				t.Fatalf("message %d refused: %+v", i, f)
			}
		}
		n++
	}
	all, sizes := scrollBack(t, h, alice, func(int) {})
	for i, size := range sizes {
		if size > chat.StateMaxBytes || size > 128*1024 {
			t.Fatalf("frame %d is %d bytes, over 100 KB", i, size)
		}
	}
	if len(all) != n {
		t.Fatalf("%d of %d messages", len(all), n)
	}
	t.Logf("frames of %v bytes", sizes)
}

// A cursor of another room, or not a cursor at all, is refused with
// bad_cursor (and a cursor that is no string with bad_field); nothing is read.
func TestHistoryRefusesAForgedOrForeignCursor(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.Unlimited)
	alice, eve := h.Join("Alice", "ours"), h.Join("Eve", "theirs")
	for i := range 60 {
		h.Send(alice, fmt.Sprintf(`{"action":"sendPublic","message":"ours %d"}`, i))
		h.Send(eve, fmt.Sprintf(`{"action":"sendPublic","message":"theirs %d"}`, i))
	}
	theirs := state(t, h, eve).HistoryCursor
	ours := state(t, h, alice).HistoryCursor
	if theirs == "" || ours == "" {
		t.Fatalf("no cursor in a state of 60 messages: %q %q", theirs, ours)
	}
	enc := base64.RawURLEncoding.EncodeToString
	for name, cursor := range map[string]string{
		"another room's":          theirs,
		"another room, forged":    enc([]byte(ulid.Make().String() + "theirs")),
		"garbage":                 "!!not base64!!",
		"too short":               enc([]byte("ours")),
		"not an id":               enc([]byte(strings.Repeat("Z", ulid.EncodedSize) + "ours")),
		"a prefix of the room":    enc([]byte(ulid.Make().String() + "our")),
		"ours with a longer room": ours + "cw",
	} {
		p, _ := pageFrom(t, h, alice, cursor)
		if p.Type != "error" || p.Code != "bad_cursor" || p.Action != "history" || p.Ref != "h" {
			t.Errorf("%s cursor: answered a %s frame (code %q), want bad_cursor", name, p.Type, p.Code)
		}
	}
	if p := decode(t, []byte(h.Send(alice, `{"action":"history","cursor":7}`))); p.Code != "bad_field" {
		t.Errorf("a number for a cursor: answered %+v, want bad_field", p)
	}
	// Her own room's cursor reads her room's messages only.
	p, _ := pageFrom(t, h, alice, ours)
	if p.Type != "historyPage" || len(p.History) == 0 {
		t.Fatalf("her own cursor: %+v", p)
	}
	for _, m := range p.History {
		if !strings.HasPrefix(m.Message, "ours ") || m.Room != "ours" {
			t.Fatalf("page of her room has %+v", m)
		}
	}
}

// A removed message comes back as its removal, without its text, on the
// page that holds it.
func TestHistoryGivesARemovedMessageAsItsRemoval(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.Unlimited)
	alice := h.Join("Alice", "rmpage")
	var first string
	for i := range 70 {
		h.Send(alice, fmt.Sprintf(`{"action":"sendPublic","message":"n%d"}`, i))
	}
	for _, f := range inbox(t, h, alice) {
		if f.Type == "public" && f.Message == "n0" {
			first = f.ID
		}
	}
	if first == "" {
		t.Fatal("the first message was not echoed")
	}
	if fs := removeFrom(t, h, alice, first, "typo"); len(fs) == 0 || fs[len(fs)-1].Type != "removed" {
		t.Fatalf("remove answered %+v", fs)
	}
	all, _ := scrollBack(t, h, alice, func(int) {})
	if len(all) != 70 || all[0].ID != first {
		t.Fatalf("%d messages, the first %+v", len(all), all[0])
	}
	if r := all[0]; r.Message != "" || r.Removed == nil || r.Removed.By != "sender" || r.Removed.Reason != "typo" {
		t.Fatalf("the removed message came back as %+v", r)
	}
}
