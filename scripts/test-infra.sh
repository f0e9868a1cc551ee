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

# Both linters run even when the first fails, so cdk.out/lint-counts.json
# (read by scripts/pr-summary.sh) always has both counts.
failed=0
echo "cfn-lint (+ serverless rules): ${templates[*]}"
# parseable: one finding per line, so the lines are the count.
"$venv/bin/cfn-lint" --append-rules cfn_lint_serverless.rules --format parseable -- "${templates[@]}" | tee cdk.out/cfn-lint.txt || failed=1

echo "checkov: ${templates[*]}"
files=()
for t in "${templates[@]}"; do files+=(-f "$t"); done
# --skip-download: offline, no platform lookups; soft-fail is never set.
BC_SKIP_MAPPING=TRUE "$venv/bin/checkov" --quiet --compact --skip-download --framework cloudformation "${files[@]}" \
  -o cli -o json --output-file-path console,cdk.out/checkov.json || failed=1

# The counts, with the hash of each template they were taken on.
node -e '
  const fs = require("fs"), crypto = require("crypto");
  const templates = Object.fromEntries(process.argv.slice(1).map((t) =>
    [t.replace(/^.*\//, ""), crypto.createHash("sha256").update(fs.readFileSync(t)).digest("hex")]));
  const checkov = [].concat(JSON.parse(fs.readFileSync("cdk.out/checkov.json", "utf8")))
    .reduce((a, r) => ({ passed: a.passed + r.summary.passed, failed: a.failed + r.summary.failed, skipped: a.skipped + r.summary.skipped }),
      { passed: 0, failed: 0, skipped: 0 });
  const findings = fs.readFileSync("cdk.out/cfn-lint.txt", "utf8").split("\n").filter(Boolean).length;
  fs.writeFileSync("cdk.out/lint-counts.json", JSON.stringify({ templates, cfnLint: { findings }, checkov }, null, 2) + "\n");
' "${templates[@]}"
[ "$failed" = 0 ] || { echo "test-infra: findings above" >&2; exit 1; }
echo "test-infra: ok"
