//! The settings file's types: what `failoverd.toml` says once read and
//! validated, with the defaults of docs/settings.md filled in.
//!
//! These are configuration only; live state (counters, beliefs, health)
//! lives elsewhere and never on these structs.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::connections::{ByName, Named};
use super::secret::Password;

/// Quality rules: loss and mean RTT judged over the last `window` checks,
/// each with a down value and a strictly lower up value. One type for the
/// settings and the health machines, so nothing is converted.
pub use crate::health::target::Quality;

/// How one target is checked and judged.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeTiming {
    pub interval: Duration,
    pub timeout: Duration,
    pub fall: u32,
    pub rise: u32,
    pub quality: Option<Quality>,
}

/// `[probe]`: the defaults of every connection, and name resolution.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeDefaults {
    pub timing: ProbeTiming,
    pub resolve_every: Duration,
    pub dns_stale: Duration,
}

/// An IP address or a host name to resolve.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Ip(IpAddr),
    Name(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Ip(ip) => write!(f, "{ip}"),
            Target::Name(n) => f.write_str(n),
        }
    }
}

/// A connection's targets as written: one kept inline (most connections
/// have one: no allocation of its own, issue #30), more in one allocation
/// of exactly their number. Reads as a slice.
pub type Targets = crate::one_or_many::OneOrMany<Target>;

/// Whether a member's targets answer only while its tunnel is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Tunnel,
    Underlay,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Via::Tunnel => "tunnel",
            Via::Underlay => "underlay",
        })
    }
}

/// Which address family of a resolved name to probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4,
    Ipv6,
    Any,
}

/// `[connections.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    /// Once: [`Connections`] is looked up by this name (no map key beside
    /// it); the group files' members share this copy.
    pub name: super::names::Name,
    /// Exactly as many as written (no spare capacity).
    pub targets: Targets,
    pub via: Via,
    /// `via` was not written and took its default.
    pub via_defaulted: bool,
    pub quorum: usize,
    pub family: Family,
    pub source: Option<IpAddr>,
    pub interface: Option<String>,
    /// Shared by every connection whose timing is `[probe]`'s (most of
    /// them): one copy instead of 112 bytes each (BENCHMARKS.md, "Memory,
    /// third round").
    pub timing: std::sync::Arc<ProbeTiming>,
    /// Offset of the table header, for messages about the connection.
    pub pos: usize,
}

/// Every `[connections.NAME]`, sorted by name, found by binary search.
pub type Connections = ByName<Connection>;

impl Named for Connection {
    fn name(&self) -> &str {
        &self.name
    }
}

/// The TLS check of the firewall's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// System roots, chain, expiry and the url's host.
    System,
    CaFile(PathBuf),
    /// SHA-256 of the leaf certificate's DER bytes.
    Pin([u8; 32]),
    Insecure,
}

/// Value spellings sent to the firewall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spelling {
    /// 19.0 and later: Enable/Disable, PING/TCP.
    Sfos19,
    /// 2017: y/n, ping/tcp.
    Sfos17,
}

/// What an Active/DeActive push carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushForm {
    Bare,
    Full,
}

/// `[firewall]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Firewall {
    /// Completed: `https://host:port/webconsole/APIController` when no path
    /// was given; host in lower case.
    pub url: String,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Password,
    pub tls: TlsMode,
    pub tls_name: Option<String>,
    pub timeout: Duration,
    pub spelling: Spelling,
    pub api_version: Option<String>,
    pub push_form: PushForm,
    pub max_in_flight: u32,
    pub config_retry: Duration,
    pub check_every: Duration,
    pub restart_after: Duration,
    pub restart_backoff: Duration,
    pub flap_limit: u32,
    pub flap_window: Duration,
    pub flap_hold: Duration,
    pub reactivate_after: Duration,
    pub sync: bool,
    pub dry_run: bool,
}

/// `[guard]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Guard {
    pub anchors: Vec<Target>,
    /// Fraction of groups.
    pub max_groups_down: f64,
    pub window: Duration,
    pub settle: Duration,
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailSecurity {
    /// `smtp://`: STARTTLS required.
    StartTls,
    /// `smtps://`: TLS from the start.
    Tls,
    /// `smtp://...?tls=none`: plain, for a local relay.
    None,
}

/// `[mail]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mail {
    pub host: String,
    pub port: u16,
    pub security: MailSecurity,
    pub from: String,
    pub to: Vec<String>,
    pub username: Option<String>,
    pub password: Option<Password>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub coalesce: Duration,
    pub max_per_hour: u32,
    pub spool_max: u32,
}

/// `[ha]`: this host is one of an active/standby pair (docs/ha.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ha {
    /// The VRRP virtual address: active while it is assigned here.
    pub address: IpAddr,
    /// The other host's `/status`, completed (`/status` added when the URL
    /// had no path); never holds user info.
    pub peer: String,
}

/// SNMPv3 authentication protocols `[snmp] auth` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnmpAuth {
    /// HMAC-MD5-96 (accepted, warned).
    Md5,
    /// HMAC-SHA-96 (SHA-1).
    Sha,
    Sha256,
    Sha512,
}

impl fmt::Display for SnmpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SnmpAuth::Md5 => "md5",
            SnmpAuth::Sha => "sha",
            SnmpAuth::Sha256 => "sha256",
            SnmpAuth::Sha512 => "sha512",
        })
    }
}

/// SNMPv3 privacy protocols `[snmp] privacy` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnmpPrivacy {
    /// CBC-DES (accepted, warned).
    Des,
    /// AES-128 in CFB mode.
    Aes,
    /// AES-256 in CFB mode (the Blumenthal key extension Net-SNMP uses).
    Aes256,
}

impl fmt::Display for SnmpPrivacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SnmpPrivacy::Des => "des",
            SnmpPrivacy::Aes => "aes",
            SnmpPrivacy::Aes256 => "aes256",
        })
    }
}

/// How `[snmp]` logs in: a v3 user (always authPriv) or a v2c community.
#[derive(Clone, Debug, PartialEq)]
pub enum SnmpSecurity {
    V3 {
        user: String,
        auth: SnmpAuth,
        auth_password: Password,
        privacy: SnmpPrivacy,
        privacy_password: Password,
    },
    V2c {
        community: Password,
    },
}

/// `[snmp]`: the firewall's own view of its tunnels (docs/settings.md).
#[derive(Clone, Debug, PartialEq)]
pub struct Snmp {
    /// Host name or address, as written (or the firewall url's host).
    pub host: String,
    pub port: u16,
    pub security: SnmpSecurity,
    pub interval: Duration,
    pub timeout: Duration,
    pub verify_within: Duration,
    pub disagree_after: Duration,
}

/// What `/metrics` serves beyond its default families: both off by
/// default, so the page stays small at thousands of targets. Read at every
/// render, so a reload applies them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsPage {
    /// `[http] rtt_histograms`: `failoverd_rtt_seconds` as a histogram
    /// (buckets per stream) instead of a summary of `_sum` and `_count`.
    pub rtt_histograms: bool,
    /// `[http] target_states`: `failoverd_target_up` per target.
    pub target_states: bool,
}

/// The whole settings file, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub file: PathBuf,
    /// Group files matched by the `groups` globs, in glob order.
    pub group_files: Vec<PathBuf>,
    pub state_dir: PathBuf,
    pub probe: ProbeDefaults,
    pub connections: Connections,
    pub firewall: Firewall,
    pub guard: Guard,
    pub mail: Option<Mail>,
    pub http_listen: Option<SocketAddr>,
    /// `[http]`'s choices of what /metrics serves (docs/metrics.md).
    pub metrics: MetricsPage,
    /// `[ha]`; absent: this host is always active.
    pub ha: Option<Ha>,
    /// `[snmp]`; absent: the tunnel table is not read.
    pub snmp: Option<Snmp>,
    /// `[[hooks]]`, in file order (docs/hooks.md).
    pub hooks: Vec<Hook>,
}

/// One `[[hooks]]` table: a program run once per event (docs/hooks.md).
#[derive(Clone, Debug, PartialEq)]
pub struct Hook {
    /// For logs and the metric's `hook` label: `name`, else the program's
    /// file name (made distinct).
    pub name: String,
    /// An absolute path to an executable, then its arguments.
    pub command: Vec<String>,
    /// The kinds it runs for; `None`: every event.
    pub events: Option<Vec<crate::mail::event::Kind>>,
    pub timeout: Duration,
}

impl ProbeTiming {
    /// The `[probe]` defaults (docs/settings.md).
    pub fn default_values() -> Self {
        ProbeTiming {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            fall: 3,
            rise: 3,
            quality: None,
        }
    }
}
