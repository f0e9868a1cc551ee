package smoke

// cmd/smoke: the flags, the AWS clients and the exit status.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
)

// EnvAccounts names two existing accounts to sign in as instead of
// temporary ones: "user1:password1,user2:password2".
const EnvAccounts = "SMOKE_ACCOUNTS"

// Main is cmd/smoke. It returns the exit status: 0 every step passed, 1 a
// step failed, 2 the test could not start (bad flags, no stack outputs).
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("smoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: smoke -stack GroupChat-dev | smoke -local http://127.0.0.1:8080/\n\n"+
			"Signs two accounts in to the stack's user pool (temporary ones, deleted afterwards, unless $%s\n"+
			"names two), connects both to its WebSocket URL, exchanges a public and a private message that must\n"+
			"each arrive exactly once and nowhere else, checks that a client without a token is refused and that\n"+
			"the page's config.json names the stack's WebSocket URL. Exit status: 0 passed, 1 a step failed,\n"+
			"2 it could not start. -stack uses the AWS credentials and region of the environment (AWS_PROFILE,\n"+
			"AWS_REGION), as the CDK CLI does.\n\n", EnvAccounts)
		fs.PrintDefaults()
	}
	var (
		stack, local string
		cfg          Config
	)
	fs.StringVar(&stack, "stack", "", "the deployed stack (GroupChat-<env>) whose outputs name the target")
	fs.StringVar(&local, "local", "", "a running local stack's page (make dev: http://127.0.0.1:8080/) instead of a deployed stack")
	fs.StringVar(&cfg.Room, "room", "", "the room the clients meet in (default: a new smoke-<run id>)")
	fs.DurationVar(&cfg.StepTimeout, "step-timeout", 30*time.Second, "how long one step may take")
	fs.DurationVar(&cfg.PageWait, "page-wait", 0, "how long to wait for the page's config.json to name the WebSocket URL (a build the deploy started)")
	fs.DurationVar(&cfg.Quiet, "quiet", time.Second, "how long no frame may arrive before the copies of each message are counted")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (stack == "") == (local == "") || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "smoke: give exactly one of -stack and -local")
		fs.Usage()
		return 2
	}
	accounts, err := parseAccounts(getenv(EnvAccounts))
	if err != nil {
		fmt.Fprintln(stderr, "smoke:", err)
		return 2
	}
	cfg.Accounts, cfg.Out = accounts, stdout

	start := time.Now()
	if stack != "" {
		err = fromStack(ctx, stack, &cfg)
	} else {
		err = fromLocal(ctx, local, &cfg)
	}
	if err != nil {
		fmt.Fprintf(stdout, "FAIL %6.2fs  read the target\n", time.Since(start).Seconds())
		fmt.Fprintln(stderr, "smoke:", err)
		return 2
	}
	fmt.Fprintf(stdout, "ok   %6.2fs  read the target: %s, page %s, user pool %s\n",
		time.Since(start).Seconds(), cfg.Target.WSURL, cfg.Target.FrontendURL, cfg.Target.UserPoolID)
	steps, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "smoke: FAILED after %d steps\n", len(steps))
		return 1
	}
	fmt.Fprintf(stdout, "smoke: passed in %.2fs\n", time.Since(start).Seconds())
	return 0
}

// fromStack reads the deployed stack's outputs with the caller's AWS
// credentials.
func fromStack(ctx context.Context, stack string, cfg *Config) error {
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load the AWS configuration: %w", err)
	}
	if ac.Region == "" {
		return errors.New("no AWS region: set AWS_REGION (or AWS_PROFILE with a region), the stack's region")
	}
	if _, err := ac.Credentials.Retrieve(ctx); err != nil {
		return fmt.Errorf("no AWS credentials: set AWS_PROFILE or run `aws configure` (%w)", err)
	}
	t, err := StackTarget(ctx, cloudformation.NewFromConfig(ac), stack)
	if err != nil {
		return err
	}
	cfg.Target, cfg.Cognito = t, cip.NewFromConfig(ac)
	return nil
}

// fromLocal reads a local stack's target from its page's config.json: the
// local issuer is its userPoolEndpoint, which takes any credentials.
func fromLocal(ctx context.Context, pageURL string, cfg *Config) error {
	c, err := PageConfig(ctx, &http.Client{Timeout: 10 * time.Second}, pageURL)
	if err != nil {
		return fmt.Errorf("%w (is make dev running?)", err)
	}
	if c.UserPoolEndpoint == "" || c.UserPoolID == "" {
		return fmt.Errorf("the stack at %s runs without sign-in (auth %q): run it with AUTH=cognito, as make dev does", pageURL, c.Auth)
	}
	cfg.Target = Target{WSURL: c.WSURL, FrontendURL: pageURL, UserPoolID: c.UserPoolID, ClientID: c.UserPoolClientID}
	cfg.Cognito = LocalCognito(c.UserPoolEndpoint)
	return nil
}

// LocalCognito is a Cognito client of the local issuer at endpoint.
func LocalCognito(endpoint string) *cip.Client {
	return cip.NewFromConfig(aws.Config{
		Region:      "us-east-1", // any valid one: the endpoint is given
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, func(o *cip.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func parseAccounts(s string) ([]Account, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []Account
	for _, pair := range strings.Split(s, ",") {
		user, pass, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok || user == "" || pass == "" {
			return nil, fmt.Errorf("%s: want user1:password1,user2:password2", EnvAccounts)
		}
		out = append(out, Account{Username: user, Password: pass})
	}
	if len(out) != 2 {
		return nil, fmt.Errorf("%s names %d accounts, want 2", EnvAccounts, len(out))
	}
	return out, nil
}
