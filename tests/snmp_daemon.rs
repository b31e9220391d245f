//! The daemon with `[snmp]`, as a user runs it: the real binary, the
//! firewall emulator over HTTPS, a real snmpd serving the emulator's tunnel
//! table, and a real SMTP server. `failoverd status` shows which member the
//! firewall carries; a disagreement, a push not honoured and an agent that
//! stops answering are each mailed once, and none of them changes when
//! pushes are sent. Skips (SKIPPED) without snmpd when not root.

mod daemonutil;
mod mailutil;

use std::time::{Duration, Instant};

use daemonutil::{Daemon, GROUP, cli, emulator, listen, settings};
use sfos_emulator::ActionKind;
use sfos_emulator::tunnels::{AgentOptions, SnmpAgent, TableFault, snmpd_path};

const COMMUNITY: &str = "c0mmunity-canary";

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// Mails until one names `kind` in X-Failoverd-Event; returns it and how
/// many mails named it on the way (it must be one).
fn until_mail(
    rt: &tokio::runtime::Runtime,
    smtp: &mut mailutil::Mailin,
    kind: &str,
    got: &mut Vec<mailutil::Received>,
) -> mailutil::Received {
    loop {
        if let Some(m) = got
            .iter()
            .find(|m| m.header("X-Failoverd-Event").unwrap_or_default().contains(kind))
        {
            return m.clone();
        }
        got.push(rt.block_on(mailutil::next(&mut smtp.rx)));
    }
}

/// The mail's text with quoted-printable soft line breaks joined.
fn text(m: &mailutil::Received) -> String {
    m.raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

fn kinds(got: &[mailutil::Received], kind: &str) -> usize {
    got.iter()
        .filter(|m| {
            m.header("X-Failoverd-Event")
                .unwrap_or_default()
                .split(", ")
                .any(|k| k == kind)
        })
        .count()
}

fn until_status(config: &std::path::Path, want: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let (_, out, _) = cli(&["status"], config);
        if out.contains(want) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "no {want:?} in status within {limit:?}:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_daemon_shows_the_firewall_view_and_mails_each_disagreement_once() {
    if snmpd_path().is_none() {
        assert!(
            !root(),
            "snmpd is missing although this runs as root: scripts/test.sh installs it"
        );
        eprintln!("SKIPPED: snmpd is not installed (Debian package snmpd) and this is not root");
        return;
    }
    let (rt, emu) = emulator();
    let agent = SnmpAgent::start(AgentOptions {
        community: COMMUNITY.into(),
        users: vec![],
    })
    .unwrap();
    emu.attach_tunnels(agent.tunnels.clone());
    let mut smtp = mailutil::mailin(mailutil::port0(), mailutil::MailinOptions::default());
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let extra = format!(
        "[mail]\nserver = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"failoverd@example.com\"\nto = [\"netops@example.com\"]\ncoalesce = \"0s\"\n\
         [snmp]\naddress = \"{}\"\nversion = \"2c\"\ncommunity_file = \"community\"\ninterval = \"1s\"\ntimeout = \"500ms\"\nverify_within = \"3s\"\ndisagree_after = \"3s\"\n\
         [http]\nlisten = \"127.0.0.1:0\"\n",
        smtp.port,
        agent.addr()
    );
    let dir = Daemon::prepare(
        &settings(&emu, port, "underlay", &extra),
        // MailNotification on: disagreement and not-honoured are group
        // events (contract section 10).
        &GROUP.replace("PORT", &port.to_string()).replace(
            "</FailoverCondition>",
            "</FailoverCondition><MailNotification>Enable</MailNotification>",
        ),
    );
    std::fs::write(dir.path().join("community"), format!("{COMMUNITY}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path().join("community"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = dir.path().join("failoverd.toml");
    let d = Daemon::start_in(dir);
    let mut got = Vec::new();

    // 1. Agreement: failoverd expects A, the firewall carries A.
    daemonutil::actions(&emu, 1, Duration::from_secs(10), &d.log);
    let out = until_status(&config, "firewall carries: A\n", Duration::from_secs(10));
    assert!(out.contains("on the firewall: active, activated, read"), "{out}");
    assert!(out.contains("snmp: tunnel table read at"), "{out}");

    // 2. The firewall switches to B by itself: one mail after
    //    disagree_after, one when they agree again; no push on this ground.
    let requests = emu.requests().len();
    let rows = agent.tunnels.rows();
    let swap = |a_on: bool| {
        let mut r = rows.clone();
        for row in &mut r {
            if row.name == "A" || row.name == "B" {
                let carries = (row.name == "A") == a_on;
                row.status = u8::from(carries);
                row.activated = 1;
            }
        }
        r
    };
    agent.tunnels.set_rows(swap(false));
    let m = until_mail(&rt, &mut smtp, "FirewallDisagrees", &mut got);
    assert!(
        text(&m).contains("the firewall carries B; failoverd expects A"),
        "{}",
        m.raw
    );
    until_status(
        &config,
        "firewall carries: B (DISAGREES with failoverd)",
        Duration::from_secs(10),
    );
    let page = daemonutil::http_get(d.http_port(), "GET", "/metrics");
    assert!(
        page.contains("# TYPE failoverd_snmp_usable gauge\nfailoverd_snmp_usable 1\n"),
        "{page}"
    );
    assert!(page.contains("failoverd_firewall_disagrees{group=\"G\"} 1\n"), "{page}");
    agent.tunnels.set_rows(swap(true));
    until_mail(&rt, &mut smtp, "FirewallAgrees", &mut got);
    assert_eq!(kinds(&got, "FirewallDisagrees"), 1, "one mail per episode");
    let pushed: Vec<ActionKind> = emu.requests()[requests..]
        .iter()
        .flat_map(|r| r.actions.iter().map(|a| a.action))
        .filter(|a| *a != ActionKind::Get)
        .collect();
    assert!(pushed.is_empty(), "the view never starts a push: {pushed:?}");

    // 3. A DeActive accepted but not applied: mailed once, never sent again.
    agent.tunnels.set_fault(TableFault::NotApplied);
    drop((a, b));
    daemonutil::actions(&emu, 2, Duration::from_secs(15), &d.log);
    let m = until_mail(&rt, &mut smtp, "PushNotHonoured", &mut got);
    assert!(text(&m).contains("DeActive G"), "{}", m.raw);
    until_status(&config, "NOT HONOURED: DeActive G", Duration::from_secs(10));
    let deactives = || {
        emu.requests()
            .iter()
            .flat_map(|r| r.actions.iter().map(|a| a.action))
            .filter(|a| *a == ActionKind::DeActive)
            .count()
    };
    assert_eq!(deactives(), 1, "not re-sent on this ground");

    // 4. The agent stops answering: one mail, status says why; it answers
    //    again: one mail.
    agent.stop_answering().unwrap();
    let m = until_mail(&rt, &mut smtp, "SnmpUnusable", &mut got);
    assert!(text(&m).contains("cannot be read"), "{}", m.raw);
    until_status(
        &config,
        "snmp: the tunnel table cannot be read:",
        Duration::from_secs(10),
    );
    agent.resume().unwrap();
    until_mail(&rt, &mut smtp, "SnmpUsable", &mut got);
    assert_eq!(kinds(&got, "SnmpUnusable"), 1, "one per failure streak");
    assert_eq!(deactives(), 1);

    let (code, log, _, _) = d.stop();
    assert_eq!(code, 0);
    let text = log.join("\n");
    assert!(!text.contains(COMMUNITY), "the community never reaches the log");
    assert!(got.iter().all(|m| !m.raw.contains(COMMUNITY)), "nor a mail");
}
