#!/usr/bin/env bash
# Tests of scripts/admin.sh, offline and in seconds: with the fake AWS CLI
# (scripts/fakes/aws) alone on PATH, each command builds the right `aws
# lambda invoke` (the stack's FunctionName output, the operator event as
# contract.OperatorRequest spells it), reads the answer's result or error,
# and delete-account then deletes the Cognito user of the pool output.
# scripts/test-scripts.sh runs it; it runs alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

mkdir -p "$tmp/bin"
cp scripts/fakes/aws "$tmp/bin/aws"
ln -s "$(command -v node)" "$tmp/bin/node"
for tool in bash cat cp grep mktemp rm env; do ln -s "$(command -v "$tool")" "$tmp/bin/$tool"; done
export FAKE_AWS="$tmp/account"
fresh() {
  rm -rf "$FAKE_AWS"
  mkdir -p "$FAKE_AWS/stacks" "$FAKE_AWS/outputs"
  echo 111111111111 >"$FAKE_AWS/account"
  echo CREATE_COMPLETE >"$FAKE_AWS/stacks/GroupChat-dev"
  echo GroupChat-dev-Handler-AbC >"$FAKE_AWS/outputs/GroupChat-dev.FunctionName"
  echo eu-west-1_Pool >"$FAKE_AWS/outputs/GroupChat-dev.UserPoolId"
}
# admin ARGS…: runs admin.sh with only the fake CLI on PATH; rc, out.
admin() { set +e; env -i PATH="$tmp/bin" HOME="$tmp" FAKE_AWS="$FAKE_AWS" bash scripts/admin.sh "$@" >"$tmp/out" 2>&1; rc=$?; set -e; }
# invoked WANT WHAT: the last invoke's endpoint, function and payload.
invoked() {
  local got
  got="$(tail -n 1 "$FAKE_AWS/invocations" 2>/dev/null || true)"
  if [ "$got" = "$1" ]; then pass "$2"; else fail "$2: invoked \"$got\", want \"$1\""; sed 's/^/    /' "$tmp/out" >&2; fi
}
tab=$'\t'
fn="-${tab}GroupChat-dev-Handler-AbC${tab}"

fresh
admin --env dev close-connections --username alice --reason 'spam "links"'
invoked "$fn{\"groupchatOperator\":{\"op\":\"closeConnections\",\"username\":\"alice\",\"reason\":\"spam \\\"links\\\"\"}}" \
  "close-connections: the function of the FunctionName output, the reason quoted as JSON"
[ "$rc" = 0 ] && grep -q '"result":"done"' "$tmp/out" && pass "a done answer is printed, exit 0" || fail "exit $rc: $(cat "$tmp/out")"

admin --env dev close-connections --account 0b5e-sub
invoked "$fn{\"groupchatOperator\":{\"op\":\"closeConnections\",\"account\":\"0b5e-sub\"}}" "close-connections by account"

admin --env dev remove-message --room lobby --message 01J0000000000000000000000A --reason spam
invoked "$fn{\"groupchatOperator\":{\"op\":\"removeMessage\",\"room\":\"lobby\",\"message\":\"01J0000000000000000000000A\",\"reason\":\"spam\"}}" \
  "remove-message: room, message and reason"

admin --env dev ban --username mallory --until 2027-01-31T12:00:00Z --reason abuse
invoked "$fn{\"groupchatOperator\":{\"op\":\"ban\",\"username\":\"mallory\",\"reason\":\"abuse\",\"until\":1801396800000}}" \
  "ban: --until as milliseconds since the epoch"
admin --env dev unban --account s-1 --room lobby
invoked "$fn{\"groupchatOperator\":{\"op\":\"unban\",\"account\":\"s-1\",\"room\":\"lobby\"}}" "unban from a room"

: >"$FAKE_AWS/calls"
admin --env dev delete-account --username dave --reason 'asked by e-mail'
invoked "$fn{\"groupchatOperator\":{\"op\":\"deleteAccount\",\"username\":\"dave\",\"reason\":\"asked by e-mail\"}}" "delete-account"
if [ "$rc" = 0 ] && grep -qx "cognito-idp admin-delete-user --user-pool-id eu-west-1_Pool --username dave" "$FAKE_AWS/calls"; then
  pass "delete-account then deletes the Cognito user of the UserPoolId output"
else
  fail "delete-account (exit $rc) did not delete the Cognito user: $(cat "$FAKE_AWS/calls")"
fi

: >"$FAKE_AWS/calls"
printf '{"op":"deleteAccount","error":"not_found","message":"No account holds the username"}' >"$FAKE_AWS/invoke-answer"
admin --env dev delete-account --username nobody
if [ "$rc" = 1 ] && ! grep -q admin-delete-user "$FAKE_AWS/calls" && grep -q not_found "$tmp/out"; then
  pass "an error answer exits 1 and deletes no Cognito user"
else
  fail "error answer: exit $rc, calls $(cat "$FAKE_AWS/calls")"
fi
rm "$FAKE_AWS/invoke-answer"

: >"$FAKE_AWS/calls"
admin --env dev delete-account --username dave --keep-sign-in
[ "$rc" = 0 ] && ! grep -q admin-delete-user "$FAKE_AWS/calls" && pass "--keep-sign-in keeps the Cognito user" || fail "--keep-sign-in: exit $rc, $(cat "$FAKE_AWS/calls")"

admin --local http://127.0.0.1:4555 close-connections --username alice
invoked "http://127.0.0.1:4555${tab}groupchat${tab}{\"groupchatOperator\":{\"op\":\"closeConnections\",\"username\":\"alice\"}}" \
  "--local: the local endpoint and its function groupchat, no stack read"

fresh
rm "$FAKE_AWS/outputs/GroupChat-dev.FunctionName"
admin --env dev close-connections --username alice
[ "$rc" = 3 ] && grep -q "no FunctionName output" "$tmp/out" && ! [ -s "$FAKE_AWS/invocations" ] && pass "a stack without the output: exit 3, nothing invoked" ||
  fail "no output: exit $rc: $(cat "$tmp/out")"
admin --env staging close-connections --username alice
[ "$rc" = 2 ] && grep -q "dev or prod" "$tmp/out" && pass "--env is dev or prod" || fail "--env staging: exit $rc"
for bad in "--env dev" "--env dev remove-message --room lobby" "--env dev delete-account --account s" "--env dev frobnicate" "close-connections --username a"; do
  # shellcheck disable=SC2086 # the words are the arguments
  admin $bad
  [ "$rc" = 2 ] && ! [ -s "$FAKE_AWS/invocations" ] && pass "usage error: admin.sh $bad" || fail "admin.sh $bad: exit $rc, invoked $(cat "$FAKE_AWS/invocations" 2>/dev/null)"
done
admin --help
[ "$rc" = 0 ] && grep -q "usage: scripts/admin.sh" "$tmp/out" && pass "--help prints the usage" || fail "--help: exit $rc"

[ "$failures" = 0 ] || { echo "$failures admin.sh checks failed" >&2; exit 1; }
echo "admin.sh: every check passed"
cd "$root"
