#!/usr/bin/env bash
# The web page's own checks: install its pinned packages when the lockfile
# changed, typecheck, run the Vitest unit tests, and build frontend/dist.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
command -v node >/dev/null || { echo "test-frontend: Node.js 20.19 or later is required" >&2; exit 1; }
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "frontend: typecheck"
npx --no-install tsc --noEmit
echo "frontend: unit tests"
npx --no-install vitest run
echo "frontend: build"
npx --no-install vite build --logLevel warn
echo "frontend: built $(du -sh dist | cut -f1) into frontend/dist"
