package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// TestDanAndEveFindThemselvesOnceInABigRoomsListWhetherOrNotTheIndexHasCaughtUp:
// Dan and Eve join a room of 520 (more than one page of the members action,
// more than a state lists), Dan's connection id sorting first in the room
// index and Eve's last. Read while the index has not caught up with their
// joins, and again once it has, each one's state lists them, the rest of
// the list read from the state's membersCursor does not list them again, and
// the members action's pages list them exactly once.
func TestDanAndEveFindThemselvesOnceInABigRoomsListWhetherOrNotTheIndexHasCaughtUp(t *testing.T) {
	t.Parallel()
	const n = 520
	h := chattest.New(t)
	h.Populate("big", n)
	h.DynamoDB.Inject(ddbproxy.Faults{IndexLag: time.Hour}) // the joins below reach the index only after Restore
	// API Gateway's ids are base64: "!" sorts before and "~" after them all.
	newcomers := map[string]string{"!dan-connection=": "Dan", "~eve-connection=": "Eve"}
	for id, name := range newcomers {
		if resp := h.Invoke(context.Background(), id, contract.RouteConnect, "", map[string]string{"name": name, "room": "big"}); resp.StatusCode != 200 {
			t.Fatalf("connect %s: status %d %s", name, resp.StatusCode, resp.Body)
		}
		h.GW.Open(id)
	}
	check := func(when string, want int) {
		t.Helper()
		for id, name := range newcomers {
			s := decodeList(t, h.Send(id, `{"action":"hello"}`))
			if s.Type != "state" || len(s.Members) > chat.StateMembersMax || s.MembersCursor == "" {
				t.Fatalf("%s, %s's hello: a %s frame of %d names, cursor %q", when, name, s.Type, len(s.Members), s.MembersCursor)
			}
			seen := map[string]int{}
			for _, m := range s.Members {
				seen[m]++
			}
			if seen[name] != 1 {
				t.Fatalf("%s, %s's state lists %s %d times in %d names", when, name, name, seen[name], len(s.Members))
			}
			read(t, h, id, s.MembersCursor, seen)
			if seen[name] != 1 || len(seen) != want {
				t.Fatalf("%s, %s's state and the pages after it list %s %d times and %d names, want once and %d",
					when, name, name, seen[name], len(seen), want)
			}
			seen = map[string]int{}
			if pages := read(t, h, id, "", seen); pages < 2 || seen[name] != 1 || len(seen) != want {
				t.Fatalf("%s, %s's %d pages of members list %s %d times and %d names, want once and %d",
					when, name, pages, name, seen[name], len(seen), want)
			}
			for i := range n {
				if m := fmt.Sprintf("member-%d", i); seen[m] != 1 {
					t.Fatalf("%s, %s's pages list %s %d times", when, name, m, seen[m])
				}
			}
		}
	}
	check("before the index caught up", n+1) // the other newcomer is not in the index yet
	h.DynamoDB.Restore()
	h.Settle()
	check("once the index caught up", n+2)
}

// list is a state's or a memberPage's list of members.
type list struct {
	Type          string          `json:"type"`
	Members       []string        `json:"-"`
	Raw           json.RawMessage `json:"members"`
	MembersCursor string          `json:"membersCursor"`
	Cursor        string          `json:"cursor"`
}

// decodeList reads a state's names or a memberPage's entries' names.
func decodeList(t *testing.T, body string) list {
	t.Helper()
	var l list
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	if l.Type == "state" {
		_ = json.Unmarshal(l.Raw, &l.Members)
		return l
	}
	var ms []chat.MemberEntry
	_ = json.Unmarshal(l.Raw, &ms)
	for _, m := range ms {
		l.Members = append(l.Members, m.Name)
	}
	return l
}

// read counts in seen the names of the members action's pages from cursor
// on, and returns how many pages it read.
func read(t *testing.T, h *chattest.Harness, id, cursor string, seen map[string]int) int {
	t.Helper()
	pages := 0
	for first := true; first || cursor != ""; first = false {
		req := `{"action":"members"}`
		if cursor != "" {
			req = fmt.Sprintf(`{"action":"members","cursor":%q}`, cursor)
		}
		p := decodeList(t, h.Send(id, req))
		if p.Type != "memberPage" || len(p.Members) > chat.MembersPageMax {
			t.Fatalf("%s was answered with a %s frame of %d members", req, p.Type, len(p.Members))
		}
		pages++
		for _, m := range p.Members {
			seen[m]++
		}
		cursor = p.Cursor
	}
	return pages
}
