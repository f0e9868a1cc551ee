package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local"
)

// TestOperatorsAndDeletionEndToEnd: the local issuer's real tokens, real
// WebSocket clients, and the operator's events sent to the local Lambda API
// as `aws lambda invoke --endpoint-url` (and scripts/admin.sh --local) sends
// them.
func TestOperatorsAndDeletionEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 120*time.Second)
	s := &testStack{Stack: localtest.Start(t, local.Options{
		Auth: contract.AuthCognito,
		Chat: chat.Options{StaleGrace: time.Millisecond},
		Log:  testWriter{t},
	})}
	token := func(user string) string {
		t.Helper()
		tok, err := s.Token(ctx, user, false)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	bob, _ := s.joinWith(ctx, t, "", "lobby", token("bob"))

	t.Run("an operator closes alice's three devices", func(t *testing.T) {
		tok := token("alice")
		phone, _ := s.joinWith(ctx, t, "", "lobby", tok)
		laptop, _ := s.joinWith(ctx, t, "", "lobby", tok)
		tablet, _ := s.joinWith(ctx, t, "", "kitchen", tok)
		a := s.operate(ctx, t, contract.OperatorRequest{Op: contract.OpCloseConnections, Username: "alice", Reason: "test"})
		must(t, a.Result == contract.ResultDone && a.Closed == 3, "closeConnections answered %+v, want done, 3 closed", a)
		for _, c := range []*client{phone, laptop, tablet} {
			must(t, c.closeStatus(ctx) == websocket.StatusNormalClosure, "one of alice's devices was not closed")
		}
	})

	t.Run("a deleted account's connections close and its name is free at once", func(t *testing.T) {
		tok := token("carol")
		one, _ := s.joinWith(ctx, t, "", "lobby", tok)
		two, _ := s.joinWith(ctx, t, "", "kitchen", tok)
		a := s.operate(ctx, t, contract.OperatorRequest{Op: contract.OpDeleteAccount, Username: "carol"})
		must(t, a.Result == contract.ResultDone && a.Closed == 2 && slices.Equal(a.Released, []string{"carol"}),
			"deleteAccount answered %+v, want done, 2 closed, carol released", a)
		for _, c := range []*client{one, two} {
			must(t, c.closeStatus(ctx) == websocket.StatusNormalClosure, "one of carol's connections was not closed")
		}
		must(t, s.handshake(ctx, t, tok) == http.StatusForbidden, "the deleted account's token still connects")
		bob.send(ctx, map[string]any{"action": contract.ActionSetName, "name": "carol", "ref": "r1"})
		for {
			f := bob.next(ctx)
			must(t, f.str("type") != contract.FrameError, "bob could not take carol's name: %v", f)
			if f.str("type") == contract.FrameRenamed && f.str("ref") == "r1" {
				must(t, f.str("name") == "carol", "bob renamed to %v", f)
				break
			}
		}
	})

	t.Run("alice deletes her account from her page", func(t *testing.T) {
		page, _ := s.joinWith(ctx, t, "", "lobby", token("alice"))
		page.send(ctx, map[string]any{"action": contract.ActionDeleteAccount, "ref": "d1"})
		f := page.expect(ctx, contract.FrameAccountDeleted)
		must(t, f.str("ref") == "d1", "accountDeleted %v", f)
		must(t, page.closeStatus(ctx) == websocket.StatusNormalClosure, "alice's page was not closed after accountDeleted")
	})
}

// operate sends an operator event to the stack's local Lambda API, as
// `aws lambda invoke --endpoint-url` does, and returns its answer.
func (s *testStack) operate(ctx context.Context, t *testing.T, req contract.OperatorRequest) contract.OperatorAnswer {
	t.Helper()
	ev, _ := json.Marshal(map[string]any{contract.OperatorEventKey: req})
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost,
		s.Lambda.Endpoint()+"/2015-03-31/functions/"+local.FunctionName+"/invocations", bytes.NewReader(ev))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var a contract.OperatorAnswer
	if err := json.Unmarshal(data, &a); err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" {
		t.Fatalf("invoke: %d %s (%v)", resp.StatusCode, data, err)
	}
	return a
}
