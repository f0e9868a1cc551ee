package mgmt_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go"

	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/mgmt"
)

const (
	region    = "eu-west-1"
	accessKey = "AKIDEXAMPLE"
	secretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	token     = "session-token"
)

func awsConfig() aws.Config {
	return aws.Config{Region: region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(accessKey, secretKey, token))}
}

// received is one request as the management API saw it.
type received struct {
	method, path string // path as sent, escaped
	body         string
	sigErr       error // nil when its SigV4 signature is right
}

// server answers the management API's POST /@connections/{id} like API
// Gateway: 200, or the error a test set for a connection id (with the
// x-amzn-ErrorType header the SDK maps to its typed errors). It checks every
// request's SigV4 signature the way AWS does: the request is signed again
// with the same key, time and signed headers, and the signatures compared.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
	errs     map[string]apiError // by connection id
}

type apiError struct {
	status int
	code   string
}

func newServer(tb testing.TB) *server {
	s := &server{errs: map[string]apiError{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, _ := strings.CutPrefix(r.URL.Path, "/dev/@connections/")
	s.mu.Lock()
	s.requests = append(s.requests, received{r.Method, r.URL.EscapedPath(), string(body), checkSignature(r, body)})
	e, failing := s.errs[id]
	s.mu.Unlock()
	if failing {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", e.code)
		w.WriteHeader(e.status)
		_, _ = io.WriteString(w, `{"message":"`+e.code+` (test)"}`)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *server) fail(id string, status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs[id] = apiError{status, code}
}

func (s *server) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.requests...)
}

// checkSignature signs a copy of r holding only the headers r's
// Authorization lists as signed, at r's X-Amz-Date, for execute-api in
// region, and compares the two Authorization headers.
func checkSignature(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	_, signed, ok := strings.Cut(auth, "SignedHeaders=")
	if !ok {
		return errors.New("no SignedHeaders in Authorization: " + auth)
	}
	signed, _, _ = strings.Cut(signed, ",")
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return err
	}
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	again, _ := http.NewRequest(r.Method, u.String(), nil)
	again.URL = &u
	again.ContentLength = r.ContentLength
	for h := range strings.SplitSeq(signed, ";") {
		if h != "host" && h != "content-length" {
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), "execute-api", region, at); err != nil {
		return err
	}
	if want := again.Header.Get("Authorization"); want != auth {
		return errors.New("signature mismatch: got " + auth + ", want " + want)
	}
	return nil
}

func newPoster(s *server) *mgmt.Poster { return newPosterAt(s.URL + "/dev") }

func newPosterAt(url string) *mgmt.Poster { return mgmt.NewFromConfig(awsConfig(), url, 8) }

// newSDKPoster returns a poster making every call through the generated
// client, as the function did before its own first attempts.
func newSDKPoster(url string) *mgmt.Poster {
	return mgmt.New(apigatewaymanagementapi.NewFromConfig(awsConfig(), func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(url)
	}))
}

// Every delivery is a signed POST of the frame, unchanged, to the
// connection's @connections path, escaped as the SDK escapes it: API
// Gateway's ids are base64, with +, / and =.
func TestPostSendsTheFrameSigned(t *testing.T) {
	s := newServer(t)
	p := newPoster(s)
	ids := []string{"L0SM9cOFvHcCIhw=", "a+b/c=", "plain"}
	frame := `{"type":"public","from":"Alice","text":"héllo"}`
	for _, id := range ids {
		if err := p.Post(context.Background(), id, []byte(frame)); err != nil {
			t.Fatalf("post to %s: %v", id, err)
		}
	}
	got := s.received()
	if len(got) != len(ids) {
		t.Fatalf("%d requests, want %d", len(got), len(ids))
	}
	wantPaths := []string{"/dev/@connections/L0SM9cOFvHcCIhw%3D", "/dev/@connections/a%2Bb%2Fc%3D", "/dev/@connections/plain"}
	for i, r := range got {
		if r.method != http.MethodPost || r.path != wantPaths[i] || r.body != frame || r.sigErr != nil {
			t.Errorf("request %d: %s %s %q, signature: %v; want POST %s with the frame, signed", i, r.method, r.path, r.body, r.sigErr, wantPaths[i])
		}
	}
}

// The frame's hash is computed once per frame, not per delivery: frames
// that follow each other, and a buffer the caller changes in place between
// two posts, are each signed for what is sent.
func TestPostSignsEachFrameForItsContent(t *testing.T) {
	s := newServer(t)
	p := newPoster(s)
	buf := []byte(`{"text":"one"}`)
	for i, frame := range [][]byte{buf, buf, []byte(`{"text":"two"}`), buf} {
		if err := p.Post(context.Background(), fmt.Sprint("c", i), frame); err != nil {
			t.Fatal(err)
		}
		copy(buf, `{"text":"ONE"}`) // the caller reuses its buffer
	}
	for _, r := range s.received() {
		if r.sigErr != nil {
			t.Errorf("%s %q: %v", r.path, r.body, r.sigErr)
		}
	}
	if got := len(s.received()); got != 4 {
		t.Fatalf("%d requests, want 4 (each delivered on its first attempt)", got)
	}
}

// How each answer of the management API reaches the chat: 410 is
// chat.ErrGone (the chat removes the connection), anything else an error
// naming the connection that keeps the SDK's typed error, code and status,
// the same whether the poster's own first attempt or the SDK client made the
// call; a 500 gets the SDK's three attempts in all, the poster's own first
// one included.
func TestPostMapsEveryAnswer(t *testing.T) {
	s := newServer(t)
	for _, poster := range []struct {
		name  string
		p     *mgmt.Poster
		first int // attempts before the SDK client's
	}{{"NewFromConfig", newPoster(s), 1}, {"SDK client only", newSDKPoster(s.URL + "/dev"), 0}} {
		p := poster.p
		for _, tc := range []struct {
			status   int
			code     string
			typed    any // a pointer to the SDK's error type, or nil
			attempts int // the SDK client's
		}{
			{http.StatusGone, "GoneException", nil, 1},
			{http.StatusForbidden, "ForbiddenException", new(*types.ForbiddenException), 1},
			{http.StatusRequestEntityTooLarge, "PayloadTooLargeException", new(*types.PayloadTooLargeException), 1},
			{http.StatusBadRequest, "BadRequestException", nil, 1},
			{http.StatusInternalServerError, "InternalServerErrorException", nil, 3},
		} {
			id := tc.code + "-id="
			s.fail(id, tc.status, tc.code)
			before := len(s.received())
			err := p.Post(context.Background(), id, []byte("{}"))
			want := poster.first + tc.attempts
			switch tc.status {
			case http.StatusGone:
				want = 1 // the first attempt's answer is the poster's answer
			case http.StatusInternalServerError:
				want = tc.attempts // the poster's first attempt is one of the SDK's three
			}
			if attempts := len(s.received()) - before; attempts != want {
				t.Errorf("%s, %s: %d attempts, want %d", poster.name, tc.code, attempts, want)
			}
			if tc.status == http.StatusGone {
				if err != chat.ErrGone {
					t.Errorf("%s, 410: %v, want chat.ErrGone itself", poster.name, err)
				}
				continue
			}
			if err == nil || errors.Is(err, chat.ErrGone) {
				t.Fatalf("%s, %s: %v, want an error that is not ErrGone", poster.name, tc.code, err)
			}
			if !strings.HasPrefix(err.Error(), "post to "+id+": ") {
				t.Errorf("%s, %s: %q does not name the connection", poster.name, tc.code, err)
			}
			var api smithy.APIError
			var resp *awshttp.ResponseError
			var op *smithy.OperationError
			if !errors.As(err, &api) || api.ErrorCode() != tc.code || !errors.As(err, &resp) || resp.HTTPStatusCode() != tc.status ||
				!errors.As(err, &op) || op.Service() != "ApiGatewayManagementApi" || op.Operation() != "PostToConnection" {
				t.Errorf("%s, %s: %v; want the SDK's operation error with code %s and status %d", poster.name, tc.code, err, tc.code, tc.status)
			}
			if tc.typed != nil && !errors.As(err, tc.typed) {
				t.Errorf("%s, %s: %v is not a %T", poster.name, tc.code, err, tc.typed)
			}
		}
	}
	for _, r := range s.received() {
		if r.sigErr != nil {
			t.Errorf("%s: %v", r.path, r.sigErr)
		}
	}
}

// A management API that does not answer costs the delivery its context,
// no more: the poster returns the context's error.
func TestPostEndsWithItsContext(t *testing.T) {
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stall:
		}
	}))
	defer srv.Close()
	defer close(stall)
	p := mgmt.NewFromConfig(awsConfig(), srv.URL+"/dev", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Post(ctx, "stalled=", []byte("{}")) }()
	var err error
	select { // the server stalls until the test ends: only the context can end the Post
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Post still waiting a minute after its 200 ms context ended")
	}
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, chat.ErrGone) {
		t.Fatalf("stalled: %v, want context.DeadlineExceeded", err)
	}
}

// The function's poster costs at most half the allocations per delivery of
// the generated client's every-call path (issue 16: per-delivery CPU and
// memory decide how big a room one invocation can serve). Measured, not
// timed: allocations per delivery, the (plain) server's share included for
// both.
func TestPostAllocatesAtMostHalfOfTheSDKClient(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer s.Close()
	frame := []byte(`{"type":"public","from":"member-17","text":"` + strings.Repeat("x", 150) + `"}`)
	perDelivery := func(p *mgmt.Poster) float64 {
		ctx := context.Background()
		n := 0
		return testing.AllocsPerRun(200, func() {
			n++
			if err := p.Post(ctx, fmt.Sprintf("conn-%d=", n%50), frame); err != nil {
				t.Fatal(err)
			}
		})
	}
	sdk, own := perDelivery(newSDKPoster(s.URL+"/dev")), perDelivery(newPosterAt(s.URL+"/dev"))
	t.Logf("allocations per delivery: SDK client %.0f, poster %.0f", sdk, own)
	if own > sdk/2 {
		t.Fatalf("the poster allocates %.0f times per delivery, the SDK client %.0f: want at most half", own, sdk)
	}
}
