package chat_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"

	"github.com/groupchat/groupchat/contract"
)

// errorFrameMax is the bound docs/design.md ("Frame sizes") and
// docs/protocol.md ("Limits") give for an error frame.
const errorFrameMax = 5_000

// clientMessageMax is the largest frame API Gateway takes from a client
// (128 KB): the worst inputs below are built up to it.
const clientMessageMax = 128 * 1024

// worstEcho is the dearest string a client can make the server repeat:
// n distinct strings, each far longer than any bound, of the characters
// that cost the most JSON bytes (six: a control character, one byte of
// UTF-8, so a name's 32 characters bind before its 64 bytes). They differ
// in their first character, so cutting them keeps them distinct.
func worstEcho(t *testing.T, n, length int) []string {
	t.Helper()
	dear := chat.DearestChars()
	top := chat.JSONCost(string(dear[1]))
	for _, r := range dear {
		if r != 0 && chat.JSONCost(string(r)) > top {
			t.Fatalf("%+q costs more JSON than the dearest one-byte character %+q: build the echo of it", r, dear[1])
		}
	}
	var firsts []rune
	for r := rune(0); r < utf8.RuneSelf && len(firsts) < n; r++ {
		if chat.JSONCost(string(r)) == top {
			firsts = append(firsts, r)
		}
	}
	if len(firsts) < n {
		t.Fatalf("only %d one-byte characters cost %d bytes of JSON", len(firsts), top)
	}
	out := make([]string, n)
	for i, r := range firsts {
		out[i] = string(r) + strings.Repeat(string(dear[1]), length-1)
	}
	return out
}

// body encodes a client frame and checks that API Gateway would take it.
func body(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > clientMessageMax {
		t.Fatalf("a test frame of %d bytes: API Gateway refuses over %d", len(b), clientMessageMax)
	}
	return string(b)
}

// errorFrame sends a frame that must be refused with code and returns the
// error frame as sent, wherever the route delivers it.
func errorFrame(t *testing.T, h *chattest.Harness, id, frame, code string) []byte {
	t.Helper()
	var raws [][]byte
	if resp := h.Send(id, frame); resp != "" {
		raws = append(raws, []byte(resp))
	}
	for _, r := range h.GW.Take(id) {
		raws = append(raws, r)
	}
	if len(raws) != 1 {
		t.Fatalf("%s: got %d frames, want one error", code, len(raws))
	}
	if f := decode(t, raws[0]); f.Type != "error" || f.Code != code {
		t.Fatalf("got %s %s, want error %s", f.Type, f.Code, code)
	}
	return raws[0]
}

// The sender hears back from every refusal, whatever it sent: every error
// frame stays inside the documented bound (far inside API Gateway's 128 KB)
// for the worst input the validators take, from client frames of up to
// 128 KB of the dearest characters. What an error repeats (the action, the
// ref, the unknown names) is cut by the server.
func TestTheSenderHearsBackFromEveryErrorHoweverLargeItsFrame(t *testing.T) {
	t.Parallel()
	ref := chat.WorstRef(t)
	name := chat.WorstNewName(t) // name_taken repeats it: a name the rule gives
	hugeName := worstEcho(t, 1, 20_000)[0]
	hugeNames := worstEcho(t, chat.RecipientsMax, 1_000)

	largest := 0
	check := func(t *testing.T, raw []byte) {
		t.Helper()
		largest = max(largest, len(raw))
		if len(raw) > errorFrameMax {
			t.Errorf("an error frame of %d bytes, over the documented %d: %.200s…", len(raw), errorFrameMax, raw)
		}
	}

	h := chattest.New(t)
	alice := h.Join("Alice", "")
	h.Join(name, "")
	h.GW.Take(alice)
	for _, tc := range []struct {
		name  string
		frame map[string]any
		code  string
	}{
		{"an unknown action", map[string]any{"action": hugeName, "ref": ref}, contract.CodeUnknownAction},
		{"a ref too long, with an unknown action", map[string]any{"action": hugeName[:10_000], "ref": hugeName[:10_000]}, contract.CodeBadField},
		{"a field of the wrong type", map[string]any{"action": "sendPrivate", "to": hugeName, "message": "x", "ref": ref}, contract.CodeBadField},
		{"a field missing", map[string]any{"action": "sendPrivate", "message": "x", "ref": ref}, contract.CodeMissingField},
		{"an empty name", map[string]any{"action": "setName", "name": " ", "ref": ref}, contract.CodeNameEmpty},
		{"a name too long", map[string]any{"action": "setName", "name": strings.Repeat("é", 60_000), "ref": ref}, contract.CodeNameTooLong},
		{"an invalid name", map[string]any{"action": "setName", "name": hugeName[:30], "ref": ref}, contract.CodeNameInvalid},
		{"a name taken", map[string]any{"action": "setName", "name": name, "ref": ref}, contract.CodeNameTaken},
		{"an empty message", map[string]any{"action": "sendPublic", "message": " ", "ref": ref}, contract.CodeMessageEmpty},
		{"a message too long", map[string]any{"action": "sendPublic", "message": strings.Repeat("é", 60_000), "ref": ref}, contract.CodeMessageTooLong},
		{"an invalid message", map[string]any{"action": "sendPublic", "message": hugeName[:1000], "ref": ref}, contract.CodeMessageInvalid},
		{"no recipients", map[string]any{"action": "sendPrivate", "to": []string{}, "message": "x", "ref": ref}, contract.CodeRecipientsEmpty},
		{"too many recipients", map[string]any{"action": "sendPrivate", "to": worstEcho(t, 21, 700), "message": "x", "ref": ref}, contract.CodeRecipientsTooMany},
		{"recipients who cannot be anyone", map[string]any{"action": "sendPrivate", "to": hugeNames, "message": "x", "ref": ref}, contract.CodeRecipientsUnknown},
		{"recipients nobody is", map[string]any{"action": "sendPrivate", "to": slices.Concat(hugeNames[:chat.RecipientsMax-1], []string{"Zed"}), "message": "x", "ref": ref}, contract.CodeRecipientsUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, errorFrame(t, h, alice, body(t, tc.frame), tc.code)) })
	}

	t.Run("busy", func(t *testing.T) {
		// Another rename of the same connection lands between the claim of
		// the new name and the rename of the record.
		var once sync.Once
		h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
			if w.Op == "UpdateItem" && strings.Contains(string(w.Body), "REMOVE #warnCode") {
				once.Do(func() {
					if err := h.Store.Rename(context.Background(), alice, "Alice", "Alicia", time.Time{}); err != nil {
						t.Error(err)
					}
				})
			}
		}})
		defer h.DynamoDB.Restore()
		check(t, errorFrame(t, h, alice, body(t, map[string]any{"action": "setName", "name": "Alex", "ref": ref}), contract.CodeBusy))
	})
	t.Run("not connected", func(t *testing.T) {
		check(t, errorFrame(t, h, chattest.NewConnID(), body(t, map[string]any{"action": "hello", "ref": ref}), contract.CodeNotConnected))
	})
	t.Run("rate limited", func(t *testing.T) {
		h := chattest.New(t, func(o *chat.Options) { o.RateLimit = chat.RateLimit{Limit: 1, Window: time.Hour} })
		alice := h.Join("Alice", "")
		h.Send(alice, `{"action":"sendPublic","message":"one"}`)
		h.GW.Take(alice)
		check(t, errorFrame(t, h, alice, body(t, map[string]any{"action": "sendPublic", "message": "two", "ref": ref}), contract.CodeRateLimited))
	})
	t.Run("recipients nobody is, with sign-in", func(t *testing.T) {
		h := chattest.New(t, chattest.SignedIn)
		alice := h.JoinAs("alice", "")
		h.GW.Take(alice)
		to := slices.Concat(hugeNames[:chat.RecipientsMax-1], []string{"Zed"})
		check(t, errorFrame(t, h, alice, body(t, map[string]any{"action": "sendPrivate", "to": to, "message": "x", "ref": ref}), contract.CodeRecipientsUnknown))
	})
	t.Run("internal", func(t *testing.T) {
		h.DynamoDB.Inject(ddbproxy.Faults{Unavailable: true})
		defer h.DynamoDB.Restore()
		check(t, errorFrame(t, h, alice, body(t, map[string]any{"action": "hello", "ref": ref}), contract.CodeInternal))
	})

	t.Logf("the largest error frame: %d bytes", largest)
	// The bound is the real one, not a guess far above it.
	if !t.Failed() && largest < errorFrameMax-512 {
		t.Errorf("the largest error frame is %d bytes: the documented %d is loose; lower it", largest, errorFrameMax)
	}
}
