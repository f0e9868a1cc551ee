package chat_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// longestName is the i-th of names that each cost 85 bytes of JSON, the
// most a name can (docs/design.md, "Frame sizes"): 21 × '"' (2 bytes each
// in JSON), one 3-byte and ten 4-byte characters, two of them chosen by i
// (i < 1,600).
func longestName(i int) string {
	r := []rune(strings.Repeat(`"`, 21) + "€")
	for k := range 10 {
		c := rune(0x1F600)
		switch k {
		case 0:
			c += rune(i % 80)
		case 1:
			c += rune(i / 80)
		}
		r = append(r, c)
	}
	return string(r)
}

// A lecture hall's Wi-Fi fails: 1,500 members with the longest names a
// name can have vanish at once, and Bob, who is still there, speaks. The
// removals leave a room of one, which gets a members frame naming everyone
// who went: 1,500 × 88 bytes of JSON is more than API Gateway's 128 KB, so
// unbounded it is refused (413) and Bob's page keeps 1,500 people who are
// gone, with their count.
func TestBobsPageEmptiesAfterAMassDropOfMembersWithTheLongestNames(t *testing.T) {
	if testing.Short() {
		t.Skip("1,500 records put and removed: 15 to 30 s on a shared 2-core machine")
	}
	t.Parallel()
	const vanished = 1500
	if b, _ := json.Marshal(longestName(0)); vanished*(len(b)+1) <= contract.MessageLimit {
		t.Fatalf("%d names of %d bytes of JSON fit in a frame: the test proves nothing", vanished, len(b))
	}
	h := chattest.New(t)
	const room = "hall"
	bob := h.Join("Bob", room)
	ctx := context.Background()
	then := h.Now().Add(-time.Minute) // past the grace a connecting member is given
	ids := make([]string, vanished)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range ids {
		ids[i] = chattest.NewConnID()
		c := chat.Connection{ID: ids[i], Room: room, Name: longestName(i), ConnectedAt: then,
			ExpiresAt: then.Add(2 * time.Hour), ResumeToken: "t"}
		if name, p := chat.CleanHeldName(c.Name); p != nil || name != c.Name {
			t.Fatalf("%q is not a name the server accepts or accepted before its name rule: %v", c.Name, p)
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := h.Store.ClaimName(ctx, chat.Claim{Room: room, Name: c.Name, ConnID: c.ID, ExpiresAt: c.ExpiresAt}); err != nil {
				t.Error(err)
			}
			if err := h.Store.PutConnection(ctx, c); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	h.Settle()
	p := pageOf(t, h, bob)
	h.Send(bob, `{"action":"sendPublic","message":"anyone?"}`)
	fs := follow(t, h, p, bob)
	i := slices.IndexFunc(fs, func(f frame) bool { return f.Type == "members" })
	if i < 0 {
		t.Fatalf("Bob was sent %v: no members frame after %d members vanished (%d posts refused as over 128 KB)",
			types(fs), vanished, h.GW.TooLarge())
	}
	if got := p.Names(); !slices.Equal(got, []string{"Bob"}) {
		t.Errorf("Bob's page shows %d names after everyone else vanished", len(got))
	}
	if n, _ := p.Count(); n != 1 {
		t.Errorf("Bob's page counts %d; he is alone", n)
	}
	if n := len(fs[i].Gone); n == 0 || n > chat.GoneMax {
		t.Errorf("the members frame names %d of the %d who went; want 1 to %d", n, vanished, chat.GoneMax)
	}
}
