package lambdainvoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/local/lambdaenv"
)

func TestInvokeAnswersAsLambda(t *testing.T) {
	t.Parallel()
	s, err := Start(0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	var observed []string
	s.Observe(func(name string, _ time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		observed = append(observed, fmt.Sprint(name, " ", err))
	})
	s.Register("fn", func(_ context.Context, ev json.RawMessage) (any, error) {
		var in struct{ Fail string }
		_ = json.Unmarshal(ev, &in)
		if in.Fail != "" {
			return nil, errors.New(in.Fail)
		}
		return map[string]json.RawMessage{"echo": ev}, nil
	})
	invoke := func(path, body string, header map[string]string) (int, http.Header, string) {
		req, _ := http.NewRequest(http.MethodPost, s.Endpoint()+path, strings.NewReader(body))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(data)
	}
	if status, h, body := invoke("/2015-03-31/functions/fn/invocations", `{"a":1}`, nil); status != 200 ||
		h.Get("X-Amz-Function-Error") != "" || body != `{"echo":{"a":1}}` {
		t.Errorf("an answer: %d %v %s", status, h, body)
	}
	if status, h, body := invoke("/2015-03-31/functions/fn/invocations", `{"Fail":"no such name"}`, nil); status != 200 ||
		h.Get("X-Amz-Function-Error") != "Unhandled" || body != `{"errorMessage":"no such name","errorType":"errorString"}` {
		t.Errorf("an error: %d %v %s", status, h, body)
	}
	if status, h, _ := invoke("/2015-03-31/functions/other/invocations", `{}`, nil); status != 404 ||
		h.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" {
		t.Errorf("an unknown function: %d %v", status, h)
	}
	if status, h, _ := invoke("/2015-03-31/other/fn/invocations", `{}`, nil); status != 404 ||
		h.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Errorf("another path: %d %v", status, h)
	}
	if status, _, _ := invoke("/2015-03-31/functions/fn/invocations", `{}`, map[string]string{"X-Amz-Invocation-Type": "DryRun"}); status != 400 {
		t.Errorf("a dry run: %d, want 400", status)
	}
	if status, _, _ := invoke("/2015-03-31/functions/fn/invocations", `not json`, nil); status != 400 {
		t.Errorf("a payload that is not JSON: %d, want 400", status)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"fn <nil>", "fn no such name"}; !slices.Equal(observed, want) {
		t.Errorf("observed %q, want %q", observed, want)
	}
}

// Run in the environments (local/lambdaenv), the function's error is
// answered with the type its runtime or the service gave it, as Lambda
// answers it (not the Go type that carries it), and a throttle as the
// Invoke API's own 429 TooManyRequestsException, which SDKs retry, counted
// in Throttles and not as an invocation.
func TestAnEnvironmentsErrorIsAnsweredWithItsTypeAndAThrottleWith429(t *testing.T) {
	t.Parallel()
	s, err := Start(0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	var invocations, throttles int
	s.Observe(func(string, time.Duration, error) {
		mu.Lock()
		defer mu.Unlock()
		invocations++
	})
	s.ObserveThrottled(func(string) {
		mu.Lock()
		defer mu.Unlock()
		throttles++
	})
	s.Register("fn", func(_ context.Context, ev json.RawMessage) (any, error) {
		var in struct{ Type string }
		_ = json.Unmarshal(ev, &in)
		return nil, &lambdaenv.FunctionError{Type: in.Type, Message: "as " + in.Type}
	})
	invoke := func(body string) (int, http.Header, string) {
		resp, err := http.Post(s.Endpoint()+"/2015-03-31/functions/fn/invocations", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(data)
	}
	if status, h, body := invoke(`{"Type":"` + lambdaenv.ErrorTypeTimeout + `"}`); status != 200 || h.Get("X-Amz-Function-Error") != "Unhandled" ||
		body != `{"errorMessage":"as Sandbox.Timedout","errorType":"Sandbox.Timedout"}` {
		t.Errorf("a timeout: %d %v %s", status, h, body)
	}
	if status, h, body := invoke(`{"Type":"` + lambdaenv.ErrorTypeThrottled + `"}`); status != http.StatusTooManyRequests ||
		h.Get("X-Amzn-ErrorType") != "TooManyRequestsException" || h.Get("X-Amz-Function-Error") != "" {
		t.Errorf("a throttle: %d %v %s, want 429 TooManyRequestsException", status, h, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if invocations != 1 || throttles != 1 {
		t.Errorf("%d invocations, %d throttles counted, want 1 (the timeout) and 1", invocations, throttles)
	}
}
