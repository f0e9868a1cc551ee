package lambdaenv_test

import (
	"testing"

	"github.com/groupchat/groupchat/local/lambdaenv"
)

// A throttle is what the gateway and the Invoke API count in Throttles
// instead of Invocations: only the service's refusal over the concurrency
// limit is one, not a function's or the service's other errors.
func TestOnlyAThrottleSaysItIsThrottled(t *testing.T) {
	t.Parallel()
	for typ, want := range map[string]bool{
		lambdaenv.ErrorTypeThrottled: true,
		lambdaenv.ErrorTypeTimeout:   false,
		lambdaenv.ErrorTypeExit:      false,
		lambdaenv.ErrorTypeTooLarge:  false,
		"Runtime.InitError":          false,
		"errorString":                false,
	} {
		if got := (&lambdaenv.FunctionError{Type: typ}).Throttled(); got != want {
			t.Errorf("%s: Throttled() = %v, want %v", typ, got, want)
		}
	}
}
