#!/usr/bin/env bash
# Tests of make dev's script (scripts/dev.sh), offline and in a second: a copy
# of it beside a fake `go` (its builds write a bin/local that prints what it
# was started with) and a fake scripts/build-lambda.sh that records its call.
# Without LAMBDA the function runs in execution environments (LAMBDA=env, the
# bootstrap built for this machine first); LAMBDA=inprocess opts out and
# builds no bootstrap. Run by scripts/test-scripts.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

tree="$tmp/tree"
mkdir -p "$tree/scripts" "$tmp/bin"
cp scripts/dev.sh "$tree/scripts/"
cat >"$tree/scripts/build-lambda.sh" <<'SH'
#!/usr/bin/env bash
echo "build-lambda.sh $* LAMBDA_GOARCH=$LAMBDA_GOARCH" >>"$DEV_TEST_LOG"
SH
cat >"$tmp/bin/go" <<'SH'
#!/usr/bin/env bash
# go env GOARCH, or go build -o OUT PKG: OUT prints how it was started.
case "$1" in
  env) echo testarch ;;
  build)
    printf '#!/usr/bin/env bash\necho "bin/local LAMBDA=$LAMBDA AUTH=$AUTH args=$*"\n' >"$3"
    chmod +x "$3" ;;
  *) echo "fake go: $*" >&2; exit 2 ;;
esac
SH
chmod +x "$tree/scripts/build-lambda.sh" "$tmp/bin/go"

# dev LOG [VAR=VALUE...]: runs the copy of dev.sh with a clean LAMBDA and AUTH.
dev() {
  local log="$1"
  shift
  : >"$log.builds"
  env -u LAMBDA -u AUTH PATH="$tmp/bin:$PATH" DEV_TEST_LOG="$log.builds" "$@" "$tree/scripts/dev.sh" -port 9000 >"$log" 2>&1
}

if dev "$tmp/default"; then
  grep -qF "bin/local LAMBDA=env AUTH=cognito args=-port 9000" "$tmp/default" &&
    pass "make dev runs the function in execution environments by default (LAMBDA=env), with sign-in" ||
    fail "make dev without LAMBDA started: $(cat "$tmp/default")"
  grep -qF "build-lambda.sh bin/lambda-host LAMBDA_GOARCH=testarch" "$tmp/default.builds" &&
    pass "make dev builds the bootstrap for this machine into bin/lambda-host first" ||
    fail "make dev built: $(cat "$tmp/default.builds")"
else
  fail "dev.sh failed: $(cat "$tmp/default")"
fi

if dev "$tmp/inprocess" LAMBDA=inprocess; then
  grep -qF "bin/local LAMBDA=inprocess" "$tmp/inprocess" &&
    pass "LAMBDA=inprocess runs the handler in bin/local's process" ||
    fail "LAMBDA=inprocess started: $(cat "$tmp/inprocess")"
  [ ! -s "$tmp/inprocess.builds" ] && pass "LAMBDA=inprocess builds no bootstrap" ||
    fail "LAMBDA=inprocess built: $(cat "$tmp/inprocess.builds")"
else
  fail "dev.sh LAMBDA=inprocess failed: $(cat "$tmp/inprocess")"
fi

if [ "$failures" -gt 0 ]; then
  echo "test-dev: $failures failed" >&2
  exit 1
fi
echo "test-dev: ok"
