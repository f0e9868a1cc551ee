#!/usr/bin/env bash
# gofmt, goimports, a tidy go.mod, go vet, staticcheck and govulncheck. The Go
# toolchain is the one go.mod's toolchain line pins (GOTOOLCHAIN=auto), the tools
# are pinned by its tool directives, the vulnerability database by scripts/vulndb.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
fail() { echo "lint: $1"; echo "$2"; exit 1; }
files=$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')
out=$("$(go env GOROOT)/bin/gofmt" -l $files)
[ -z "$out" ] || fail "gofmt would change:" "$out"
out=$(go tool goimports -local github.com/groupchat/groupchat -l $files)
[ -z "$out" ] || fail "goimports -local github.com/groupchat/groupchat -w would change:" "$out"
out=$(go mod tidy -diff) || fail "go.mod or go.sum is not tidy; go mod tidy would change:" "$out"
# No source file over 500 lines (the house rule; generated files and docs aside).
out=$(git ls-files '*.go' '*.ts' '*.sh' '*.py' '*.css' '*.html' | grep -v -e '_gen\.go$' -e '\.gen\.ts$' |
  xargs wc -l | awk '$2 != "total" && $1 > 500 { print "  " $2 ": " $1 " lines" }')
[ -z "$out" ] || fail "source files over 500 lines (split them by what they do):" "$out"
go vet ./...
go tool staticcheck ./...
go tool govulncheck -db "file://$(scripts/vulndb.sh)" ./...
echo "lint: ok"
