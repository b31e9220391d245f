//! Shared helpers for the tests that run the client against a real
//! emulator over loopback sockets.

#![allow(dead_code)]

use failoverd::config::secret::Secret;
use failoverd::firewall::client::{Client, ClientConfig, SendError, Tls};
use failoverd::firewall::request::{self, Condition, GroupDetail, Login, Spelling};
use failoverd::firewall::response::{self, Verdict};
use sfos_emulator::{Emulator, EmulatorConfig};
use std::time::Duration;

pub const PASSWORD: &str = "s3cret";

pub async fn emulator(config: EmulatorConfig) -> Emulator {
    Emulator::start(config).await.expect("emulator starts")
}

pub async fn default_emulator() -> Emulator {
    emulator(EmulatorConfig {
        password: PASSWORD.into(),
        ..EmulatorConfig::default()
    })
    .await
}

pub fn client(url: String, tls: Tls, timeout: Duration) -> Client {
    Client::new(&ClientConfig { url, timeout, tls }).expect("client builds")
}

pub fn pinned(emu: &Emulator) -> Client {
    client(emu.url(), Tls::Pin(emu.cert_sha256()), Duration::from_secs(5))
}

pub fn members() -> Vec<String> {
    vec!["HQ_Primary".to_string(), "HQ_Backup".to_string()]
}

pub const CONDITIONS: [Condition; 2] = [Condition::Ping, Condition::Tcp(443)];

pub fn group<'a>(name: &'a str, members: &'a [String]) -> GroupDetail<'a> {
    GroupDetail {
        name,
        members,
        mail: true,
        failback: true,
        conditions: &CONDITIONS,
    }
}

/// The Get document with the default credentials.
pub fn get_doc(password: &str) -> String {
    let secret = Secret::new(password);
    request::get(
        &Login {
            username: "api",
            password: &secret,
        },
        None,
    )
}

pub fn push_doc(name: &str, action: request::Action, spelling: Spelling) -> String {
    let secret = Secret::new(PASSWORD);
    let m = members();
    let login = Login {
        username: "api",
        password: &secret,
    };
    request::push(&login, None, &group(name, &m), action, false, spelling)
}

pub fn set_doc(name: &str, op: request::Operation, spelling: Spelling) -> String {
    let secret = Secret::new(PASSWORD);
    let m = members();
    let login = Login {
        username: "api",
        password: &secret,
    };
    request::set(&login, None, &group(name, &m), op, spelling)
}

/// Sends and classifies: a transport failure is reported as `Err`.
pub async fn verdict(client: &Client, xml: &str) -> Result<Verdict, SendError> {
    let body = client.send(xml).await?;
    Ok(response::judge(&body))
}

pub fn code(verdict: &Verdict) -> Option<u32> {
    match verdict {
        Verdict::Accepted { code, .. } => Some(*code),
        Verdict::Refused { code, .. } => *code,
        _ => None,
    }
}
