package gateway

// The local gateway's log lines show what clients chose (a name, a room)
// escaped and cut, never raw.

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit"
)

// A name is client input: one with a newline cannot forge a log line of
// its own (issue 22), and a long one is cut.
func TestConnectLogLineEscapesTheNameAClientChose(t *testing.T) {
	t.Parallel()
	log := &testkit.Buffer{}
	s := start(t, echo, Config{Log: log})
	ctx := testkit.Context(t, 20*time.Second)
	forged := "12:00:00.000 admin $connect 200 in 1ms from 10.0.0.1"
	s.dial(ctx, t, "?room=lobby&name="+url.QueryEscape("Eve\n"+forged+strings.Repeat("x", 500)))
	var text string
	for text = log.String(); !strings.Contains(text, "$connect") && ctx.Err() == nil; text = log.String() {
		time.Sleep(5 * time.Millisecond)
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if strings.HasPrefix(line, forged) {
			t.Fatalf("the name forged a log line: %q", text)
		}
		if len(line) > 400 {
			t.Errorf("a log line of %d bytes: %q", len(line), line)
		}
	}
	if !strings.Contains(text, `name="Eve\n12:00:00.000 admin`) || !strings.Contains(text, "room=lobby") {
		t.Fatalf("log %q does not show the name escaped", text)
	}
}
