// Usernames reserved at sign-up (docs/design.md, "Usernames are reserved at
// sign-up"): the user pool's Pre sign-up trigger, answered by this
// function, reserves the new account's username as its name, so that
// nobody else can take it, or a look-alike, before the account first
// connects. A $connect of an account from before the trigger reserves its
// username then (reserveOwnUsername).

package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// usernameStore reserves a username as a name for it (sign-in on): at
// sign-up, and on the $connect of an account from before that.
type usernameStore interface {
	// ReserveUsername reserves name, the username as a name, for the
	// username (docs/design.md, "Usernames are reserved at sign-up"): only
	// an account signed in with it may claim the name or a look-alike, and
	// no rename releases it. It passes again for the same username (a
	// retry, a recreated account) and, with accountID, when that account
	// holds the name already; it fails with ErrNameTaken when another
	// account holds the name or another username has it reserved.
	ReserveUsername(ctx context.Context, username, name, accountID string) error
	// MarkUsernameReserved records on the account's item that its
	// username is reserved (Account.UsernameReserved).
	MarkUsernameReserved(ctx context.Context, accountID string) error
}

// PreSignUpEvent is Cognito's Pre sign-up trigger event, for SignUp
// (PreSignUp_SignUp) and AdminCreateUser (PreSignUp_AdminCreateUser) alike;
// the answer is the event itself, its response unchanged (no automatic
// confirmation). It names the username, never the account's sub (not made
// yet).
type PreSignUpEvent = events.CognitoEventUserPoolsPreSignup

// preSignUpSource begins the triggerSource of every Pre sign-up event.
const preSignUpSource = "PreSignUp_"

// errNotReserved refuses a sign-up whose username could not be reserved
// (DynamoDB failed): Cognito shows it, and the person may try again. The
// cause is logged.
var errNotReserved = errors.New("your username could not be reserved just now; please try again")

// preSignUp decodes a Cognito trigger event and answers it.
func (s *Service) preSignUp(ctx context.Context, raw json.RawMessage, source string) (any, error) {
	if !strings.HasPrefix(source, preSignUpSource) {
		return nil, fmt.Errorf("a Cognito trigger event %q: the function answers Pre sign-up only", source)
	}
	var ev PreSignUpEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("decode the Pre sign-up event: %w", err)
	}
	return s.PreSignUp(ctx, ev)
}

// PreSignUp answers the user pool's Pre sign-up trigger: the username,
// prepared as a name (CleanName), is reserved for it (Store.ReserveUsername:
// one conditional write, the same outcome when Cognito retries). A
// username that cannot be a name, or whose name (or a look-alike) another
// account holds or another username has reserved, refuses the sign-up:
// the error's text is what Cognito tells the person ("PreSignUp failed with
// error …"). Lambda counts each refusal as a function error: it is counted
// in SignUpsRefused too, which the LambdaErrors alarm subtracts. The
// reservation stays if the sign-up fails after it (a password Cognito
// refuses): it is the username's, and the same username signing up again
// passes.
func (s *Service) PreSignUp(ctx context.Context, ev PreSignUpEvent) (PreSignUpEvent, error) {
	inv := s.begin(ctx, events.APIGatewayWebsocketProxyRequestContext{RouteKey: ev.TriggerSource, Stage: s.opt.Stage})
	defer inv.end()
	ctx = withDeadlineMargin(ctx, s.opt.DeadlineMargin, s.opt.DeadlineClock)
	switch {
	case s.opt.Verifier == nil:
		inv.log.Warn("a Pre sign-up event while sign-in is off: refused")
		return ev, errors.New("sign-in is off in this environment")
	case s.opt.UserPoolID != "" && ev.UserPoolID != s.opt.UserPoolID:
		inv.log.Warn("a Pre sign-up event of another user pool: refused", "userPoolId", truncate(ev.UserPoolID))
		return ev, errors.New("this function answers another user pool")
	}
	if len(ev.UserName) > ClaimMaxBytes {
		return ev, errors.New("the username is too long")
	}
	name, p := CleanName(ev.UserName)
	if p != nil {
		inv.log.Info("sign-up refused: the username is not a name", "code", p.Code)
		inv.m.count(countSignUpsRefused, 1)
		return ev, fmt.Errorf("a username must be a valid chat name: %s", p.Message)
	}
	err := inv.store.ReserveUsername(ctx, ev.UserName, name, "")
	if errors.Is(err, ErrNameTaken) {
		inv.log.Info("sign-up refused: the name is taken", "username", ev.UserName)
		inv.m.count(countSignUpsRefused, 1)
		return ev, fmt.Errorf("the name %q, or one that looks like it, belongs to someone else: choose another username", name)
	}
	if err != nil {
		inv.log.Error("reserve the username", "username", ev.UserName, "error", err)
		return ev, errNotReserved
	}
	inv.log.Info("username reserved", "username", ev.UserName)
	return ev, nil
}

// reserveOwnUsername reserves the account's username for it on a $connect
// when its item does not say it is (an account created before the Pre
// sign-up trigger, or one whose trigger ran in another environment):
// nothing else changes, and a failure only leaves it for the next
// $connect. A name someone else holds stays theirs (docs/design.md says
// what a squatter keeps); a username that is not a name has nothing to
// reserve.
func (inv *invocation) reserveOwnUsername(ctx context.Context, id Identity) {
	log := inv.log.With("accountId", id.AccountID)
	if name, p := CleanName(id.Username); p == nil {
		err := inv.store.ReserveUsername(ctx, id.Username, name, id.AccountID)
		if errors.Is(err, ErrNameTaken) {
			log.Info("the account's username is another's name: not reserved")
			return
		}
		if err != nil {
			log.Warn("reserve the account's username", "error", err)
			return
		}
	}
	if err := inv.store.MarkUsernameReserved(ctx, id.AccountID); err != nil {
		log.Warn("mark the account's username reserved", "error", err)
	}
}

// truncate bounds a value from an event before it is logged.
func truncate(v string) string {
	if len(v) > 64 {
		return v[:64] + "…"
	}
	return v
}
