//! The emulator's settings and its switchable faults: what a test or a
//! person can choose about the emulated firewall, including the points
//! docs/firewall-api.md lists as unknown (spellings, reply texts, reply wrapper).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Which value spellings the emulated firmware takes in a `GroupDetail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spellings {
    /// 19.0 and later only: `Enable`/`Disable`, `PING`/`TCP`, `AutomaticFailback` known.
    Sfos19,
    /// The 2017 seed document only: `y`/`n`, `ping`/`tcp`, no `AutomaticFailback`.
    Sfos17,
    /// Both (the default): whether new firmware takes the old spelling is unknown.
    Either,
}

/// Which success texts the emulator answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Texts {
    /// The seed document's texts ("Failover group "X" has been created successfully").
    Seed,
    /// The generic "Configuration applied successfully." of live firmware.
    Generic,
}

/// A switchable misbehaviour. At most one of each kind is active at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Apply the request, then never answer (until the client leaves).
    Hang,
    /// Apply the request, then close the connection without an answer.
    Drop,
    /// Answer with this HTTP status; nothing is applied.
    HttpStatus(u16),
    /// Every login fails.
    LoginFailure,
    /// Every write entity gets this status code; nothing is applied.
    EntityCode(u32),
    /// 534 for every source address.
    DenyAll,
    /// 532: API access switched off.
    ApiDisabled,
    /// 599 on every write entity: the account lacks write access to VPN.
    NoPrivilege,
    /// Entity statuses wrapped in `<GroupDetail>` instead of `<VPNFailoverGroup>`.
    AltWrapper,
    /// Apply the request, then answer 200 with a body that never ends.
    Endless,
    /// Apply the request, then answer 200 with a body of this many MiB
    /// (announced in Content-Length).
    Huge(u64),
    /// Apply the request, then send half the answer (Content-Length says
    /// the whole) and close the connection.
    Truncated,
    /// Apply the request, then answer 200 with an HTML error page that is
    /// not XML.
    NotXml,
    /// Apply the request, then answer 200 with a reply nested 100 000
    /// levels deep.
    Deep,
    /// Get replies without the outer entity element: each record's
    /// `<GroupDetail>` or `<Configuration>` directly under `<Response>`,
    /// and the empty reply's status under the detail element.
    GetBare,
    /// Get replies with every record inside one entity element.
    GetOneEntity,
    /// The empty Get's codeless status one level deeper, under the
    /// entity's detail element.
    GetDeepEmpty,
    /// Get VPNFailoverGroup in the 2017 spelling (`y`/`n`, `ping`/`tcp`,
    /// no `AutomaticFailback`) whatever the firmware takes.
    GetSfos17,
    /// Get VPNFailoverGroup with every second group in the 2017 spelling.
    GetMixed,
    /// Write replies without the entity element: the status under
    /// `<Configuration>` directly below `<Response>`.
    WriteConfiguration,
    /// Write replies without the entity element: the status under the
    /// action's own element (`<Active>`, `<DeActive>`), else `<GroupDetail>`.
    WriteAction,
    /// Every write is refused with 501 "Configuration parameters
    /// validation failed." and the `<InvalidParams>` path of the field.
    InvalidParams,
    /// A Remove of a group that does not exist answers 200 with no entity
    /// element and no status at all.
    RemoveSilent,
}

impl Fault {
    /// Parses a fault as the binary's `--fault` flag spells it:
    /// `delay=MS`, `hang`, `drop`, `http=CODE`, `login-failure`, `code=N`,
    /// `deny`, `api-disabled`, `no-privilege`, `alt-wrapper`, `endless`,
    /// `huge=MIB`, `truncated`, `not-xml`, `deep`, and the Get reply shapes
    /// `get-bare`, `get-one-entity`, `get-deep-empty`, `get-sfos17`,
    /// `get-mixed`.
    pub fn parse(spec: &str) -> Result<Fault, String> {
        let (kind, value) = match spec.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (spec, None),
        };
        let number = |what: &str| -> Result<u64, String> {
            let v = value.ok_or_else(|| format!("fault {kind} needs ={what}"))?;
            v.parse().map_err(|_| format!("fault {kind}: {v:?} is not a number"))
        };
        let fault = match kind {
            "delay" => Fault::Delay(Duration::from_millis(number("MS")?)),
            "hang" => Fault::Hang,
            "drop" => Fault::Drop,
            "http" => Fault::HttpStatus(small(number("CODE")?, 100, 999)? as u16),
            "login-failure" => Fault::LoginFailure,
            "code" => Fault::EntityCode(small(number("CODE")?, 0, u32::MAX as u64)? as u32),
            "deny" => Fault::DenyAll,
            "api-disabled" => Fault::ApiDisabled,
            "no-privilege" => Fault::NoPrivilege,
            "alt-wrapper" => Fault::AltWrapper,
            "endless" => Fault::Endless,
            "huge" => Fault::Huge(small(number("MIB")?, 1, 1 << 20)?),
            "truncated" => Fault::Truncated,
            "not-xml" => Fault::NotXml,
            "deep" => Fault::Deep,
            "get-bare" => Fault::GetBare,
            "get-one-entity" => Fault::GetOneEntity,
            "get-deep-empty" => Fault::GetDeepEmpty,
            "get-sfos17" => Fault::GetSfos17,
            "get-mixed" => Fault::GetMixed,
            "write-configuration" => Fault::WriteConfiguration,
            "write-action" => Fault::WriteAction,
            "invalid-params" => Fault::InvalidParams,
            "remove-silent" => Fault::RemoveSilent,
            _ => return Err(format!("unknown fault {spec:?}; known: {FAULT_NAMES}")),
        };
        Ok(fault)
    }

    /// Whether two faults are of the same kind (the newer replaces the older).
    pub fn same_kind(&self, other: &Fault) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// The fault spellings, for help texts.
pub const FAULT_NAMES: &str = "delay=MS, hang, drop, http=CODE, login-failure, code=N, deny, \
                               api-disabled, no-privilege, alt-wrapper, endless, huge=MIB, truncated, \
                               not-xml, deep, get-bare, get-one-entity, get-deep-empty, get-sfos17, \
                               get-mixed, write-configuration, write-action, invalid-params, \
                               remove-silent";

fn small(n: u64, min: u64, max: u64) -> Result<u64, String> {
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} is outside {min}..={max}"))
    }
}

/// How the emulator starts.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    pub username: String,
    pub password: String,
    /// Source addresses allowed to use the API; `None` allows every address.
    pub allowed: Option<Vec<IpAddr>>,
    pub spellings: Spellings,
    pub texts: Texts,
    /// Answer 529 "There is no API Version" when `APIVersion` is missing.
    pub require_api_version: bool,
    /// Names the self-signed certificate carries (IP addresses become IP SANs).
    pub cert_names: Vec<String>,
    /// Whether a group created by `add` starts active (the firmware's choice is unknown).
    pub added_active: bool,
    /// Faults active from the start.
    pub faults: Vec<Fault>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            username: "api".to_string(),
            password: "api".to_string(),
            allowed: None,
            spellings: Spellings::Either,
            texts: Texts::Seed,
            require_api_version: false,
            cert_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            added_active: true,
            faults: Vec::new(),
        }
    }
}

/// Leaves the password out, like every other print of a secret.
impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("listen", &self.listen)
            .field("username", &self.username)
            .field("password", &"********")
            .field("allowed", &self.allowed)
            .field("spellings", &self.spellings)
            .field("texts", &self.texts)
            .field("require_api_version", &self.require_api_version)
            .field("cert_names", &self.cert_names)
            .field("added_active", &self.added_active)
            .field("faults", &self.faults)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_specs() {
        let cases = [
            ("delay=250", Fault::Delay(Duration::from_millis(250))),
            ("hang", Fault::Hang),
            ("drop", Fault::Drop),
            ("http=503", Fault::HttpStatus(503)),
            ("login-failure", Fault::LoginFailure),
            ("code=500", Fault::EntityCode(500)),
            ("deny", Fault::DenyAll),
            ("api-disabled", Fault::ApiDisabled),
            ("no-privilege", Fault::NoPrivilege),
            ("alt-wrapper", Fault::AltWrapper),
            ("endless", Fault::Endless),
            ("huge=100", Fault::Huge(100)),
            ("truncated", Fault::Truncated),
            ("not-xml", Fault::NotXml),
            ("deep", Fault::Deep),
            ("get-bare", Fault::GetBare),
            ("get-one-entity", Fault::GetOneEntity),
            ("get-deep-empty", Fault::GetDeepEmpty),
            ("get-sfos17", Fault::GetSfos17),
            ("get-mixed", Fault::GetMixed),
        ];
        for (spec, want) in cases {
            assert_eq!(Fault::parse(spec), Ok(want));
        }
        for bad in ["delay", "delay=x", "http=42", "nope", "code=-1", "huge", "huge=0"] {
            assert!(Fault::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let cfg = EmulatorConfig {
            password: "s3cr3t".into(),
            ..EmulatorConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("s3cr3t"));
    }
}
