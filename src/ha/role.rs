//! This host's role in the pair and the pure bookkeeping that decides it
//! (docs/ha.md, How the role is watched): which interfaces carry the
//! virtual address, from full dumps and the notifications in between.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

use tokio::time::Instant;

use super::netlink::{IfAddr, Message, Reply};

/// Active: this host holds the virtual address and acts. Standby: it
/// watches, decides and logs, and sends nothing to the firewall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleKind {
    Active,
    Standby,
}

impl fmt::Display for RoleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RoleKind::Active => "active",
            RoleKind::Standby => "standby",
        })
    }
}

/// The role and since when: `since` (wall clock) for people, `since_mono`
/// for timing. `problem` says why the watcher cannot see the addresses,
/// while it cannot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub kind: RoleKind,
    pub since: SystemTime,
    pub since_mono: Instant,
    pub problem: Option<String>,
}

impl Role {
    pub fn new(kind: RoleKind, since: SystemTime, since_mono: Instant) -> Role {
        Role {
            kind,
            since,
            since_mono,
            problem: None,
        }
    }

    pub fn is_active(&self) -> bool {
        self.kind == RoleKind::Active
    }
}

/// The role the addresses give: active when `wanted` is among them and
/// usable (a duplicate address detection failure means another host uses
/// it).
pub fn role_of<'a>(addresses: impl IntoIterator<Item = &'a IfAddr>, wanted: IpAddr) -> RoleKind {
    let held = addresses.into_iter().any(|a| a.address == wanted && !a.dad_failed);
    if held { RoleKind::Active } else { RoleKind::Standby }
}

/// Where the virtual address is assigned, kept from messages in socket
/// order. A dump under way collects into `next`; a notification applies to
/// both the current view and `next`, so whichever of the two the kernel
/// put first, the result after the dump is the newer truth.
#[derive(Debug)]
pub struct AddressBook {
    wanted: IpAddr,
    held: BTreeSet<(u32, u8)>,
    next: Option<(u32, BTreeSet<(u32, u8)>)>,
}

/// What one message did to the book.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    Nothing,
    /// The dump with this sequence number is complete.
    DumpDone {
        seq: u32,
    },
    /// The dump failed (errno) or notifications were lost (`None`).
    Failed {
        seq: Option<u32>,
        errno: Option<i32>,
    },
}

impl AddressBook {
    pub fn new(wanted: IpAddr) -> AddressBook {
        AddressBook {
            wanted,
            held: BTreeSet::new(),
            next: None,
        }
    }

    /// The role the book shows now.
    pub fn role(&self) -> RoleKind {
        if self.held.is_empty() {
            RoleKind::Standby
        } else {
            RoleKind::Active
        }
    }

    /// A new dump with `seq` starts; one still under way is dropped.
    pub fn start_dump(&mut self, seq: u32) {
        self.next = Some((seq, BTreeSet::new()));
    }

    /// Whether a dump is under way.
    pub fn dumping(&self) -> bool {
        self.next.is_some()
    }

    pub fn apply(&mut self, m: &Message) -> Applied {
        match m {
            Message::New { addr, reply } => {
                let key = (addr.index, addr.prefix_len);
                let ours = role_of([addr], self.wanted) == RoleKind::Active;
                match reply {
                    Reply::Dump { seq } => {
                        if let Some((s, set)) = &mut self.next
                            && s == seq
                            && ours
                        {
                            set.insert(key);
                        }
                    }
                    Reply::Notification => self.note(key, ours, addr.address == self.wanted),
                }
                Applied::Nothing
            }
            Message::Del { addr } => {
                let key = (addr.index, addr.prefix_len);
                self.note(key, false, addr.address == self.wanted);
                Applied::Nothing
            }
            Message::Done { seq } => match self.next.take() {
                Some((s, set)) if s == *seq => {
                    self.held = set;
                    Applied::DumpDone { seq: *seq }
                }
                other => {
                    self.next = other;
                    Applied::Nothing
                }
            },
            Message::Error { seq, errno } => match &self.next {
                Some((s, _)) if s == seq => {
                    self.next = None;
                    Applied::Failed {
                        seq: Some(*seq),
                        errno: Some(*errno),
                    }
                }
                _ => Applied::Nothing,
            },
            Message::Overrun => Applied::Failed { seq: None, errno: None },
            Message::Other => Applied::Nothing,
        }
    }

    /// A notification about the wanted address on `key`: present (and
    /// usable) or gone.
    fn note(&mut self, key: (u32, u8), present: bool, about_wanted: bool) {
        if !about_wanted {
            return;
        }
        let sets = std::iter::once(&mut self.held).chain(self.next.as_mut().map(|(_, s)| s));
        for set in sets {
            if present {
                set.insert(key);
            } else {
                set.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIP: &str = "198.51.100.50";

    fn addr(index: u32, ip: &str) -> IfAddr {
        IfAddr {
            index,
            prefix_len: 32,
            address: ip.parse().unwrap(),
            dad_failed: false,
        }
    }

    fn new(index: u32, ip: &str, reply: Reply) -> Message {
        Message::New {
            addr: addr(index, ip),
            reply,
        }
    }

    fn book() -> AddressBook {
        AddressBook::new(VIP.parse().unwrap())
    }

    #[test]
    fn the_role_of_a_list_of_addresses() {
        let vip: IpAddr = VIP.parse().unwrap();
        assert_eq!(role_of(&[], vip), RoleKind::Standby);
        assert_eq!(role_of(&[addr(2, "198.51.100.11")], vip), RoleKind::Standby);
        assert_eq!(
            role_of(&[addr(2, "198.51.100.11"), addr(2, VIP)], vip),
            RoleKind::Active
        );
        let mut failed = addr(2, VIP);
        failed.dad_failed = true;
        assert_eq!(role_of(&[failed], vip), RoleKind::Standby);
        assert_eq!(role_of(&[addr(2, "2001:db8::50")], vip), RoleKind::Standby);
    }

    #[test]
    fn dumps_replace_and_notifications_update() {
        let mut b = book();
        assert_eq!(b.role(), RoleKind::Standby);
        b.start_dump(1);
        b.apply(&new(2, "198.51.100.11", Reply::Dump { seq: 1 }));
        b.apply(&new(2, VIP, Reply::Dump { seq: 1 }));
        assert_eq!(b.role(), RoleKind::Standby, "not before the dump is done");
        assert_eq!(b.apply(&Message::Done { seq: 1 }), Applied::DumpDone { seq: 1 });
        assert_eq!(b.role(), RoleKind::Active);
        b.apply(&Message::Del { addr: addr(2, VIP) });
        assert_eq!(b.role(), RoleKind::Standby);
        b.apply(&new(3, VIP, Reply::Notification));
        assert_eq!(b.role(), RoleKind::Active);
        b.apply(&Message::Del {
            addr: addr(2, "198.51.100.11"),
        });
        assert_eq!(b.role(), RoleKind::Active, "another address going is nothing");
        b.start_dump(2);
        assert_eq!(b.apply(&Message::Done { seq: 2 }), Applied::DumpDone { seq: 2 });
        assert_eq!(b.role(), RoleKind::Standby, "an empty dump is the truth");
    }

    #[test]
    fn a_notification_during_a_dump_wins_over_an_older_dump_entry() {
        // The dump listed the address, then it was deleted: gone.
        let mut b = book();
        b.start_dump(1);
        b.apply(&new(2, VIP, Reply::Dump { seq: 1 }));
        b.apply(&Message::Del { addr: addr(2, VIP) });
        b.apply(&Message::Done { seq: 1 });
        assert_eq!(b.role(), RoleKind::Standby);
        // Added while the dump had already passed that interface: held.
        b.start_dump(2);
        b.apply(&new(2, VIP, Reply::Notification));
        b.apply(&Message::Done { seq: 2 });
        assert_eq!(b.role(), RoleKind::Active);
    }

    #[test]
    fn stale_replies_and_failures() {
        let mut b = book();
        b.start_dump(5);
        b.apply(&new(2, VIP, Reply::Dump { seq: 4 }));
        assert_eq!(b.apply(&Message::Done { seq: 4 }), Applied::Nothing);
        assert!(b.dumping());
        assert_eq!(
            b.apply(&Message::Error { seq: 5, errno: 16 }),
            Applied::Failed {
                seq: Some(5),
                errno: Some(16)
            }
        );
        assert!(!b.dumping());
        assert_eq!(b.role(), RoleKind::Standby);
        assert_eq!(b.apply(&Message::Overrun), Applied::Failed { seq: None, errno: None });
    }

    #[test]
    fn the_same_address_twice_on_one_interface() {
        let mut b = book();
        let mut wide = addr(2, VIP);
        wide.prefix_len = 24;
        b.apply(&Message::New {
            addr: wide,
            reply: Reply::Notification,
        });
        b.apply(&new(2, VIP, Reply::Notification));
        b.apply(&Message::Del { addr: wide });
        assert_eq!(b.role(), RoleKind::Active, "the /32 is still there");
    }
}
