// Command load is GroupChat's load generator: it opens many WebSocket
// clients against a stage (the local stack or a deployed one), sends public
// messages at a given rate, and reports the connect rate, delivery
// completeness and end-to-end latency. docs/benchmarks.md shows how it is
// used; `go run ./cmd/load -h` lists its flags. The logic is internal/load.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/groupchat/groupchat/internal/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := load.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
