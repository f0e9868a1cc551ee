package wire

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/groupchat/groupchat/local/lambdainvoke"
)

func TestAShardIsQueuedAsAnAsynchronousInvokeOfTheFunction(t *testing.T) {
	t.Parallel()
	s, err := lambdainvoke.Start(0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make(chan string, 1)
	s.Register("groupchat", func(_ context.Context, ev json.RawMessage) (any, error) {
		got <- string(ev)
		return nil, nil
	})
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := newSelfInvoker(awsCfg, "groupchat", s.Endpoint()).InvokeShard(ctx, []byte(`{"groupchatShard":{}}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev != `{"groupchatShard":{}}` {
			t.Errorf("the function got %s", ev)
		}
	case <-ctx.Done():
		t.Fatal("the event never ran")
	}
	err = newSelfInvoker(awsCfg, "other", s.Endpoint()).InvokeShard(ctx, []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("an unknown function: %v", err)
	}
}

func TestTheFunctionsNameTurnsShardsOn(t *testing.T) {
	t.Parallel()
	env := map[string]string{"CONNECTIONS_TABLE": "c", "MESSAGES_TABLE": "m", "MANAGEMENT_ENDPOINT": "http://127.0.0.1:1/dev",
		"AWS_LAMBDA_FUNCTION_NAME": "groupchat", "LAMBDA_ENDPOINT": "not a url"}
	if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "LAMBDA_ENDPOINT") {
		t.Errorf("a Lambda endpoint that is not a URL: %v", err)
	}
	env["LAMBDA_ENDPOINT"] = "http://127.0.0.1:2"
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || cfg.FunctionName != "groupchat" || cfg.LambdaEndpoint != "http://127.0.0.1:2" {
		t.Errorf("config %+v, %v", cfg, err)
	}
}
