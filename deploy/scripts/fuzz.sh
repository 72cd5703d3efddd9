#!/usr/bin/env bash
# Runs every fuzz target of the workspace (every `func FuzzXxx(f *testing.F)`
# in a _test.go file) for FUZZTIME each, so a new target is fuzzed without
# anyone remembering to list it. Their seed corpora already run in `make test`.
# FUZZ narrows the targets by name (a grep -E pattern).
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZTIME="${FUZZTIME:-20s}"
FUZZ="${FUZZ:-.}"
found=0
while IFS=: read -r file _ line; do
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
  grep -Eq -- "$FUZZ" <<<"$name" || continue
  dir=$(dirname "$file")
  # go test -fuzz runs in one package: find the module that holds it.
  mod=$dir
  until [[ -f $mod/go.mod ]]; do mod=$(dirname "$mod"); done
  echo "== fuzz $name in ${dir#./} for $FUZZTIME"
  (cd "$mod" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "./${dir#"$mod"/}")
  found=$((found + 1))
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | sort)
echo "fuzzed $found target(s)"
[[ $found -gt 0 ]]
