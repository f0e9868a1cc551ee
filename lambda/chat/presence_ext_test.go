package chat_test

import (
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// In a small room every join and leave is told by name, with the count.
func TestASmallRoomHearsEveryJoinAndLeaveWithTheCount(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	ann := h.Join("Ann", "small")
	h.Settle() // the index lists Ann: a join's broadcast may miss whoever joined an instant before
	bob := h.Join("Bob", "small")
	if f := only(t, inbox(t, h, ann), "joined"); f.Name != "Bob" || f.Count != 2 {
		t.Fatalf("Ann was told %+v, want Bob joined, count 2", f)
	}
	if s := state(t, h, bob); s.Count != 2 || len(s.Members) != 2 {
		t.Fatalf("Bob's state: count %d, members %v; want 2 and both", s.Count, s.Members)
	}
	h.Disconnect(bob)
	if f := only(t, inbox(t, h, ann), "left"); f.Name != "Bob" || f.Count != 1 {
		t.Fatalf("Ann was told %+v, want Bob left, count 1", f)
	}
}

// In a big room nobody is told of one join by name: the count comes when
// the room's credit pays for telling everyone, and the newcomer's state has
// it exactly.
func TestABigRoomHearsTheCountNotEachName(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	ids := h.Populate("big", 40)
	carl := h.Join("Carl", "big")
	for _, id := range ids {
		for _, f := range inbox(t, h, id) {
			if f.Type == "joined" {
				t.Fatalf("a member of a room of 41 was told %+v", f)
			}
		}
	}
	if s := state(t, h, carl); s.Count != 41 {
		t.Fatalf("Carl's state counts %d, want 41", s.Count)
	}
	// The keep-alive's answer carries the count too: a quiet big room's
	// count stays fresh without anyone being told of each join.
	if p := decode(t, []byte(h.Send(ids[0], `{"action":"ping"}`))); p.Type != "pong" || p.Count != 41 {
		t.Fatalf("a ping was answered %+v, want a pong counting 41", p)
	}
	// 40 more joins earn the credit to tell everyone at least once.
	told := 0
	for i := range 40 {
		h.Join("n"+string(rune('a'+i%26))+string(rune('a'+i/26)), "big")
	}
	for _, f := range inbox(t, h, ids[0]) {
		if f.Type != "presence" {
			t.Fatalf("member 0 was told %+v", f)
		}
		told++
		if f.Count < 42 || f.Count > 81 {
			t.Fatalf("a presence frame counts %d", f.Count)
		}
	}
	if told == 0 || told > 2 {
		t.Fatalf("member 0 was told the count %d times for 40 joins, want once or twice", told)
	}
}
