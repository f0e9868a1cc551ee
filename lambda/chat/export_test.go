package chat

import "time"

// The worst-case builders of framesize_test.go, for the handler tests of
// package chat_test.
var (
	// CleanHeldName is the check of a name held before the name rule
	// (namerule.go): such a name may still be anywhere a name is.
	CleanHeldName = cleanShape
	WorstName     = worstName
	WorstNewName  = worstNewName
	WorstRef      = worstRef
	JSONCost      = jsonCost
)

// DearestChars are the characters that cost the most JSON bytes of all, by
// UTF-8 length (0 where none), found by trying every code point.
func DearestChars() [5]rune { return dearest(func(rune) bool { return true }) }

// SettleDelay is the delay of the settle of a room of count members.
func SettleDelay(opt Options, count int) time.Duration {
	return (&invocation{Service: &Service{opt: opt.WithDefaults()}}).settleDelay(count)
}
