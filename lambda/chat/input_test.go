package chat_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

func TestBadInputGetsAStableErrorAndChangesNothing(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 2001)
	for _, tc := range []struct {
		name, frame, code, action string
	}{
		{"not JSON", `hello there`, "bad_json", ""},
		{"a JSON array", `[1,2]`, "bad_json", ""},
		{"JSON null", `null`, "bad_json", ""},
		{"no action", `{"message":"hi"}`, "unknown_action", ""},
		{"unknown action", `{"action":"dance"}`, "unknown_action", "dance"},
		{"action of another type", `{"action":42}`, "unknown_action", ""},
		{"action key in another case", `{"Action":"sendPublic","message":"hi"}`, "unknown_action", ""},
		{"ref too long", `{"action":"ping","ref":"` + strings.Repeat("r", 65) + `"}`, "bad_field", "ping"},
		{"ref not a string", `{"action":"ping","ref":7}`, "bad_field", "ping"},
		{"name missing", `{"action":"setName"}`, "missing_field", "setName"},
		{"name null", `{"action":"setName","name":null}`, "missing_field", "setName"},
		{"name a number", `{"action":"setName","name":5}`, "bad_field", "setName"},
		{"name empty", `{"action":"setName","name":""}`, "name_empty", "setName"},
		{"name only spaces", `{"action":"setName","name":" \t "}`, "name_empty", "setName"},
		{"name too long", `{"action":"setName","name":"` + strings.Repeat("ß", 33) + `"}`, "name_too_long", "setName"},
		{"name with a control character", `{"action":"setName","name":"a\u0000b"}`, "name_invalid", "setName"},
		{"name with a newline", `{"action":"setName","name":"a\nb"}`, "name_invalid", "setName"},
		{"name with a direction override", `{"action":"setName","name":"a\u202eb"}`, "name_invalid", "setName"},
		{"name taken", `{"action":"setName","name":"bob"}`, "name_taken", "setName"},
		{"message missing", `{"action":"sendPublic"}`, "missing_field", "sendPublic"},
		{"message an object", `{"action":"sendPublic","message":{"x":1}}`, "bad_field", "sendPublic"},
		{"message empty", `{"action":"sendPublic","message":""}`, "message_empty", "sendPublic"},
		{"message only white space", `{"action":"sendPublic","message":"  \n\t"}`, "message_empty", "sendPublic"},
		{"message too long", `{"action":"sendPublic","message":"` + long + `"}`, "message_too_long", "sendPublic"},
		{"message with a control character", `{"action":"sendPublic","message":"a\u0007"}`, "message_invalid", "sendPublic"},
		{"private without recipients", `{"action":"sendPrivate","message":"x"}`, "missing_field", "sendPrivate"},
		{"private to an empty list", `{"action":"sendPrivate","to":[],"message":"x"}`, "recipients_empty", "sendPrivate"},
		{"private to a string", `{"action":"sendPrivate","to":"Bob","message":"x"}`, "bad_field", "sendPrivate"},
		{"private to numbers", `{"action":"sendPrivate","to":[1,2],"message":"x"}`, "bad_field", "sendPrivate"},
		{"private to too many", `{"action":"sendPrivate","to":` + names(21) + `,"message":"x"}`, "recipients_too_many", "sendPrivate"},
		{"private to nobody known", `{"action":"sendPrivate","to":["Zed"],"message":"x"}`, "recipients_unknown", "sendPrivate"},
		{"private with empty message", `{"action":"sendPrivate","to":["Bob"],"message":""}`, "message_empty", "sendPrivate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := chattest.New(t)
			alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
			h.Send(bob, `{"action":"sendPublic","message":"before"}`)
			before := state(t, h, alice)
			inbox(t, h, alice)
			inbox(t, h, bob)

			e := sendErr(t, h, alice, tc.frame)
			if e.Code != tc.code || e.Action != tc.action || e.Message == "" {
				t.Fatalf("error = %+v; want code %s for action %q with a sentence", e, tc.code, tc.action)
			}
			if !strings.HasSuffix(e.Message, ".") || strings.Contains(strings.ToLower(e.Message), "dynamodb") {
				t.Fatalf("message %q is not a plain sentence", e.Message)
			}
			if fs := inbox(t, h, bob); len(fs) != 0 {
				t.Fatalf("a refused frame reached others: %v", types(fs))
			}
			after := state(t, h, alice)
			if after.You != before.You || !slices.Equal(after.Members, before.Members) || len(after.History) != len(before.History) {
				t.Fatalf("state changed: %+v → %+v", before, after)
			}
			// The connection stays usable.
			if f := decode(t, []byte(h.Send(alice, `{"action":"ping"}`))); f.Type != "pong" {
				t.Fatalf("after the error, ping answered %+v", f)
			}
		})
	}
}

func TestUnknownActionErrorListsTheValidActions(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	e := sendErr(t, h, h.Join("Alice", ""), `{"action":"dance"}`)
	for _, a := range []string{"hello", "ping", "setName", "sendPublic", "sendPrivate"} {
		if !strings.Contains(e.Message, a) {
			t.Errorf("%q does not name %s", e.Message, a)
		}
	}
}

func TestLimitsAreInclusive(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice := h.Join("Alice", "")
	name := strings.Repeat("ß", 32)
	h.Send(alice, `{"action":"setName","name":"`+name+`"}`)
	if s := state(t, h, alice); s.You != name {
		t.Fatalf("a 32-character name was refused: %q", s.You)
	}
	msg := strings.Repeat("é", 2000)
	h.Send(alice, `{"action":"sendPublic","message":"`+msg+`"}`)
	fs := inbox(t, h, alice)
	if last := fs[len(fs)-1]; last.Type != "public" || utf8.RuneCountInString(last.Message) != 2000 {
		t.Fatalf("a 2000-character message was refused: %v", types(fs))
	}
}

func names(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = strings.Repeat("x", i+1)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// FuzzHandle sends arbitrary frames on every message route: the handler
// must never panic, and must answer with nothing or a JSON frame with a type.
func FuzzHandle(f *testing.F) {
	for _, seed := range []string{
		`{"action":"ping"}`, `{"action":"hello"}`, `{"action":"setName","name":"Bob"}`,
		`{"action":"sendPublic","message":"hi"}`, `{"action":"sendPrivate","to":["Bob"],"message":"x"}`,
		`{"action":"sendPrivate","to":[null],"message":"x"}`, `{"action":"setName","name":"\ud800"}`,
		`{"action":"sendPublic","message":"\u0000"}`, `{`, `"`, ``, `{"action":["x"]}`,
	} {
		f.Add(seed)
	}
	h := chattest.New(f)
	alice := h.Join("Alice", "")
	h.Join("Bob", "")
	f.Fuzz(func(t *testing.T, body string) {
		resp := h.With(t).Send(alice, body)
		for _, raw := range append(h.GW.Take(alice), json.RawMessage(resp)) {
			if len(raw) == 0 {
				continue
			}
			decode(t, raw)
		}
		h.GW.Take("")
	})
}
