//! Definition and switch round trips against the emulator in both
//! spellings: Add, 502 on a second Add, Update, Active, DeActive, Get; the
//! full push form; API version; and a hostile password reaching the
//! emulator intact.

mod fwutil;

use failoverd::config::secret::Secret;
use failoverd::firewall::client::Tls;
use failoverd::firewall::request::{self, Action, Login, Operation, Spelling};
use failoverd::firewall::response::{self, Verdict};
use fwutil::*;
use sfos_emulator::{ActionKind, EmulatorConfig, Spellings, Texts, Transport};
use std::time::Duration;

async fn only(spellings: Spellings) -> sfos_emulator::Emulator {
    emulator(EmulatorConfig {
        password: PASSWORD.into(),
        spellings,
        ..EmulatorConfig::default()
    })
    .await
}

async fn code_of(client: &failoverd::firewall::client::Client, xml: &str) -> Option<u32> {
    code(&verdict(client, xml).await.expect("an HTTP 200 reply"))
}

#[tokio::test]
async fn add_update_switch_and_get_in_both_spellings() {
    for (spelling, spellings, other) in [
        (Spelling::Sfos19, Spellings::Sfos19, Spelling::Sfos17),
        (Spelling::Sfos17, Spellings::Sfos17, Spelling::Sfos19),
    ] {
        let emu = only(spellings).await;
        let client = pinned(&emu);
        let body = client.send(&get_doc(PASSWORD)).await.unwrap();
        let empty = response::parse(&body).unwrap();
        assert!(response::get_accepted(&empty) && empty.records.is_empty(), "{body}");
        assert_eq!(
            code_of(&client, &set_doc("HQ_VPN", Operation::Add, spelling)).await,
            Some(200)
        );
        assert_eq!(
            code_of(&client, &set_doc("HQ_VPN", Operation::Add, spelling)).await,
            Some(502),
            "exists: send Update"
        );
        assert_eq!(
            code_of(&client, &set_doc("HQ_VPN", Operation::Update, spelling)).await,
            Some(200)
        );
        assert_eq!(
            code_of(&client, &set_doc("Nope", Operation::Update, spelling)).await,
            Some(500)
        );
        assert_eq!(
            code_of(&client, &set_doc("Odd", Operation::Add, other)).await,
            Some(500),
            "the other spelling"
        );
        assert_eq!(
            code_of(&client, &push_doc("HQ_VPN", Action::DeActive, spelling)).await,
            Some(200)
        );
        assert!(!emu.groups()["HQ_VPN"]);
        assert_eq!(
            code_of(&client, &push_doc("HQ_VPN", Action::Active, spelling)).await,
            Some(200)
        );
        assert!(emu.groups()["HQ_VPN"]);
        assert_eq!(
            code_of(&client, &push_doc("Unknown", Action::Active, spelling)).await,
            Some(500)
        );
        let body = client.send(&get_doc(PASSWORD)).await.unwrap();
        let listed = response::parse(&body).unwrap();
        assert!(response::get_accepted(&listed));
        assert_eq!(listed.records, ["HQ_VPN"]);
        let def = &emu.definitions()["HQ_VPN"];
        assert_eq!(def.members, members());
        assert_eq!(def.failback.is_some(), spelling == Spelling::Sfos19);
        let kinds: Vec<ActionKind> = emu
            .requests()
            .iter()
            .flat_map(|r| r.actions.iter().map(|a| a.action))
            .collect();
        assert_eq!(kinds.iter().filter(|k| **k == ActionKind::Get).count(), 2);
        assert!(emu.requests().iter().all(|r| r.transport == Transport::Form));
    }
}

#[tokio::test]
async fn a_full_push_sends_the_definition_too() {
    let emu = default_emulator().await;
    let client = pinned(&emu);
    let secret = Secret::new(PASSWORD);
    let login = Login {
        username: "api",
        password: &secret,
    };
    let m = members();
    let doc = request::push(&login, None, &group("G", &m), Action::DeActive, true, Spelling::Sfos19);
    assert_eq!(
        code_of(&client, &set_doc("G", Operation::Add, Spelling::Sfos19)).await,
        Some(200)
    );
    assert_eq!(code_of(&client, &doc).await, Some(200));
    assert!(!emu.groups()["G"]);
    let last = emu.requests().pop().unwrap();
    let kinds: Vec<ActionKind> = last.actions.iter().map(|a| a.action).collect();
    assert_eq!(kinds, [ActionKind::Update, ActionKind::DeActive]);
}

#[tokio::test]
async fn generic_texts_are_judged_by_code() {
    let emu = default_emulator().await;
    emu.set_texts(Texts::Generic);
    let client = pinned(&emu);
    match verdict(&client, &set_doc("G", Operation::Add, Spelling::Sfos19))
        .await
        .unwrap()
    {
        Verdict::Accepted { code: 200, text } => {
            assert_eq!(text, "Configuration applied successfully.")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn api_version_is_sent_only_when_set() {
    let config = EmulatorConfig {
        password: PASSWORD.into(),
        require_api_version: true,
        ..EmulatorConfig::default()
    };
    let emu = emulator(config).await;
    let client = pinned(&emu);
    match verdict(&client, &get_doc(PASSWORD)).await.unwrap() {
        Verdict::Configuration { fix } => assert!(fix.contains("api_version"), "{fix}"),
        other => panic!("{other:?}"),
    }
    let secret = Secret::new(PASSWORD);
    let with = request::get(
        &Login {
            username: "api",
            password: &secret,
        },
        Some("1905.1"),
    );
    let body = client.send(&with).await.unwrap();
    assert!(response::get_accepted(&response::parse(&body).unwrap()), "{body}");
}

#[tokio::test]
async fn a_hostile_password_reaches_the_emulator_intact() {
    for password in ["< > & \" '", "&amp;", "p&amp;w<o>r\"d'=+%20 ;x", "ünï&#38;"] {
        let config = EmulatorConfig {
            password: password.into(),
            ..EmulatorConfig::default()
        };
        let emu = emulator(config).await;
        let client = client(emu.url(), Tls::Pin(emu.cert_sha256()), Duration::from_secs(5));
        let body = client.send(&get_doc(password)).await.unwrap();
        let reply = response::parse(&body).unwrap();
        assert_eq!(reply.login, Some(response::LoginStatus::Ok), "{password}: {body}");
        assert!(response::get_accepted(&reply));
        assert_eq!(
            emu.requests()[0].xml,
            get_doc(password),
            "decoded form field is the document sent"
        );
    }
}
