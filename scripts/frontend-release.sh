#!/usr/bin/env bash
# After a deploy, makes sure the environment's page is built with the deployed
# WebSocket URL and sign-in client. Amplify writes GROUPCHAT_WS_URL into config.json at build time
# (frontend/build/runtime-config.ts) and builds only when the branch is pushed,
# so the first deploy leaves FrontendURL serving nothing, and a deploy that
# changes the URL (a replaced API, another stage name) leaves the page on the
# old one until the next push.
#   frontend-release.sh STACK OUTPUTS_JSON TEMPLATE_JSON
# OUTPUTS_JSON is what `cdk deploy --outputs-file` wrote, TEMPLATE_JSON the
# stack's synthesized template (it names the Amplify branch). The page's
# config.json is fetched: when it is missing, names another URL, or another
# user pool client than the stack's UserPoolClientId output (sign-in was
# turned on, off, or the pool replaced), a RELEASE
# job of the branch is started with the AWS CLI, or, without the CLI, the
# command to run is printed.
set -euo pipefail
stack="${1:?usage: frontend-release.sh STACK OUTPUTS_JSON TEMPLATE_JSON}"
outputs="${2:?usage: frontend-release.sh STACK OUTPUTS_JSON TEMPLATE_JSON}"
template="${3:?usage: frontend-release.sh STACK OUTPUTS_JSON TEMPLATE_JSON}"

# One line each: why (what the page's config.json is missing, empty when it is
# current; first, as $(...) drops trailing empty lines), appId, branch,
# region, wsUrl, pageUrl.
# (The program is a function's: macOS's bash 3.2 mis-parses a here-document
# inside $(…).)
facts_js() {
  cat <<'EOF'
const fs = require('fs');
const [stack, outputsFile, templateFile] = process.argv.slice(2);
const fail = (msg) => { console.error(`frontend-release: ${msg}`); process.exit(1); };
const out = (JSON.parse(fs.readFileSync(outputsFile, 'utf8')) || {})[stack];
if (!out) fail(`${outputsFile} has no outputs of ${stack}`);
for (const k of ['AmplifyAppId', 'WebSocketURL', 'FrontendURL', 'AlarmTopicArn']) {
  if (!out[k]) fail(`${outputsFile}: ${stack} has no ${k} output`);
}
const branches = Object.values(JSON.parse(fs.readFileSync(templateFile, 'utf8')).Resources || {})
  .filter((r) => r.Type === 'AWS::Amplify::Branch').map((r) => r.Properties.BranchName);
if (branches.length !== 1 || typeof branches[0] !== 'string') fail(`${templateFile}: want one Amplify branch with a literal name, found ${JSON.stringify(branches)}`);
(async () => {
  let served = null;
  try {
    const res = await fetch(new URL('config.json', out.FrontendURL.replace(/\/?$/, '/')), { signal: AbortSignal.timeout(10000) });
    if (res.ok) served = await res.json();
  } catch { /* not built yet, or not reachable from here: build */ }
  const client = out.UserPoolClientId || '';
  let why = '';
  if (!served || !served.wsUrl) why = 'serves no config.json (never built, or a build is still running)';
  else if (served.wsUrl !== out.WebSocketURL) why = `uses ${served.wsUrl}, not ${out.WebSocketURL}`;
  else if ((served.userPoolClientId || '') !== client) why = `signs in with client "${served.userPoolClientId || ''}", not "${client}"`;
  const facts = {
    why,
    appId: out.AmplifyAppId,
    branch: branches[0],
    // The stack's region: the outputs do not name it, an ARN does.
    region: out.AlarmTopicArn.split(':')[3],
    wsUrl: out.WebSocketURL,
    pageUrl: out.FrontendURL,
  };
  for (const [k, v] of Object.entries(facts)) {
    if (/\n/.test(v)) fail(`unexpected ${k}: ${JSON.stringify(v)}`);
    console.log(v);
  }
})();
EOF
}
facts="$(facts_js | node - "$stack" "$outputs" "$template")"
{ read -r why; read -r app_id; read -r branch; read -r region; read -r ws_url; read -r page_url; } <<<"$facts"

if [ -z "$why" ]; then
  echo "frontend-release: $page_url already uses $ws_url; no build needed"
  exit 0
fi
start=(aws amplify start-job --region "$region" --app-id "$app_id" --branch-name "$branch" --job-type RELEASE)
printf -v cmdline '%q ' "${start[@]}"
if ! command -v aws >/dev/null; then
  echo "frontend-release: $page_url $why; the AWS CLI is not installed, so build it with:"
  echo "  ${cmdline% }"
  exit 0
fi
echo "frontend-release: $page_url $why; starting a build of branch $branch"
if ! "${start[@]}" --query 'jobSummary.jobId' --output text; then
  echo "frontend-release: the stack is deployed but the build did not start; start it with:" >&2
  echo "  ${cmdline% }" >&2
  exit 1
fi
echo "frontend-release: the page serves the new URL when the build ends (Amplify console: app $app_id, branch $branch)"
