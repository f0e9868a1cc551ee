#!/usr/bin/env bash
# Browser end-to-end tests: builds the page, starts the local stack
# (cmd/local, with its own dynalite) on a free port, drives Debian's Chromium
# headless through playwright-core against it (frontend/e2e/), then stops the
# stack's whole process group. Every stack's DynamoDB is as unkind as AWS's
# (docs/local.md): the room index and eventually consistent reads lag 100 ms
# behind the table, and transactions conflict. Both sign-in
# modes run: the open chat (-auth none) and sign-in through the local issuer
# (-auth cognito: cognito-local with the test accounts, the $connect authorizer).
#
# Chromium: CHROMIUM_PATH, default /usr/bin/chromium. In CI (CI=true) a missing
# Chromium is installed with apt-get; anywhere else the script says what to
# install and fails. The tests never skip.
# GROUPCHAT_UPDATE_SCREENSHOT=1 rewrites docs/screenshot.png (and the phone and
# dark-mode pictures in docs/, and the dashboard's, docs/observability.png) from the run.
# The function runs as Lambda runs it (LAMBDA=env, the default): the deployed
# binary, built once for the whole suite, in execution environments held to
# 512 MB's CPU share where cgroups are permitted. LAMBDA=inprocess runs every
# stack with the handler in its own process instead (docs/local.md).
# Arguments, if any, name the test files to run (e.g. e2e/layout.e2e.ts); only
# the stacks those files need are started.
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" # at least the Go release go.mod's toolchain line pins
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"

if [ ! -x "$chromium" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "test-e2e: $chromium is missing; installing Debian's chromium"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    [ -x "$chromium" ] || { echo "test-e2e: FAILED: chromium installed but $chromium is still missing" >&2; exit 1; }
  else
    cat >&2 <<EOF
test-e2e: the browser tests need Chromium at $chromium.
  Debian/Ubuntu:  sudo apt-get install chromium
  or point CHROMIUM_PATH at a Chromium or Chrome binary.
EOF
    exit 1
  fi
fi
command -v node >/dev/null || { echo "test-e2e: Node.js 20.19 or later is required" >&2; exit 1; }
command -v go >/dev/null || { echo "test-e2e: Go is required (the local stack is Go)" >&2; exit 1; }
[ -d cmd/local ] || { echo "test-e2e: FAILED: cmd/local (the local stack) is missing" >&2; exit 1; }

scripts/deps.sh # dynalite, which the local stack runs
cd frontend
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "test-e2e: building the page"
npx --no-install vite build --logLevel warn
cd "$root"

work="$(mktemp -d)"
pid=""
# stop_stack ends the running stack's whole process group: TERM, then KILL.
stop_stack() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  pid=""
}
cleanup() {
  status=$?
  stop_stack
  if [ "$status" -ne 0 ] && [ -s "$work/local.log" ]; then
    echo "--- local stack log (last 40 lines) ---" >&2
    tail -n 40 "$work/local.log" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# start_stack ARGS... starts the local stack on a free port and waits until it
# answers; it sets pid and base.
start_stack() {
  local port
  port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  # setsid gives the stack a process group of its own, so that stop_stack
  # ends all of it and nothing else.
  PORT="$port" setsid "$work/local" "$@" </dev/null >"$work/local.log" 2>&1 &
  pid=$!
  base="http://127.0.0.1:$port"
  echo "test-e2e: local stack $* (pid $pid) at $base"
  node -e '
    const url = process.argv[1] + "/config.json", pid = Number(process.argv[2]);
    const deadline = Date.now() + 90_000;
    (async () => {
      for (;;) {
        try { process.kill(pid, 0); } catch { console.error("test-e2e: the local stack exited during start-up"); process.exit(1); }
        try { const r = await fetch(url); if (r.ok) return; } catch {}
        if (Date.now() > deadline) { console.error("test-e2e: the local stack did not answer " + url + " within 90 s"); process.exit(1); }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
  ' "$base" "$pid"
}

only=("$@")
# wanted FILE... says whether any of the files is to run (all when no arguments).
wanted() {
  [ ${#only[@]} -eq 0 ] && return 0
  local f o
  for f in "$@"; do for o in "${only[@]}"; do [ "${o#frontend/}" = "$f" ] && return 0; done; done
  return 1
}

# run_e2e FILE runs one browser test file against the running stack.
run_e2e() {
  wanted "$1" || return 0
  (cd frontend && GROUPCHAT_E2E_FRESH=1 GROUPCHAT_E2E_URL="$base" CHROMIUM_PATH="$chromium" \
    npx --no-install vitest run --config vitest.e2e.config.ts "$1")
}

echo "test-e2e: building the local stack and the load tool"
go build -o "$work/local" ./cmd/local
go build -o "$work/load" ./cmd/load
go build -o "$work/smoke" ./cmd/smoke
# Every stack reads LAMBDA and LAMBDA_BOOTSTRAP (cmd/local): one bootstrap
# for the suite, not one build per stack.
export LAMBDA="${LAMBDA:-env}"
if [ "$LAMBDA" = env ]; then
  LAMBDA_GOARCH="$(go env GOARCH)" scripts/build-lambda.sh "$work/lambda-host"
  export LAMBDA_BOOTSTRAP="$work/lambda-host/bootstrap"
fi
echo "test-e2e: the function runs with LAMBDA=$LAMBDA"
export GROUPCHAT_E2E_LOAD="$work/load" # e2e/bigroom.e2e.ts fills its room with it; e2e/dashboard.e2e.ts runs it

# DynamoDB as AWS answers (ddbproxy.AWSLike, cmd/local's defaults, spelled out):
# an eventually consistent room index (a state or a broadcast may miss whoever
# joined in the last 100 ms; the page's second hello heals its member list),
# stale eventually consistent reads, and transactions that conflict.
lag=(-fault-index-lag 100ms -fault-stale-reads 100ms -fault-transaction-conflicts)

# The open chat (no sign-in). The conversation: three people, public and
# private messages, renames, hostile names, a dropped connection, a leave.
# Then the page on a phone and a day's flow, in a room of its own.
if wanted e2e/chat.e2e.ts e2e/layout.e2e.ts e2e/a11y.e2e.ts e2e/reload.e2e.ts e2e/bigroom.e2e.ts e2e/scrollback.e2e.ts; then
  start_stack "${lag[@]}" -auth none
  run_e2e e2e/chat.e2e.ts
  run_e2e e2e/layout.e2e.ts
  run_e2e e2e/a11y.e2e.ts
  run_e2e e2e/reload.e2e.ts
  # A room of 300 filled by the load tool; the page finds one member by name.
  run_e2e e2e/bigroom.e2e.ts
  # A room of 500 messages from the load tool; the page scrolls back to its first.
  run_e2e e2e/scrollback.e2e.ts
  stop_stack
fi

# The same stack losing every $disconnect: reconnects rely on the resume token;
# clients that go are vanished ones, found by the next send (410), and every
# page's count and list come to the server's within the stated bound.
if wanted e2e/stale.e2e.ts e2e/converge.e2e.ts; then
  start_stack "${lag[@]}" -auth none -fault-drop-disconnect 1
  run_e2e e2e/stale.e2e.ts
  run_e2e e2e/converge.e2e.ts
  stop_stack
fi

# Sign-in: alice, bob and carol sign in through the page's form against the
# local issuer, chat, renew tokens across reconnects, sign out; an expired
# session and a tampered token end at the sign-in form. First, on the same
# stack, the operator's smoke test as `make smoke ENV=local` runs it (its
# target read from the page's config.json; internal/smoke's tests break it).
if wanted e2e/signin.e2e.ts; then
  start_stack "${lag[@]}" -auth cognito
  "$work/smoke" -local "$base/"
  run_e2e e2e/signin.e2e.ts
  stop_stack
fi

# Signing in again in band: the local issuer's tokens last 30 s; the page
# renews halfway and sends reauth on its open socket, and keeps its room.
if wanted e2e/reauth.e2e.ts; then
  start_stack "${lag[@]}" -auth cognito -auth-token-validity 30s
  run_e2e e2e/reauth.e2e.ts
  stop_stack
fi

# Moderation: alice, bob and mod (a member of the local issuer's moderators
# group) in a room; mod removes bob's message, alice her own, and every page
# shows the removals in place, a page that joins after them too. On the same
# stack, in a room of its own: bob edits his message, alice sees it edited;
# and dana (an account made for the test) deletes her account from her
# laptop: asked first, then her phone is closed, her name free, and her
# sign-in refused.
if wanted e2e/moderate.e2e.ts e2e/edit.e2e.ts e2e/deleteaccount.e2e.ts; then
  start_stack "${lag[@]}" -auth cognito
  run_e2e e2e/moderate.e2e.ts
  run_e2e e2e/edit.e2e.ts
  run_e2e e2e/deleteaccount.e2e.ts
  stop_stack
fi

# Mentions that notify: alice mentions bob (completed from the member list);
# bob's page, hidden, with notifications granted and turned on, is notified,
# counts in its title, and shows the divider on return.
if wanted e2e/mention.e2e.ts; then
  start_stack "${lag[@]}" -auth cognito
  run_e2e e2e/mention.e2e.ts
  stop_stack
fi

# The local dashboard: a 2-second metrics period (the deployed thresholds) and
# a management API failing 60% of its POSTs (the management client's retries get
# most through; about a third of the deliveries still fail); the test runs the load tool
# while it watches the widgets fill and FailedDeliveries fire and clear.
if wanted e2e/dashboard.e2e.ts; then
  start_stack -auth none -metrics-period 2s -fault-post-error 0.6
  run_e2e e2e/dashboard.e2e.ts
  stop_stack
fi

# Names that belong to accounts (a fresh stack: names are held across
# sessions): alice on a phone and a laptop, then bob refused her name, its
# look-alikes and carol's new name while they are signed out.
if wanted e2e/accounts.e2e.ts; then
  start_stack "${lag[@]}" -auth cognito
  run_e2e e2e/accounts.e2e.ts
  stop_stack
fi
echo "test-e2e: ok"
