#!/usr/bin/env bash
# Builds the Go vulnerability database that govulncheck reads with -db file://DIR,
# offline, from the advisories the golang.org/x/vulndb module carries in data/osv
# (indexed by its cmd/indexdb), and prints DIR. Built once per version, into the
# user's cache. Newer advisories: set version to `go list -m golang.org/x/vulndb@latest`.
set -euo pipefail
version=v0.0.0-20261105234957-e22db6528018
cd "$(dirname "$0")/.."
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" # at least the Go release go.mod's toolchain line pins
cache="${XDG_CACHE_HOME:-$HOME/.cache}/groupchat-vulndb"
db="$cache/$version"
if [ ! -f "$db/index/db.json" ]; then
  start=$SECONDS
  mkdir -p "$cache"
  src=$(go mod download -json "golang.org/x/vulndb@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  tmp=$(mktemp -d "$cache/build.XXXXXX")
  # indexdb's own module (go.mod, go.sum) pins what it builds with: none of it enters ours.
  go run "golang.org/x/vulndb/cmd/indexdb@$version" -vulns "$src/data/osv" -out "$tmp"
  # Another lint may have built it meanwhile: keep the first, drop older versions.
  mv -T "$tmp" "$db" 2>/dev/null || rm -rf "$tmp"
  find "$cache" -mindepth 1 -maxdepth 1 -name 'v*' ! -name "$version" -exec rm -rf {} +
  echo "vulndb: built $version in $((SECONDS - start))s" >&2
fi
echo "$db"
