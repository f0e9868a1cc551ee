package chat_test

// Hostile review of issue 24: what held (these pass).

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/auth/authtest"
)

// authorized runs the real authorizer on token and $connect with its
// context, as API Gateway passes it (JSON numbers).
func authorized(t *testing.T, s *signIn, token, room string) signedConn {
	t.Helper()
	c := signedConn{id: chattest.NewConnID()}
	resp, err := s.Service.Authorize(context.Background(), authorizerEvent(c.id, token))
	if err != nil || statement(t, resp).Effect != "Allow" {
		t.Fatalf("authorize: %+v %v", resp, err)
	}
	raw, _ := json.Marshal(resp.Context)
	if err := json.Unmarshal(raw, &c.auth); err != nil {
		t.Fatal(err)
	}
	c.auth["principalId"] = resp.PrincipalID
	c.connect(t, s.Harness, room, true)
	return c
}

func TestHunt24HeldReauthRefusesEveryTokenTheAuthorizerWouldNotAdmitForThisAccount(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	const room = "h24-reauth-tokens"
	now := s.Now()
	phone := authorized(t, s, s.pool.Token(now.Add(-time.Minute), "sub-alice", "alice"), room)
	s.Settle()
	// Her other device signed out everywhere; the close of this one was lost.
	if _, err := s.Store.SignOut(context.Background(), "sub-alice", now); err != nil {
		t.Fatal(err)
	}
	with := func(edit func(map[string]any)) string {
		c := s.pool.Claims(s.Now().Add(2*time.Second), "sub-alice", "alice")
		edit(c)
		return authtest.Sign(s.pool.SigningKey(), c)
	}
	for what, tok := range map[string]string{
		"another account's":              s.pool.Token(s.Now().Add(2*time.Second), "sub-bob", "bob"),
		"issued before the sign-out":     s.pool.Token(now.Add(-time.Second), "sub-alice", "alice"),
		"expired":                        with(func(c map[string]any) { c["exp"] = s.Now().Add(-2 * time.Minute).Unix() }),
		"for another client":             with(func(c map[string]any) { c["aud"] = "other-client" }),
		"an access token":                with(func(c map[string]any) { c["token_use"] = "access" }),
		"of another issuer":              with(func(c map[string]any) { c["iss"] = "https://elsewhere.example" }),
		"with a claim over the bound":    with(func(c map[string]any) { c["cognito:username"] = strings.Repeat("a", 513) }),
		"without iat":                    with(func(c map[string]any) { delete(c, "iat") }),
		"expiring within the clock skew": with(func(c map[string]any) { c["exp"] = s.Now().Add(-10 * time.Second).Unix() }),
	} {
		body, _ := json.Marshal(map[string]string{"action": contract.ActionReauth, "token": tok})
		fs := phone.send(t, s.Harness, string(body))
		if len(fs) != 1 || fs[0].Code != contract.CodeReauthRefused {
			t.Errorf("reauth with a token %s: %v %+v", what, types(fs), fs)
		}
	}
	body, _ := json.Marshal(map[string]string{"action": contract.ActionReauth,
		"token": s.pool.Token(s.Now().Add(2*time.Second), "sub-alice", "alice")})
	if fs := phone.send(t, s.Harness, string(body)); len(fs) != 1 || fs[0].Type != contract.FrameReauthed {
		t.Errorf("reauth with a token issued after the sign-out: %v %+v", types(fs), fs)
	}
}

func TestHunt24HeldOneDeviceReauthsTheOtherExpiredIsRefusedEveryActionThenClosed(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24-two-devices"
	now := h.Now()
	laptop := newSignedConn("alice", now.Add(-14*time.Minute), now.Add(time.Minute))
	phone := newSignedConn("alice", now.Add(-14*time.Minute), now.Add(time.Minute))
	laptop.connect(t, h, room, true)
	phone.connect(t, h, room, true)
	bob := h.JoinAs("bob", room)
	h.Settle()
	msg := say(t, h, bob, "bob's", laptop.id, phone.id)
	h.Advance(90 * time.Second) // both expired 30 s ago
	if fs := laptop.send(t, h, `{"action":"reauth","token":"`+chattest.Token("alice", "alice")+`"}`); len(fs) != 1 || fs[0].Type != contract.FrameReauthed {
		t.Fatalf("laptop's reauth: %v", types(fs))
	}
	inbox(t, h, bob)
	for _, body := range []string{`{"action":"hello"}`, `{"action":"ping"}`, `{"action":"members"}`,
		`{"action":"setName","name":"Mallory"}`, `{"action":"sendPublic","message":"phone"}`,
		`{"action":"sendPrivate","to":["bob"],"message":"phone"}`, `{"action":"remove","id":"` + msg + `"}`} {
		fs := phone.send(t, h, body)
		if len(fs) != 1 || fs[0].Code != contract.CodeReauthRequired {
			t.Errorf("the expired phone's %s: %v %+v", body, types(fs), fs)
		}
	}
	if fs := inbox(t, h, bob); len(fs) != 0 {
		t.Errorf("bob got %v from the expired phone", types(fs))
	}
	if got := historyEntry(t, h, bob, msg); got.Removed != nil {
		t.Errorf("the expired phone removed bob's message: %+v", got)
	}
	if fs := laptop.send(t, h, `{"action":"sendPublic","message":"laptop"}`); !gotPublic(fs, "laptop") {
		t.Errorf("the reauthed laptop's send: %v", types(fs))
	}
	h.Advance(2 * time.Minute) // past the grace
	phone.send(t, h, `{"action":"ping"}`)
	closed := h.GW.Closed()
	if len(closed) != 1 || closed[0] != phone.id {
		t.Errorf("closed %v, want the phone only", closed)
	}
}

func TestHunt24HeldSenderAndModeratorRemoveAtOnceOneRemovalIsRecordedAndBothAreToldIt(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24-rm-race"
	alice, mod, bob := h.JoinAs("alice", room), h.JoinModerator("mod", room), h.JoinAs("bob", room)
	h.Settle()
	// A forged moderator field in a member's frame counts for nothing.
	bobs := say(t, h, bob, "bob's", alice, mod)
	if fs := removeFrom(t, h, alice, bobs, ""); len(fs) != 1 || fs[0].Code != contract.CodeForbidden {
		t.Fatalf("alice removing bob's: %v", types(fs))
	}
	if resp := h.Send(alice, `{"action":"remove","id":"`+bobs+`","moderator":true,"roles":["moderator"]}`); decode(t, []byte(resp)).Code != contract.CodeForbidden {
		t.Errorf("alice's forged moderator field: %s", resp)
	}
	for range 3 {
		msg := say(t, h, alice, "racy", mod, bob)
		inbox(t, h, bob)
		answers := make(chan frame, 2)
		for _, id := range []string{alice, mod} {
			go func() {
				resp := h.Send(id, `{"action":"remove","id":"`+msg+`","reason":"`+id[:4]+`"}`)
				if resp != "" {
					answers <- decode(t, []byte(resp))
					return
				}
				var f frame
				for _, g := range h.GW.Take(id) {
					if d := decode(t, g); d.Type == "removed" && d.ID == msg {
						f = d
					}
				}
				answers <- f
			}()
		}
		a, b := <-answers, <-answers
		if a.Type != "removed" || b.Type != "removed" || a.By != b.By || a.At != b.At || a.Reason != b.Reason {
			t.Errorf("the two removers were told %+v and %+v", a, b)
		}
		e := historyEntry(t, h, bob, msg)
		if e.Message != "" || e.Removed == nil || e.Removed.By != a.By || e.Removed.At != a.At {
			t.Errorf("history gives %+v (%+v), the removers were told %+v", e, e.Removed, a)
		}
		h.Advance(11 * time.Second) // a new budget window
	}
	if n := removals(t, h, room); n != 3 {
		t.Errorf("the activity log has %d removals for 3 messages", n)
	}
}
