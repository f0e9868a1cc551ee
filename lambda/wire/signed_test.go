package wire

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// answers serves the given statuses in turn (the last one after them), with
// body and headers, and counts the requests; each request must be signed.
func answers(t *testing.T, header map[string]string, body string, statuses ...int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			t.Errorf("an unsigned request: %v", r.Header)
		}
		i := int(n.Add(1)) - 1
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(statuses[min(i, len(statuses)-1)])
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

var testAWS = aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}

func TestAFailedSendMessageIsRetriedOnlyWhenAWSMayTakeItLater(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, n := answers(t, nil, `{}`, 500, 503, 200)
	if err := newSettleQueue(testAWS, srv.URL+"/123/q", "").Send(ctx, []byte("x"), time.Second); err != nil || n.Load() != 3 {
		t.Errorf("500, 503, then 200: %v after %d requests, want success after 3", err, n.Load())
	}
	srv, n = answers(t, nil, `{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"no queue"}`, 400)
	err := newSettleQueue(testAWS, srv.URL+"/123/q", "").Send(ctx, []byte("x"), time.Second)
	if err == nil || !strings.Contains(err.Error(), "QueueDoesNotExist no queue") || n.Load() != 1 {
		t.Errorf("400: %v after %d requests, want the error's type and message after 1", err, n.Load())
	}
}

func TestAFailedInvokeIsRetriedWhenThrottledAndNamesLambdasErrorType(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, n := answers(t, nil, ``, 429, 202)
	if err := newSelfInvoker(testAWS, "groupchat", srv.URL).InvokeShard(ctx, []byte(`{}`)); err != nil || n.Load() != 2 {
		t.Errorf("429, then 202: %v after %d requests, want success after 2", err, n.Load())
	}
	srv, n = answers(t, map[string]string{"X-Amzn-ErrorType": "AccessDeniedException"}, `{"Message":"not allowed"}`, 403)
	err := newSelfInvoker(testAWS, "groupchat", srv.URL).InvokeShard(ctx, []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "403 AccessDeniedException not allowed") || n.Load() != 1 {
		t.Errorf("403: %v after %d requests, want Lambda's error type and message after 1", err, n.Load())
	}
}
