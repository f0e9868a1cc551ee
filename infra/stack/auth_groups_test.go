package stack

import (
	"testing"

	"github.com/groupchat/groupchat/contract"
)

// TestTheUserPoolHasTheModeratorsGroup: with sign-in the stack creates the
// pool's moderators group (issue 24, item 3), whose members' ID tokens
// carry it in cognito:groups; without sign-in there is no group.
func TestTheUserPoolHasTheModeratorsGroup(t *testing.T) {
	eachAuth(t, func(t *testing.T, s *synthesized) {
		groups := s.resources("AWS::Cognito::UserPoolGroup")
		if !s.cfg.SignIn() {
			if len(groups) != 0 {
				t.Errorf("without sign-in: %d groups", len(groups))
			}
			return
		}
		pool := s.logicalID(cfnOf(s.stack.Auth.UserPool))
		if len(groups) != 1 {
			t.Fatalf("%d groups, want 1", len(groups))
		}
		for _, r := range groups {
			p := props(r)
			if p["GroupName"] != contract.ModeratorsGroup || !sameJSON(p["UserPoolId"], ref(pool)) || p["RoleArn"] != nil {
				t.Errorf("the group %s, want %s in the pool %s, without a role", asJSON(p), contract.ModeratorsGroup, pool)
			}
		}
	})
}
