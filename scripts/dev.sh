#!/usr/bin/env bash
# What `make dev` runs (after scripts/deps.sh): builds the page when frontend/
# exists, builds cmd/local and runs it in the foreground, so Ctrl-C reaches it
# directly. Flags are passed on: scripts/dev.sh -port 9000 -data .dynalite
# Sign-in: AUTH=cognito (or -auth cognito) starts the local issuer with test
# accounts; AUTH=none lets anyone connect (docs/local.md, Signing in).
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" # at least the Go release go.mod's toolchain line pins
cd "$(dirname "$0")/.."
if [ -f frontend/package.json ]; then
  (
    cd frontend
    stamp=node_modules/.package-lock.json
    if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi
    npm run build --silent -- --logLevel warn
  )
fi
mkdir -p bin
go build -o bin/local ./cmd/local
exec bin/local "$@"
