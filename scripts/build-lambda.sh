#!/usr/bin/env bash
# Builds the Lambda for provided.al2023 on arm64: a static, stripped binary
# named bootstrap, without the RPC shim (lambda.norpc). Usage: build-lambda.sh OUTDIR
# LAMBDA_GOARCH (default arm64, Lambda's) builds the same binary for another
# architecture: the local stack's execution environments run it on this
# machine (LAMBDA_GOARCH=$(go env GOARCH), docs/local.md).
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" # at least the Go release go.mod's toolchain line pins
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: build-lambda.sh OUTDIR}"
mkdir -p "$out"
cd "$root"
CGO_ENABLED=0 GOOS=linux GOARCH="${LAMBDA_GOARCH:-arm64}" go build -trimpath -tags lambda.norpc -ldflags='-s -w' -o "$out/bootstrap" ./lambda
echo "built $out/bootstrap ($(wc -c <"$out/bootstrap" | tr -d " ") bytes)" # wc: macOS's stat lacks -c
