#!/usr/bin/env bash
# The demo: failoverd in dry run on config/demo/, with two local TCP
# listeners standing in for the members' peers. It plays, in about 20 s:
# both up; the primary's peer dies (member down, failover, mailed); the
# backup's dies too (group down, DeActive pushed - dry run - and mailed);
# the primary returns (member up, failback, Active pushed). No root, no
# firewall, no mail server needed; pushes and mails are logged.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/failoverd
state=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" $(jobs -p) 2>/dev/null || true; rm -rf "$state"' EXIT

listen() { # address: a TCP listener on address:9733 until killed; sets $pid
    python3 -c "import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9733)); s.listen(64)
while True: s.accept()[0].close()" "$1" &
    pid=$!
    pids+=("$pid")
}
say() { printf '\n=== %s\n' "$*" >&2; }

listen 127.0.0.2; primary=$pid
listen 127.0.0.1; backup=$pid
sed "s|^state_dir = .*|state_dir = \"$state\"|" config/demo/failoverd.toml > "$state/failoverd.toml"
cp -r config/demo/groups.d "$state/"
say "both peers answer; starting failoverd (dry run)"
"$bin" run -c "$state/failoverd.toml" --dry-run &
daemon=$!
sleep 5
say "the primary's peer (127.0.0.2:9733) dies"
kill "$primary"
sleep 5
say "the backup's peer (127.0.0.1:9733) dies too"
kill "$backup"
sleep 5
say "the primary's peer comes back"
listen 127.0.0.2; primary=$pid
sleep 5
say "stopping failoverd"
kill -TERM "$daemon"
wait "$daemon"
