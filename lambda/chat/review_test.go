package chat_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

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

func TestStateStaysInsideAPIGatewaysMessageLimit(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
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

func TestFramesKeepHTMLCharactersAsTheyAre(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice := h.Join("Alice", "")
	h.Send(alice, `{"action":"sendPublic","message":"<b>&</b>"}`)
	raw := string(h.GW.Take(alice)[0])
	if !strings.Contains(raw, `"<b>&</b>"`) {
		t.Fatalf("frame %s escapes HTML characters (six bytes each instead of one)", raw)
	}
}

func TestOverlongRecipientNamesAreUnknownNotInternalErrors(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice := h.Join("Alice", "")
	h.Join("Bob", "")
	h.GW.Take(alice)
	huge := strings.Repeat("z", 3000)
	e := sendErr(t, h, alice, `{"action":"sendPrivate","to":["Bob","`+huge+`"],"message":"x"}`)
	if e.Code != "recipients_unknown" || len(e.Unknown) != 1 || e.Unknown[0] != huge {
		t.Fatalf("error = %s %v", e.Code, len(e.Unknown))
	}
	if n := metricTotals(t, h)["InternalErrors"]; n != 0 {
		t.Fatalf("InternalErrors = %v: a client can set off the internal-error alarm", n)
	}
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

func TestDisconnectAfterAResumeTakeoverSaysNothing(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	token := state(t, h, alice).Resume
	// A reconnect has taken the claim, and the old connection's $disconnect
	// runs before the reconnect removed the old record.
	if _, err := h.Store.ClaimName(context.Background(), chat.Claim{Room: "lobby", Name: "Alice", ConnID: chattest.NewConnID(),
		Resume: token, ExpiresAt: h.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h.GW.Take(bob)
	h.Disconnect(alice)
	if fs := inbox(t, h, bob); len(fs) != 0 {
		t.Fatalf("the room was told %v although Alice is back", types(fs))
	}
}
