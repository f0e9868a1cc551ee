package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkBinarySize builds the deployable bootstrap (provided.al2023,
// arm64, stripped, lambda.norpc) exactly as the stack does and reports its
// size. Goal: at most 10 MB.
func BenchmarkBinarySize(b *testing.B) {
	out := b.TempDir()
	cmd := exec.Command("../scripts/build-lambda.sh", out)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("build: %v", err)
	}
	fi, err := os.Stat(filepath.Join(out, "bootstrap"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
	}
	b.ReportMetric(float64(fi.Size())/1e6, "MB")
}
