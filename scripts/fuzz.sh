#!/usr/bin/env bash
# Runs every fuzz target for a fixed number of executions, as CI does.
#
# Budgets are counts ("Nx"), not durations: with a duration, Go 1.26's fuzz
# coordinator can report its own deadline as a failure ("context deadline
# exceeded", no failing input written) when the machine is busy at the moment
# the time runs out (Go issue 75804, fixed in Go 1.27). A count has no
# deadline, so a slow machine only takes longer. Each budget is about 8-10 s of
# fuzzing on a 2-core machine. FUZZTIME overrides every budget (e.g. 5m, 1000000x).
#
# A real failure leaves the input that found it under the package's
# testdata/fuzz/<Target>/: commit it, and plain `go test` replays it as a
# regression case from then on.
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" # at least the Go release go.mod's toolchain line pins
cd "$(dirname "$0")/.."
targets=(
  "./contract FuzzSelectRoute 250000x"       # route selection: any frame picks one of the API's routes
  "./lambda/chat FuzzHandle 40000x"          # frame decoding and validation through the real handler
  "./internal/load FuzzParseFrame 60000x"    # the load tool's reading of server frames
)
scripts/deps.sh # dynalite, which FuzzHandle runs against
for t in "${targets[@]}"; do
  read -r pkg name budget <<<"$t"
  budget="${FUZZTIME:-$budget}"
  echo "fuzz: $name in $pkg, budget $budget"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$budget" "$pkg"
done
echo "fuzz: ok"
