//! What `/status` serves and `failoverd status` reads: one typed view of
//! the daemon, serialised as JSON by the daemon and parsed back by the
//! command (docs/daemon.md). Times are Unix seconds; states are words.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub groups: Vec<Group>,
    pub guard_tripped: bool,
    /// Why the client is paused (the API refuses us), if it is.
    pub api_paused: Option<String>,
    pub problems: Vec<String>,
    /// The firewall's API URL.
    pub firewall: String,
    /// The pair (`[ha]`); absent on a host without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ha: Option<Pair>,
    /// With `[ha]`: this host's role and since when ("active since ...").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ha_role: Option<String>,
    /// With `[snmp]`: how reading the tunnel table goes.
    #[serde(default)]
    pub snmp: Option<Snmp>,
    /// The firewall API's health, from the periodic Get and every push's
    /// answer.
    #[serde(default)]
    pub api: Api,
    /// Why the last periodic Get's definitions could not be compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definitions_problem: Option<String>,
}

/// The firewall API's health (docs/firewall-api.md, "API health").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Api {
    /// "usable", "unusable" or "unknown" (no answer yet).
    pub state: String,
    /// When an answer last got through (Unix seconds).
    pub last_success: Option<u64>,
    /// Why the last answer did not get through, while it did not.
    pub problem: Option<String>,
}

/// This host's place in an active/standby pair (docs/ha.md).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    /// "active" or "standby".
    pub role: String,
    /// Since when (Unix seconds; none before the first role was seen).
    pub since: Option<u64>,
    /// The virtual address watched.
    pub address: String,
    /// The other host's status URL.
    pub peer: String,
    /// Why the peer's holds cannot be read, while they cannot.
    pub peer_error: Option<String>,
    /// The peer's holds in force (this host's own are `groups[].hold`);
    /// the rules use the later-ending of the two.
    pub peer_holds: Vec<PeerHold>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerHold {
    pub group: String,
    pub until: u64,
    pub reason: String,
}

/// The walks of the firewall's tunnel table (`[snmp]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snmp {
    /// Whether the last walk read the table.
    pub usable: bool,
    /// When the table was last read.
    pub last_read: Option<u64>,
    /// Why the last walk failed, with the fix.
    pub error: Option<String>,
}

/// A group as the firewall's tunnel table shows it (`[snmp]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FirewallGroup {
    /// The member the firewall carries the group on, "no member", or
    /// "unknown" (the table could not be read).
    pub carrying: String,
    /// Firewall and failoverd disagree (reported after `disagree_after`).
    pub disagrees: bool,
    /// The last accepted push the table has not shown yet, if its
    /// `verify_within` is over ("not honoured").
    pub not_honoured: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    /// "tunnel", "underlay", "underlay (identical members)", "intent Active".
    pub kind: String,
    /// "up", "down", "unknown".
    pub state: String,
    pub since: Option<u64>,
    pub expected_active: Option<String>,
    /// With `[snmp]`: the member whose connection the firewall's tunnel
    /// table shows active (docs/firewall-api.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrying: Option<String>,
    pub armed: bool,
    pub members: Vec<Member>,
    /// What failoverd believes the firewall has: "Active", "DeActive", "Unknown".
    pub belief: String,
    pub last_set_by_failoverd: Option<u64>,
    pub last_push: Option<LastPush>,
    pub refused: bool,
    pub hold: Option<Hold>,
    /// The push ("Active", "DeActive") failoverd wants and a hold (this
    /// host's or the peer's) withholds, while it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
    pub flap_damping: Option<FlapDamping>,
    /// With `[snmp]`: the firewall's own view of the group.
    #[serde(default)]
    pub firewall: Option<FirewallGroup>,
    /// Its definition on the firewall against its file, at the last
    /// periodic Get that compared them: "in step", "missing on the
    /// firewall", "differs: ..." (docs/definitions.md); absent before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub state: String,
    pub targets: Vec<Target>,
    /// With `[snmp]`: its connection in the tunnel table ("active,
    /// activated, read 3s ago", "not in the tunnel table", "unknown: ...").
    #[serde(default)]
    pub firewall: Option<String>,
    /// Why a member failoverd sees down may look fine on the firewall.
    #[serde(default)]
    pub firewall_note: Option<String>,
    /// An unknown member passed over when the expected active member is
    /// chosen, and why ("no verdict within 4s ...").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed_over: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// "PING", "TCP/443".
    pub condition: String,
    pub target: String,
    pub state: String,
    /// Why it is in its state, with figures.
    pub reason: String,
    pub last: Option<Check>,
}

/// A target's last check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// "good", "failed" or "error" (could not be made here).
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LastPush {
    /// "Active" or "DeActive".
    pub push: String,
    /// The answer's class and text.
    pub answer: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    pub until: u64,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FlapDamping {
    pub deactives: u32,
    /// How long the group must stay up ("4m 16s").
    pub hold: String,
    pub active_in: String,
    pub active_in_secs: u64,
}
