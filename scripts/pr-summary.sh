#!/usr/bin/env bash
# A pull request's infrastructure changes as Markdown, for the job summary
# ($GITHUB_STEP_SUMMARY) or a terminal: per stack, the resources added, changed
# and removed (a change of Metadata only, such as aws:cdk:path or an asset's
# hash, is not counted) and a callout for each stateful resource replaced or
# removed, DeletionPolicy or UpdateReplacePolicy change, global secondary index
# added or removed, key-schema change and route authorization change
# (cmd/templatediff, on the CDK CLI's resource specification); the CDK CLI's
# template diff (cdk diff --template, offline), with IAM and security-group
# broadening called out (cdk diff --security-only); and the findings counts of
# cdk-nag, cfn-lint and checkov.
#   pr-summary.sh BASE_REF           synthesizes BASE_REF (in a temporary git
#                                    worktree) and this checkout, then compares
#   pr-summary.sh BASE_DIR HEAD_DIR  compares two cloud assemblies (cdk.out
#                                    directories) without synthesizing
# Markdown goes to stdout, progress to stderr. The linters' counts of this
# checkout come from cdk.out/lint-counts.json (scripts/test-infra.sh), shown
# only when they were taken on the very templates compared.
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: pr-summary.sh BASE_REF | pr-summary.sh BASE_DIR HEAD_DIR"

export CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=1 AWS_EC2_METADATA_DISABLED=true
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" GOFLAGS=-buildvcs=false
scripts/deps.sh >&2 # the pinned CDK CLI
tool="$(mktemp -d)"
trap 'rm -rf "$tool"' EXIT
go build -o "$tool/templatediff" ./cmd/templatediff

if [ $# -eq 2 ]; then
  base_dir="$1" head_dir="$2" base_label="$1" base_note=""
elif [ $# -eq 1 ]; then
  base_sha="$(git rev-parse --verify --quiet "$1^{commit}")" || { echo "pr-summary: $1 is not a commit here (in CI, fetch it: actions/checkout with fetch-depth: 0)" >&2; exit 2; }
  tmp="$(mktemp -d)"
  trap 'git worktree remove --force "$tmp/base" 2>/dev/null || true; rm -rf "$tmp" "$tool"' EXIT
  echo "pr-summary: synthesizing this checkout" >&2
  scripts/cdk.sh synth >&2
  echo "pr-summary: synthesizing $1 ($base_sha) in a worktree" >&2
  git worktree add --detach --quiet "$tmp/base" "$base_sha"
  base_label="\`$1\` (${base_sha:0:12})"
  case "$base_sha" in "$1"*) base_label="\`${base_sha:0:12}\`" ;; esac # a commit id names itself
  base_dir="$tmp/base/cdk.out" head_dir=cdk.out base_note=""
  if ! scripts/cdk.sh synth-tree "$tmp/base" >"$tmp/base-synth.log" 2>&1; then
    # A broken base must not hide the pull request that fixes it: every
    # stack is then compared with an empty template, and the log is shown.
    base_note="$(tail -n 40 "$tmp/base-synth.log")"
    base_dir="$tmp/nothing"
    mkdir -p "$base_dir"
  fi
else
  echo "$usage" >&2
  exit 2
fi
for d in "$base_dir" "$head_dir"; do
  [ -d "$d" ] || { echo "pr-summary: $d is not a directory" >&2; exit 2; }
done
[ -f "$head_dir/manifest.json" ] || { echo "pr-summary: $head_dir is not a cloud assembly (no manifest.json)" >&2; exit 2; }

BASE_LABEL="$base_label" BASE_NOTE="$base_note" node - "$base_dir" "$head_dir" "$PWD/node_modules/.bin/cdk" \
  "$tool/templatediff" "$PWD/node_modules/aws-cdk/db.json.gz" <<'EOF'
// Builds the Markdown from the two assemblies: templatediff counts and calls
// out, cdk diff gives the text and judges broadening.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');
const [baseDir, headDir, cdk, templatediff, spec] = process.argv.slice(2);
const baseLabel = process.env.BASE_LABEL;
const baseNote = process.env.BASE_NOTE;
const MAX_DIFF = 60000; // characters of one stack's diff; the job summary holds 1 MiB

const md = [];
const fence = (text) => ['````text', text, '````'];
const readJSON = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));

// The stacks of an assembly: name -> template file.
function stacks(dir) {
  const manifest = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifest)) return new Map();
  return new Map(Object.entries(readJSON(manifest).artifacts || {})
    .filter(([, a]) => a.type === 'aws:cloudformation:stack')
    .map(([name, a]) => [name, path.join(dir, a.properties.templateFile)]));
}

function cdkDiff(extra, baseTemplate, stack) {
  const r = spawnSync(cdk, ['--no-notices', 'diff', '--app', headDir, '--template', baseTemplate, ...extra, stack],
    { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } });
  const text = `${r.stdout}${r.stderr}`
    .replace(/\x1b\[[0-9;]*m/g, '')
    // The deploy prompt's wording is not for a review.
    .split('\n').filter((l) => !/Number of stacks with differences|potentially sensitive changes|Please confirm you intend/.test(l)).join('\n')
    .replace(/^(\s*\n)+|\s+$/g, '');
  return { status: r.status, text };
}

// templatediff's comparison of two templates ('' is the empty one).
function compare(baseTemplate, headTemplate) {
  const r = spawnSync(templatediff, ['-spec', spec, baseTemplate, headTemplate], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`pr-summary: templatediff ${baseTemplate} ${headTemplate} failed:\n${r.stderr}`);
    process.exit(1);
  }
  return JSON.parse(r.stdout);
}
const caution = (callouts) => callouts.length
  ? ['> [!CAUTION]', '> **Review these before merging**: what the deploy does to data, retention or who may connect.', '>',
    ...callouts.map((c) => `> - ${c.text}`), '']
  : [];

// Accepted findings recorded in a template's metadata, and cdk-nag's report.
function accepted(dir, template) {
  const t = readJSON(template);
  const n = { cfnLintIgnored: 0, checkovSkipped: 0, nagSuppressed: 0, nagNonCompliant: 0 };
  for (const r of Object.values(t.Resources || {})) {
    const m = r.Metadata || {};
    n.cfnLintIgnored += (m['cfn-lint']?.config?.ignore_checks || []).length;
    n.checkovSkipped += (m.checkov?.skip || []).length;
  }
  const stack = path.basename(template).replace(/\.template\.json$/, '');
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(`-${stack}-NagReport.csv`))) {
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n').slice(1)) {
      const status = line.split(',')[2];
      if (status === '"Suppressed"') n.nagSuppressed++;
      if (status === '"Non-Compliant"') n.nagNonCompliant++;
    }
  }
  return n;
}
const sum = (list) => list.reduce((a, n) => { for (const k in n) a[k] = (a[k] || 0) + n[k]; return a; }, {});

const base = stacks(baseDir);
const head = stacks(headDir);
const empty = path.join(fs.mkdtempSync(path.join(require('os').tmpdir(), 'pr-summary-')), 'empty.template.json');
fs.writeFileSync(empty, '{}\n');

md.push(`## Infrastructure changes against ${baseLabel}`, '');
if (baseNote) {
  md.push('> [!CAUTION]', `> The base does not synthesize, so every stack is compared with an empty template. The end of its synth:`, '',
    ...fence(baseNote), '');
}

const rows = [];
const sections = [];
let broadened = [];
const calledOut = [];
for (const stack of [...new Set([...base.keys(), ...head.keys()])].sort()) {
  if (!head.has(stack)) {
    const gone = compare(base.get(stack), '');
    rows.push(`| ${stack} | removed by this pull request${gone.callouts.length ? `, **${gone.callouts.length} to review**` : ''} | |`);
    if (gone.callouts.length) {
      calledOut.push(`${stack} (${gone.callouts.length})`);
      sections.push(`### ${stack}`, '', ...caution(gone.callouts));
    }
    continue;
  }
  const baseTemplate = base.get(stack) || empty;
  const td = compare(base.get(stack) || '', head.get(stack));
  const full = cdkDiff([], baseTemplate, stack);
  if (full.status !== 0) {
    console.error(`pr-summary: cdk diff of ${stack} failed:\n${full.text}`);
    process.exit(1);
  }
  // cdk diff judges broadening; it can only be where the diff has a
  // security table, so the second run is skipped without one.
  const tables = /^(IAM Statement Changes|IAM Policy Changes|Security Group Changes)$/m.test(full.text);
  const security = tables ? cdkDiff(['--security-only', '--fail'], baseTemplate, stack) : { status: 0 };
  const broadens = security.status !== 0;
  // Counted by templatediff: a change of Metadata only is no change.
  const changes = [['added', td.added.length], ['changed', td.changed.length], ['removed', td.removed.length]]
    .filter(([, n]) => n).map(([what, n]) => `${n} ${what}`).join(', ');
  const metaOnly = td.metadataOnly.length ? `${td.metadataOnly.length} with Metadata changes only, not counted` : '';
  const same = !changes && !td.sections.length;
  const what = same
    ? (metaOnly ? `no changes (${metaOnly})` : 'no differences')
    : [changes ? `resources: ${changes}` : '', td.sections.length ? `${td.sections.join(', ')} changed` : '', metaOnly].filter(Boolean).join('; ');
  const review = td.callouts.length ? `, **${td.callouts.length} to review**` : '';
  rows.push(`| ${stack}${base.has(stack) ? '' : ' (new)'} | ${what}${review} | ${broadens ? '**broadening**' : 'no broadening'} |`);
  if (td.callouts.length) calledOut.push(`${stack} (${td.callouts.length})`);
  if (same && !broadens) continue;
  const s = [`### ${stack}`, '', ...caution(td.callouts)];
  if (broadens) {
    broadened.push(stack);
    s.push('> [!WARNING]',
      `> **${stack} broadens IAM permissions or security-group rules**, as the CDK judges it: a statement or rule is added`,
      '> (a changed one shows as removed and added). Review the rows marked `+`: `make deploy` asks to confirm them,',
      '> a pipeline deploy (`APPROVAL=never`) does not.', '',
      ...fence(security.text), '');
  }
  const text = full.text.length > MAX_DIFF
    ? `${full.text.slice(0, MAX_DIFF)}\n… truncated (${full.text.length} characters); the whole diff: scripts/pr-summary.sh BASE_REF locally`
    : full.text;
  s.push('<details><summary>Template diff (cdk diff)</summary>', '', ...fence(text), '', '</details>', '');
  sections.push(...s);
}
md.push('| stack | template | security |', '|---|---|---|', ...rows, '');
if (calledOut.length) md.push(`**To review** (stateful resources replaced or removed, retention policies, indexes, key schemas, route authorization; each stack's callout below): ${calledOut.join(', ')}.`, '');
if (broadened.length) md.push(`**Broadening** (IAM statements or security-group rules added; what \`make deploy\` asks to confirm): ${broadened.join(', ')}.`, '');
md.push(...sections);

// Findings: accepted ones recorded in the templates, on both sides; the
// linters' own counts for this checkout when they match its templates.
const b = sum([...base.entries()].map(([, t]) => accepted(baseDir, t)));
const h = sum([...head.entries()].map(([, t]) => accepted(headDir, t)));
const delta = (k) => {
  const d = (h[k] || 0) - (b[k] || 0);
  return `${h[k] || 0}${d > 0 ? ` (**+${d}**)` : d < 0 ? ` (${d})` : ''}`;
};
let lint = null;
const countsFile = path.join(headDir, 'lint-counts.json');
if (fs.existsSync(countsFile)) {
  const c = readJSON(countsFile);
  const hashes = Object.fromEntries([...head.values()].map((t) => [path.basename(t), crypto.createHash('sha256').update(fs.readFileSync(t)).digest('hex')]));
  const linted = c.templates || {};
  const same = Object.keys(linted).length === Object.keys(hashes).length && Object.entries(hashes).every(([f, h]) => linted[f] === h);
  if (same) lint = c;
}
md.push('### Findings', '',
  '| check | accepted in base | accepted in this pull request | findings in this pull request |', '|---|---|---|---|',
  `| cdk-nag (AwsSolutions) | ${b.nagSuppressed || 0} suppressed | ${delta('nagSuppressed')} suppressed | ${h.nagNonCompliant || 0} non-compliant |`,
  `| cfn-lint (+ serverless rules) | ${b.cfnLintIgnored || 0} ignored | ${delta('cfnLintIgnored')} ignored | ${lint ? lint.cfnLint.findings : 'not run'} |`,
  `| checkov | ${b.checkovSkipped || 0} skipped | ${delta('checkovSkipped')} skipped | ${lint ? `${lint.checkov.failed} failed, ${lint.checkov.passed} passed, ${lint.checkov.skipped} skipped` : 'not run'} |`,
  '',
  lint ? '' : '_cfn-lint and checkov counts come from `scripts/test-infra.sh` (cdk.out/lint-counts.json); it has not run on these templates._');
console.log(md.join('\n').replace(/\n+$/, ''));
fs.rmSync(path.dirname(empty), { recursive: true, force: true });
EOF
