package chat_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// Alice is in the lobby on her phone (with bob) and in the kitchen on her
// laptop (with carol). Her rename to Alicia from the phone dies after each
// of its DynamoDB requests in turn, and the page sends it again with the
// same ref. Then both rooms count two people, and bob's and carol's pages
// show Alicia and not alice.
func TestAKilledRenameOfAnAccountInTwoRoomsEndsWithBothRoomsRightAfterTheRetry(t *testing.T) {
	t.Parallel()
	setup := func(h *chattest.Harness) (bob, carol, phone string) {
		bob, carol = h.JoinAs("bob", "lobby"), h.JoinAs("carol", "kitchen")
		phone = h.JoinAs("alice", "lobby")
		h.JoinAs("alice", "kitchen")
		h.Settle()
		return bob, carol, phone
	}
	const rename = `{"action":"setName","name":"Alicia","ref":"n1"}`
	probe := chattest.New(t, chattest.SignedIn)
	_, _, probePhone := setup(probe)
	n := len(probe.Cut(-1, func(ctx context.Context) { probe.SendCtx(ctx, probePhone, rename) }).Requests())
	for k := 1; k < n; k++ {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			t.Parallel()
			h := chattest.New(t, chattest.SignedIn)
			bob, carol, phone := setup(h)
			pb, pc := pageOf(t, h, bob), pageOf(t, h, carol)
			crash := h.Cut(k, func(ctx context.Context) { h.SendCtx(ctx, phone, rename) })
			killed, after := crash.Killed()
			if !killed {
				t.Skipf("not killed at %d", k)
			}
			h.Send(phone, rename)
			h.Settle()
			follow(t, h, pb, bob)
			follow(t, h, pc, carol)
			if names := pb.Names(); !slices.Equal(names, []string{"Alicia", "bob"}) {
				t.Errorf("killed after %s: bob's page shows %q, want [Alicia bob]", after, names)
			}
			if names := pc.Names(); !slices.Equal(names, []string{"Alicia", "carol"}) {
				t.Errorf("killed after %s: carol's page shows %q, want [Alicia carol]", after, names)
			}
			for _, room := range []string{"lobby", "kitchen"} {
				if c := roomCount(t, h, room); c != 2 {
					t.Errorf("killed after %s: the %s counts %d, want 2", after, room, c)
				}
			}
		})
	}
}
