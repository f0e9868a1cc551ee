package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/cognito"
	"github.com/groupchat/groupchat/local/ddbproxy"
	"github.com/groupchat/groupchat/local/gateway"
	"github.com/groupchat/groupchat/local/lambdaenv"
	"github.com/groupchat/groupchat/local/metrics"
	"github.com/groupchat/groupchat/observability"
)

// defaultAuth is the sign-in mode without -auth or $AUTH: none, which the
// tests and the load benchmark run; `make dev` (scripts/dev.sh) sets
// AUTH=cognito.
const defaultAuth = contract.AuthNone

// The function's two modes (-lambda, $LAMBDA): in this process, cmd/local's
// own default (the Go tests' and `go run ./cmd/local`'s, which need no
// bootstrap built), or the deployed binary in execution environments, which
// make dev, the browser suite and the load benchmark choose with LAMBDA=env
// (docs/local.md, Two ways to run the function).
const (
	lambdaInProcess  = "inprocess"
	lambdaEnv        = "env"
	defaultBootstrap = "bin/lambda-host/bootstrap"
)

// shutdownTimeout bounds the graceful stop.
const shutdownTimeout = 15 * time.Second

// awsLike are the DynamoDB faults `make dev` and the browser suite run with
// unless told otherwise: the room index and eventually consistent reads
// 100 ms behind the table (AWS's typically lag by well under a second) and
// transactions that conflict, as AWS's do (docs/local.md). The page copes by
// asking for the state again once the index has settled.
var awsLike = ddbproxy.AWSLike()

// run parses the flags into local.Options, starts the stack, prints
// where it listens and stops it when ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	defaultPort := 8080
	if p := getenv("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("PORT must be a port number, not %q", p)
		}
		defaultPort = n
	}
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o         local.Options
		gw        = &o.Gateway
		postError float64
		postStall float64
		dropDisc  float64
		applyFail float64
	)
	fs.IntVar(&o.Port, "port", defaultPort, "port on 127.0.0.1 (0: any free port; default from $PORT, else 8080)")
	fs.StringVar(&gw.Stage, "stage", gateway.DefaultStage, "stage name: the WebSocket URL is ws://127.0.0.1:PORT/<stage>")
	fs.StringVar(&gw.StaticDir, "static", "frontend/dist", "directory served at / (a built-in page when it does not exist)")
	fs.StringVar(&o.DynamoDBEndpoint, "dynamodb-endpoint", getenv(contract.EnvDynamoDBEndpoint), "use this DynamoDB API instead of starting dynalite (default $"+contract.EnvDynamoDBEndpoint+")")
	fs.StringVar(&o.Dynalite.Dir, "data", "", "keep dynalite's data in this directory across restarts (default: in memory)")
	authDefault := getenv("AUTH")
	if authDefault == "" {
		authDefault = defaultAuth
	}
	fs.StringVar(&o.Auth, "auth", authDefault, "sign-in: "+contract.AuthCognito+" (a local issuer, cognito-local, with test accounts; the $connect authorizer) or "+contract.AuthNone+" (anyone may connect); default $AUTH, else "+defaultAuth)
	fs.DurationVar(&o.Cognito.IDTokenValidity, "auth-token-validity", 0, "lifetime of the local issuer's ID and access tokens (default: the deployed app client's, contract.IDTokenValidity); seconds make a connection's sign-in end soon (e2e/reauth.e2e.ts)")
	fs.StringVar(&o.Cognito.Dir, "auth-data", "", "keep the local issuer's pool and accounts in this directory across restarts (default: a temporary directory)")
	fs.Int64Var(&gw.MessageLimit, "message-limit", gateway.DefaultMessageLimit, "largest client message in bytes (larger: close 1009)")
	fs.Int64Var(&gw.FrameLimit, "frame-limit", gateway.DefaultFrameLimit, "largest client frame in bytes (larger: close 1009)")
	fs.DurationVar(&gw.IdleTimeout, "idle-timeout", gateway.DefaultIdleTimeout, "close a connection without client messages for this long (1001)")
	fs.DurationVar(&gw.MaxConnectionDuration, "max-connection", gateway.DefaultMaxConnectionDuration, "close every connection this long after it opened (1001)")
	fs.DurationVar(&gw.HandlerTimeout, "handler-timeout", gateway.DefaultHandlerTimeout, "deadline of each handler invocation")
	fs.DurationVar(&gw.Faults.Latency, "fault-latency", 0, "delay every management API call by this much (20ms is about AWS)")
	fs.Float64Var(&postError, "fault-post-error", 0, "fraction (0-1) of management API POSTs answered 500")
	fs.Float64Var(&postStall, "fault-post-stall", 0, "fraction (0-1) of management API POSTs left unanswered until the caller gives up")
	fs.Float64Var(&dropDisc, "fault-drop-disconnect", 0, "fraction (0-1) of closed connections whose $disconnect is skipped")
	fs.DurationVar(&o.DynamoDB.IndexLag, "fault-index-lag", awsLike.IndexLag, "answer DynamoDB index queries as the index was this long ago (AWS's indexes are eventually consistent)")
	fs.DurationVar(&o.DynamoDB.StaleReads, "fault-stale-reads", awsLike.StaleReads, "answer DynamoDB reads without ConsistentRead with the items as they were this long ago (AWS's eventually consistent reads)")
	fs.BoolVar(&o.DynamoDB.TransactionConflicts, "fault-transaction-conflicts", awsLike.TransactionConflicts, "DynamoDB transactions hold their items and conflict as AWS's do (false: run one at a time, never conflicting)")
	fs.Float64Var(&applyFail, "fault-dynamodb-apply-then-fail", 0, "fraction (0-1) of DynamoDB writes applied, then answered 500 (the SDK retries them)")
	fs.DurationVar(&o.DynamoDB.Latency, "fault-dynamodb-latency", 0, "delay every DynamoDB request by this much (a few ms is about AWS)")
	fs.DurationVar(&o.Metrics.Period, "metrics-period", observability.Period, "period of the local dashboard's graphs and of the alarms' evaluation (the thresholds stay the deployed ones; 5s makes a fault show at once)")
	fs.BoolVar(&o.DynamoDB.Unavailable, "fault-dynamodb-unavailable", false, "answer every DynamoDB request of the function 500 (an outage, counted as SystemErrors)")
	lambdaMode := getenv("LAMBDA")
	if lambdaMode == "" {
		lambdaMode = lambdaInProcess
	}
	bootstrap := getenv("LAMBDA_BOOTSTRAP")
	if bootstrap == "" {
		bootstrap = defaultBootstrap
	}
	var envs local.Environments
	fs.StringVar(&lambdaMode, "lambda", lambdaMode, "how the function runs: "+lambdaInProcess+" (the handler in this process, sharing its memory and every CPU) or "+lambdaEnv+
		" (the deployed binary in execution environments, as Lambda runs it: docs/local.md); default $LAMBDA, else "+lambdaInProcess)
	fs.StringVar(&envs.Bootstrap, "lambda-bootstrap", bootstrap, "with -lambda env: the bootstrap built for this machine (LAMBDA_GOARCH=$(go env GOARCH) scripts/build-lambda.sh DIR); default $LAMBDA_BOOTSTRAP, else "+defaultBootstrap)
	fs.IntVar(&envs.MemoryMB, "lambda-memory", lambdaenv.DefaultMemoryMB, "with -lambda env: the function's memory in MB; each environment gets memory/1769 of a vCPU (cgroups, as root)")
	fs.IntVar(&envs.MaxEnvironments, "lambda-concurrency", lambdaenv.DefaultMaxEnvironments, "with -lambda env: at most this many environments (the reserved concurrency); more concurrent invocations are throttled")
	fs.DurationVar(&envs.IdleTimeout, "lambda-idle", lambdaenv.DefaultIdleTimeout, "with -lambda env: stop an environment idle this long")
	fs.StringVar(&envs.CgroupRoot, "lambda-cgroups", lambdaenv.DefaultCgroupRoot, "with -lambda env: where the cgroup v1 controllers are mounted; where no cpu controller can be written (not root, cgroup v2) the environments run without a CPU quota, as the console says")
	fs.BoolVar(&o.Verbose, "v", false, "also log every management API call and the chat's info logs")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags only; -h lists them)", fs.Args())
	}
	if o.Auth != contract.AuthCognito && o.Auth != contract.AuthNone {
		return fmt.Errorf("-auth (or $AUTH) is %q: want %s or %s", o.Auth, contract.AuthCognito, contract.AuthNone)
	}
	switch lambdaMode {
	case lambdaInProcess:
	case lambdaEnv:
		o.Environments = &envs
	default:
		return fmt.Errorf("-lambda (or $LAMBDA) is %q: want %s or %s", lambdaMode, lambdaInProcess, lambdaEnv)
	}
	gw.Faults.FailPost = gateway.Fraction(postError)
	gw.Faults.StallPost = gateway.Fraction(postStall)
	gw.Faults.DropDisconnect = gateway.Fraction(dropDisc)
	o.DynamoDB.ApplyThenFail = ddbproxy.Fraction(applyFail)
	o.Getenv = getenv
	o.Log = stderr

	s, err := local.Start(ctx, o)
	if err != nil {
		return err
	}
	db := s.DynamoDBEndpoint
	switch {
	case s.Dynalite != nil && o.Dynalite.Dir != "":
		db += " (dynalite, data in " + o.Dynalite.Dir + ")"
	case s.Dynalite != nil:
		db += " (dynalite, in memory)"
	}
	page := "built-in page (frontend/dist not built)"
	if dirExists(gw.StaticDir) {
		page = gw.StaticDir
	}
	fmt.Fprintf(stdout, "GroupChat is running locally.\n"+
		"  chat page  %s  (%s)\n", s.PageURL, page)
	// scripts/dev-token.sh asks the stack on $PORT, else 8080.
	devToken := "scripts/dev-token.sh"
	if _, port, _ := net.SplitHostPort(s.Addr); port != "8080" {
		devToken = "PORT=" + port + " " + devToken
	}
	if s.Cognito == nil {
		fmt.Fprintf(stdout, "  WebSocket  %s  (try: websocat '%s?name=Alice&room=lobby')\n", s.URL, s.URL)
	} else {
		fmt.Fprintf(stdout, "  WebSocket  %s  (try: websocat \"%s?name=Alice&room=lobby&token=$(%s alice)\")\n", s.URL, s.URL, devToken)
	}
	fmt.Fprintf(stdout, "  DynamoDB   %s\n", db)
	if s.Environments == nil {
		fmt.Fprintf(stdout, "  function   in this process (-lambda %s)\n", lambdaInProcess)
	} else {
		fmt.Fprintf(stdout, "  function   %s in execution environments of %d MB (-lambda %s): %s\n", envs.Bootstrap, envs.MemoryMB, lambdaEnv, s.Environments.Limits())
	}
	fmt.Fprintf(stdout, "  dashboard  %s  (the CloudWatch dashboard and alarms, filled by this run; period %s)\n",
		strings.TrimSuffix(s.PageURL, "/")+metrics.DashboardPath+"/", o.Metrics.Period)
	if s.Cognito == nil {
		fmt.Fprintf(stdout, "  sign-in    off (-auth %s): anyone may connect\n", contract.AuthNone)
	} else {
		fmt.Fprintf(stdout, "  sign-in    %s (cognito-local, user pool %s, app client %s; local only)\n", s.Cognito.Endpoint(), s.Cognito.UserPoolID, s.Cognito.ClientID)
		for _, u := range cognito.TestUsers {
			fmt.Fprintf(stdout, "             %-6s password %s\n", u.Username, u.Password)
		}
		fmt.Fprintf(stdout, "             an ID token: %s alice\n", devToken)
		if s.Lambda != nil {
			// Lambda's Invoke API: aws lambda invoke --endpoint-url works.
			fmt.Fprintf(stdout, "  operator   %s (the function %s; try: scripts/admin.sh --local %s close-connections --username alice)\n",
				s.Lambda.Endpoint(), local.FunctionName, s.Lambda.Endpoint())
		}
	}
	fmt.Fprintln(stdout, "Ctrl-C stops.")

	select {
	case <-ctx.Done():
	case <-s.Done(): // the server failed; Stop says why
	}
	fmt.Fprintln(stderr, "stopping: closing connections (1001), running $disconnect, stopping dynalite and the local issuer")
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	return s.Stop(stopCtx)
}

func dirExists(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir()
}
