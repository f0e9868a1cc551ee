package smoke

// Where the target comes from (a deployed stack's outputs, or a running
// local stack's page) and the check of the page's config.json.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/groupchat/groupchat/contract"
)

// CloudFormation is the part of the CloudFormation API the smoke test calls.
type CloudFormation interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

var _ CloudFormation = (*cloudformation.Client)(nil)

// StackTarget reads the target from the outputs of the deployed stack
// (GroupChat-<env>). A stack without sign-in has no user pool to test with.
func StackTarget(ctx context.Context, cf CloudFormation, stack string) (Target, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return Target{}, fmt.Errorf("read the outputs of %s (is it deployed in this account and region?): %w", stack, err)
	}
	if len(out.Stacks) != 1 {
		return Target{}, fmt.Errorf("read the outputs of %s: %d stacks by that name", stack, len(out.Stacks))
	}
	o := map[string]string{}
	for _, kv := range out.Stacks[0].Outputs {
		o[aws.ToString(kv.OutputKey)] = aws.ToString(kv.OutputValue)
	}
	t := Target{WSURL: o["WebSocketURL"], FrontendURL: o["FrontendURL"], UserPoolID: o["UserPoolId"], ClientID: o["UserPoolClientId"]}
	var missing []string
	for k, v := range map[string]string{"WebSocketURL": t.WSURL, "FrontendURL": t.FrontendURL, "UserPoolId": t.UserPoolID, "UserPoolClientId": t.ClientID} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Target{}, fmt.Errorf("%s (status %s) has no output %s: the smoke test needs a stack with sign-in (auth: cognito) that finished deploying",
			stack, out.Stacks[0].StackStatus, strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	}
	return t, nil
}

// PageConfig reads the config.json of the page at pageURL.
func PageConfig(ctx context.Context, hc *http.Client, pageURL string) (contract.PageConfig, error) {
	var c contract.PageConfig
	base, err := url.Parse(pageURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") {
		return c, fmt.Errorf("the page's URL %q is not an http(s) URL", pageURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	u := base.ResolveReference(&url.URL{Path: "config.json"}).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return c, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return c, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return c, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("GET %s: HTTP %d (has the page been built since the deploy? scripts/frontend-release.sh starts its build)", u, resp.StatusCode)
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return c, fmt.Errorf("GET %s: not the page's config.json: %w", u, err)
	}
	return c, nil
}

// waitForPage checks the page until it passes or PageWait has passed,
// every 10 s (or a quarter of PageWait).
func (r *run) waitForPage(ctx context.Context) error {
	deadline := time.Now().Add(r.cfg.PageWait)
	for {
		err := r.checkPage(ctx)
		if err == nil || !time.Now().Before(deadline) {
			return err
		}
		fmt.Fprintf(r.cfg.Out, "             waiting for the page's build: %v\n", err)
		t := time.NewTimer(min(10*time.Second, r.cfg.PageWait/4, time.Until(deadline)))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// checkPage: the page people open connects to the stage tested and signs
// in with its app client.
func (r *run) checkPage(ctx context.Context) error {
	t := r.cfg.Target
	c, err := PageConfig(ctx, r.cfg.HTTP, t.FrontendURL)
	if err != nil {
		return err
	}
	if c.WSURL != t.WSURL {
		return fmt.Errorf("config.json's wsUrl is %q, not the stack's %q: the page connects elsewhere (rebuild it: scripts/frontend-release.sh)", c.WSURL, t.WSURL)
	}
	if c.UserPoolClientID != t.ClientID {
		return fmt.Errorf("config.json's userPoolClientId is %q, not the stack's %q: the page signs in elsewhere", c.UserPoolClientID, t.ClientID)
	}
	return nil
}
