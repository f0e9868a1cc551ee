package smoke

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

type fakeCloudFormation struct {
	outputs map[string]string
	err     error
}

func (f fakeCloudFormation) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	st := cftypes.Stack{StackName: in.StackName, StackStatus: cftypes.StackStatusUpdateComplete}
	for k, v := range f.outputs {
		st.Outputs = append(st.Outputs, cftypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{st}}, nil
}

// TestOperatorsSmokeTestReadsTheStacksOutputs: the deployed stack's outputs
// name the target; a stack without sign-in or not deployed says so.
func TestOperatorsSmokeTestReadsTheStacksOutputs(t *testing.T) {
	full := map[string]string{
		"WebSocketURL": "wss://abc.execute-api.eu-west-1.amazonaws.com/dev", "FrontendURL": "https://dev.d1.amplifyapp.com",
		"UserPoolId": "eu-west-1_AbC", "UserPoolClientId": "client1", "AlarmTopicArn": "arn:x",
	}
	got, err := StackTarget(t.Context(), fakeCloudFormation{outputs: full}, "GroupChat-dev")
	want := Target{WSURL: full["WebSocketURL"], FrontendURL: full["FrontendURL"], UserPoolID: "eu-west-1_AbC", ClientID: "client1"}
	if err != nil || got != want {
		t.Fatalf("StackTarget = %+v, %v; want %+v", got, err, want)
	}

	noAuth := map[string]string{"WebSocketURL": full["WebSocketURL"], "FrontendURL": full["FrontendURL"]}
	_, err = StackTarget(t.Context(), fakeCloudFormation{outputs: noAuth}, "GroupChat-dev")
	if err == nil || !strings.Contains(err.Error(), "no output UserPoolClientId, UserPoolId") || !strings.Contains(err.Error(), "auth: cognito") {
		t.Errorf("a stack without sign-in: %v", err)
	}

	_, err = StackTarget(t.Context(), fakeCloudFormation{err: errors.New("Stack with id GroupChat-dev does not exist")}, "GroupChat-dev")
	if err == nil || !strings.Contains(err.Error(), "is it deployed") {
		t.Errorf("a stack not deployed: %v", err)
	}
}

func TestOperatorsSmokeTestCommandLine(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{nil, "", "exactly one of -stack and -local"},
		{[]string{"-stack", "GroupChat-dev", "-local", "http://127.0.0.1:1/"}, "", "exactly one of -stack and -local"},
		{[]string{"-local", "http://127.0.0.1:1/"}, "alice:pw", "names 1 accounts, want 2"},
		{[]string{"-local", "http://127.0.0.1:1/"}, "alice", "want user1:password1,user2:password2"},
		{[]string{"-local", "http://127.0.0.1:1/"}, "", "is make dev running?"},
	} {
		env[EnvAccounts] = tc.env
		var stdout, stderr bytes.Buffer
		code := Main(t.Context(), tc.args, getenv, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("smoke %q with %s=%q: exit %d, stderr %q; want 2 and %q", tc.args, EnvAccounts, tc.env, code, stderr.String(), tc.want)
		}
	}
	accounts, err := parseAccounts(" alice:a-Passw0rd! , bob:b:colon")
	if err != nil || len(accounts) != 2 || accounts[1] != (Account{"bob", "b:colon"}) {
		t.Errorf("parseAccounts = %v, %v", accounts, err)
	}
}
