#!/usr/bin/env bash
# Runs every test the project has. Each stage is a script of its own so it can
# be run alone while working on one part.
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" # at least the Go release go.mod's toolchain line pins
cd "$(dirname "$0")/.."
start=$SECONDS
stage() { echo; echo "=== $1 ($((SECONDS - start))s)"; }
stage lint
scripts/lint.sh
stage "moto (local/ddbproxy checks its transactions against it)"
scripts/moto.sh >/dev/null
stage "go test"
go test -count=1 -timeout 20m ./...
for s in scripts/fuzz.sh scripts/test-infra.sh scripts/test-scripts.sh scripts/test-frontend.sh scripts/test-e2e.sh; do
  if [ -x "$s" ]; then
    stage "$s"
    "$s"
  fi
done
echo
echo "=== all tests passed in $((SECONDS - start))s"
