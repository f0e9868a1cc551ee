#!/usr/bin/env bash
# Checks, with the AWS CLI and your credentials, what deploying ENV depends on
# outside this repository, and prints one table: every failing line says how
# to fix it. `make preflight ENV=…`; `make deploy` runs it first and stops on a
# failure, before CloudFormation creates anything (a failed first deploy of a
# stack with deletion protection ends in ROLLBACK_FAILED; docs/deploy.md).
#   preflight.sh ENV
# Checks: credentials; the account and region the stack will use; the stack's
# state; the CDK bootstrap and its version; API Gateway's account-level
# CloudWatch role (set, or created by this stack; another environment that
# manages it must deploy first); the GitHub token secret; the Amplify branch
# in the repository (git ls-remote); cdk.json's example values; Lambda's
# concurrency and API Gateway's throttle against the environment's settings.
# A check your credentials may not make (AccessDenied), or a call AWS
# throttled past the CLI's retries, is a warning.
set -euo pipefail
cd "$(dirname "$0")/.."
env="${1:?usage: preflight.sh ENV}"
. scripts/lib/aws-credentials.sh
need_credentials "preflight"

# The CDK's bootstrap version the synthesized templates require (their
# CheckBootstrapVersion rule; scripts/test-deploy.sh checks it against one).
min_bootstrap=6
# Lambda keeps this much of the account's concurrency unreserved.
min_unreserved=100

# The facts the checks need, from cdk.json over the stack's defaults
# (scripts/preflight-defaults.json; infra/stack's tests hold it to Defaults),
# as shell assignments c_KEY='VALUE' (plain variables: macOS ships bash 3.2,
# which also mis-parses a here-document inside $(…): the program is a function's).
config_js() {
  cat <<'EOF'
const fs = require('fs');
const [env] = process.argv.slice(2);
const context = JSON.parse(fs.readFileSync('cdk.json', 'utf8')).context || {};
const all = context.groupchat || {};
const defaults = JSON.parse(fs.readFileSync('scripts/preflight-defaults.json', 'utf8'));
if (!all[env]) {
  console.error(`preflight: unknown environment ${env}: cdk.json defines ${Object.keys(all).sort().join(', ')}`);
  process.exit(2);
}
const c = { ...defaults, ...all[env] };
const out = {
  stack: `GroupChat-${env}`, account: c.account || '', region: c.region || '',
  manages: String(!!c.manageApiGatewayAccountRole), secret: c.githubTokenSecretName,
  repository: c.amplifyRepository || '', branch: c.amplifyBranch, alarmEmail: c.alarmEmail || '',
  reserved: String(c.reservedConcurrency), rate: String(c.throttleRateLimit), burst: String(c.throttleBurstLimit),
  qualifier: context['@aws-cdk/core:bootstrapQualifier'] || 'hnb659fds',
  // The other environments that manage API Gateway's role: name:account:region.
  owners: Object.entries(all).filter(([n, e]) => n !== env && e.manageApiGatewayAccountRole)
    .map(([n, e]) => `${n}:${e.account || ''}:${e.region || ''}`).join(' '),
};
for (const [k, v] of Object.entries(out)) console.log(`c_${k}='${String(v).replace(/'/g, "'\\''")}'`);
EOF
}
cfg="$(config_js | node - "$env")"
eval "$cfg"

failed=0 warned=0
row() { # STATUS CHECK DETAIL
  printf '%-5s %-26s %s\n' "$1" "$2" "$3"
  case "$1" in FAIL) failed=$((failed + 1)) ;; warn) warned=$((warned + 1)) ;; esac
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# q ARGS: the AWS CLI in the stack's region, text output; its error in $tmp/err.
q() { aws --region "$region" --output text "$@" 2>"$tmp/err"; }
err1() { grep -v '^[[:space:]]*$' "$tmp/err" | head -n 1 | cut -c1-160; }
denied() { grep -qE 'AccessDenied|UnauthorizedOperation|not authorized' "$tmp/err"; }
# unchecked CHECK WHAT: a warning row when the call was refused for want of
# a permission (a pipeline's narrow role) or throttled past the CLI's
# retries (API Gateway's GetAccount is, often): neither is the account's
# fault, and neither stops a deploy. False otherwise.
unchecked() {
  if denied; then
    row warn "$1" "not checked: your credentials may not $2 ($(err1))"
  elif grep -qE 'Throttl|TooManyRequests|Rate exceeded' "$tmp/err"; then
    row warn "$1" "not checked: AWS throttled the call after the CLI's retries ($(err1)): run make preflight again"
  else
    return 1
  fi
}

echo "preflight ${c_stack} (make preflight ENV=$env)"
printf '%-5s %-26s %s\n' "" "check" "result"

# Credentials, account and region: the account the CLI's credentials belong
# to; the region of cdk.json, else the one the CDK CLI takes (AWS_REGION,
# AWS_DEFAULT_REGION, the profile's, the default profile's, else us-east-1).
read -r caller arn <<<"$(aws sts get-caller-identity --query '[Account,Arn]' --output text)"
row ok "credentials" "$arn"
region="${c_region}" from="cdk.json"
if [ -z "$region" ]; then
  if [ -n "${AWS_REGION:-}" ]; then region="$AWS_REGION" from="AWS_REGION"
  elif [ -n "${AWS_DEFAULT_REGION:-}" ]; then region="$AWS_DEFAULT_REGION" from="AWS_DEFAULT_REGION"
  elif region="$(aws configure get region 2>/dev/null)" && [ -n "$region" ]; then from="your AWS profile"
  # The CDK CLI then reads the default profile's (the AWS CLI does not).
  elif region="$(aws configure get region --profile default 2>/dev/null)" && [ -n "$region" ]; then from="your AWS profile default"
  else region="us-east-1" from="the CDK's default: set AWS_REGION or groupchat.$env.region for another"
  fi
fi
if [ -n "${c_account}" ] && [ "${c_account}" != "$caller" ]; then
  row FAIL "account and region" "cdk.json puts ${c_stack} in account ${c_account}, your credentials are for $caller: use a profile of ${c_account} (export AWS_PROFILE=NAME)"
else
  row ok "account and region" "$caller, $region (region from $from)"
fi

# The stack's state: one a failed create left behind must be deleted first.
if status="$(q cloudformation describe-stacks --stack-name "${c_stack}" --query 'Stacks[0].StackStatus')"; then
  case "$status" in
    ROLLBACK_COMPLETE) # the CDK deletes it before it creates the stack again
      row ok "stack" "${c_stack} is ROLLBACK_COMPLETE (a failed first deploy, rolled back: nothing left in it): this deploy deletes it and creates it again" ;;
    DELETE_FAILED)
      row FAIL "stack" "${c_stack} is DELETE_FAILED (a delete left resources it could not remove; its events name them): delete it again, keeping those: aws cloudformation delete-stack --region $region --stack-name ${c_stack} --retain-resources LOGICAL_ID" ;;
    ROLLBACK_FAILED)
      row FAIL "stack" "${c_stack} is $status after a failed first deploy: delete it before deploying again (docs/deploy.md, \"If the first deploy fails\")" ;;
    REVIEW_IN_PROGRESS) # never ends by itself; the CDK deploys over it
      row ok "stack" "${c_stack} is REVIEW_IN_PROGRESS (a change set never executed, no resources): this deploy creates it" ;;
    *_IN_PROGRESS) row FAIL "stack" "${c_stack} is $status: wait for it to end (aws cloudformation describe-stacks --stack-name ${c_stack})" ;;
    UPDATE_ROLLBACK_FAILED) row FAIL "stack" "${c_stack} is UPDATE_ROLLBACK_FAILED: aws cloudformation continue-update-rollback --stack-name ${c_stack}, then deploy again" ;;
    *) row ok "stack" "${c_stack} exists ($status): this deploy updates it" ;;
  esac
elif grep -q 'does not exist' "$tmp/err"; then
  row ok "stack" "${c_stack} does not exist yet: this deploy creates it"
elif unchecked "stack" "describe stacks"; then :
else
  row FAIL "stack" "cloudformation describe-stacks failed: $(err1)"
fi

# The CDK bootstrap: the version the bootstrap stack writes to SSM.
param="/cdk-bootstrap/${c_qualifier}/version"
if version="$(q ssm get-parameter --name "$param" --query Parameter.Value)"; then
  if [ "$version" -ge "$min_bootstrap" ] 2>/dev/null; then
    row ok "CDK bootstrap" "version $version (at least $min_bootstrap)"
  else
    row FAIL "CDK bootstrap" "version $version, older than the $min_bootstrap the templates require: make bootstrap ENV=$env (updates the CDKToolkit stack)"
  fi
elif grep -q ParameterNotFound "$tmp/err"; then
  row FAIL "CDK bootstrap" "account $caller, region $region is not bootstrapped (no SSM parameter $param): make bootstrap ENV=$env"
elif unchecked "CDK bootstrap" "read SSM parameter $param"; then :
else
  row FAIL "CDK bootstrap" "ssm get-parameter $param failed: $(err1)"
fi

# API Gateway's account-level CloudWatch role, and its account throttle.
rate_limit="" burst_limit=""
if account="$(q apigateway get-account --query '[cloudwatchRoleArn,throttleSettings.rateLimit,throttleSettings.burstLimit]')"; then
  read -r role rate_limit burst_limit <<<"$account"
  [ "$role" != None ] || role=""
  owner=""
  for o in ${c_owners}; do
    IFS=: read -r name oacct oregion <<<"$o"
    if [ "${oacct:-$caller}" = "$caller" ] && [ "${oregion:-$region}" = "$region" ]; then owner="$name"; fi
  done
  if [ "${c_manages}" = true ]; then
    if [ -n "$role" ] && [[ "$role" != *":role/${c_stack}-ApiGatewayCloudWatchRole"* ]]; then
      row warn "API Gateway logging role" "set to $role, which ${c_stack} did not create: this deploy points the setting at ${c_stack}'s own role; if another stack manages it, set groupchat.$env.manageApiGatewayAccountRole to false"
    elif [ -n "$role" ]; then
      row ok "API Gateway logging role" "set to ${c_stack}'s own role ($role)"
    else
      row ok "API Gateway logging role" "not set yet: ${c_stack} creates it (manageApiGatewayAccountRole)"
    fi
  elif [ -n "$role" ]; then
    row ok "API Gateway logging role" "set: $role"
  elif [ -n "$owner" ]; then
    row FAIL "API Gateway logging role" "not set in $caller/$region, and groupchat.$owner manages it: make deploy ENV=$owner first (the stage logs, and API Gateway refuses a logging stage until the role is set)"
  else
    row FAIL "API Gateway logging role" "not set in $caller/$region, and no environment manages it: add \"manageApiGatewayAccountRole\": true to groupchat.$env in cdk.json (docs/deploy.md, \"API Gateway's account-level CloudWatch role\")"
  fi
elif unchecked "API Gateway logging role" "read API Gateway's account settings"; then :
else
  row FAIL "API Gateway logging role" "apigateway get-account failed: $(err1)"
fi

# The GitHub token: CloudFormation resolves the secret when it creates the
# Amplify app, and passes its whole text as the token. Its kind only, never
# its value: the value goes through a pipe to awk, which prints one word.
# (The CLI's text output ends with a line break; a blank token, JSON from the
# console's key/value editor, or a line break pasted after the token are what
# GitHub refuses.)
put="aws secretsmanager put-secret-value --region $region --secret-id ${c_secret} --secret-string 'github_pat_…'"
if kind="$(q secretsmanager get-secret-value --secret-id "${c_secret}" --query SecretString |
  awk '{ v = v (NR > 1 ? "\n" : "") $0 } END { t = v; gsub(/[ \t\r\n]/, "", t)
    if (t == "") print "blank"; else if (v == "None") print "binary"; else if (t ~ /^[{]/) print "json"
    else if (t != v) print "spaces"; else print "ok" }')"; then
  case "$kind" in
    ok) row ok "GitHub token secret" "${c_secret} is readable" ;;
    blank) row FAIL "GitHub token secret" "${c_secret} holds no text: $put" ;;
    binary) row FAIL "GitHub token secret" "${c_secret} holds binary data, not the token's text: $put" ;;
    json) row FAIL "GitHub token secret" "${c_secret} holds JSON (key/value pairs), not the token alone: $put (Amplify would send the JSON to GitHub as the token)" ;;
    *) row warn "GitHub token secret" "${c_secret} has spaces or line breaks around the token, which Amplify may send to GitHub with it: $put" ;;
  esac
elif grep -q ResourceNotFoundException "$tmp/err"; then
  row FAIL "GitHub token secret" "${c_secret} does not exist in $region: aws secretsmanager create-secret --region $region --name ${c_secret} --secret-string 'github_pat_…' (docs/deploy.md, \"GitHub access\")"
elif unchecked "GitHub token secret" "read ${c_secret}"; then :
else
  row FAIL "GitHub token secret" "${c_secret}: $(err1)"
fi

# The branch Amplify builds, in the repository (public: no token needed).
# Amplify connects to an https URL with the token (infra/stack/config.go's
# check at synth); git is not run on another form: ssh may ask about the host
# key and wait.
limit_time=()
if command -v timeout >/dev/null; then limit_time=(timeout 30); fi # not on macOS
if ! printf '%s' "${c_repository}" | grep -qE '^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$'; then
  row FAIL "Amplify branch" "${c_repository} is not of the form https://github.com/OWNER/REPO: Amplify connects with the token over https; set groupchat.$env.amplifyRepository to your fork's https address"
elif heads="$(GIT_TERMINAL_PROMPT=0 ${limit_time[@]+"${limit_time[@]}"} git ls-remote --heads -- "${c_repository}" "refs/heads/${c_branch}" 2>"$tmp/err")"; then
  if [ -n "$heads" ]; then
    row ok "Amplify branch" "${c_repository} has branch ${c_branch}"
  else
    row FAIL "Amplify branch" "${c_repository} has no branch ${c_branch}: push one (git push origin main:${c_branch}) or set groupchat.$env.amplifyBranch"
  fi
else
  row warn "Amplify branch" "could not list ${c_repository}'s branches (private, or no network): make sure branch ${c_branch} exists"
fi

# cdk.json's example values (infra/stack/examples.go).
examples=()
if [ "$(printf '%s' "${c_repository%.git}" | tr '[:upper:]' '[:lower:]')" = "https://github.com/groupchat/groupchat" ]; then
  examples+=("groupchat.$env.amplifyRepository (${c_repository}): your fork's https URL")
fi
if printf '%s' "${c_alarmEmail}" | grep -qiE '@example\.(com|net|org)$'; then
  examples+=("groupchat.$env.alarmEmail (${c_alarmEmail}): an address that reads the alarms")
fi
if [ "${#examples[@]}" -gt 0 ]; then
  row FAIL "cdk.json values" "still the example: $(printf '%s; ' "${examples[@]}")set them in cdk.json"
else
  row ok "cdk.json values" "amplifyRepository ${c_repository}${c_alarmEmail:+, alarmEmail ${c_alarmEmail}}"
fi

# Lambda: a reservation must leave the account 100 unreserved; a new
# account's limit of 10 throttles a busy room.
if limits="$(q lambda get-account-settings --query '[AccountLimit.ConcurrentExecutions,AccountLimit.UnreservedConcurrentExecutions]')"; then
  read -r limit unreserved <<<"$limits"
  increase="aws service-quotas request-service-quota-increase --region $region --service-code lambda --quota-code L-B99A9384 --desired-value 1000"
  if [ "${c_reserved}" -gt 0 ] && [ $((unreserved - c_reserved)) -lt "$min_unreserved" ]; then
    row FAIL "Lambda concurrency" "reservedConcurrency ${c_reserved} would leave $((unreserved - c_reserved)) of the account's $unreserved unreserved, below Lambda's minimum $min_unreserved: lower it (0: none) or raise the limit: $increase"
  elif [ "$limit" -lt "$min_unreserved" ]; then
    row warn "Lambda concurrency" "the account's limit is $limit (a new account's): a busy room will be throttled; raise it: $increase"
  else
    row ok "Lambda concurrency" "account limit $limit, $unreserved unreserved, reservedConcurrency ${c_reserved}"
  fi
elif unchecked "Lambda concurrency" "read Lambda's account settings"; then :
else
  row FAIL "Lambda concurrency" "lambda get-account-settings failed: $(err1)"
fi

# API Gateway: the stage's throttle above the account's is capped by it.
if [ -n "$rate_limit" ] && [ "$rate_limit" != None ]; then
  if awk -v s="${c_rate}" -v a="$rate_limit" -v sb="${c_burst}" -v ab="$burst_limit" 'BEGIN { exit !(s + 0 > a + 0 || sb + 0 > ab + 0) }'; then
    row warn "API Gateway throttle" "the stage allows ${c_rate}/s, burst ${c_burst}, above the account's ${rate_limit}/s, burst $burst_limit, which applies first: lower throttleRateLimit/throttleBurstLimit, or ask for more (Service Quotas, Amazon API Gateway, \"Throttle rate\")"
  else
    row ok "API Gateway throttle" "stage ${c_rate}/s, burst ${c_burst}, within the account's ${rate_limit}/s, burst $burst_limit"
  fi
fi

if [ "$failed" -gt 0 ]; then
  echo "preflight: $failed check(s) failed: fix them, then make preflight ENV=$env again"
  exit 1
fi
if [ "$warned" -gt 0 ]; then
  echo "preflight: ready to deploy ${c_stack} ($warned warning(s) above)"
else
  echo "preflight: ready to deploy ${c_stack}"
fi
