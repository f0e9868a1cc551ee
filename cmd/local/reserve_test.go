package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/cognito"
)

// TestUsernamesAreTheirOwnersFromSignUp (issue 22, item 2), with real
// tokens: cognito-local runs the user pool's Pre sign-up trigger, answered
// by the function through the local Lambda API, as AWS would.
func TestUsernamesAreTheirOwnersFromSignUp(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 90*time.Second)
	s := &testStack{Stack: localtest.Start(t, local.Options{
		Auth: contract.AuthCognito,
		Chat: chat.Options{StaleGrace: time.Millisecond},
		Log:  testWriter{t},
	})}
	token := s.tokens(ctx, t)

	t.Run("mallory asking for carol's name before carol ever came is refused it, and carol is carol", func(t *testing.T) {
		mallory, st := s.joinWith(ctx, t, "carol", "lobby", token("mallory"))
		warning, _ := st["warning"].(map[string]any)
		must(t, st.str("you") == "mallory" && warning["code"] == contract.CodeNameTaken,
			"mallory asking for carol is %q (warning %v), want mallory with name_taken", st.str("you"), warning)
		for _, lookAlike := range []string{"CAROL", "Caro1", "caroI"} {
			mallory.send(ctx, map[string]any{"action": "setName", "name": lookAlike})
			f := mallory.expect(ctx, "error")
			must(t, f.str("code") == contract.CodeNameTaken, "mallory renaming to %q: %v", lookAlike, f)
		}
		_, st = s.joinWith(ctx, t, "", "lobby", token("carol"))
		must(t, st.str("you") == "carol" && st["warning"] == nil, "carol's first visit: %q (warning %v)", st.str("you"), st["warning"])
	})

	t.Run("a look-alike of a reserved username cannot sign up", func(t *testing.T) {
		for _, lookAlike := range []string{"Caro1", "a1ice", "BOB"} {
			_, err := s.Token(ctx, lookAlike, true)
			must(t, errors.Is(err, cognito.ErrSignUpRefused) && strings.Contains(err.Error(), "belongs to someone else"),
				"%s's sign-up: %v, want it refused", lookAlike, err)
		}
	})

	t.Run("dave deleted and made again gets dave back", func(t *testing.T) {
		first := token("dave")
		dave, st := s.joinWith(ctx, t, "", "lobby", first)
		must(t, st.str("you") == "dave", "dave is %q", st.str("you"))
		_ = dave.ws.CloseNow()
		// Deleted as an operator deletes it: the chat account (its names
		// released), then the Cognito user.
		a := s.operate(ctx, t, contract.OperatorRequest{Op: contract.OpDeleteAccount, Username: "dave"})
		must(t, a.Result == contract.ResultDone, "deleteAccount answered %+v", a)
		if err := s.DeleteAccount(ctx, "dave"); err != nil {
			t.Fatal(err)
		}
		again := token("dave")
		must(t, claims(t, again)["sub"] != claims(t, first)["sub"], "the new dave has the old sub")
		_, st = s.joinWith(ctx, t, "", "lobby", again)
		must(t, st.str("you") == "dave" && st["warning"] == nil, "the recreated dave is %q (warning %v)", st.str("you"), st["warning"])
	})

	t.Run("two look-alikes signing up at once: at most one gets through", func(t *testing.T) {
		for round := range 3 {
			names := []string{fmt.Sprintf("race%d1", round), fmt.Sprintf("race%dl", round)}
			errs := make([]error, len(names))
			var wg sync.WaitGroup
			for i, u := range names {
				wg.Go(func() { errs[i] = s.Cognito.CreateUser(ctx, u, local.LoadUserPassword(u)) })
			}
			wg.Wait()
			must(t, errs[0] != nil || errs[1] != nil, "round %d: both %v signed up", round, names)
			for _, err := range errs {
				must(t, err == nil || errors.Is(err, cognito.ErrSignUpRefused), "round %d: %v", round, err)
			}
		}
	})

	t.Run("the trigger retried by Cognito reserves once", func(t *testing.T) {
		for range 2 {
			answer, fnErr := s.invokePreSignUp(ctx, t, "erin")
			must(t, fnErr == "" && answer["userName"] == "erin", "erin's trigger: %v %q", answer, fnErr)
		}
		_, fnErr := s.invokePreSignUp(ctx, t, "ERIN")
		must(t, strings.Contains(fnErr, "belongs to someone else"), "ERIN's trigger after erin's: %q", fnErr)
		_, st := s.joinWith(ctx, t, "", "lobby", token("erin"))
		must(t, st.str("you") == "erin", "erin is %q", st.str("you"))
	})
}

// invokePreSignUp sends the Pre sign-up event cognito-local sends to the
// stack's local Lambda API, and returns the function's answer or its error
// message.
func (s *testStack) invokePreSignUp(ctx context.Context, t *testing.T, username string) (map[string]any, string) {
	t.Helper()
	ev := fmt.Sprintf(`{"version":"0","callerContext":{"clientId":%q},"region":"local","userPoolId":%q,
		"triggerSource":"PreSignUp_SignUp","userName":%q,"request":{"userAttributes":{}},
		"response":{"autoConfirmUser":false,"autoVerifyEmail":false,"autoVerifyPhone":false}}`,
		s.Cognito.ClientID, s.Cognito.UserPoolID, username)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
		s.Lambda.Endpoint()+"/2015-03-31/functions/"+local.FunctionName+"/invocations", strings.NewReader(ev))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("invoke: %d %s", resp.StatusCode, data)
	}
	if resp.Header.Get("X-Amz-Function-Error") != "" {
		msg, _ := out["errorMessage"].(string)
		return nil, msg
	}
	return out, ""
}
