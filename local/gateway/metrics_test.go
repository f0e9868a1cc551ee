package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/observability"
)

// metricsSeen keeps what the gateway hands Config.Metric: per metric, how
// many values and their sum (a statistic's SampleCount and Sum).
type metricsSeen struct {
	mu    sync.Mutex
	count map[string]int
	sum   map[string]float64
}

func newMetricsSeen() *metricsSeen {
	return &metricsSeen{count: map[string]int{}, sum: map[string]float64{}}
}

func (m *metricsSeen) put(namespace, name string, v float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count[namespace+"/"+name]++
	m.sum[namespace+"/"+name] += v
}

// lambda is the SampleCount and Sum of an AWS/Lambda metric so far.
func (m *metricsSeen) lambda(name string) (int, float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := observability.NamespaceLambda + "/" + name
	return m.count[key], m.sum[key]
}

// throttleError is an invocation the function's concurrency refused, as
// local/lambdaenv reports one.
type throttleError struct{}

func (throttleError) Error() string   { return "Rate Exceeded." }
func (throttleError) Throttled() bool { return true }

// A frame whose invocation the function's concurrency refuses is, as
// Lambda counts it, a throttle and no invocation: the dashboard's Throttles
// goes up and its Invocations, Errors, Duration and concurrency do not. An
// invocation that fails is an invocation with an error.
func TestAThrottledInvocationCountsInThrottlesNotInvocations(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	seen := newMetricsSeen()
	s := start(t, func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		switch ev.Body {
		case "throttled":
			return events.APIGatewayProxyResponse{}, fmt.Errorf("invoke: %w", throttleError{}) // found wrapped too
		case "fail":
			return events.APIGatewayProxyResponse{}, errors.New("boom")
		}
		return echo(ctx, ev)
	}, Config{Metric: seen.put})
	c, _ := s.dial(ctx, t, "") // $connect: one invocation
	type counts struct {
		invocations, errors, durations, concurrent, throttles float64
	}
	now := func() counts {
		inv, _ := seen.lambda("Invocations")
		_, errs := seen.lambda("Errors")
		dur, _ := seen.lambda("Duration")
		conc, _ := seen.lambda("ConcurrentExecutions")
		_, thr := seen.lambda("Throttles")
		return counts{float64(inv), errs, float64(dur), float64(conc), thr}
	}
	for _, step := range []struct {
		body string
		want counts
	}{
		{"throttled", counts{invocations: 1, durations: 1, concurrent: 1, throttles: 1}},
		{"fail", counts{invocations: 2, errors: 1, durations: 2, concurrent: 2, throttles: 1}},
	} {
		write(ctx, t, c, step.body)
		read(ctx, t, c) // API Gateway's error frame, sent once the invocation is counted
		if got := now(); got != step.want {
			t.Errorf("after %q: %+v, want %+v", step.body, got, step.want)
		}
	}
}
