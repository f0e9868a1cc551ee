package auth_test

import (
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/auth/authtest"
)

// A token signed by the pool whose cognito:groups has moderators is a
// moderator's; other groups, or none, are not.
func TestTheModeratorsGroupOfASignedTokenMakesAModerator(t *testing.T) {
	t.Parallel()
	p, c := authtest.NewPool(t), newClock()
	for _, tc := range []struct {
		groups any
		want   bool
	}{
		{[]string{contract.ModeratorsGroup}, true},
		{[]string{"readers", contract.ModeratorsGroup}, true},
		{[]string{"readers"}, false},
		{nil, false},
	} {
		claims := p.Claims(c.Now(), "sub-1", "alice")
		if tc.groups != nil {
			claims["cognito:groups"] = tc.groups
		}
		id, err := verifier(p, c).Verify(ctx(t), authtest.Sign(p.SigningKey(), claims))
		if err != nil || id.Moderator != tc.want {
			t.Errorf("groups %v: identity %+v, error %v; want moderator %v", tc.groups, id, err, tc.want)
		}
	}
}
