// Package syncbuf holds Buffer, the goroutine-safe text buffer that tests and
// the local stack use to capture logs and metrics written from many
// goroutines. It imports nothing of the project, so any package (and any
// package's tests) can use it without an import cycle.
package testkit

import (
	"strings"
	"sync"
)

// Buffer collects everything written to it; the zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
