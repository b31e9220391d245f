#!/usr/bin/env bash
# Fuzzes the four readers of hostile input, each for SECONDS (default 60):
#   group_xml     group definition files (config::groups::read)
#   settings      the settings file (config::read_settings)
#   api_response  the firewall's replies (firewall::response::judge)
#   control_request  the control socket's requests (control::read_request)
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# Needs the nightly toolchain (rustup toolchain install nightly); installs
# cargo-fuzz if missing. New interesting inputs collect in fuzz/corpus/TARGET;
# a crash is written to fuzz/artifacts/TARGET/ and stops the run: fix it and
# keep the input as a regression test beside the property tests
# (tests/config_hostile.rs for group and settings files, tests/api_hostile.rs
# for replies, src/control/tests.rs for control requests).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
here="$PWD"

seconds="${1:-60}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(group_xml settings api_response control_request)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

for target in "${targets[@]}"; do
    case "$target" in
        settings) dict=toml.dict ;;
        control_request) dict=json.dict ;;
        *) dict=xml.dict ;;
    esac
    mkdir -p "$here/corpus/$target"
    echo "== $target: ${seconds}s"
    # -rss_limit_mb: a reader that allocates without bound is a finding too.
    cargo +nightly fuzz run "$target" "$here/corpus/$target" "$here/seeds/$target" -- \
        -max_total_time="$seconds" -dict="$here/$dict" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1
done
