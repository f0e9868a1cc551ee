package chat

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// The bounds of docs/protocol.md.
const (
	NameMax       = 32
	MessageMax    = 2000
	RecipientsMax = 20
	RefMax        = 64
	HistoryLimit  = 50
	DefaultRoom   = "lobby"
)

var limits = Limits{NameMax: NameMax, MessageMax: MessageMax, RecipientsMax: RecipientsMax}

var roomPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// request is a decoded client frame. Fields are read on demand, so each
// action checks only the fields it uses and names the one that is wrong.
type request struct {
	Action string
	Ref    string
	fields map[string]json.RawMessage
}

func problem(code, format string, args ...any) *Problem {
	return &Problem{Code: code, Message: fmt.Sprintf(format, args...)}
}

// parseRequest decodes a frame. The action is "" when absent or not a string.
func parseRequest(body string) (request, *Problem) {
	var r request
	if err := json.Unmarshal([]byte(body), &r.fields); err != nil || r.fields == nil {
		return r, problem(CodeBadJSON, "Frames must be JSON objects, like {\"action\":\"ping\"}.")
	}
	if raw, ok := r.fields["action"]; ok {
		_ = json.Unmarshal(raw, &r.Action) // a non-string action is an unknown one
	}
	if raw, ok := r.fields["ref"]; ok {
		if err := json.Unmarshal(raw, &r.Ref); err != nil {
			return r, problem(CodeBadField, "The field \"ref\" must be a string.")
		}
		if utf8.RuneCountInString(r.Ref) > RefMax {
			r.Ref = ""
			return r, problem(CodeBadField, "The field \"ref\" must be at most %d characters.", RefMax)
		}
	}
	return r, nil
}

// str reads a required string field.
func (r request) str(field string) (string, *Problem) {
	raw, ok := r.fields[field]
	if !ok || string(raw) == "null" {
		return "", problem(CodeMissingField, "The field %q is required.", field)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", problem(CodeBadField, "The field %q must be a string.", field)
	}
	return s, nil
}

// strs reads a required list-of-strings field.
func (r request) strs(field string) ([]string, *Problem) {
	raw, ok := r.fields[field]
	if !ok || string(raw) == "null" {
		return nil, problem(CodeMissingField, "The field %q is required.", field)
	}
	var s []string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, problem(CodeBadField, "The field %q must be a list of names.", field)
	}
	return s, nil
}

// CleanName returns the name as it will be stored and shown: trimmed and
// NFC-normalised, or the problem that makes it unusable.
func CleanName(name string) (string, *Problem) {
	name = norm.NFC.String(strings.TrimSpace(name))
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return "", problem(CodeNameEmpty, "Choose a name of at least one character.")
	case n > NameMax:
		return "", problem(CodeNameTooLong, "Names are at most %d characters.", NameMax)
	}
	for _, r := range name {
		if r == utf8.RuneError || !(unicode.IsGraphic(r) && !unicode.Is(unicode.Cf, r)) {
			return "", problem(CodeNameInvalid, "Names cannot contain control or formatting characters.")
		}
		if unicode.IsSpace(r) && r != ' ' {
			return "", problem(CodeNameInvalid, "Names can contain spaces but no other white space.")
		}
	}
	return name, nil
}

// Fold is the form names are compared in: two names are the same name when
// their folds are equal ("Alice", "ALICE" and "alice" are one name).
func Fold(name string) string { return cases.Fold().String(norm.NFC.String(name)) }

// CleanRoom returns the room's canonical (lower-case) form, or a problem.
func CleanRoom(room string) (string, *Problem) {
	if room == "" {
		return DefaultRoom, nil
	}
	room = strings.ToLower(room)
	if !roomPattern.MatchString(room) {
		return "", problem(CodeBadField, "Room names are 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit.")
	}
	return room, nil
}

// cleanMessage checks a message's text.
func cleanMessage(msg string) (string, *Problem) {
	if strings.TrimSpace(msg) == "" {
		return "", problem(CodeMessageEmpty, "Type a message first.")
	}
	if utf8.RuneCountInString(msg) > MessageMax {
		return "", problem(CodeMessageTooLong, "Messages are at most %d characters.", MessageMax)
	}
	for _, r := range msg {
		if r == '\n' || r == '\t' || r == '\r' {
			continue
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "", problem(CodeMessageInvalid, "Messages cannot contain control characters.")
		}
	}
	return msg, nil
}

// cleanRecipients dedupes names by Fold and checks the count.
func cleanRecipients(to []string) ([]string, *Problem) {
	if len(to) == 0 {
		return nil, problem(CodeRecipientsEmpty, "Choose at least one recipient.")
	}
	seen := make(map[string]bool, len(to))
	out := make([]string, 0, len(to))
	for _, name := range to {
		name = norm.NFC.String(strings.TrimSpace(name))
		if f := Fold(name); !seen[f] {
			seen[f] = true
			out = append(out, name)
		}
	}
	if len(out) > RecipientsMax {
		return nil, problem(CodeRecipientsTooMany, "A private message can go to at most %d people.", RecipientsMax)
	}
	return out, nil
}
