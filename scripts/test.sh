#!/usr/bin/env bash
# Runs every test the project has. Each stage is a script of its own so it can
# be run alone while working on one part.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/lint.sh
go test -count=1 -timeout 20m ./...
for stage in scripts/test-infra.sh scripts/test-frontend.sh scripts/test-e2e.sh; do
  if [ -x "$stage" ]; then "$stage"; fi
done
