package chat

import (
	"maps"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/runenames"
)

// The small capitals NameKey reads as letters are every Latin character
// that Unicode names "LATIN LETTER SMALL CAPITAL X", X one letter: a new
// Unicode version that adds one fails here until the table has it.
func TestSmallCapitalsAreTheOnesUnicodeNames(t *testing.T) {
	t.Parallel()
	const prefix = "LATIN LETTER SMALL CAPITAL "
	want := map[rune]rune{}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !unicode.Is(unicode.Latin, r) {
			continue
		}
		if rest, ok := strings.CutPrefix(runenames.Name(r), prefix); ok && len(rest) == 1 && rest[0] >= 'A' && rest[0] <= 'Z' {
			want[r] = rune(rest[0] - 'A' + 'a')
		}
	}
	if !maps.Equal(smallCapitalOf, want) {
		t.Fatalf("smallCapitalOf has %d entries, Unicode's names give %d: %v", len(smallCapitalOf), len(want), want)
	}
}
