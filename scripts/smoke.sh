#!/usr/bin/env bash
# The smoke test of a deployed environment (cmd/smoke, internal/smoke): two
# temporary accounts in its user pool sign in, connect, exchange a public and
# a private message, a client without a token must be refused, and the page's
# config.json must name the stack's WebSocket URL; then the accounts are
# deleted. Each step is printed with its time.
#   smoke.sh ENV [FLAGS]   ENV dev|prod: the stack GroupChat-ENV, with the AWS
#                          credentials and region of the environment (AWS_PROFILE,
#                          AWS_REGION), as the CDK CLI uses them; the
#                          environment's region in cdk.json wins
#   smoke.sh local [FLAGS] a running `make dev` (PORT, default 8080)
# FLAGS go to cmd/smoke (go run ./cmd/smoke -h). SMOKE_ACCOUNTS=user:pw,user:pw
# signs in as two existing accounts instead (neither made nor deleted).
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" GOFLAGS=-buildvcs=false
cd "$(dirname "$0")/.."
env="${1:?usage: smoke.sh ENV|local [FLAGS]}"
shift
case "$env" in
  local) exec go run ./cmd/smoke -local "http://127.0.0.1:${PORT:-8080}/" "$@" ;;
  *)
    # A region in cdk.json is where make deploy put the stack, whatever
    # AWS_REGION or the profile says: read its outputs there.
    region="$(node -e 'const e = ((JSON.parse(require("fs").readFileSync("cdk.json", "utf8")).context || {}).groupchat || {})[process.argv[1]] || {}; process.stdout.write(e.region || "")' "$env")"
    # Else the CDK CLI's order: AWS_REGION, AWS_DEFAULT_REGION, the profile's,
    # the default profile's (which the SDK here does not read), us-east-1.
    if [ -z "$region" ] && [ -z "${AWS_REGION:-}${AWS_DEFAULT_REGION:-}" ] && command -v aws >/dev/null; then
      region="$(aws configure get region 2>/dev/null || aws configure get region --profile default 2>/dev/null || echo us-east-1)"
    fi
    if [ -n "$region" ]; then export AWS_REGION="$region" AWS_DEFAULT_REGION="$region"; fi
    exec go run ./cmd/smoke -stack "GroupChat-$env" "$@"
    ;;
esac
