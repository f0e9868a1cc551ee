package chat_test

// Hostile review of issue 24 (second pass): attacks that held.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// An operator event can only be the event's own top-level key: bob puts
// one in his $default frame's body and in his $connect's query string,
// and a Pre sign-up event carries one in its client metadata. None
// operates: bob's account is not deleted, nobody is banned.
func TestHunt24BHeldAnOperatorEventInsideAnAPIGatewayOrCognitoEventDoesNothing(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24b-op-shape"
	bob := h.JoinAs("bob", room)
	h.Settle()
	op := `{"groupchatOperator":{"op":"deleteAccount","account":"bob"}}`
	now := time.Now()
	rc := events.APIGatewayWebsocketProxyRequestContext{RouteKey: contract.RouteDefault, ConnectionID: bob, Stage: h.Stage,
		RequestTimeEpoch: now.UnixMilli(), RequestID: fmt.Sprint(now.UnixNano()),
		Authorizer: map[string]any{contract.AuthContextAccountID: "bob", contract.AuthContextUsername: "bob"}}
	for what, ev := range map[string]any{
		"a $default body": events.APIGatewayWebsocketProxyRequest{Body: op, RequestContext: rc},
		"a query string": events.APIGatewayWebsocketProxyRequest{RequestContext: rc,
			QueryStringParameters: map[string]string{contract.OperatorEventKey: `{"op":"deleteAccount","account":"bob"}`}},
		"a Pre sign-up's metadata": map[string]any{"version": "1", "triggerSource": "PreSignUp_SignUp", "userName": "eve",
			"userPoolId": "eu-west-1_x", "request": map[string]any{"userAttributes": map[string]any{"email": "e@example.com"},
				"clientMetadata": map[string]any{contract.OperatorEventKey: `{"op":"deleteAccount","account":"bob"}`}},
			"response": map[string]any{}},
	} {
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := h.Service.Invoke(context.Background(), raw)
		if _, ok := answer.(contract.OperatorAnswer); ok {
			t.Errorf("%s was answered as an operator event: %+v", what, answer)
		}
		if deleted(t, h, "bob") {
			t.Fatalf("%s deleted bob's account", what)
		}
	}
	if s := state(t, h, bob); s.You != "bob" {
		t.Errorf("bob is %q after the forged operator events", s.You)
	}
}

// A reason of exactly 200 characters that are 4 bytes each (800 bytes) is
// taken, kept and told whole; 201 is reason_too_long; an account id over
// the claim bound, empty, or of another key's shape is unknown_account;
// minutes at each bound are taken.
func TestHunt24BHeldModerationBoundsInFourByteCharactersAndGarbageAccounts(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24b-bounds"
	mod, bob := h.JoinModerator("mod", room), h.JoinAs("bob", room)
	h.Settle()
	inbox(t, h, mod)
	reason := strings.Repeat("😀", contract.ReasonMax)
	within := func(until int64, minutes time.Duration, before, after time.Time) bool {
		return until >= before.Add(minutes*time.Minute).Truncate(time.Millisecond).UnixMilli() &&
			until <= after.Add(minutes*time.Minute).UnixMilli()
	}
	before := h.Now()
	got := only(t, act(t, h, mod, map[string]any{"action": "mute", "account": "bob", "minutes": contract.MuteMinutesMax, "reason": reason}), "moderated")
	if got.Reason != reason || !within(got.Until, contract.MuteMinutesMax, before, h.Now()) {
		t.Errorf("a mute of %d minutes with a 200-character reason: %d characters, until %d", contract.MuteMinutesMax,
			len([]rune(got.Reason)), got.Until)
	}
	if told := only(t, inbox(t, h, bob), "moderated"); told.Reason != reason {
		t.Errorf("bob was told a reason of %d characters", len([]rune(told.Reason)))
	}
	recs := moderated(t, h, room)
	if len(recs) != 1 || recs[0].Reason != reason {
		t.Errorf("the record of the mute: %+v", recs)
	}
	for what, tc := range map[string]struct {
		fields map[string]any
		code   string
	}{
		"201 four-byte characters": {map[string]any{"action": "ban", "account": "bob", "reason": reason + "😀"}, contract.CodeReasonTooLong},
		"a huge account id":        {map[string]any{"action": "ban", "account": strings.Repeat("b", 100_000)}, contract.CodeUnknownAccount},
		"an empty account id":      {map[string]any{"action": "kick", "account": ""}, contract.CodeUnknownAccount},
		"another key's shape":      {map[string]any{"action": "ban", "account": "bob#rl"}, contract.CodeUnknownAccount},
		"a number":                 {map[string]any{"action": "mute", "account": 7, "minutes": 1}, contract.CodeBadField},
		"minutes as a string":      {map[string]any{"action": "mute", "account": "bob", "minutes": "5"}, contract.CodeBadField},
		"a huge number of minutes": {map[string]any{"action": "ban", "account": "bob", "minutes": 1e300}, contract.CodeDurationInvalid},
		"negative minutes":         {map[string]any{"action": "ban", "account": "bob", "minutes": -1}, contract.CodeDurationInvalid},
	} {
		inbox(t, h, mod)
		if e := only(t, act(t, h, mod, tc.fields), "error"); e.Code != tc.code {
			t.Errorf("%s: %s %q, want %s", what, e.Code, e.Message, tc.code)
		}
	}
	inbox(t, h, mod)
	before = h.Now()
	got = only(t, act(t, h, mod, map[string]any{"action": "ban", "account": "bob", "minutes": contract.BanMinutesMax}), "moderated")
	if !within(got.Until, contract.BanMinutesMax, before, h.Now()) {
		t.Errorf("a ban of %d minutes ends %d", contract.BanMinutesMax, got.Until)
	}
	if len(moderated(t, h, room)) != 2 {
		t.Errorf("the refused acts were recorded: %+v", moderated(t, h, room))
	}
}
