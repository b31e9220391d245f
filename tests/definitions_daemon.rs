//! The daemon compares the definitions at every periodic Get (contract
//! section 17, docs/definitions.md), as a user runs it: the real binary,
//! the firewall emulator over HTTPS and a real SMTP server. A group edited
//! in the web admin is mailed once after two Gets in a row, with both
//! sides and the fix, and once more when it is in step again; `status`,
//! `/status` and `/metrics` show it; `sync = true` sends the file's
//! definition instead; a reply that cannot be compared sends nothing; and
//! `failoverd sync` goes through the running daemon.

mod daemonutil;
mod mailutil;

use std::time::{Duration, Instant};

use daemonutil::{Daemon, GROUP, cli, emulator_with, listen, settings};
use sfos_emulator::{ActionKind, Definition, Emulator, Protocol};

/// G as the group file says it (TCP on `port`, mail on).
fn definition(port: u16) -> Definition {
    Definition {
        name: "G".into(),
        members: vec!["A".into(), "B".into()],
        mail: true,
        failback: Some(true),
        conditions: vec![(Protocol::Tcp, Some(port))],
    }
}

fn group_file(port: u16) -> String {
    GROUP.replace("PORT", &port.to_string()).replace(
        "</FailoverCondition>",
        "</FailoverCondition><MailNotification>Enable</MailNotification>",
    )
}

/// Definitions sent (Add, Update) since the start.
fn sent(emu: &Emulator) -> Vec<ActionKind> {
    emu.requests()
        .iter()
        .flat_map(|r| r.actions.clone())
        .map(|a| a.action)
        .filter(|a| matches!(a, ActionKind::Add | ActionKind::Update | ActionKind::AddOrUpdate))
        .collect()
}

fn until(what: &str, limit: Duration, mut f: impl FnMut() -> Option<String>) -> String {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status_with(config: &std::path::Path, want: &str) -> String {
    let mut last = String::new();
    until(&format!("status with {want:?}"), Duration::from_secs(20), || {
        let (_, out, _) = cli(&["status"], config);
        last = out.clone();
        out.contains(want).then_some(out)
    })
}

fn metrics(port: u16) -> String {
    daemonutil::http_get(port, "GET", "/metrics")
}

/// Mails until one names `kind`; every mail read is kept in `got`.
fn until_mail(
    rt: &tokio::runtime::Runtime,
    smtp: &mut mailutil::Mailin,
    kind: &str,
    got: &mut Vec<mailutil::Received>,
) -> String {
    loop {
        if let Some(m) = got
            .iter()
            .find(|m| m.header("X-Failoverd-Event").unwrap_or_default().contains(kind))
        {
            return m.raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
        }
        got.push(rt.block_on(mailutil::next(&mut smtp.rx)));
    }
}

struct Run {
    rt: tokio::runtime::Runtime,
    emu: Emulator,
    d: Daemon,
    config: std::path::PathBuf,
    http: u16,
    _peers: (std::net::TcpListener, std::net::TcpListener),
}

/// The daemon with a Get every second, G defined on the firewall as its
/// file says, `[http]` and `extra` settings.
fn start(extra: &str) -> Run {
    start_every("1s", extra)
}

/// As [`start`], with a Get every `check_every`.
fn start_every(check_every: &str, extra: &str) -> Run {
    let (rt, emu) = emulator_with(false);
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    emu.add_group(definition(port), true);
    let http = listen("127.0.0.1", 0).local_addr().unwrap().port();
    let extra = format!("check_every = \"{check_every}\"\n{extra}\n[http]\nlisten = \"127.0.0.1:{http}\"\n");
    let dir = Daemon::prepare(&settings(&emu, port, "underlay", &extra), &group_file(port));
    let config = dir.path().join("failoverd.toml");
    let d = Daemon::start_in(dir);
    Run {
        rt,
        emu,
        d,
        config,
        http,
        _peers: (a, b),
    }
}

#[test]
fn an_edit_on_the_firewall_is_mailed_once_with_both_sides_and_its_end() {
    let mut smtp = mailutil::mailin(mailutil::port0(), mailutil::MailinOptions::default());
    let mail = format!(
        "[mail]\nserver = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"failoverd@example.com\"\nto = [\"netops@example.com\"]\ncoalesce = \"0s\"",
        smtp.port
    );
    // [mail] sits after [firewall]: check_every must stay in [firewall].
    let r = start(&format!("\n{mail}"));
    status_with(&r.config, "definition on the firewall: in step");
    assert!(metrics(r.http).contains("failoverd_definition_in_step{group=\"G\"} 1"));

    assert!(r.emu.edit_group("G", |d| d.members.reverse()));
    let mut got = Vec::new();
    let text = until_mail(&r.rt, &mut smtp, "DefinitionDiffers", &mut got);
    assert!(text.contains("members: file A, B, firewall B, A"), "{text}");
    assert!(text.contains("failoverd sync --group G"), "{text}");
    assert!(text.contains("failoverd import --group G --force"), "{text}");
    assert!(text.contains("two periodic Gets in a row"), "{text}");
    let out = status_with(&r.config, "definition on the firewall: differs: members");
    assert!(out.contains("firewall B, A"), "{out}");
    let page = metrics(r.http);
    assert!(page.contains("failoverd_definition_in_step{group=\"G\"} 0"), "{page}");
    let json = daemonutil::http_get(r.http, "GET", "/status");
    assert!(
        json.contains("\"definition\":\"differs: members: file A, B, firewall B, A\""),
        "{json}"
    );

    // Several Gets later: still one mail for the episode.
    r.d.until_logged("on the firewall differs from its file", Duration::from_secs(5));
    let gets = r.emu.requests().len();
    until("three more Gets", Duration::from_secs(15), || {
        (r.emu.requests().len() >= gets + 3).then_some(String::new())
    });
    assert!(r.emu.edit_group("G", |d| d.members.reverse()));
    until_mail(&r.rt, &mut smtp, "DefinitionInStep", &mut got);
    let differs = got
        .iter()
        .filter(|m| {
            m.header("X-Failoverd-Event")
                .unwrap_or_default()
                .contains("DefinitionDiffers")
        })
        .count();
    assert_eq!(differs, 1, "once per episode");
    status_with(&r.config, "definition on the firewall: in step");
    assert!(
        sent(&r.emu).is_empty(),
        "without sync = true nothing is sent: {:?}",
        sent(&r.emu)
    );
}

#[test]
fn sync_true_puts_an_edited_or_deleted_group_right_and_says_so() {
    let r = start("sync = true");
    status_with(&r.config, "definition on the firewall: in step");
    assert!(r.emu.edit_group("G", |d| d.failback = Some(false)));
    r.d.until_logged("sync = true sends the file's definition", Duration::from_secs(15));
    r.d.until_logged("definition sent: 200", Duration::from_secs(15));
    assert_eq!(sent(&r.emu), [ActionKind::Add, ActionKind::Update], "Add, 502, Update");
    assert_eq!(r.emu.definitions()["G"].failback, Some(true));
    status_with(&r.config, "definition on the firewall: in step");

    assert!(r.emu.remove_group("G"));
    until("the group added again", Duration::from_secs(15), || {
        r.emu.definitions().contains_key("G").then_some(String::new())
    });
    assert_eq!(sent(&r.emu).last(), Some(&ActionKind::Add));
    assert!(
        !r.d.log_text().contains("DefinitionDiffers"),
        "put right, not mailed: {}",
        r.d.log_text()
    );
}

#[test]
fn a_reply_that_cannot_be_compared_advances_nothing_and_sends_nothing() {
    let r = start("sync = true");
    status_with(&r.config, "definition on the firewall: in step");
    assert!(r.emu.edit_group("G", |d| d.members.reverse()));
    // The same reply also holds G twice: it cannot be compared.
    r.emu.set_extra_records(vec![
        "<GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail>"
            .into(),
    ]);
    let out = status_with(&r.config, "definitions: not compared at the last Get");
    assert!(out.contains("G more than once"), "{out}");
    let gets = r.emu.requests().len();
    until("four more Gets", Duration::from_secs(15), || {
        (r.emu.requests().len() >= gets + 4).then_some(String::new())
    });
    assert!(sent(&r.emu).is_empty(), "never sent on a reply that cannot be compared");
    assert!(!r.d.log_text().contains("sync = true sends"), "{}", r.d.log_text());
    // Readable again: now it differs, and is put right.
    r.emu.set_extra_records(Vec::new());
    r.d.until_logged("definition sent: 200", Duration::from_secs(15));
    assert_eq!(r.emu.definitions()["G"].members, ["A", "B"]);
}

#[test]
fn failoverd_sync_goes_through_the_running_daemon() {
    let r = start("");
    status_with(&r.config, "definition on the firewall: in step");
    let (code, out, err) = cli(&["sync", "--changed-only"], &r.config);
    assert_eq!((code, out.as_str()), (0, "G: unchanged\n"), "{err}");
    assert!(r.emu.edit_group("G", |d| d.mail = false));
    let (code, out, err) = cli(&["sync", "--changed-only", "--group", "G"], &r.config);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("G: updated: 200"), "{out}");
    assert!(
        err.contains("G: differs: mail notification: file Enable, firewall Disable"),
        "{err}"
    );
    r.d.until_logged("failoverd sync: G: updated: 200", Duration::from_secs(5));
    assert!(r.emu.definitions()["G"].mail);
    let (code, out, err) = cli(&["sync", "--group", "Nope"], &r.config);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
}

/// A sync through the daemon waits for a slot within `max_in_flight`
/// beside the pushes: with one slot and a push hanging in it, not even
/// its Get goes out until the push's answer (here, its timeout) comes.
#[test]
fn a_routed_sync_waits_for_a_slot_within_max_in_flight() {
    let r = start_every("15m", "max_in_flight = 1\ntimeout = \"3s\"");
    status_with(&r.config, "definition on the firewall: in step");
    r.emu.set_fault(sfos_emulator::Fault::Hang);
    let config = r.config.clone();
    let push = std::thread::spawn(move || cli(&["push", "G", "--deactivate", "--hold", "1m"], &config));
    until("the DeActive hanging", Duration::from_secs(10), || {
        let hung = r.emu.requests().iter().any(|q| {
            q.outcome == sfos_emulator::Outcome::Hung && q.actions.iter().any(|a| a.action == ActionKind::DeActive)
        });
        hung.then_some(String::new())
    });
    r.emu.clear_faults();
    let before = r.emu.requests().len();
    let started = Instant::now();
    let config = r.config.clone();
    let sync = std::thread::spawn(move || cli(&["sync", "--changed-only"], &config));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        r.emu.requests().len(),
        before,
        "nothing sent while the push holds the only slot: {:?}",
        r.emu.requests().last()
    );
    let (code, out, err) = sync.join().unwrap();
    assert_eq!((code, out.as_str()), (0, "G: unchanged\n"), "{err}");
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    let _ = push.join().unwrap();
}
