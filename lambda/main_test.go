package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/runtimeapi"
)

// runMain makes the test binary run the function's main instead of the
// tests, for a test to start it as Lambda would.
const runMain = "GROUPCHAT_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestAnInvalidConfigurationIsReportedToLambdaAsTheInitError(t *testing.T) {
	t.Parallel()
	reports := make(chan map[string]string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/2018-06-01/runtime/init/error" {
			http.Error(w, "the function should only report its init error", http.StatusNotFound)
			return
		}
		var doc map[string]string
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &doc)
		doc["header"] = r.Header.Get("Lambda-Runtime-Function-Error-Type")
		reports <- doc
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	// Lambda's environment, without the variables the stack sets.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{runMain + "=1", runtimeapi.EnvRuntimeAPI + "=" + strings.TrimPrefix(srv.URL, "http://"),
		"AWS_REGION=eu-west-1", "AWS_SECRET_ACCESS_KEY=not-in-the-message"}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("the function exited with %v, want status 1; output:\n%s", err, out)
	}
	select { // the server took the report before it answered, so before the exit
	case doc := <-reports:
		if doc["errorType"] != runtimeapi.ErrorTypeInvalidConfiguration || doc["header"] != runtimeapi.ErrorTypeInvalidConfiguration {
			t.Errorf("error type %q, header %q", doc["errorType"], doc["header"])
		}
		for _, name := range []string{contract.EnvConnectionsTable, contract.EnvMessagesTable, contract.EnvManagementEndpoint} {
			if !strings.Contains(doc["errorMessage"], name) {
				t.Errorf("the message does not name %s: %q", name, doc["errorMessage"])
			}
		}
		if strings.Contains(doc["errorMessage"], "not-in-the-message") {
			t.Errorf("the message carries a credential: %q", doc["errorMessage"])
		}
	default:
		t.Fatalf("no init error reported; output:\n%s", out)
	}
}
