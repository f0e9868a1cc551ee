// Command smoke tells an operator that a deployed stage works: `make smoke
// ENV=dev` runs it after `make deploy`. `go run ./cmd/smoke -h` lists its
// flags; the logic is internal/smoke.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/groupchat/groupchat/internal/smoke"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := smoke.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
