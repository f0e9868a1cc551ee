package wire

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/groupchat/groupchat/contract"
)

type params map[string]string

func (p params) Parameter(_ context.Context, name string) (string, error) {
	v, ok := p[name]
	if !ok {
		return "", errors.New("ParameterNotFound")
	}
	return v, nil
}

// The sign-in settings come from the parameter the stack names (the pool's
// trigger is the function: its environment cannot name the pool).
func TestSignInSettingsFromTheParameter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const name = "/groupchat-dev/sign-in"
	store := params{name: `{"issuer":"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X","clientId":"abc"}`,
		"/bad": `not json`, "/half": `{"issuer":"https://i"}`}
	base := map[string]string{contract.EnvAuthParameter: name, "OTHER": "kept"}
	getenv, err := WithAuthParameter(ctx, store, env(base))
	if err != nil {
		t.Fatal(err)
	}
	if getenv(contract.EnvAuthIssuer) != "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X" ||
		getenv(contract.EnvAuthClientID) != "abc" || getenv("OTHER") != "kept" {
		t.Fatalf("issuer %q, client %q, other %q", getenv(contract.EnvAuthIssuer), getenv(contract.EnvAuthClientID), getenv("OTHER"))
	}
	none, err := WithAuthParameter(ctx, params{}, env(map[string]string{contract.EnvAuthIssuer: "https://i"}))
	if err != nil || none(contract.EnvAuthIssuer) != "https://i" {
		t.Fatalf("without the parameter: %v %q", err, none(contract.EnvAuthIssuer))
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{contract.EnvAuthParameter: name, contract.EnvAuthIssuer: "https://i"}, "the settings come from one place"},
		{map[string]string{contract.EnvAuthParameter: "/missing"}, "read the parameter AUTH_PARAMETER names: ParameterNotFound"},
		{map[string]string{contract.EnvAuthParameter: "/bad"}, "is not the JSON"},
		{map[string]string{contract.EnvAuthParameter: "/half"}, "lacks the issuer or the client id"},
	} {
		if _, err := WithAuthParameter(ctx, store, env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.env, err, tc.want)
		}
	}
}

// SSMParameters sends GetParameter as SSM's JSON protocol wants it, signed
// with the role's credentials, session token included.
func TestSSMParametersSendsASignedGetParameter(t *testing.T) {
	t.Parallel()
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, nil
		body, _ = io.ReadAll(r.Body)
		var in struct{ Name string }
		_ = json.Unmarshal(body, &in)
		if in.Name != "/s/sign-in" {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"__type":"ParameterNotFound","message":"no such parameter"}`)
			return
		}
		_, _ = io.WriteString(w, `{"Parameter":{"Name":"/s/sign-in","Type":"String","Value":"{\"issuer\":\"x\"}","Version":1}}`)
	}))
	defer srv.Close()
	p := SSMParameters{Endpoint: srv.URL, Config: aws.Config{Region: "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "session")}}
	v, err := p.Parameter(context.Background(), "/s/sign-in")
	if err != nil || v != `{"issuer":"x"}` {
		t.Fatalf("value %q, %v", v, err)
	}
	auth := got.Header.Get("Authorization")
	if got.Method != http.MethodPost || got.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameter" ||
		got.Header.Get("Content-Type") != "application/x-amz-json-1.1" || got.Header.Get("X-Amz-Security-Token") != "session" ||
		!strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(auth, "/eu-west-1/ssm/aws4_request") ||
		!strings.Contains(auth, "x-amz-target") || got.Header.Get("X-Amz-Date") == "" {
		t.Fatalf("request %s %v", got.Method, got.Header)
	}
	if _, err := p.Parameter(context.Background(), "/other"); err == nil || !strings.Contains(err.Error(), "ParameterNotFound") {
		t.Fatalf("a missing parameter: %v", err)
	}
}
