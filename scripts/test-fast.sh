#!/usr/bin/env bash
# The inner loop (make test-fast): the unit-level tests only, in under a
# minute once compiled. Go: go test -short ./... — a test that starts
# dynalite, the local stack, the CDK synth or a fault scenario skips itself
# under -short (testkit.Slow, and the helpers that start those parts call
# it); the page: typecheck and its Vitest unit tests (no build, no browser).
# make test runs everything, this included. Arguments go to go test (e.g.
# -count=1 to run what the cache would answer, -run TestX).
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" # at least the Go release go.mod's toolchain line pins
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "test-fast: Node.js 20.19 or later is required" >&2; exit 1; }
start=$SECONDS
echo "=== go test -short ./..."
go test -short -timeout 5m "$@" ./...
go_took=$((SECONDS - start))
echo "=== the page: typecheck, unit tests"
cd frontend
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npx --no-install tsc --noEmit
npx --no-install vitest run
echo "=== fast tests passed in $((SECONDS - start))s (Go ${go_took}s); make test runs the slow ones too"
