//! Request-to-reply tests of the emulated firewall's logic, without sockets.

use super::*;
use crate::config::Spellings;

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
