package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/groupchat/groupchat/contract"
)

// ParameterReader reads one SSM parameter's value.
type ParameterReader interface {
	Parameter(ctx context.Context, name string) (string, error)
}

// WithAuthParameter returns getenv with the sign-in settings of the SSM
// parameter contract.EnvAuthParameter names, when it names one: its
// contract.AuthSettings answer for contract.EnvAuthIssuer and
// contract.EnvAuthClientID (which must then be unset). Without it, getenv
// as it is, and nothing is read. Its errors name the variable and what is
// wrong, never values.
func WithAuthParameter(ctx context.Context, params ParameterReader, getenv func(string) string) (func(string) string, error) {
	name := getenv(contract.EnvAuthParameter)
	if name == "" {
		return getenv, nil
	}
	if getenv(contract.EnvAuthIssuer) != "" || getenv(contract.EnvAuthClientID) != "" {
		return nil, fmt.Errorf("%s is set, and so is %s or %s: the settings come from one place", contract.EnvAuthParameter,
			contract.EnvAuthIssuer, contract.EnvAuthClientID)
	}
	value, err := params.Parameter(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read the parameter %s names: %w", contract.EnvAuthParameter, err)
	}
	var a contract.AuthSettings
	if json.Unmarshal([]byte(value), &a) != nil {
		return nil, fmt.Errorf("the parameter %s names is not the JSON of the issuer and the client id", contract.EnvAuthParameter)
	}
	if a.Issuer == "" || a.ClientID == "" {
		return nil, errors.New("the parameter " + contract.EnvAuthParameter + " names lacks the issuer or the client id")
	}
	return func(k string) string {
		switch k {
		case contract.EnvAuthIssuer:
			return a.Issuer
		case contract.EnvAuthClientID:
			return a.ClientID
		}
		return getenv(k)
	}, nil
}

// SSMParameters reads parameters with SSM's GetParameter, one request
// signed by the SDK's SigV4 signer. The SDK's SSM client would do the same
// and add 1.3 MB to the function (9.6 to 10.9 MB; lambda's
// BenchmarkBinarySize, whose goal is 10 MB) for the one call init makes.
type SSMParameters struct {
	Config aws.Config
	// Endpoint overrides https://ssm.<region>.amazonaws.com (".com.cn" in
	// China's regions); a test's server.
	Endpoint string
	// HTTP is the client; default one with a 5 s timeout.
	HTTP *http.Client
}

// Parameter implements ParameterReader: AmazonSSM.GetParameter, AWS's JSON
// 1.1 protocol, the value as stored (a String parameter).
func (p SSMParameters) Parameter(ctx context.Context, name string) (string, error) {
	endpoint := p.Endpoint
	if endpoint == "" {
		domain := "amazonaws.com"
		if strings.HasPrefix(p.Config.Region, "cn-") {
			domain = "amazonaws.com.cn"
		}
		endpoint = "https://ssm." + p.Config.Region + "." + domain
	}
	body, _ := json.Marshal(map[string]string{"Name": name})
	client := p.HTTP
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	answer, _, err := signedPost(ctx, p.Config, client, "ssm", endpoint+"/",
		map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParameter"}, body, 64<<10)
	if err != nil {
		return "", err
	}
	if answer.Status != http.StatusOK {
		return "", fmt.Errorf("GetParameter: %s", answer.awsError())
	}
	data := answer.Body
	var out struct{ Parameter struct{ Value string } }
	if err := json.Unmarshal(data, &out); err != nil {
		return "", fmt.Errorf("GetParameter's answer: %w", err)
	}
	return out.Parameter.Value, nil
}
