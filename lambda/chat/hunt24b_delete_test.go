package chat_test

// Hostile review of issue 24 (second pass): deleting an account from a
// connection whose sign-in ended, and a deletion sent again after a kill.

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// deleted reports whether the account's item is a tombstone.
func deleted(t *testing.T, h *chattest.Harness, account string) bool {
	t.Helper()
	a, err := h.Store.Account(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return !a.Deleted.IsZero()
}

// Alice's laptop is left open after her token expired (every frame but
// reauth is answered reauth_required) and after she signed out everywhere
// from her phone, whose close of the laptop was lost. Whoever sits at the
// laptop must not be able to delete her account: deleteAccount is drawn
// from the budget but never refused by it, and that exemption must not
// let a sign-in that ended through.
func TestHunt24BAnExpiredOrSignedOutConnectionCannotDeleteTheAccount(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24b-delete-ended"
	now := h.Now()

	expired := newSignedConn("alice", now.Add(-time.Minute), now.Add(time.Minute))
	expired.connect(t, h, room, true)
	h.Advance(90 * time.Second) // past exp, within the 2-minute grace
	got := expired.send(t, h, `{"action":"deleteAccount","ref":"d1"}`)
	if deleted(t, h, "alice") || !slices.ContainsFunc(got, func(f frame) bool { return f.Code == contract.CodeReauthRequired }) {
		t.Errorf("an expired connection's deleteAccount got %v; alice's account deleted: %v, want reauth_required and not",
			types(got), deleted(t, h, "alice"))
	}

	bobNow := h.Now()
	laptop := newSignedConn("bob", bobNow.Add(-time.Minute), bobNow.Add(14*time.Minute))
	laptop.connect(t, h, room, true)
	// Bob signed out everywhere from his phone; the laptop's close was lost.
	if _, err := h.Store.SignOut(context.Background(), "bob", h.Now()); err != nil {
		t.Fatal(err)
	}
	got = laptop.send(t, h, `{"action":"deleteAccount","ref":"d2"}`)
	if deleted(t, h, "bob") || !slices.ContainsFunc(got, func(f frame) bool { return f.Code == contract.CodeSignedOut }) {
		t.Errorf("a signed-out connection's deleteAccount got %v; bob's account deleted: %v, want signed_out and not",
			types(got), deleted(t, h, "bob"))
	}
}

// Dave's deleteAccount is killed right after its transaction (the
// tombstone): his page waited 15 s for accountDeleted, said so, and he
// presses Delete again on the same connection, still open. The account is
// deleted already; he must be told accountDeleted (the page then deletes
// his Cognito user), not signed_out (the page then says the deletion
// failed, and he cannot connect again to retry: the tombstone refuses him).
func TestHunt24BDeleteSentAgainAfterAKillIsAnsweredAccountDeleted(t *testing.T) {
	t.Parallel()
	for k := 2; ; k++ {
		h := chattest.New(t, chattest.SignedIn)
		const room = "h24b-delete-again"
		now := h.Now()
		dave := newSignedConn("dave", now.Add(-time.Minute), now.Add(14*time.Minute))
		dave.connect(t, h, room, true)
		h.JoinAs("bob", room)
		h.Settle()
		inbox(t, h, dave.id)
		crash := h.Cut(k, func(ctx context.Context) {
			_, _ = h.Service.Handle(ctx, events.APIGatewayWebsocketProxyRequest{Body: `{"action":"deleteAccount","ref":"d1"}`,
				RequestContext: events.APIGatewayWebsocketProxyRequestContext{RouteKey: contract.RouteDefault,
					ConnectionID: dave.id, Stage: h.Stage, Authorizer: dave.auth}})
		})
		killed, after := crash.Killed()
		if !killed {
			t.Fatalf("the deletion was never killed right after its tombstone (%d requests)", k)
		}
		if !deleted(t, h, "dave") {
			continue
		}
		if closed(h, dave.id) {
			t.Fatalf("killed after %d (%s): dave's connection was closed", k, after)
		}
		inbox(t, h, dave.id)
		h.Advance(20 * time.Second)
		got := dave.send(t, h, `{"action":"deleteAccount","ref":"d2"}`)
		if !slices.ContainsFunc(got, func(f frame) bool { return f.Type == contract.FrameAccountDeleted && f.Ref == "d2" }) ||
			slices.ContainsFunc(got, func(f frame) bool { return f.Type == "error" }) {
			t.Errorf("killed after %d (%s), sent again: dave's page got %+v, want accountDeleted and no error", k, after, got)
		}
		return
	}
}
