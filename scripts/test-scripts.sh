#!/usr/bin/env bash
# Tests of the deploy scripts and workflows, offline and in seconds: the pinned
# CDK CLI behind `npx cdk`, make deploy's approval level, the Amplify build a
# deploy starts (a fake CLI records its arguments), the smoke test it ends with, the deploy workflow's
# triggers, scripts/admin.sh's invocations (scripts/test-admin.sh), make dev's
# default mode (scripts/test-dev.sh), the pull-request summary on small hand-made assemblies (the
# comparison's own cases: go test ./internal/templatediff), and
# (scripts/test-deploy.sh) the documented path from an empty AWS account.
# The YAML checks use the .venv that scripts/test-infra.sh creates (PyYAML
# comes with cfn-lint), so scripts/test.sh runs this after it.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
scripts/deps.sh
tmp="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
# contains FILE TEXT WHAT: FILE holds TEXT literally.
contains() { if grep -qF -- "$2" "$1"; then pass "$3"; else fail "$3: no \"$2\" in:"; sed 's/^/    /' "$1" >&2; fi; }
lacks() { if grep -qF -- "$2" "$1"; then fail "$3: \"$2\" in:"; sed 's/^/    /' "$1" >&2; else pass "$3"; fi; }

echo "--- the pinned CDK CLI"
pin="$(node -p 'require("./package.json").devDependencies["aws-cdk"]')"
locked="$(node -p 'require("./package-lock.json").packages["node_modules/aws-cdk"].version')"
[ "$pin" = "$locked" ] && pass "package.json and package-lock.json pin aws-cdk $pin" || fail "package.json pins aws-cdk $pin, the lockfile $locked"
got="$(npx --no-install cdk --version)"
[ "${got%% *}" = "$pin" ] && pass "npx cdk at the root runs $got" || fail "npx cdk --version printed \"$got\", want $pin"
others="$(git ls-files -- '*package.json' ':!:package.json' | xargs -r grep -l '"aws-cdk"' || true)"
[ -z "$others" ] && pass "one pin: no other package.json names aws-cdk" || fail "aws-cdk is also pinned in $others"

echo "--- make deploy: approval level and the Amplify build"
# A copy of the scripts beside a fake CDK CLI at the path cdk.sh runs, with
# the root lockfile's install stamp so deps.sh installs nothing.
tree="$tmp/tree"
mkdir -p "$tree/scripts/lib" "$tree/node_modules/.bin" "$tmp/bin" "$tmp/fakeaws"
cp scripts/cdk.sh scripts/deps.sh scripts/frontend-release.sh scripts/preflight.sh scripts/preflight-defaults.json "$tree/scripts/"
cp scripts/lib/aws-credentials.sh "$tree/scripts/lib/"
cp package-lock.json "$tree/"
touch "$tree/node_modules/.package-lock.json"
echo '{"app":"false","context":{"groupchat":{"dev":{"amplifyRepository":"https://github.com/someone/chat"}}}}' >"$tree/cdk.json"
# The Amplify page: serves $tmp/page/config.json when it exists.
mkdir -p "$tmp/page"
node -e '
  const fs = require("fs");
  const s = require("http").createServer((req, res) => {
    const f = process.argv[1] + req.url;
    if (req.url === "/config.json" && fs.existsSync(f)) { res.end(fs.readFileSync(f)); return; }
    res.statusCode = 404; res.end();
  }).listen(0, "127.0.0.1", () => fs.writeFileSync(process.argv[2], String(s.address().port)));
' "$tmp/page" "$tmp/port" &
server=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
page="http://127.0.0.1:$(cat "$tmp/port")/"
ws="wss://abc123.execute-api.eu-west-1.amazonaws.com/dev"
cat >"$tmp/outputs.json" <<EOF
{"GroupChat-dev": {"AmplifyAppId": "d1abc", "WebSocketURL": "$ws", "FrontendURL": "$page",
  "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:GroupChat-dev-AlarmTopic"}}
EOF
cat >"$tmp/template.json" <<'EOF'
{"Resources": {"FrontendBranch": {"Type": "AWS::Amplify::Branch", "Properties": {"BranchName": "feature/dev", "AppId": {"Fn::GetAtt": ["Frontend", "AppId"]}}}}}
EOF
# The fake CDK CLI records its arguments; deploy writes the outputs and template.
cat >"$tree/node_modules/.bin/cdk" <<EOF
#!/usr/bin/env bash
echo "\$*" >>"$tmp/cdk.args"
while [ \$# -gt 0 ]; do
  if [ "\$1" = --outputs-file ]; then mkdir -p cdk.out; cp "$tmp/outputs.json" "\$2"; cp "$tmp/template.json" cdk.out/GroupChat-dev.template.json; fi
  shift
done
EOF
# The fake AWS CLI records the Amplify calls; the preflight's go to
# scripts/fakes/aws, an account ready for the deploy.
scripts/fakes/ready-account "$tmp/account"
export FAKE_AWS="$tmp/account"
cat >"$tmp/fakeaws/aws" <<EOF
#!/usr/bin/env bash
[ "\$1" = amplify ] || FAKE_AWS="$tmp/account" exec "$root/scripts/fakes/aws" "\$@"
echo "\$*" >>"$tmp/aws.args"
[ -z "\${AWS_FAILS:-}" ] || { echo "An error occurred (LimitExceededException)" >&2; exit 254; }
echo 7
EOF
# The smoke test after a deploy: a stand-in that records its arguments.
cat >"$tree/scripts/smoke.sh" <<EOF
#!/usr/bin/env bash
echo "\$*" >>"$tmp/smoke.args"
EOF
chmod +x "$tree/node_modules/.bin/cdk" "$tmp/fakeaws/aws" "$tree/scripts/smoke.sh"
# A PATH with only what the scripts run, so an installed AWS CLI cannot answer.
for c in bash env node dirname basename ls xargs tr rm cp mkdir cat grep head cut awk mktemp timeout wc sed; do ln -s "$(command -v "$c")" "$tmp/bin/$c"; done
cp scripts/fakes/git "$tmp/fakeaws/git"
nocli="$tmp/bin"
withcli="$tmp/fakeaws:$tmp/bin"
want_start="amplify start-job --region eu-west-1 --app-id d1abc --branch-name feature/dev --job-type RELEASE"

echo "{\"wsUrl\": \"$ws\"}" >"$tmp/page/config.json" # a page already built with the URL
run() { : >"$tmp/cdk.args"; : >"$tmp/aws.args"; : >"$tmp/smoke.args"; set +e; PATH="$1" "${@:2}" >"$tmp/out" 2>&1; rc=$?; set -e; }

run "$withcli" "$tree/scripts/cdk.sh" deploy dev
[ "$rc" = 0 ] && pass "cdk.sh deploy dev succeeds" || { fail "cdk.sh deploy dev exited $rc"; cat "$tmp/out" >&2; }
contains "$tmp/cdk.args" "deploy -c env=dev GroupChat-dev --require-approval broadening --outputs-file cdk.out/GroupChat-dev.outputs.json" \
  "without APPROVAL the deploy asks before broadening and keeps the outputs"
[ ! -s "$tmp/aws.args" ] && pass "a page that already has the URL is not rebuilt" || fail "aws ran: $(cat "$tmp/aws.args")"
[ "$(cat "$tmp/smoke.args")" = "dev -page-wait 10m" ] && pass "the deploy ends with the smoke test, which waits for the page's build" ||
  fail "after the deploy smoke.sh ran with: $(cat "$tmp/smoke.args")"
SMOKE=0 run "$withcli" "$tree/scripts/cdk.sh" deploy dev
[ "$rc" = 0 ] && [ ! -s "$tmp/smoke.args" ] && pass "SMOKE=0 deploys without the smoke test" || fail "SMOKE=0: exit $rc, smoke.sh ran with: $(cat "$tmp/smoke.args")"
make -n deploy ENV=dev SMOKE=0 >"$tmp/out"
contains "$tmp/out" "SMOKE=0 scripts/cdk.sh deploy dev" "make deploy passes SMOKE on"
make -n smoke ENV=prod >"$tmp/out"
contains "$tmp/out" "scripts/smoke.sh prod" "make smoke runs the smoke test of ENV"

APPROVAL=never run "$withcli" "$tree/scripts/cdk.sh" deploy dev
contains "$tmp/cdk.args" "--require-approval never" "APPROVAL=never deploys without a terminal"

APPROVAL=sometimes run "$withcli" "$tree/scripts/cdk.sh" deploy dev
[ "$rc" = 2 ] && [ ! -s "$tmp/cdk.args" ] && pass "an unknown APPROVAL stops before the CLI" || fail "APPROVAL=sometimes: exit $rc, cdk ran: $(cat "$tmp/cdk.args")"
contains "$tmp/out" "want broadening (the default), never or any-change" "an unknown APPROVAL names the valid ones"

make -n deploy ENV=prod APPROVAL=never >"$tmp/out"
contains "$tmp/out" "APPROVAL=never scripts/cdk.sh deploy prod" "make deploy passes APPROVAL on"

rm "$tmp/page/config.json" # never built
run "$withcli" "$tree/scripts/frontend-release.sh" GroupChat-dev "$tmp/outputs.json" "$tmp/template.json"
[ "$rc" = 0 ] && [ "$(cat "$tmp/aws.args")" = "$want_start --query jobSummary.jobId --output text" ] &&
  pass "a page never built gets a RELEASE job of the stack's branch" || { fail "never built: exit $rc, aws $(cat "$tmp/aws.args")"; cat "$tmp/out" >&2; }

echo '{"wsUrl": "wss://old.execute-api.eu-west-1.amazonaws.com/dev"}' >"$tmp/page/config.json"
run "$withcli" "$tree/scripts/frontend-release.sh" GroupChat-dev "$tmp/outputs.json" "$tmp/template.json"
contains "$tmp/aws.args" "$want_start" "a page built with another WebSocket URL is rebuilt"
contains "$tmp/out" "uses wss://old.execute-api.eu-west-1.amazonaws.com/dev, not $ws" "the rebuild says why"

node -e 'const f=process.argv[1]; const o=JSON.parse(require("fs").readFileSync(f)); o["GroupChat-dev"].UserPoolClientId="client1"; require("fs").writeFileSync(f, JSON.stringify(o))' "$tmp/outputs.json"
echo "{\"wsUrl\": \"$ws\"}" >"$tmp/page/config.json" # built before sign-in was on
run "$withcli" "$tree/scripts/frontend-release.sh" GroupChat-dev "$tmp/outputs.json" "$tmp/template.json"
contains "$tmp/aws.args" "$want_start" "a page built without the stack's sign-in client is rebuilt"
echo "{\"wsUrl\": \"$ws\", \"userPoolClientId\": \"client1\"}" >"$tmp/page/config.json"
run "$withcli" "$tree/scripts/frontend-release.sh" GroupChat-dev "$tmp/outputs.json" "$tmp/template.json"
[ ! -s "$tmp/aws.args" ] && pass "a page with the URL and the sign-in client is not rebuilt" || fail "aws ran: $(cat "$tmp/aws.args")"
echo '{"wsUrl": "wss://old.execute-api.eu-west-1.amazonaws.com/dev"}' >"$tmp/page/config.json"

AWS_FAILS=1 run "$withcli" "$tree/scripts/frontend-release.sh" GroupChat-dev "$tmp/outputs.json" "$tmp/template.json"
[ "$rc" = 1 ] && pass "a build that does not start fails the deploy" || fail "start-job failed but exit $rc"
contains "$tmp/out" "aws $want_start" "a build that does not start prints the command"

run "$nocli" "$tree/scripts/frontend-release.sh" GroupChat-dev "$tmp/outputs.json" "$tmp/template.json"
[ "$rc" = 0 ] && pass "without the AWS CLI the deploy still succeeds" || fail "no CLI: exit $rc"
contains "$tmp/out" "  aws $want_start" "without the AWS CLI the exact command is printed"

echo "--- workflows"
py=.venv/bin/python
if ! "$py" -c 'import yaml' 2>/dev/null; then
  py=python3
  "$py" -c 'import yaml' 2>/dev/null || { fail "the workflow checks need PyYAML: run scripts/test-infra.sh once (it creates .venv)"; py=""; }
fi
if [ -n "$py" ]; then
  if "$py" - <<'EOF'; then pass "deploy.yml: manual only, OIDC, environment protection, APPROVAL=never; ci.yml: the summary on pull requests"; else fail "workflows (above)"; fi
import sys, yaml
problems = []
def check(ok, what):
    if not ok:
        problems.append(what)
def triggers(doc):
    # YAML 1.1 reads the key `on` as true.
    on = doc.get("on", doc.get(True))
    return {on: None} if isinstance(on, str) else dict.fromkeys(on) if isinstance(on, list) else on

d = yaml.safe_load(open(".github/workflows/deploy.yml"))
on = triggers(d)
check(list(on) == ["workflow_dispatch"], f"deploy.yml triggers are {list(on)}, want only workflow_dispatch")
inputs = (on.get("workflow_dispatch") or {}).get("inputs", {})
check(inputs.get("environment", {}).get("options") == ["dev", "prod"], "deploy.yml: input environment must offer dev and prod")
check("role-arn" in inputs, "deploy.yml: input role-arn missing")
check(d.get("permissions") == {"id-token": "write", "contents": "read"}, f"deploy.yml permissions {d.get('permissions')}")
for name, job in d["jobs"].items():
    check(job.get("environment") == "${{ inputs.environment }}", f"deploy.yml job {name}: environment must be inputs.environment")
    steps = job.get("steps", [])
    creds = [s for s in steps if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")]
    check(creds and creds[0].get("with", {}).get("role-to-assume") == "${{ inputs.role-arn }}", f"deploy.yml job {name}: credentials by OIDC from inputs.role-arn")
    runs = " ".join(str(s.get("run", "")) for s in steps)
    check("make deploy" in runs and "APPROVAL=never" in runs, f"deploy.yml job {name}: runs make deploy with APPROVAL=never")

c = yaml.safe_load(open(".github/workflows/ci.yml"))
steps = [s for job in c["jobs"].values() for s in job.get("steps", [])]
summary = [s for s in steps if "scripts/pr-summary.sh" in str(s.get("run", ""))]
check(len(summary) == 1 and "pull_request" in str(summary[0].get("if", "")), "ci.yml: one pr-summary step, on pull requests only")
check(len(summary) == 1 and "always()" in str(summary[0].get("if", "")), "ci.yml: the pr-summary step runs when the tests failed too (if: always())")
check(any(str(s.get("uses", "")).startswith("actions/checkout@") and s.get("with", {}).get("fetch-depth") == 0 for s in steps),
      "ci.yml: checkout with fetch-depth 0 (the base commit)")
for p in problems:
    print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
fi

echo "--- pr-summary.sh on two hand-made assemblies"
# Three stacks: dev adds an IAM statement (broadening), qa removes one, prod
# is unchanged; the pull request also adds a cdk-nag suppression.
node - "$tmp/base" "$tmp/head" <<'EOF'
const fs = require('fs');
const [baseDir, headDir] = process.argv.slice(2);
const read = { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: 'arn:aws:dynamodb:eu-west-1:123456789012:table/t' };
const wide = { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' };
const template = (statements) => ({
  Resources: {
    Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } }] } } },
    Policy: { Type: 'AWS::IAM::Policy', Properties: { PolicyName: 'p', Roles: [{ Ref: 'Role' }], PolicyDocument: { Version: '2012-10-17', Statement: statements } } },
  },
});
const nag = (rows) => ['Rule ID,Resource ID,Compliance,Exception Reason,Rule Level,Rule Info', ...rows.map((s) => `"AwsSolutions-IAM5","x","${s}","why","Error","info"`)].join('\n') + '\n';
const write = (dir, stacks, nagRows) => {
  fs.mkdirSync(dir, { recursive: true });
  const artifacts = {};
  for (const [name, statements] of Object.entries(stacks)) {
    fs.writeFileSync(`${dir}/${name}.template.json`, JSON.stringify(template(statements), null, 1));
    fs.writeFileSync(`${dir}/AwsSolutions--${name}-NagReport.csv`, nag(nagRows[name] || []));
    artifacts[name] = { type: 'aws:cloudformation:stack', environment: 'aws://unknown-account/unknown-region', properties: { templateFile: `${name}.template.json` } };
  }
  fs.writeFileSync(`${dir}/manifest.json`, JSON.stringify({ version: '36.0.0', artifacts }));
};
write(baseDir, { 'GroupChat-dev': [read], 'GroupChat-prod': [read], 'GroupChat-qa': [read, wide] }, { 'GroupChat-dev': ['Suppressed'] });
write(headDir, { 'GroupChat-dev': [read, wide], 'GroupChat-prod': [read], 'GroupChat-qa': [read] }, { 'GroupChat-dev': ['Suppressed', 'Suppressed'] });
EOF
start=$SECONDS
if scripts/pr-summary.sh "$tmp/base" "$tmp/head" >"$tmp/summary.md" 2>"$tmp/summary.err"; then
  pass "pr-summary.sh ran in $((SECONDS - start))s"
  [ "$(head -n 1 "$tmp/summary.md")" = "## Infrastructure changes against $tmp/base" ] && pass "the summary starts with its heading" ||
    fail "the summary starts with: $(head -n 1 "$tmp/summary.md")"
  contains "$tmp/summary.md" "| GroupChat-dev | resources: 1 changed | **broadening** |" "the table flags the stack that adds an IAM statement"
  contains "$tmp/summary.md" "> **GroupChat-dev broadens IAM permissions or security-group rules**" "a broadening stack gets a callout"
  contains "$tmp/summary.md" "IAM Statement Changes" "the callout shows cdk diff's IAM statement changes"
  contains "$tmp/summary.md" "s3:GetObject" "the added statement is in the summary"
  contains "$tmp/summary.md" "[~] AWS::IAM::Policy Policy" "the template diff is in the summary"
  contains "$tmp/summary.md" "| GroupChat-qa | resources: 1 changed | no broadening |" "removing a statement is not broadening"
  lacks "$tmp/summary.md" "GroupChat-qa broadens" "a narrowing stack gets no callout"
  contains "$tmp/summary.md" "| GroupChat-prod | no differences | no broadening |" "an unchanged stack says so"
  contains "$tmp/summary.md" "| cdk-nag (AwsSolutions) | 1 suppressed | 2 (**+1**) suppressed |" "a new cdk-nag suppression is counted"
  contains "$tmp/summary.md" "| checkov | 0 skipped | 0 skipped | not run |" "linters' counts of other templates are not shown"
  # Counts taken on these very templates are shown (one unchanged stack: fast).
  mkdir "$tmp/head1"
  cp "$tmp/head/GroupChat-prod.template.json" "$tmp/head1/"
  node -e '
    const fs = require("fs"), crypto = require("crypto"), dir = process.argv[1], t = "GroupChat-prod.template.json";
    fs.writeFileSync(`${dir}/manifest.json`, JSON.stringify({ version: "36.0.0", artifacts: { "GroupChat-prod": {
      type: "aws:cloudformation:stack", environment: "aws://unknown-account/unknown-region", properties: { templateFile: t } } } }));
    const templates = { [t]: crypto.createHash("sha256").update(fs.readFileSync(`${dir}/${t}`)).digest("hex") };
    fs.writeFileSync(`${dir}/lint-counts.json`, JSON.stringify({ templates, cfnLint: { findings: 0 }, checkov: { passed: 9, failed: 0, skipped: 2 } }));
  ' "$tmp/head1"
  scripts/pr-summary.sh "$tmp/base" "$tmp/head1" >"$tmp/summary.md" 2>"$tmp/summary.err"
  contains "$tmp/summary.md" "| checkov | 0 skipped | 0 skipped | 0 failed, 9 passed, 2 skipped |" "the linters' counts of these templates are shown"
  contains "$tmp/summary.md" "| GroupChat-dev | removed by this pull request | |" "a stack only the base has is reported removed"
else
  fail "pr-summary.sh failed:"
  cat "$tmp/summary.err" >&2
fi

echo "--- pr-summary.sh: Metadata-only changes and what a reviewer must see"
# Synthesized-like templates (internal/templatediff/testdata): dev changes
# Metadata only, prod a table's key schema, qa the \$connect route's
# authorization, and old (two tables, a user pool, a log group, a key) is removed.
node - "$tmp/base2" "$tmp/head2" internal/templatediff/testdata <<'EOF'
const fs = require('fs');
const [baseDir, headDir, fx] = process.argv.slice(2);
const write = (dir, stacks) => {
  fs.mkdirSync(dir, { recursive: true });
  const artifacts = {};
  for (const [name, file] of Object.entries(stacks)) {
    fs.copyFileSync(`${fx}/${file}.json`, `${dir}/${name}.template.json`);
    artifacts[name] = { type: 'aws:cloudformation:stack', environment: 'aws://unknown-account/unknown-region', properties: { templateFile: `${name}.template.json` } };
  }
  fs.writeFileSync(`${dir}/manifest.json`, JSON.stringify({ version: '36.0.0', artifacts }));
};
write(baseDir, { 'GroupChat-dev': 'base', 'GroupChat-prod': 'base', 'GroupChat-qa': 'base', 'GroupChat-old': 'base' });
write(headDir, { 'GroupChat-dev': 'metadata-only', 'GroupChat-prod': 'key-schema', 'GroupChat-qa': 'route-auth' });
EOF
if scripts/pr-summary.sh "$tmp/base2" "$tmp/head2" >"$tmp/summary2.md" 2>"$tmp/summary2.err"; then
  contains "$tmp/summary2.md" "| GroupChat-dev | no changes (3 with Metadata changes only, not counted) | no broadening |" "Metadata-only changes are not counted"
  lacks "$tmp/summary2.md" "### GroupChat-dev" "a stack with Metadata-only changes gets no section"
  contains "$tmp/summary2.md" "| GroupChat-prod | resources: 1 changed, **2 to review** | no broadening |" "the table counts the callouts"
  contains "$tmp/summary2.md" "**\`MessagesTable1E2F3A4B\`** (AWS::DynamoDB::Table) is **replaced**: a change of KeySchema" "a replaced table is called out"
  contains "$tmp/summary2.md" "changes its key schema from pk (HASH), sk (RANGE) to pk (HASH), ts (RANGE)" "a key-schema change is called out"
  contains "$tmp/summary2.md" "authorization CUSTOM (authorizer ConnectAuthorizerB2C3D4E5) → NONE: **anyone may use it without signing in**" "a route's authorization change is called out"
  contains "$tmp/summary2.md" "**\`UserPool6BA7E5F2\`** (AWS::Cognito::UserPool) is removed" "a removed stack's stateful resources are called out"
  contains "$tmp/summary2.md" "**To review** (stateful resources replaced or removed, retention policies, indexes, key schemas, route authorization; each stack's callout below): GroupChat-old (5), GroupChat-prod (2), GroupChat-qa (1)." "the callouts are listed under the table"
else
  fail "pr-summary.sh failed:"
  cat "$tmp/summary2.err" >&2
fi

echo "--- operators: scripts/admin.sh with the fake AWS CLI (scripts/test-admin.sh)"
scripts/test-admin.sh || failures=$((failures + 1))

echo "--- make dev: the function's mode by default (scripts/test-dev.sh)"
scripts/test-dev.sh || failures=$((failures + 1))

echo "--- the deploy path from an empty account, and make preflight (scripts/test-deploy.sh)"
scripts/test-deploy.sh || failures=$((failures + 1))

if [ "$failures" -gt 0 ]; then
  echo "test-scripts: $failures failed" >&2
  exit 1
fi
echo "test-scripts: ok"
