package chat_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// Every field of every action in contract's definition is read by its handler
// as the definition says: a required field that is absent is missing_field, a
// field of another type is bad_field (both naming it), a frame at a field's
// limits is accepted and one over them is refused. A field added to the
// definition that the handler does not read, or a limit that differs from the
// handler's, fails.
func TestEveryDefinedActionFieldIsReadByItsHandler(t *testing.T) {
	t.Parallel()
	for _, a := range contract.Actions() {
		for _, f := range a.Fields {
			t.Run(a.Name+"/"+f.Name, func(t *testing.T) {
				t.Parallel()
				if f.Required {
					e := refused(t, a, f.Name, nil)
					if e.Code != contract.CodeMissingField || !strings.Contains(e.Message, `"`+f.Name+`"`) {
						t.Errorf("without %q: %s %q, want %s naming it", f.Name, e.Code, e.Message, contract.CodeMissingField)
					}
				}
				wrong := any(7)
				if f.Type == contract.Number {
					wrong = "7"
				}
				if e := refused(t, a, f.Name, wrong); e.Code != contract.CodeBadField || !strings.Contains(e.Message, `"`+f.Name+`"`) {
					t.Errorf("%q of another type: %s %q, want %s naming it", f.Name, e.Code, e.Message, contract.CodeBadField)
				}
				for _, c := range limitCases(f) {
					if c.over {
						refused(t, a, f.Name, c.value)
					} else {
						accepted(t, a, f.Name, c.value)
					}
				}
			})
		}
	}
}

type limitCase struct {
	value any
	over  bool
}

// limitCases are values at and over a string field's bounds, and over a
// list's (a list at its bound of names nobody has is refused for that).
func limitCases(f contract.Field) []limitCase {
	var cs []limitCase
	if f.MaxChars > 0 {
		cs = append(cs, limitCase{strings.Repeat("a", f.MaxChars), false}, limitCase{strings.Repeat("a", f.MaxChars+1), true})
	}
	if f.MaxBytes > 0 { // "あ" is 3 bytes of UTF-8: the bytes bind before the characters
		cs = append(cs, limitCase{strings.Repeat("あ", f.MaxBytes/3), false}, limitCase{strings.Repeat("あ", f.MaxBytes/3+1), true})
	}
	if f.MaxItems > 0 {
		names := make([]string, f.MaxItems+1)
		for i := range names {
			names[i] = "n" + strings.Repeat("x", i)
		}
		cs = append(cs, limitCase{names, true})
	}
	return cs
}

// frameOf is a frame of action a whose required fields hold valid values
// (Bob is in the room; an "id" is messageID, of a message of Alice's), with
// field set to value, or left out when value is nil.
func frameOf(t *testing.T, a contract.Action, field string, value any, messageID string) string {
	t.Helper()
	fields := map[string]any{"action": a.Name}
	for _, f := range a.Fields {
		switch {
		case f.Name == field:
			if value != nil {
				fields[f.Name] = value
			}
		case !f.Required:
		case f.Type == contract.Strings:
			fields[f.Name] = []string{"Bob"}
		case f.Name == "id":
			fields[f.Name] = messageID
		case f.Name == "account": // a moderation act's: Bob's account
			fields[f.Name] = "bob"
		case f.Name == "minutes":
			fields[f.Name] = 5
		case f.Type == contract.String:
			fields[f.Name] = "Carol"
		default:
			t.Fatalf("no valid value of %q for its type %+v", f.Name, f.Type)
		}
	}
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// reply is what the test reads of a server frame.
type reply struct{ Type, Code, Message string }

// send sends a's frame from Alice, with Bob in the room, and returns what she got.
func send(t *testing.T, a contract.Action, field string, value any) []reply {
	t.Helper()
	var h *chattest.Harness
	var alice string
	if slices.ContainsFunc(a.Fields, func(f contract.Field) bool { return f.Name == "account" }) {
		// A moderation act: Alice a moderator, on Bob's account.
		h = chattest.New(t, chattest.SignedIn)
		alice = h.JoinModerator("alice", "")
		h.JoinAs("bob", "")
	} else {
		h = chattest.New(t)
		alice = h.Join("Alice", "")
		h.Join("Bob", "")
	}
	h.GW.Take(alice)
	var messageID string
	if slices.ContainsFunc(a.Fields, func(f contract.Field) bool { return f.Name == "id" }) {
		// An action on a message (remove): Alice's own.
		h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
		for _, raw := range h.GW.Take(alice) {
			var f struct{ Type, ID string }
			if json.Unmarshal(raw, &f) == nil && f.Type == contract.FramePublic {
				messageID = f.ID
			}
		}
	}
	var raws []json.RawMessage
	if resp := h.Send(alice, frameOf(t, a, field, value, messageID)); resp != "" {
		raws = append(raws, json.RawMessage(resp))
	}
	raws = append(raws, h.GW.Take(alice)...)
	var fs []reply
	for _, raw := range raws {
		var r reply
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("server frame %s: %v", raw, err)
		}
		fs = append(fs, r)
	}
	return fs
}

func refused(t *testing.T, a contract.Action, field string, value any) reply {
	t.Helper()
	for _, f := range send(t, a, field, value) {
		if f.Type == contract.FrameError {
			return f
		}
	}
	t.Errorf("%s with %s = %v was accepted", a.Name, field, value)
	return reply{}
}

func accepted(t *testing.T, a contract.Action, field string, value any) {
	t.Helper()
	for _, f := range send(t, a, field, value) {
		if a.Name == contract.ActionReauth && f.Code == contract.CodeReauthRefused {
			// Past the field checks: no token of these is a valid one
			// (reauth_test.go signs in).
			continue
		}
		if a.Name == contract.ActionDeleteAccount && f.Code == contract.CodeForbidden {
			// Past the field checks: without sign-in there is no account
			// (operator_test.go signs in).
			continue
		}
		if f.Type == contract.FrameError {
			t.Errorf("%s with %s of %d characters: %s %q", a.Name, field, len([]rune(value.(string))), f.Code, f.Message)
		}
	}
}
