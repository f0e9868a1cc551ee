package lambdaenv_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/local/lambdaenv"
)

// aws-lambda-go answers a panic with its error and then ends the process.
// The error is the invocation's answer even when the service sees the
// process end before it looks for the answer (a busy machine: the
// invocation's goroutine ran late), not "Runtime exited". Not parallel: it
// sets a hook of the package's.
func TestAPanicsErrorIsItsAnswerWhenTheProcessEndedFirst(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	defer lambdaenv.SetHandedOff(func(event []byte, exited <-chan struct{}) {
		if bytes.Contains(event, []byte(`"panic"`)) {
			select { // let the runtime answer and end before the answer is awaited
			case <-exited:
			case <-ctx.Done():
			}
		}
	})()
	svc := start(t, lambdaenv.Config{})
	for i := range 20 {
		if _, err := svc.Invoke(ctx, []byte(`{"panic":true}`)); err == nil || !strings.Contains(err.Error(), "asked to") {
			t.Fatalf("round %d: a panic answered %v, want its error", i, err)
		}
	}
}
