#!/usr/bin/env bash
# Builds the Debian package: target/debian/failoverd_VERSION_ARCH.deb.
#   scripts/package.sh [--deb-version VERSION]
# Installs cargo-deb when it is missing, builds the release binary, renders
# the man pages and shell completions from the clap definitions and the
# settings key table (docgen), gathers the documentation, and runs cargo deb.
# The keepalived example (config/ha/keepalived.conf) and the Prometheus rules
# (config/prometheus/failoverd.rules.yml) go into /usr/share/doc/failoverd/
# when they exist; without them the package is built all the same. The
# monitoring examples (config/monitoring/: Nagios, Icinga 2, Zabbix, sudoers)
# go into /usr/share/doc/failoverd/monitoring/, the example hooks
# (config/hooks/, docs/hooks.md) into /usr/share/doc/failoverd/hooks/.
set -euo pipefail
cd "$(dirname "$0")/.."

deb_version=()
if [ "${1:-}" = "--deb-version" ] && [ -n "${2:-}" ]; then
    deb_version=(--deb-version "$2")
elif [ $# -gt 0 ]; then
    echo "usage: scripts/package.sh [--deb-version VERSION]" >&2
    exit 2
fi

if ! cargo deb --version >/dev/null 2>&1; then
    echo "package.sh: installing cargo-deb (about two minutes)"
    cargo install --locked --quiet cargo-deb
fi

# failoverd alone: built together with docgen, shared dependencies could get
# other features (docs/memory.md, "One binary, one feature set").
cargo build --release --locked --quiet -p failoverd
cargo build --release --locked --quiet -p docgen

assets=target/assets
rm -rf "$assets"
mkdir -p "$assets/doc" "$assets/monitoring" "$assets/hooks"
target/release/failoverd-docgen "$assets"
gzip -9n "$assets/failoverd.8" "$assets/failoverd.toml.5"
cp README.md "$assets/doc/"
for optional in config/ha/keepalived.conf config/prometheus/failoverd.rules.yml; do
    if [ -f "$optional" ]; then
        cp "$optional" "$assets/doc/"
    else
        echo "package.sh: $optional does not exist yet; the package goes without it"
    fi
done

cp config/monitoring/* "$assets/monitoring/"
cp config/hooks/* "$assets/hooks/"

cargo deb --no-build --locked -p failoverd "${deb_version[@]}" --output target/debian/
