package chat_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

func TestHelloReturnsNameMembersHistoryAndLimits(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.Unlimited)
	bob := h.Join("bob", "")
	alice := h.Join("Alice", "")
	h.Join("Zed", "elsewhere")
	h.Settle() // a state's member list may miss whoever joined an instant before (the page's settle hello heals it)
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

func TestStateStaysInsideAPIGatewaysMessageLimit(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.Unlimited)
	alice := h.Join("Alice", "")
	long := strings.Repeat("😀", 1990) // 7,960 bytes each
	for i := range 50 {
		h.Send(alice, fmt.Sprintf(`{"action":"sendPublic","message":"%d%s"}`, i, long))
	}
	raw := h.Send(alice, `{"action":"hello"}`)
	if len(raw) > 128*1024 {
		t.Fatalf("state frame is %d bytes, over API Gateway's 128 KB", len(raw))
	}
	s := decode(t, []byte(raw))
	if len(s.History) == 0 || len(s.History) == 50 {
		t.Fatalf("history has %d of 50 long messages; want the newest that fit", len(s.History))
	}
	if last := s.History[len(s.History)-1].Message; !strings.HasPrefix(last, "49") {
		t.Fatalf("the newest message is missing; last is %.10q…", last)
	}
}

func TestStateWithLongPrivateHistoryStaysInsideTheLimitAndKeepsTheNewest(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.Unlimited)
	alice := h.Join("Alice", "")
	bob := h.Join("Bob", "")
	carol := h.Join("Carol", "")
	long := strings.Repeat("😀", 1990) // 7,960 bytes each
	for i := range 20 {
		h.Send(alice, fmt.Sprintf(`{"action":"sendPublic","message":"p%d%s"}`, i, long))
		h.Send(bob, fmt.Sprintf(`{"action":"sendPrivate","to":["Alice"],"message":"q%d%s"}`, i, long))
	}
	h.Send(carol, `{"action":"sendPrivate","to":["Bob"],"message":"not for alice"}`)
	raw := h.Send(alice, `{"action":"hello"}`)
	if len(raw) > 128*1024 {
		t.Fatalf("state frame is %d bytes, over API Gateway's 128 KB", len(raw))
	}
	s := decode(t, []byte(raw))
	if len(s.History)+len(s.Private) == 0 || len(s.History)+len(s.Private) == 40 {
		t.Fatalf("%d public and %d private of 40 long messages; want the newest that fit", len(s.History), len(s.Private))
	}
	if last := s.Private[len(s.Private)-1].Message; !strings.HasPrefix(last, "q19") {
		t.Fatalf("the newest private message is missing; last is %.10q…", last)
	}
	if last := s.History[len(s.History)-1].Message; !strings.HasPrefix(last, "p19") {
		t.Fatalf("the newest public message is missing; last is %.10q…", last)
	}
	// Public and private were cut at the same point in time: none older than the oldest kept of the other.
	if d := len(s.History) - len(s.Private); d < -1 || d > 1 {
		t.Fatalf("%d public and %d private kept: cut unevenly", len(s.History), len(s.Private))
	}
	for _, m := range s.Private {
		if m.Type != "private" || m.From != "Bob" || !slices.Equal(m.To, []string{"Alice"}) {
			t.Fatalf("private entry %+v", m)
		}
	}
}
