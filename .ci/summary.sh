#!/usr/bin/env bash
# Prints `N passed, N failed` (and `, N skipped` when tests were ignored) summed over every
# Deno test summary line in a log, or nothing when the log has none.
#
# Deno's summary lines look like (colours stripped):
#   ok | 12 passed (40 steps) | 0 failed (3s)
#   FAILED | 11 passed (38 steps) | 1 failed (1 step) | 2 ignored (3s)
# Only the number right before `passed`, `failed` or `ignored` counts: step counts are the
# parenthesised ones.
set -euo pipefail

log="${1:?usage: summary.sh LOG}"
sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' "$log" | awk '
  /^(ok|FAILED) \| [0-9]+ passed/ {
    found = 1
    for (i = 1; i < NF; i++) {
      if ($i !~ /^[0-9]+$/) continue
      if ($(i + 1) == "passed") passed += $i
      else if ($(i + 1) == "failed") failed += $i
      else if ($(i + 1) == "ignored") ignored += $i
    }
  }
  END {
    if (!found) exit
    line = sprintf("%d passed, %d failed", passed, failed)
    if (ignored > 0) line = line sprintf(", %d skipped", ignored)
    print line
  }
'
