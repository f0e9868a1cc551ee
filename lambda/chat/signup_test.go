package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

const testPool = "eu-west-1_TestPool"

// signUps is a signed-in harness whose function answers testPool's Pre
// sign-up trigger.
func signUps(t *testing.T) *chattest.Harness {
	t.Helper()
	return chattest.New(t, chattest.SignedIn, chattest.Unlimited, func(o *chat.Options) { o.UserPoolID = testPool })
}

// signUp sends the Pre sign-up event Cognito sends for username, through
// the function's one handler, and returns its error ("" when the sign-up
// may go on).
func signUp(t *testing.T, h *chattest.Harness, source, pool, username string) string {
	t.Helper()
	ev := fmt.Sprintf(`{"version":"1","region":"eu-west-1","userPoolId":%q,"userName":%q,"triggerSource":%q,
		"callerContext":{"awsSdkVersion":"aws-sdk-unknown-unknown","clientId":"client"},
		"request":{"userAttributes":{"email":"x@example.com"}},
		"response":{"autoConfirmUser":false,"autoVerifyEmail":false,"autoVerifyPhone":false}}`, pool, username, source)
	answer, err := h.Service.Invoke(context.Background(), json.RawMessage(ev))
	if err != nil {
		return err.Error()
	}
	data, _ := json.Marshal(answer)
	var back chat.PreSignUpEvent
	if err := json.Unmarshal(data, &back); err != nil || back.UserName != username || back.Response.AutoConfirmUser {
		t.Fatalf("the trigger answered %s (%v): want the event back, its response unchanged", data, err)
	}
	return ""
}

// The finding of issue 22: mallory connected with ?name=carol before carol
// ever had, and became carol. With carol's username reserved at sign-up,
// mallory is refused it and any look-alike, and carol's first visit is
// carol.
func TestAUsernameReservedAtSignUpIsItsAccountsOnly(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	for _, u := range []string{"carol", "mallory"} {
		if e := signUp(t, h, "PreSignUp_SignUp", testPool, u); e != "" {
			t.Fatalf("%s's sign-up: %s", u, e)
		}
	}
	mallory, _ := h.ConnectAs("sub-mallory", "mallory", map[string]string{"name": "carol"})
	if s := state(t, h, mallory); s.You != "mallory" || s.Warning == nil || s.Warning.Code != "name_taken" {
		t.Fatalf("mallory asking for carol: you %q, warning %+v; want mallory, name_taken", s.You, s.Warning)
	}
	for _, lookAlike := range []string{"carol", "CAROL", "Caro1", "caroI"} {
		if f := sendErr(t, h, mallory, fmt.Sprintf(`{"action":"setName","name":%q}`, lookAlike)); f.Code != "name_taken" {
			t.Fatalf("mallory renaming to %q: %+v, want name_taken", lookAlike, f)
		}
	}
	carol, _ := h.ConnectAs("sub-carol", "carol", nil)
	if s := state(t, h, carol); s.You != "carol" || s.Warning != nil {
		t.Fatalf("carol's first visit: you %q, warning %+v", s.You, s.Warning)
	}
}

// A sign-up whose username is a name someone holds, or a look-alike of a
// reserved username, is refused with a reason Cognito shows; a username
// that cannot be a name is refused too.
func TestASignUpIsRefusedANameTakenOrALookAlike(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	bob := h.JoinAs("sub-bob", "")
	h.Send(bob, `{"action":"setName","name":"bobby"}`)
	if s := state(t, h, bob); s.You != "bobby" {
		t.Fatalf("bob renamed to %q", s.You)
	}
	if e := signUp(t, h, "PreSignUp_SignUp", testPool, "alice"); e != "" {
		t.Fatal(e)
	}
	for _, u := range []string{"b0bby", "BOBBY", "a1ice", "ALICE"} {
		if e := signUp(t, h, "PreSignUp_AdminCreateUser", testPool, u); !strings.Contains(e, "belongs to someone else") {
			t.Errorf("sign-up of %q: %q, want it refused as taken", u, e)
		}
	}
	for _, u := range []string{"\u0301", "Pаvel" /* a Cyrillic а */, strings.Repeat("x", 40)} {
		if e := signUp(t, h, "PreSignUp_SignUp", testPool, u); !strings.Contains(e, "valid chat name") {
			t.Errorf("sign-up of %+q: %q, want it refused as not a name", u, e)
		}
	}
	// Each refusal is a Lambda error, and counted so that LambdaErrors
	// subtracts it.
	if n := strings.Count(h.Metrics.String(), `"SignUpsRefused":1`); n != 7 {
		t.Errorf("%d refusals counted in SignUpsRefused, want 7:\n%s", n, h.Metrics.String())
	}
}

// Cognito retries a trigger that timed out: the same username's sign-up
// again passes, and the name is still that username's only.
func TestARetriedPreSignUpIsIdempotent(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	for range 3 {
		if e := signUp(t, h, "PreSignUp_SignUp", testPool, "erin"); e != "" {
			t.Fatalf("erin's sign-up again: %s", e)
		}
	}
	if e := signUp(t, h, "PreSignUp_SignUp", testPool, "Erin"); e == "" {
		t.Fatal("Erin (another username) signed up as erin's look-alike")
	}
	erin, _ := h.ConnectAs("sub-erin", "erin", nil)
	if s := state(t, h, erin); s.You != "erin" {
		t.Fatalf("erin is %q", s.You)
	}
}

// Two sign-ups of look-alike usernames at once: at most one passes.
func TestSignUpsRacingForLookAlikesLetOneThrough(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	for round := range 8 {
		names := []string{fmt.Sprintf("race%d1", round), fmt.Sprintf("race%dl", round), fmt.Sprintf("RACE%dI", round)}
		errs := make([]string, len(names))
		var wg sync.WaitGroup
		for i, u := range names {
			wg.Go(func() { errs[i] = signUp(t, h, "PreSignUp_SignUp", testPool, u) })
		}
		wg.Wait()
		passed := 0
		for _, e := range errs {
			if e == "" {
				passed++
			}
		}
		if passed > 1 {
			t.Fatalf("round %d: %d of %v signed up: %q", round, passed, names, errs)
		}
	}
}

// The one handler tells a Pre sign-up event from the others, and refuses
// one it must not answer.
func TestPreSignUpDispatch(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	if e := signUp(t, h, "PreSignUp_SignUp", "eu-west-1_Other", "frank"); !strings.Contains(e, "another user pool") {
		t.Errorf("another pool's event: %q", e)
	}
	if e := signUp(t, h, "PostConfirmation_ConfirmSignUp", testPool, "frank"); !strings.Contains(e, "Pre sign-up only") {
		t.Errorf("a Post confirmation event: %q", e)
	}
	off := chattest.New(t, func(o *chat.Options) { o.UserPoolID = testPool })
	if e := signUp(t, off, "PreSignUp_SignUp", testPool, "frank"); !strings.Contains(e, "sign-in is off") {
		t.Errorf("sign-in off: %q", e)
	}
	// Nothing was reserved by the refused events.
	if e := signUp(t, h, "PreSignUp_SignUp", testPool, "frank"); e != "" {
		t.Fatal(e)
	}
}

// An account from before the trigger gets its username reserved on its
// next $connect; a name someone else held before stays theirs until they
// let it go, and then its username's account gets it.
func TestAnAccountFromBeforeTheTriggerIsReservedOnConnect(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	grace, _ := h.ConnectAs("sub-grace", "grace", nil) // never signed up through the trigger
	if s := state(t, h, grace); s.You != "grace" {
		t.Fatalf("grace is %q", s.You)
	}
	h.Send(grace, `{"action":"setName","name":"Gracie"}`)
	if s := state(t, h, grace); s.You != "Gracie" {
		t.Fatalf("grace renamed to %q", s.You)
	}
	mallory, _ := h.ConnectAs("sub-mallory", "mallory", map[string]string{"name": "heidi"}) // heidi's name, before heidi came
	if s := state(t, h, mallory); s.You != "heidi" {
		t.Fatalf("mallory is %q", s.You)
	}
	inbox(t, h, mallory)
	if f := sendErr(t, h, mallory, `{"action":"setName","name":"GRACE"}`); f.Code != "name_taken" {
		t.Fatalf("mallory took grace's username after grace renamed: %+v", f)
	}
	heidi, _ := h.ConnectAs("sub-heidi", "heidi", nil)
	if s := state(t, h, heidi); s.You == "heidi" {
		t.Fatal("heidi took the name mallory holds")
	}
	h.Send(mallory, `{"action":"setName","name":"mallory"}`)
	h.Disconnect(heidi)
	heidi, _ = h.ConnectAs("sub-heidi", "heidi", nil)
	h.Send(heidi, `{"action":"setName","name":"heidi"}`)
	if s := state(t, h, heidi); s.You != "heidi" {
		t.Fatalf("heidi, once mallory let her name go, is %q", s.You)
	}
	inbox(t, h, mallory)
	if f := sendErr(t, h, mallory, `{"action":"setName","name":"heidi"}`); f.Code != "name_taken" {
		t.Fatalf("mallory took heidi's username back: %+v", f)
	}
}

// joinNamed connects account, signed in as account+".u", into room ("":
// the default), asking for the account's id as its name: on its first
// connection the account's name is not its username, and a rename frees
// it (a username stays its account's).
func joinNamed(t *testing.T, h *chattest.Harness, account, room string) string {
	t.Helper()
	q := map[string]string{"name": account}
	if room != "" {
		q["room"] = room
	}
	id, resp := h.ConnectAs(account, account+".u", q)
	if resp.StatusCode != 200 {
		t.Fatalf("connect as %s: status %d %s", account, resp.StatusCode, resp.Body)
	}
	return id
}
