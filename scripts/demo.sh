#!/usr/bin/env bash
# The demo: failoverd on config/demo/ against the bundled firewall emulator
# (sfos-emulator) over HTTPS with its certificate pinned, and two local TCP
# listeners standing in for the members' peers. It plays, in about 25 s:
# the group's definition sent (failoverd sync); both up (Active pushed); the
# primary's peer dies (member down, failover); the backup's dies too (group
# down, DeActive pushed); the primary returns (member up, failback, Active
# pushed). Every push is really sent and the firewall's answer logged; mails
# are logged (no mail server needed). No root. It ends by printing what the
# emulator recorded: one line per request, and the group's state.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p failoverd
cargo build --release --quiet -p sfos-emulator
bin=target/release/failoverd
state=$(mktemp -d)
pids=()
trap 'exec 3>&- 2>/dev/null; kill "${pids[@]}" $(jobs -p) 2>/dev/null || true; rm -rf "$state"' EXIT

listen() { # address: a TCP listener on address:9733 until killed; sets $pid
    python3 -c "import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9733)); s.listen(64)
while True: s.accept()[0].close()" "$1" &
    pid=$!
    pids+=("$pid")
}
say() { printf '\n=== %s\n' "$*" >&2; }

# The firewall: the emulator on a free port, its commands read from a FIFO.
(umask 077; printf 'demo-password\n' > "$state/firewall.password")
mkfifo "$state/emulator.in"
target/release/sfos-emulator --listen 127.0.0.1:0 --username failoverd \
    --password-file "$state/firewall.password" \
    < "$state/emulator.in" > "$state/emulator.out" 2> "$state/emulator.log" &
pids+=("$!")
exec 3> "$state/emulator.in"
for _ in $(seq 100); do
    grep -q '^pin_sha256' "$state/emulator.out" 2>/dev/null && break
    sleep 0.1
done
url=$(sed -n 's/^url = "\(.*\)"$/\1/p' "$state/emulator.out")
pin=$(sed -n 's/^pin_sha256 = "\(.*\)"$/\1/p' "$state/emulator.out")
[ -n "$url" ] && [ -n "$pin" ] || { echo "the emulator did not start:" >&2; cat "$state/emulator.log" >&2; exit 1; }
say "the firewall emulator listens at $url (certificate pinned: $pin)"

listen 127.0.0.2; primary=$pid
listen 127.0.0.1; backup=$pid
sed -e "s|^state_dir = .*|state_dir = \"$state/state\"|" \
    -e "s|^url = .*|url = \"$url\"\npin_sha256 = \"$pin\"\npassword_file = \"firewall.password\"|" \
    config/demo/failoverd.toml > "$state/failoverd.toml"
cp -r config/demo/groups.d "$state/"
say "failoverd sync: the firewall learns Demo_VPN's definition"
"$bin" sync -c "$state/failoverd.toml"
say "both peers answer; starting failoverd"
"$bin" run -c "$state/failoverd.toml" &
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
say "what the firewall emulator recorded (one line per request; passwords never shown)"
echo groups >&3
sleep 0.2
cat "$state/emulator.log"
grep '^groups' "$state/emulator.out"
