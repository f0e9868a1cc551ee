#!/usr/bin/env bash
# Runs every fuzz target for a short fixed time (FUZZTIME, default 10s each),
# as CI does. A failure leaves the input that found it under the package's
# testdata/fuzz/<Target>/: commit it, and plain `go test` replays it as a
# regression case from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10s}"
targets=(
  "./contract FuzzSelectRoute"   # route selection: any frame picks one of the API's routes
  "./lambda/chat FuzzHandle"     # frame decoding and validation through the real handler
  "./internal/load FuzzParseFrame"  # the load tool's reading of server frames
)
scripts/deps.sh # dynalite, which FuzzHandle runs against
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "fuzz: $name in $pkg for $fuzztime"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
done
echo "fuzz: ok"
