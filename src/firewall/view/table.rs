//! The firewall's tunnel table (SOPHOS-XG-MIB `sfosIPSecVpnTunnelTable`,
//! docs/firewall-api.md, "The tunnel table over SNMP"): its rows, and the
//! errors a walk can end in, each naming the cause and the fix.
//!
//! [`assemble`] is pure: it turns the three walked columns into rows, or
//! says what is wrong with them. The network part is in `super::walk`.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// `sfosIPSecVpnTunnelEntry`: the table's rows sit below this.
pub const ENTRY: [u32; 14] = [1, 3, 6, 1, 4, 1, 2604, 5, 1, 6, 1, 1, 1, 1];
/// `sfosIPSecVpnConnName`.
pub const COL_NAME: u32 = 2;
/// `sfosIPSecVpnConnStatus`: inactive(0), active(1), partially-active(2).
pub const COL_STATUS: u32 = 9;
/// `sfosIPSecVpnActivated`: inactive(0), active(1).
pub const COL_ACTIVATED: u32 = 10;
/// The columns one walk reads, in the order [`assemble`] takes them.
pub const COLUMNS: [u32; 3] = [COL_NAME, COL_STATUS, COL_ACTIVATED];

/// A connection's state in the tunnel table (`sfosIPSecVpnConnStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelStatus {
    Inactive,
    /// Some of the connection's tunnels are up, not all.
    PartiallyActive,
    Active,
}

impl TunnelStatus {
    /// Whether the connection carries traffic (active or partially active).
    pub fn carries(self) -> bool {
        self != TunnelStatus::Inactive
    }
}

impl fmt::Display for TunnelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TunnelStatus::Inactive => "inactive",
            TunnelStatus::PartiallyActive => "partially active",
            TunnelStatus::Active => "active",
        })
    }
}

/// One row of the tunnel table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The row's index (`sfosIPSecVpnConnId`), as the OID suffix.
    pub index: Vec<u32>,
    /// The connection's name: what `<Connection>` names.
    pub name: String,
    pub status: TunnelStatus,
    /// `sfosIPSecVpnActivated`: the connection is switched on.
    pub activated: bool,
}

/// One walked value, freed of the SNMP library's types so that
/// [`assemble`] is pure and testable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Integer(i64),
    Text(Vec<u8>),
    /// Any other type, by its SNMP name (`counter32`, `null`, ...).
    Other(&'static str),
}

/// One walked column: (index suffix, value), in walk order.
pub type Column = Vec<(Vec<u32>, Cell)>;

/// Why a walk gave no table. Every message says what happened and what an
/// admin does about it; none carries a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalkError {
    /// The host name in `address` did not resolve.
    Resolve { host: String, reason: String },
    /// A secret (community or v3 password) could not be read at start.
    Secret { what: &'static str, source: String },
    /// No answer within `timeout`.
    Timeout { address: SocketAddr, after: Duration },
    /// Answers came, but from another address than `address`; they were
    /// dropped (an agent's identity is its address).
    OtherAddress { address: SocketAddr },
    /// The agent does not know the v3 user.
    UnknownUser { address: SocketAddr, user: String },
    /// The v3 authentication password or protocol does not match.
    Authentication { address: SocketAddr },
    /// The v3 privacy password or protocol does not match.
    Privacy { address: SocketAddr },
    /// The v3 user exists but not for authPriv.
    SecurityLevel { address: SocketAddr, user: String },
    /// The agent refused the table (view-based access control).
    NoAccess { address: SocketAddr, detail: String },
    /// Firmware before SFOS 20: names but no status column.
    NoStatusColumn { address: SocketAddr },
    /// A value of the wrong SNMP type, or out of its range.
    BadValue {
        column: u32,
        index: Vec<u32>,
        found: String,
    },
    /// The columns disagree about which rows exist: the table changed, or
    /// vanished, while it was read.
    Changed { detail: String },
    /// A reply that could not be decoded.
    Malformed { address: SocketAddr, detail: String },
    /// The network refused (no route, port unreachable, ...).
    Network { address: SocketAddr, detail: String },
    /// The whole walk took longer than `interval`.
    TooSlow { address: SocketAddr, after: Duration },
    /// Anything else the SNMP library reported.
    Other { address: SocketAddr, detail: String },
}

fn index_text(index: &[u32]) -> String {
    index.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

fn column_name(column: u32) -> &'static str {
    match column {
        COL_NAME => "sfosIPSecVpnConnName (.2)",
        COL_STATUS => "sfosIPSecVpnConnStatus (.9)",
        COL_ACTIVATED => "sfosIPSecVpnActivated (.10)",
        _ => "an unread column",
    }
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use WalkError::*;
        match self {
            Resolve { host, reason } => write!(
                f,
                "cannot resolve the SNMP address {host}: {reason}; fix [snmp] address or the resolver"
            ),
            Secret { what, source } => write!(
                f,
                "the SNMP {what} could not be read ({source}); fix [snmp] in the settings or install the credential"
            ),
            Timeout { address, after } => write!(
                f,
                "no SNMP answer from {address} within {}: check that SNMP is enabled on the firewall for the zone failoverd reaches it from, \
                 that this host is an allowed manager, the community (v2c) or the v3 user, and that nothing drops UDP port {} on the way",
                humantime::format_duration(Duration::from_millis(after.as_millis() as u64)),
                address.port()
            ),
            OtherAddress { address } => write!(
                f,
                "SNMP answers to {address} came from another address and were dropped: set [snmp] address to the address the firewall answers from"
            ),
            UnknownUser { address, user } => write!(
                f,
                "the SNMP agent at {address} does not know the user {user:?}: create the SNMPv3 user on the firewall or fix [snmp] user"
            ),
            Authentication { address } => write!(
                f,
                "SNMPv3 authentication failed at {address}: the authentication password or protocol ([snmp] auth) does not match the user on the firewall"
            ),
            Privacy { address } => write!(
                f,
                "SNMPv3 privacy (decryption) failed at {address}: the privacy password or protocol ([snmp] privacy) does not match the user on the firewall"
            ),
            SecurityLevel { address, user } => write!(
                f,
                "the SNMP agent at {address} does not accept authPriv for user {user:?}: give the user both authentication and encryption on the firewall"
            ),
            NoAccess { address, detail } => write!(
                f,
                "the SNMP agent at {address} refused to read the tunnel table ({detail}): allow the user or community to read SOPHOS-XG-MIB"
            ),
            NoStatusColumn { address } => write!(
                f,
                "the tunnel table at {address} has connection names but no status column (no such object): firmware before SFOS 20 does not have it; \
                 upgrade the firewall to SFOS 20 or later, or remove [snmp]"
            ),
            BadValue { column, index, found } => write!(
                f,
                "the tunnel table's {} of row {} is {found}: the agent does not answer as SOPHOS-XG-MIB says; the walk was ignored",
                column_name(*column),
                index_text(index)
            ),
            Changed { detail } => write!(
                f,
                "the tunnel table changed while it was read ({detail}); the walk was ignored and the next one reads it again"
            ),
            Malformed { address, detail } => write!(
                f,
                "an SNMP reply from {address} could not be read ({detail}); the walk was ignored"
            ),
            Network { address, detail } => write!(
                f,
                "cannot reach the SNMP agent at {address} ({detail}): check the route and that SNMP is enabled on the firewall"
            ),
            TooSlow { address, after } => write!(
                f,
                "the walk of the tunnel table at {address} took over {}: lengthen [snmp] interval, or check the firewall's load",
                humantime::format_duration(*after)
            ),
            Other { address, detail } => write!(f, "reading the tunnel table at {address} failed: {detail}"),
        }
    }
}

impl std::error::Error for WalkError {}

impl WalkError {
    /// A short stable word for the cause, for metrics and status.
    pub fn cause(&self) -> &'static str {
        use WalkError::*;
        match self {
            Resolve { .. } => "resolve",
            Secret { .. } => "secret",
            Timeout { .. } => "timeout",
            OtherAddress { .. } => "other_address",
            UnknownUser { .. } => "unknown_user",
            Authentication { .. } => "authentication",
            Privacy { .. } => "privacy",
            SecurityLevel { .. } => "security_level",
            NoAccess { .. } => "no_access",
            NoStatusColumn { .. } => "no_such_object",
            BadValue { .. } => "bad_value",
            Changed { .. } => "changed",
            Malformed { .. } => "malformed",
            Network { .. } => "network",
            TooSlow { .. } => "too_slow",
            Other { .. } => "other",
        }
    }
}

/// The largest connection name kept, in bytes; longer ones are a bad value.
pub const MAX_NAME: usize = 255;

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Integer(i) => format!("the integer {i}"),
        Cell::Text(b) => format!("a string of {} bytes", b.len()),
        Cell::Other(kind) => format!("of type {kind}"),
    }
}

/// Turns the three walked columns (names, status, activated) into rows.
///
/// Every row must have all three values; a row in one column and not in
/// another means the table changed while it was read. Names must be UTF-8
/// strings, status 0, 1 or 2, activated 0 or 1 (docs/firewall-api.md).
/// Rows come out in the table's order.
pub fn assemble(names: &Column, status: &Column, activated: &Column) -> Result<Vec<Row>, WalkError> {
    use std::collections::HashMap;
    let lookup = |col: &Column| -> HashMap<Vec<u32>, Cell> { col.iter().cloned().collect() };
    let (st, ac) = (lookup(status), lookup(activated));
    if st.len() != status.len() || ac.len() != activated.len() || lookup(names).len() != names.len() {
        return Err(WalkError::Changed {
            detail: "a row was read twice".into(),
        });
    }
    let mut rows = Vec::with_capacity(names.len());
    for (index, cell) in names {
        let name = match cell {
            Cell::Text(b) if b.len() <= MAX_NAME => match std::str::from_utf8(b) {
                Ok(s) if !s.chars().any(char::is_control) => s.to_owned(),
                _ => {
                    return Err(WalkError::BadValue {
                        column: COL_NAME,
                        index: index.clone(),
                        found: "a string that is not plain UTF-8 text".into(),
                    });
                }
            },
            Cell::Text(b) => {
                return Err(WalkError::BadValue {
                    column: COL_NAME,
                    index: index.clone(),
                    found: format!("a string of {} bytes (at most {MAX_NAME} expected)", b.len()),
                });
            }
            other => {
                return Err(WalkError::BadValue {
                    column: COL_NAME,
                    index: index.clone(),
                    found: format!("{}, not a string", cell_text(other)),
                });
            }
        };
        let missing = |col: u32| WalkError::Changed {
            detail: format!(
                "row {} ({name:?}) has a name but no {}",
                index_text(index),
                column_name(col)
            ),
        };
        let status = match st.get(index).ok_or_else(|| missing(COL_STATUS))? {
            Cell::Integer(0) => TunnelStatus::Inactive,
            Cell::Integer(1) => TunnelStatus::Active,
            Cell::Integer(2) => TunnelStatus::PartiallyActive,
            other => {
                return Err(WalkError::BadValue {
                    column: COL_STATUS,
                    index: index.clone(),
                    found: format!(
                        "{}, not inactive(0), active(1) or partially-active(2)",
                        cell_text(other)
                    ),
                });
            }
        };
        let activated = match ac.get(index).ok_or_else(|| missing(COL_ACTIVATED))? {
            Cell::Integer(0) => false,
            Cell::Integer(1) => true,
            other => {
                return Err(WalkError::BadValue {
                    column: COL_ACTIVATED,
                    index: index.clone(),
                    found: format!("{}, not inactive(0) or active(1)", cell_text(other)),
                });
            }
        };
        rows.push(Row {
            index: index.clone(),
            name,
            status,
            activated,
        });
    }
    if st.len() > rows.len() || ac.len() > rows.len() {
        return Err(WalkError::Changed {
            detail: format!(
                "{} names but {} status and {} activated values",
                rows.len(),
                st.len(),
                ac.len()
            ),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(cells: &[(u32, Cell)]) -> Column {
        cells.iter().map(|(i, c)| (vec![*i], c.clone())).collect()
    }

    fn text(s: &str) -> Cell {
        Cell::Text(s.as_bytes().to_vec())
    }

    #[test]
    fn three_columns_make_rows_in_table_order() {
        let names = col(&[(1, text("HQ_Primary")), (2, text("HQ_Backup")), (7, text("Other"))]);
        let status = col(&[(1, Cell::Integer(1)), (2, Cell::Integer(0)), (7, Cell::Integer(2))]);
        let act = col(&[(1, Cell::Integer(1)), (2, Cell::Integer(1)), (7, Cell::Integer(0))]);
        let rows = assemble(&names, &status, &act).unwrap();
        let got: Vec<_> = rows.iter().map(|r| (r.name.as_str(), r.status, r.activated)).collect();
        assert_eq!(
            got,
            [
                ("HQ_Primary", TunnelStatus::Active, true),
                ("HQ_Backup", TunnelStatus::Inactive, true),
                ("Other", TunnelStatus::PartiallyActive, false),
            ]
        );
        assert_eq!(rows[2].index, [7]);
        assert_eq!(assemble(&vec![], &vec![], &vec![]), Ok(vec![]));
    }

    #[test]
    fn wrong_types_and_ranges_name_column_and_row() {
        let names = col(&[(3, text("A"))]);
        let one = col(&[(3, Cell::Integer(1))]);
        let cases: Vec<(Column, Column, Column, u32, &str)> = vec![
            (
                col(&[(3, Cell::Integer(5))]),
                one.clone(),
                one.clone(),
                COL_NAME,
                "not a string",
            ),
            (
                col(&[(3, Cell::Text(vec![0xff, 0xfe]))]),
                one.clone(),
                one.clone(),
                COL_NAME,
                "UTF-8",
            ),
            (col(&[(3, text("a\nb"))]), one.clone(), one.clone(), COL_NAME, "UTF-8"),
            (
                col(&[(3, Cell::Text(vec![b'a'; 256]))]),
                one.clone(),
                one.clone(),
                COL_NAME,
                "256 bytes",
            ),
            (
                names.clone(),
                col(&[(3, Cell::Integer(3))]),
                one.clone(),
                COL_STATUS,
                "integer 3",
            ),
            (
                names.clone(),
                col(&[(3, text("up"))]),
                one.clone(),
                COL_STATUS,
                "string of 2",
            ),
            (
                names.clone(),
                col(&[(3, Cell::Other("counter32"))]),
                one.clone(),
                COL_STATUS,
                "counter32",
            ),
            (
                names.clone(),
                one.clone(),
                col(&[(3, Cell::Integer(-1))]),
                COL_ACTIVATED,
                "integer -1",
            ),
            (
                names.clone(),
                one.clone(),
                col(&[(3, Cell::Other("null"))]),
                COL_ACTIVATED,
                "null",
            ),
        ];
        for (n, s, a, column, word) in cases {
            let e = assemble(&n, &s, &a).unwrap_err();
            assert!(
                matches!(&e, WalkError::BadValue { column: c, index, .. } if *c == column && index == &[3]),
                "{e:?}"
            );
            let text = e.to_string();
            assert!(text.contains(word) && text.contains("row 3"), "{text}");
        }
    }

    #[test]
    fn columns_that_disagree_are_a_changed_table() {
        let names = col(&[(1, text("A")), (2, text("B"))]);
        let one = |i: &[u32]| -> Column { i.iter().map(|i| (vec![*i], Cell::Integer(1))).collect() };
        for (s, a) in [
            (one(&[1]), one(&[1, 2])),
            (one(&[1, 2]), one(&[2])),
            (one(&[1, 2, 3]), one(&[1, 2])),
            (one(&[1, 2]), one(&[1, 2, 9])),
            (one(&[1, 1]), one(&[1, 2])),
        ] {
            let e = assemble(&names, &s, &a).unwrap_err();
            assert!(matches!(e, WalkError::Changed { .. }), "{e:?}");
            assert!(e.to_string().contains("changed while it was read"), "{e}");
        }
        // The whole table gone between the name column and the others.
        let e = assemble(&names, &vec![], &vec![]).unwrap_err();
        assert!(matches!(e, WalkError::Changed { .. }), "{e:?}");
    }
}
