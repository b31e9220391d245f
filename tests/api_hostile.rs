//! Hostile and random firewall replies: the reply parser never panics,
//! always returns quickly, and either reads a reply or says why not.
//! Arbitrary bytes (decoded as the client decodes them), well-formed trees
//! over the reply vocabulary, and mutations of every documented reply
//! (cut, spliced, junk inserted). The fuzz target `api_response` runs the
//! same entry point unguided by these shapes (`scripts/fuzz.sh`).

use std::sync::mpsc;
use std::time::Duration;

use failoverd::firewall::response::{self, MAX_BODY, MAX_DEPTH, Verdict};
use proptest::prelude::*;

/// Runs `f` on another thread and fails if it has not returned in time
/// (a hang, not slowness, is what this catches).
fn returns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the parser hung or panicked")
}

/// Parses and classifies; checks what every outcome must satisfy.
fn judged(body: String) -> Verdict {
    returns(move || {
        let parsed = response::parse(&body);
        let verdict = response::judge(&body);
        match (&parsed, &verdict) {
            (Err(why), Verdict::Transient { why: w }) => {
                assert_eq!(why, w);
                assert!(!why.is_empty());
            }
            (Err(why), other) => panic!("unreadable ({why}) but judged {other:?}"),
            (Ok(reply), v) => {
                assert_eq!(&response::classify(reply), v);
                let _ = response::get_accepted(reply);
            }
        }
        verdict
    })
}

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Every reply shape of docs/firewall-api.md.
const DOCUMENTED: &[&str] = &[
    "<Response APIVersion=\"1905.1\" IPS_CAT_VER=\"1\"><Login><status>Authentication Successful</status></Login><VPNFailoverGroup transactionid=\"\"><Status code=\"200\">Configuration applied successfully.</Status></VPNFailoverGroup></Response>",
    "<Response><Login><status>Authentication Failure</status></Login></Response>",
    "<Response><Status code=\"529\">Input request file is Invalid</Status></Response>",
    "<Response><Status code=\"534\">API operations are not allowed from the requester IP address</Status></Response>",
    "<Response><Login><status>Authentication Successful</status></Login><GroupDetail><Status code=\"502\">Connection group with the same name as &quot;X&quot; already exists</Status></GroupDetail></Response>",
    "<Response><Login><status>Authentication Successful</status></Login><VPNFailoverGroup transactionid=\"\"><Status>No. of records Zero.</Status></VPNFailoverGroup></Response>",
    "<Response><Login><status>Authentication Successful</status></Login><VPNFailoverGroup transactionid=\"\"><GroupDetail><Name>HQ_VPN</Name></GroupDetail></VPNFailoverGroup><VPNFailoverGroup><Name>B</Name></VPNFailoverGroup></Response>",
];

const NAMES: &[&str] = &[
    "Response",
    "Login",
    "status",
    "Status",
    "VPNFailoverGroup",
    "GroupDetail",
    "Name",
    "x",
];

/// Well-formed trees over the reply vocabulary, with codes and texts that
/// mix valid values, junk and escapes.
fn tree() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        Just(String::new()),
        Just("Authentication Successful".to_string()),
        Just("Authentication Failure".to_string()),
        "[a-zA-Z0-9_ &<>\"']{0,12}".prop_map(|s| s.replace('&', "&amp;").replace('<', "&lt;")),
    ];
    let code = prop_oneof![
        Just(String::new()),
        (0u64..1000).prop_map(|c| format!(" code=\"{c}\"")),
        Just(" code=\"99999999999\"".to_string()),
        Just(" code=\"-1\"".to_string()),
        Just(" code=\"\"".to_string()),
        Just(" code=\"&#50;00\"".to_string()),
    ];
    let leaf = (prop::sample::select(NAMES), code.clone(), text).prop_map(|(n, c, t)| format!("<{n}{c}>{t}</{n}>"));
    let inner = leaf.prop_recursive(6, 48, 5, move |inner| {
        (
            prop::sample::select(NAMES),
            code.clone(),
            prop::collection::vec(inner, 0..5),
        )
            .prop_map(|(n, c, kids)| format!("<{n}{c}>{}</{n}>", kids.concat()))
    });
    prop::collection::vec(inner, 0..5).prop_map(|kids| format!("{HEAD}<Response>{}</Response>", kids.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_reply_parser(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        // As the client decodes a body.
        let body = String::from_utf8_lossy(&bytes).into_owned();
        judged(body);
    }

    #[test]
    fn random_replies_never_panic(doc in tree()) {
        judged(doc);
    }

    #[test]
    fn documented_replies_cut_anywhere_are_refused_or_read(which in 0..DOCUMENTED.len(), at in 0usize..400) {
        let doc = format!("{HEAD}{}", DOCUMENTED[which]);
        let mut at = at.min(doc.len());
        while !doc.is_char_boundary(at) {
            at -= 1;
        }
        let cut = doc[..at].to_string();
        let whole = at == doc.len();
        let v = judged(cut);
        // A reply cut short is never read as accepted.
        prop_assert!(whole || !matches!(v, Verdict::Accepted { .. }), "{v:?} from {at} bytes");
    }

    #[test]
    fn documented_replies_with_junk_never_panic(
        which in 0..DOCUMENTED.len(),
        at in 0usize..400,
        junk in prop_oneof![
            "[<>/&;=\"'a-zA-Z0-9 !?\\[\\]-]{1,12}",
            Just("<!DOCTYPE r [<!ENTITY a \"b\">]>".to_string()),
            Just("&a;".to_string()),
            Just("<![CDATA[x]]>".to_string()),
            Just("&#0;".to_string()),
            Just("&#x110000;".to_string()),
            Just("\u{feff}".to_string()),
            Just("\0".to_string()),
        ],
    ) {
        let mut doc = format!("{HEAD}{}", DOCUMENTED[which]);
        let mut at = at.min(doc.len());
        while !doc.is_char_boundary(at) {
            at -= 1;
        }
        doc.insert_str(at, &junk);
        judged(doc);
    }
}

#[test]
fn every_documented_reply_is_read() {
    for doc in DOCUMENTED {
        assert!(response::parse(&format!("{HEAD}{doc}")).is_ok(), "{doc}");
    }
}

#[test]
fn over_the_size_limit_is_refused_before_parsing() {
    let doc = format!("{HEAD}<Response>{}</Response>", " ".repeat(MAX_BODY));
    let v = judged(doc);
    assert!(
        matches!(&v, Verdict::Transient { why } if why.contains("limit")),
        "{v:?}"
    );
}

#[test]
fn nesting_past_the_limit_is_refused_at_any_depth() {
    for depth in [MAX_DEPTH, MAX_DEPTH + 1, 1000, 100_000] {
        let doc = format!(
            "{HEAD}<Response>{}{}</Response>",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        );
        let v = judged(doc);
        assert!(
            matches!(&v, Verdict::Transient { why } if why.contains("deeper")),
            "{depth}: {v:?}"
        );
    }
    // Unclosed, a million deep: refused at the limit, not read to the end.
    let v = judged(format!("{HEAD}<Response>{}", "<a>".repeat(300_000)));
    assert!(matches!(&v, Verdict::Transient { .. }), "{v:?}");
}

#[test]
fn entity_tricks_are_refused() {
    for doc in [
        "<!DOCTYPE r [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><Response><Login><status>&b;</status></Login></Response>",
        "<Response><Login><status>&xxe;</status></Login></Response>",
        "<!DOCTYPE r SYSTEM \"file:///etc/passwd\"><Response/>",
    ] {
        let v = judged(doc.to_string());
        assert!(matches!(&v, Verdict::Transient { .. }), "{doc}: {v:?}");
    }
}
