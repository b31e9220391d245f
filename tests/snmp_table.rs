//! The firewall view against a real Net-SNMP snmpd serving the emulated
//! firewall's tunnel table (docs/testing.md, "SNMP"): walks over v2c and
//! v3 with every auth and privacy protocol, each fault switch of the
//! table, bad values, a table that changes or vanishes mid-walk, an agent
//! that stops answering or answers from another address, wrong
//! credentials, and 10,000 rows. Each error must say the cause.
//!
//! Without snmpd (and not root, so scripts/test.sh could not install it)
//! the tests print SKIPPED and pass; as root a missing snmpd fails them.

#[path = "fwutil/mod.rs"]
mod fwutil;

use std::time::Duration;

use failoverd::config::secret::{Password, Secret, SecretSource};
use failoverd::config::settings::{Snmp, SnmpAuth, SnmpPrivacy, SnmpSecurity};
use failoverd::firewall::request::{Action, Spelling};
use failoverd::firewall::response::Verdict;
use failoverd::firewall::view::track::Expected;
use failoverd::firewall::view::walk::walk_at;
use failoverd::firewall::view::{Carrying, GroupMembers, Timing, TunnelStatus, View, ViewEvent, WalkError};
use sfos_emulator::tunnels::{AgentOptions, OtherAddressFront, SnmpAgent, TableFault, V3User, snmpd_path};
use sfos_emulator::{Definition, Protocol};
use tokio::time::Instant;

const COMMUNITY: &str = "c0mmunity-x";

fn user(name: &str, auth: &str, privacy: &str) -> V3User {
    V3User {
        name: name.into(),
        auth: auth.into(),
        auth_password: format!("{name}-auth-pass"),
        privacy: privacy.into(),
        privacy_password: format!("{name}-priv-pass"),
    }
}

fn options() -> AgentOptions {
    AgentOptions {
        community: COMMUNITY.into(),
        users: vec![
            user("u_sha", "SHA", "AES"),
            user("u_sha256", "SHA-256", "AES"),
            user("u_sha512", "SHA-512", "AES256"),
            user("u_md5", "MD5", "DES"),
        ],
    }
}

/// The agent, or `None` (after a SKIPPED line) where snmpd cannot be had.
fn agent() -> Option<SnmpAgent> {
    if snmpd_path().is_none() {
        let root = std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
        assert!(
            !root,
            "snmpd is missing although this runs as root: scripts/test.sh installs it (package snmpd)"
        );
        eprintln!("SKIPPED: snmpd is not installed (Debian package snmpd) and this is not root");
        return None;
    }
    Some(SnmpAgent::start(options()).expect("snmpd starts"))
}

fn pw(s: &str) -> Password {
    Password {
        source: SecretSource::Inline,
        secret: Some(Secret::new(s)),
    }
}

fn settings(security: SnmpSecurity) -> Snmp {
    Snmp {
        host: "127.0.0.1".into(),
        port: 0,
        security,
        interval: Duration::from_secs(20),
        timeout: Duration::from_millis(1500),
        verify_within: Duration::from_secs(60),
        disagree_after: Duration::from_secs(120),
    }
}

fn v2c(community: &str) -> Snmp {
    settings(SnmpSecurity::V2c {
        community: pw(community),
    })
}

fn v3(u: &V3User, auth: SnmpAuth, privacy: SnmpPrivacy) -> Snmp {
    settings(SnmpSecurity::V3 {
        user: u.name.clone(),
        auth,
        auth_password: pw(&u.auth_password),
        privacy,
        privacy_password: pw(&u.privacy_password),
    })
}

fn sha_aes(a: &SnmpAgent) -> Snmp {
    v3(&a.options().users[0], SnmpAuth::Sha, SnmpPrivacy::Aes)
}

fn hq() -> Definition {
    Definition {
        name: "HQ_VPN".into(),
        members: fwutil::members(),
        mail: true,
        failback: Some(true),
        conditions: vec![(Protocol::Ping, None)],
    }
}

fn groups() -> Vec<GroupMembers> {
    vec![GroupMembers {
        name: "HQ_VPN".into(),
        members: fwutil::members(),
    }]
}

fn rows(w: &[failoverd::firewall::view::Row]) -> Vec<(String, TunnelStatus, bool)> {
    w.iter().map(|r| (r.name.clone(), r.status, r.activated)).collect()
}

fn hq_rows(active: bool) -> Vec<(String, TunnelStatus, bool)> {
    if active {
        vec![
            ("HQ_Primary".into(), TunnelStatus::Active, true),
            ("HQ_Backup".into(), TunnelStatus::Inactive, true),
        ]
    } else {
        vec![
            ("HQ_Primary".into(), TunnelStatus::Inactive, false),
            ("HQ_Backup".into(), TunnelStatus::Inactive, false),
        ]
    }
}

#[tokio::test]
async fn a_walk_over_v2c_and_every_v3_protocol_pair() {
    let Some(a) = agent() else { return };
    let emu = fwutil::default_emulator().await;
    emu.add_group(hq(), true);
    emu.attach_tunnels(a.tunnels.clone());
    let u = &a.options().users;
    let configs = [
        ("v2c", v2c(COMMUNITY)),
        ("sha aes", v3(&u[0], SnmpAuth::Sha, SnmpPrivacy::Aes)),
        ("sha256 aes", v3(&u[1], SnmpAuth::Sha256, SnmpPrivacy::Aes)),
        ("sha512 aes256", v3(&u[2], SnmpAuth::Sha512, SnmpPrivacy::Aes256)),
        ("md5 des", v3(&u[3], SnmpAuth::Md5, SnmpPrivacy::Des)),
    ];
    for (name, cfg) in configs {
        let w = walk_at(&cfg, a.addr())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", a.log()));
        assert_eq!(rows(&w.rows), hq_rows(true), "{name}");
    }
}

/// Pushes through failoverd's own client change the rows as the emulator
/// accepts them; the view follows, and the trackers stay quiet.
#[tokio::test]
async fn accepted_pushes_change_the_rows_and_the_view_follows() {
    let Some(a) = agent() else { return };
    let emu = fwutil::default_emulator().await;
    emu.add_group(hq(), true);
    emu.attach_tunnels(a.tunnels.clone());
    let client = fwutil::pinned(&emu);
    let cfg = sha_aes(&a);
    let mut view = View::new(groups(), Timing::of(&cfg));
    let t0 = Instant::now();
    for (i, (action, active)) in [(Action::DeActive, false), (Action::Active, true)]
        .into_iter()
        .enumerate()
    {
        let doc = fwutil::push_doc("HQ_VPN", action, Spelling::Sfos19);
        let v = fwutil::verdict(&client, &doc).await.unwrap();
        assert!(matches!(v, Verdict::Accepted { .. }), "{v:?}");
        let now = t0 + Duration::from_secs(10 * i as u64);
        view.push_accepted(
            "HQ_VPN",
            if active {
                failoverd::firewall::decide::Want::Active
            } else {
                failoverd::firewall::decide::Want::DeActive
            },
            now,
        );
        let w = walk_at(&cfg, a.addr()).await.unwrap();
        assert_eq!(rows(&w.rows), hq_rows(active));
        assert_eq!(view.walked(Ok(w.rows), now + Duration::from_secs(5)), vec![]);
        let want = if active {
            Carrying::Member("HQ_Primary".into())
        } else {
            Carrying::Nobody
        };
        assert_eq!(view.group("HQ_VPN").unwrap().carrying, want);
        assert_eq!(view.not_honoured("HQ_VPN"), None);
    }
}

#[tokio::test]
async fn a_push_accepted_but_not_applied_is_not_honoured_once() {
    let Some(a) = agent() else { return };
    let emu = fwutil::default_emulator().await;
    emu.add_group(hq(), true);
    emu.attach_tunnels(a.tunnels.clone());
    a.tunnels.set_fault(TableFault::NotApplied);
    let client = fwutil::pinned(&emu);
    let doc = fwutil::push_doc("HQ_VPN", Action::DeActive, Spelling::Sfos19);
    assert!(matches!(
        fwutil::verdict(&client, &doc).await.unwrap(),
        Verdict::Accepted { .. }
    ));
    let cfg = sha_aes(&a);
    let mut view = View::new(groups(), Timing::of(&cfg));
    let t0 = Instant::now();
    view.push_accepted("HQ_VPN", failoverd::firewall::decide::Want::DeActive, t0);
    let mut events = Vec::new();
    for s in [10, 40, 61, 90] {
        let w = walk_at(&cfg, a.addr()).await.unwrap();
        events.extend(view.walked(Ok(w.rows), t0 + Duration::from_secs(s)));
    }
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        matches!(&events[0], ViewEvent::NotHonoured { want: failoverd::firewall::decide::Want::DeActive, carrying: Carrying::Member(m), .. } if m == "HQ_Primary"),
        "{events:?}"
    );
    assert!(
        events[0]
            .to_string()
            .contains("accepted DeActive but its tunnel table shows a member still activated"),
        "{}",
        events[0]
    );
}

#[tokio::test]
async fn the_firewall_carrying_another_member_is_a_disagreement() {
    let Some(a) = agent() else { return };
    let emu = fwutil::default_emulator().await;
    a.tunnels.set_fault(TableFault::CarryOther);
    emu.attach_tunnels(a.tunnels.clone());
    emu.add_group(hq(), true);
    let cfg = sha_aes(&a);
    let mut view = View::new(groups(), Timing::of(&cfg));
    view.expected(
        "HQ_VPN",
        Some(Expected {
            active: Some("HQ_Primary".into()),
            up: fwutil::members(),
            down: vec![],
        }),
    );
    let t0 = Instant::now();
    let mut events = Vec::new();
    for s in [0, 60, 120, 180] {
        let w = walk_at(&cfg, a.addr()).await.unwrap();
        events.extend(view.walked(Ok(w.rows), t0 + Duration::from_secs(s)));
    }
    assert_eq!(
        view.group("HQ_VPN").unwrap().carrying,
        Carrying::Member("HQ_Backup".into())
    );
    assert!(
        matches!(&events[..], [ViewEvent::Disagreement { detail, .. }] if detail == "the firewall carries HQ_Backup; failoverd expects HQ_Primary"),
        "{events:?}"
    );
}

async fn walk_err(cfg: &Snmp, a: &SnmpAgent) -> WalkError {
    match walk_at(cfg, a.addr()).await {
        Ok(w) => panic!("expected an error, read {:?}", w.rows),
        Err(e) => e,
    }
}

#[tokio::test]
async fn firmware_before_sfos_20_has_no_status_column() {
    let Some(a) = agent() else { return };
    a.tunnels.add_group(&fwutil::members(), true);
    a.tunnels.set_fault(TableFault::OldFirmware);
    for cfg in [v2c(COMMUNITY), sha_aes(&a)] {
        let e = walk_err(&cfg, &a).await;
        assert!(matches!(e, WalkError::NoStatusColumn { .. }), "{e:?}");
        assert!(e.to_string().contains("firmware before SFOS 20"), "{e}");
    }
}

#[tokio::test]
async fn an_agent_that_stops_answering_is_a_timeout_and_unusable_once() {
    let Some(a) = agent() else { return };
    a.tunnels.add_group(&fwutil::members(), true);
    let cfg = sha_aes(&a);
    let mut view = View::new(groups(), Timing::of(&cfg));
    let t0 = Instant::now();
    assert_eq!(view.walked(walk_at(&cfg, a.addr()).await.map(|w| w.rows), t0), vec![]);
    a.stop_answering().unwrap();
    let mut events = Vec::new();
    for s in [10, 20] {
        let started = std::time::Instant::now();
        let r = walk_at(&cfg, a.addr()).await;
        assert!(started.elapsed() < Duration::from_secs(5), "bounded by the timeout");
        assert!(matches!(r, Err(WalkError::Timeout { .. })), "{r:?}");
        events.extend(view.walked(r.map(|w| w.rows), t0 + Duration::from_secs(s)));
    }
    a.resume().unwrap();
    events.extend(view.walked(
        walk_at(&cfg, a.addr()).await.map(|w| w.rows),
        t0 + Duration::from_secs(30),
    ));
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        matches!(
            &events[0],
            ViewEvent::SnmpUnusable {
                error: WalkError::Timeout { .. }
            }
        ),
        "{events:?}"
    );
    assert!(events[0].to_string().contains("no SNMP answer from"), "{}", events[0]);
    assert_eq!(
        events[1],
        ViewEvent::SnmpUsable {
            after: Duration::from_secs(20)
        }
    );
    // A wrong community gets no answer at all from snmpd: a timeout too,
    // whose message names the community.
    let e = walk_err(&v2c("wrong-community"), &a).await;
    assert!(
        matches!(e, WalkError::Timeout { .. }) && e.to_string().contains("community"),
        "{e}"
    );
}

#[tokio::test]
async fn wrong_v3_credentials_name_the_cause() {
    let Some(mut a) = agent() else { return };
    a.tunnels.add_group(&fwutil::members(), true);
    let u = a.options().users[0].clone();
    let good = v3(&u, SnmpAuth::Sha, SnmpPrivacy::Aes);
    let mut bad_user = u.clone();
    bad_user.name = "nobody".into();
    let mut bad_auth = u.clone();
    bad_auth.auth_password = "not-the-auth-pass".into();
    let mut bad_priv = u.clone();
    bad_priv.privacy_password = "not-the-priv-pass".into();
    let cases = [
        (v3(&bad_user, SnmpAuth::Sha, SnmpPrivacy::Aes), "unknown_user"),
        (v3(&bad_auth, SnmpAuth::Sha, SnmpPrivacy::Aes), "authentication"),
        (v3(&u, SnmpAuth::Sha256, SnmpPrivacy::Aes), "authentication"),
        (v3(&bad_priv, SnmpAuth::Sha, SnmpPrivacy::Aes), "privacy"),
    ];
    for (cfg, cause) in &cases {
        let e = walk_err(cfg, &a).await;
        assert_eq!(e.cause(), *cause, "{e}");
        let text = e.to_string();
        for secret in [
            &u.auth_password,
            &u.privacy_password,
            &bad_auth.auth_password,
            &bad_priv.privacy_password,
        ] {
            assert!(
                !text.contains(secret.as_str()) && !format!("{e:?}").contains(secret.as_str()),
                "{text}"
            );
        }
    }
    // The fault switch: the firewall's user gets other passwords.
    assert!(walk_at(&good, a.addr()).await.is_ok());
    let mut changed = a.options().clone();
    for u in &mut changed.users {
        u.auth_password = format!("{}-changed", u.auth_password);
    }
    a.restart_with(changed).unwrap();
    let e = walk_err(&good, &a).await;
    assert_eq!(e.cause(), "authentication", "{e}");
    assert!(e.to_string().contains("authentication password or protocol"), "{e}");
}

#[tokio::test]
async fn bad_values_are_errors_that_name_column_and_row() {
    let Some(a) = agent() else { return };
    a.tunnels.add_group(&fwutil::members(), true);
    let cfg = sha_aes(&a);
    for (fault, column) in [
        (TableFault::StatusAsString, "sfosIPSecVpnConnStatus (.9)"),
        (TableFault::StatusOutOfRange, "sfosIPSecVpnConnStatus (.9)"),
        (TableFault::NameNotUtf8, "sfosIPSecVpnConnName (.2)"),
    ] {
        a.tunnels.clear_faults();
        a.tunnels.set_fault(fault);
        let e = walk_err(&cfg, &a).await;
        assert!(matches!(e, WalkError::BadValue { .. }), "{fault:?}: {e:?}");
        assert!(e.to_string().contains(column) && e.to_string().contains("row 1"), "{e}");
    }
}

#[tokio::test]
async fn a_table_that_changes_or_vanishes_mid_walk() {
    let Some(a) = agent() else { return };
    a.tunnels.add_group(&fwutil::members(), true);
    let cfg = sha_aes(&a);
    for (fault, word) in [
        (TableFault::ChangeAfter(3), "names but"),
        (TableFault::VanishAfter(3), "vanished"),
    ] {
        a.tunnels.clear_faults();
        a.tunnels.set_fault(fault);
        let e = walk_err(&cfg, &a).await;
        assert!(matches!(e, WalkError::Changed { .. }), "{fault:?}: {e:?}");
        assert!(e.to_string().contains(word), "{e}");
        // The next walk reads the table as it now is.
        let w = walk_at(&cfg, a.addr()).await;
        assert!(w.is_ok() || matches!(w, Err(WalkError::Changed { .. })), "{w:?}");
    }
}

#[tokio::test]
async fn answers_from_another_address_are_dropped_and_reported() {
    let Some(a) = agent() else { return };
    a.tunnels.add_group(&fwutil::members(), true);
    let front = match OtherAddressFront::start(a.addr()).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            return;
        }
    };
    for cfg in [v2c(COMMUNITY), sha_aes(&a)] {
        let e = match walk_at(&cfg, front.addr()).await {
            Ok(w) => panic!("answers from 127.0.0.2 were taken: {:?}", w.rows),
            Err(e) => e,
        };
        assert!(matches!(e, WalkError::OtherAddress { .. }), "{e:?}");
        assert!(e.to_string().contains("came from another address"), "{e}");
    }
}

#[tokio::test]
async fn rows_no_group_uses_and_ten_thousand_rows() {
    let Some(a) = agent() else { return };
    a.tunnels.add_group(&fwutil::members(), true);
    a.tunnels.add_other_rows(3);
    let cfg = sha_aes(&a);
    let w = walk_at(&cfg, a.addr()).await.unwrap();
    assert_eq!(w.rows.len(), 5);
    let mut view = View::new(groups(), Timing::of(&cfg));
    assert_eq!(view.walked(Ok(w.rows), Instant::now()), vec![]);
    let g = view.group("HQ_VPN").unwrap();
    assert_eq!(g.carrying, Carrying::Member("HQ_Primary".into()));
    assert_eq!(g.members.len(), 2);

    a.tunnels.add_other_rows(9_995);
    let mut cfg = cfg;
    // A walk is bounded by interval whatever the table's size.
    cfg.interval = Duration::from_secs(1);
    cfg.timeout = Duration::from_secs(1);
    let started = std::time::Instant::now();
    let e = walk_err(&cfg, &a).await;
    assert!(matches!(e, WalkError::TooSlow { .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(e.to_string().contains("lengthen [snmp] interval"), "{e}");
    cfg.interval = Duration::from_secs(120);
    let w = walk_at(&cfg, a.addr()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(w.rows.len(), 10_000);
    eprintln!("10,000 rows walked in {:?}", w.took);
    let mut view = View::new(groups(), Timing::of(&cfg));
    view.walked(Ok(w.rows), Instant::now());
    assert_eq!(
        view.group("HQ_VPN").unwrap().carrying,
        Carrying::Member("HQ_Primary".into())
    );
}
