//! Every key `failoverd.toml` accepts, with its default and what it does:
//! the one list the reader's unknown-key check uses and the
//! `failoverd.toml(5)` man page is rendered from, so a key cannot be
//! accepted without being documented. Tests below prove each listed key is
//! read, and that each literal default is the reader's real default.

/// A table of the settings file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Top-level keys.
    Top,
    Probe,
    /// `[connections.NAME]`, one per `<Connection>`.
    Connection,
    Firewall,
    Guard,
    Mail,
    Http,
    /// `[ha]`: an active/standby pair.
    Ha,
    Snmp,
    /// `[[hooks]]`: programs run once per event.
    Hooks,
}

impl Section {
    /// Every section, in the order of the man page.
    pub const ALL: [Section; 10] = [
        Section::Top,
        Section::Probe,
        Section::Connection,
        Section::Firewall,
        Section::Guard,
        Section::Mail,
        Section::Http,
        Section::Ha,
        Section::Snmp,
        Section::Hooks,
    ];

    /// The header as written in the file (`""` for the top level).
    pub fn header(self) -> &'static str {
        match self {
            Section::Top => "",
            Section::Probe => "[probe]",
            Section::Connection => "[connections.NAME]",
            Section::Firewall => "[firewall]",
            Section::Guard => "[guard]",
            Section::Mail => "[mail]",
            Section::Http => "[http]",
            Section::Ha => "[ha]",
            Section::Snmp => "[snmp]",
            Section::Hooks => "[[hooks]]",
        }
    }

    /// The key of the table in the top level (`None` for the top level).
    pub fn top_key(self) -> Option<&'static str> {
        match self {
            Section::Top => None,
            Section::Probe => Some("probe"),
            Section::Connection => Some("connections"),
            Section::Firewall => Some("firewall"),
            Section::Guard => Some("guard"),
            Section::Mail => Some("mail"),
            Section::Http => Some("http"),
            Section::Ha => Some("ha"),
            Section::Snmp => Some("snmp"),
            Section::Hooks => Some("hooks"),
        }
    }

    /// What the table is for, and what its absence means.
    pub fn about(self) -> &'static str {
        match self {
            Section::Top => "Keys before the first table.",
            Section::Probe => "Defaults for every connection's checks, and name resolution. The table may be left out.",
            Section::Connection => {
                "One table per <Connection> named in the group files; a table no group uses is a warning. \
                 The timing keys and quality rules of [probe] may be overridden here; left out, they take the [probe] value."
            }
            Section::Firewall => "The firewall's XML API and the pace and safety rules of pushes. Required.",
            Section::Guard => {
                "Telling remote failures from failoverd's own: while an anchor does not answer, or too many groups \
                 go down at once, failoverd decides no DeActive. The table may be left out."
            }
            Section::Mail => "Mail to the admins. Without this table mail is off and would-be mails are logged.",
            Section::Http => {
                "The HTTP server for / (the status page), /metrics (Prometheus) and /status (JSON). Without it, none runs."
            }
            Section::Snmp => {
                "The firewall's own view of its tunnels: its SNMP tunnel table (SOPHOS-XG-MIB, SFOS 20 and later), \
                 read every interval and shown beside failoverd's decisions. Read only: the view never starts a push. \
                 Without this table the tunnel table is not read."
            }
            Section::Hooks => {
                "One table per hook: a program run once for each event (the events of docs/events-and-mail.md, \
                 mailed or not), in order, one at a time per hook, with the event as JSON on stdin, never through a shell, \
                 on the active host only. Without any, no program is run. See docs/hooks.md."
            }
            Section::Ha => {
                "An active/standby pair of monitoring hosts: keepalived (VRRP) holds a virtual address on one of them, \
                 and only the host that holds it pushes and mails. Needs [http] listen on an address the other host reaches. \
                 Without this table the host is always active."
            }
        }
    }
}

/// A key's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultValue {
    /// The TOML value that means the same as leaving the key out.
    Literal(&'static str),
    /// No value means the same: required, unset, or derived (explained).
    Text(&'static str),
}

/// One key of one table.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    pub section: Section,
    pub name: &'static str,
    /// What the value looks like, e.g. `duration` or `"ipv4" | "ipv6" | "any"`.
    pub kind: &'static str,
    pub default: DefaultValue,
    pub doc: &'static str,
}

const fn key(
    section: Section,
    name: &'static str,
    kind: &'static str,
    default: DefaultValue,
    doc: &'static str,
) -> Key {
    Key {
        section,
        name,
        kind,
        default,
        doc,
    }
}

use std::time::Duration;

use crate::time::MAX_DURATION;
use DefaultValue::{Literal, Text};
use Section::*;

const FROM_PROBE: DefaultValue = Text("the [probe] value");

/// Every key, grouped by section in the man page's order.
pub const KEYS: &[Key] = &[
    key(
        Top,
        "groups",
        "array of globs",
        Text("required"),
        "The group definition files, in the firewall's own VPNFailoverGroup XML. Each entry is a glob; \
         one that matches no file is an error. Group names are unique across all files.",
    ),
    key(
        Top,
        "state_dir",
        "path",
        Text("$STATE_DIRECTORY if set (systemd's StateDirectory=), else /var/lib/failoverd"),
        "Where state.json (beliefs, holds, histories), the mail spool and the control socket live. \
         Changes only at restart.",
    ),
    // [probe]
    key(
        Probe,
        "interval",
        "duration",
        Literal("\"1s\""),
        "Time between two checks of one target; at least 10ms.",
    ),
    key(
        Probe,
        "timeout",
        "duration",
        Literal("\"1s\""),
        "How long one check may take; not above interval.",
    ),
    key(
        Probe,
        "fall",
        "1..1000",
        Literal("3"),
        "Failed checks in a row before a target is down.",
    ),
    key(
        Probe,
        "rise",
        "1..1000",
        Literal("3"),
        "Good checks in a row before a target is up.",
    ),
    key(
        Probe,
        "window",
        "1..1000",
        Literal("20"),
        "The quality rules judge the last window checks; only allowed with a quality rule.",
    ),
    key(
        Probe,
        "loss_down",
        "percentage",
        Text("unset (no loss rule)"),
        "Loss over the window at or above which a target is down. Needs loss_up, strictly below it.",
    ),
    key(
        Probe,
        "loss_up",
        "percentage",
        Text("unset (no loss rule)"),
        "Loss over the window at or below which a down target is up again. Needs loss_down.",
    ),
    key(
        Probe,
        "rtt_down",
        "duration",
        Text("unset (no RTT rule)"),
        "Mean round-trip time over the window at or above which a target is down. Needs rtt_up, strictly below it.",
    ),
    key(
        Probe,
        "rtt_up",
        "duration",
        Text("unset (no RTT rule)"),
        "Mean round-trip time at or below which a down target is up again. Needs rtt_down.",
    ),
    key(
        Probe,
        "resolve_every",
        "duration",
        Literal("\"5m\""),
        "How often host names among the targets are resolved again.",
    ),
    key(
        Probe,
        "dns_stale",
        "duration",
        Literal("\"1h\""),
        "How long the last addresses of a name are kept while the resolver fails.",
    ),
    // [connections.NAME]
    key(
        Connection,
        "targets",
        "array of addresses or host names",
        Text("required, not empty"),
        "What is checked for this member: IP addresses or host names.",
    ),
    key(
        Connection,
        "via",
        "\"tunnel\" | \"underlay\"",
        Text("\"tunnel\" (check says when it was defaulted)"),
        "\"underlay\": the targets answer whether or not this member's tunnel is up (e.g. the peer's public \
         address over this member's WAN link); a group whose members are all underlay is deactivated when \
         every member is down. \"tunnel\": the targets sit behind the tunnel; failoverd keeps such a group \
         Active and restarts it when it stays down.",
    ),
    key(
        Connection,
        "quorum",
        "1..len(targets)",
        Literal("1"),
        "How many targets must be up for the member to be up.",
    ),
    key(
        Connection,
        "family",
        "\"ipv4\" | \"ipv6\" | \"any\"",
        Literal("\"any\""),
        "Which addresses of host names are used; \"any\" takes the resolver's order. With source set, the default is source's family.",
    ),
    key(
        Connection,
        "source",
        "IP address",
        Text("unset"),
        "Probes leave from this address of the monitoring host.",
    ),
    key(
        Connection,
        "interface",
        "interface name",
        Text("unset"),
        "Probes are bound to this interface.",
    ),
    key(
        Connection,
        "interval",
        "duration",
        FROM_PROBE,
        "As in [probe], for this member.",
    ),
    key(
        Connection,
        "timeout",
        "duration",
        FROM_PROBE,
        "As in [probe], for this member.",
    ),
    key(
        Connection,
        "fall",
        "1..1000",
        FROM_PROBE,
        "As in [probe], for this member.",
    ),
    key(
        Connection,
        "rise",
        "1..1000",
        FROM_PROBE,
        "As in [probe], for this member.",
    ),
    key(
        Connection,
        "window",
        "1..1000",
        FROM_PROBE,
        "As in [probe], for this member.",
    ),
    key(
        Connection,
        "loss_down",
        "percentage",
        FROM_PROBE,
        "As in [probe], for this member.",
    ),
    key(
        Connection,
        "loss_up",
        "percentage",
        FROM_PROBE,
        "As in [probe], for this member.",
    ),
    key(
        Connection,
        "rtt_down",
        "duration",
        FROM_PROBE,
        "As in [probe], for this member.",
    ),
    key(
        Connection,
        "rtt_up",
        "duration",
        FROM_PROBE,
        "As in [probe], for this member.",
    ),
    // [firewall]
    key(
        Firewall,
        "url",
        "https URL",
        Text("required"),
        "The firewall's API, https only; /webconsole/APIController is added when the URL has no path.",
    ),
    key(Firewall, "username", "string", Text("required"), "The API account."),
    key(
        Firewall,
        "password_file",
        "path",
        Text("unset"),
        "A file holding the API password (one trailing newline is removed). Keep it mode 0600.",
    ),
    key(
        Firewall,
        "password",
        "string",
        Text("unset"),
        "The API password inline (warned: prefer password_file or the credential). With neither, the systemd \
         credential firewall.password is read: $CREDENTIALS_DIRECTORY/firewall.password, else the first of \
         /etc/credstore/, /run/credstore/, /usr/lib/credstore/ (their failoverd-NAME/ subfolder for an instance's \
         file /etc/failoverd/NAME.toml, as failoverd@NAME reads it).",
    ),
    key(
        Firewall,
        "ca_file",
        "path",
        Text("unset (the system's roots)"),
        "Check the firewall's certificate chain against this CA instead of the system's roots. At most one of ca_file, pin_sha256, insecure.",
    ),
    key(
        Firewall,
        "pin_sha256",
        "hex SHA-256",
        Text("unset"),
        "Accept exactly the certificate with this SHA-256 fingerprint (of its DER bytes; colons optional, any case), \
         the mode for the appliance's own certificate; check --online prints it.",
    ),
    key(
        Firewall,
        "insecure",
        "boolean",
        Literal("false"),
        "Accept any certificate; warned at every start. Never use it.",
    ),
    key(
        Firewall,
        "tls_name",
        "host name",
        Text("the url's host"),
        "The name checked in the certificate, with ca_file only.",
    ),
    key(
        Firewall,
        "timeout",
        "duration",
        Literal("\"10s\""),
        "How long one API request may take; at least 100ms.",
    ),
    key(
        Firewall,
        "spelling",
        "\"sfos19\" | \"sfos17\"",
        Literal("\"sfos19\""),
        "How pushes spell values: sfos19 Enable/Disable and PING/TCP; sfos17 y/n and ping/tcp.",
    ),
    key(
        Firewall,
        "api_version",
        "string",
        Text("unset (not sent)"),
        "The APIVersion attribute sent with each request, e.g. \"1905.1\".",
    ),
    key(
        Firewall,
        "push_form",
        "\"bare\" | \"full\"",
        Literal("\"bare\""),
        "\"full\" adds the GroupDetail to Active/DeActive pushes.",
    ),
    key(
        Firewall,
        "max_in_flight",
        "1..64",
        Literal("2"),
        "Requests to the firewall at once, over all groups.",
    ),
    key(
        Firewall,
        "config_retry",
        "duration",
        Literal("\"10m\""),
        "The pace of tries while the API refuses failoverd (login failed, API not allowed, 534, ...).",
    ),
    key(
        Firewall,
        "check_every",
        "duration",
        Literal("\"15m\""),
        "A read-only Get this often, to spot API problems early.",
    ),
    key(
        Firewall,
        "restart_after",
        "duration",
        Literal("\"2m\""),
        "Tunnel groups: down this long before failoverd restarts the group (the firewall's own failover goes first).",
    ),
    key(
        Firewall,
        "restart_backoff",
        "duration",
        Literal("\"5m\""),
        "Tunnel groups: the least time between two restarts.",
    ),
    key(
        Firewall,
        "flap_limit",
        "1..1000",
        Literal("3"),
        "DeActives within flap_window after which an Active waits for flap_hold.",
    ),
    key(
        Firewall,
        "flap_window",
        "duration",
        Literal("\"30m\""),
        "The window flap_limit counts in.",
    ),
    key(
        Firewall,
        "flap_hold",
        "duration",
        Literal("\"10m\""),
        "How long a flapping group must stay up before its Active.",
    ),
    key(
        Firewall,
        "reactivate_after",
        "duration",
        Literal("\"30m\""),
        "Underlay groups: Active again after this long if no member was seen up.",
    ),
    key(
        Firewall,
        "sync",
        "boolean",
        Literal("false"),
        "Keep the group definitions on the firewall in step with the files.",
    ),
    key(
        Firewall,
        "dry_run",
        "boolean",
        Literal("false"),
        "Log pushes instead of sending them (run --dry-run does the same).",
    ),
    // [guard]
    key(
        Guard,
        "anchors",
        "array of addresses or host names",
        Literal("[]"),
        "Extra targets that must answer (ICMP) before failoverd decides a DeActive; the firewall's API host is always one, unless dry_run.",
    ),
    key(
        Guard,
        "max_groups_down",
        "percentage",
        Literal("\"50%\""),
        "With 3 or more groups: more than this share going down within window is taken as failoverd's own fault.",
    ),
    key(
        Guard,
        "window",
        "duration",
        Literal("\"30s\""),
        "The window max_groups_down counts in.",
    ),
    key(
        Guard,
        "settle",
        "duration",
        Literal("\"10s\""),
        "Quiet time every anchor needs before a DeActive.",
    ),
    // [mail]
    key(
        Mail,
        "server",
        "smtp:// or smtps:// URL",
        Text("required"),
        "smtp://host[:port] requires STARTTLS (port 587); smtps://host[:port] is TLS from the start (465); \
         smtp://host[:port]?tls=none is plain (25), for a local relay, and then username is ignored. No user info in the URL.",
    ),
    key(
        Mail,
        "from",
        "mailbox",
        Text("required"),
        "The sender, e.g. \"failoverd <failoverd@example.com>\".",
    ),
    key(
        Mail,
        "to",
        "array of mailboxes",
        Text("required, not empty"),
        "The recipients.",
    ),
    key(
        Mail,
        "username",
        "string",
        Text("unset (no AUTH)"),
        "Log in to the server as this user.",
    ),
    key(
        Mail,
        "password_file",
        "path",
        Text("unset"),
        "The mail password's file; with neither password nor password_file, the credential mail.password is read.",
    ),
    key(
        Mail,
        "password",
        "string",
        Text("unset"),
        "The mail password inline (warned).",
    ),
    key(
        Mail,
        "ca_file",
        "path",
        Text("unset (the system's roots)"),
        "Check the mail server's certificate against this CA.",
    ),
    key(
        Mail,
        "timeout",
        "duration",
        Literal("\"30s\""),
        "How long one delivery may take; at least 1s.",
    ),
    key(
        Mail,
        "coalesce",
        "duration",
        Literal("\"10s\""),
        "Events of all groups within this window share one mail.",
    ),
    key(
        Mail,
        "max_per_hour",
        "1..3600",
        Literal("6"),
        "Mails per group and hour; beyond it, events fold into an hourly digest.",
    ),
    key(
        Mail,
        "spool_max",
        "1..1000000",
        Literal("1000"),
        "Mails kept in the spool; beyond it, the oldest group mails fold into one digest (daemon events are kept).",
    ),
    // [http]
    key(
        Http,
        "listen",
        "address:port",
        Text("unset (no server)"),
        "Where /, /metrics and /status are served, e.g. \"127.0.0.1:9733\"; keep it on loopback (the page has no login). Changes only at restart.",
    ),
    key(
        Http,
        "rtt_histograms",
        "boolean",
        Literal("false"),
        "Serve failoverd_rtt_seconds as a histogram, 10 buckets per check stream (about 1 KB a stream), instead of a summary \
         of only _sum and _count; average RTT and loss work either way. A reload applies it.",
    ),
    key(
        Http,
        "target_states",
        "boolean",
        Literal("false"),
        "Serve failoverd_target_up, one line per target of each member's condition (about 100 bytes a target); \
         the same states are on /status and the status page. A reload applies it.",
    ),
    // [snmp]
    key(
        Snmp,
        "address",
        "host[:port]",
        Text("the firewall url's host, port 161"),
        "The firewall's SNMP agent, e.g. \"192.0.2.1:161\". Replies must come from this address.",
    ),
    key(
        Snmp,
        "version",
        "\"3\" | \"2c\"",
        Literal("\"3\""),
        "SNMPv3 with a user, always authPriv; or v2c with a community (warned: it travels in clear text).",
    ),
    key(
        Snmp,
        "user",
        "string",
        Text("required with version 3"),
        "The SNMPv3 user set up on the firewall (1 to 32 characters).",
    ),
    key(
        Snmp,
        "auth",
        "\"sha\" | \"sha256\" | \"sha512\" | \"md5\"",
        Literal("\"sha\""),
        "The v3 user's authentication protocol, as set on the firewall; md5 is accepted and warned.",
    ),
    key(
        Snmp,
        "privacy",
        "\"aes\" | \"aes256\" | \"des\"",
        Literal("\"aes\""),
        "The v3 user's privacy (encryption) protocol: aes is AES-128; des is accepted and warned.",
    ),
    key(
        Snmp,
        "auth_password_file",
        "path",
        Text("unset (the credential snmp.auth is read)"),
        "The v3 authentication password's file (at least 8 characters); without it, the systemd credential snmp.auth is read.",
    ),
    key(
        Snmp,
        "privacy_password_file",
        "path",
        Text("unset (the credential snmp.privacy is read)"),
        "The v3 privacy password's file (at least 8 characters); without it, the systemd credential snmp.privacy is read.",
    ),
    key(
        Snmp,
        "community_file",
        "path",
        Text("unset (the credential snmp.community is read)"),
        "With version 2c: the community's file; without it, the systemd credential snmp.community is read.",
    ),
    key(
        Snmp,
        "interval",
        "duration",
        Literal("\"10s\""),
        "Time between two walks of the tunnel table; at least 1s.",
    ),
    key(
        Snmp,
        "timeout",
        "duration",
        Literal("\"2s\""),
        "How long one request of a walk may wait for its answer; not above interval.",
    ),
    key(
        Snmp,
        "verify_within",
        "duration",
        Literal("\"60s\""),
        "An accepted push the tunnel table does not show by then is reported \"not honoured\" (never re-sent); at least interval.",
    ),
    key(
        Snmp,
        "disagree_after",
        "duration",
        Literal("\"2m\""),
        "Firewall and failoverd disagree about the carrying member this long: one event, and one when they agree again; at least interval.",
    ),
    // [[hooks]]
    key(
        Hooks,
        "command",
        "array of strings",
        Text("required in [[hooks]]"),
        "The program (an absolute path to an executable file) and its arguments, e.g. [\"/usr/local/bin/notify\", \"--x\"]; \
         run without a shell, with cwd / and a clean environment.",
    ),
    key(
        Hooks,
        "events",
        "array of event kinds",
        Text("unset (every event)"),
        "The kinds it runs for, as the journal's EVENT field names them, e.g. [\"GroupDown\", \"GroupUp\"].",
    ),
    key(
        Hooks,
        "timeout",
        "duration",
        Literal("\"10s\""),
        "How long one run may take; then its whole process group is killed. At least 100ms.",
    ),
    key(
        Hooks,
        "name",
        "string",
        Text("the program's file name"),
        "For logs and the hook label on /metrics; distinct among hooks.",
    ),
    // [ha]
    key(
        Ha,
        "address",
        "IP address",
        Text("required in [ha]"),
        "The VRRP virtual address keepalived moves between the pair, e.g. \"198.51.100.50\". This host is active \
         while the address is assigned to one of its interfaces, standby otherwise.",
    ),
    key(
        Ha,
        "peer",
        "http:// or https:// URL",
        Text("required in [ha]"),
        "The other host's /status, e.g. \"http://198.51.100.12:9733/status\" (/status added if no path): its holds \
         are honoured here. Name the other host's own address, never the virtual one.",
    ),
];

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);
const WEEK: Duration = Duration::from_secs(7 * 86_400);

/// The longest value of every duration key (docs/settings.md, "Bounds of
/// durations", says why each). None is above [`MAX_DURATION`]; probe
/// timings are far lower. The reader rejects a longer value with this
/// bound in the message, and the man page prints it beside the key.
pub const DURATION_MAX: &[(Section, &str, Duration)] = &[
    (Probe, "interval", HOUR),
    (Probe, "timeout", MINUTE),
    (Probe, "rtt_down", MINUTE),
    (Probe, "rtt_up", MINUTE),
    (Probe, "resolve_every", DAY),
    (Probe, "dns_stale", WEEK),
    (Connection, "interval", HOUR),
    (Connection, "timeout", MINUTE),
    (Connection, "rtt_down", MINUTE),
    (Connection, "rtt_up", MINUTE),
    (Firewall, "timeout", Duration::from_secs(300)),
    (Firewall, "config_retry", DAY),
    (Firewall, "check_every", DAY),
    (Firewall, "restart_after", DAY),
    (Firewall, "restart_backoff", DAY),
    (Firewall, "flap_window", WEEK),
    (Firewall, "flap_hold", DAY),
    (Firewall, "reactivate_after", WEEK),
    (Guard, "window", HOUR),
    (Guard, "settle", HOUR),
    (Mail, "timeout", Duration::from_secs(600)),
    (Mail, "coalesce", HOUR),
    (Snmp, "interval", HOUR),
    (Snmp, "timeout", MINUTE),
    (Snmp, "verify_within", DAY),
    (Snmp, "disagree_after", DAY),
    (Hooks, "timeout", Duration::from_secs(600)),
];

/// The longest value `name` in `section` accepts; [`MAX_DURATION`] for a
/// key missing from [`DURATION_MAX`] (a test keeps none missing).
pub fn duration_max(section: Section, name: &str) -> Duration {
    DURATION_MAX
        .iter()
        .find(|(s, n, _)| *s == section && *n == name)
        .map_or(MAX_DURATION, |(_, _, max)| *max)
}

/// `at most 1h` for a duration key (the man page prints it beside the
/// kind), `None` for other keys.
pub fn bound_text(k: &Key) -> Option<String> {
    (k.kind == "duration").then(|| {
        format!(
            "at most {}",
            humantime::format_duration(duration_max(k.section, k.name))
        )
    })
}

/// The section of a table read at the dotted `path` (`""`, `"probe"`,
/// `"connections.NAME"`, ...).
pub fn section_of(path: &str) -> Section {
    // `hooks[2]` is a table of `[[hooks]]`.
    let first = path.split(['.', '[']).next().unwrap_or_default();
    Section::ALL
        .into_iter()
        .find(|s| s.top_key() == Some(first))
        .unwrap_or(Top)
}

/// The key names of one section, for the reader's unknown-key check. The
/// top level also accepts the tables.
pub fn names(section: Section) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = KEYS.iter().filter(|k| k.section == section).map(|k| k.name).collect();
    if section == Section::Top {
        v.extend(Section::ALL.iter().filter_map(|s| s.top_key()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::{Diagnostics, Source};
    use crate::config::settings::Settings;
    use std::path::Path;

    const BASE: &[(Section, &str)] = &[
        (Top, "groups = [\"g.xml\"]\n"),
        (Probe, "[probe]\n"),
        (Connection, "[connections.A]\ntargets = [\"127.0.0.1\"]\n"),
        (
            Firewall,
            "[firewall]\nurl = \"https://127.0.0.1:4444\"\nusername = \"u\"\n",
        ),
        (Guard, "[guard]\n"),
        (
            Mail,
            "[mail]\nserver = \"smtp://127.0.0.1\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]\n",
        ),
        (Http, "[http]\n"),
        (
            Ha,
            "[ha]\naddress = \"198.51.100.50\"\npeer = \"http://198.51.100.12:9733/status\"\n",
        ),
        (Snmp, "[snmp]\nuser = \"u\"\n"),
        (Hooks, "[[hooks]]\ncommand = [\"/bin/true\"]\n"),
    ];

    /// A settings file with `extra` appended to `section`'s table.
    fn text(section: Section, extra: &str) -> String {
        with_key(section, "", extra)
    }

    /// A settings file where `key`'s line in `section`'s table, if any, is
    /// replaced by `extra`.
    fn with_key(section: Section, key: &str, extra: &str) -> String {
        let lead = format!("{key} =");
        BASE.iter()
            .map(|(s, t)| {
                if *s != section {
                    return t.to_string();
                }
                let kept: String = t
                    .lines()
                    .filter(|l| key.is_empty() || !l.starts_with(&lead))
                    .map(|l| format!("{l}\n"))
                    .collect();
                format!("{kept}{extra}\n")
            })
            .collect()
    }

    fn read(text: &str) -> (Option<Settings>, Diagnostics) {
        let src = Source::new(Path::new("/nonexistent/failoverd.toml"), text);
        let mut d = Diagnostics::default();
        let s = crate::config::read_settings(&src, &mut d);
        (s, d)
    }

    fn normalized(mut s: Settings) -> Settings {
        for c in s.connections.values_mut() {
            c.pos = 0;
        }
        s
    }

    #[test]
    fn every_literal_default_is_the_readers_default() {
        let (plain, _) = read(&text(Top, ""));
        let plain = normalized(plain.expect("the base text is TOML"));
        let mut checked = 0;
        for k in KEYS {
            let Literal(v) = k.default else { continue };
            // window only applies with a quality rule: give both texts one.
            let rule = if k.name == "window" {
                "loss_down = \"40%\"\nloss_up = \"10%\"\n"
            } else {
                ""
            };
            let (without, _) = read(&text(k.section, rule));
            let (with, d) = read(&text(k.section, &format!("{rule}{} = {v}", k.name)));
            let with = normalized(with.expect("TOML"));
            let without = normalized(without.expect("TOML"));
            assert!(
                d.errors().all(|e| !e.path.ends_with(k.name)),
                "{} {} = {v}: {:?}",
                k.section.header(),
                k.name,
                d.sorted()
            );
            assert_eq!(
                with,
                without,
                "{} {}: documented default {v} is not the reader's",
                k.section.header(),
                k.name
            );
            if rule.is_empty() {
                assert_eq!(with, plain);
            }
            checked += 1;
        }
        assert!(checked >= 25, "only {checked} literal defaults checked");
    }

    #[test]
    fn every_listed_key_is_read() {
        // A table is the wrong type for every key: the reader must say so
        // at the key's path, which only happens if it reads the key.
        for k in KEYS {
            let (_, d) = read(&with_key(k.section, k.name, &format!("{} = {{ x = 1 }}", k.name)));
            let hits: Vec<_> = d.sorted().into_iter().filter(|x| x.path.ends_with(k.name)).collect();
            assert!(
                !hits.is_empty(),
                "{} {}: the reader never looked at it",
                k.section.header(),
                k.name
            );
            assert!(
                hits.iter().all(|x| !x.message.starts_with("unknown key")),
                "{} {}: listed but rejected as unknown",
                k.section.header(),
                k.name
            );
        }
    }

    #[test]
    fn an_unlisted_key_is_unknown_in_every_section() {
        for s in Section::ALL {
            let (_, d) = read(&text(s, "no_such_key = 1"));
            assert!(
                d.errors()
                    .any(|e| e.path.ends_with("no_such_key") && e.message.starts_with("unknown key")),
                "{}: {:?}",
                s.header(),
                d.sorted()
            );
        }
    }

    #[test]
    fn every_duration_key_has_a_bound_of_at_most_a_year() {
        for k in KEYS.iter().filter(|k| k.kind == "duration") {
            assert!(
                DURATION_MAX.iter().any(|(s, n, _)| *s == k.section && *n == k.name),
                "{} {}: no bound in DURATION_MAX",
                k.section.header(),
                k.name
            );
        }
        for (s, n, max) in DURATION_MAX {
            assert!(
                KEYS.iter()
                    .any(|k| k.section == *s && k.name == *n && k.kind == "duration"),
                "{} {n}: bounded but not a duration key",
                s.header()
            );
            assert!(*max <= MAX_DURATION, "{n}");
        }
    }

    #[test]
    fn sections_are_found_from_table_paths() {
        assert_eq!(section_of(""), Top);
        assert_eq!(section_of("probe"), Probe);
        assert_eq!(section_of("connections.A.B"), Connection);
        assert_eq!(section_of("snmp"), Snmp);
        assert_eq!(section_of("hooks[3]"), Hooks);
    }

    #[test]
    fn names_are_unique_and_documented() {
        for (i, a) in KEYS.iter().enumerate() {
            assert!(!a.doc.is_empty() && !a.kind.is_empty(), "{}", a.name);
            for b in &KEYS[i + 1..] {
                assert!(a.section != b.section || a.name != b.name, "{} twice", a.name);
            }
        }
    }
}
