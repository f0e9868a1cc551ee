#!/usr/bin/env bash
# The deploy path from an empty AWS account, offline and in seconds: the
# commands of docs/deploy.md's "From an empty AWS account to a working chat",
# in the documented order, against a fake AWS CLI, CDK CLI and git
# (scripts/fakes/) that answer as a fresh account would: no credentials at
# first, then no CDK bootstrap, no GitHub token secret, no API Gateway logging
# role, a fork without a dev branch. Each step's outcome and message is
# checked; so is the order, and what the newcomer's first `make deploy ENV=dev`
# does. Then make preflight with one thing wrong at a time. Run by
# scripts/test-scripts.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
show() { sed 's/^/    /' "$tmp/out" >&2; }
contains() { if grep -qF -- "$1" "$tmp/out"; then pass "$2"; else fail "$2: no \"$1\" in:"; show; fi; }
# line STATUS CHECK TEXT WHAT: the preflight table has that row, with TEXT in it.
line() {
  if grep -F -- "$(printf '%-5s %-26s ' "$1" "$2")" "$tmp/out" | grep -qF -- "$3"; then pass "$4"; else fail "$4: no row \"$1 $2 …$3…\" in:"; show; fi
}
exits() { if [ "$rc" = "$1" ]; then pass "$2"; else fail "$2: exit $rc, want $1:"; show; fi; }

# A copy of what the deploy runs, with the fake CDK CLI where cdk.sh runs the
# pinned one and the root lockfile's install stamp so deps.sh installs nothing.
tree="$tmp/tree"
mkdir -p "$tree/scripts/lib" "$tree/node_modules/.bin" "$tmp/bin"
cp Makefile package-lock.json cdk.json "$tree/"
cp scripts/cdk.sh scripts/deps.sh scripts/frontend-release.sh scripts/preflight.sh scripts/preflight-defaults.json "$tree/scripts/"
cp scripts/lib/aws-credentials.sh "$tree/scripts/lib/"
touch "$tree/node_modules/.package-lock.json"
cp scripts/fakes/cdk "$tree/node_modules/.bin/cdk"
# The smoke test a deploy ends with needs a real stage: a stand-in records it.
printf '#!/usr/bin/env bash\necho "$*" >>"$FAKE_AWS/smoke"\necho "smoke: stand-in"\n' >"$tree/scripts/smoke.sh"
chmod +x "$tree/scripts/smoke.sh"
cp scripts/fakes/aws scripts/fakes/git "$tmp/bin/"
# Only what the scripts run, so an installed AWS CLI or git cannot answer.
for c in bash env node make dirname basename ls xargs tr rm cp mkdir cat grep head cut awk mktemp timeout wc sed sort; do
  ln -s "$(command -v "$c")" "$tmp/bin/$c"
done
export FAKE_AWS="$tmp/account"
# run CMD: in the tree, with only the fakes; output in $tmp/out, status in $rc.
run() {
  set +e
  (cd "$tree" && env -i PATH="$tmp/bin" HOME="$tmp" FAKE_AWS="$FAKE_AWS" bash -c "$1") >"$tmp/out" 2>&1
  rc=$?
  set -e
}
fresh() { rm -rf "$FAKE_AWS" "$tree/cdk.out"; mkdir -p "$FAKE_AWS"; : >"$FAKE_AWS/cdk"; echo main >"$FAKE_AWS/heads"; }
cdk_ran() { grep -qF -- " $1 " "$FAKE_AWS/cdk"; }

echo "--- no credentials: one line from every entry point, before the CDK runs"
fresh
for cmd in "make diff ENV=dev" "make deploy ENV=dev" "make bootstrap ENV=prod" "make preflight ENV=prod" "scripts/cdk.sh diff dev"; do
  run "$cmd"
  # One line of ours; make adds its own "make: *** [Makefile:…] Error 1".
  if [ "$rc" != 0 ] && [ "$(grep -vc '^make: \*\*\*' "$tmp/out")" = 1 ] && ! [ -s "$FAKE_AWS/cdk" ] &&
    grep -qF "no usable AWS credentials (none found): run \`aws configure\` (access keys) or \`aws sso login --profile NAME\`, then \`export AWS_PROFILE=NAME\`" "$tmp/out"; then
    pass "$cmd without credentials: one line naming aws configure, aws sso login and AWS_PROFILE"
  else
    fail "$cmd without credentials: exit $rc, want an error and one line:"; show
  fi
done

echo "--- the newcomer's first command on a fresh account: make deploy ENV=dev"
echo 111111111111 >"$FAKE_AWS/account"
echo eu-west-1 >"$FAKE_AWS/region"
run "make deploy ENV=dev"
exits 2 "make deploy ENV=dev on a fresh account stops"
if cdk_ran deploy || [ -n "$(ls "$FAKE_AWS/stacks" 2>/dev/null)" ]; then fail "the CDK deployed: $(cat "$FAKE_AWS/cdk")"; else pass "it stops before CloudFormation"; fi
line FAIL "CDK bootstrap" "is not bootstrapped (no SSM parameter /cdk-bootstrap/hnb659fds/version): make bootstrap ENV=dev" "it says to bootstrap"
line FAIL "API Gateway logging role" "not set in 111111111111/eu-west-1, and groupchat.prod manages it: make deploy ENV=prod first" "it says to deploy prod first"
line FAIL "GitHub token secret" "groupchat/github-token does not exist in eu-west-1: aws secretsmanager create-secret --region eu-west-1 --name groupchat/github-token" "it says to store the token"
line FAIL "Amplify branch" "has no branch dev: push one (git push origin main:dev)" "it says to push the dev branch"
line FAIL "cdk.json values" "groupchat.dev.amplifyRepository (https://github.com/groupchat/groupchat): your fork's https URL" "it names the example value"
line ok "credentials" "arn:aws:iam::111111111111:user/newcomer" "it shows who deploys"
line ok "account and region" "111111111111, eu-west-1 (region from your AWS profile)" "it shows where"

echo "--- docs/deploy.md's path, in its order"
# Step 2: the newcomer's own values in cdk.json.
node -e '
  const fs = require("fs"), f = process.argv[1], j = JSON.parse(fs.readFileSync(f));
  for (const e of Object.values(j.context.groupchat)) e.amplifyRepository = "https://github.com/newcomer/groupchat";
  j.context.groupchat.prod.alarmEmail = "ops@newcomer.dev";
  fs.writeFileSync(f, JSON.stringify(j, null, 2));' "$tree/cdk.json"
# The sh blocks of the section, one command a line.
node -e '
  const doc = require("fs").readFileSync(process.argv[1], "utf8");
  const section = doc.split(/^## /m).find((s) => s.startsWith("From an empty AWS account to a working chat"));
  for (const block of section.matchAll(/^```sh\n([\s\S]*?)^```/gm)) process.stdout.write(block[1]);
' docs/deploy.md >"$tmp/steps"
want="npm ci
git push origin main:dev
make preflight ENV=prod
make bootstrap ENV=prod
aws secretsmanager create-secret --name groupchat/github-token --secret-string 'github_pat_…'
make preflight ENV=prod
make deploy ENV=prod
make deploy ENV=dev
aws cognito-idp admin-create-user --region REGION --user-pool-id POOL_ID --username alice --user-attributes Name=email,Value=alice@example.org Name=email_verified,Value=true --desired-delivery-mediums EMAIL"
if [ "$(cat "$tmp/steps")" = "$want" ]; then pass "the documented steps are the ones this test checks, in its order"; else
  fail "docs/deploy.md's steps changed; check the new order against a fresh account here first. They are:"; sed 's/^/    /' "$tmp/steps" >&2
fi
preflights=0 deploys=0
while IFS= read -r cmd; do
  case "$cmd" in
    "npm ci") pass "npm ci: skipped (the tree has the packages; installing needs the registry)"; continue ;;
  esac
  run "$cmd"
  case "$cmd" in
    "git push origin main:dev")
      exits 0 "$cmd"
      grep -qx dev "$FAKE_AWS/heads" && pass "the fork has a dev branch" || fail "no dev branch after $cmd" ;;
    "make preflight ENV=prod")
      preflights=$((preflights + 1))
      if [ "$preflights" = 1 ]; then
        exits 2 "the first preflight fails on a fresh account"
        line FAIL "CDK bootstrap" "make bootstrap ENV=prod" "preflight: bootstrap missing"
        line FAIL "GitHub token secret" "aws secretsmanager create-secret" "preflight: token missing"
        line ok "API Gateway logging role" "not set yet: GroupChat-prod creates it (manageApiGatewayAccountRole)" "preflight: prod creates the logging role"
        line ok "stack" "GroupChat-prod does not exist yet" "preflight: the stack is new"
        line ok "Amplify branch" "https://github.com/newcomer/groupchat has branch main" "preflight: prod's branch exists"
        line ok "cdk.json values" "amplifyRepository https://github.com/newcomer/groupchat, alarmEmail ops@newcomer.dev" "preflight: the values are the newcomer's"
        line ok "Lambda concurrency" "account limit 1000, 1000 unreserved, reservedConcurrency 0" "preflight: Lambda concurrency"
        line ok "API Gateway throttle" "stage 500/s, burst 1000, within the account's 10000.0/s, burst 5000" "preflight: the stage's throttle"
        contains "preflight: 2 check(s) failed: fix them, then make preflight ENV=prod again" "the first preflight counts two failures"
        sed -n '2,$p' "$tmp/out" | grep -v '^make: ' >"$tmp/table"
      else
        exits 0 "the second preflight passes"
        contains "preflight: ready to deploy GroupChat-prod" "preflight says the stack is ready"
      fi ;;
    "make bootstrap ENV=prod")
      exits 0 "$cmd"
      [ "$(cat "$FAKE_AWS/bootstrap" 2>/dev/null)" = 30 ] && pass "the account is bootstrapped" || fail "not bootstrapped after $cmd" ;;
    "aws secretsmanager create-secret"*)
      exits 0 "storing the token"
      [ -s "$FAKE_AWS/secrets/groupchat_github-token" ] && pass "the token is stored" || fail "no secret after $cmd" ;;
    "make deploy ENV=prod" | "make deploy ENV=dev")
      e="${cmd##*=}" deploys=$((deploys + 1))
      exits 0 "$cmd"
      [ "$(cat "$FAKE_AWS/stacks/GroupChat-$e" 2>/dev/null)" = CREATE_COMPLETE ] && pass "GroupChat-$e is created" || fail "GroupChat-$e: $(cat "$FAKE_AWS/stacks/GroupChat-$e" 2>/dev/null)"
      contains "preflight: ready to deploy GroupChat-$e" "$cmd runs the preflight first"
      grep -qF -- "deploy -c env=$e GroupChat-$e --require-approval broadening --outputs-file cdk.out/GroupChat-$e.outputs.json" "$FAKE_AWS/cdk" &&
        pass "$cmd deploys with the CDK CLI" || fail "$cmd: the CDK ran $(cat "$FAKE_AWS/cdk")"
      branch=main; [ "$e" = dev ] && branch=dev
      grep -q "amplify start-job --region eu-west-1 --app-id d1$e --branch-name $branch --job-type RELEASE" "$FAKE_AWS/calls" &&
        pass "$cmd starts the page's build of branch $branch" || fail "$cmd: no Amplify build of $branch"
      tail -n 1 "$FAKE_AWS/smoke" 2>/dev/null | grep -qx "$e -page-wait 10m" && pass "$cmd ends with the smoke test of $e" || fail "$cmd: no smoke test of $e"
      [ "$(cat "$FAKE_AWS/role")" = "arn:aws:iam::111111111111:role/GroupChat-prod-ApiGatewayCloudWatchRole" ] &&
        pass "API Gateway's logging role is prod's" || fail "logging role: $(cat "$FAKE_AWS/role" 2>/dev/null)" ;;
    "aws cognito-idp admin-create-user"*)
      exits 0 "inviting alice"
      # The pool is in the stack's region (cdk.json's, when set), not necessarily the CLI's.
      case "$cmd" in *" --region "*) pass "the invitation names the pool's region" ;; *) fail "the invitation runs in the CLI's region, not the pool's: $cmd" ;; esac ;;
    *) fail "no expectation for the documented step: $cmd" ;;
  esac
done <"$tmp/steps"
[ "$deploys" = 2 ] && pass "both stacks deployed, prod first" || fail "$deploys deploys ran"
# The table the docs show is the one the first preflight printed.
node -e '
  const fs = require("fs"), doc = fs.readFileSync(process.argv[1], "utf8"), table = fs.readFileSync(process.argv[2], "utf8");
  process.exit(doc.includes("```text\npreflight GroupChat-prod (make preflight ENV=prod)\n" + table + "```") ? 0 : 1);
' docs/deploy.md "$tmp/table" && pass "docs/deploy.md shows the first preflight's table as printed" ||
  { fail "docs/deploy.md's preflight table differs from what preflight prints:"; sed 's/^/    /' "$tmp/table" >&2; }

echo "--- the fakes fail as AWS does when the preflight is skipped"
fresh
cp "$tree/cdk.json" "$tmp/cdk.json"
echo 111111111111 >"$FAKE_AWS/account"
echo eu-west-1 >"$FAKE_AWS/region"
echo 30 >"$FAKE_AWS/bootstrap"
run "node_modules/.bin/cdk deploy -c env=prod GroupChat-prod --outputs-file cdk.out/o.json"
exits 1 "prod without the token fails in CloudFormation"
[ "$(cat "$FAKE_AWS/stacks/GroupChat-prod")" = ROLLBACK_FAILED ] && pass "and ends in ROLLBACK_FAILED (deletion protection)" || fail "prod: $(cat "$FAKE_AWS/stacks/GroupChat-prod")"
run "make preflight ENV=prod"
line FAIL "stack" "GroupChat-prod is ROLLBACK_FAILED after a failed first deploy: delete it before deploying again (docs/deploy.md, \"If the first deploy fails\")" "preflight: a stack left in ROLLBACK_FAILED"
mkdir -p "$FAKE_AWS/secrets"
printf 'github_pat_x' >"$FAKE_AWS/secrets/groupchat_github-token"
run "node_modules/.bin/cdk deploy -c env=dev GroupChat-dev --outputs-file cdk.out/o.json"
contains "CloudWatch Logs role ARN must be set in account settings to enable logging" "dev before prod fails in CloudFormation with API Gateway's message"

echo "--- make preflight, one thing wrong at a time"
# check NAME SETUP STATUS CHECK TEXT: a ready account, SETUP run in it, then
# preflight of ENV (default prod) has that row.
check() {
  rm -rf "$FAKE_AWS"
  scripts/fakes/ready-account "$FAKE_AWS"
  cp "$tmp/cdk.json" "$tree/cdk.json"
  (cd "$FAKE_AWS" && eval "$2")
  run "make preflight ENV=${ENV:-prod}"
  line "$3" "$4" "$5" "preflight: $1"
  case "$3" in
    FAIL) exits 2 "preflight fails: $1" ;;
    warn) exits 0 "preflight passes with a warning: $1" ;;
    *) exits 0 "preflight passes: $1" ;;
  esac
}
check "a ready account" ":" ok "GitHub token secret" "groupchat/github-token is readable"
check "the logging role prod created" ":" ok "API Gateway logging role" "set to GroupChat-prod's own role (arn:aws:iam::111111111111:role/GroupChat-prod-ApiGatewayCloudWatchRole)"
check "cdk.json's account is not the caller's" "node -e 'const f=\"$tree/cdk.json\",j=require(f);j.context.groupchat.prod.account=\"222222222222\";require(\"fs\").writeFileSync(f,JSON.stringify(j))'" \
  FAIL "account and region" "cdk.json puts GroupChat-prod in account 222222222222, your credentials are for 111111111111: use a profile of 222222222222"
check "a bootstrap too old" "echo 5 >bootstrap" FAIL "CDK bootstrap" "version 5, older than the 6 the templates require: make bootstrap ENV=prod"
check "no logging role and nobody manages it" "rm role; node -e 'const f=\"$tree/cdk.json\",j=require(f);delete j.context.groupchat.prod.manageApiGatewayAccountRole;require(\"fs\").writeFileSync(f,JSON.stringify(j))'" \
  FAIL "API Gateway logging role" "no environment manages it: add \"manageApiGatewayAccountRole\": true to groupchat.prod in cdk.json"
check "a logging role another stack set" "echo arn:aws:iam::111111111111:role/their-apigw-logs >role" \
  warn "API Gateway logging role" "set to arn:aws:iam::111111111111:role/their-apigw-logs, which GroupChat-prod did not create: this deploy points the setting at GroupChat-prod's own role; if another stack manages it, set groupchat.prod.manageApiGatewayAccountRole to false"
check "an empty token" ": >secrets/groupchat_github-token" FAIL "GitHub token secret" "holds no text: aws secretsmanager put-secret-value"
check "a token the caller may not read" "echo 'secretsmanager get-secret-value' >deny" warn "GitHub token secret" "not checked: your credentials may not read groupchat/github-token"
check "the repository out of reach" "touch offline" warn "Amplify branch" "could not list https://github.com/newcomer/groupchat's branches (private, or no network): make sure branch main exists"
check "a reservation the account cannot give" "echo '120 120' >lambda; node -e 'const f=\"$tree/cdk.json\",j=require(f);j.context.groupchat.prod.reservedConcurrency=50;require(\"fs\").writeFileSync(f,JSON.stringify(j))'" \
  FAIL "Lambda concurrency" "reservedConcurrency 50 would leave 70 of the account's 120 unreserved, below Lambda's minimum 100: lower it (0: none) or raise the limit: aws service-quotas request-service-quota-increase"
check "a new account's concurrency" "echo '10 10' >lambda" warn "Lambda concurrency" "the account's limit is 10 (a new account's): a busy room will be throttled"
check "an account throttle below the stage's" "echo '100.0 200' >throttle" warn "API Gateway throttle" "the stage allows 500/s, burst 1000, above the account's 100.0/s, burst 200"
check "an example alarm address" "node -e 'const f=\"$tree/cdk.json\",j=require(f);j.context.groupchat.prod.alarmEmail=\"ops@example.com\";require(\"fs\").writeFileSync(f,JSON.stringify(j))'" \
  FAIL "cdk.json values" "groupchat.prod.alarmEmail (ops@example.com): an address that reads the alarms"
check "a quote in a value" "node -e 'const f=\"$tree/cdk.json\",j=require(f);j.context.groupchat.prod.alarmEmail=\"o\x27neil@newcomer.dev\";require(\"fs\").writeFileSync(f,JSON.stringify(j))'" \
  ok "cdk.json values" "alarmEmail o'neil@newcomer.dev"
# What a newcomer meets with a token pasted in the console (key/value, the
# console's default), a blank one, or the repository's SSH address.
check "a token of blanks" "printf '  \\n ' >secrets/groupchat_github-token" FAIL "GitHub token secret" "holds no text: aws secretsmanager put-secret-value"
check "a token stored as key/value JSON" "printf '{\"token\":\"github_pat_x\"}' >secrets/groupchat_github-token" \
  FAIL "GitHub token secret" "holds JSON (key/value pairs), not the token alone: aws secretsmanager put-secret-value"
check "a token with a line break after it" "printf 'github_pat_x\\n' >secrets/groupchat_github-token" \
  warn "GitHub token secret" "has spaces or line breaks around the token"
check "the repository's SSH address" "node -e 'const f=\"$tree/cdk.json\",j=require(f);j.context.groupchat.prod.amplifyRepository=\"git@github.com:newcomer/groupchat.git\";require(\"fs\").writeFileSync(f,JSON.stringify(j))'" \
  FAIL "Amplify branch" "git@github.com:newcomer/groupchat.git is not of the form https://github.com/OWNER/REPO: Amplify connects with the token over https; set groupchat.prod.amplifyRepository to your fork's https address"
check "the repository's page address with a trailing slash" "node -e 'const f=\"$tree/cdk.json\",j=require(f);j.context.groupchat.prod.amplifyRepository=\"https://github.com/newcomer/groupchat/\";require(\"fs\").writeFileSync(f,JSON.stringify(j))'" \
  FAIL "Amplify branch" "https://github.com/newcomer/groupchat/ is not of the form https://github.com/OWNER/REPO"
if grep -q 'git@github.com' "$FAKE_AWS/git" 2>/dev/null; then fail "preflight ran git on the SSH address (ssh may ask about the host key and wait)"; else pass "preflight runs no ssh"; fi
# A stack a change set left in REVIEW_IN_PROGRESS (cdk deploy --method=prepare-change-set, a change set made in
# the console) holds no resources and never leaves that state by itself; the CDK deploys over it.
check "a stack a change set left in review" "echo REVIEW_IN_PROGRESS >stacks/GroupChat-prod" \
  ok "stack" "GroupChat-prod is REVIEW_IN_PROGRESS (a change set never executed, no resources): this deploy creates it"
check "an update that rolled back" "echo UPDATE_ROLLBACK_COMPLETE >stacks/GroupChat-prod" ok "stack" "GroupChat-prod exists (UPDATE_ROLLBACK_COMPLETE): this deploy updates it"
# ROLLBACK_COMPLETE: the rollback deleted everything (RetainExceptOnCreate); the CDK deletes such a stack
# itself before creating it again. ROLLBACK_FAILED (protected tables left) needs the hand steps.
check "a failed first deploy that rolled back" "echo ROLLBACK_COMPLETE >stacks/GroupChat-prod" \
  ok "stack" "GroupChat-prod is ROLLBACK_COMPLETE (a failed first deploy, rolled back: nothing left in it): this deploy deletes it and creates it again"
check "a stack whose delete failed" "echo DELETE_FAILED >stacks/GroupChat-prod" \
  FAIL "stack" "GroupChat-prod is DELETE_FAILED (a delete left resources it could not remove; its events name them): delete it again, keeping those: aws cloudformation delete-stack --region eu-west-1 --stack-name GroupChat-prod --retain-resources LOGICAL_ID"
# A pipeline's role that may call sts and nothing else: every check it cannot make is a warning.
check "credentials that may call sts only" "printf '%s\\n' 'cloudformation describe-stacks' 'ssm get-parameter' 'apigateway get-account' 'secretsmanager get-secret-value' 'lambda get-account-settings' >deny" \
  warn "Lambda concurrency" "not checked: your credentials may not read Lambda's account settings"
[ "$(grep -c '^warn ' "$tmp/out")" = 5 ] && pass "sts only: five warnings" || { fail "sts only: want five warn rows:"; show; }
# AWS throttles API Gateway's GetAccount hard; the CLI retries, then gives up. That is not the account's fault.
check "a throttled call" "echo 'apigateway get-account' >throttled" \
  warn "API Gateway logging role" "not checked: AWS throttled the call after the CLI's retries (An error occurred (TooManyRequestsException) when calling the get-account operation: Too Many Requests): run make preflight again"
# A named profile without a region of its own (an SSO profile written by hand): the CDK CLI then takes the
# default profile's region, and so must the preflight, or it checks another region than the deploy uses.
rm -rf "$FAKE_AWS"; scripts/fakes/ready-account "$FAKE_AWS"; cp "$tmp/cdk.json" "$tree/cdk.json"
run "AWS_PROFILE=sso make preflight ENV=prod"
line ok "account and region" "111111111111, eu-west-1 (region from your AWS profile default)" "preflight: a profile without a region takes the default profile's, as the CDK CLI"
run "make preflight ENV=nope"
contains "preflight: unknown environment nope: cdk.json defines dev, prod" "an unknown environment is named"

echo "--- make smoke looks for the stack where the deploy put it: cdk.json's region over AWS_REGION"
mkdir -p "$tmp/smoke/scripts" "$tmp/gobin"
cp scripts/smoke.sh "$tmp/smoke/scripts/"
node -e 'const fs=require("fs"),j=JSON.parse(fs.readFileSync(process.argv[1]));j.context.groupchat.prod.region="eu-central-1";fs.writeFileSync(process.argv[2],JSON.stringify(j))' cdk.json "$tmp/smoke/cdk.json"
printf '#!/usr/bin/env bash\necho "go $* AWS_REGION=${AWS_REGION:-} AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-}"\n' >"$tmp/gobin/go"
chmod +x "$tmp/gobin/go"
set +e
(cd "$tmp/smoke" && env -i PATH="$tmp/gobin:$tmp/bin" HOME="$tmp" AWS_REGION=us-east-1 bash scripts/smoke.sh prod) >"$tmp/out" 2>&1
rc=$?
set -e
exits 0 "smoke.sh prod with AWS_REGION=us-east-1"
contains "run ./cmd/smoke -stack GroupChat-prod AWS_REGION=eu-central-1 AWS_DEFAULT_REGION=eu-central-1" "smoke.sh prod reads the stack in cdk.json's region eu-central-1, where make deploy put it"
(cd "$tmp/smoke" && env -i PATH="$tmp/gobin:$tmp/bin" HOME="$tmp" AWS_REGION=us-east-1 bash scripts/smoke.sh dev) >"$tmp/out" 2>&1
contains "AWS_REGION=us-east-1 " "smoke.sh dev (no region in cdk.json) keeps AWS_REGION"
# No region anywhere but the default profile's, with AWS_PROFILE naming a profile without one: the CDK
# CLI deployed to the default profile's region; the smoke test's SDK would find none.
rm -rf "$FAKE_AWS"; scripts/fakes/ready-account "$FAKE_AWS"
(cd "$tmp/smoke" && env -i PATH="$tmp/gobin:$tmp/bin" HOME="$tmp" FAKE_AWS="$FAKE_AWS" AWS_PROFILE=sso bash scripts/smoke.sh dev) >"$tmp/out" 2>&1
contains "AWS_REGION=eu-west-1 " "smoke.sh dev with a profile without a region reads the stack in the default profile's, as the CDK CLI deployed it"

echo "--- macOS's bash 3.2 parses the deploy's scripts"
# Bash 3.2 tracks quotes inside a here-document that sits in a command
# substitution: an odd number of apostrophes there ("Gateway's") makes the
# whole script a syntax error (unexpected EOF while looking for matching).
for f in scripts/*.sh scripts/lib/*.sh; do
  if grep -nE '\$\([^)]*<<' "$f" >"$tmp/out"; then
    fail "$f has a here-document inside \$(…), which macOS's bash 3.2 mis-parses:"; show
  fi
done
pass "checked every script for a here-document inside \$(…)"
# What the deploy runs (the synth builds the Lambda with build-lambda.sh) uses no GNU-only tool option:
# macOS has BSD's stat, sed, readlink, date, grep and xargs.
for f in scripts/cdk.sh scripts/deps.sh scripts/build-lambda.sh scripts/preflight.sh scripts/frontend-release.sh scripts/smoke.sh scripts/lib/*.sh; do
  if grep -nE '(^|[^[:alnum:]_])(stat -c|sed -i|readlink -f|date -d|grep -[a-zA-Z]*P|xargs -r|nproc)([^[:alnum:]_]|$)|/proc/' "$f" >"$tmp/out"; then
    fail "$f uses a GNU-only option macOS lacks:"; show
  fi
done
pass "checked the deploy's scripts for GNU-only options"

echo "--- npx cdk runs the pinned CLI only after npm ci: the docs say npm ci first"
for doc in README.md docs/deploy.md; do
  first_npx="$(grep -n 'npx cdk' "$doc" | head -n 1 | cut -d: -f1)"
  first_ci="$(grep -n 'npm ci' "$doc" | head -n 1 | cut -d: -f1)"
  if [ -n "$first_ci" ] && { [ -z "$first_npx" ] || [ "$first_ci" -le "$first_npx" ]; }; then
    pass "$doc shows npm ci before npx cdk"
  else
    fail "$doc mentions npx cdk (line $first_npx) before npm ci (line ${first_ci:-none}): in a fresh clone npx runs another package, cdk"
  fi
done

# The bootstrap version preflight wants is the one the templates check.
min="$(sed -n 's/^min_bootstrap=//p' scripts/preflight.sh)"
if [ -f cdk.out/GroupChat-prod.template.json ]; then
  grep -qF "CDK bootstrap stack version $min required" cdk.out/GroupChat-prod.template.json &&
    pass "preflight wants bootstrap version $min, as the synthesized template does" || fail "cdk.out/GroupChat-prod.template.json requires another bootstrap version than $min"
fi

if [ "$failures" -gt 0 ]; then
  echo "test-deploy: $failures failed" >&2
  exit 1
fi
echo "test-deploy: ok"
