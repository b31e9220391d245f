//! Request-to-reply tests of the emulated firewall's logic, without sockets.

use super::*;
use crate::config::Spellings;
use crate::ipsec::IpsecConnection;

const LOGIN: &str = "<Login><Username>api</Username><Password>pw</Password></Login>";

fn config(spellings: Spellings) -> EmulatorConfig {
    EmulatorConfig {
        password: "pw".into(),
        spellings,
        ..EmulatorConfig::default()
    }
}

fn run(cfg: &EmulatorConfig, faults: &[Fault], state: &mut State, body: &str) -> Answer {
    let ctx = Context {
        config: cfg,
        faults,
        texts: Texts::Seed,
        peer: [127, 0, 0, 1].into(),
    };
    handle(&format!("<Request>{LOGIN}{body}</Request>"), &ctx, state)
}

fn detail(name: &str, spelling17: bool) -> String {
    let (mail, failback, ping) = if spelling17 {
        ("y", "", "ping")
    } else {
        ("Enable", "<AutomaticFailback>Disable</AutomaticFailback>", "PING")
    };
    format!(
        "<GroupDetail><Name>{name}</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><MailNotification>{mail}</MailNotification>{failback}<FailoverCondition><FailoverIF><Protocol>{ping}</Protocol><Port></Port></FailoverIF></FailoverCondition></GroupDetail>"
    )
}

fn set(op: &str, entity: &str) -> String {
    format!("<Set{op}><VPNFailoverGroup>{entity}</VPNFailoverGroup></Set>")
}

fn code_of(answer: &Answer) -> Option<u32> {
    answer.actions.last().and_then(|a| a.code)
}

#[test]
fn add_update_switch_get_in_both_spellings() {
    for (spellings, old) in [
        (Spellings::Sfos19, false),
        (Spellings::Sfos17, true),
        (Spellings::Either, true),
    ] {
        let cfg = config(spellings);
        let mut state = State::default();
        let empty = run(
            &cfg,
            &[],
            &mut state,
            "<Get><VPNFailoverGroup></VPNFailoverGroup></Get>",
        );
        assert!(
            empty.body.contains("<Status>No. of records Zero.</Status>"),
            "{}",
            empty.body
        );
        let add = " operation=\"add\"";
        assert_eq!(
            code_of(&run(&cfg, &[], &mut state, &set(add, &detail("HQ", old)))),
            Some(200)
        );
        assert_eq!(
            code_of(&run(&cfg, &[], &mut state, &set(add, &detail("HQ", old)))),
            Some(502)
        );
        let update = " operation=\"update\"";
        assert_eq!(
            code_of(&run(&cfg, &[], &mut state, &set(update, &detail("HQ", old)))),
            Some(200)
        );
        assert_eq!(
            code_of(&run(&cfg, &[], &mut state, &set(update, &detail("Other", old)))),
            Some(500)
        );
        assert_eq!(
            code_of(&run(&cfg, &[], &mut state, &set(add, &detail("Wrong", !old)))),
            Some(if spellings == Spellings::Either { 200 } else { 500 })
        );
        let deactive = run(
            &cfg,
            &[],
            &mut state,
            &set(update, "<DeActive><Name>HQ</Name></DeActive>"),
        );
        assert_eq!(code_of(&deactive), Some(200));
        assert_eq!(deactive.actions[0].action, ActionKind::DeActive);
        assert!(!state.groups["HQ"].active);
        assert_eq!(
            code_of(&run(
                &cfg,
                &[],
                &mut state,
                &set(update, "<Active><Name>HQ</Name></Active>")
            )),
            Some(200)
        );
        assert!(state.groups["HQ"].active);
        assert_eq!(
            code_of(&run(
                &cfg,
                &[],
                &mut state,
                &set(update, "<Active><Name>Nope</Name></Active>")
            )),
            Some(500)
        );
        let get = run(
            &cfg,
            &[],
            &mut state,
            "<Get><VPNFailoverGroup></VPNFailoverGroup></Get>",
        );
        assert!(get.body.contains("<Name>HQ</Name>"), "{}", get.body);
        assert_eq!(get.body.contains("AutomaticFailback"), spellings != Spellings::Sfos17);
    }
}

#[test]
fn set_without_operation_adds_then_updates() {
    let cfg = config(Spellings::Either);
    let mut state = State::default();
    for _ in 0..2 {
        let answer = run(&cfg, &[], &mut state, &set("", &detail("G", false)));
        assert_eq!(code_of(&answer), Some(200));
        assert_eq!(answer.actions[0].action, ActionKind::AddOrUpdate);
    }
    assert_eq!(state.groups.len(), 1);
}

#[test]
fn full_push_defines_and_switches_at_once() {
    let cfg = EmulatorConfig {
        added_active: false,
        ..config(Spellings::Sfos19)
    };
    let mut state = State::default();
    let entity = format!("{}<Active><Name>G</Name></Active>", detail("G", false));
    let answer = run(&cfg, &[], &mut state, &set(" operation=\"update\"", &entity));
    assert_eq!(code_of(&answer), Some(500), "update of an unknown group");
    let answer = run(&cfg, &[], &mut state, &set("", &entity));
    assert_eq!(
        answer.actions.iter().map(|a| a.action).collect::<Vec<_>>(),
        [ActionKind::AddOrUpdate, ActionKind::Active]
    );
    assert!(state.groups["G"].active);
}

#[test]
fn request_level_errors_and_login() {
    let cfg = config(Spellings::Either);
    let mut state = State::default();
    let ctx = |faults| Context {
        config: &cfg,
        faults,
        texts: Texts::Seed,
        peer: [127, 0, 0, 1].into(),
    };
    let cases: [(&str, &[Fault], &str); 7] = [
        (
            "<Request>",
            &[],
            "<Status code=\"529\">Input request file is Invalid</Status>",
        ),
        (
            "<Request><Login/><Set><IPHost/></Set></Request>",
            &[],
            "<Status code=\"529\">Input request module is Invalid</Status>",
        ),
        (
            "<Request><Login><Username>api</Username><Password>no</Password></Login></Request>",
            &[],
            "<Login><status>Authentication Failure</status></Login></Response>",
        ),
        (
            &*format!("<Request>{LOGIN}</Request>"),
            &[Fault::LoginFailure],
            "Authentication Failure",
        ),
        (
            &*format!("<Request>{LOGIN}</Request>"),
            &[Fault::DenyAll],
            "<Status code=\"534\">",
        ),
        (
            &*format!("<Request>{LOGIN}</Request>"),
            &[Fault::ApiDisabled],
            "<Status code=\"532\">",
        ),
        (
            "<Request><Login><Username>api</Username><Password>pw</Password></Login><Get><VPNFailoverGroup/></Get></Request>",
            &[],
            "Authentication Successful",
        ),
    ];
    for (doc, faults, want) in cases {
        let answer = handle(doc, &ctx(faults), &mut state);
        assert!(answer.body.contains(want), "{doc}: {}", answer.body);
    }
    let strict = EmulatorConfig {
        allowed: Some(vec![[10, 0, 0, 1].into()]),
        require_api_version: true,
        ..cfg.clone()
    };
    let ctx = Context {
        config: &strict,
        faults: &[],
        texts: Texts::Seed,
        peer: [127, 0, 0, 1].into(),
    };
    assert!(handle("<Request/>", &ctx, &mut state).body.contains("code=\"534\""));
    let ctx = Context {
        peer: [10, 0, 0, 1].into(),
        ..ctx
    };
    assert!(
        handle("<Request/>", &ctx, &mut state)
            .body
            .contains("There is no API Version")
    );
}

#[test]
fn entity_faults_apply_nothing() {
    let cfg = config(Spellings::Either);
    let mut state = State::default();
    for (fault, code, wrapper) in [
        (Fault::EntityCode(500), 500, "VPNFailoverGroup"),
        (Fault::NoPrivilege, 599, "VPNFailoverGroup"),
    ] {
        let answer = run(
            &cfg,
            &[fault, Fault::AltWrapper],
            &mut state,
            &set("", &detail("G", false)),
        );
        assert_eq!(code_of(&answer), Some(code));
        assert!(
            answer
                .body
                .contains(&format!("<GroupDetail transactionid=\"\"><Status code=\"{code}\">")),
            "{wrapper}: {}",
            answer.body
        );
        assert!(state.groups.is_empty());
    }
    let ctx = Context {
        config: &cfg,
        faults: &[],
        texts: Texts::Generic,
        peer: [127, 0, 0, 1].into(),
    };
    let doc = format!("<Request>{LOGIN}{}</Request>", set("", &detail("G", false)));
    assert!(
        handle(&doc, &ctx, &mut state)
            .body
            .contains(">Configuration applied successfully.</Status>")
    );
}

#[test]
fn remove_and_group_names() {
    let cfg = config(Spellings::Either);
    let mut state = State::default();
    run(&cfg, &[], &mut state, &set("", &detail("G", false)));
    let remove = "<Remove><VPNFailoverGroup><Name>G</Name></VPNFailoverGroup></Remove>";
    assert_eq!(code_of(&run(&cfg, &[], &mut state, remove)), Some(200));
    assert_eq!(code_of(&run(&cfg, &[], &mut state, remove)), Some(500));
    let doc = format!(
        "<Request>{LOGIN}{}{}</Request>",
        set("", &format!("{}<Active><Name>G</Name></Active>", detail("G", false))),
        set("", "<DeActive><Name>H</Name></DeActive>")
    );
    assert_eq!(group_names(&doc), ["G", "H"]);
    assert!(group_names("garbage").is_empty());
}

#[test]
fn get_ipsec_connections_and_the_get_shapes() {
    let cfg = config(Spellings::Either);
    let mut state = State::default();
    let get_c = "<Get><VPNIPSecConnection></VPNIPSecConnection></Get>";
    let empty = run(&cfg, &[], &mut state, get_c);
    assert!(
        empty
            .body
            .contains("<VPNIPSecConnection transactionid=\"\"><Status>No. of records Zero.</Status>"),
        "{}",
        empty.body
    );
    let deep = run(&cfg, &[Fault::GetDeepEmpty], &mut state, get_c);
    assert!(
        deep.body.contains("<Configuration><Status>No. of records Zero."),
        "{}",
        deep.body
    );
    let bare = run(&cfg, &[Fault::GetBare], &mut state, get_c);
    assert!(
        bare.body
            .contains("<Login><status>Authentication Successful</status></Login><Configuration><Status>No."),
        "{}",
        bare.body
    );

    let a = IpsecConnection::site_to_site(
        "A",
        "203.0.113.1",
        "PortB",
        &["10.0.0.0/24", "10.0.1.0/24"],
        &["10.1.0.0/24"],
    );
    state.connections.insert("A".into(), a);
    state.connections.insert(
        "B".into(),
        IpsecConnection::tunnel_interface("B", "203.0.113.2", "PortC"),
    );
    let both = run(&cfg, &[], &mut state, get_c);
    for want in [
        "<VPNIPSecConnection transactionid=\"\"><Configuration><Name>A</Name>",
        "<LocalSubnet>10.0.0.0/24</LocalSubnet><LocalSubnet>10.0.1.0/24</LocalSubnet>",
        "<RemoteNetwork><Network>10.1.0.0/24</Network></RemoteNetwork>",
        "<ConnectionType>TunnelInterface</ConnectionType>",
        "<LocalSubnet>Any</LocalSubnet>",
        "<PresharedKey>$sfos$hash$",
    ] {
        assert!(both.body.contains(want), "{want} in {}", both.body);
    }
    let one = run(&cfg, &[Fault::GetOneEntity], &mut state, get_c);
    assert_eq!(one.body.matches("<VPNIPSecConnection").count(), 1, "{}", one.body);
    assert_eq!(one.body.matches("<Configuration>").count(), 2);
    assert!(
        !format!("{:?}", state.connections).contains("$sfos$hash$"),
        "Debug hides the key"
    );

    // Groups in either spelling.
    run(&cfg, &[], &mut state, &set(" operation=\"add\"", &detail("G1", false)));
    run(&cfg, &[], &mut state, &set(" operation=\"add\"", &detail("G2", false)));
    let get_g = "<Get><VPNFailoverGroup></VPNFailoverGroup></Get>";
    let mixed = run(&cfg, &[Fault::GetMixed], &mut state, get_g);
    assert!(
        mixed.body.contains("<Name>G1</Name>") && mixed.body.contains("<MailNotification>Enable"),
        "{}",
        mixed.body
    );
    assert!(mixed.body.contains("<MailNotification>y"), "{}", mixed.body);
    let old = run(&cfg, &[Fault::GetSfos17], &mut state, get_g);
    assert!(
        !old.body.contains("Enable") && !old.body.contains("AutomaticFailback"),
        "{}",
        old.body
    );
    let bare = run(&cfg, &[Fault::GetBare], &mut state, get_g);
    assert!(
        !bare.body.contains("<VPNFailoverGroup") && bare.body.contains("</Login><GroupDetail>"),
        "{}",
        bare.body
    );
    let refused = run(
        &cfg,
        &[],
        &mut state,
        "<Set><VPNIPSecConnection><Name>X</Name></VPNIPSecConnection></Set>",
    );
    assert!(
        refused.body.contains("Input request module is Invalid"),
        "connections are never written"
    );
}
