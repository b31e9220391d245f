#!/usr/bin/env bash
# Profiles a release failoverd and writes link/hot-text.ld, the list of the
# functions it ran, which release builds link together (docs/memory.md,
# "Hot code first"). Run it again after changes that move much code, or after
# a change of the release profile or of the toolchain: a stale list costs
# resident memory (see `scripts/bench.sh idle`), never correctness.
#
#   scripts/hot-text.sh      about 10 minutes; needs root (ICMP), valgrind, python3
#
# The profiles: the benchmark's idle (a live emulated firewall: TLS, pushes,
# the API), ICMP and TCP scenarios at 300 targets, and a daemon whose status
# page, /status, /metrics and control socket are read, reloaded and stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "hot-text: valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "hot-text: run as root (the ICMP scenario needs raw sockets)" >&2; exit 2; }

# failoverd alone first: built together with the benchmark, tokio would get
# the benchmark's features (docs/memory.md, "One binary, one feature set").
cargo build --release --locked -p failoverd
cargo build --release --locked -p failoverd-bench
work=$(mktemp -d /tmp/failoverd-hot-text.XXXXXX)
trap 'rm -rf "$work"' EXIT
bin=$PWD/target/release/failoverd
cat > "$work/failoverd" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --demangle=no --callgrind-out-file=$work/cg-\${HOT_TEXT_LABEL:-run}-%p.out $bin "\$@" 2>>$work/valgrind.log
EOF
chmod +x "$work/failoverd"

# Exit 1 is a missed target, expected under valgrind; 2 is a failed setup.
bench() {
    local rc=0
    target/release/failoverd-bench --failoverd "$work/failoverd" --rounds 1 --warmup 3 --duration 6 "$@" >/dev/null || rc=$?
    [ "$rc" -le 1 ] || { echo "hot-text: failoverd-bench $* failed (exit $rc)" >&2; exit 2; }
}
# The label names the profile (hot-text.py groups functions by the profiles
# that ran them, the idle daemon's first).
HOT_TEXT_LABEL=idle bench idle
HOT_TEXT_LABEL=icmp bench --icmp 300 icmp
HOT_TEXT_LABEL=tcp bench --tcp 300 tcp

# The page, /status, /metrics, the control socket, a reload and a stop.
dir=$work/page
mkdir -p "$dir/state"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
    printf 'groups = ["groups.xml"]\nstate_dir = "state"\n[probe]\ninterval = "1s"\ntimeout = "1s"\n'
    printf '[firewall]\nurl = "https://127.0.0.1:9"\nusername = "bench"\ndry_run = true\n'
    printf '[http]\nlisten = "127.0.0.1:%s"\n' "$port"
    for i in $(seq 0 199); do printf '[connections.C%s]\ntargets = ["127.10.0.%s"]\nvia = "tunnel"\n' "$i" "$((i + 1))"; done
} > "$dir/failoverd.toml"
{
    echo '<VPNFailoverGroups>'
    for g in $(seq 0 99); do
        echo "<VPNFailoverGroup><GroupDetail><Name>G$g</Name><MemberConnections><Connection>C$((2 * g))</Connection><Connection>C$((2 * g + 1))</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>PING</Protocol></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>"
    done
    echo '</VPNFailoverGroups>'
} > "$dir/groups.xml"
(cd "$dir" && HOT_TEXT_LABEL=page NO_COLOR=1 exec "$work/failoverd" run -c failoverd.toml >/dev/null 2>&1) &
daemon=$!
get() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=30).read()' "http://127.0.0.1:$port$1"; }
for _ in $(seq 1 120); do get /status 2>/dev/null && break; sleep 0.5; done
sleep 25 # a page step (20 s) closes, so the charts have points
for path in / /status /metrics /; do get "$path"; done
(cd "$dir" && "$bin" status -c failoverd.toml >/dev/null)
kill -HUP "$daemon"; sleep 5; get /
kill -TERM "$daemon"; wait "$daemon" || true

python3 scripts/hot-text.py "$bin" "$work"/cg-*.out > link/hot-text.ld.new
mv link/hot-text.ld.new link/hot-text.ld
echo "hot-text: link/hot-text.ld written; rebuilding"
# failoverd alone first: built together with the benchmark, tokio would get
# the benchmark's features (docs/memory.md, "One binary, one feature set").
cargo build --release --locked -p failoverd
cargo build --release --locked -p failoverd-bench
size -A "$bin" | grep -E '^\.text' || true
