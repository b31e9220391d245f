//! One walk of the tunnel table over SNMP: columns .2, .9 and .10 with
//! GETBULK, each request under `[snmp] timeout` and the whole walk under
//! `[snmp] interval` (docs/firewall-api.md, "The tunnel table over SNMP").
//!
//! Answers from any address but the configured one are dropped (an
//! agent's identity is its address), and reported as such when nothing
//! else came. Secrets go to the SNMP library and nowhere else.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_snmp::{Auth, AuthProtocol, Client, ErrorStatus, Oid, PrivProtocol, Retry, UsmConfig, Value};

use super::table::{COL_NAME, COLUMNS, Cell, Column, ENTRY, Row, WalkError, assemble};
use crate::config::secret::Password;
use crate::config::settings::{Snmp, SnmpAuth, SnmpPrivacy, SnmpSecurity};

/// Rows per GETBULK request: one request answers about 25 rows of a
/// column, well inside one UDP datagram.
const REPETITIONS: u32 = 25;

/// Rows read per column at most: a bound on memory whatever an agent
/// sends (a firewall has far fewer connections).
pub const MAX_ROWS: usize = 100_000;

/// A walk that read the table, with how long it took.
#[derive(Clone, Debug, PartialEq)]
pub struct Walked {
    pub rows: Vec<Row>,
    pub took: Duration,
}

fn secret<'a>(p: &'a Password, what: &'static str) -> Result<&'a str, WalkError> {
    p.secret.as_ref().map(|s| s.expose()).ok_or_else(|| WalkError::Secret {
        what,
        source: p.source.to_string(),
    })
}

fn auth(cfg: &Snmp) -> Result<Auth, WalkError> {
    match &cfg.security {
        SnmpSecurity::V2c { community } => Ok(Auth::v2c(secret(community, "community")?)),
        SnmpSecurity::V3 {
            user,
            auth,
            auth_password,
            privacy,
            privacy_password,
        } => {
            let a = match auth {
                SnmpAuth::Md5 => AuthProtocol::Md5,
                SnmpAuth::Sha => AuthProtocol::Sha1,
                SnmpAuth::Sha256 => AuthProtocol::Sha256,
                SnmpAuth::Sha512 => AuthProtocol::Sha512,
            };
            let p = match privacy {
                SnmpPrivacy::Des => PrivProtocol::Des,
                SnmpPrivacy::Aes => PrivProtocol::Aes128,
                SnmpPrivacy::Aes256 => PrivProtocol::Aes256Blumenthal,
            };
            let usm = UsmConfig::new(user.clone())
                .auth_priv(
                    a,
                    secret(auth_password, "authentication password")?,
                    p,
                    secret(privacy_password, "privacy password")?,
                )
                // The library's messages name lengths and algorithms, never
                // the passwords.
                .map_err(|e| WalkError::Secret {
                    what: "v3 credentials",
                    source: e.to_string(),
                })?;
            Ok(usm.into())
        }
    }
}

fn user(cfg: &Snmp) -> String {
    match &cfg.security {
        SnmpSecurity::V3 { user, .. } => user.clone(),
        SnmpSecurity::V2c { .. } => String::new(),
    }
}

/// Maps the SNMP library's error to what an admin acts on.
fn classify(e: &async_snmp::Error, cfg: &Snmp, address: SocketAddr, dropped: u64) -> WalkError {
    use async_snmp::Error as E;
    use async_snmp::v3::ReportStatus as R;
    match e.exchange_source() {
        E::Timeout { .. } if dropped > 0 => WalkError::OtherAddress { address },
        E::Timeout { elapsed, .. } => WalkError::Timeout {
            address,
            after: (*elapsed).max(cfg.timeout),
        },
        E::Report { status, .. } => match status.as_ref() {
            R::UnknownUserName { .. } => WalkError::UnknownUser {
                address,
                user: user(cfg),
            },
            R::WrongDigest { .. } => WalkError::Authentication { address },
            R::DecryptionError { .. } => WalkError::Privacy { address },
            R::UnsupportedSecurityLevel { .. } => WalkError::SecurityLevel {
                address,
                user: user(cfg),
            },
            other => WalkError::Other {
                address,
                detail: format!("the agent reported {other}"),
            },
        },
        E::Auth { .. } => WalkError::Authentication { address },
        E::Privacy(_) => WalkError::Privacy { address },
        E::Snmp { status, .. } if matches!(status, ErrorStatus::NoAccess | ErrorStatus::AuthorizationError) => {
            WalkError::NoAccess {
                address,
                detail: status.to_string(),
            }
        }
        E::WalkAborted { reason, .. } => WalkError::Changed {
            detail: format!("the agent's answers were out of order: {reason}"),
        },
        E::Decode(d) => WalkError::Malformed {
            address,
            detail: d.to_string(),
        },
        E::MalformedResponse { .. } | E::ResponseShape { .. } => WalkError::Malformed {
            address,
            detail: "a reply that does not answer the request".into(),
        },
        E::Network { source, .. } => WalkError::Network {
            address,
            detail: source.to_string(),
        },
        other => WalkError::Other {
            address,
            detail: other.to_string(),
        },
    }
}

fn cell(v: &Value) -> Cell {
    match v {
        Value::Integer(i) => Cell::Integer(i64::from(*i)),
        Value::OctetString(b) => Cell::Text(b.to_vec()),
        other => Cell::Other(other.kind().as_str()),
    }
}

/// Net-SNMP answers a wrong v3 password or an unknown user with a Report
/// it cannot authenticate, and the SNMP library drops such Reports on an
/// authPriv session (an attacker could forge them): the walk times out.
/// When it does, two lower-level requests tell the causes apart: without
/// authentication the agent says whether it knows the user; with
/// authentication only, an authenticated "unsupported security level"
/// proves the authentication password right (so privacy is wrong), and
/// silence proves it wrong. `None`: the agent does not answer at all.
async fn diagnose_v3(cfg: &Snmp, address: SocketAddr) -> Option<WalkError> {
    use async_snmp::v3::ReportStatus as R;
    let SnmpSecurity::V3 {
        user,
        auth,
        auth_password,
        ..
    } = &cfg.security
    else {
        return None;
    };
    let probe = Oid::from_slice(&ENTRY);
    // What the agent did with a probe: refused it as the user's level
    // demands (the user exists, and with authentication: the password is
    // right), said the user is unknown, or stayed silent.
    #[derive(PartialEq)]
    enum Said {
        Refused,
        UnknownUser,
        Silent,
        Other,
    }
    let said = |r: Result<async_snmp::FixedCardinalityResponse, Box<async_snmp::Error>>| match r {
        Ok(_) => Said::Refused,
        Err(e) => match e.exchange_source() {
            async_snmp::Error::Report { status, .. } => match **status {
                R::UnknownUserName { .. } => Said::UnknownUser,
                R::UnsupportedSecurityLevel { .. } => Said::Refused,
                _ => Said::Other,
            },
            async_snmp::Error::Snmp { .. } => Said::Refused,
            async_snmp::Error::Timeout { .. } => Said::Silent,
            _ => Said::Other,
        },
    };
    let connect = |a: Auth| {
        Client::builder(address, a)
            .request_timeout(cfg.timeout)
            .retry(Retry::none())
            .strict_source(true)
            .construction_timeout(cfg.timeout)
            .connect()
    };
    let plain = connect(Auth::usm(user.clone())).await.ok()?;
    match said(plain.get_next(&probe).await) {
        Said::UnknownUser => {
            return Some(WalkError::UnknownUser {
                address,
                user: user.clone(),
            });
        }
        Said::Refused => {}
        Said::Silent | Said::Other => return None,
    }
    let a = match auth {
        SnmpAuth::Md5 => AuthProtocol::Md5,
        SnmpAuth::Sha => AuthProtocol::Sha1,
        SnmpAuth::Sha256 => AuthProtocol::Sha256,
        SnmpAuth::Sha512 => AuthProtocol::Sha512,
    };
    let usm = UsmConfig::new(user.clone())
        .auth(a, secret(auth_password, "authentication password").ok()?)
        .ok()?;
    let Ok(authed) = connect(usm.into()).await else {
        return Some(WalkError::Authentication { address });
    };
    match said(authed.get_next(&probe).await) {
        Said::Refused => Some(WalkError::Privacy { address }),
        Said::Silent => Some(WalkError::Authentication { address }),
        Said::UnknownUser | Said::Other => None,
    }
}

/// DES needs salts that never repeat under one key. failoverd keeps no
/// state for it: each process takes the time it started (in seconds) as
/// its epoch, so a restart never reuses one. DES is accepted only with a
/// warning (docs/settings.md).
fn des_salt_state() -> Result<async_snmp::DesSaltState, WalkError> {
    use std::sync::OnceLock;
    static STATE: OnceLock<Result<async_snmp::DesSaltState, String>> = OnceLock::new();
    let made = STATE.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1);
        let boots = u32::try_from(now % i64::from(i32::MAX) as u64).unwrap_or(1).max(1);
        let previous = async_snmp::PersistedDesSaltState::new(boots).map_err(|e| e.to_string())?;
        async_snmp::DesSaltState::restart(previous, |_| Ok::<(), std::io::Error>(())).map_err(|e| e.to_string())
    });
    made.clone().map_err(|source| WalkError::Secret {
        what: "DES privacy state",
        source,
    })
}

/// Resolves `[snmp] address` to the socket address the walk talks to.
pub async fn resolve(cfg: &Snmp) -> Result<SocketAddr, WalkError> {
    let fail = |reason: String| WalkError::Resolve {
        host: cfg.host.clone(),
        reason,
    };
    let lookup = tokio::net::lookup_host((cfg.host.as_str(), cfg.port));
    match tokio::time::timeout(cfg.timeout, lookup).await {
        Err(_) => Err(fail(format!(
            "no answer within {}",
            humantime::format_duration(cfg.timeout)
        ))),
        Ok(Err(e)) => Err(fail(e.to_string())),
        Ok(Ok(mut addrs)) => addrs.next().ok_or_else(|| fail("no address".into())),
    }
}

/// Makes ONE walk of the tunnel table: the name, status and activated
/// columns, each with GETBULK. Never writes. Bad input of any kind is an
/// error value, never a panic.
pub async fn walk(cfg: &Snmp) -> Result<Walked, WalkError> {
    let address = resolve(cfg).await?;
    walk_at(cfg, address).await
}

/// [`walk`] at an already resolved address.
pub async fn walk_at(cfg: &Snmp, address: SocketAddr) -> Result<Walked, WalkError> {
    let start = Instant::now();
    let auth = auth(cfg)?;
    let mut builder = Client::builder(address, auth);
    if let SnmpSecurity::V3 {
        privacy: SnmpPrivacy::Des,
        ..
    } = cfg.security
    {
        builder = builder.des_salt_state(des_salt_state()?);
    }
    let client = builder
        .request_timeout(cfg.timeout)
        .retry(Retry::none())
        .strict_source(true)
        .construction_timeout(cfg.timeout)
        .connect()
        .await
        .map_err(|e| classify(&e, cfg, address, 0))?;
    let fail = |e: Box<async_snmp::Error>| classify(&e, cfg, address, client.stats().discarded_datagrams);
    let deadline = cfg.interval;
    let run = async {
        let mut cols: Vec<Column> = Vec::with_capacity(3);
        for c in COLUMNS {
            let mut prefix = ENTRY.to_vec();
            prefix.push(c);
            let base = Oid::from_slice(&prefix);
            let mut stream = client.bulk_walk(base.clone(), REPETITIONS).map_err(fail)?;
            let mut col: Column = Vec::new();
            while let Some(vb) = stream.next().await {
                let vb = vb.map_err(fail)?;
                if col.len() >= MAX_ROWS {
                    return Err(WalkError::Changed {
                        detail: format!("column .{c} has more than {MAX_ROWS} rows, more than any firewall holds"),
                    });
                }
                let arcs = vb.oid.arcs();
                col.push((arcs[prefix.len().min(arcs.len())..].to_vec(), cell(&vb.value)));
            }
            cols.push(col);
        }
        if !cols[0].is_empty() && cols[1].is_empty() && cols[2].is_empty() {
            // Names but neither status nor activated: old firmware, or
            // the table went away after the names were read. A GET of
            // the first name tells them apart.
            let mut first = ENTRY.to_vec();
            first.push(COL_NAME);
            first.extend(&cols[0][0].0);
            let got = client.get(&Oid::from_slice(&first)).await.map_err(fail)?;
            let still = got
                .varbinds
                .first()
                .is_some_and(|vb| matches!(vb.value, Value::OctetString(_)));
            return Err(if still {
                WalkError::NoStatusColumn { address }
            } else {
                WalkError::Changed {
                    detail: "the table vanished after its names were read".into(),
                }
            });
        }
        assemble(&cols[0], &cols[1], &cols[2])
    };
    match tokio::time::timeout(deadline, run).await {
        Ok(Ok(rows)) => Ok(Walked {
            rows,
            took: start.elapsed(),
        }),
        Ok(Err(e @ WalkError::Timeout { .. })) => Err(diagnose_v3(cfg, address).await.unwrap_or(e)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(WalkError::TooSlow {
            address,
            after: deadline,
        }),
    }
}
