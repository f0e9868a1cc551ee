package runtimeapi_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/lambda/runtimeapi"
)

// received is what the stand-in Runtime API was sent.
type received struct {
	method, path string
	header       http.Header
	body         []byte
}

// runtimeAPI stands in for Lambda's Runtime API: it passes on each request
// it receives and answers with status.
func runtimeAPI(t *testing.T, status int) (api string, requests <-chan received) {
	t.Helper()
	ch := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ch <- received{r.Method, r.URL.Path, r.Header.Clone(), body}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"status":"OK"}`))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), ch
}

func TestTheInitErrorReachesTheRuntimeAPIAsDocumented(t *testing.T) {
	t.Parallel()
	api, requests := runtimeAPI(t, http.StatusAccepted)
	cause := errors.New("MANAGEMENT_ENDPOINT is not set")
	if err := runtimeapi.ReportInitError(api, runtimeapi.ErrorTypeInvalidConfiguration, cause); err != nil {
		t.Fatal(err)
	}
	req := <-requests
	if req.method != http.MethodPost || req.path != "/2018-06-01/runtime/init/error" {
		t.Errorf("request %s %s, want POST /2018-06-01/runtime/init/error", req.method, req.path)
	}
	if h := req.header.Get("Lambda-Runtime-Function-Error-Type"); h != "GroupChat.InvalidConfiguration" {
		t.Errorf("Lambda-Runtime-Function-Error-Type = %q", h)
	}
	if ct := req.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var doc map[string]string
	if err := json.Unmarshal(req.body, &doc); err != nil {
		t.Fatalf("body is not JSON: %q", req.body)
	}
	want := map[string]string{"errorMessage": "MANAGEMENT_ENDPOINT is not set", "errorType": "GroupChat.InvalidConfiguration"}
	if len(doc) != len(want) || doc["errorMessage"] != want["errorMessage"] || doc["errorType"] != want["errorType"] {
		t.Errorf("body = %s, want %v", req.body, want)
	}
}

func TestAnInitErrorTheRuntimeAPIRefusesIsAnError(t *testing.T) {
	t.Parallel()
	api, _ := runtimeAPI(t, http.StatusForbidden)
	if err := runtimeapi.ReportInitError(api, runtimeapi.ErrorTypeInvalidConfiguration, errors.New("x")); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("err = %v, want the 403 reported", err)
	}
}

func TestWithoutTheRuntimeAPINothingIsSent(t *testing.T) {
	t.Parallel()
	if err := runtimeapi.ReportInitError("", runtimeapi.ErrorTypeInvalidConfiguration, errors.New("x")); err == nil || !strings.Contains(err.Error(), runtimeapi.EnvRuntimeAPI) {
		t.Fatalf("err = %v, want one naming %s", err, runtimeapi.EnvRuntimeAPI)
	}
}
