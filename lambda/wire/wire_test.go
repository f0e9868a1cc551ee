package wire

import (
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	good := map[string]string{
		contract.EnvConnectionsTable:     "conns",
		contract.EnvMessagesTable:        "msgs",
		contract.EnvManagementEndpoint:   "https://abc.execute-api.eu-west-1.amazonaws.com/dev",
		contract.EnvFanoutPoolSize:       "64",
		contract.EnvMessageRetentionDays: "7",
	}
	cfg, err := ConfigFromEnv(env(good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tables.Connections != "conns" || cfg.Tables.Messages != "msgs" || cfg.PoolSize != 64 || cfg.MessageRetention != 7*24*time.Hour {
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
		{contract.EnvMessageRetentionDays, "seven", "MESSAGE_RETENTION_DAYS must be a positive whole number"},
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
