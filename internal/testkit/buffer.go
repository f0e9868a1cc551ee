// Package testkit holds the small helpers every test package shares: a
// goroutine-safe buffer that captures logs and metrics, and a test context
// with a deadline. It imports nothing of the project, so any package's tests
// can use it without an import cycle. Its subpackages start bigger real
// parts: chattest (the handler on dynalite with a stand-in management API)
// and localtest (the whole local stack in-process).
package testkit

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer collects everything written to it; the zero value is ready to use.
type Buffer struct {
	// Tee, when set, also receives every write (its errors are ignored).
	Tee io.Writer

	mu sync.Mutex
	b  strings.Builder
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Tee != nil {
		_, _ = b.Tee.Write(p)
	}
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Context returns a context that ends after d or when the test ends.
func Context(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}
