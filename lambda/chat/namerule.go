// The name rule: what a name someone takes now must be (CleanName), and the
// key names are compared by with sign-in (NameKey). Both follow standards
// rather than a list of characters: the PRECIS Nickname profile (RFC 8266)
// prepares a name, Unicode TR39's confusable skeleton, computed on the
// prepared name without its combining marks, compares it, and TR39's
// "Moderately Restrictive" level bounds how scripts mix. docs/design.md
// ("The name rule") gives the reasons and what was rejected.

package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"

	"github.com/groupchat/groupchat/contract"
)

// markRunMax is how many combining marks may follow one character: TR39
// section 5.4 (Optional Detection) suggests refusing more than four
// nonspacing marks in a row, and the same mark twice in a row.
const markRunMax = 4

// CleanName returns a name someone asks for now, as it will be stored and
// shown, or the problem that makes it unusable. The name is prepared by the
// PRECIS Nickname profile (RFC 8266: white space mapped to the space, trimmed
// and collapsed; NFKC, so fullwidth "Ａｌｉｃｅ" is "Alice"; control, ignorable
// and unassigned characters refused), then must hold a letter or a digit,
// no pile of combining marks, and scripts mixed no more than TR39's
// Moderately Restrictive level allows. A name held before this rule (an
// account's, or in a private message's recipients) is not checked again:
// cleanShape is the older check it passed.
func CleanName(name string) (string, *Problem) {
	shaped, p := cleanShape(name)
	if p != nil {
		return "", p
	}
	prepared, err := precis.Nickname.String(shaped)
	if err != nil {
		return "", problem(contract.CodeNameInvalid, "Names cannot contain control, formatting or invisible characters.")
	}
	// The name is counted as typed (above) and as prepared: NFKC may
	// lengthen it ("ǅ" is "Dž", "㎒" is "MHz"), and the prepared form is
	// what is stored and shown (docs/protocol.md, Limits).
	if _, p := cleanShape(prepared); p != nil {
		if p.Code == contract.CodeNameTooLong {
			return "", problem(contract.CodeNameTooLong, "Names are at most %d characters (%d bytes) written out in their standard form, where \"ǅ\" is \"Dž\" and \"㎒\" is \"MHz\": this one is %d characters (%d bytes) written out.",
				NameMax, NameMaxBytes, utf8.RuneCountInString(prepared), len(prepared))
		}
		return "", p
	}
	if !strings.ContainsFunc(prepared, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
		return "", problem(contract.CodeNameNoLetter, "A name needs at least one letter or digit.")
	}
	if markPile(prepared) {
		return "", problem(contract.CodeNameInvalid, "Names cannot stack combining marks (at most %d on a character, never the same one twice).", markRunMax)
	}
	if !moderatelyRestrictive(prepared) {
		return "", problem(contract.CodeNameMixedScripts, "A name cannot mix these scripts: use one script, or Latin with one other (not Cyrillic or Greek), or Latin with Chinese, Japanese or Korean.")
	}
	return prepared, nil
}

// markPile reports a run of combining marks longer than markRunMax, or one
// that repeats a mark ("e" + U+0332 U+0332).
func markPile(s string) bool {
	run, last := 0, rune(-1)
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) && !unicode.Is(unicode.Me, r) {
			run, last = 0, -1
			continue
		}
		if run++; run > markRunMax || r == last {
			return true
		}
		last = r
	}
	return false
}

// cjk are the sets of scripts TR39 lets mix at its Highly Restrictive level
// (Latin with Japanese, Chinese or Korean writing); recommended are the
// scripts of UAX #31's Table 5 (Recommended Scripts), which Moderately
// Restrictive lets mix with Latin, Cyrillic and Greek excepted.
var (
	cjk = [][]string{
		{"Latin", "Han", "Hiragana", "Katakana"},
		{"Latin", "Han", "Bopomofo"},
		{"Latin", "Han", "Hangul"},
	}
	recommended = []string{"Arabic", "Armenian", "Bengali", "Bopomofo", "Devanagari", "Ethiopic", "Georgian",
		"Gujarati", "Gurmukhi", "Han", "Hangul", "Hebrew", "Hiragana", "Kannada", "Katakana", "Khmer", "Lao",
		"Malayalam", "Myanmar", "Oriya", "Sinhala", "Tamil", "Telugu", "Thaana", "Thai", "Tibetan"}
)

// moderatelyRestrictive reports whether s passes TR39's Moderately
// Restrictive level (section 5.2): one script (characters of Common and
// Inherited, such as digits, punctuation and combining marks, count for
// none), or one of the cjk sets, or Latin with one recommended script
// other than Cyrillic and Greek. Scripts come from Go's unicode tables
// (Script, not Script_Extensions, which Go does not carry: a character
// shared by scripts is Common or Inherited there, and counts for none).
func moderatelyRestrictive(s string) bool {
	var scripts []string
	for _, r := range s {
		name := scriptOf(r)
		if name != "" && name != "Common" && name != "Inherited" && !contains(scripts, name) {
			scripts = append(scripts, name)
		}
	}
	if len(scripts) <= 1 {
		return true
	}
	for _, set := range cjk {
		if subset(scripts, set) {
			return true
		}
	}
	return len(scripts) == 2 && contains(scripts, "Latin") &&
		(contains(recommended, scripts[0]) || contains(recommended, scripts[1]))
}

func scriptOf(r rune) string {
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func subset(a, of []string) bool {
	for _, x := range a {
		if !contains(of, x) {
			return false
		}
	}
	return true
}

// NameKey is the form names are compared in with sign-in, where a name
// belongs to one account across the environment: two names are one when
// their keys are equal. From the folded name (Fold: "ALICE" is "alice"),
// decomposed (NFD), it drops every combining mark, so "alicẹ", "alice" with
// a combining low line and "al" + dotless i + combining dot + "ce" are
// "alice" (and "José" is "Jose": the safe side), takes Latin small
// capitals to their letters ("ᴀʟɪᴄᴇ"; Unicode names them so, and TR39's
// table lacks most), then takes the Unicode TR39 confusable skeleton
// (github.com/mtibben/confusables, tables generated from Unicode's
// confusables.txt), so a look-alike from another script ("аlice" with a
// Cyrillic а, Cherokee "ᏴOᏴ") or of other characters ("a1ice", "b0b") is
// the same name too. The skeleton may bring capitals, small capitals and
// marks back ("0" becomes "O", Cherokee "Ᏼ" folded becomes "ʙ", "Ꮎ" an O
// with a stroke), hence the second pass. Last, "i" is "l": the skeleton takes
// a capital "I" to "l" (one stroke in a sans-serif font: "aIice" reads as
// "alice"), but case is folded first and a capital I is an i ("ALICE" is
// "alice"), so the two letters are one once case is ignored ("Ali" and
// "All" are then one name too; the safe side).
func NameKey(name string) string {
	k := confusables.Skeleton(smallCapitals(unmarked(Fold(name))))
	k = unmarked(smallCapitals(Fold(k)))
	return strings.ReplaceAll(k, "i", "l")
}

// unmarked is s decomposed without its combining marks (Mn and Me; spacing
// marks, which are drawn beside their letter, stay).
func unmarked(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) {
			return -1
		}
		return r
	}, norm.NFD.String(s))
}

// smallCapitalOf maps each character Unicode names "LATIN LETTER SMALL
// CAPITAL X" (X one letter A-Z) to x. It is the list those names give, not
// a choice: TestSmallCapitalsAreTheOnesUnicodeNames rebuilds it from the
// character names (golang.org/x/text/unicode/runenames, kept out of the
// function: its tables would add a megabyte) and fails if they differ.
var smallCapitalOf = map[rune]rune{
	0x0262: 'g', // LATIN LETTER SMALL CAPITAL G
	0x026A: 'i', // LATIN LETTER SMALL CAPITAL I
	0x0274: 'n', // LATIN LETTER SMALL CAPITAL N
	0x0280: 'r', // LATIN LETTER SMALL CAPITAL R
	0x028F: 'y', // LATIN LETTER SMALL CAPITAL Y
	0x0299: 'b', // LATIN LETTER SMALL CAPITAL B
	0x029C: 'h', // LATIN LETTER SMALL CAPITAL H
	0x029F: 'l', // LATIN LETTER SMALL CAPITAL L
	0x1D00: 'a', // LATIN LETTER SMALL CAPITAL A
	0x1D04: 'c', // LATIN LETTER SMALL CAPITAL C
	0x1D05: 'd', // LATIN LETTER SMALL CAPITAL D
	0x1D07: 'e', // LATIN LETTER SMALL CAPITAL E
	0x1D0A: 'j', // LATIN LETTER SMALL CAPITAL J
	0x1D0B: 'k', // LATIN LETTER SMALL CAPITAL K
	0x1D0D: 'm', // LATIN LETTER SMALL CAPITAL M
	0x1D0F: 'o', // LATIN LETTER SMALL CAPITAL O
	0x1D18: 'p', // LATIN LETTER SMALL CAPITAL P
	0x1D1B: 't', // LATIN LETTER SMALL CAPITAL T
	0x1D1C: 'u', // LATIN LETTER SMALL CAPITAL U
	0x1D20: 'v', // LATIN LETTER SMALL CAPITAL V
	0x1D21: 'w', // LATIN LETTER SMALL CAPITAL W
	0x1D22: 'z', // LATIN LETTER SMALL CAPITAL Z
	0xA730: 'f', // LATIN LETTER SMALL CAPITAL F
	0xA731: 's', // LATIN LETTER SMALL CAPITAL S
	0xA7AF: 'q', // LATIN LETTER SMALL CAPITAL Q
}

func smallCapitals(s string) string {
	return strings.Map(func(r rune) rune {
		if l, ok := smallCapitalOf[r]; ok {
			return l
		}
		return r
	}, s)
}

// cleanShape is the check every name passed before the rule above (and
// still the one for names already held, such as a private message's
// recipients): trimmed and NFC-normalised, 1 to NameMax characters and
// NameMaxBytes bytes, no control, formatting or invisible character, no
// white space but the space.
func cleanShape(name string) (string, *Problem) {
	name = norm.NFC.String(strings.TrimSpace(name))
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return "", problem(contract.CodeNameEmpty, "Choose a name of at least one character.")
	case n > NameMax || len(name) > NameMaxBytes:
		return "", problem(contract.CodeNameTooLong, "Names are at most %d characters (%d bytes).", NameMax, NameMaxBytes)
	}
	for _, r := range name {
		if r == utf8.RuneError || !unicode.IsGraphic(r) || invisible(r) {
			return "", problem(contract.CodeNameInvalid, "Names cannot contain control, formatting or invisible characters.")
		}
		if unicode.IsSpace(r) && r != ' ' {
			return "", problem(contract.CodeNameInvalid, "Names can contain spaces but no other white space.")
		}
	}
	return name, nil
}
