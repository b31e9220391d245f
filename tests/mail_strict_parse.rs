//! Every kind of mail failoverd sends, rendered and formatted exactly as it
//! goes over SMTP, parsed by a strict, independent RFC 5322 parser: Python's
//! `email` package with the default policy (`/usr/bin/python3`; SKIPPED if
//! absent). Any defect it reports fails the test; so does a missing
//! `MIME-Version: 1.0`, `Auto-Submitted: auto-generated`, a Message-ID
//! outside the From address's domain, a line over 998 octets or a bare LF.

use std::process::Command;
use std::time::{Duration, SystemTime};

use failoverd::mail::digest;
use failoverd::mail::event::{DaemonKind as D, Event, Kind};
use failoverd::mail::render::{self, Context, LocalZone, Mail, Stamp, message_domain};
use failoverd::mail::smtp::message;
use failoverd::mail::types::{MailSettings, Security};

const PYTHON: &str = "/usr/bin/python3";

/// Parses each file named on the command line; prints one JSON object per
/// file with the defects found anywhere (message, headers, body) and the
/// header values the test checks.
const PARSER: &str = r#"
import json, sys
from email import policy
from email.parser import BytesParser
for path in sys.argv[1:]:
    raw = open(path, 'rb').read()
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    defects = [repr(d) for d in msg.defects]
    for name, value in msg.items():
        defects += ['%s: %r' % (name, d) for d in getattr(value, 'defects', ())]
    for part in msg.walk():
        defects += [repr(d) for d in part.defects]
    body = msg.get_content()
    date = msg['Date']
    print(json.dumps({
        'path': path,
        'defects': defects,
        'mime': str(msg['MIME-Version']),
        'auto': str(msg['Auto-Submitted']),
        'kinds': str(msg['X-Failoverd-Event']),
        'content_type': msg.get_content_type(),
        'charset': msg.get_content_charset(),
        'message_id': str(msg['Message-ID']),
        'from_domain': msg['From'].addresses[0].domain,
        'subject': str(msg['Subject']),
        'date_ok': date is not None and date.datetime is not None,
        'body': body,
        'count': {h: len(msg.get_all(h) or []) for h in ['From', 'To', 'Date', 'Message-ID', 'Subject', 'MIME-Version', 'Auto-Submitted', 'Content-Type', 'X-Failoverd-Event']},
    }))
"#;

fn all_kinds() -> Vec<Kind> {
    let kinds = vec![
        Kind::MemberDown,
        Kind::MemberUp,
        Kind::Failover,
        Kind::Failback,
        Kind::GroupDown,
        Kind::GroupUp,
        Kind::GroupRestart,
        Kind::Daemon(D::ApiUnusable),
        Kind::Daemon(D::ApiUsable),
        Kind::Daemon(D::PushRefused),
        Kind::Daemon(D::PushRecovered),
        Kind::Daemon(D::DeactivateDecided),
        Kind::Daemon(D::GuardTrip),
        Kind::Daemon(D::GuardTripEnded),
        Kind::Daemon(D::IcmpFailure),
        Kind::Daemon(D::StateDirFailure),
        Kind::Daemon(D::StateLost),
        Kind::Daemon(D::SpoolOverLimit),
        Kind::Daemon(D::ReloadRejected),
        Kind::Daemon(D::BecameActive),
        Kind::Daemon(D::BecameStandby),
        Kind::Daemon(D::FirewallDisagrees),
        Kind::Daemon(D::FirewallAgrees),
        Kind::Daemon(D::PushNotHonoured),
        Kind::Daemon(D::SnmpUnusable),
        Kind::Daemon(D::SnmpUsable),
        Kind::Daemon(D::Test),
        Kind::Daemon(D::DefinitionDiffers),
        Kind::Daemon(D::DefinitionInStep),
        Kind::Daemon(D::FirewallSwitched),
        Kind::Daemon(D::PushDecided),
    ];
    assert_eq!(kinds.len(), Kind::ALL.len(), "Kind::ALL lists every kind");
    // A new kind stops this compiling until it is listed above.
    for k in &kinds {
        match k {
            Kind::MemberDown
            | Kind::MemberUp
            | Kind::Failover
            | Kind::Failback
            | Kind::GroupDown
            | Kind::GroupUp
            | Kind::GroupRestart
            | Kind::Daemon(
                D::ApiUnusable
                | D::ApiUsable
                | D::PushRefused
                | D::PushRecovered
                | D::DeactivateDecided
                | D::GuardTrip
                | D::GuardTripEnded
                | D::IcmpFailure
                | D::StateDirFailure
                | D::StateLost
                | D::SpoolOverLimit
                | D::ReloadRejected
                | D::BecameActive
                | D::BecameStandby
                | D::FirewallDisagrees
                | D::FirewallAgrees
                | D::PushNotHonoured
                | D::SnmpUnusable
                | D::SnmpUsable
                | D::Test
                | D::DefinitionDiffers
                | D::DefinitionInStep
                | D::FirewallSwitched
                | D::PushDecided,
            ) => {}
        }
    }
    kinds
}

fn settings() -> MailSettings {
    MailSettings {
        host: "mail.example.com".into(),
        port: 587,
        security: Security::StartTls,
        from: "failoverd on mön1 <failoverd@example.com>".into(),
        to: vec!["netops@example.com".into(), "Ops Zürich <zh@example.org>".into()],
        username: None,
        password: None,
        ca_file: None,
        timeout: Duration::from_secs(30),
        coalesce: Duration::from_secs(10),
        max_per_hour: 6,
        spool_max: 1000,
    }
}

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_805)
}

fn event(kind: Kind, group: &str, secs: u64) -> Event {
    Event::new(
        kind,
        "3 failed checks in a row: no reply within 1s",
        t0() + Duration::from_secs(secs),
    )
    .with_group(group)
    .with_member("Primär_Link")
    .with_change("Primär_Link", "Backup")
    .with_check("TCP/443", "203.0.113.10")
    .with_expected("Backup")
    .with_push("DeActive HQ_VPN", "200 Configuration applied successfully.")
}

/// Every kind of mail: one per event kind (ASCII and non-ASCII group
/// names, one reason far over 998 octets), coalesced batches, an hourly
/// digest, a spool digest and the mail-test mail.
fn every_mail() -> Vec<Mail> {
    let s = settings();
    let domain = message_domain(&s.from);
    let ctx = Context {
        host: "mon1.example.net".into(),
        zone: LocalZone::Fixed(3600),
    };
    let stamp = || Stamp::new(&domain, t0());
    let mut mails = Vec::new();
    for (i, kind) in all_kinds().into_iter().enumerate() {
        let group = if i % 2 == 0 { "HQ_VPN" } else { "Zürich_VPN" };
        let mut e = event(kind, group, 0);
        if kind == Kind::Daemon(D::ReloadRejected) {
            e.reason = format!(
                "failoverd.toml:8:1: {}",
                "connections.B.fal: unknown key fal; ".repeat(60)
            );
        }
        mails.push(render::batch(&[e], &ctx, stamp()));
    }
    let episode = vec![
        event(Kind::MemberDown, "Zürich_VPN", 0),
        event(Kind::Failover, "Zürich_VPN", 0),
        event(Kind::GroupDown, "Zürich_VPN", 1),
        event(Kind::GroupUp, "Zürich_VPN", 6),
    ];
    mails.push(render::batch(&episode, &ctx, stamp()));
    let many: Vec<Event> = (0..40)
        .map(|i| event(Kind::GroupDown, &format!("Site_{i}_with_a_rather_long_group_name"), i))
        .collect();
    mails.push(render::batch(&many, &ctx, stamp()));
    mails.push(digest::hourly("Zürich_VPN", &episode, 6, &ctx, stamp()));
    let folded: Vec<Mail> = mails[..3].to_vec();
    mails.push(digest::spool(&folded, 1000, &ctx, stamp()));
    mails.push(digest::test_mail(&s, &ctx, stamp()));
    mails
}

#[test]
fn every_mail_passes_a_strict_rfc5322_parser() {
    if !std::path::Path::new(PYTHON).exists() {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {PYTHON} not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mails = every_mail();
    let mut paths = Vec::new();
    for (i, mail) in mails.iter().enumerate() {
        let raw = message(mail, &settings()).unwrap().formatted();
        check_lines(&raw, &mail.subject);
        let path = dir.path().join(format!("{i:02}.eml"));
        std::fs::write(&path, &raw).unwrap();
        paths.push(path);
    }
    let out = Command::new(PYTHON)
        .arg("-c")
        .arg(PARSER)
        .args(&paths)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), mails.len());
    for (mail, got) in mails.iter().zip(&lines) {
        let what = format!("{:?}: {}", mail.class, mail.subject);
        assert_eq!(got["defects"], serde_json::json!([]), "{what}");
        assert_eq!(got["mime"], "1.0", "{what}");
        assert_eq!(got["auto"], "auto-generated", "{what}");
        // The event kinds, each once, in the order the mail reports them:
        // what filters and the fault matrix key on, never the wording.
        let mut kinds: Vec<&str> = Vec::new();
        for e in &mail.events {
            if !kinds.contains(&e.kind.name()) {
                kinds.push(e.kind.name());
            }
        }
        assert!(!kinds.is_empty(), "{what}: a mail reports at least one event");
        assert_eq!(got["kinds"], kinds.join(", ").as_str(), "{what}");
        assert_eq!(got["content_type"], "text/plain", "{what}");
        assert_eq!(got["charset"], "utf-8", "{what}");
        assert_eq!(got["from_domain"], "example.com", "{what}");
        assert_eq!(got["message_id"], mail.message_id.as_str(), "{what}");
        assert!(
            mail.message_id.ends_with("@example.com>"),
            "a Message-ID in the From address's domain: {}",
            mail.message_id
        );
        assert_eq!(got["subject"], mail.subject.as_str(), "{what}");
        assert_eq!(got["date_ok"], true, "{what}");
        let body = got["body"].as_str().unwrap().replace("\r\n", "\n");
        assert_eq!(body, mail.body, "{what}");
        for (h, n) in got["count"].as_object().unwrap() {
            assert_eq!(n, 1, "{what}: {h} appears {n} times");
        }
    }
}

/// CRLF only, and no line over 998 octets (RFC 5322 2.1.1).
fn check_lines(raw: &[u8], subject: &str) {
    for (i, line) in raw.split(|b| *b == b'\n').enumerate() {
        let last = i == raw.split(|b| *b == b'\n').count() - 1;
        if last {
            assert!(line.is_empty(), "{subject}: the message ends without CRLF");
            continue;
        }
        assert!(line.ends_with(b"\r"), "{subject}: line {i} ends in a bare LF");
        assert!(
            line.len() - 1 <= 998,
            "{subject}: line {i} is {} octets",
            line.len() - 1
        );
    }
}

#[test]
fn the_episode_subject_says_the_group_is_back() {
    let mails = every_mail();
    let episode = mails
        .iter()
        .find(|m| m.events.len() == 4 && m.class != render::Class::Digest)
        .unwrap();
    assert_eq!(episode.subject, "Zürich_VPN down, up again after 5 s (4 events)");
}
