package chat_test

// Attacks on names that belong to accounts, private history and rate
// limits (review of issues 12 and 15), through dynalite and the management
// API stand-in.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Alice renames to "bob" on her phone and, as soon as that lands, back to
// "alice" on her laptop: the phone's release of "alice" must not drop the
// claim her laptop has just made again. Otherwise her account is named
// "alice" while nobody owns the name, and Mallory takes it: two accounts
// speaking as "alice".
func TestARenameAwayAndBackKeepsTheNameOwned(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	phone, laptop := h.JoinAs("alice", ""), h.JoinAs("alice", "")
	mallory := h.JoinAs("mallory", "")
	var fired atomic.Bool
	var back string
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		// The phone's release of its old name, after its account write.
		if w.Op == "DeleteItem" && bytes.Contains(w.Body, []byte(`"o#`+chat.NameKey("alice")+`"`)) && fired.CompareAndSwap(false, true) {
			back = h.Send(laptop, `{"action":"setName","name":"alice"}`)
		}
	}})
	h.Send(phone, `{"action":"setName","name":"bob"}`)
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("the phone's rename never released alice")
	}
	acct, err := h.Store.Account(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	is := acct.Name
	owner, err := h.Store.NameOwner(t.Context(), is)
	if err != nil {
		t.Fatal(err)
	}
	if owner != "alice" {
		t.Errorf("alice's account is named %q (laptop: %s) but the name's owner is %q", is, back, owner)
	}
	inbox(t, h, mallory)
	if f := sendErr(t, h, mallory, `{"action":"setName","name":"`+is+`"}`); f.Code != "name_taken" {
		t.Errorf("mallory renaming himself %q, alice's name: %+v; want name_taken", is, f)
	}
	if s := state(t, h, mallory); chat.NameKey(s.You) == chat.NameKey(is) {
		t.Fatalf("mallory is %q, alice's name", s.You)
	}
}

// A charge DynamoDB applied but answered with an error is retried by the
// SDK: the retry must not count the frame a second time, or a flaky
// moment costs a person places they never used.
func TestAnAppliedThenFailedChargeCountsOnce(t *testing.T) {
	t.Parallel()
	for _, signedIn := range []bool{false, true} {
		t.Run(map[bool]string{false: "without sign-in", true: "with sign-in"}[signedIn], func(t *testing.T) {
			t.Parallel()
			h, id := limitedAlice(t, signedIn, chat.RateLimit{Limit: 3, Window: time.Minute})
			inbox(t, h, id)
			var fired atomic.Bool
			h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: func(w ddbproxy.Write) bool {
				return w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`list_append`)) && fired.CompareAndSwap(false, true)
			}})
			accepted, limited := sendAll(t, h, id, 4, func(i int) string {
				return fmt.Sprintf(`{"action":"sendPublic","message":"m%d"}`, i)
			})
			h.DynamoDB.Restore()
			if !fired.Load() || accepted != 3 || len(limited) != 1 {
				t.Fatalf("accepted %d, refused %d (fault fired %v); want 3 of the limit of 3 and 1 refused", accepted, len(limited), fired.Load())
			}
		})
	}
}

// A members cursor that is not one the server made is bad input: a clear
// bad_field, never an internal error (which a client could otherwise set
// off at will, into the handler-error alarm).
func TestAForgedMembersCursorIsBadInput(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	id := h.Join("alice", "")
	h.Join("bob", "")
	inbox(t, h, id)
	for _, raw := range []string{"\xff\xfe", strings.Repeat("x", 3000), "c#" + strings.Repeat("y", 1100)} {
		cursor := base64.RawURLEncoding.EncodeToString([]byte(raw))
		body, _ := json.Marshal(map[string]string{"action": "members", "cursor": cursor})
		f := sendErr(t, h, id, string(body))
		if f.Code != "bad_field" {
			t.Errorf("members with a forged cursor (%d bytes): %+v; want bad_field", len(raw), f)
		}
	}
}

// A capital I is drawn like a small l in the page's sans-serif font, and
// TR39's skeleton maps "I" to "l"; but case is folded first, so "aIice"
// was "aiice", not alice's name, and mallory spoke as "aIice", which reads
// as "alice".
func TestACapitalIIsNotASmallL(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	h.JoinAs("alice", "")
	mallory := h.JoinAs("mallory", "")
	inbox(t, h, mallory)
	for _, name := range []string{"aIice", "AIice", "ALlCE"} {
		if f := sendErr(t, h, mallory, `{"action":"setName","name":"`+name+`"}`); f.Code != "name_taken" {
			t.Errorf("mallory renaming himself %q, which reads as alice: %+v; want name_taken", name, f)
		}
	}
}

// retryAfterMs is the wait after which the frame is accepted: a client
// that waits it out is let through, one that comes back half a second early
// is still refused. (The instance's memory of a refusal counted from after
// the table's charge, and the wait was rounded down to the millisecond: a
// client that waited exactly was refused again, "try again in 0.0 s".)
func TestRetryAfterIsTheWaitThatLetsTheFrameThrough(t *testing.T) {
	t.Parallel()
	for _, signedIn := range []bool{false, true} {
		t.Run(map[bool]string{false: "without sign-in", true: "with sign-in"}[signedIn], func(t *testing.T) {
			t.Parallel()
			h, id := limitedAlice(t, signedIn, chat.RateLimit{Limit: 3, Window: 10 * time.Second})
			inbox(t, h, id)
			send := func(i int) string { return fmt.Sprintf(`{"action":"sendPublic","message":"m%d"}`, i) }
			if accepted, limited := sendAll(t, h, id, 4, send); accepted != 3 || len(limited) != 1 {
				t.Fatalf("accepted %d, refused %d", accepted, len(limited))
			}
			_, limited := sendAll(t, h, id, 1, send)
			if len(limited) != 1 {
				t.Fatal("a frame right after a refusal was accepted")
			}
			wait := time.Duration(limited[0].RetryAfterMs) * time.Millisecond
			h.Advance(wait - 500*time.Millisecond)
			if _, early := sendAll(t, h, id, 1, send); len(early) != 1 {
				t.Fatalf("accepted 0.5 s before retryAfterMs (%v)", wait)
			}
			h.Advance(500 * time.Millisecond)
			if accepted, late := sendAll(t, h, id, 1, send); accepted != 1 {
				t.Fatalf("refused %+v after waiting retryAfterMs (%v)", late, wait)
			}
		})
	}
}

// limitedAlice starts a harness with the rate limit given, signed in or
// not, and joins alice (her account's, with sign-in).
func limitedAlice(t *testing.T, signedIn bool, limit chat.RateLimit) (*chattest.Harness, string) {
	t.Helper()
	opts := []chattest.Option{func(o *chat.Options) { o.RateLimit = limit }}
	if signedIn {
		h := chattest.New(t, append(opts, chattest.SignedIn)...)
		return h, h.JoinAs("alice", "")
	}
	h := chattest.New(t, opts...)
	return h, h.Join("alice", "")
}
