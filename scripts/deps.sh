#!/usr/bin/env bash
# Installs the pinned npm packages at the repository root (dynalite, the CDK CLI) when the
# lockfile changed since the last install. Go modules come with `go` itself.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "deps: Node.js (20 or later; 22+ recommended) is required" >&2; exit 1; }
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# The CDK CLI ships Go templates (%name%.template.go) under node_modules; a
# go.mod there makes node_modules a module of its own, so `go test ./...`,
# `go vet ./...` and govulncheck at the repository root do not descend into it.
[ -f node_modules/go.mod ] || printf 'module groupchat.invalid/node_modules\n' > node_modules/go.mod
