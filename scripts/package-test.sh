#!/usr/bin/env bash
# Installs the Debian package into a real Debian with systemd (a container
# run by systemd-nspawn, a fresh copy of the root scripts/nsroot.sh keeps)
# and checks it as an admin would use it, on the installed unit and binary:
# installing does not start it; the README's quick start, typed as written
# (import, the pin, the pasted tables, check --online, enable --now); once the settings and the credential are
# written, `systemctl enable --now failoverd` works; man pages and bash
# completion work; journald carries EVENT, GROUP and MEMBER on a member-down
# and EVENT and GROUP on the push that follows (against sfos-emulator, run
# inside the container); an upgrade to a higher version restarts the running
# daemon and keeps state.json and the hold; remove keeps /etc/failoverd;
# purge removes it. The template failoverd@.service is installed: an
# instance (failoverd@second, against a second emulator with its own
# password) is enabled and started, reached with -c, restarted by the
# upgrade, stopped by remove, its state purged. lintian must report no
# error. Root only; scripts/test.sh
# runs it after the boot test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "SKIPPED: the package test needs root"
    exit 0
fi
. scripts/nsroot.sh

bash scripts/package.sh
version=$(cargo metadata --no-deps --format-version 1 --locked |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "failoverd"))')
arch=$(dpkg --print-architecture)
first=target/debian/failoverd_${version}-1_${arch}.deb
[ -f "$first" ] || { echo "package test: $first was not built" >&2; exit 1; }
if lintian --fail-on error "$first" > target/debian/lintian.txt 2>&1; then
    echo "lintian: no errors ($(grep -c '^W: ' target/debian/lintian.txt || true) warnings, in target/debian/lintian.txt)"
    grep '^W: ' target/debian/lintian.txt || true
else
    echo "package test: lintian reports errors:" >&2
    cat target/debian/lintian.txt >&2
    exit 1
fi
# cargo deb empties target/debian/: keep the first package aside.
pkgs=target/nsroot/pkgs
rm -rf "$pkgs"; mkdir -p "$pkgs"
cp "$first" "$pkgs/first.deb"
# The upgrade: the same build packaged again under a higher version.
upgrade_version="${version}-2"
bash scripts/package.sh --deb-version "$upgrade_version" >/dev/null
second=target/debian/failoverd_${upgrade_version}_${arch}.deb
cargo build --quiet --locked -p sfos-emulator

root=target/nsroot/package
nsroot_copy "$root"
install -d "$root/pkgs"
cp "$pkgs/first.deb" "$root/pkgs/first.deb"
cp "$second" "$root/pkgs/second.deb"
install -m 0755 target/debug/sfos-emulator "$root/usr/local/bin/sfos-emulator"
printf '%s\n%s\n' "$version-1" "$upgrade_version" > "$root/pkgs/versions"

cat > "$root/usr/local/bin/failoverd-package-driver" <<'SH'
#!/bin/bash
# Runs inside the container after boot; writes /result, then powers off.
export DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin
r=/result; : > $r
ok() { echo "ok $*" >> $r; }
bad() { echo "FAIL $*" >> $r; }
until_true() { for _ in $(seq 60); do eval "$1" && return 0; sleep 0.5; done; return 1; }
first_version=$(sed -n 1p /pkgs/versions); second_version=$(sed -n 2p /pkgs/versions)
apt_log=/var/log/package-test-apt.log

# 1. Install: files in place, the service neither enabled nor started.
apt-get install -y /pkgs/first.deb >>$apt_log 2>&1 && ok "apt install ./failoverd_$first_version.deb" || bad "install: $(tail -5 $apt_log)"
[ "$(dpkg-query -W -f '${Version}' failoverd)" = "$first_version" ] && ok "version $first_version installed" || bad "installed version $(dpkg-query -W -f '${Version}' failoverd)"
[ "$(systemctl is-active failoverd)" = inactive ] && ok "installing does not start it" || bad "active after install: $(systemctl is-active failoverd)"
[ "$(systemctl is-enabled failoverd)" = disabled ] && ok "installing does not enable it" || bad "enabled after install: $(systemctl is-enabled failoverd)"
systemctl cat failoverd | grep -q '^ExecStart=/usr/bin/failoverd run' && ok "the unit runs /usr/bin/failoverd" || bad "unit: $(systemctl cat failoverd | grep ExecStart)"
for f in /etc/failoverd/failoverd.toml /etc/failoverd/groups.d/hq.xml.example /usr/share/doc/failoverd/README.md \
    /usr/share/doc/failoverd/keepalived.conf \
    /usr/share/doc/failoverd/monitoring/nagios.cfg /usr/share/doc/failoverd/monitoring/icinga2.conf \
    /usr/share/doc/failoverd/monitoring/zabbix_agentd.conf /usr/share/doc/failoverd/monitoring/sudoers \
    /usr/share/doc/failoverd/hooks/failoverd-webhook /usr/share/doc/failoverd/hooks/failoverd-logger \
    /usr/share/zsh/vendor-completions/_failoverd /usr/share/fish/vendor_completions.d/failoverd.fish; do
    [ -f "$f" ] || bad "missing $f"
done
systemctl show -p ExecStart --value failoverd@second | grep -q 'argv\[\]=/usr/bin/failoverd run -c /etc/failoverd/second.toml ;' \
    && ok "the template failoverd@.service is installed" || bad "template: $(systemctl show -p ExecStart --value failoverd@second 2>&1)"
[ "$(systemctl is-enabled failoverd@second)" = disabled ] && ok "installing enables no instance" || bad "instance enabled after install: $(systemctl is-enabled failoverd@second)"
grep -qx /etc/failoverd/failoverd.toml /var/lib/dpkg/info/failoverd.conffiles && ok "failoverd.toml is a conffile" || bad "conffiles: $(cat /var/lib/dpkg/info/failoverd.conffiles)"

# 2. Man pages and completion.
MANWIDTH=120 man -P cat failoverd 2>/dev/null | grep -q 'failoverd push' && ok "man failoverd" || bad "man failoverd: $(man -P cat failoverd 2>&1 | head -3)"
MANWIDTH=120 man -P cat failoverd.toml 2>/dev/null | grep -q 'reactivate_after = duration' && ok "man failoverd.toml" || bad "man failoverd.toml: $(man -P cat failoverd.toml 2>&1 | head -3)"
completed=$(bash --norc -c '. /usr/share/bash-completion/bash_completion
    _completion_loader failoverd
    fn=$(complete -p failoverd | sed -n "s/.*-F \([^ ]*\).*/\1/p")
    COMP_WORDS=(failoverd rel); COMP_CWORD=1; COMP_LINE="failoverd rel"; COMP_POINT=${#COMP_LINE}
    $fn failoverd rel failoverd; echo "${COMPREPLY[*]}"' 2>&1)
[ "$completed" = release ] && ok "bash completes failoverd rel<TAB> to release" || bad "bash completion: '$completed'"

# 3. A firewall (sfos-emulator) and a TCP peer to watch, both on loopback.
umask 077; printf 'pkg-test-password\n' > /root/fw.password; umask 022
systemd-run -q --unit=fw /usr/local/bin/sfos-emulator --listen 127.0.0.1:0 --username failoverd \
    --password-file /root/fw.password --cert-out /etc/failoverd/fw.pem
systemd-run -q --unit=peer /usr/local/bin/sfos-emulator --listen 127.0.0.1:0 --password-file /root/fw.password --quiet
url_of() { journalctl -u "$1" -o cat | sed -n 's/^url = "\(.*\)"$/\1/p' | head -1; }
until_true '[ -n "$(url_of fw)" ] && [ -n "$(url_of peer)" ]' || bad "emulators did not start: $(journalctl -u fw -u peer -o cat | tail -5)"
fw_url=$(url_of fw)
peer_port=$(url_of peer | sed -n 's#^https://127.0.0.1:\([0-9]*\)/.*#\1#p')

# 3b. The README's quick start, step by step as an admin types it, against a
# firewall that already has failover groups (the emulator's --demo): [firewall]
# without a pin; import refuses the self-signed certificate and prints the
# pin_sha256 line; with it, import writes the group files and prints the
# tables; the groups line goes at the top, the tables below; check --online;
# enable --now: the service (DynamicUser) reads the files import wrote, and
# sync --changed-only sends nothing.
systemd-run -q --unit=qsfw /usr/local/bin/sfos-emulator --listen 127.0.0.1:0 --username failoverd \
    --password-file /root/fw.password --demo
until_true '[ -n "$(url_of qsfw)" ]' || bad "quick start: the emulator did not start: $(journalctl -u qsfw -o cat | tail -3)"
install -d /etc/credstore
(umask 077; cp /root/fw.password /etc/credstore/firewall.password)
cat > /etc/failoverd/failoverd.toml <<TOML
[firewall]
url = "$(url_of qsfw)"
username = "failoverd"
TOML
failoverd import > /tmp/tables.toml 2>/tmp/import1.err; rc=$?
pin_line=$(grep -o 'pin_sha256 = "[0-9A-F:]*"' /tmp/import1.err | head -1)
[ "$rc" = 1 ] && [ -n "$pin_line" ] && ok "quick start: import refuses the unknown certificate and prints the pin_sha256 line" \
    || bad "quick start: first import exit $rc: $(cat /tmp/import1.err)"
echo "$pin_line" >> /etc/failoverd/failoverd.toml
failoverd import > /tmp/tables.toml 2>/tmp/import2.err && ok "quick start: import with the pin" || bad "quick start: import: $(cat /tmp/import2.err)"
[ ! -e /var/lib/failoverd ] && [ ! -e /var/lib/private/failoverd ] && ok "quick start: import leaves the state directory alone" \
    || bad "quick start: import created $(ls -la /var/lib/failoverd /var/lib/private/failoverd 2>&1 | head -5)"
groups_line=$(sed -n 's/^# groups = /groups = /p' /tmp/tables.toml)
{ echo "$groups_line"; cat /etc/failoverd/failoverd.toml /tmp/tables.toml; } > /tmp/pasted.toml
cat /tmp/pasted.toml > /etc/failoverd/failoverd.toml
failoverd check --online >/tmp/qs-check.out 2>&1 && ok "quick start: check --online passes" || bad "quick start: check --online: $(tail -5 /tmp/qs-check.out)"
systemctl enable --now failoverd 2>/tmp/enable.out && ok "quick start: systemctl enable --now failoverd" || bad "quick start: enable --now: $(cat /tmp/enable.out)"
until_true 'failoverd status 2>/dev/null | grep -q "member HQ_Primary:" && failoverd status | grep -q "member Branch_LTE:"' \
    && ok "quick start: the service reads the imported group files" || bad "quick start: status: $(failoverd status 2>&1 | head -5); $(journalctl -u failoverd -o cat | tail -5)"
journalctl -u failoverd -o cat | grep -qi 'permission denied' && bad "quick start: permission denied: $(journalctl -u failoverd -o cat | grep -i 'permission denied' | head -3)"
before=$(journalctl -u qsfw -o cat | grep -oE '(Add|Update) [^ ,]+' | wc -l)
failoverd sync --changed-only >/tmp/qs-sync.out 2>&1 && ok "quick start: sync --changed-only" || bad "quick start: sync --changed-only: $(cat /tmp/qs-sync.out)"
after=$(journalctl -u qsfw -o cat | grep -oE '(Add|Update) [^ ,]+' | wc -l)
[ "$before" = "$after" ] && ok "quick start: sync --changed-only sends nothing after import" || bad "quick start: sync sent $((after - before)) definitions: $(cat /tmp/qs-sync.out)"
systemctl disable --now failoverd 2>/dev/null
# The rest of the test is another admin's settings: the quick start's group
# files and firewall go.
rm -f /etc/failoverd/groups.d/HQ_VPN.xml /etc/failoverd/groups.d/Branch_VPN.xml
systemctl stop qsfw

# 4. The admin's settings and credential; then enable --now.
cat > /etc/failoverd/failoverd.toml <<TOML
groups = ["groups.d/*.xml"]
[probe]
interval = "500ms"
timeout = "500ms"
fall = 2
rise = 2
[connections.Peer]
targets = ["127.0.0.1"]
via = "underlay"
[firewall]
url = "$fw_url"
username = "failoverd"
ca_file = "fw.pem"
[guard]
settle = "1s"
TOML
cat > /etc/failoverd/groups.d/pkg.xml <<XML
<VPNFailoverGroup><GroupDetail><Name>Pkg</Name>
<MemberConnections><Connection>Peer</Connection></MemberConnections>
<FailoverCondition><FailoverIF><Protocol>TCP</Protocol><Port>$peer_port</Port></FailoverIF></FailoverCondition>
</GroupDetail></VPNFailoverGroup>
XML
failoverd check >/tmp/check.out 2>&1 && ok "failoverd check passes on the admin's settings" || bad "check: $(tail -5 /tmp/check.out)"
failoverd sync >/tmp/sync.out 2>&1 && ok "failoverd sync puts the group on the firewall" || bad "sync: $(cat /tmp/sync.out)"
systemctl enable --now failoverd 2>/tmp/enable.out && ok "systemctl enable --now failoverd" || bad "enable --now: $(cat /tmp/enable.out)"
until_true 'systemctl is-active -q failoverd' && ok "active" || bad "not active: $(systemctl status failoverd --no-pager | tail -5)"
until_true 'failoverd status | grep -q "member Peer: up"' && ok "member seen up" || bad "member not up: $(failoverd status 2>&1 | tail -5)"

json() { journalctl -u failoverd -o json --output-fields=EVENT,GROUP,MEMBER,MESSAGE; }
# The Active pushed at start (the belief is unknown) names the member it
# hands the group to.
active_push() { json | grep '"MESSAGE":"pushing Active Pkg"'; }
until_true "active_push | grep '\"EVENT\":\"push\"' | grep '\"GROUP\":\"Pkg\"' | grep -q '\"MEMBER\":\"Peer\"'" \
    && ok "journald: EVENT, GROUP and MEMBER on the Active push" || bad "Active push fields: $(json | tail -5)"

# 4b. An instance of the template for a second firewall: its own settings,
# state_dir, [http] port, password (/etc/credstore/failoverd-second/).
(umask 077; printf 'second-password\n' > /root/fw2.password)
systemd-run -q --unit=fw2 /usr/local/bin/sfos-emulator --listen 127.0.0.1:0 --username failoverd \
    --password-file /root/fw2.password --cert-out /etc/failoverd/fw2.pem
until_true '[ -n "$(url_of fw2)" ]' || bad "fw2 did not start: $(journalctl -u fw2 -o cat | tail -5)"
install -d /etc/failoverd/second.d
cat > /etc/failoverd/second.toml <<TOML
groups = ["second.d/*.xml"]
state_dir = "/var/lib/failoverd-second"
[probe]
interval = "500ms"
timeout = "500ms"
[connections.Loop]
targets = ["127.0.0.1"]
via = "underlay"
[firewall]
url = "$(url_of fw2)"
username = "failoverd"
ca_file = "fw2.pem"
[http]
listen = "127.0.0.1:9802"
TOML
echo '<VPNFailoverGroup><GroupDetail><Name>Second</Name><MemberConnections><Connection>Loop</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>' \
    > /etc/failoverd/second.d/g.xml
install -d -m 0700 /etc/credstore/failoverd-second
(umask 077; cp /root/fw2.password /etc/credstore/failoverd-second/firewall.password)
failoverd -c /etc/failoverd/second.toml sync >/tmp/sync2.out 2>&1 \
    || bad "sync second: $(cat /tmp/sync2.out)"
systemctl enable --now failoverd@second 2>/tmp/enable2.out && [ "$(systemctl is-enabled failoverd@second)" = enabled ] \
    && ok "systemctl enable --now failoverd@second" || bad "enable --now failoverd@second: $(cat /tmp/enable2.out)"
until_true 'failoverd -c /etc/failoverd/second.toml status | grep -q "PING 127.0.0.1: up"' \
    && ok "failoverd -c /etc/failoverd/second.toml status reaches the instance" \
    || bad "instance status: $(failoverd -c /etc/failoverd/second.toml status 2>&1 | tail -3; systemctl status failoverd@second --no-pager | tail -5)"
until_true 'journalctl -u fw2 -o cat | grep -Eq "(\[|, )Active Second 200"' && ! journalctl -u fw -o cat | grep -q Second \
    && ok "the instance pushes to its own firewall only" || bad "instance pushes: $(journalctl -u fw2 -o cat | tail -3)"

# 5. The peer dies: a member-down, the group down, failoverd's DeActive push.
systemctl stop peer
until_true "json | grep '\"EVENT\":\"MemberDown\"' | grep '\"GROUP\":\"Pkg\"' | grep -q '\"MEMBER\":\"Peer\"'" \
    && ok "journald: EVENT, GROUP and MEMBER on the member-down" || bad "member-down fields: $(json | tail -5)"
deactive_push() { json | grep '"MESSAGE":"pushing DeActive Pkg"'; }
until_true "deactive_push | grep '\"EVENT\":\"push\"' | grep -q '\"GROUP\":\"Pkg\"'" \
    && ok "journald: EVENT and GROUP on the DeActive push" || bad "push fields: $(json | tail -5)"
# A DeActive takes every member down: its MEMBER is empty, which the
# journal may not keep; noted, not asserted.
deactive_push | grep -q '"MEMBER"' || echo "note: the DeActive push's journal entry carries no MEMBER (empty)" >> $r
until_true 'journalctl -u fw -o cat | grep -q "DeActive Pkg 200"' && ok "the firewall got the DeActive" || bad "no DeActive at the firewall: $(journalctl -u fw -o cat | tail -5)"

# 6. A hold, persisted; then the upgrade.
failoverd hold Pkg --for 2h --reason pkg-upgrade-test >/tmp/hold.out 2>&1 && ok "hold" || bad "hold: $(cat /tmp/hold.out)"
until_true 'grep -q pkg-upgrade-test /var/lib/failoverd/state.json' && ok "state.json holds the hold" || bad "state.json: $(ls -l /var/lib/failoverd/ 2>&1)"
before=$(systemctl show -p InvocationID --value failoverd)
before2=$(systemctl show -p InvocationID --value failoverd@second)
apt-get install -y /pkgs/second.deb >>$apt_log 2>&1 && ok "upgrade to $second_version" || bad "upgrade: $(tail -5 $apt_log)"
[ "$(dpkg-query -W -f '${Version}' failoverd)" = "$second_version" ] || bad "version after upgrade: $(dpkg-query -W -f '${Version}' failoverd)"
after=$(systemctl show -p InvocationID --value failoverd)
[ -n "$after" ] && [ "$after" != "$before" ] && ok "the upgrade restarted the running daemon" || bad "not restarted: $before -> $after"
until_true 'systemctl is-active -q failoverd' && ok "active after the upgrade" || bad "not active after upgrade"
after2=$(systemctl show -p InvocationID --value failoverd@second)
[ -n "$after2" ] && [ "$after2" != "$before2" ] && until_true 'systemctl is-active -q failoverd@second' \
    && ok "the upgrade restarted the running instance" || bad "instance not restarted: $before2 -> $after2 $(systemctl is-active failoverd@second)"
grep -q '"Second"' /var/lib/failoverd-second/state.json && ok "the instance's state.json kept" || bad "instance state: $(ls -l /var/lib/failoverd-second/ 2>&1)"
grep -q pkg-upgrade-test /var/lib/failoverd/state.json && ok "state.json kept" || bad "state.json lost"
until_true 'failoverd status | grep -q "HELD until .*: pkg-upgrade-test"' && ok "the hold is kept" || bad "hold lost: $(failoverd status 2>&1 | head -8)"
grep -q 'ca_file = "fw.pem"' /etc/failoverd/failoverd.toml && ok "the admin's failoverd.toml kept" || bad "failoverd.toml replaced"

# 7. Remove keeps /etc/failoverd; purge removes it.
apt-get remove -y failoverd >>$apt_log 2>&1 && ok "apt remove" || bad "remove: $(tail -5 $apt_log)"
[ ! -e /usr/bin/failoverd ] && [ "$(systemctl is-active failoverd)" != active ] && ok "removed and stopped" || bad "after remove: $(systemctl is-active failoverd) $(ls /usr/bin/failoverd 2>&1)"
[ "$(systemctl is-active failoverd@second)" != active ] && ok "remove stops the instance" || bad "instance after remove: $(systemctl is-active failoverd@second)"
[ -f /etc/failoverd/failoverd.toml ] && [ -f /etc/failoverd/groups.d/pkg.xml ] && ok "remove keeps /etc/failoverd" || bad "remove took /etc/failoverd: $(ls -R /etc/failoverd 2>&1)"
apt-get purge -y failoverd >>$apt_log 2>&1 && ok "apt purge" || bad "purge: $(tail -5 $apt_log)"
[ ! -e /etc/failoverd ] && ok "purge removes /etc/failoverd" || bad "after purge: $(ls -R /etc/failoverd)"
[ ! -e /var/lib/failoverd ] && [ ! -e /var/lib/private/failoverd ] && ok "purge removes the state directory" || bad "state left: $(ls -d /var/lib/failoverd /var/lib/private/failoverd 2>&1)"
[ ! -e /var/lib/failoverd-second ] && [ ! -L /var/lib/failoverd-second ] && [ ! -e /var/lib/private/failoverd-second ] \
    && ok "purge removes the instance's state directory" || bad "instance state left: $(ls -ld /var/lib/failoverd-* /var/lib/private/failoverd-* 2>&1)"
dpkg-query -W -f '${Status}' failoverd 2>/dev/null | grep -q 'not-installed' || ! dpkg-query -W failoverd >/dev/null 2>&1 \
    && ok "dpkg forgets failoverd" || bad "dpkg status: $(dpkg-query -W -f '${Status}' failoverd)"
echo done >> $r
systemctl poweroff
SH
chmod 0755 "$root/usr/local/bin/failoverd-package-driver"
cat > "$root/etc/systemd/system/failoverd-package-driver.service" <<'UNIT'
[Unit]
After=multi-user.target
[Service]
Type=oneshot
TimeoutStartSec=300
ExecStart=/usr/local/bin/failoverd-package-driver
[Install]
WantedBy=multi-user.target
UNIT
install -d "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/failoverd-package-driver.service "$root/etc/systemd/system/multi-user.target.wants/"
rm -f "$root/result"
log=target/nsroot/package-test.log
started=$(date +%s)
timeout 360 systemd-nspawn --boot --register=no --keep-unit --private-network -D "$root" >"$log" 2>&1 </dev/null || true
if [ ! -f "$root/result" ] || ! grep -q '^done$' "$root/result"; then
    echo "package test: the driver did not finish; container log:" >&2
    tail -40 "$log" >&2
    cat "$root/result" 2>/dev/null >&2
    exit 1
fi
cat "$root/result"
passed=$(grep -c '^ok ' "$root/result" || true)
failed=$(grep -c '^FAIL ' "$root/result" || true)
if [ "$failed" = 0 ]; then
    echo "package test: all $passed checks passed (container $(($(date +%s) - started)) s)"
else
    echo "package test: $failed of $((passed + failed)) checks FAILED"
    exit 1
fi
