#!/usr/bin/env bash
# Operators without a page (docs/auth.md, "Operators"): sends the function an
# operator event with `aws lambda invoke`. IAM decides who may: the caller
# needs lambda:InvokeFunction on the function (and, for delete-account,
# cognito-idp:AdminDeleteUser on the pool). The function's name and the user
# pool come from the stack's outputs (FunctionName, UserPoolId).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/admin.sh (--env dev|prod | --local ENDPOINT) COMMAND [OPTIONS]

  --env dev|prod     the deployed stack GroupChat-<env> (its outputs name the function and the user pool)
  --local ENDPOINT   the local stack's Lambda endpoint, as `make dev` prints it (function "groupchat")

commands (an account is --username NAME or --account SUB, its Cognito sub):
  close-connections  ACCOUNT [--reason TEXT]                close every connection of the account
  remove-message     --room ROOM --message ID [--reason TEXT]  remove a public message (recorded by operator)
  delete-account     --username NAME [--account SUB] [--reason TEXT] [--keep-sign-in]
                     delete the account in the chat (its names released, its connections closed), then its
                     Cognito user (not with --keep-sign-in, nor --local). Run it again with --account to
                     finish a deletion whose first run failed
  ban                ACCOUNT [--room ROOM] [--until ISO-8601] [--reason TEXT]
                     refuse the account in the room (without --room: everywhere), until the time or lifted
  unban              ACCOUNT [--room ROOM] [--reason TEXT]     lift a ban

It prints the function's answer (JSON) and exits 0 when it has a "result", 1 when it has an "error"
(its code: docs/auth.md), 2 for a usage error, 3 when the invocation itself failed.
EOF
}

die() { echo "admin.sh: $*" >&2; exit 2; }

env_name="" endpoint="" cmd="" username="" account="" room="" message="" reason="" until="" keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --env) env_name="${2:-}"; shift 2 || die "--env needs dev or prod" ;;
    --local) endpoint="${2:-}"; shift 2 || die "--local needs the endpoint" ;;
    --username) username="${2:-}"; shift 2 || die "--username needs a value" ;;
    --account) account="${2:-}"; shift 2 || die "--account needs a value" ;;
    --room) room="${2:-}"; shift 2 || die "--room needs a value" ;;
    --message) message="${2:-}"; shift 2 || die "--message needs a value" ;;
    --reason) reason="${2:-}"; shift 2 || die "--reason needs a value" ;;
    --until) until="${2:-}"; shift 2 || die "--until needs a time" ;;
    --keep-sign-in) keep=1; shift ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) [ -z "$cmd" ] || die "one command at a time ($cmd, $1)"; cmd="$1"; shift ;;
  esac
done
[ -n "$cmd" ] || { usage >&2; exit 2; }
if [ -n "$env_name" ] && [ -n "$endpoint" ]; then die "--env or --local, not both"; fi
case "$env_name" in
  dev|prod|"") ;;
  *) die "--env is dev or prod, not $env_name" ;;
esac
[ -n "$env_name$endpoint" ] || die "say which stack: --env dev|prod or --local ENDPOINT"

needs_account() { [ -n "$username$account" ] || die "$cmd needs --username or --account"; }
case "$cmd" in
  close-connections) op=closeConnections; needs_account ;;
  remove-message) op=removeMessage; [ -n "$room" ] && [ -n "$message" ] || die "remove-message needs --room and --message" ;;
  delete-account) op=deleteAccount; [ -n "$username" ] || die "delete-account needs --username (its reservation is released)" ;;
  ban) op=ban; needs_account ;;
  unban) op=unban; needs_account ;;
  *) usage >&2; die "unknown command $cmd" ;;
esac
until_ms=""
if [ -n "$until" ]; then
  until_ms="$(node -e 'const t = Date.parse(process.argv[1]); if (isNaN(t)) process.exit(1); console.log(t)' "$until")" ||
    die "--until is not a time: $until (ISO 8601, e.g. 2027-01-31T12:00:00Z)"
fi

# The event: {"groupchatOperator": {op, …}}, built by JSON.stringify so any
# reason or name is quoted as JSON (contract.OperatorRequest).
payload="$(node -e '
  const [op, username, account, room, message, reason, until] = process.argv.slice(1);
  const req = { op };
  for (const [k, v] of Object.entries({ username, account, room, message, reason })) if (v) req[k] = v;
  if (until) req.until = Number(until);
  process.stdout.write(JSON.stringify({ groupchatOperator: req }));
' "$op" "$username" "$account" "$room" "$message" "$reason" "$until_ms")"

aws_args=()
if [ -n "$endpoint" ]; then
  fn=groupchat
  aws_args=(--endpoint-url "$endpoint")
  # The local endpoint checks no signature, but the CLI signs: any key does.
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
else
  stack="GroupChat-$env_name"
  output() {
    aws cloudformation describe-stacks --stack-name "$stack" \
      --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
  }
  fn="$(output FunctionName)" || { echo "admin.sh: could not read $stack's outputs" >&2; exit 3; }
  [ -n "$fn" ] && [ "$fn" != None ] || { echo "admin.sh: $stack has no FunctionName output" >&2; exit 3; }
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# fileb:// sends the file's bytes as they are, with the AWS CLI v1 and v2
# alike (v2 would read an inline --payload as base64).
printf '%s' "$payload" >"$tmp/event.json"
if ! aws "${aws_args[@]}" lambda invoke --function-name "$fn" --payload "fileb://$tmp/event.json" \
  "$tmp/answer" >"$tmp/status"; then
  echo "admin.sh: the invocation of $fn failed" >&2
  exit 3
fi
if grep -q FunctionError "$tmp/status"; then
  echo "admin.sh: $fn answered with a function error:" >&2
  cat "$tmp/answer" >&2
  echo >&2
  exit 3
fi
cat "$tmp/answer"
echo
result="$(node -e '
  const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(a.error ? "error " + a.error : "result " + (a.result || ""));
' "$tmp/answer")" || { echo "admin.sh: the answer is not JSON" >&2; exit 3; }
case "$result" in
  error*) exit 1 ;;
esac

if [ "$op" = deleteAccount ]; then
  if [ -n "$keep" ]; then
    echo "admin.sh: the Cognito user $username is kept (--keep-sign-in); it can no longer connect" >&2
  elif [ -n "$endpoint" ]; then
    echo "admin.sh: local stack: the local issuer's user $username is kept" >&2
  else
    pool="$(output UserPoolId)"
    if [ -z "$pool" ] || [ "$pool" = None ]; then
      echo "admin.sh: $stack has no user pool: nothing more to delete" >&2
    elif aws cognito-idp admin-delete-user --user-pool-id "$pool" --username "$username"; then
      echo "admin.sh: deleted the Cognito user $username" >&2
    else
      echo "admin.sh: the chat account is deleted, but the Cognito user $username was not: delete it (aws cognito-idp admin-delete-user --user-pool-id $pool --username $username)" >&2
      exit 3
    fi
  fi
fi
