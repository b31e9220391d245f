//! The recovery exception of `max_per_hour` (contract section 7), as a user
//! runs it: the real binary, the firewall emulator and a real SMTP server
//! (mailin). With `max_per_hour = 1` the group's down mail uses the hour's
//! only mail; when the group comes back, the recovery still arrives within
//! the coalesce window, not in the hourly digest an hour later.

mod daemonutil;
mod mailutil;

use std::time::{Duration, Instant};

use daemonutil::{Daemon, GROUP, actions, emulator, listen, settings};

const COALESCE_SECS: u64 = 3;

/// The event kinds a mail names in X-Failoverd-Event.
fn kinds(m: &mailutil::Received) -> Vec<String> {
    let header = m.header("X-Failoverd-Event").unwrap_or_default();
    header.split(", ").map(str::to_owned).collect()
}

/// Mails until one names `kind`, within `limit`; every mail seen is kept.
fn until_kind(
    rt: &tokio::runtime::Runtime,
    smtp: &mut mailutil::Mailin,
    kind: &str,
    limit: Duration,
    seen: &mut Vec<mailutil::Received>,
) -> Option<mailutil::Received> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(m) = seen.iter().find(|m| kinds(m).iter().any(|k| k == kind)) {
            return Some(m.clone());
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        match rt.block_on(async { tokio::time::timeout(left, smtp.rx.recv()).await }) {
            Ok(Some(m)) => seen.push(m),
            _ => return None,
        }
    }
}

fn subjects(seen: &[mailutil::Received]) -> String {
    (seen.iter())
        .map(|m| format!("{:?}: {}", kinds(m), m.header("Subject").unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_recovery_beyond_max_per_hour_arrives_within_the_coalesce_window() {
    let (rt, emu) = emulator();
    let mut smtp = mailutil::mailin(mailutil::port0(), mailutil::MailinOptions::default());
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let b = listen("127.0.0.2", port);
    let mail = format!(
        "[mail]\nserver = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"failoverd <failoverd@example.com>\"\n\
         to = [\"netops@example.com\"]\ncoalesce = \"{COALESCE_SECS}s\"\nmax_per_hour = 1\n",
        smtp.port
    );
    let group = GROUP.replace("PORT", &port.to_string()).replace(
        "</MemberConnections>",
        "</MemberConnections><MailNotification>Enable</MailNotification>",
    );
    let d = Daemon::start_with(&(settings(&emu, port, "underlay", "") + &mail), &group);
    actions(&emu, 1, Duration::from_secs(10), &d.log);

    // Both members fail together: their downs and the group's share the
    // hour's one mail for G.
    drop((a, b));
    let mut seen = Vec::new();
    let down = until_kind(&rt, &mut smtp, "GroupDown", Duration::from_secs(30), &mut seen)
        .unwrap_or_else(|| panic!("no GroupDown mail within 30 s; mails:\n{}", subjects(&seen)));
    assert!(
        kinds(&down).iter().any(|k| k == "MemberDown"),
        "the members' downs came in the same mail: {:?}",
        kinds(&down)
    );
    actions(&emu, 2, Duration::from_secs(15), &d.log);

    // The group comes back: beyond max_per_hour, yet the recovery goes
    // with the next coalesced mail.
    let back = Instant::now();
    let _a = listen("127.0.0.1", port);
    let _b = listen("127.0.0.2", port);
    let limit = Duration::from_secs(COALESCE_SECS + 20);
    let up = until_kind(&rt, &mut smtp, "GroupUp", limit, &mut seen).unwrap_or_else(|| {
        panic!(
            "no GroupUp mail within {limit:?} of the group's return (held for the hourly digest?); mails:\n{}",
            subjects(&seen)
        )
    });
    let subject = up.header("Subject").unwrap_or_default();
    assert!(subject.contains("G UP"), "{subject}");
    assert!(!subject.starts_with("Digest"), "not the hourly digest: {subject}");
    assert!(back.elapsed() < limit, "{:?}", back.elapsed());
    let ups = seen.iter().filter(|m| kinds(m).iter().any(|k| k == "GroupUp")).count();
    assert_eq!(ups, 1, "one recovery mail:\n{}", subjects(&seen));

    // It flaps again: that episode's first mail never went out (the hour
    // is full), so its down and its up both wait for the digest.
    actions(&emu, 3, Duration::from_secs(15), &d.log);
    let pending = d.dir.path().join("state/spool/pending.jsonl");
    drop((_a, _b));
    until_held(&pending, "GroupDown");
    let _a = listen("127.0.0.1", port);
    let _b = listen("127.0.0.2", port);
    until_held(&pending, "GroupUp");
    while let Ok(m) = smtp.rx.try_recv() {
        seen.push(m);
    }
    let groups = seen
        .iter()
        .filter(|m| kinds(m).iter().any(|k| k.starts_with("Group")))
        .count();
    assert_eq!(groups, 2, "the second flap is held:\n{}", subjects(&seen));

    let (code, _log, _state, _dir) = d.stop();
    assert_eq!(code, 0);
}

/// Waits (bounded) until `pending.jsonl` holds a `kind` event held back
/// for G's hourly digest.
fn until_held(pending: &std::path::Path, kind: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = |line: &str| line.contains("\"held\":{\"Group\":\"G\"}") && line.contains(&format!("\"{kind}\""));
    loop {
        let text = std::fs::read_to_string(pending).unwrap_or_default();
        if text.lines().any(held) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no held {kind} in pending.jsonl within 30 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
