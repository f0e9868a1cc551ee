package wire

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The function calls three AWS APIs without their SDK clients (each would
// add to the binary for one call: lambda's TestTheDeployedBootstrapIsAtMost10MB):
// SSM's GetParameter at init, SQS's SendMessage for the settle timer and
// Lambda's asynchronous Invoke for fan-out shards. Each is one POST signed
// by the SDK's SigV4 signer: signedPost.

// signedAnswer is an AWS API's answer to a signedPost: its status, headers
// and body (read up to the caller's limit).
type signedAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// awsError reads an error answer of AWS's JSON protocols: its __type and
// message (or the body itself when it is no such JSON).
func (a signedAnswer) awsError() string {
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if json.Unmarshal(a.Body, &e) != nil || e.Type == "" && e.Message == "" {
		return fmt.Sprintf("%d %s %s", a.Status, a.Header.Get("X-Amzn-ErrorType"), bytes.TrimSpace(a.Body))
	}
	if e.Type == "" { // Lambda's REST API names the type in a header
		e.Type = a.Header.Get("X-Amzn-ErrorType")
	}
	return fmt.Sprintf("%d %s %s", a.Status, e.Type, e.Message)
}

// signedPost POSTs body to url with headers, signed for service in cfg's
// region with cfg's credentials, and reads at most limit bytes of the
// answer. sent says whether the request may have reached AWS: an error
// before it (a request that cannot be built, no credentials) is not worth
// a retry; one after it (a lost connection) is.
func signedPost(ctx context.Context, cfg aws.Config, client *http.Client, service, url string,
	headers map[string]string, body []byte, limit int64) (answer signedAnswer, sent bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return signedAnswer{}, false, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return signedAnswer{}, false, fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, cfg.Region, time.Now()); err != nil {
		return signedAnswer{}, false, fmt.Errorf("sign: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return signedAnswer{}, true, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return signedAnswer{}, true, err
	}
	return signedAnswer{Status: resp.StatusCode, Header: resp.Header, Body: data}, true, nil
}

// withAttempts calls try at most attempts times, while it says another may
// pass and ctx lives, waiting 50 ms more before each retry.
func withAttempts(ctx context.Context, attempts int, try func() (retry bool, err error)) error {
	var err error
	for attempt := range attempts {
		var retry bool
		if retry, err = try(); err == nil || !retry || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	return err
}
