#!/usr/bin/env bash
# The gate, `deno task ok`: every check a change must pass, cheapest first, stopping at the
# first failure so the last message names what broke and how to fix it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# One buf version everywhere: the one deno.json maps and `deno task gen` runs.
BUF=(deno run -A --quiet npm:@bufbuild/buf@1.74.0)

step() { printf '\n==> %s\n' "$*"; }
note() { printf 'note: %s\n' "$*"; }
fail() {
  printf '\nok: %s\n' "$*" >&2
  exit 1
}

step "deno fmt --check"
deno fmt --check || fail "Formatting differs: run 'deno fmt' and commit the result."

step "deno lint"
deno lint || fail "Lint found problems: fix them (or justify an ignore comment) and run again."

step "deno check"
# Only folders that exist: a fresh clone has none of the empty ones.
check_dirs=()
for dir in server worker mail tui tests bench; do
  [[ -d "$dir" ]] && check_dirs+=("$dir/")
done
if ((${#check_dirs[@]} > 0)); then
  deno check "${check_dirs[@]}" || fail "Type checking failed in ${check_dirs[*]}: fix the errors above."
else
  note "no source folders to type-check yet"
fi
# The web app is checked on its own: its DOM types would change how Deno's types read elsewhere.
if [[ -d web/src ]]; then
  deno check web/ || fail "Type checking failed in web/: fix the errors above."
fi

step "buf lint"
"${BUF[@]}" lint || fail "buf lint found problems in proto/: fix them before generating code."

in_git=false
git rev-parse --is-inside-work-tree >/dev/null 2>&1 && in_git=true

step "buf breaking"
# Against the previous commit: on main that is the last landed contract. The first
# commit, a shallow clone and a history from before proto/ existed have nothing to
# compare with.
if [[ "$in_git" != true ]]; then
  note "skipped: not a git work tree"
elif ! git rev-parse --verify --quiet 'HEAD~1^{commit}' >/dev/null; then
  note "skipped: there is no previous commit to compare proto/ with"
elif ! git cat-file -e 'HEAD~1:proto' 2>/dev/null; then
  note "skipped: the previous commit has no proto/"
else
  "${BUF[@]}" breaking --against '.git#ref=HEAD~1,subdir=proto' ||
    fail "proto/ breaks compatibility with the previous commit: add new fields, messages or versions instead of changing or removing old ones."
fi

step "buf generate (drift check)"
deno task gen || fail "buf generate failed: see the error above."
if [[ "$in_git" != true ]]; then
  note "drift check skipped: not a git work tree"
elif drift="$(git status --porcelain -- gen/)" && [[ -n "$drift" ]]; then
  printf '%s\n' "$drift"
  git --no-pager diff --stat -- gen/
  git --no-pager diff -- gen/ | head -n 200
  fail "Generated code in gen/ is out of date with proto/: run 'deno task gen' and commit gen/."
fi

step "docker-compose config"
compose=()
if command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  note "docker-compose is missing; installing Debian's docker-compose"
  if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; } >/dev/null 2>&1; then
    compose=(docker-compose)
  fi
fi
if ((${#compose[@]} > 0)); then
  "${compose[@]}" -f docker-compose.yml config -q ||
    fail "docker-compose.yml is not valid: see the error above."
else
  note "skipped: docker-compose is not installed and could not be installed here"
fi

step "deno task test"
# CI runs the whole HTTP/2 crash repro (50 rounds of each shape, a few minutes); a local run takes a few.
if [[ "${CI:-}" == true ]]; then export TASKMESH_TEST_H2_ROUNDS="${TASKMESH_TEST_H2_ROUNDS:-50}"; fi
deno task test || fail "Tests failed: see the failures above."

printf '\nok: every check passed\n'
