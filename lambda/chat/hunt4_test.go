package chat_test

import (
	"fmt"
	"sync"
	"testing"
)

// Carol signs up while alice renames herself to a look-alike of carol's
// username, at the same moment, again and again: never both. Either the
// sign-up is refused and alice has the name, or the sign-up passes and
// alice's rename is refused (then carol connects as carol).
func TestASignUpRacingARenameToItsLookAlikeLetsOneThrough(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	alice, _ := h.ConnectAs("sub-alice", "alice", nil)
	for i := range 8 {
		username, lookAlike := fmt.Sprintf("carol%d", i), fmt.Sprintf("CAROL%d", i)
		var refused string
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); refused = signUp(t, h, "PreSignUp_SignUp", testPool, username) }()
		go func() { defer wg.Done(); h.Send(alice, fmt.Sprintf(`{"action":"setName","name":%q}`, lookAlike)) }()
		wg.Wait()
		h.Settle()
		renamed := state(t, h, alice).You == lookAlike
		if renamed == (refused == "") {
			t.Errorf("round %d: alice renamed to %s: %v; carol's sign-up refused: %q — want exactly one of them", i, lookAlike, renamed, refused)
		}
		if refused == "" {
			c, _ := h.ConnectAs("sub-"+username, username, nil)
			if s := state(t, h, c); s.You != username {
				t.Errorf("round %d: carol signed up and connected as %q, want %q", i, s.You, username)
			}
		}
	}
}
