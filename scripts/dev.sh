#!/usr/bin/env bash
# What `make dev` runs (after scripts/deps.sh): builds the page when frontend/
# exists, builds cmd/local and runs it in the foreground, so Ctrl-C reaches it
# directly. Flags are passed on: scripts/dev.sh -port 9000 -data .dynalite
# Sign-in is on by default: the local issuer starts with the test accounts
# alice, bob and carol (printed at start), and the page asks to sign in.
# AUTH=none (or -auth none) runs the open chat, where anyone may connect
# (docs/local.md, Signing in). cmd/local itself defaults to none; this script
# is what makes `make dev` sign in.
# The function runs as Lambda runs it by default (LAMBDA=env): the deployed
# binary, built here for this machine into bin/lambda-host, in execution
# environments, each held to 512 MB's CPU share where cgroups are permitted
# (else without a quota, as the console says). LAMBDA=inprocess (or -lambda
# inprocess) runs the handler inside bin/local instead, sharing its memory
# and every CPU (docs/local.md, Two ways to run the function).
set -euo pipefail
export AUTH="${AUTH:-cognito}"
export LAMBDA="${LAMBDA:-env}"
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
if [ "$LAMBDA" = env ]; then
  LAMBDA_GOARCH="$(go env GOARCH)" scripts/build-lambda.sh bin/lambda-host
fi
exec bin/local "$@"
