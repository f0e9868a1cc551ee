package load

// Signing clients in through the local stack's token endpoint.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// TokenFromURL returns a Config.Token that asks endpoint, the local stack's
// token endpoint (http://127.0.0.1:8080/_local/token), for each client's ID
// token: GET endpoint?user=<name>&create=1, which makes the account at the
// stack's local issuer and signs it in.
func TokenFromURL(endpoint string) (func(ctx context.Context, name string) (string, error), error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("load: the token URL must be an http(s) URL without a query, not %q", endpoint)
	}
	return func(ctx context.Context, name string) (string, error) {
		q := url.Values{"user": {name}, "create": {"1"}}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
		if err != nil {
			return "", err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return "", err
		}
		text := strings.TrimSpace(string(body))
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("token endpoint: HTTP %d: %s", resp.StatusCode, text)
		}
		return text, nil
	}, nil
}
