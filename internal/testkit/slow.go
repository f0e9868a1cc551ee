package testkit

import (
	"flag"
	"fmt"
	"testing"
)

// Slow marks a test that is not unit-level: it starts dynalite, the local
// stack, a CDK synth, a browser or a fault scenario. Under -short (make
// test-fast, the inner loop) it is skipped, saying why; make test runs it.
// The helpers that start those parts (chattest, localtest) call it, so a
// test using them needs no call of its own.
func Slow(tb testing.TB, why string) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("slow, skipped under -short (make test runs it): %s", why)
	}
}

// SlowPackage is Slow for a package whose TestMain does the slow part once
// for all its tests (the CDK synth of every environment): under -short it
// says why and returns true, and TestMain exits 0 without running them.
func SlowPackage(why string) bool {
	flag.Parse()
	if !testing.Short() {
		return false
	}
	fmt.Printf("slow, skipped under -short (make test runs it): %s\n", why)
	return true
}
