package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"time"

	"github.com/groupchat/groupchat/local/gateway"
	"github.com/groupchat/groupchat/local/lambdaenv"
	"github.com/groupchat/groupchat/observability"
)

// Environments configure the function's execution environments
// (local/lambdaenv) when the stack runs the deployed binary as Lambda runs
// it: Bootstrap (built for this machine: scripts/build-lambda.sh with
// LAMBDA_GOARCH set to this machine's architecture), MemoryMB (its CPU
// share), MaxEnvironments (the reserved concurrency), IdleTimeout. The
// stack sets the rest: the function's variables as the in-process handler
// gets them plus the JSON logs the template asks for, its name, the
// gateway's handler timeout as the function's, and where the output goes.
type Environments = lambdaenv.Config

// startEnvironments starts the local Lambda service of the function with
// env as its variables and returns its Invoke. The function's embedded
// metric lines go to metrics, its other lines to logTo.
func (s *Stack) startEnvironments(cfg Environments, env map[string]string, timeout time.Duration, metrics, logTo io.Writer, verbose bool) (Invoke, error) {
	vars := maps.Clone(env)
	vars["AWS_LAMBDA_LOG_FORMAT"] = "JSON" // the template's LoggingFormat
	vars["AWS_LAMBDA_LOG_LEVEL"] = "WARN"  // as the in-process handler logs locally
	if verbose {
		vars["AWS_LAMBDA_LOG_LEVEL"] = "INFO"
	}
	cfg.Env = vars
	cfg.FunctionName = FunctionName
	if timeout <= 0 {
		timeout = gateway.DefaultHandlerTimeout
	}
	cfg.Timeout = timeout
	cfg.Output = functionOutput{metrics: metrics, log: logTo}
	cfg.Log = logTo
	svc, err := lambdaenv.Start(cfg)
	if err != nil {
		return nil, err
	}
	s.Environments = svc
	return func(ctx context.Context, event json.RawMessage) (any, error) {
		answer, err := svc.Invoke(ctx, event)
		if err != nil {
			return nil, err
		}
		return answer, nil
	}, nil
}

// throttleCounted is fn for a caller that counts none of its
// invocations itself (the settle queue's event source mapping): each one
// the environments refuse over their limit is one in AWS/Lambda Throttles,
// as the gateway's and the Lambda API's refusals are.
func (s *Stack) throttleCounted(fn Invoke) Invoke {
	return func(ctx context.Context, event json.RawMessage) (any, error) {
		answer, err := fn(ctx, event)
		if fe := (*lambdaenv.FunctionError)(nil); errors.As(err, &fe) && fe.Throttled() {
			s.Metrics.Put(observability.NamespaceLambda, "Throttles", nil, 1)
		}
		return answer, err
	}
}

// functionOutput is where the environments' output goes (whole lines):
// the embedded-metric lines to the stack's metrics, every other line, the
// function's logs, to the stack's log.
type functionOutput struct {
	metrics io.Writer
	log     io.Writer
}

func (f functionOutput) Write(p []byte) (int, error) {
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		switch {
		case len(line) == 0:
		case bytes.Contains(line, []byte(`"_aws":`)):
			_, _ = f.metrics.Write(line)
		default:
			_, _ = f.log.Write(line)
		}
	}
	return len(p), nil
}
