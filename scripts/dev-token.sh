#!/usr/bin/env bash
# Prints an ID token of a test account (alice, bob, carol; mod, a moderator) of the running
# `make dev` started with -auth cognito (AUTH=cognito), for a WebSocket
# client or a test by hand:
#   websocat "ws://127.0.0.1:8080/local?name=Alice&room=lobby&token=$(scripts/dev-token.sh alice)"
# It asks the local stack on 127.0.0.1:$PORT (default 8080), which signs the
# account in at its local issuer (GET /_local/token; docs/local.md). Local
# only: the local issuer's tokens open nothing deployed.
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  echo "usage: [PORT=8080] scripts/dev-token.sh alice|bob|carol|mod" >&2
  exit 2
fi
url="http://127.0.0.1:${PORT:-8080}/_local/token?user=$(printf %s "$1" | od -An -tx1 -v | tr -d ' \n' | sed 's/../%&/g')"
if command -v curl >/dev/null; then
  if ! out=$(curl -sS --max-time 30 -w '\n%{http_code}' "$url"); then
    echo "dev-token: is make dev running (with AUTH=cognito) on port ${PORT:-8080}?" >&2
    exit 1
  fi
  code=${out##*$'\n'}
  body=${out%$'\n'*}
else
  # Node.js is there wherever make dev runs.
  out=$(node -e 'fetch(process.argv[1]).then(async r => process.stdout.write((await r.text()).trim() + "\n" + r.status), e => { console.error(e.cause?.message ?? e.message); process.exit(1) })' "$url") || {
    echo "dev-token: is make dev running (with AUTH=cognito) on port ${PORT:-8080}?" >&2
    exit 1
  }
  code=${out##*$'\n'}
  body=${out%$'\n'*}
fi
body=${body%$'\n'}
if [ "$code" != 200 ]; then
  echo "dev-token: $body" >&2
  exit 1
fi
printf '%s\n' "$body"
