#!/usr/bin/env bash
# Big rooms (issue 13, docs/benchmarks.md "Big rooms"): cmd/load fills ONE room of ROOM members through
# cmd/local (the stack `make dev` runs), then sends BROADCASTS public messages to it one at a time. It
# prints what filling the room cost (frames delivered, seconds), each broadcast's latency to every member
# (p50, p99, the last delivery), the handler's own durations ($connect, sendPublic) and the load average.
# Usage: scripts/bigroom.sh [ROOM]        (default 1000)
#   LATENCY=20ms      management API latency injected by the stand-in (default 0s)
#   BROADCASTS=3      broadcasts after the fill
#   TREE=dir          build cmd/local from another checkout (the code before a change); cmd/load is always this one
#   TIMEOUT=30m       end the load run after this long whatever its phase (a fill that costs N² may not finish)
#   CONCURRENCY=32    handshakes in flight
# BENCH_OUT (default bin/bench/) keeps the JSON result, the summary and the stack's log.
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
cd "$(dirname "$0")/.."
room="${1:-1000}"
latency="${LATENCY:-0s}"
broadcasts="${BROADCASTS:-3}"
tree="${TREE:-.}"
out="${BENCH_OUT:-bin/bench}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
tag="bigroom-$room-$latency"
[ "$tree" = . ] || tag="$tag-$(basename "$tree")"
(cd "$tree" && go build -o "$out/local-$tag" ./cmd/local)
go build -o "$out/load" ./cmd/load
load_avg() { echo "bigroom: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"; }
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ulimit -n "$(ulimit -Hn)"
# setsid: the stack and its dynalite get a process group of their own, so the cleanup ends exactly them.
setsid "$out/local-$tag" -port "$port" -static /nonexistent -fault-latency "$latency" >"$out/$tag.log" 2>&1 </dev/null &
pid=$!
trap 'kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  curl -fsS "http://127.0.0.1:$port/config.json" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "bigroom: the local stack exited; see $out/$tag.log" >&2; exit 1; }
  sleep 0.2
done
load_avg
cmd=("$out/load" -url "ws://127.0.0.1:$port/local" -clients "$room" -room-size "$room" -broadcasts "$broadcasts"
  -connect-concurrency "${CONCURRENCY:-32}" -settle 2s -drain 60s -timeout "${TIMEOUT:-30m}" -json "$out/$tag.json")
echo "bigroom: ${cmd[*]}   (against: $out/local-$tag -fault-latency $latency, built from $tree)"
start=$(date +%s)
"${cmd[@]}" 2>"$out/$tag.progress" | tee "$out/$tag.txt" || echo "bigroom: the load run exited $?"
echo "bigroom: the run took $(( $(date +%s) - start ))s; last progress: $(tail -n 1 "$out/$tag.progress")"
load_avg
# The handler's durations, from the stack's log ("<route> 200 in 12.3ms").
durations() {
  grep -F " $1 200 in " "$out/$tag.log" | sed -E 's/.* in ([0-9.]+)(µs|ms|s)[ ,].*/\1 \2/' |
    awk '{ v = $1; if ($2 == "s") v *= 1000; if ($2 == "µs") v /= 1000; print v }' | sort -n |
    awk -v r="$1" '{ a[NR] = $1 } END { if (NR) printf "bigroom: handler %s: %d invocations, p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", r, NR, a[int(NR*0.5+0.5)], a[int(NR*0.99+0.5)], a[NR] }'
}
durations '$connect'
durations sendPublic
