package main

import (
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
)

// TestNamesCountsAndAPingFloodHoldThroughTheLocalStackWithRealTokens
// (issue 22's findings, as its hostile client met them: real ID tokens,
// real WebSockets, the stack make dev runs): a name of only combining marks
// or blank-looking symbols is refused; two tabs of one account count as one
// person; a ping flood is answered pong up to the budget, then rate_limited
// with the wait.
func TestNamesCountsAndAPingFloodHoldThroughTheLocalStackWithRealTokens(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 120*time.Second)
	s := &testStack{Stack: localtest.Start(t, local.Options{Auth: contract.AuthCognito, Log: testWriter{t}})}
	token := s.tokens(ctx, t)

	t.Run("a name of only marks or blank symbols is refused", func(t *testing.T) {
		bob, _ := s.joinWith(ctx, t, "", "marks", token("bob"))
		for _, name := range []string{"\u0301", "\u0332\u0332\u0332", "\U0001D159", "\U00016FE4"} {
			bob.send(ctx, map[string]any{"action": contract.ActionSetName, "name": name})
			f := bob.expect(ctx, "error")
			must(t, f.str("code") == contract.CodeNameNoLetter || f.str("code") == contract.CodeNameInvalid,
				"bob renaming himself %+q: %v, want name_no_letter or name_invalid", name, f)
		}
	})

	t.Run("two tabs of one account count as one person", func(t *testing.T) {
		tok := token("alice")
		s.joinWith(ctx, t, "", "people", tok)
		s.joinWith(ctx, t, "", "people", tok)
		_, st := s.joinWith(ctx, t, "", "people", token("carol"))
		count, _ := st["count"].(float64)
		must(t, count == 2, "carol's state in a room of alice's two tabs and carol: count %v, want 2 people", st["count"])
	})

	t.Run("a ping flood is refused after the budget, with the wait", func(t *testing.T) {
		c := s.dialWith(ctx, t, "pings", token("oscar"))
		pongs, refused := 0, frame(nil)
		for range 40 {
			c.send(ctx, map[string]any{"action": contract.ActionPing})
			f := c.next(ctx)
			if f.str("type") == "pong" {
				pongs++
				continue
			}
			refused = f
			break
		}
		// 20 units every 10 s, a ping 1: 20 pongs, a few more if the window
		// moved on while the flood ran.
		must(t, refused != nil && refused.str("code") == contract.CodeRateLimited && pongs >= 20 && pongs < 40,
			"a ping flood: %d pongs, then %v; want 20 or a few more, then rate_limited", pongs, refused)
		wait, _ := refused["retryAfterMs"].(float64)
		must(t, wait > 0 && wait <= 10_001, "retryAfterMs %v, want in (0, 10 s]", refused["retryAfterMs"])
	})
}
