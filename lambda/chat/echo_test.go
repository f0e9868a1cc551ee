package chat

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// What an error repeats of the client's frame is cut to a name's bounds, on
// a character boundary, and says it was cut; what fits is repeated whole.
func TestAnErrorRepeatsAtMostANamesWorthOfWhatTheClientSent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"short", "Zed", "Zed"},
		{"exactly 32 characters", strings.Repeat("z", 32), strings.Repeat("z", 32)},
		{"33 characters", strings.Repeat("z", 33), strings.Repeat("z", 31) + "…"},
		{"exactly 64 bytes", strings.Repeat("é", 32), strings.Repeat("é", 32)},
		{"four-byte characters", strings.Repeat("😀", 17), strings.Repeat("😀", 15) + "…"},
		{"a cut inside a character", "a" + strings.Repeat("😀", 20), "a" + strings.Repeat("😀", 15) + "…"},
		{"invalid UTF-8", strings.Repeat("\xff", 40), strings.Repeat("\xff", 31) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := echo(tc.in, NameMax, NameMaxBytes)
			if got != tc.want {
				t.Errorf("echo(%+q) = %+q, want %+q", tc.in, got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > NameMax || len(got) > NameMaxBytes {
				t.Errorf("echo(%+q) is %d characters, %d bytes: over a name's bounds", tc.in, n, len(got))
			}
		})
	}
}
