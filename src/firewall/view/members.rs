//! From the tunnel table's rows to each member's *firewall view* and each
//! group's *carrying member* (docs/health.md, "The firewall's own view").
//! Pure: the rows and the time they were read are passed in.

use std::fmt;

use tokio::time::Instant;

use super::table::{Row, TunnelStatus};

/// A group and its members (`<Connection>` names), in the group's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMembers {
    pub name: String,
    pub members: Vec<String>,
}

impl GroupMembers {
    /// The groups of a validated configuration.
    pub fn of_plan(groups: &[crate::config::Group]) -> Vec<GroupMembers> {
        groups
            .iter()
            .map(|g| GroupMembers {
                name: g.def.name.to_string(),
                members: g.def.members.iter().map(|m| m.name.to_string()).collect(),
            })
            .collect()
    }
}

/// What the firewall's table says about one member connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberView {
    /// Its row, as last read.
    Seen {
        status: TunnelStatus,
        activated: bool,
        read_at: Instant,
    },
    /// The table was read and has no row of that name.
    NotInTable { read_at: Instant },
    /// The table could not be read; `reason` says why.
    Unknown { reason: String },
}

impl MemberView {
    /// Whether this member's connection carries traffic (active or
    /// partially active).
    pub fn carries(&self) -> bool {
        matches!(self, MemberView::Seen { status, .. } if status.carries())
    }

    pub fn activated(&self) -> bool {
        matches!(self, MemberView::Seen { activated: true, .. })
    }

    /// Its connection is active in the table (the tunnel is established).
    pub fn established(&self) -> bool {
        matches!(
            self,
            MemberView::Seen {
                status: TunnelStatus::Active,
                ..
            }
        )
    }
}

impl fmt::Display for MemberView {
    /// `active, activated`, `inactive, not activated`, `not in the tunnel
    /// table`, `unknown: REASON`. The read time is the caller's to show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemberView::Seen { status, activated, .. } => {
                write!(
                    f,
                    "{status}, {}",
                    if *activated { "activated" } else { "not activated" }
                )
            }
            MemberView::NotInTable { .. } => f.write_str("not in the tunnel table"),
            MemberView::Unknown { reason } => write!(f, "unknown: {reason}"),
        }
    }
}

/// Which member the firewall carries a group on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Carrying {
    /// The first member, in the group's order, whose connection is active
    /// or partially active.
    Member(String),
    /// The table was read and no member's connection is active.
    Nobody,
    /// The table could not be read.
    Unknown,
}

impl fmt::Display for Carrying {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Carrying::Member(m) => f.write_str(m),
            Carrying::Nobody => f.write_str("no member"),
            Carrying::Unknown => f.write_str("unknown"),
        }
    }
}

/// One group as the firewall shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupView {
    pub group: String,
    /// Every member, in the group's order.
    pub members: Vec<(String, MemberView)>,
    pub carrying: Carrying,
}

impl GroupView {
    pub fn member(&self, name: &str) -> Option<&MemberView> {
        self.members.iter().find(|(m, _)| m == name).map(|(_, v)| v)
    }
}

/// Each group's view from one walk's rows. Names match exactly. Rows no
/// group names are ignored. Should two rows carry one name, the member
/// takes the most active status and counts as activated if either is.
pub fn group_views(rows: &[Row], groups: &[GroupMembers], read_at: Instant) -> Vec<GroupView> {
    use std::collections::HashMap;
    let mut by_name: HashMap<&str, (TunnelStatus, bool)> = HashMap::with_capacity(rows.len());
    for r in rows {
        by_name
            .entry(r.name.as_str())
            .and_modify(|(s, a)| {
                *s = (*s).max(r.status);
                *a |= r.activated;
            })
            .or_insert((r.status, r.activated));
    }
    groups
        .iter()
        .map(|g| {
            let members: Vec<(String, MemberView)> = g
                .members
                .iter()
                .map(|m| {
                    let v = match by_name.get(m.as_str()) {
                        Some(&(status, activated)) => MemberView::Seen {
                            status,
                            activated,
                            read_at,
                        },
                        None => MemberView::NotInTable { read_at },
                    };
                    (m.clone(), v)
                })
                .collect();
            let carrying = members
                .iter()
                .find(|(_, v)| v.carries())
                .map_or(Carrying::Nobody, |(m, _)| Carrying::Member(m.clone()));
            GroupView {
                group: g.name.clone(),
                members,
                carrying,
            }
        })
        .collect()
}

/// Each group's view while the table cannot be read.
pub fn unknown_views(groups: &[GroupMembers], reason: &str) -> Vec<GroupView> {
    groups
        .iter()
        .map(|g| GroupView {
            group: g.name.clone(),
            members: g
                .members
                .iter()
                .map(|m| {
                    (
                        m.clone(),
                        MemberView::Unknown {
                            reason: reason.to_owned(),
                        },
                    )
                })
                .collect(),
            carrying: Carrying::Unknown,
        })
        .collect()
}

/// The reason text for a member failoverd sees down while the firewall
/// shows its tunnel established (docs/health.md).
pub const ESTABLISHED_BUT_FAILING: &str = "the firewall shows the tunnel established, but traffic through it fails";

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: u32, name: &str, status: TunnelStatus, activated: bool) -> Row {
        Row {
            index: vec![i],
            name: name.into(),
            status,
            activated,
        }
    }

    fn hq() -> Vec<GroupMembers> {
        vec![GroupMembers {
            name: "HQ_VPN".into(),
            members: vec!["HQ_Primary".into(), "HQ_Backup".into(), "HQ_Third".into()],
        }]
    }

    use TunnelStatus::*;

    #[test]
    fn carrying_member_and_member_views() {
        let t = Instant::now();
        let cases: Vec<(Vec<Row>, Carrying, [&str; 3])> = vec![
            (
                vec![row(1, "HQ_Primary", Active, true), row(2, "HQ_Backup", Inactive, false)],
                Carrying::Member("HQ_Primary".into()),
                [
                    "active, activated",
                    "inactive, not activated",
                    "not in the tunnel table",
                ],
            ),
            (
                vec![
                    row(1, "HQ_Primary", Inactive, true),
                    row(2, "HQ_Backup", PartiallyActive, true),
                ],
                Carrying::Member("HQ_Backup".into()),
                [
                    "inactive, activated",
                    "partially active, activated",
                    "not in the tunnel table",
                ],
            ),
            (
                // Activated but inactive, as a real appliance's walk shows.
                vec![
                    row(1, "HQ_Primary", Inactive, true),
                    row(2, "HQ_Backup", Inactive, false),
                ],
                Carrying::Nobody,
                [
                    "inactive, activated",
                    "inactive, not activated",
                    "not in the tunnel table",
                ],
            ),
            (
                // Rows no group uses, and names that differ only in case.
                vec![row(1, "hq_primary", Active, true), row(9, "Branch", Active, true)],
                Carrying::Nobody,
                [
                    "not in the tunnel table",
                    "not in the tunnel table",
                    "not in the tunnel table",
                ],
            ),
            (
                // Two members carry: the first in the group's order.
                vec![row(3, "HQ_Third", Active, true), row(2, "HQ_Backup", Active, true)],
                Carrying::Member("HQ_Backup".into()),
                ["not in the tunnel table", "active, activated", "active, activated"],
            ),
            (
                // One name on two rows: the most active, activated if either.
                vec![
                    row(1, "HQ_Primary", Inactive, true),
                    row(4, "HQ_Primary", PartiallyActive, false),
                ],
                Carrying::Member("HQ_Primary".into()),
                [
                    "partially active, activated",
                    "not in the tunnel table",
                    "not in the tunnel table",
                ],
            ),
        ];
        for (rows, carrying, texts) in cases {
            let v = group_views(&rows, &hq(), t);
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].carrying, carrying, "{rows:?}");
            let got: Vec<String> = v[0].members.iter().map(|(_, m)| m.to_string()).collect();
            assert_eq!(got, texts, "{rows:?}");
        }
    }

    #[test]
    fn unknown_names_the_reason_everywhere() {
        let v = unknown_views(&hq(), "no SNMP answer");
        assert_eq!(v[0].carrying, Carrying::Unknown);
        assert!(
            v[0].members
                .iter()
                .all(|(_, m)| m.to_string() == "unknown: no SNMP answer")
        );
    }
}
