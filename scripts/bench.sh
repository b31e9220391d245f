#!/usr/bin/env bash
# The benchmark of issues #7 and #16, the one command: BENCHMARKS.md records its tables.
#
#   scripts/bench.sh            full run (about 22 minutes, estimated): 3 interleaved rounds per
#                               ICMP and TCP size, 8 s warm-up + 30 s window per process
#   scripts/bench.sh --quick    smoke run (about 6 minutes, measured): 3 rounds of 4 + 5 s windows,
#                               5 detection trials
#   scripts/bench.sh ARGS...    anything else goes to failoverd-bench (see --help),
#                               e.g. scripts/bench.sh --icmp 1000 --rounds 5 icmp
#
# The headline table compares like for like (failoverd against one fping
# process on the same targets, against the bare connect loop on the same
# targets), each figure the median over the rounds, with the rounds' min..max;
# the rounds alternate which process runs first. Each round is printed too.
#
# As root it first installs what it needs from Debian if missing (fping, snmpd,
# iproute2, procps). Without root the ICMP scenario (raw sockets for
# failoverd and fping) and the detection scenario (network namespace,
# veth, raw socket) are skipped with a visible SKIPPED row; TCP, idle and
# start-up run.
#
# Exit status: 0 every target met, 1 a target missed, 2 setup failed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then
    missing=()
    for pkg in fping iproute2 procps snmpd; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
else
    echo "not root: the icmp and detect scenarios will be SKIPPED (they need raw sockets and network namespaces)" >&2
fi

# failoverd alone first: built together with the benchmark, tokio would get
# the benchmark's features (docs/memory.md, "One binary, one feature set").
cargo build --release --locked -p failoverd
cargo build --release --locked -p failoverd-bench

args=()
if [ "${1:-}" = "--quick" ]; then
    shift
    args=(--duration 5 --warmup 4 --trials 5 --rounds 3)
fi
if [ "$#" -eq 0 ]; then
    set -- all
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
exec target/release/failoverd-bench --failoverd target/release/failoverd "${args[@]}" "$@"
