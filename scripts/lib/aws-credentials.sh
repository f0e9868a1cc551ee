# Sourced by the scripts that talk to AWS (cdk.sh bootstrap|diff|deploy,
# preflight.sh). need_credentials WHO: with no usable credentials, one line
# that says so and how to provide them, and exit 1, before the CDK CLI spends
# half a minute probing for them and then prints "Unable to resolve AWS
# account to use" twice without naming credentials.
need_credentials() {
  local who="$1" err reason
  if ! command -v aws >/dev/null; then
    echo "$who: the AWS CLI (v2) is not installed; it checks your AWS credentials before the CDK runs: install it (docs/deploy.md, \"Prerequisites\")" >&2
    exit 1
  fi
  if err="$(aws sts get-caller-identity --query Account --output text 2>&1 >/dev/null)"; then
    return 0
  fi
  case "$err" in
    *"Unable to locate credentials"* | *NoCredentials*) reason="none found" ;;
    *xpired*) reason="they have expired" ;;
    *"profile"*"could not be found"*) reason="the profile ${AWS_PROFILE:-} does not exist" ;;
    *) reason="$(printf '%s' "$err" | grep -v '^[[:space:]]*$' | head -n 1 | cut -c1-120)" ;;
  esac
  echo "$who: no usable AWS credentials ($reason): run \`aws configure\` (access keys) or \`aws sso login --profile NAME\`, then \`export AWS_PROFILE=NAME\` (docs/deploy.md, \"Prerequisites\")" >&2
  exit 1
}
