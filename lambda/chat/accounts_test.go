package chat_test

// Names that belong to accounts (sign-in on), several connections per
// person, and rate limits, through dynalite and the management API stand-in.

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// ofType returns the frames of a type.
func ofType(fs []frame, typ string) []frame {
	var out []frame
	for _, f := range fs {
		if f.Type == typ {
			out = append(out, f)
		}
	}
	return out
}

func TestOnePersonOnThreeConnectionsSharesTheNameAndGetsEachPrivateMessageOnce(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "")
	h.Settle() // the index lists Bob: a join's broadcast may miss whoever joined an instant before
	phone := h.JoinAs("alice", "")
	laptop := h.JoinAs("alice", "")
	tablet := h.JoinAs("alice", "")
	alice := []string{phone, laptop, tablet}
	h.Settle() // a state's member list may miss a device that joined an instant before (its hello heals it)
	for _, id := range alice {
		s := state(t, h, id)
		if s.You != "alice" || s.Account != "alice" {
			t.Fatalf("a connection of alice is %q (account %q), want her username, alice", s.You, s.Account)
		}
		if !slices.Equal(s.Members, []string{"alice", "bob"}) {
			t.Fatalf("members %v, want alice once and bob", s.Members)
		}
	}
	if joined := ofType(inbox(t, h, bob), "joined"); len(joined) != 1 || joined[0].Name != "alice" || joined[0].Account != "alice" {
		t.Fatalf("bob was told %+v; want alice joined once, with her account", joined)
	}
	for _, id := range alice {
		inbox(t, h, id)
	}

	h.Send(bob, `{"action":"sendPrivate","to":["alice"],"message":"for alice","ref":"b1"}`)
	for i, id := range alice {
		got := only(t, inbox(t, h, id), "private")
		if got.Message != "for alice" || got.From != "bob" || got.Account != "bob" || got.Ref != "" {
			t.Fatalf("alice's connection %d got %+v", i, got)
		}
	}
	if echo := only(t, inbox(t, h, bob), "private"); echo.Ref != "b1" || !slices.Equal(echo.To, []string{"alice"}) {
		t.Fatalf("bob's own copy %+v", echo)
	}

	// Her own messages, public and private, reach all her connections once.
	h.Send(laptop, `{"action":"sendPublic","message":"from the laptop","ref":"l1"}`)
	h.Send(phone, `{"action":"sendPrivate","to":["bob"],"message":"from the phone","ref":"p1"}`)
	for i, id := range alice {
		fs := inbox(t, h, id)
		if pub, priv := ofType(fs, "public"), ofType(fs, "private"); len(pub) != 1 || len(priv) != 1 || len(fs) != 2 ||
			pub[0].Account != "alice" || priv[0].Message != "from the phone" {
			t.Fatalf("alice's connection %d got %v; want her public and her private message once each", i, types(fs))
		}
	}
	if fs := inbox(t, h, bob); len(fs) != 2 {
		t.Fatalf("bob got %v, want the public and the private message", types(fs))
	}

	// One connection closing is not alice leaving (bob is told nothing:
	// the room counts people, and she is still here); the last one is.
	h.Disconnect(phone)
	h.Disconnect(laptop)
	if fs := inbox(t, h, bob); len(fs) != 0 {
		t.Fatalf("bob was told %v (%+v) while alice is still connected; want nothing", types(fs), fs)
	}
	h.Disconnect(tablet)
	if left := only(t, inbox(t, h, bob), "left"); left.Name != "alice" || left.Account != "alice" {
		t.Fatalf("bob was told %+v", left)
	}
}

func TestANameHeldByAnOfflineAccountStaysItsOwn(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	h.Disconnect(h.JoinAs("alice", "")) // alice has been here, and has gone
	bob := h.JoinAs("bob", "")
	for _, name := range []string{"alice", "ALICE", "Alice", "alicẹ", "ᴀʟɪᴄᴇ", "a1ice", "ａｌｉｃｅ"} {
		if f := sendErr(t, h, bob, fmt.Sprintf(`{"action":"setName","name":%q}`, name)); f.Code != "name_taken" {
			t.Errorf("bob renaming himself %q while alice is offline: %+v; want name_taken", name, f)
		}
	}
	if f := sendErr(t, h, bob, `{"action":"sendPrivate","to":["alice"],"message":"hi"}`); f.Code != "recipients_unknown" {
		t.Errorf("a private message to offline alice: %+v; want recipients_unknown", f)
	}
	// Somebody whose username is a look-alike of hers does not get it either.
	mallory, resp := h.ConnectAs("mallory", "ALICE", map[string]string{"name": "alice"})
	if resp.StatusCode != 200 {
		t.Fatalf("connect: %d", resp.StatusCode)
	}
	if s := state(t, h, mallory); chat.NameKey(s.You) == chat.NameKey("alice") || s.Warning == nil || s.Warning.Code != "name_taken" {
		t.Fatalf("mallory is %q (warning %+v); want another name and name_taken", s.You, s.Warning)
	}
	// alice keeps her name when she comes back. Renaming frees a name,
	// but not her username, which stays hers (issue 22).
	back := h.JoinAs("alice", "")
	if s := state(t, h, back); s.You != "alice" {
		t.Fatalf("alice came back as %q", s.You)
	}
	for _, name := range []string{"Alicia", "Ally"} {
		h.Send(back, fmt.Sprintf(`{"action":"setName","name":%q}`, name))
		if s := state(t, h, back); s.You != name {
			t.Fatalf("alice's rename to %s: she is %q", name, s.You)
		}
	}
	inbox(t, h, bob)
	if f := sendErr(t, h, bob, `{"action":"setName","name":"ALICE"}`); f.Code != "name_taken" {
		t.Fatalf("after alice renamed, bob took her username: %+v", f)
	}
	h.Send(bob, `{"action":"setName","name":"ALICIA"}`)
	if s := state(t, h, bob); s.You != "ALICIA" {
		t.Fatalf("after alice renamed from Alicia, bob could not take ALICIA: he is %q", s.You)
	}
}

func TestARenameReachesEveryConnectionOfTheAccountInEveryRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob, dan := h.JoinAs("bob", ""), h.JoinAs("dan", "other")
	phone, laptop, elsewhere := h.JoinAs("alice", ""), h.JoinAs("alice", ""), h.JoinAs("alice", "other")
	h.Settle() // the index lists everyone: a broadcast may miss whoever joined an instant before
	for _, id := range []string{bob, dan, phone, laptop, elsewhere} {
		inbox(t, h, id)
	}
	h.Send(phone, `{"action":"setName","name":"Alicia","ref":"r"}`)
	for _, id := range []string{bob, dan, laptop, elsewhere} {
		if f := only(t, inbox(t, h, id), "renamed"); f.OldName != "alice" || f.Name != "Alicia" || f.Account != "alice" {
			t.Fatalf("renamed frame %+v", f)
		}
	}
	if f := only(t, inbox(t, h, phone), "renamed"); f.Ref != "r" {
		t.Fatalf("the renaming connection's copy %+v", f)
	}
	for _, id := range []string{phone, laptop, elsewhere} {
		if s := state(t, h, id); s.You != "Alicia" {
			t.Fatalf("a connection of alice is still %q", s.You)
		}
	}
	// The old name is her username: it stays hers (issue 22).
	if s := state(t, h, h.JoinAs("eve", "")); s.You != "eve" {
		t.Fatal(s.You)
	}
	eve := h.JoinAs("eve", "")
	inbox(t, h, eve)
	if f := sendErr(t, h, eve, `{"action":"setName","name":"alice"}`); f.Code != "name_taken" {
		t.Fatalf("eve took alice's username after alice renamed: %+v", f)
	}
}

// Carol and Dave both ask for "Dana" (Dave as "DANA"): whichever order their
// writes interleave in, one of them gets it, the other is refused, and the
// room hears one rename.
func TestTwoAccountsRacingForOneNameGetItOnce(t *testing.T) {
	t.Parallel()
	for _, at := range []string{"claim", "account"} {
		t.Run("dave renames just before carol's "+at, func(t *testing.T) {
			t.Parallel()
			h := chattest.New(t, chattest.SignedIn)
			carol, dave, bob := h.JoinAs("carol", ""), h.JoinAs("dave", ""), h.JoinAs("bob", "")
			h.Settle() // the index lists Bob (joined under AWSLike's lag), so he hears the rename
			inbox(t, h, bob)
			var fired atomic.Bool
			var daveGot string
			marker := map[string][]byte{"claim": []byte(`"o#dana"`), "account": []byte(`"a#carol"`)}[at]
			h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
				if w.Op == "UpdateItem" && bytes.Contains(w.Body, marker) && bytes.Contains(w.Body, []byte(`Dana`)) &&
					fired.CompareAndSwap(false, true) {
					daveGot = h.Send(dave, `{"action":"setName","name":"DANA"}`)
				}
			}})
			carolGot := h.Send(carol, `{"action":"setName","name":"Dana"}`)
			h.DynamoDB.Restore()
			if !fired.Load() {
				t.Fatal("carol's rename never reached the write")
			}
			carolIs, daveIs := state(t, h, carol).You, state(t, h, dave).You
			winners := 0
			for _, n := range []string{carolIs, daveIs} {
				if chat.NameKey(n) == chat.NameKey("dana") {
					winners++
				}
			}
			if winners != 1 {
				t.Fatalf("carol is %q (%s), dave is %q (%s): want exactly one Dana", carolIs, carolGot, daveIs, daveGot)
			}
			if renamed := ofType(inbox(t, h, bob), "renamed"); len(renamed) != 1 {
				t.Fatalf("the room heard %d renames, want 1", len(renamed))
			}
			for _, who := range []string{"carol", "dave"} {
				if s := state(t, h, h.JoinAs(who, "")); chat.NameKey(s.You) != chat.NameKey(map[string]string{"carol": carolIs, "dave": daveIs}[who]) {
					t.Errorf("%s's next connection is %q", who, s.You)
				}
			}
		})
	}
}

// A claim DynamoDB applied but answered with an error is retried by the
// SDK: the retry passes (the name is already this account's) and the
// rename goes through.
func TestAnAppliedThenFailedNameClaimStillRenames(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	alice := h.JoinAs("alice", "")
	var fired atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: func(w ddbproxy.Write) bool {
		return bytes.Contains(w.Body, []byte(`"o#ann"`)) && fired.CompareAndSwap(false, true)
	}})
	h.Send(alice, `{"action":"setName","name":"Ann"}`)
	h.DynamoDB.Restore()
	if s := state(t, h, alice); !fired.Load() || s.You != "Ann" {
		t.Fatalf("alice is %q after an applied-then-failed claim (fired %v)", s.You, fired.Load())
	}
}

// sendAll sends n frames from a connection and returns how many were
// accepted and the rate_limited errors.
func sendAll(t *testing.T, h *chattest.Harness, id string, n int, body func(i int) string) (accepted int, limited []frame) {
	t.Helper()
	for i := range n {
		resp := h.Send(id, body(i))
		fs := inbox(t, h, id)
		if resp != "" {
			fs = append(fs, decode(t, []byte(resp)))
		}
		for _, f := range fs {
			switch {
			case f.Type == "error" && f.Code == "rate_limited":
				limited = append(limited, f)
			case f.Type == "error":
				t.Fatalf("frame %d: %+v", i, f)
			case f.Type == "public" || f.Type == "private" || f.Type == "renamed":
				accepted++
			}
		}
	}
	return accepted, limited
}

func TestAFloodIsCutAtTheLimitAndNothingRefusedIsStoredOrDelivered(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, func(o *chat.Options) { o.RateLimit = chat.RateLimit{Limit: 5, Window: 10 * time.Second} })
	flood, bob, other := h.Join("Flood", ""), h.Join("Bob", ""), h.Join("Other", "elsewhere")
	h.Settle() // the index lists Bob: a broadcast may miss whoever joined an instant before
	inbox(t, h, bob)
	accepted, limited := sendAll(t, h, flood, 30, func(i int) string {
		return fmt.Sprintf(`{"action":"sendPublic","message":"m%d","ref":"%d"}`, i, i)
	})
	if accepted != 5 || len(limited) != 25 {
		t.Fatalf("accepted %d, refused %d; want 5 and 25", accepted, len(limited))
	}
	for _, f := range limited {
		if f.RetryAfterMs <= 0 || f.RetryAfterMs > 10_001 || f.Action != "sendPublic" || f.Ref == "" {
			t.Fatalf("rate_limited frame %+v: want retryAfterMs in (0, 10 s], the action and the ref", f)
		}
	}
	if got := ofType(inbox(t, h, bob), "public"); len(got) != 5 || got[4].Message != "m4" {
		t.Fatalf("bob got %d messages, want the 5 accepted", len(got))
	}
	if hist := state(t, h, bob).History; len(hist) != 5 {
		t.Fatalf("history has %d messages, want the 5 accepted", len(hist))
	}
	// setName and sendPrivate count too; another connection has its own limit.
	if f := sendErr(t, h, flood, `{"action":"setName","name":"Calm"}`); f.Code != "rate_limited" {
		t.Fatalf("setName over the limit: %+v", f)
	}
	if f := sendErr(t, h, flood, `{"action":"sendPrivate","to":["Bob"],"message":"x"}`); f.Code != "rate_limited" {
		t.Fatalf("sendPrivate over the limit: %+v", f)
	}
	h.Send(other, `{"action":"sendPublic","message":"unaffected"}`)
	if got := only(t, inbox(t, h, other), "public"); got.Message != "unaffected" {
		t.Fatal(got)
	}
	// Once the window has passed, the connection may send again.
	h.Advance(10*time.Second + time.Millisecond)
	if accepted, limited := sendAll(t, h, flood, 6, func(int) string { return `{"action":"sendPublic","message":"later"}` }); accepted != 5 || len(limited) != 1 {
		t.Fatalf("after the window: accepted %d, refused %d; want 5 and 1", accepted, len(limited))
	}
}

func TestWithSignInTheLimitIsThePersonsAcrossConnections(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, func(o *chat.Options) { o.RateLimit = chat.RateLimit{Limit: 6, Window: 10 * time.Second} })
	phone, laptop := h.JoinAs("alice", ""), h.JoinAs("alice", "other")
	msg := func(int) string { return `{"action":"sendPublic","message":"hi"}` }
	a1, _ := sendAll(t, h, phone, 3, msg)
	a2, _ := sendAll(t, h, laptop, 3, msg)
	if a1+a2 != 6 {
		t.Fatalf("accepted %d + %d", a1, a2)
	}
	if f := sendErr(t, h, laptop, `{"action":"sendPublic","message":"one more"}`); f.Code != "rate_limited" {
		t.Fatalf("alice's seventh message from her second device: %+v; want rate_limited", f)
	}
	if f := sendErr(t, h, phone, `{"action":"sendPublic","message":"one more"}`); f.Code != "rate_limited" {
		t.Fatalf("alice's seventh message from her first device: %+v; want rate_limited", f)
	}
	bob := h.JoinAs("bob", "")
	if a, _ := sendAll(t, h, bob, 1, msg); a != 1 {
		t.Fatal("bob is limited by alice's flood")
	}
}

// The limit holds across instances: concurrent frames from one connection,
// each on its own invocation, accept at most the limit.
func TestConcurrentFramesOfOnePersonAcceptAtMostTheLimit(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, func(o *chat.Options) { o.RateLimit = chat.RateLimit{Limit: 10, Window: time.Minute} })
	flood := h.Join("Flood", "")
	done := make(chan string, 40)
	for i := range 40 {
		go func() {
			done <- h.SendCtx(context.Background(), flood, fmt.Sprintf(`{"action":"sendPublic","message":"%d"}`, i))
		}()
	}
	for range 40 {
		<-done
	}
	if n := len(ofType(inbox(t, h, flood), "public")); n > 10 || n < 1 {
		t.Fatalf("%d of 40 concurrent messages accepted; want at most 10", n)
	}
}

// Ten accounts ask for one name at the same moment (each on its own
// invocation, in any spelling of it): exactly one gets it.
func TestConcurrentAccountsAskingForOneNameGiveItToOne(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	spellings := []string{"Zed", "ZED", "zed", "Ｚｅｄ", "ＺＥＤ", "zeD", "Zed", "zed", "ZEd", "zEd"}
	ids := make([]string, len(spellings))
	for i := range ids {
		ids[i] = h.JoinAs(fmt.Sprintf("account-%d", i), "")
	}
	done := make(chan struct{})
	for i, id := range ids {
		go func() {
			defer func() { done <- struct{}{} }()
			h.Send(id, fmt.Sprintf(`{"action":"setName","name":%q}`, spellings[i]))
		}()
	}
	for range ids {
		<-done
	}
	var holders []string
	for i, id := range ids {
		if s := state(t, h, id); chat.NameKey(s.You) == chat.NameKey("zed") {
			holders = append(holders, fmt.Sprintf("account-%d as %q", i, s.You))
		}
	}
	if len(holders) != 1 {
		t.Fatalf("the name zed went to %v; want exactly one account", holders)
	}
}

// alice's laptop connects while the account index lags; her phone renames her
// before the index lists the laptop, so the rename cannot reach the laptop's
// record. The laptop still speaks under the new name: every limited frame
// reads the account's name with its charge.
func TestAConnectionTheRenameMissedSpeaksUnderTheNewName(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob, phone := h.JoinAs("bob", ""), h.JoinAs("alice", "")
	h.Settle() // the index lists Bob and the phone (joined under AWSLike's lag); only the laptop is missed
	h.DynamoDB.Inject(ddbproxy.Faults{IndexLag: time.Minute})
	laptop := h.JoinAs("alice", "")
	h.Send(phone, `{"action":"setName","name":"Alicia"}`)
	inbox(t, h, bob)
	h.Send(laptop, `{"action":"sendPublic","message":"from the laptop"}`)
	h.DynamoDB.Restore()
	if got := only(t, inbox(t, h, bob), "public"); got.From != "Alicia" {
		t.Fatalf("the laptop's message is from %q, want Alicia", got.From)
	}
	if s := state(t, h, laptop); s.You != "Alicia" {
		t.Fatalf("the laptop is %q", s.You)
	}
}

// alice's phone loses its network (no close, no $disconnect) while her laptop
// stays: when a broadcast finds the phone gone, the room is not told alice
// left, and still lists her.
func TestALostDeviceIsNotThePersonLeaving(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob, phone, laptop := h.JoinAs("bob", ""), h.JoinAs("alice", ""), h.JoinAs("alice", "")
	h.Settle()             // the index lists the phone: a broadcast may miss whoever joined an instant before
	h.Advance(time.Minute) // past the stale grace
	inbox(t, h, bob)
	inbox(t, h, laptop)
	h.GW.Vanish(phone)
	h.Send(bob, `{"action":"sendPublic","message":"anyone?"}`)
	members := ofType(inbox(t, h, bob), "members")
	if len(members) != 1 {
		t.Fatalf("bob got %d members frames, want 1 after the stale removal", len(members))
	}
	if m := members[0]; len(m.Gone) != 0 || !slices.Equal(m.Members, []string{"alice", "bob"}) {
		t.Fatalf("members frame %+v: alice is still here on her laptop", m)
	}
	if got := ofType(inbox(t, h, laptop), "public"); len(got) != 1 {
		t.Fatalf("the laptop got %d messages", len(got))
	}
}
