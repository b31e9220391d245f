#!/usr/bin/env bash
# The soak: the real daemon against flapping peers, a flaky firewall
# emulator and a flaky SMTP server for DURATION (default 3m; e.g. 90s, 1h),
# then the fault matrix's invariants and flat memory and descriptors.
# Prints its figures. SOAK_SEED=N replays a run's randomness.
#   scripts/soak.sh          # 3 minutes, as CI runs it
#   scripts/soak.sh 1h       # by hand
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-3m}"
case "$duration" in
    *h) secs=$(( ${duration%h} * 3600 )) ;;
    *m) secs=$(( ${duration%m} * 60 )) ;;
    *s) secs=${duration%s} ;;
    *[!0-9]*|"") echo "usage: $0 [DURATION: N, Ns, Nm or Nh]" >&2; exit 2 ;;
    *) secs=$duration ;;
esac
SOAK_SECS="$secs" cargo test --locked --test soak -- --ignored --nocapture --test-threads 1
