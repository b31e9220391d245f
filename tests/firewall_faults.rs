//! Every emulator fault yields the answer class the push loop needs:
//! transport failures as SendError (Before / After / Status / PinMismatch),
//! replies as Verdicts. Real loopback sockets; timeouts are short but real.

mod fwutil;

use failoverd::firewall::client::{SendError, Tls};
use failoverd::firewall::request::{Action, Spelling};
use failoverd::firewall::response::Verdict;
use fwutil::*;
use sfos_emulator::{Definition, EmulatorConfig, Fault, Outcome, Protocol};
use std::time::Duration;

const SHORT: Duration = Duration::from_millis(400);

/// An emulator holding the inactive group "G", and a pinned client with a
/// short timeout.
async fn setup() -> (sfos_emulator::Emulator, failoverd::firewall::client::Client) {
    let emu = default_emulator().await;
    let definition = Definition {
        name: "G".into(),
        members: members(),
        mail: false,
        failback: None,
        conditions: vec![(Protocol::Ping, None)],
    };
    emu.add_group(definition, false);
    let client = client(emu.url(), Tls::Pin(emu.cert_sha256()), SHORT);
    (emu, client)
}

fn active() -> String {
    push_doc("G", Action::Active, Spelling::Sfos19)
}

fn assert_after(result: Result<String, SendError>) {
    match result {
        Err(SendError::After(why)) => assert!(!why.contains(PASSWORD), "{why}"),
        other => panic!("wanted After, got {other:?}"),
    }
}

#[tokio::test]
async fn a_delay_within_the_timeout_is_answered() {
    let (emu, client) = setup().await;
    emu.set_fault(Fault::Delay(Duration::from_millis(50)));
    assert_eq!(code(&verdict(&client, &active()).await.unwrap()), Some(200));
}

#[tokio::test]
async fn a_delay_beyond_the_timeout_is_an_unknown_outcome() {
    let (emu, client) = setup().await;
    emu.set_fault(Fault::Delay(Duration::from_secs(3)));
    assert_after(client.send(&active()).await);
    assert!(
        emu.wait_idle("G", Duration::from_secs(5)).await,
        "the request ends when the client leaves"
    );
}

#[tokio::test]
async fn a_hang_is_an_unknown_outcome_that_was_applied() {
    let (emu, client) = setup().await;
    emu.set_fault(Fault::Hang);
    assert_after(client.send(&active()).await);
    assert!(emu.groups()["G"], "applied, never answered");
    assert_eq!(emu.requests()[0].outcome, Outcome::Hung);
    assert!(emu.wait_idle("G", Duration::from_secs(5)).await);
    emu.clear_faults();
    assert_eq!(
        code(&verdict(&client, &active()).await.unwrap()),
        Some(200),
        "a re-push is expected"
    );
}

#[tokio::test]
async fn a_drop_after_reading_is_an_unknown_outcome() {
    let (emu, client) = setup().await;
    emu.set_fault(Fault::Drop);
    assert_after(client.send(&active()).await);
    assert!(emu.groups()["G"]);
    assert_eq!(emu.requests()[0].outcome, Outcome::Dropped);
}

#[tokio::test]
async fn http_errors_are_status() {
    let (emu, client) = setup().await;
    for status in [500, 502, 503] {
        emu.set_fault(Fault::HttpStatus(status));
        assert_eq!(client.send(&active()).await, Err(SendError::Status(status)));
    }
    assert!(!emu.groups()["G"], "nothing applied");
}

#[tokio::test]
async fn a_closed_port_fails_before_sending() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("https://127.0.0.1:{port}/webconsole/APIController");
    let client = client(url, Tls::Insecure, SHORT);
    match client.send(&active()).await {
        Err(SendError::Before(why)) => assert!(!why.contains(PASSWORD), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(client.presented_fingerprint(), None);
}

#[tokio::test]
async fn refusals_by_the_api_are_configuration_class() {
    let (emu, client) = setup().await;
    let cases = [
        (Fault::LoginFailure, "username and the password"),
        (Fault::DenyAll, "(534"),
        (Fault::ApiDisabled, "(532"),
        (Fault::NoPrivilege, "write access to VPN"),
    ];
    for (fault, want) in cases {
        emu.clear_faults();
        emu.set_fault(fault);
        match verdict(&client, &active()).await.unwrap() {
            Verdict::Configuration { fix } => assert!(fix.contains(want), "{fault:?}: {fix}"),
            other => panic!("{fault:?}: {other:?}"),
        }
    }
    assert!(!emu.groups()["G"], "nothing applied");
}

#[tokio::test]
async fn a_source_address_not_allowed_gets_534() {
    let config = EmulatorConfig {
        password: PASSWORD.into(),
        allowed: Some(vec![[192, 0, 2, 9].into()]),
        ..EmulatorConfig::default()
    };
    let emu = emulator(config).await;
    let client = pinned(&emu);
    match verdict(&client, &get_doc(PASSWORD)).await.unwrap() {
        Verdict::Configuration { fix } => assert!(fix.contains("allowed addresses"), "{fix}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn entity_code_500_is_refused() {
    let (emu, client) = setup().await;
    emu.set_fault(Fault::EntityCode(500));
    let verdict = verdict(&client, &active()).await.unwrap();
    assert!(
        matches!(verdict, Verdict::Refused { code: Some(500), .. }),
        "{verdict:?}"
    );
    assert!(!emu.groups()["G"]);
}

#[tokio::test]
async fn the_alternative_wrapper_is_still_accepted() {
    let (emu, client) = setup().await;
    emu.set_fault(Fault::AltWrapper);
    let body = client.send(&active()).await.unwrap();
    assert!(
        body.contains("<GroupDetail transactionid=\"\"><Status code=\"200\">"),
        "{body}"
    );
    assert!(matches!(
        failoverd::firewall::response::judge(&body),
        Verdict::Accepted { code: 200, .. }
    ));
    assert!(emu.groups()["G"]);
}

#[tokio::test]
async fn a_wrong_password_is_configuration_and_never_echoed() {
    let (_emu, client) = setup().await;
    match verdict(&client, &get_doc("wrong<&>")).await.unwrap() {
        Verdict::Configuration { fix } => assert!(!fix.contains("wrong"), "{fix}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn concurrent_requests_for_one_group_are_counted() {
    let (emu, client) = setup().await;
    let slow = pinned(&emu);
    emu.set_fault(Fault::Delay(Duration::from_millis(300)));
    let doc = active();
    let other = slow.clone();
    let (a, b) = tokio::join!(slow.send(&doc), other.send(&doc));
    assert!(a.is_ok() && b.is_ok());
    assert_eq!(emu.max_in_flight("G"), 2);
    emu.clear_faults();
    let _ = client.send(&doc).await;
    assert_eq!((emu.in_flight("G"), emu.max_in_flight("G")), (0, 2));
}
