//! Hostile and random input: the readers never panic, always return, and
//! refuse oversized or over-deep documents without reading them whole.

mod common;

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use common::{BASE_SETTINGS, Case};
use failoverd::config::diag::{Diagnostics, Source};
use failoverd::config::groups;
use proptest::prelude::*;

/// Runs `f` on another thread and fails the test if it has not returned
/// within a generous bound (a hang, not a slowness, is what this catches).
fn returns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the reader hung or panicked")
}

fn read_groups(text: String) -> (usize, Diagnostics) {
    returns(move || {
        let src = Source::new(Path::new("g.xml"), &text);
        let mut d = Diagnostics::default();
        let n = groups::read(&src, &mut d).len();
        (n, d)
    })
}

const NAMES: &[&str] = &[
    "VPNFailoverGroup",
    "VPNFailoverGroups",
    "Request",
    "Set",
    "Login",
    "GroupDetail",
    "Name",
    "MemberConnections",
    "Connection",
    "MailNotification",
    "AutomaticFailback",
    "FailoverCondition",
    "FailoverIF",
    "Protocol",
    "Port",
    "Active",
    "DeActive",
    "x",
];

/// Well-formed XML trees over the real vocabulary, with texts that mix
/// valid values, junk and escapes.
fn tree() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        Just(String::new()),
        Just("A".to_string()),
        Just("TCP".to_string()),
        Just("443".to_string()),
        Just("Enable".to_string()),
        "[a-zA-Z0-9_ &<>\"']{0,12}".prop_map(|s| s.replace('&', "&amp;").replace('<', "&lt;")),
    ];
    let leaf = (prop::sample::select(NAMES), text).prop_map(|(n, t)| format!("<{n}>{t}</{n}>"));
    leaf.prop_recursive(8, 64, 6, |inner| {
        (
            prop::sample::select(NAMES),
            prop::collection::vec(inner, 0..6),
            any::<bool>(),
        )
            .prop_map(|(n, kids, attr)| {
                let a = if attr { " transactionid=\"\"" } else { "" };
                format!("<{n}{a}>{}</{n}>", kids.concat())
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_group_reader(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let lines = text.lines().count().max(1);
        let (n, d) = read_groups(text);
        // Junk never reads as nothing: a group, or a finding that says why not.
        prop_assert!(n > 0 || !d.is_empty());
        for f in d.sorted() {
            prop_assert!(f.line >= 1 && f.col >= 1 && f.line <= lines + 1, "{f}");
        }
    }

    #[test]
    fn random_well_formed_xml_never_panics(doc in tree()) {
        let (_, d) = read_groups(doc.clone());
        // Whatever it is, every finding is located inside the document.
        for f in d.sorted() {
            prop_assert!(f.line >= 1 && f.col >= 1 && f.line <= doc.lines().count().max(1), "{f}");
        }
    }

    #[test]
    fn random_settings_never_panic_the_loader(text in "[a-z_\\[\\]=\" .0-9%\n]{0,400}") {
        let case = Case::new(&text, &[]);
        let path = case.settings_path();
        let loaded = returns(move || failoverd::config::load(&path).map(|l| l.plan.is_some()));
        prop_assert!(loaded.is_ok());
    }

    #[test]
    fn mutated_valid_settings_never_panic(pos in 0usize..400, junk in "[\\[\\]=\"#\n a-z0-9]{1,6}") {
        let mut text = BASE_SETTINGS.to_string();
        let at = pos.min(text.len());
        if text.is_char_boundary(at) {
            text.insert_str(at, &junk);
        }
        let case = Case::new(&text, &[("g.xml", common::BASE_GROUP)]);
        let path = case.settings_path();
        let loaded = returns(move || failoverd::config::load(&path).map(|l| l.plan.is_some() || l.diagnostics.has_errors()));
        prop_assert_eq!(loaded.ok(), Some(true), "either valid or with errors");
    }
}

#[test]
fn ten_thousand_levels_deep_is_refused() {
    let doc = "<VPNFailoverGroup>".to_string() + &"<a>".repeat(10_000) + &"</a>".repeat(10_000) + "</VPNFailoverGroup>";
    let (n, d) = read_groups(doc);
    assert_eq!(n, 0);
    let msgs: Vec<String> = d.sorted().iter().map(|f| f.to_string()).collect();
    assert_eq!(msgs, ["g.xml:1:208: (document): elements nested deeper than 64 levels"]);
}

#[test]
fn a_100_mb_group_file_is_refused_without_reading_it() {
    let case = Case::new(&BASE_SETTINGS.replace("g*.xml", "big.xml"), &[]);
    let f = std::fs::File::create(case.path("big.xml")).unwrap();
    f.set_len(100 * 1024 * 1024).unwrap(); // sparse: costs no disk
    let errors = returns(move || case.errors());
    assert_eq!(
        errors,
        ["big.xml:1:1: (document): group file is larger than 16 MiB: split it"]
    );
}

#[test]
fn billion_laughs_is_refused() {
    let doc = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<VPNFailoverGroup><GroupDetail><Name>&lol2;</Name></GroupDetail></VPNFailoverGroup>"#;
    let (n, d) = read_groups(doc.to_string());
    assert_eq!(n, 0);
    let msgs: Vec<String> = d.sorted().iter().map(|f| f.to_string()).collect();
    assert_eq!(msgs.len(), 1);
    assert!(
        msgs[0].starts_with("g.xml:2:1: (document): a DOCTYPE is not accepted"),
        "{msgs:?}"
    );
}
