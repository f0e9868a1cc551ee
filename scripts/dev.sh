#!/usr/bin/env bash
# What `make dev` runs (after scripts/deps.sh): builds the page when frontend/
# exists, builds cmd/local and runs it in the foreground, so Ctrl-C reaches it
# directly. Flags are passed on: scripts/dev.sh -port 9000 -data .dynalite
# Sign-in is on by default: the local issuer starts with the test accounts
# alice, bob and carol (printed at start), and the page asks to sign in.
# AUTH=none (or -auth none) runs the open chat, where anyone may connect
# (docs/local.md, Signing in). cmd/local itself defaults to none; this script
# is what makes `make dev` sign in.
# LAMBDA=env (or -lambda env) runs the deployed binary, built here for this
# machine into bin/lambda-host, in execution environments as Lambda does;
# the default, LAMBDA=inprocess, runs the handler inside bin/local
# (docs/local.md, Two ways to run the function).
set -euo pipefail
export AUTH="${AUTH:-cognito}"
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
if [ "${LAMBDA:-inprocess}" = env ]; then
  LAMBDA_GOARCH="$(go env GOARCH)" scripts/build-lambda.sh bin/lambda-host
fi
exec bin/local "$@"
