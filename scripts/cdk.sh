#!/usr/bin/env bash
# Runs the pinned AWS CDK CLI (infra/_cli/package-lock.json) on the Go app in infra/.
#   cdk.sh synth [ENV]   synthesizes EVERY environment in cdk.json into cdk.out (ENV is ignored)
#   cdk.sh bootstrap ENV  prepares ENV's account and region for deploys (once)
#   cdk.sh diff ENV      compares one environment's stack with what is deployed
#   cdk.sh deploy ENV    deploys one environment's stack (needs AWS credentials)
# synth works offline and without AWS credentials.
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" # at least the Go release go.mod's toolchain line pins
cd "$(dirname "$0")/.."
cmd="${1:?usage: cdk.sh synth|bootstrap|diff|deploy [ENV]}"
env="${2:-dev}"

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
export CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=1
export GOFLAGS=-buildvcs=false
# Install the CLI when its lockfile changed since the last install.
stamp=infra/_cli/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ infra/_cli/package-lock.json -nt "$stamp" ]; then
  npm ci --prefix infra/_cli --no-audit --no-fund --loglevel=error
fi
cdk=(infra/_cli/node_modules/.bin/cdk --no-notices)

case "$cmd" in
  synth)
    # No credentials are needed: do not let the SDK probe the EC2 metadata service.
    AWS_EC2_METADATA_DISABLED=true "${cdk[@]}" synth --quiet
    echo "synth: $(ls cdk.out/*.template.json | xargs -n1 basename | tr '\n' ' ')"
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
    # The repository's cdk.json ships example values; refuse to deploy them.
    node -e '
      const [env] = process.argv.slice(1);
      const c = require("./cdk.json").context.groupchat[env] || {};
      const bad = Object.entries({ amplifyRepository: /\/groupchat\/groupchat$/, alarmEmail: /@example\.com$/ })
        .filter(([k, re]) => re.test(c[k] || "")).map(([k]) => k);
      if (bad.length) {
        console.error(`cdk.sh: in cdk.json, ${bad.map((k) => env + "." + k).join(" and ")} still has the example value; set yours before deploying`);
        process.exit(1);
      }' "$env"
    "${cdk[@]}" deploy -c env="$env" "GroupChat-$env" --require-approval broadening
    ;;
  *)
    echo "cdk.sh: unknown command $cmd (want synth, bootstrap, diff or deploy)" >&2
    exit 2
    ;;
esac
