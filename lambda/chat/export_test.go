package chat

// The worst-case builders of framesize_test.go, for the handler tests of
// package chat_test.
var (
	WorstName = worstName
	WorstRef  = worstRef
	JSONCost  = jsonCost
)

// DearestChars are the characters that cost the most JSON bytes of all, by
// UTF-8 length (0 where none), found by trying every code point.
func DearestChars() [5]rune { return dearest(func(rune) bool { return true }) }
