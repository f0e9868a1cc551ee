#!/usr/bin/env bash
# gofmt, go vet and staticcheck (its version is pinned by the tool directive in go.mod).
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...
go tool staticcheck ./...
echo "lint: ok"
