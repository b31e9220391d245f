#!/bin/bash
# Run inside the container by scripts/systemd-boot-test.sh after the main
# unit's checks: the template unit systemd/failoverd@.service, booted twice
# (failoverd@hq, failoverd@branch), each instance against its own
# sfos-emulator with its own password. Appends ok/FAIL lines to /result.
r=/result
ok() { echo "ok $*" >> $r; }
bad() { echo "FAIL $*" >> $r; }
until_true() { for _ in $(seq 60); do eval "$1" && return 0; sleep 0.5; done; return 1; }
url_of() { journalctl -b -u "$1" -o cat | sed -n 's/^url = "\(.*\)"$/\1/p' | head -1; }
# The emulator logs one line per request: "PEER Tls: [Active HQ 200] answered".
pushed() { journalctl -b -u "fw-$1" -o cat | grep -Eq "(\[|, )$2 $3 200"; }
group_of() { case $1 in hq) echo HQ ;; branch) echo Branch ;; esac; }

# The container is kept between runs: start from no instance state.
rm -rf /var/lib/failoverd-* /var/lib/private/failoverd-*

# 1. Two firewalls, each with its own API password.
for i in hq branch; do
    (umask 077; printf '%s-api-password\n' "$i" > "/root/$i.pw")
    systemd-run -q --unit="fw-$i" /usr/local/bin/sfos-emulator --listen 127.0.0.1:0 --username failoverd \
        --password-file "/root/$i.pw" --cert-out "/etc/failoverd/fw-$i.pem"
done
until_true '[ -n "$(url_of fw-hq)" ] && [ -n "$(url_of fw-branch)" ]' \
    || bad "emulators did not start: $(journalctl -b -u fw-hq -u fw-branch -o cat | tail -5)"

# 2. The admin's files: /etc/failoverd/NAME.toml with its own state_dir and
# [http] port, its groups, and /etc/credstore/failoverd-NAME/firewall.password.
port=9801
for i in hq branch; do
    install -d "/etc/failoverd/$i.d" && install -d -m 0700 "/etc/credstore/failoverd-$i"
    cat > "/etc/failoverd/$i.toml" <<TOML
groups = ["$i.d/*.xml"]
state_dir = "/var/lib/failoverd-$i"
[probe]
interval = "500ms"
timeout = "500ms"
fall = 2
rise = 2
[connections.Loop]
targets = ["127.0.0.1"]
via = "underlay"
[firewall]
url = "$(url_of "fw-$i")"
username = "failoverd"
ca_file = "fw-$i.pem"
[http]
listen = "127.0.0.1:$port"
TOML
    port=$((port + 1))
    g=$(group_of $i)
    echo "<VPNFailoverGroup><GroupDetail><Name>$g</Name><MemberConnections><Connection>Loop</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>" \
        > "/etc/failoverd/$i.d/g.xml"
    (umask 077; cp "/root/$i.pw" "/etc/credstore/failoverd-$i/firewall.password")
    # From a shell, -c /etc/failoverd/NAME.toml reads the instance's password,
    # not the main unit's /etc/credstore/firewall.password (also present).
    failoverd -c "/etc/failoverd/$i.toml" sync >"/tmp/sync-$i.out" 2>&1 \
        && ok "failoverd -c /etc/failoverd/$i.toml sync: the instance's credential" || bad "sync $i: $(tail -3 /tmp/sync-$i.out)"
    failoverd check -c "/etc/failoverd/$i.toml" >"/tmp/check-$i.out" 2>&1
    grep -q 'collides' "/tmp/check-$i.out" && bad "check $i warns of a collision: $(grep collides /tmp/check-$i.out)"
done

# 3. Both instances start (Type=notify), each under its own dynamic user.
systemctl start failoverd@hq failoverd@branch 2>/tmp/start.out || bad "start: $(cat /tmp/start.out)"
for i in hq branch; do
    until_true "systemctl is-active -q failoverd@$i" && ok "failoverd@$i: Type=notify start" \
        || bad "failoverd@$i start: $(systemctl status failoverd@$i --no-pager | tail -5)"
done
for i in hq branch; do
    g=$(group_of $i)
    until_true "failoverd -c /etc/failoverd/$i.toml status | grep -q 'PING 127.0.0.1: up'" \
        && ok "failoverd -c /etc/failoverd/$i.toml status reaches failoverd@$i" \
        || bad "status $i: $(failoverd -c /etc/failoverd/$i.toml status 2>&1 | tail -3)"
    failoverd -c "/etc/failoverd/$i.toml" status 2>&1 | grep -qw "$g" || bad "status $i does not show $g"
    until_true "pushed $i Active $g" && ok "failoverd@$i pushed Active $g to its own firewall" \
        || bad "no Active $g at fw-$i: $(journalctl -b -u fw-$i -o cat | tail -3)"
    [ -S "/var/lib/failoverd-$i/control.sock" ] && [ -f "/var/lib/failoverd-$i/state.json" ] \
        && ok "failoverd@$i: state and control socket in /var/lib/failoverd-$i" \
        || bad "state dir $i: $(ls -la /var/lib/failoverd-$i/ 2>&1)"
done
mixed=$(journalctl -b -u fw-hq -o cat | grep -F Branch; journalctl -b -u fw-branch -o cat | grep -F HQ)
refused=$(journalctl -b -u fw-hq -u fw-branch -o cat | grep -oE '(\[|, )[A-Za-z]+ (HQ|Branch) [0-9]+' | grep -v ' 200$')
[ -z "$mixed" ] && [ -z "$refused" ] && ok "each firewall got requests for its own group only, all accepted" \
    || bad "requests crossed or refused: $mixed $refused"
hq_user=$(ps -o user= -p "$(systemctl show -p MainPID --value failoverd@hq)")
branch_user=$(ps -o user= -p "$(systemctl show -p MainPID --value failoverd@branch)")
[ -n "$hq_user" ] && [ "$hq_user" != root ] && [ "$hq_user" != "$branch_user" ] \
    && ok "each instance runs as its own dynamic user ($hq_user, $branch_user)" || bad "users: '$hq_user' '$branch_user'"

# 4. A hold placed through hq's settings lands in hq's state only.
failoverd -c /etc/failoverd/hq.toml hold HQ --for 1h --reason instance-test >/tmp/hold.out 2>&1 || bad "hold: $(cat /tmp/hold.out)"
until_true 'grep -q instance-test /var/lib/failoverd-hq/state.json' && ! grep -q instance-test /var/lib/failoverd-branch/state.json \
    && ok "a hold through hq.toml is kept in /var/lib/failoverd-hq only" \
    || bad "hold state: $(ls -la /var/lib/failoverd-hq /var/lib/failoverd-branch 2>&1)"
failoverd -c /etc/failoverd/branch.toml hold HQ --for 1h >/tmp/hold2.out 2>&1 \
    && bad "branch accepted a hold on hq's group" || ok "branch refuses a hold on hq's group (not its own)"

# 5. systemctl reload failoverd@hq reloads hq alone.
branch_pid=$(systemctl show -p MainPID --value failoverd@branch)
sed -i 's/^interval = "500ms"/interval = "600ms"/' /etc/failoverd/hq.toml /etc/failoverd/branch.toml
reloads() { journalctl -b -u "failoverd@$1" EVENT=ReloadApplied -o cat | wc -l; }
systemctl reload failoverd@hq || bad "reload failoverd@hq failed"
until_true '[ "$(reloads hq)" -ge 1 ]' && ok "systemctl reload failoverd@hq reloads hq" \
    || bad "hq did not reload: $(journalctl -b -u failoverd@hq -o cat | tail -3)"
[ "$(reloads branch)" = 0 ] && [ "$(systemctl show -p MainPID --value failoverd@branch)" = "$branch_pid" ] \
    && ok "branch neither reloaded nor restarted" || bad "branch reloaded ($(reloads branch)) or restarted"
sed -i 's/^interval = "600ms"/interval = "500ms"/' /etc/failoverd/branch.toml

# 6. The template is hardened like the main unit.
for i in hq branch; do
    level=$(systemd-analyze security "failoverd@$i" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
    [ -n "$level" ] && awk "BEGIN { exit !($level <= 2.0) }" && ok "systemd-analyze security failoverd@$i: $level" \
        || bad "security failoverd@$i: '$level'"
done

# 7. Bad instances. A missing settings file: the start fails on failoverd's
# own line naming the file (exit 2: no restart). A name systemd escaped, or
# one too long for the instance's user failoverd-NAME (31 characters):
# systemd refuses to start it, and never runs failoverd.
for name in nope "$(systemd-escape 'new york')" a234567890b234567890c2; do
    unit="failoverd@$name.service"
    install -d -m 0700 "/etc/credstore/failoverd-$name"
    (umask 077; echo unused > "/etc/credstore/failoverd-$name/firewall.password")
    systemctl start "$unit" 2>/tmp/bad-start.out && bad "$unit started without its settings file"
    if [ "$name" = nope ]; then
        line=$(journalctl -b -u "$unit" -o cat | grep -F "/etc/failoverd/$name.toml" | head -1)
        [ -n "$line" ] && [ "$(systemctl show -p ExecMainStatus --value "$unit")" = 2 ] \
            && [ "$(systemctl show -p NRestarts --value "$unit")" = 0 ] && systemctl is-failed -q "$unit" \
            && ok "$unit without /etc/failoverd/$name.toml: failed, not restarted; journal: $line" \
            || bad "$unit: $(cat /tmp/bad-start.out) / $(journalctl -b -u "$unit" -o cat | tail -3) / $(systemctl show -p ExecMainStatus -p NRestarts "$unit" | tr '\n' ' ')"
    else
        line=$(journalctl -b -u "$unit" -o cat | grep -F "Invalid argument" | head -1)
        [ -n "$line" ] && ! journalctl -b -u "$unit" -o cat | grep -q "cannot read settings" \
            && ok "instance name '$name' refused by systemd, failoverd not run; journal: $line" \
            || bad "$unit: $(cat /tmp/bad-start.out) / $(journalctl -b -u "$unit" -o cat | tail -3) / $(systemctl is-failed "$unit")"
    fi
done

# 8. An instance whose file does not set state_dir runs (in its
# StateDirectory=), and its journal says what commands would miss.
sed -e '/^state_dir/d' -e 's/^listen = .*/listen = "127.0.0.1:9809"/' /etc/failoverd/branch.toml > /etc/failoverd/lone.toml
install -d -m 0700 /etc/credstore/failoverd-lone
(umask 077; cp /root/branch.pw /etc/credstore/failoverd-lone/firewall.password)
sed -i 's/^url = .*/&\ndry_run = true/' /etc/failoverd/lone.toml
systemctl start failoverd@lone 2>/tmp/lone.out || bad "failoverd@lone: $(cat /tmp/lone.out)"
line=$(journalctl -b -u failoverd@lone -o cat | grep -F 'state_dir is not set' | head -1)
[ -n "$line" ] && echo "$line" | grep -qF 'set state_dir = "/var/lib/failoverd-lone"' \
    && ok "failoverd@lone without state_dir warns in the journal: $line" || bad "lone: $(journalctl -b -u failoverd@lone -o cat | tail -3)"
systemctl stop failoverd@lone

# 9. Both stop cleanly.
systemctl stop failoverd@hq failoverd@branch
for i in hq branch; do
    [ "$(systemctl show -p Result --value failoverd@$i)" = success ] && ok "failoverd@$i: clean stop" \
        || bad "stop $i: $(systemctl show -p Result --value failoverd@$i)"
done
