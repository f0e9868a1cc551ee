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

synth_log="$(mktemp)"
trap 'rm -f "$synth_log"' EXIT
scripts/cdk.sh synth 2>&1 | tee "$synth_log"
# cdk.json sets every feature flag the pinned aws-cdk-lib recommends (what
# `cdk init` writes), or sets it false with its reason in docs/deploy.md; the
# CLI names the ones a newer aws-cdk-lib adds.
if unset="$(grep -o '[0-9]* feature flags are not configured' "$synth_log")"; then
  echo "test-infra: $unset: add each to cdk.json's context (npx cdk flags --unstable=flags lists them with the recommended value), check the templates with scripts/cdk.sh synth-tree before and after, and list it in docs/deploy.md (\"CDK feature flags\")" >&2
  exit 1
fi
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
# --skip-download: offline, no platform lookups; soft-fail is never set. JSON
# only, and not --quiet (which drops the passed and skipped checks from the
# JSON too): the check of the skips below needs the skipped results; the
# failed checks are printed from the same JSON.
BC_SKIP_MAPPING=TRUE "$venv/bin/checkov" --skip-download --framework cloudformation "${files[@]}" -o json >cdk.out/checkov.json || failed=1

# The counts, with the hash of each template they were taken on; checkov's
# failed checks; and every checkov skip in the templates' metadata held to a
# check checkov actually skipped on that resource, as
# TestEveryNagSuppressionIsUsed holds cdk-nag's suppressions: a skip of a
# check that never runs on a template (a Terraform-only id) silences nothing.
node -e '
  const fs = require("fs"), crypto = require("crypto");
  const files = process.argv.slice(1), base = (f) => f.replace(/^.*\//, "");
  const templates = Object.fromEntries(files.map((t) =>
    [base(t), crypto.createHash("sha256").update(fs.readFileSync(t)).digest("hex")]));
  const reports = [].concat(JSON.parse(fs.readFileSync("cdk.out/checkov.json", "utf8")));
  const checkov = reports
    .reduce((a, r) => ({ passed: a.passed + r.summary.passed, failed: a.failed + r.summary.failed, skipped: a.skipped + r.summary.skipped }),
      { passed: 0, failed: 0, skipped: 0 });
  const findings = fs.readFileSync("cdk.out/cfn-lint.txt", "utf8").split("\n").filter(Boolean).length;
  fs.writeFileSync("cdk.out/lint-counts.json", JSON.stringify({ templates, cfnLint: { findings }, checkov }, null, 2) + "\n");

  const problems = [];
  for (const r of reports) {
    for (const c of r.results.failed_checks || []) {
      problems.push(`${c.check_id} failed: ${c.check_name} (${c.resource}, ${base(c.file_path)}; ${c.guideline || "no guideline"})`);
    }
    if (r.summary.parsing_errors) problems.push(`${r.summary.parsing_errors} templates checkov could not parse`);
  }
  const skipped = new Set(reports.flatMap((r) => (r.results.skipped_checks || []).map((c) =>
    `${base(c.file_path)} ${c.resource.slice(c.resource.lastIndexOf(".") + 1)} ${c.check_id}`)));
  let declared = 0;
  for (const t of files) {
    for (const [id, res] of Object.entries(JSON.parse(fs.readFileSync(t, "utf8")).Resources)) {
      for (const skip of (res.Metadata && res.Metadata.checkov && res.Metadata.checkov.skip) || []) {
        declared++;
        if (!skipped.has(`${base(t)} ${id} ${skip.id}`)) {
          problems.push(`${base(t)}: ${id} skips ${skip.id}, which checkov never runs on it: the skip silences nothing`);
        }
      }
    }
  }
  if (declared > 0 && skipped.size === 0) problems.push("checkov reported no skipped check at all: is its JSON read from the right place?");
  console.log(`checkov: ${checkov.passed} passed, ${checkov.failed} failed, ${checkov.skipped} skipped (${declared} skips in the metadata)`);
  for (const p of problems) console.error("checkov: " + p);
  process.exit(problems.length ? 1 : 0);
' "${templates[@]}" || failed=1
[ "$failed" = 0 ] || { echo "test-infra: findings above" >&2; exit 1; }
echo "test-infra: ok"
