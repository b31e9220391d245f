#!/usr/bin/env bash
# Boots systemd/failoverd.service in a real systemd (a Debian container run
# by systemd-nspawn) and checks what only a real systemd shows: Type=notify
# start, ICMP under DynamicUser with CAP_NET_RAW alone, reload, a watchdog
# restart of a stopped daemon, and a clean stop. Then the template
# systemd/failoverd@.service, booted twice (failoverd@hq, failoverd@branch),
# each against its own sfos-emulator with its own password: each pushes
# only to its own firewall, keeps its state in its own directory, is
# reached by `failoverd -c /etc/failoverd/NAME.toml status|hold`, reloads
# alone, rates 2.0 or lower in `systemd-analyze security`; a missing
# settings file or an escaped instance name fails the start with a journal
# line naming the path. Root only; scripts/test.sh
# runs it as root after the other tests. The container is a copy of the
# debootstrapped root scripts/nsroot.sh keeps in target/nsroot/base (made
# the first time), kept in $FAILOVERD_NSROOT for later runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "SKIPPED: the systemd boot test needs root"
    exit 0
fi
. scripts/nsroot.sh
root=${FAILOVERD_NSROOT:-target/nsroot/boot}
if [ ! -x "$root/usr/lib/systemd/systemd" ]; then
    nsroot_copy "$root"
fi
cargo build --quiet --locked
install -D -m 0755 target/debug/failoverd "$root/usr/bin/failoverd"
install -D -m 0644 systemd/failoverd.service "$root/etc/systemd/system/failoverd.service"
install -D -m 0644 systemd/failoverd@.service "$root/etc/systemd/system/failoverd@.service"
cargo build --quiet --locked -p sfos-emulator
install -D -m 0755 target/debug/sfos-emulator "$root/usr/local/bin/sfos-emulator"
install -D -m 0644 /dev/null "$root/etc/systemd/system/failoverd.service.d/test.conf"
printf '[Service]\nWatchdogSec=3s\n' > "$root/etc/systemd/system/failoverd.service.d/test.conf"
install -d "$root/etc/failoverd/groups.d" "$root/etc/credstore"
cat > "$root/etc/failoverd/failoverd.toml" <<'TOML'
groups = ["groups.d/*.xml"]
[probe]
interval = "500ms"
timeout = "500ms"
fall = 2
rise = 2
[connections.Loop]
targets = ["127.0.0.1"]
via = "underlay"
[firewall]
url = "https://127.0.0.1:4444"
username = "failoverd"
dry_run = true
TOML
cat > "$root/etc/failoverd/groups.d/g.xml" <<'XML'
<VPNFailoverGroup><GroupDetail><Name>Boot</Name><MemberConnections><Connection>Loop</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>
XML
(umask 077; echo "not-used-in-dry-run" > "$root/etc/credstore/firewall.password")
cat > "$root/usr/local/bin/failoverd-boot-driver" <<'SH'
#!/bin/bash
# Runs inside the container after boot; writes /result, then powers off.
r=/result; : > $r
ok() { echo "ok $*" >> $r; }
bad() { echo "FAIL $*" >> $r; }
until_true() { for _ in $(seq 60); do eval "$1" && return 0; sleep 0.5; done; return 1; }
cfg="-c /etc/failoverd/failoverd.toml"
until_true 'systemctl is-active -q failoverd' && ok "Type=notify start" || bad "start: $(systemctl status failoverd --no-pager | tail -5)"
until_true "failoverd status $cfg | grep -q 'PING 127.0.0.1: up'" && ok "ICMP under DynamicUser" || bad "ICMP: $(failoverd status $cfg 2>&1 | tail -3)"
pid=$(systemctl show -p MainPID --value failoverd)
user=$(ps -o user= -p "$pid")
[ -n "$user" ] && [ "$user" != root ] && ok "runs as $user" || bad "runs as '$user'"
grep -q '^CapEff:.*0000000000002000$' /proc/$pid/status && ok "CAP_NET_RAW only" || bad "capabilities: $(grep Cap /proc/$pid/status | tr '\n' ' ')"
systemctl reload failoverd && until_true 'systemctl is-active -q failoverd' && ok "reload" || bad "reload"
kill -STOP "$pid"
until_true '[ "$(systemctl show -p NRestarts --value failoverd)" -ge 1 ]' && ok "watchdog restart of a stopped daemon" || bad "watchdog: $(systemctl show -p NRestarts -p Result --value failoverd | tr '\n' ' ')"
until_true 'systemctl is-active -q failoverd' || bad "not active after the watchdog restart"
systemctl stop failoverd
[ "$(systemctl show -p Result --value failoverd)" = success ] && ok "clean stop" || bad "stop: $(systemctl show -p Result --value failoverd)"
/usr/local/bin/failoverd-instances-driver
echo done >> $r
systemctl poweroff
SH
chmod 0755 "$root/usr/local/bin/failoverd-boot-driver"
install -m 0755 scripts/systemd-boot-instances.sh "$root/usr/local/bin/failoverd-instances-driver"
cat > "$root/etc/systemd/system/failoverd-boot-driver.service" <<'UNIT'
[Unit]
After=failoverd.service
[Service]
Type=oneshot
TimeoutStartSec=240
ExecStart=/usr/local/bin/failoverd-boot-driver
UNIT
install -d "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/failoverd.service "$root/etc/systemd/system/multi-user.target.wants/failoverd.service"
ln -sf /etc/systemd/system/failoverd-boot-driver.service "$root/etc/systemd/system/multi-user.target.wants/failoverd-boot-driver.service"
rm -f "$root/result"
log=$(mktemp)
timeout 300 systemd-nspawn --boot --register=no --keep-unit --private-network -D "$root" >"$log" 2>&1 </dev/null || true
if [ ! -f "$root/result" ] || ! grep -q '^done$' "$root/result"; then
    echo "systemd boot test: the driver did not finish; container log:" >&2
    tail -40 "$log" >&2
    cat "$root/result" 2>/dev/null >&2
    exit 1
fi
cat "$root/result"
passed=$(grep -c '^ok ' "$root/result" || true)
failed=$(grep -c '^FAIL ' "$root/result" || true)
if [ "$failed" = 0 ]; then
    echo "systemd boot test: all $passed checks passed"
else
    echo "systemd boot test: $failed of $((passed + failed)) checks FAILED"
    exit 1
fi
