package costs

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/infra/stack"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/ddbproxy"
	"github.com/groupchat/groupchat/local/dynalite"
)

// MemoryMB is the function's memory (infra/stack/compute.go).
const MemoryMB = 512

// Main is cmd/costs: it reads the environments from cdk.json, starts a
// dynalite, measures, and writes the report to -out (default stdout).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("costs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		out, sizes, cdkJSON string
		latency             time.Duration
	)
	fs.StringVar(&out, "out", "", "write the report to this file (docs/costs.md); default stdout")
	fs.StringVar(&sizes, "sizes", "10,100,1000,10000", "room sizes, comma-separated")
	fs.StringVar(&cdkJSON, "cdk-json", "cdk.json", "the environments' settings")
	fs.DurationVar(&latency, "latency", 20*time.Millisecond, "management API latency per delivery")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg := Config{Latency: latency, PingsPerHour: 15, Progress: stderr}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 || n > 20000 {
			fmt.Fprintf(stderr, "costs: -sizes: %q is not a room size (2-20000)\n", s)
			return 2
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	envs, err := environments(cdkJSON)
	if err != nil {
		fmt.Fprintln(stderr, "costs:", err)
		return 2
	}
	cfg.Environments = envs

	srv, err := dynalite.Start(ctx, dynalite.Options{})
	if err != nil {
		fmt.Fprintln(stderr, "costs:", err)
		return 2
	}
	defer func() { _ = srv.Stop() }()
	// dynalite has no transactions: the proxy, without faults, runs them.
	proxy, err := ddbproxy.Start(srv.Endpoint(),
		ddbproxy.Deterministic("the cost model counts each action's requests exactly, without conflicts' retries"))
	if err != nil {
		fmt.Fprintln(stderr, "costs:", err)
		return 2
	}
	defer func() { _ = proxy.Close() }()
	db := dynamodb.NewFromConfig(local.AWSConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(proxy.Endpoint()) })
	load0 := loadAvg()
	results, err := Measure(ctx, db, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "costs:", err)
		return 1
	}
	var b bytes.Buffer
	machine := fmt.Sprintf("%d cores, load average %s before and %s after", runtime.NumCPU(), load0, loadAvg())
	Write(&b, cfg, results, "scripts/bench.sh costs", machine)
	if out == "" {
		_, _ = stdout.Write(b.Bytes())
		return 0
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		fmt.Fprintln(stderr, "costs:", err)
		return 2
	}
	fmt.Fprintf(stdout, "costs: wrote %s\n", out)
	return 0
}

// environments reads every environment of cdk.json as the stack does.
func environments(path string) ([]Environment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfgs, err := stack.ParseEnvironments(doc.Context[stack.ContextKey])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Environment
	for _, c := range cfgs {
		out = append(out, Environment{Name: c.Env, PoolSize: c.FanoutPoolSize, MemoryMB: MemoryMB})
	}
	return out, nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
