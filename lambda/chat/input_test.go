package chat_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/rangetable"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
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
			h.Settle() // the index lists both: "before" and "after" are read from the same room
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

// blankCharacters render as nothing: alone they make a name that looks
// empty, after a real name a second "Bob" that looks exactly like Bob.
var blankCharacters = []struct {
	what string
	r    rune
}{
	{"braille pattern blank", '\u2800'},
	{"hangul filler", '\u3164'},
	{"hangul choseong filler", '\u115f'},
	{"hangul jungseong filler", '\u1160'},
	{"halfwidth hangul filler", '\uffa0'},
	{"zero width space", '\u200b'},
	{"word joiner", '\u2060'},
	{"mongolian vowel separator", '\u180e'},
	{"combining grapheme joiner", '\u034f'},
	{"soft hyphen", '\u00ad'},
	{"zero width no-break space", '\ufeff'},
	{"khmer vowel inherent aq", '\u17b4'},
	{"variation selector-16", '\ufe0f'},
	{"tag space", '\U000e0020'},
	{"ideographic space", '\u3000'},
	{"no-break space", '\u00a0'},
}

func TestNamesAndRoomsThatLookBlankOrLikeAnotherAreRefused(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	h.Join("Bob", "")
	for _, c := range blankCharacters {
		blank := string(c.r)
		// White space around a name is trimmed: alone it leaves nothing,
		// at either end it leaves Bob, who is taken.
		alone, edge := "name_invalid", "name_invalid"
		if unicode.IsSpace(c.r) {
			alone, edge = "name_empty", "name_taken"
		}
		for _, tc := range []struct{ name, code string }{
			{blank, alone}, {"Bob" + blank, edge}, {blank + "Bob", edge}, {"B" + blank + "ob", "name_invalid"},
		} {
			id, resp := h.Connect(map[string]string{"name": tc.name})
			if resp.StatusCode != 200 {
				t.Fatalf("%s: connect as %+q: status %d, want 200 (joins as a guest)", c.what, tc.name, resp.StatusCode)
			}
			s := state(t, h, id)
			if s.Warning == nil || !strings.HasPrefix(s.You, "guest-") {
				t.Errorf("%s: connect as %+q made %+q with no warning; want a guest name", c.what, tc.name, s.You)
			} else if s.Warning.Code != tc.code {
				t.Errorf("%s: connect as %+q warned %s, want %s", c.what, tc.name, s.Warning.Code, tc.code)
			}
		}
	}
	for _, c := range blankCharacters {
		for _, room := range []string{string(c.r), "lobby" + string(c.r), string(c.r) + "lobby"} {
			if _, resp := h.Connect(map[string]string{"room": room}); resp.StatusCode != 400 {
				t.Errorf("%s: room %+q: status %d, want 400", c.what, room, resp.StatusCode)
			}
		}
	}
}

// Every character Unicode marks as white space (but the ordinary space) or
// as ignorable in rendering (format characters, variation selectors,
// fillers) is refused inside a name: the rule is the properties, not a list.
func TestNamesRefuseEveryWhiteSpaceAndDefaultIgnorableCharacter(t *testing.T) {
	t.Parallel()
	for _, table := range []*unicode.RangeTable{unicode.White_Space, unicode.Other_Default_Ignorable_Code_Point,
		unicode.Cf, unicode.Variation_Selector} {
		rangetable.Visit(table, func(r rune) {
			if r == ' ' {
				return
			}
			if name, p := chat.CleanName("Bob" + string(r) + "by"); p == nil {
				t.Errorf("U+%04X: accepted as %+q", r, name)
			}
		})
	}
}

func TestNamesInOtherScriptsStillPass(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	for _, name := range []string{"Zoë", "José María", "O'Brien", "Иван", "Ελένη", "李小龙", "김민준", "محمد", "דוד",
		"नमस्ते", "สมชาย", "ཀུན་དགའ", "សុខា", "ᠮᠣᠩᠭᠣᠯ", "🙂 Ana"} {
		if _, p := chat.CleanName(name); p != nil {
			t.Errorf("%q refused: %v", name, p)
			continue
		}
		if s := state(t, h, h.Join(name, "")); s.You != name || s.Warning != nil {
			t.Errorf("connect as %q: you %q, warning %+v", name, s.You, s.Warning)
		}
	}
}

// The limit on recipients counts people, not how often the list names them.
func TestRecipientsAreCountedOnceEach(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	members := h.Populate("lobby", 20)
	repeat := func(names []string, n int) string {
		var to []string
		for range n {
			to = append(to, names...)
		}
		b, _ := json.Marshal(to)
		return string(b)
	}
	var twenty []string
	for i := range 20 {
		twenty = append(twenty, fmt.Sprintf("member-%d", i))
	}

	h.GW.Take(alice)
	h.GW.Take(bob)
	h.Send(alice, `{"action":"sendPrivate","to":`+repeat([]string{"Bob", "BOB", " bob "}, 101)+`,"message":"psst","ref":"r1"}`)
	if f := only(t, inbox(t, h, bob), "private"); !slices.Equal(f.To, []string{"Bob"}) {
		t.Fatalf("Bob got to %v, want [Bob]", f.To)
	}
	if f := only(t, inbox(t, h, alice), "private"); f.Ref != "r1" || !slices.Equal(f.To, []string{"Bob"}) {
		t.Fatalf("Alice's copy = %+v", f)
	}

	h.Send(alice, `{"action":"sendPrivate","to":`+repeat(twenty, 6)+`,"message":"all of you"}`)
	for i, id := range members {
		if f := only(t, inbox(t, h, id), "private"); len(f.To) != 20 {
			t.Fatalf("member-%d got to %v, want the 20 names", i, f.To)
		}
	}
	inbox(t, h, alice)

	if e := sendErr(t, h, alice, `{"action":"sendPrivate","to":`+repeat(append(twenty, "Bob"), 3)+`,"message":"x"}`); e.Code != "recipients_too_many" {
		t.Fatalf("21 people named three times each: error %+v, want recipients_too_many", e)
	}
	e := sendErr(t, h, alice, `{"action":"sendPrivate","to":`+repeat([]string{"Zed"}, 150)+`,"message":"x"}`)
	if e.Code != "recipients_unknown" || !slices.Equal(e.Unknown, []string{"Zed"}) {
		t.Fatalf("150 copies of an unknown name: error %+v, want recipients_unknown listing Zed once", e)
	}
}
