#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this).
# Run as root, it first installs the Debian packages the tests need
# (listed in scripts/debian-packages.txt); tests that need root skip with a
# visible "SKIPPED" line otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    while read -r pkg; do
        [ -z "$pkg" ] || [ "${pkg#\#}" != "$pkg" ] && continue
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done < scripts/debian-packages.txt
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi

cargo fmt --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The unit in a real systemd (root only; prints SKIPPED otherwise).
bash scripts/systemd-boot-test.sh
# The Debian package installed, upgraded, removed and purged in that
# systemd, and lintian (root only; prints SKIPPED otherwise).
bash scripts/package-test.sh
cargo test --workspace --all-targets --locked
# The soak, for its default short time (scripts/soak.sh 1h by hand).
bash scripts/soak.sh
