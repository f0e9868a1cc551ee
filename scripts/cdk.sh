#!/usr/bin/env bash
# Runs the pinned AWS CDK CLI (the aws-cdk devDependency of the root package.json,
# the same one `npx cdk` runs there) on the Go app in infra/.
#   cdk.sh synth [ENV]       synthesizes EVERY environment in cdk.json into cdk.out (ENV is ignored)
#   cdk.sh synth-tree DIR    the same for the checkout at DIR (a worktree of another commit) into
#                            DIR/cdk.out, with this checkout's CLI (scripts/pr-summary.sh)
#   cdk.sh bootstrap ENV     prepares ENV's account and region for deploys (once)
#   cdk.sh diff ENV          compares one environment's stack with what is deployed
#   cdk.sh deploy ENV        checks ENV (scripts/preflight.sh), deploys its stack, then has
#                            Amplify build its page when the page lacks the deployed WebSocket URL
#                            (scripts/frontend-release.sh), then smoke-tests it (scripts/smoke.sh;
#                            SMOKE=0: not)
# APPROVAL (deploy): broadening (default: asks before IAM or security-group broadening, which
# needs a terminal), never (pipelines) or any-change; the CLI's --require-approval.
# synth works offline and without AWS credentials.
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" # at least the Go release go.mod's toolchain line pins
cd "$(dirname "$0")/.."
cmd="${1:?usage: cdk.sh synth|synth-tree|bootstrap|diff|deploy [ENV|DIR]}"
env="${2:-dev}"

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
export CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=1
export GOFLAGS=-buildvcs=false
scripts/deps.sh # installs the pinned CLI with the rest of the root lockfile
cdk=("$PWD/node_modules/.bin/cdk" --no-notices)

# Every command that talks to AWS first says, in one line, when there are no
# credentials (synth and synth-tree need none).
case "$cmd" in
  bootstrap | diff | deploy)
    . scripts/lib/aws-credentials.sh
    need_credentials "cdk.sh $cmd"
    ;;
esac

synth() {
  # No credentials are needed: do not let the SDK probe the EC2 metadata service.
  (cd "$1" && AWS_EC2_METADATA_DISABLED=true "${cdk[@]}" synth --quiet)
  echo "synth: $(cd "$1" && ls cdk.out/*.template.json | xargs -n1 basename | tr '\n' ' ')"
}

case "$cmd" in
  synth)
    synth .
    ;;
  synth-tree)
    [ -f "$2/cdk.json" ] || { echo "cdk.sh: synth-tree wants a checkout with a cdk.json, got ${2:-nothing}" >&2; exit 2; }
    synth "$2"
    ;;
  diff)
    "${cdk[@]}" diff -c env="$env" "GroupChat-$env"
    ;;
  bootstrap)
    # The CDK's asset bucket and deploy roles, once per account and region
    # (those of ENV's config, else of the current credentials).
    "${cdk[@]}" bootstrap -c env="$env"
    ;;
  deploy)
    approval="${APPROVAL:-broadening}"
    case "$approval" in
      broadening | never | any-change) ;;
      *) echo "cdk.sh: APPROVAL=$approval: want broadening (the default), never or any-change" >&2; exit 2 ;;
    esac
    # What the deploy depends on outside the repository (credentials, the
    # bootstrap, API Gateway's logging role, the token, the branch, cdk.json's
    # example values, quotas): checked before CloudFormation creates anything.
    scripts/preflight.sh "$env"
    stack="GroupChat-$env"
    outputs="cdk.out/$stack.outputs.json"
    rm -f "$outputs"
    "${cdk[@]}" deploy -c env="$env" "$stack" --require-approval "$approval" --outputs-file "$outputs"
    scripts/frontend-release.sh "$stack" "$outputs" "cdk.out/$stack.template.json"
    if [ "${SMOKE:-1}" != 0 ]; then
      # The page may be building: its check waits for it.
      scripts/smoke.sh "$env" -page-wait 10m
    fi
    ;;
  *)
    echo "cdk.sh: unknown command $cmd (want synth, synth-tree, bootstrap, diff or deploy)" >&2
    exit 2
    ;;
esac
