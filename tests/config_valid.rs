//! Valid group definitions in both spellings and all three root forms,
//! the warnings that do not fail a check, and the examples shipped in
//! `config/`.

mod common;

use common::{BASE_GROUP, BASE_SETTINGS, Case};
use failoverd::config::groups::{Condition, Intent};
use failoverd::config::settings::{TlsMode, Via};
use failoverd::config::{GroupKind, Plan};

fn plan(settings: &str, group: &str) -> Plan {
    let case = Case::new(settings, &[("g.xml", group)]);
    let loaded = failoverd::config::load(&case.settings_path()).unwrap();
    let errors: Vec<String> = loaded.diagnostics.errors().map(|d| d.to_string()).collect();
    loaded.plan.unwrap_or_else(|| panic!("expected valid, got {errors:#?}"))
}

const SFOS19: &str = r#"<VPNFailoverGroup transactionid="">
  <GroupDetail>
    <Name>HQ_VPN</Name>
    <MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections>
    <MailNotification>ENABLE</MailNotification>
    <AutomaticFailback>Disable</AutomaticFailback>
    <FailoverCondition>
      <FailoverIF><Protocol>PING</Protocol><Port></Port></FailoverIF>
      <FailoverIF><Protocol>TCP</Protocol><Port>443</Port></FailoverIF>
      <FailoverIF><Protocol>TCP</Protocol><Port>443</Port></FailoverIF>
      <FailoverIF><Protocol></Protocol><Port></Port></FailoverIF>
    </FailoverCondition>
  </GroupDetail>
</VPNFailoverGroup>"#;

const SFOS17_REQUEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Request APIVersion="1702.1">
  <Set operation="add">
    <VPNFailoverGroup>
      <GroupDetail>
        <Name>Branch</Name>
        <MemberConnections><Connection>A</Connection></MemberConnections>
        <MailNotification>y</MailNotification>
        <FailoverCondition><FailoverIF><Protocol>tcp</Protocol><Port> 22 </Port></FailoverIF></FailoverCondition>
      </GroupDetail>
    </VPNFailoverGroup>
  </Set>
  <Set>
    <VPNFailoverGroup>
      <GroupDetail><Name>Other</Name><MemberConnections><Connection>B</Connection></MemberConnections><MailNotification>N</MailNotification></GroupDetail>
      <DeActive><Name>Other</Name></DeActive>
    </VPNFailoverGroup>
  </Set>
</Request>"#;

#[test]
fn sfos19_spelling_keeps_duplicate_conditions_and_drops_empty_ones() {
    let p = plan(BASE_SETTINGS, SFOS19);
    let g = &p.groups[0];
    assert_eq!(g.name(), "HQ_VPN");
    assert!(g.def.mail);
    assert!(!g.def.failback);
    assert_eq!(
        g.def.conditions,
        vec![Condition::Ping, Condition::Tcp(443), Condition::Tcp(443)]
    );
    assert_eq!(g.kind, GroupKind::Underlay);
    assert_eq!(g.def.members.iter().map(|m| &*m.name).collect::<Vec<_>>(), ["A", "B"]);
}

#[test]
fn sfos17_request_form_with_two_sets_and_an_intent() {
    let p = plan(BASE_SETTINGS, SFOS17_REQUEST);
    assert_eq!(p.groups.len(), 2);
    let (b, o) = (&p.groups[0], &p.groups[1]);
    assert_eq!((b.name(), b.def.mail, b.def.failback), ("Branch", true, true));
    assert_eq!(b.def.conditions, vec![Condition::Tcp(22)]);
    assert_eq!((o.name(), o.def.mail), ("Other", false));
    assert_eq!(o.kind, GroupKind::Intent(Intent::DeActive));
    assert_eq!(
        o.def.conditions,
        vec![Condition::Ping],
        "no entry left: one PING condition"
    );
}

#[test]
fn list_form_and_active_intent() {
    let xml = "<VPNFailoverGroups><VPNFailoverGroup><GroupDetail><Name>One</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail><Active><Name>One</Name></Active></VPNFailoverGroup><VPNFailoverGroup><GroupDetail><Name>Two</Name><MemberConnections><Connection>B</Connection></MemberConnections></GroupDetail></VPNFailoverGroup></VPNFailoverGroups>";
    let p = plan(BASE_SETTINGS, xml);
    assert_eq!(p.groups.len(), 2);
    assert_eq!(p.groups[0].kind, GroupKind::Intent(Intent::Active));
    assert_eq!(p.groups[1].kind, GroupKind::Underlay);
    assert!(p.groups[1].def.failback, "absent AutomaticFailback means Enable");
    assert!(!p.groups[1].def.mail, "absent MailNotification means off");
}

#[test]
fn tunnel_is_the_default_via_and_settings_defaults_apply() {
    let settings = BASE_SETTINGS.replacen("via = \"underlay\"\n", "", 1);
    let p = plan(&settings, BASE_GROUP);
    let a = &p.settings.connections["A"];
    assert_eq!((a.via, a.via_defaulted, a.quorum), (Via::Tunnel, true, 1));
    assert_eq!(p.groups[0].kind, GroupKind::Tunnel);
    let t = &a.timing;
    assert_eq!(
        (t.interval.as_millis(), t.timeout.as_millis(), t.fall, t.rise),
        (1000, 1000, 3, 3)
    );
    assert!(t.quality.is_none());
    let fw = &p.settings.firewall;
    assert_eq!(fw.url, "https://192.0.2.254:4444/webconsole/APIController");
    assert_eq!(fw.tls, TlsMode::System);
    assert_eq!(fw.max_in_flight, 2);
    assert_eq!(fw.restart_after.as_secs(), 120);
    assert_eq!(p.settings.guard.max_groups_down, 0.5);
    assert!(p.settings.mail.is_none());
    assert!(p.settings.ha.is_none(), "no [ha]: always active");
}

#[test]
fn an_ha_pair_reads_its_address_and_completes_the_peer_url() {
    let pair = "[ha]\naddress = \"2001:db8::50\"\npeer = \"http://[2001:db8::12]:9733\"\n";
    let settings = format!("{BASE_SETTINGS}[http]\nlisten = \"[::]:9733\"\n{pair}");
    let ha = plan(&settings, BASE_GROUP).settings.ha.expect("[ha] read");
    assert_eq!(ha.address, "2001:db8::50".parse::<std::net::IpAddr>().unwrap());
    assert_eq!(ha.peer, "http://[2001:db8::12]:9733/status");

    // Listening on loopback only is valid, but the peer cannot read it.
    let settings = format!("{BASE_SETTINGS}[http]\nlisten = \"127.0.0.1:9733\"\n{pair}");
    let case = Case::new(&settings, &[("g.xml", BASE_GROUP)]);
    let loaded = failoverd::config::load(&case.settings_path()).unwrap();
    assert!(loaded.plan.is_some());
    let warnings: Vec<String> = loaded.diagnostics.warnings().map(|d| d.to_string()).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].ends_with(
            "failoverd.toml:16:10: http.listen: warning: 127.0.0.1:9733 is reachable from this host only: the other host of the \
             [ha] pair cannot read this host's holds; listen on an address it reaches (0.0.0.0 or this host's own)"
        ),
        "{warnings:?}"
    );
}

#[test]
fn connection_overrides_and_quality_rules_combine_with_probe_defaults() {
    let settings = format!(
        "{}\n[probe]\ninterval = \"2s\"\nloss_down = \"40%\"\nloss_up = \"10%\"\n",
        BASE_SETTINGS.replacen(
            "via = \"underlay\"\n",
            "via = \"underlay\"\nfall = 5\nrtt_down = \"500ms\"\nrtt_up = \"250ms\"\nwindow = 10\n",
            1
        )
    );
    let p = plan(&settings, BASE_GROUP);
    let a = &p.settings.connections["A"].timing;
    assert_eq!((a.interval.as_secs(), a.fall, a.rise), (2, 5, 3));
    let q = a.quality.as_ref().unwrap();
    assert_eq!(q.window, 10);
    assert_eq!(q.loss, Some((0.4, 0.1)));
    assert_eq!(q.rtt.map(|(d, u)| (d.as_millis(), u.as_millis())), Some((500, 250)));
    let b = p.settings.connections["B"].timing.quality.as_ref().unwrap();
    assert_eq!((b.window, b.loss, b.rtt), (20, Some((0.4, 0.1)), None));
}

/// Each row: settings, group file, the exact warnings printed; the
/// configuration stays valid.
#[test]
fn warnings_do_not_fail_the_check() {
    let ping_port = "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>PING</Protocol><Port>7</Port></FailoverIF><FailoverIF><Port>22</Port></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>";
    let login = "<Request><Login><Username>admin</Username><Password>s3cret</Password></Login><Set><VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup></Set></Request>";
    let same = BASE_SETTINGS.replace("[\"192.0.2.2\"]", "[\"192.0.2.1\"]");
    let rows: Vec<(String, &str, Vec<&str>)> = vec![
        (
            BASE_SETTINGS.into(),
            ping_port,
            vec![
                "g.xml:1:193: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[1]/Port: warning: a port on a PING condition is ignored; remove it, or use TCP",
                "g.xml:1:220: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[2]/Protocol: warning: <FailoverIF> without <Protocol> is read as an empty protocol and ignored; add <Protocol>PING</Protocol> or <Protocol>TCP</Protocol>",
            ],
        ),
        (
            BASE_SETTINGS.into(),
            login,
            vec![
                "failoverd.toml:7:14: connections.B: warning: connection B is not a member of any group; it is not probed",
                "g.xml:1:10: Request/Login: warning: <Login> holds the API password in this file; failoverd ignores it (the password comes from the settings): remove <Login> from the file",
            ],
        ),
        (
            same,
            BASE_GROUP,
            vec![
                "g.xml:1:103: VPNFailoverGroup[G]/MemberConnections/Connection[2]: warning: members A and B are probed identically (same targets, source, interface and timing): failoverd cannot tell them apart, so failoverd will never deactivate this group, only mail about it; to tell them apart give each a target only reachable through it, or set source or interface",
            ],
        ),
        (
            format!("{BASE_SETTINGS}insecure = true\n"),
            BASE_GROUP,
            vec![
                "failoverd.toml:15:1: firewall.insecure: warning: insecure = true: the firewall's certificate is not checked, so anyone in the path can read the API password; pin it with pin_sha256 instead",
            ],
        ),
        (
            format!(
                "{BASE_SETTINGS}[mail]\nserver = \"smtp://127.0.0.1?tls=none\"\nfrom = \"f@example.com\"\nto = [\"o@example.com\"]\nusername = \"u\"\n"
            ),
            BASE_GROUP,
            vec![
                "failoverd.toml:19:1: mail.username: warning: username is ignored with ?tls=none: credentials never travel unencrypted; use smtp:// (STARTTLS) or smtps:// to log in",
            ],
        ),
    ];
    for (settings, group, want) in rows {
        let case = Case::new(&settings, &[("g.xml", group)]);
        assert_eq!(case.warnings(), want, "{group}");
        assert!(case.valid(), "warnings alone keep it valid: {:#?}", case.errors());
    }
}

#[test]
fn identical_underlay_members_are_recorded_in_the_plan() {
    let p = plan(&BASE_SETTINGS.replace("[\"192.0.2.2\"]", "[\"192.0.2.1\"]"), BASE_GROUP);
    assert_eq!(p.groups[0].identical.as_deref(), Some(&("A".into(), "B".into())));
    let p = plan(BASE_SETTINGS, BASE_GROUP);
    assert_eq!(p.groups[0].identical, None);
}

#[test]
fn secrets_readable_by_others_are_warned_and_never_printed() {
    use std::os::unix::fs::PermissionsExt;
    let settings = BASE_SETTINGS.replace("password_file = \"pw\"", "password = \"canary-Pa55\"");
    let case = Case::new(&settings, &[("g.xml", BASE_GROUP)]);
    std::fs::set_permissions(case.settings_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let w = case.warnings();
    assert_eq!(w.len(), 2, "{w:#?}");
    assert!(w[0].ends_with("firewall.password: warning: a password in the settings file: move it to password_file or the systemd credential firewall.password"), "{w:#?}");
    assert!(
        w[1].contains("failoverd.toml holds a password and is readable by others: run chmod o-rwx"),
        "{w:#?}"
    );
    let loaded = failoverd::config::load(&case.settings_path()).unwrap();
    let plan = loaded.plan.unwrap();
    assert_eq!(
        plan.settings.firewall.password.secret.as_ref().unwrap().expose(),
        "canary-Pa55"
    );
    assert!(
        !format!("{plan:?}").contains("canary-Pa55"),
        "Debug of the plan leaks the password"
    );
    std::fs::set_permissions(case.settings_path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(case.warnings().len(), 1);
    // A password file readable by others.
    let case = Case::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    std::fs::set_permissions(case.path("pw"), std::fs::Permissions::from_mode(0o640 | 0o004)).unwrap();
    let w = case.warnings();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with(
            "failoverd.toml:14:17: firewall.password_file: warning: pw holds a password and is readable by others"
        ),
        "{w:#?}"
    );
}

/// Every settings file shipped under `config/` is valid, and every group
/// file there is read by one of them.
#[test]
fn shipped_examples_are_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut settings = Vec::new();
    let mut xml = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                settings.push(p);
            } else if p.extension().is_some_and(|x| x == "xml") {
                xml.push(p);
            }
        }
    }
    assert!(settings.len() >= 2 && xml.len() >= 3, "{settings:?} {xml:?}");
    let mut read = Vec::new();
    for s in &settings {
        let loaded = failoverd::config::load(s).unwrap();
        let errors: Vec<String> = loaded.diagnostics.errors().map(|d| d.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", s.display());
        read.extend(loaded.plan.unwrap().settings.group_files);
    }
    for x in &xml {
        assert!(
            read.contains(x),
            "{} is not read by any example settings file",
            x.display()
        );
    }
}
