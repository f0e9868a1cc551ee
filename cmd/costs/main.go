// Command costs measures what each action costs in every environment of
// cdk.json and writes docs/costs.md (scripts/bench.sh costs runs it). The
// logic is internal/costs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/groupchat/groupchat/internal/costs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := costs.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
