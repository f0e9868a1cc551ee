// Package localstacktest starts an in-process local stack for one test or
// benchmark and stops it when that ends.
package localtest

import (
	"context"
	"testing"
	"time"

	"github.com/groupchat/groupchat/local"
)

// Start starts a stack with o (its own dynalite unless o names an endpoint);
// it is stopped, every connection's $disconnect run, when tb ends.
func Start(tb testing.TB, o local.Options) *local.Stack {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := local.Start(ctx, o)
	if err != nil {
		tb.Fatalf("start the local stack: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			tb.Errorf("stop the local stack: %v", err)
		}
	})
	return s
}
