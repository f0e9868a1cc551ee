#!/usr/bin/env bash
# How long the page takes to reconnect once the server answers again after an
# outage (docs/frontend.md, "Reconnect"). Builds the page and cmd/local, then
# frontend/scripts/outage.mjs joins PAGES pages in headless Chromium, kills the
# local stack for OUTAGE seconds, starts it again and prints, per page, the
# seconds from the stack answering to the page being back in its room.
#   scripts/reconnect-bench.sh [OUTAGE_SECONDS=49] [PAGES=8]
# Not part of make test: it takes about a minute and a half by design.
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/deps.sh
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd frontend && npx --no-install vite build --logLevel warn)
go build -o "$work/local" ./cmd/local
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
(cd frontend && node scripts/outage.mjs "$work/local" "${1:-49}" "${2:-8}")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
