//! The SMTP client against real servers: mailin-embedded in this process
//! (STARTTLS, AUTH, plain; implicit TLS through a TLS front) and aiosmtpd
//! (`python3-aiosmtpd`) as a second, independent implementation.

mod mailutil;

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use failoverd::mail::event::{Event, Kind};
use failoverd::mail::outbox::mail_test;
use failoverd::mail::render::{self, Context, LocalZone, Mail, Stamp};
use failoverd::mail::smtp::{Client, Reason, SendError};
use failoverd::mail::types::Security;
use mailutil::*;

fn sample() -> Mail {
    let e = Event::new(
        Kind::Failover,
        "3 failed checks in a row: no reply within 1s",
        SystemTime::now(),
    )
    .with_group("HQ_VPN")
    .with_change("HQ_Primary", "HQ_Backup");
    let ctx = Context {
        host: "mon1.example.net".into(),
        zone: LocalZone::System,
    };
    let mut m = render::batch(&[e], &ctx, Stamp::new("mon1.example.net", SystemTime::now()));
    m.body.push_str("Grüße, ü → ✓\n");
    m
}

async fn send(s: &failoverd::mail::types::MailSettings, mail: &Mail) -> Result<String, SendError> {
    Client::new(s, "mon1.example.net")?.send(mail).await
}

#[tokio::test]
async fn starttls_with_a_private_ca_delivers_a_standard_mail() {
    let certs = certs(&["127.0.0.1", "localhost"]);
    let mut server = mailin(
        port0(),
        MailinOptions {
            tls: Some(&certs),
            login: None,
        },
    );
    let mut s = settings(server.port, Security::StartTls);
    s.ca_file = Some(certs.ca.clone());
    s.to = vec!["netops@example.com".into(), "Ops Two <two@example.com>".into()];
    let mail = sample();
    let answer = send(&s, &mail).await.unwrap();
    assert!(answer.starts_with("250"), "{answer}");
    let got = next(&mut server.rx).await;
    assert_eq!(got.from, "failoverd@example.com");
    assert_eq!(got.to, ["netops@example.com", "two@example.com"]);
    assert_eq!(got.header("From").unwrap(), "failoverd <failoverd@example.com>");
    assert_eq!(got.header("Message-ID").unwrap(), mail.message_id);
    assert_eq!(got.header("Subject").unwrap(), mail.subject);
    assert_eq!(got.header("Content-Type").unwrap(), "text/plain; charset=utf-8");
    assert!(
        got.header("Date").is_some_and(|d| d.ends_with("+0000")),
        "{:?}",
        got.header("Date")
    );
    let to = got.header("To").unwrap();
    assert!(
        to.contains("netops@example.com") && to.contains("Ops Two") && to.contains("<two@example.com>"),
        "{to}"
    );
    assert!(got.raw.is_ascii(), "transfer-encoded for any server");
}

#[tokio::test]
async fn a_utf8_subject_is_encoded() {
    let certs = certs(&["127.0.0.1"]);
    let mut server = mailin(
        port0(),
        MailinOptions {
            tls: Some(&certs),
            login: None,
        },
    );
    let mut s = settings(server.port, Security::StartTls);
    s.ca_file = Some(certs.ca.clone());
    let mut mail = sample();
    mail.subject = "Zürich_VPN failed over A -> B".into();
    send(&s, &mail).await.unwrap();
    let subject = next(&mut server.rx).await.header("Subject").unwrap();
    assert!(subject.starts_with("=?utf-8?"), "{subject}");
}

#[tokio::test]
async fn without_the_ca_the_certificate_is_not_trusted() {
    let certs = certs(&["127.0.0.1"]);
    let server = mailin(
        port0(),
        MailinOptions {
            tls: Some(&certs),
            login: None,
        },
    );
    let e = send(&settings(server.port, Security::StartTls), &sample())
        .await
        .unwrap_err();
    assert_eq!(e.reason, Reason::Untrusted, "{e}");
    assert!(e.to_string().contains("set ca_file"), "{e}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_not_trusted() {
    let certs = certs(&["mail.example.com"]);
    let server = mailin(
        port0(),
        MailinOptions {
            tls: Some(&certs),
            login: None,
        },
    );
    let mut s = settings(server.port, Security::StartTls);
    s.ca_file = Some(certs.ca.clone());
    let e = send(&s, &sample()).await.unwrap_err();
    assert_eq!(e.reason, Reason::Untrusted, "{e}");
    assert!(e.to_string().contains("not valid for the name"), "{e}");
}

#[tokio::test]
async fn auth_accepted_after_starttls() {
    let certs = certs(&["127.0.0.1"]);
    let mut server = mailin(
        port0(),
        MailinOptions {
            tls: Some(&certs),
            login: Some(("alert", "s3cret pw")),
        },
    );
    let mut s = with_login(settings(server.port, Security::StartTls), "alert", "s3cret pw");
    s.ca_file = Some(certs.ca.clone());
    send(&s, &sample()).await.unwrap();
    assert_eq!(next(&mut server.rx).await.user.as_deref(), Some("alert"));
}

#[tokio::test]
async fn auth_refused_says_so_without_the_password() {
    let certs = certs(&["127.0.0.1"]);
    let server = mailin(
        port0(),
        MailinOptions {
            tls: Some(&certs),
            login: Some(("alert", "right")),
        },
    );
    let mut s = with_login(settings(server.port, Security::StartTls), "alert", "wrong-Pa55");
    s.ca_file = Some(certs.ca.clone());
    let e = send(&s, &sample()).await.unwrap_err();
    assert_eq!(e.reason, Reason::AuthRefused, "{e}");
    assert!(e.to_string().contains("535"), "{e}");
    assert!(!format!("{e} {e:?}").contains("wrong-Pa55"));
    assert_eq!(server.auth_attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn implicit_tls_delivers() {
    let certs = certs(&["127.0.0.1"]);
    let (port, mut backend) = smtps_front(&certs).await;
    let mut s = settings(port, Security::Tls);
    s.ca_file = Some(certs.ca.clone());
    let mail = sample();
    assert!(send(&s, &mail).await.unwrap().starts_with("250"));
    assert_eq!(
        next(&mut backend.rx).await.header("Message-ID").unwrap(),
        mail.message_id
    );
}

#[tokio::test]
async fn implicit_tls_without_the_ca_is_not_trusted() {
    let certs = certs(&["127.0.0.1"]);
    let (port, mut backend) = smtps_front(&certs).await;
    let e = send(&settings(port, Security::Tls), &sample()).await.unwrap_err();
    assert_eq!(e.reason, Reason::Untrusted, "{e}");
    assert!(backend.rx.try_recv().is_err(), "nothing delivered");
}

#[tokio::test]
async fn an_untrusted_server_never_sees_the_login() {
    let certs = certs(&["127.0.0.1"]);
    let server = mailin(
        port0(),
        MailinOptions {
            tls: Some(&certs),
            login: Some(("alert", "pw")),
        },
    );
    let s = with_login(settings(server.port, Security::StartTls), "alert", "pw");
    let e = send(&s, &sample()).await.unwrap_err();
    assert_eq!(e.reason, Reason::Untrusted, "{e}");
    assert_eq!(server.auth_attempts.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn implicit_tls_to_a_starttls_port_is_a_tls_mismatch() {
    let certs = certs(&["127.0.0.1"]);
    let server = mailin(
        port0(),
        MailinOptions {
            tls: Some(&certs),
            login: None,
        },
    );
    let mut s = settings(server.port, Security::Tls);
    s.ca_file = Some(certs.ca.clone());
    let e = send(&s, &sample()).await.unwrap_err();
    assert_eq!(e.reason, Reason::TlsMismatch, "{e}");
    assert!(e.to_string().contains("write smtp://127.0.0.1:"), "{e}");
}

#[tokio::test]
async fn starttls_to_an_implicit_tls_port_times_out_with_a_hint() {
    let certs = certs(&["127.0.0.1"]);
    let (port, _backend) = smtps_front(&certs).await;
    let mut s = settings(port, Security::StartTls);
    s.timeout = Duration::from_millis(500);
    let e = send(&s, &sample()).await.unwrap_err();
    assert_eq!(e.reason, Reason::Timeout, "{e}");
    assert!(e.to_string().contains("got no SMTP greeting"), "{e}");
    assert!(e.to_string().contains("write smtps://"), "{e}");
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_refused() {
    let mut server = mailin(port0(), MailinOptions::default());
    let e = send(&settings(server.port, Security::StartTls), &sample())
        .await
        .unwrap_err();
    assert_eq!(e.reason, Reason::TlsMismatch, "{e}");
    assert!(e.to_string().contains("does not offer STARTTLS"), "{e}");
    assert!(e.to_string().contains("?tls=none"), "{e}");
    assert!(server.rx.try_recv().is_err(), "nothing sent in clear text");
}

#[tokio::test]
async fn plain_mode_delivers_and_never_logs_in() {
    let mut server = mailin(port0(), MailinOptions::default());
    let s = with_login(settings(server.port, Security::None), "alert", "pw");
    send(&s, &sample()).await.unwrap();
    assert_eq!(next(&mut server.rx).await.user, None);
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let e = send(&settings(free_port(), Security::StartTls), &sample())
        .await
        .unwrap_err();
    assert_eq!(e.reason, Reason::Unreachable, "{e}");
    assert!(e.to_string().contains("cannot connect to 127.0.0.1:"), "{e}");
}

#[tokio::test]
async fn an_unreadable_ca_file_is_a_settings_error() {
    let mut s = settings(25, Security::StartTls);
    s.ca_file = Some("/nonexistent/ca.pem".into());
    let e = Client::new(&s, "mon1").unwrap_err();
    assert_eq!(e.reason, Reason::Config);
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}

#[test]
fn a_ca_file_without_a_certificate_is_a_settings_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not a certificate\n").unwrap();
    let mut s = settings(25, Security::Tls);
    s.ca_file = Some(path);
    let e = Client::new(&s, "mon1").unwrap_err();
    assert_eq!(e.reason, Reason::Config);
    assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
}

#[tokio::test]
async fn mail_test_prints_the_server_answer_or_the_reason() {
    let mut server = mailin(port0(), MailinOptions::default());
    let s = settings(server.port, Security::None);
    let answer = mail_test(&s, "mon1.example.net").await.unwrap();
    assert!(answer.starts_with("250"), "{answer}");
    let got = next(&mut server.rx).await;
    assert_eq!(
        got.header("Subject").unwrap(),
        "failoverd test mail from mon1.example.net"
    );
    let reason = mail_test(&settings(free_port(), Security::None), "mon1")
        .await
        .unwrap_err();
    assert!(reason.starts_with("mail server unreachable: "), "{reason}");
}

fn aiosmtpd_message(server: &Aiosmtpd) -> (Vec<String>, String) {
    let mut auth = Vec::new();
    loop {
        let line = server
            .lines
            .recv_timeout(Duration::from_secs(60))
            .expect("aiosmtpd reports");
        if let Some(json) = line.strip_prefix("MSG ") {
            return (auth, json.to_owned());
        }
        auth.push(line);
    }
}

#[tokio::test]
async fn aiosmtpd_plain_offers_auth_and_we_still_never_send_it() {
    let certs = certs(&["127.0.0.1"]);
    let server = aiosmtpd("plain", &certs, ("alert", "pw"));
    let s = with_login(settings(server.port, Security::None), "alert", "pw");
    let mail = sample();
    assert!(send(&s, &mail).await.unwrap().contains("queued by aiosmtpd"));
    let (auth, msg) = aiosmtpd_message(&server);
    assert!(auth.is_empty(), "{auth:?}");
    assert!(msg.contains(&mail.message_id), "{msg}");
}

#[tokio::test]
async fn aiosmtpd_starttls_with_auth() {
    let certs = certs(&["127.0.0.1"]);
    let server = aiosmtpd("starttls", &certs, ("alert", "pw"));
    let mut s = with_login(settings(server.port, Security::StartTls), "alert", "pw");
    s.ca_file = Some(certs.ca.clone());
    send(&s, &sample()).await.unwrap();
    let (auth, _) = aiosmtpd_message(&server);
    assert_eq!(auth, ["AUTH PLAIN alert"]);
}

#[tokio::test]
async fn aiosmtpd_smtps_with_auth_and_a_refused_login() {
    let certs = certs(&["127.0.0.1"]);
    let server = aiosmtpd("smtps", &certs, ("alert", "pw"));
    let mut s = with_login(settings(server.port, Security::Tls), "alert", "pw");
    s.ca_file = Some(certs.ca.clone());
    send(&s, &sample()).await.unwrap();
    assert_eq!(aiosmtpd_message(&server).0, ["AUTH PLAIN alert"]);
    s.password = Some(failoverd::mail::types::Secret::new("nope-nope"));
    let e = send(&s, &sample()).await.unwrap_err();
    assert_eq!(e.reason, Reason::AuthRefused, "{e}");
    assert!(!e.to_string().contains("nope-nope"));
}
