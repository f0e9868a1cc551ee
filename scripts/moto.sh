#!/usr/bin/env bash
# Installs moto's server, pinned, into a project-local virtual environment
# (.venv-moto, reinstalled when the requirements file changed) and prints the
# path of its moto_server. local/ddbproxy/moto_test.go runs it to compare the
# proxy's TransactWriteItems with a second implementation of DynamoDB's API.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-moto
req=local/ddbproxy/testdata/requirements-moto.txt
stamp="$venv/.requirements-moto.txt"
if [ ! -x "$venv/bin/moto_server" ] || ! cmp -s "$req" "$stamp"; then
  command -v python3 >/dev/null || { echo "moto: python3 is required" >&2; exit 1; }
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  cp "$req" "$stamp"
fi
echo "$PWD/$venv/bin/moto_server"
