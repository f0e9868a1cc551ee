#!/usr/bin/env bash
# The infrastructure's template checks: synthesize every environment into
# cdk.out (cdk-nag runs as an aspect and fails the synth on any unsuppressed
# finding), then cfn-lint with the cfn-lint-serverless rules and checkov over
# every template. Accepted findings are skipped per resource in the template
# metadata, each with its reason (infra/stack/findings.go), so any finding
# reported here is new and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

# The linters, pinned, in a project-local virtual environment; reinstalled
# when the requirements file changed.
venv=.venv
stamp="$venv/.requirements-lint.txt"
if [ ! -x "$venv/bin/cfn-lint" ] || ! cmp -s infra/requirements-lint.txt "$stamp"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r infra/requirements-lint.txt
  cp infra/requirements-lint.txt "$stamp"
fi

scripts/cdk.sh synth
templates=(cdk.out/*.template.json)
[ "${#templates[@]}" -ge 2 ] || { echo "test-infra: expected a template per environment, found ${templates[*]}" >&2; exit 1; }

echo "cfn-lint (+ serverless rules): ${templates[*]}"
"$venv/bin/cfn-lint" --append-rules cfn_lint_serverless.rules -- "${templates[@]}"

echo "checkov: ${templates[*]}"
files=()
for t in "${templates[@]}"; do files+=(-f "$t"); done
# --skip-download: offline, no platform lookups; soft-fail is never set.
BC_SKIP_MAPPING=TRUE "$venv/bin/checkov" --quiet --compact --skip-download --framework cloudformation "${files[@]}"
echo "test-infra: ok"
