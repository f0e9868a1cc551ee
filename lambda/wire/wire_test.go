package wire

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/auth"
	"github.com/groupchat/groupchat/lambda/auth/authtest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/dynamo"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	good := map[string]string{
		contract.EnvConnectionsTable:       "conns",
		contract.EnvMessagesTable:          "msgs",
		contract.EnvManagementEndpoint:     "https://abc.execute-api.eu-west-1.amazonaws.com/dev",
		contract.EnvFanoutPoolSize:         "64",
		contract.EnvMessageRetentionDays:   "7",
		contract.EnvRateLimitMessages:      "30",
		contract.EnvRateLimitWindowSeconds: "5",
		contract.EnvMaxDevices:             "3",
		contract.EnvMaxConnectsPerMinute:   "12",
	}
	cfg, err := ConfigFromEnv(env(good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tables.Connections != "conns" || cfg.Tables.Messages != "msgs" || cfg.PoolSize != 64 || cfg.MessageRetention != 7*24*time.Hour ||
		cfg.RateLimit.Limit != 30 || cfg.RateLimit.Window != 5*time.Second || cfg.MaxDevices != 3 ||
		cfg.MaxConnectsPerMinute != 12 {
		t.Fatalf("cfg = %+v", cfg)
	}

	for _, tc := range []struct {
		key, value, want string
	}{
		{contract.EnvConnectionsTable, "", "CONNECTIONS_TABLE is not set"},
		{contract.EnvMessagesTable, "", "MESSAGES_TABLE is not set"},
		{contract.EnvManagementEndpoint, "", "MANAGEMENT_ENDPOINT is not set"},
		{contract.EnvManagementEndpoint, "not a url", "MANAGEMENT_ENDPOINT is not a URL"},
		{contract.EnvFanoutPoolSize, "0", "FANOUT_POOL_SIZE must be a positive whole number"},
		{contract.EnvFanoutPoolSize, "257", "FANOUT_POOL_SIZE must be at most 256"},
		{contract.EnvMessageRetentionDays, "seven", "MESSAGE_RETENTION_DAYS must be a positive whole number"},
		{contract.EnvRateLimitMessages, "-1", "RATE_LIMIT_MESSAGES must be a positive whole number"},
		{contract.EnvRateLimitWindowSeconds, "0.5", "RATE_LIMIT_WINDOW_SECONDS must be a positive whole number"},
		{contract.EnvMaxDevices, "0", "MAX_DEVICES_PER_ACCOUNT must be a positive whole number"},
		{contract.EnvMaxConnectsPerMinute, "0", "MAX_CONNECTS_PER_MINUTE must be a positive whole number"},
	} {
		bad := map[string]string{}
		for k, v := range good {
			bad[k] = v
		}
		bad[tc.key] = tc.value
		if _, err := ConfigFromEnv(env(bad)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: error %v, want %q", tc.key, tc.value, err, tc.want)
		}
	}
}

// The errors become the init error the Lambda console shows: a value put in
// the wrong variable (a token pasted by mistake) must not appear there.
func TestConfigErrorsNameVariablesNotValues(t *testing.T) {
	const secret = "s3cr3t-t0ken"
	_, err := ConfigFromEnv(env(map[string]string{
		contract.EnvConnectionsTable:     "conns",
		contract.EnvMessagesTable:        "msgs",
		contract.EnvManagementEndpoint:   secret,
		contract.EnvFanoutPoolSize:       secret,
		contract.EnvMessageRetentionDays: secret,
	}))
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("the error carries a value: %v", err)
	}
	for _, name := range []string{contract.EnvManagementEndpoint, contract.EnvFanoutPoolSize, contract.EnvMessageRetentionDays} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("the error does not name %s: %v", name, err)
		}
	}
}

func TestSignInSettings(t *testing.T) {
	base := map[string]string{
		contract.EnvConnectionsTable:   "conns",
		contract.EnvMessagesTable:      "msgs",
		contract.EnvManagementEndpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/dev",
	}
	with := func(kv ...string) func(string) string {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return env(m)
	}
	const issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"

	cfg, err := ConfigFromEnv(with())
	if err != nil || cfg.Auth.Issuer != "" {
		t.Fatalf("no settings: %+v, %v; want sign-in off", cfg.Auth, err)
	}
	cfg, err = ConfigFromEnv(with(contract.EnvAuthIssuer, issuer, contract.EnvAuthClientID, "client"))
	if err != nil || cfg.Auth.Issuer != issuer || cfg.Auth.ClientID != "client" || cfg.Auth.JWKSURLOf() != issuer+"/.well-known/jwks.json" {
		t.Fatalf("issuer and client: %+v, %v", cfg.Auth, err)
	}
	for _, local := range []string{"http://localhost:9229/local_pool", "http://127.0.0.1:9229/local_pool", "http://[::1]:9229/local_pool"} {
		if _, err := ConfigFromEnv(with(contract.EnvAuthIssuer, local, contract.EnvAuthClientID, "client", contract.EnvAuthJWKSURL, local+"/.well-known/jwks.json")); err != nil {
			t.Errorf("a local issuer %s: %v", local, err)
		}
	}

	for _, tc := range []struct {
		name string
		kv   []string
		want string
	}{
		{"issuer without client", []string{contract.EnvAuthIssuer, issuer}, "AUTH_CLIENT_ID is not set"},
		{"client without issuer", []string{contract.EnvAuthClientID, "client"}, "AUTH_CLIENT_ID is set but AUTH_ISSUER is not"},
		{"key set without issuer", []string{contract.EnvAuthJWKSURL, issuer + "/.well-known/jwks.json"}, "AUTH_JWKS_URL is set but AUTH_ISSUER is not"},
		{"issuer not a URL", []string{contract.EnvAuthIssuer, "eu-west-1_abc", contract.EnvAuthClientID, "client"}, "AUTH_ISSUER is not a URL"},
		{"issuer in the clear", []string{contract.EnvAuthIssuer, "http://cognito.example/pool", contract.EnvAuthClientID, "client"}, "AUTH_ISSUER must be an https URL"},
		{"key set in the clear", []string{contract.EnvAuthIssuer, issuer, contract.EnvAuthClientID, "client",
			contract.EnvAuthJWKSURL, "http://keys.example/jwks.json"}, "AUTH_JWKS_URL must be an https URL"},
	} {
		_, err := ConfigFromEnv(with(tc.kv...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
			continue
		}
		for i := 1; i < len(tc.kv); i += 2 {
			if strings.Contains(err.Error(), tc.kv[i]) {
				t.Errorf("%s: the error carries a value: %v", tc.name, err)
			}
		}
	}
}

// The verifier is built from the configuration, as on Lambda: a token of
// the configured pool is allowed, with no key fetched before it. The
// authorizer reads the account's item (an environment ban): a DynamoDB
// stand-in answers its GetItem with no item.
func TestNewBuildsTheVerifierFromTheSettings(t *testing.T) {
	pool := authtest.NewPool(t)
	var reads atomic.Int32
	ddb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.GetItem" {
			reads.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(ddb.Close)
	svc := New(Config{ManagementEndpoint: "http://127.0.0.1:1", DynamoDBEndpoint: ddb.URL, Tables: dynamo.Names{Connections: "conns", Messages: "msgs"},
		Auth: auth.Config{Issuer: pool.Issuer, ClientID: authtest.ClientID, JWKSURL: pool.JWKSURL}},
		aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
		chat.Options{Metrics: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if pool.Fetches() != 0 {
		t.Fatal("the key set was fetched at init")
	}
	resp, err := svc.Authorize(context.Background(), chat.AuthorizerRequest{Type: "REQUEST", MethodArn: "arn:aws:execute-api:eu-west-1:1:a/dev/$connect",
		QueryStringParameters: map[string]string{contract.AuthQueryParam: pool.Token(time.Now(), "sub-1", "alice")}})
	if err != nil || len(resp.PolicyDocument.Statement) != 1 || resp.PolicyDocument.Statement[0].Effect != "Allow" {
		t.Fatalf("%+v, %v; want Allow", resp, err)
	}
	if reads.Load() != 1 {
		t.Errorf("the authorizer read %d items, want the account's", reads.Load())
	}
}
