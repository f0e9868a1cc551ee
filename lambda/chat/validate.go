package chat

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"

	"github.com/groupchat/groupchat/contract"
)

// The bounds of docs/protocol.md: the action fields' limits are contract's
// definition's.
const (
	NameMax       = contract.NameMax
	NameMaxBytes  = contract.NameMaxBytes // in UTF-8: bounds member lists (1,000 names ≤ 88 KB of JSON)
	MessageMax    = contract.MessageMax
	RecipientsMax = contract.RecipientsMax
	RefMax        = contract.RefMax
	TokenMax      = contract.TokenMax
	HistoryLimit  = 50
	DefaultRoom   = "lobby"
)

var limits = Limits{NameMax: NameMax, NameMaxBytes: NameMaxBytes, MessageMax: MessageMax, RecipientsMax: RecipientsMax}

var roomPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,31}$`)

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
		return r, problem(contract.CodeBadJSON, "Frames must be JSON objects, like {\"action\":\"ping\"}.")
	}
	if raw, ok := r.fields["action"]; ok {
		_ = json.Unmarshal(raw, &r.Action) // a non-string action is an unknown one
	}
	if raw, ok := r.fields["ref"]; ok {
		if err := json.Unmarshal(raw, &r.Ref); err != nil {
			return r, problem(contract.CodeBadField, "The field \"ref\" must be a string.")
		}
		if utf8.RuneCountInString(r.Ref) > RefMax {
			r.Ref = ""
			return r, problem(contract.CodeBadField, "The field \"ref\" must be at most %d characters.", RefMax)
		}
	}
	return r, nil
}

// field reads a required field of request r into a T; what names the
// expected type in the error ("a string").
func field[T any](r request, name, what string) (T, *Problem) {
	var v T
	raw, ok := r.fields[name]
	if !ok || string(raw) == "null" {
		return v, problem(contract.CodeMissingField, "The field %q is required.", name)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, problem(contract.CodeBadField, "The field %q must be %s.", name, what)
	}
	return v, nil
}

// text reads a required string field and cleans it.
func text(r request, name string, clean func(string) (string, *Problem)) (string, *Problem) {
	raw, p := field[string](r, name, "a string")
	if p != nil {
		return "", p
	}
	return clean(raw)
}

// invisible reports characters that render as nothing, or as nothing more
// than their neighbour, and would let "Alice" and "Alice" plus an invisible
// character be two names, or a name look empty: Unicode's
// Default_Ignorable_Code_Point (format characters, variation selectors, the
// Hangul fillers, the combining grapheme joiner…), taken from the tables it
// is derived from, and the braille blank. White space other than the space
// is refused beside it, in CleanName.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) ||
		r == brailleBlank
}

// brailleBlank (U+2800 BRAILLE PATTERN BLANK) is a Braille cell with no
// dots: it is drawn blank, yet no Unicode property says so. It is an
// ordinary symbol (So), deliberately neither White_Space (the code chart
// notes that it does not act as a space) nor default-ignorable, so it is
// named here; the other braille patterns have dots and stay valid.
const brailleBlank = '\u2800'

// Fold is the form names are compared in: two names are the same name when
// their folds are equal. Compatibility normalisation (NFKC) and case folding
// make "Alice", "ALICE", "alice" and fullwidth "Ａｌｉｃｅ" one name.
// (Look-alikes from other scripts, such as Cyrillic "е", stay distinct.)
// The fold is lower-cased once more: golang.org/x/text's cases.Fold takes
// Cherokee capitals to small letters and small letters to capitals, so
// "ᎠᎡᎢ" and "ꭰꭱꭲ" (one name in two cases, one name to the page's foldName)
// folded apart, and both were held in one room
// (TestACherokeeNameInOtherCaseIsTheSameNameInTheRoom). Every other fold is
// lower case already (TestFoldingAFoldChangesNothing).
func Fold(name string) string {
	return cases.Lower(language.Und).String(cases.Fold().String(norm.NFKC.String(name)))
}

// CleanRoom returns the room's canonical (lower-case) form, or a problem.
// It checks before it folds, and the pattern is ASCII, so only A-Z fold: a
// room is an address people pass around as a link, and the room a link reads
// as must be the room it leads to. Unicode case mapping would also take a
// Kelvin sign (U+212A) to "k" and a dotted capital I (U+0130) to "i", by
// rules that change with Unicode versions, so "?room=%E2%84%AAx" would land
// in room "kx" while a person, a filter or a log search reads another name.
// Those are refused like every character outside a-z.
func CleanRoom(room string) (string, *Problem) {
	if room == "" {
		return DefaultRoom, nil
	}
	if !roomPattern.MatchString(room) {
		return "", problem(contract.CodeBadField, "Room names are 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit.")
	}
	return strings.ToLower(room), nil
}

// cleanMessage checks a message's text.
func cleanMessage(msg string) (string, *Problem) {
	if strings.TrimSpace(msg) == "" {
		return "", problem(contract.CodeMessageEmpty, "Type a message first.")
	}
	if utf8.RuneCountInString(msg) > MessageMax {
		return "", problem(contract.CodeMessageTooLong, "Messages are at most %d characters.", MessageMax)
	}
	for _, r := range msg {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return "", problem(contract.CodeMessageInvalid, "Messages cannot contain control characters.")
		}
	}
	return msg, nil
}

// cleanRecipients dedupes names by Fold and checks the count of distinct
// names, so a list that names one person many times is one recipient. Names
// that are not valid names are returned in invalid, once each as given but
// cut to a name's bounds (echo): nobody can be called that, and the error
// that lists them must fit in a frame. Each distinct string is cleaned once, and the
// count stops at the first name past the limit, so a long list of copies
// (only the frame's size bounds it) costs a map lookup per copy.
func cleanRecipients(to []string) (valid, invalid []string, p *Problem) {
	if len(to) == 0 {
		return nil, nil, problem(contract.CodeRecipientsEmpty, "Choose at least one recipient.")
	}
	given := make(map[string]bool, min(len(to), RecipientsMax+1))
	folds := make(map[string]bool, RecipientsMax+1)
	for _, raw := range to {
		if given[raw] {
			continue
		}
		given[raw] = true
		if name, p := cleanShape(raw); p != nil {
			if e := echo(raw, NameMax, NameMaxBytes); !slices.Contains(invalid, e) {
				invalid = append(invalid, e)
			}
		} else if f := Fold(name); !folds[f] {
			folds[f] = true
			valid = append(valid, name)
		}
		if len(valid)+len(invalid) > RecipientsMax {
			return nil, nil, problem(contract.CodeRecipientsTooMany, "A private message can go to at most %d people.", RecipientsMax)
		}
	}
	return valid, invalid, nil
}

// echo cuts a string the client sent to at most maxRunes characters and
// maxBytes bytes of UTF-8, ending in "…" when it was cut, for an error frame
// to repeat: what an error echoes is bounded by the server, never by the
// client (docs/design.md, Frame sizes).
func echo(s string, maxRunes, maxBytes int) string {
	if utf8.RuneCountInString(s) <= maxRunes && len(s) <= maxBytes {
		return s
	}
	const more = "…"
	i := 0
	for n := 0; i < len(s) && n < maxRunes-1; n++ {
		_, w := utf8.DecodeRuneInString(s[i:])
		if i+w > maxBytes-len(more) {
			break
		}
		i += w
	}
	return s[:i] + more
}
