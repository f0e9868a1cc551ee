#!/usr/bin/env bash
# Reproduces a loaded CI machine: runs make test (or the command given after
# N) N times in a row, default 5, in one clean clone of HEAD, while a busy loop
# keeps every core busy (stress-ng --cpu when installed, else a Go busy loop,
# one spinning goroutine per core, at the tests' own priority). Prints each
# run's result and time, then a summary; exits non-zero when any run failed.
# The clone and every run's log are in a temporary directory, kept (and
# named) when a run failed.
#   scripts/test-loaded.sh 5
#   scripts/test-loaded.sh 3 scripts/test-e2e.sh e2e/layout.e2e.ts
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" # at least the Go release go.mod's toolchain line pins
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-5}"
shift || true
cmd=("$@")
[ ${#cmd[@]} -gt 0 ] || cmd=(make test)
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/test-loaded.sh [N] [command...]" >&2; exit 2; }

work="$(mktemp -d)"
busy=""
failed=0
cleanup() {
  if [ -n "$busy" ]; then kill -- "-$busy" 2>/dev/null || true; fi
  if [ "$failed" -eq 0 ]; then rm -rf "$work"; else echo "test-loaded: logs and the clone kept in $work" >&2; fi
}
trap cleanup EXIT

rev="$(git -C "$root" rev-parse HEAD)"
git clone -q --no-hardlinks "$root" "$work/clone"
git -C "$work/clone" checkout -q "$rev"

cores="$(nproc)"
if command -v stress-ng >/dev/null; then
  load="stress-ng --cpu $cores"
  setsid stress-ng --cpu "$cores" --quiet </dev/null >/dev/null 2>&1 &
else
  load="a Go busy loop on $cores cores"
  mkdir -p "$work/busy"
  cat >"$work/busy/main.go" <<'GO'
// A busy loop: one spinning goroutine per core until killed.
package main

import "runtime"

func main() {
	for range runtime.NumCPU() {
		go func() {
			for n := 0; ; n++ {
			}
		}()
	}
	select {}
}
GO
  (cd "$work/busy" && go mod init busy >/dev/null 2>&1 && go build -o busy .)
  setsid "$work/busy/busy" </dev/null >/dev/null 2>&1 &
fi
busy=$!
echo "test-loaded: $runs × '${cmd[*]}' on a clean clone of $rev, while $load (pid $busy)"

results=()
for i in $(seq "$runs"); do
  start=$SECONDS
  if (cd "$work/clone" && "${cmd[@]}") >"$work/run-$i.log" 2>&1; then
    r="pass"
  else
    r="FAIL"
    failed=$((failed + 1))
  fi
  line="run $i: $r in $((SECONDS - start))s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  [ "$r" = pass ] || line="$line, log $work/run-$i.log"
  echo "test-loaded: $line"
  results+=("$line")
done
echo
echo "test-loaded: $((runs - failed)) of $runs runs passed under $load:"
printf '  %s\n' "${results[@]}"
[ "$failed" -eq 0 ]
