package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit"
)

// maxBootstrapBytes is the deployed binary's budget: 10 MB. A smaller
// bootstrap is a shorter cold start (Lambda reads it from the package before
// init), and every byte past it was a dependency nobody weighed.
const maxBootstrapBytes = 10_000_000

// buildBootstrap builds the deployable bootstrap (provided.al2023, arm64,
// stripped, lambda.norpc) exactly as the stack does and returns its size.
func buildBootstrap(tb testing.TB) int64 {
	tb.Helper()
	out := tb.TempDir()
	cmd := exec.Command("../scripts/build-lambda.sh", out)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("build: %v", err)
	}
	fi, err := os.Stat(filepath.Join(out, "bootstrap"))
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// The bootstrap stays within 10 MB: a library that grows it past that
// fails here, in make test, not only in a benchmark nobody reads.
func TestTheDeployedBootstrapIsAtMost10MB(t *testing.T) {
	testkit.Slow(t, "builds the arm64 bootstrap")
	if size := buildBootstrap(t); size > maxBootstrapBytes {
		t.Fatalf("bootstrap is %d bytes, over the %d-byte budget: see docs/benchmarks.md (Binary size) for how to find what grew it", size, maxBootstrapBytes)
	}
}

// BenchmarkBinarySize reports the bootstrap's size. Goal: at most 10 MB
// (TestTheDeployedBootstrapIsAtMost10MB holds it there).
func BenchmarkBinarySize(b *testing.B) {
	size := buildBootstrap(b)
	for b.Loop() {
	}
	b.ReportMetric(float64(size)/1e6, "MB")
}
