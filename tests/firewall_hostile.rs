//! Hostile firewall answers (HTTP 200 with a body that is endless, huge,
//! truncated, not XML, or nested 100 000 deep) are refused with a clear
//! reason, without panic, in bounded time and memory: the client stops
//! reading at the reply limit (`response::MAX_BODY`, 1 MiB) and the parser
//! stops at its depth limit.

mod fwutil;

use failoverd::firewall::api::classify;
use failoverd::firewall::request::{Action, Spelling};
use failoverd::firewall::response::MAX_BODY;
use failoverd::firewall::slot::Class;
use fwutil::*;
use sfos_emulator::{Definition, Fault, Outcome, Protocol};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;

/// Sends one push against `fault` and returns the answer's class, the
/// bytes the emulator managed to hand over, and how long it took.
async fn against(fault: Fault) -> (Class, u64, Duration) {
    let emu = default_emulator().await;
    emu.add_group(
        Definition {
            name: "G".into(),
            members: members(),
            mail: false,
            failback: None,
            conditions: vec![(Protocol::Ping, None)],
        },
        false,
    );
    emu.set_fault(fault);
    let client = client(
        emu.url(),
        failoverd::firewall::client::Tls::Pin(emu.cert_sha256()),
        Duration::from_secs(20),
    );
    let started = Instant::now();
    let answer = classify(client.send(&push_doc("G", Action::Active, Spelling::Sfos19)).await);
    let took = started.elapsed();
    assert!(!answer.text.contains(PASSWORD), "{}", answer.text);
    assert!(
        matches!(emu.requests()[0].outcome, Outcome::Hostile(_)),
        "{:?}",
        emu.requests()[0].outcome
    );
    // Let the server notice the closed connection before counting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = emu.hostile_bytes_sent();
    eprintln!(
        "{fault:?}: {:?} after {took:?}; the server wrote {sent} bytes",
        answer.class
    );
    (answer.class, sent, took)
}

/// The process's peak resident memory, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

fn unknown(class: &Class) -> &str {
    match class {
        Class::Unknown(why) => why,
        other => panic!("wanted an unknown outcome, got {other:?}"),
    }
}

fn transient(class: &Class) -> &str {
    match class {
        Class::Transient(why) => why,
        other => panic!("wanted a transient answer, got {other:?}"),
    }
}

#[tokio::test]
async fn an_endless_reply_is_cut_at_the_limit() {
    let (class, sent, took) = against(Fault::Endless).await;
    let why = unknown(&class);
    assert!(why.contains(&format!("reply is over {MAX_BODY} bytes")), "{why}");
    // The client stopped reading: what the server got out is the limit
    // plus what socket buffers hold, far from endless.
    assert!(sent < 32 * MIB, "the server wrote {sent} bytes");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test]
async fn a_huge_announced_reply_is_cut_at_the_limit_without_holding_it() {
    let (class, sent, _) = against(Fault::Huge(512)).await;
    let why = unknown(&class);
    assert!(why.contains("reply is over"), "{why}");
    assert!(sent < 32 * MIB, "the server wrote {sent} bytes of 512 MiB");
    assert!(peak_rss() < 256 * MIB, "peak memory {} MiB", peak_rss() / MIB);
}

#[tokio::test]
async fn a_truncated_reply_is_an_unknown_outcome() {
    let (class, _, _) = against(Fault::Truncated).await;
    let why = unknown(&class);
    assert!(why.contains("body"), "{why}");
}

#[tokio::test]
async fn a_reply_that_is_not_xml_is_transient() {
    let (class, _, _) = against(Fault::NotXml).await;
    let why = transient(&class);
    assert!(why.contains("DOCTYPE") || why.contains("not well-formed"), "{why}");
}

#[tokio::test]
async fn a_reply_nested_100000_deep_is_transient() {
    let (class, _, _) = against(Fault::Deep).await;
    let why = transient(&class);
    assert!(why.contains("deep") || why.contains("nest"), "{why}");
}
