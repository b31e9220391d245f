//! The firewall as failoverd's commands and daemon see it: the plan's
//! credentials, spelling and TLS mode bound to the HTTPS client, with each
//! call's outcome classified for the push slot and worded for a person.

use std::collections::BTreeMap;

use super::client::{Client, ClientConfig, SendError, Tls};
use super::decide::Want;
use super::read::{FwGroup, ReadError};
use super::request::{self, Action, Condition, GroupDetail, Login, Operation, Spelling};
use super::response::{self, Reply, Verdict};
use super::slot::Class;
use crate::config::Plan;
use crate::config::groups::{self, GroupDef};
use crate::config::secret::Secret;
use crate::config::settings::{self, Firewall, PushForm, TlsMode};

/// A group's definition, owned, as the requests need it.
#[derive(Clone, Debug)]
struct Definition {
    members: Vec<String>,
    mail: bool,
    failback: bool,
    conditions: Vec<Condition>,
}

/// The configured firewall.
#[derive(Clone, Debug)]
pub struct Api {
    client: Client,
    username: String,
    password: Secret,
    api_version: Option<String>,
    spelling: Spelling,
    full: bool,
    definitions: BTreeMap<String, Definition>,
}

/// The outcome of one call: its class and the words for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub class: Class,
    pub text: String,
}

fn definition(g: &GroupDef) -> Definition {
    let conditions = g
        .conditions
        .iter()
        .map(|c| match c {
            groups::Condition::Ping => Condition::Ping,
            groups::Condition::Tcp(p) => Condition::Tcp(*p),
        })
        .collect();
    Definition {
        members: g.members.iter().map(|m| m.name.to_string()).collect(),
        mail: g.mail,
        failback: g.failback,
        conditions,
    }
}

/// The client's TLS mode from the settings.
pub fn tls(fw: &Firewall) -> Tls {
    match &fw.tls {
        TlsMode::System => Tls::System,
        TlsMode::CaFile(p) => Tls::CaFile(p.clone(), fw.tls_name.clone()),
        TlsMode::Pin(pin) => Tls::Pin(*pin),
        TlsMode::Insecure => Tls::Insecure,
    }
}

impl Api {
    /// Binds the plan's `[firewall]`; fails without a readable password.
    pub fn new(plan: &Plan) -> Result<Api, String> {
        let fw = &plan.settings.firewall;
        let password = fw.password.secret.clone().ok_or_else(|| {
            format!(
                "no firewall password could be read from {}: set password_file or install the credential",
                fw.password.source
            )
        })?;
        let client = Client::new(&ClientConfig {
            url: fw.url.clone(),
            timeout: fw.timeout,
            tls: tls(fw),
        })?;
        let definitions = plan
            .groups
            .iter()
            .map(|g| (g.name().to_string(), definition(&g.def)))
            .collect();
        Ok(Api {
            client,
            username: fw.username.clone(),
            password,
            api_version: fw.api_version.clone(),
            spelling: match fw.spelling {
                settings::Spelling::Sfos19 => Spelling::Sfos19,
                settings::Spelling::Sfos17 => Spelling::Sfos17,
            },
            full: fw.push_form == PushForm::Full,
            definitions,
        })
    }

    fn login(&self) -> Login<'_> {
        Login {
            username: &self.username,
            password: &self.password,
        }
    }

    fn detail<'a>(&'a self, name: &'a str) -> Option<GroupDetail<'a>> {
        let d = self.definitions.get(name)?;
        Some(GroupDetail {
            name,
            members: &d.members,
            mail: d.mail,
            failback: d.failback,
            conditions: &d.conditions,
        })
    }

    /// Pushes Active or DeActive for `group`.
    pub async fn push(&self, group: &str, want: Want) -> Answer {
        let Some(detail) = self.detail(group) else {
            return Answer {
                class: Class::Refused(format!("unknown group {group}")),
                text: "unknown group".into(),
            };
        };
        let action = match want {
            Want::Active => Action::Active,
            Want::DeActive => Action::DeActive,
        };
        let xml = request::push(
            &self.login(),
            self.api_version.as_deref(),
            &detail,
            action,
            self.full,
            self.spelling,
        );
        classify(self.client.send(&xml).await)
    }

    /// Sends `group`'s definition with `op`.
    pub async fn set(&self, group: &str, op: Operation) -> Answer {
        let Some(detail) = self.detail(group) else {
            return Answer {
                class: Class::Refused(format!("unknown group {group}")),
                text: "unknown group".into(),
            };
        };
        let xml = request::set(&self.login(), self.api_version.as_deref(), &detail, op, self.spelling);
        classify(self.client.send(&xml).await)
    }

    /// Sync's way to send a definition (docs/firewall-api.md): Add, and
    /// Update when the firewall answers 502 (the group exists). Returns
    /// which of the two gave the answer.
    pub async fn define(&self, group: &str) -> (Operation, Answer) {
        let a = self.set(group, Operation::Add).await;
        match &a.class {
            Class::Refused(t) if t.starts_with("502") => (Operation::Update, self.set(group, Operation::Update).await),
            _ => (Operation::Add, a),
        }
    }

    /// The reply body of a read-only Get of every record of `entity`, or
    /// the answer that says why there is none (transport, TLS, HTTP).
    pub async fn get_body(&self, entity: request::Entity) -> Result<String, Answer> {
        let xml = request::get_of(&self.login(), self.api_version.as_deref(), entity);
        self.client.send(&xml).await.map_err(|e| classify(Err(e)))
    }

    /// The read-only Get: the reply, or the answer that says why not.
    pub async fn get(&self) -> Result<Reply, Answer> {
        self.get_groups().await.map(|(reply, _)| reply)
    }

    /// The read-only Get, with the firewall's group definitions read from
    /// the same reply (src/firewall/read.rs): the Get's outcome judges the
    /// API's health; the definitions, or why they cannot be read, are
    /// compared with the files (src/firewall/compare.rs).
    pub async fn get_groups(&self) -> Result<(Reply, Result<Vec<FwGroup>, ReadError>), Answer> {
        let xml = request::get(&self.login(), self.api_version.as_deref());
        let body = self.client.send(&xml).await.map_err(|e| classify(Err(e)))?;
        let reply = Self::judge_get(&body)?;
        Ok((reply, super::read::groups(&body)))
    }

    fn judge_get(body: &str) -> Result<Reply, Answer> {
        let reply = response::parse(body).map_err(|why| Answer {
            class: Class::Transient(why.clone()),
            text: why,
        })?;
        if let Verdict::Configuration { fix } = response::classify(&reply) {
            return Err(Answer {
                class: Class::Configuration(fix.clone()),
                text: fix,
            });
        }
        if response::get_accepted(&reply) {
            Ok(reply)
        } else {
            let text = "the firewall did not accept the Get".to_string();
            Err(Answer {
                class: Class::Refused(text.clone()),
                text,
            })
        }
    }

    /// The fingerprint of the certificate the firewall last presented.
    pub fn fingerprint(&self) -> Option<String> {
        self.client.presented_fingerprint()
    }
}

/// Classifies a call's result (docs/firewall-api.md, Answer classes).
pub fn classify(result: Result<String, SendError>) -> Answer {
    let (class, text) = match result {
        Err(SendError::Before(why)) => (Class::Transient(why.clone()), format!("not sent: {why}")),
        Err(SendError::Status(code)) => (Class::Transient(format!("HTTP {code}")), format!("HTTP status {code}")),
        Err(SendError::After(why)) => (Class::Unknown(why.clone()), format!("outcome unknown: {why}")),
        Err(SendError::PinMismatch { presented }) => {
            let fix = format!(
                "the firewall presented certificate {presented}, not the pinned one: check pin_sha256 (or who answers at this address)"
            );
            (Class::Configuration(fix.clone()), fix)
        }
        Ok(body) => match response::judge(&body) {
            Verdict::Accepted { code, text } => (Class::Accepted, format!("{code} {text}")),
            Verdict::Refused { code, text } => {
                let t = match code {
                    Some(c) => format!("{c} {text}"),
                    None => text,
                };
                (Class::Refused(t.clone()), t)
            }
            Verdict::Configuration { fix } => (Class::Configuration(fix.clone()), fix),
            Verdict::Transient { why } => (Class::Transient(why.clone()), why),
        },
    };
    Answer { class, text }
}
