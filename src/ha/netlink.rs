//! The rtnetlink address messages, built and parsed by pure functions
//! (docs/ha.md, How the role is watched): the request for a full dump of
//! the host's addresses (RTM_GETADDR) and the RTM_NEWADDR / RTM_DELADDR
//! messages that answer it or announce a change. Bad input never panics:
//! a message cut short or malformed is skipped and counted.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ROOT: u16 = 0x100;
const NLM_F_MATCH: u16 = 0x200;
const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
/// Duplicate address detection failed: another host uses the address.
const IFA_F_DADFAILED: u32 = 0x08;

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

const HEADER: usize = 16;
const IFADDRMSG: usize = 8;

/// One address of one interface, as a message names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct IfAddr {
    pub index: u32,
    pub prefix_len: u8,
    pub address: IpAddr,
    /// Duplicate address detection failed for it (IPv6): not usable.
    pub dad_failed: bool,
}

/// What one netlink message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// An address is present: a dump entry or a notification.
    New { addr: IfAddr, reply: Reply },
    /// An address went away (always a notification).
    Del { addr: IfAddr },
    /// The end of the dump with this sequence number.
    Done { seq: u32 },
    /// The kernel refused a request (errno, positive).
    Error { seq: u32, errno: i32 },
    /// The socket's buffer overflowed: notifications were lost.
    Overrun,
    /// A message of another type, or one cut short: skipped.
    Other,
}

/// Whether an RTM_NEWADDR answers our dump (and which one) or announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    Dump { seq: u32 },
    Notification,
}

/// The request for a dump of every address of both families.
pub fn dump_request(seq: u32) -> Vec<u8> {
    let len = (HEADER + IFADDRMSG) as u32;
    let mut b = Vec::with_capacity(len as usize);
    b.extend_from_slice(&len.to_ne_bytes());
    b.extend_from_slice(&RTM_GETADDR.to_ne_bytes());
    b.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    // ifaddrmsg: family AF_UNSPEC (all), the rest zero.
    b.extend_from_slice(&[0u8; IFADDRMSG]);
    b
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Every message of one datagram, in order. `port` is this socket's
/// netlink port id: a dump reply is addressed to it, a notification is
/// not (it carries the port of whoever made the change, or 0).
pub fn parse(datagram: &[u8], port: u32) -> Vec<Message> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + HEADER <= datagram.len() {
        let (Some(len), Some(kind), Some(flags), Some(seq), Some(pid)) = (
            u32_at(datagram, at),
            u16_at(datagram, at + 4),
            u16_at(datagram, at + 6),
            u32_at(datagram, at + 8),
            u32_at(datagram, at + 12),
        ) else {
            break;
        };
        let len = len as usize;
        if len < HEADER || at + len > datagram.len() {
            out.push(Message::Other);
            break;
        }
        let body = &datagram[at + HEADER..at + len];
        let ours = pid == port && port != 0;
        out.push(message(kind, flags, seq, ours, body));
        at += align4(len);
    }
    out
}

fn message(kind: u16, flags: u16, seq: u32, ours: bool, body: &[u8]) -> Message {
    match kind {
        NLMSG_DONE => Message::Done { seq },
        NLMSG_ERROR => match u32_at(body, 0).map(|e| e as i32) {
            // An error code of 0 is an acknowledgement.
            Some(0) | None => Message::Other,
            Some(e) => Message::Error { seq, errno: -e },
        },
        NLMSG_OVERRUN => Message::Overrun,
        RTM_NEWADDR | RTM_DELADDR => match if_addr(body) {
            None => Message::Other,
            Some(addr) if kind == RTM_DELADDR => Message::Del { addr },
            Some(addr) => {
                let reply = if ours && flags & NLM_F_MULTI != 0 {
                    Reply::Dump { seq }
                } else {
                    Reply::Notification
                };
                Message::New { addr, reply }
            }
        },
        _ => Message::Other,
    }
}

/// The address of an ifaddrmsg and its attributes: IFA_LOCAL when present
/// (on a point-to-point IPv4 link IFA_ADDRESS is the far end's), else
/// IFA_ADDRESS.
fn if_addr(body: &[u8]) -> Option<IfAddr> {
    let family = *body.first()?;
    let prefix_len = *body.get(1)?;
    let mut flags = u32::from(*body.get(2)?);
    let index = u32_at(body, 4)?;
    let (mut local, mut address) = (None, None);
    let mut at = IFADDRMSG;
    while at + 4 <= body.len() {
        let len = u16_at(body, at)? as usize;
        let kind = u16_at(body, at + 2)? & 0x3fff;
        if len < 4 || at + len > body.len() {
            return None;
        }
        let data = &body[at + 4..at + len];
        match kind {
            IFA_LOCAL => local = ip(family, data),
            IFA_ADDRESS => address = ip(family, data),
            IFA_FLAGS => flags = u32_at(data, 0).unwrap_or(flags),
            _ => {}
        }
        at += align4(len);
    }
    Some(IfAddr {
        index,
        prefix_len,
        address: local.or(address)?,
        dad_failed: flags & IFA_F_DADFAILED != 0,
    })
}

fn ip(family: u8, data: &[u8]) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(data).ok()?))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(data);
        a.resize(align4(a.len()), 0);
        a
    }

    /// One message as the kernel lays it out.
    fn msg(kind: u16, flags: u16, seq: u32, pid: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((HEADER + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&pid.to_ne_bytes());
        m.extend_from_slice(body);
        m.resize(align4(m.len()), 0);
        m
    }

    fn ifaddr(family: u8, prefix: u8, index: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut b = vec![family, prefix, 0, 0];
        b.extend_from_slice(&index.to_ne_bytes());
        for a in attrs {
            b.extend_from_slice(a);
        }
        b
    }

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_dump_request_is_a_root_match_getaddr() {
        let r = dump_request(7);
        assert_eq!(r.len(), 24);
        assert_eq!(u32_at(&r, 0), Some(24));
        assert_eq!(u16_at(&r, 4), Some(RTM_GETADDR));
        assert_eq!(u16_at(&r, 6), Some(0x301));
        assert_eq!(u32_at(&r, 8), Some(7));
    }

    #[test]
    fn a_dump_reply_a_notification_and_done_in_one_datagram() {
        let local = attr(IFA_LOCAL, &[198, 51, 100, 50]);
        let peer = attr(IFA_ADDRESS, &[198, 51, 100, 1]);
        let mut d = msg(
            RTM_NEWADDR,
            NLM_F_MULTI,
            9,
            4242,
            &ifaddr(AF_INET, 32, 3, &[peer, local]),
        );
        let six = attr(IFA_ADDRESS, &"2001:db8::50".parse::<Ipv6Addr>().unwrap().octets());
        let flags = attr(IFA_FLAGS, &IFA_F_DADFAILED.to_ne_bytes());
        d.extend(msg(RTM_NEWADDR, 0, 55, 999, &ifaddr(AF_INET6, 64, 4, &[six, flags])));
        d.extend(msg(
            RTM_DELADDR,
            0,
            0,
            0,
            &ifaddr(AF_INET, 24, 3, &[attr(IFA_LOCAL, &[10, 0, 0, 1])]),
        ));
        d.extend(msg(NLMSG_DONE, NLM_F_MULTI, 9, 4242, &[0, 0, 0, 0]));
        let got = parse(&d, 4242);
        assert_eq!(
            got,
            vec![
                Message::New {
                    addr: IfAddr {
                        index: 3,
                        prefix_len: 32,
                        address: v4("198.51.100.50"),
                        dad_failed: false
                    },
                    reply: Reply::Dump { seq: 9 }
                },
                Message::New {
                    addr: IfAddr {
                        index: 4,
                        prefix_len: 64,
                        address: "2001:db8::50".parse().unwrap(),
                        dad_failed: true
                    },
                    reply: Reply::Notification
                },
                Message::Del {
                    addr: IfAddr {
                        index: 3,
                        prefix_len: 24,
                        address: v4("10.0.0.1"),
                        dad_failed: false
                    }
                },
                Message::Done { seq: 9 },
            ]
        );
    }

    #[test]
    fn a_change_made_by_another_process_with_our_seq_is_a_notification() {
        let body = ifaddr(AF_INET, 32, 3, &[attr(IFA_LOCAL, &[198, 51, 100, 50])]);
        let got = parse(&msg(RTM_NEWADDR, 0, 9, 31337, &body), 4242);
        assert!(
            matches!(
                got[..],
                [Message::New {
                    reply: Reply::Notification,
                    ..
                }]
            ),
            "{got:?}"
        );
    }

    #[test]
    fn errors_and_acks() {
        let got = parse(&msg(NLMSG_ERROR, 0, 5, 1, &(-105i32).to_ne_bytes()), 1);
        assert_eq!(got, vec![Message::Error { seq: 5, errno: 105 }]);
        let got = parse(&msg(NLMSG_ERROR, 0, 5, 1, &0i32.to_ne_bytes()), 1);
        assert_eq!(got, vec![Message::Other]);
    }

    #[test]
    fn bad_input_never_panics() {
        let good = msg(
            RTM_NEWADDR,
            0,
            1,
            0,
            &ifaddr(AF_INET, 32, 3, &[attr(IFA_LOCAL, &[198, 51, 100, 50])]),
        );
        for cut in 0..good.len() {
            let _ = parse(&good[..cut], 0);
            let mut bent = good.clone();
            bent[cut] ^= 0xff;
            let _ = parse(&bent, 0);
        }
        // A length beyond the datagram, a zero length, an attribute of
        // length 0 and an address of the wrong size.
        let mut long = good.clone();
        long[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert_eq!(parse(&long, 0), vec![Message::Other]);
        let mut zero = good.clone();
        zero[0..4].copy_from_slice(&0u32.to_ne_bytes());
        assert_eq!(parse(&zero, 0), vec![Message::Other]);
        let bad_attr = msg(RTM_NEWADDR, 0, 1, 0, &ifaddr(AF_INET, 32, 3, &[vec![0, 0, 2, 0]]));
        assert_eq!(parse(&bad_attr, 0), vec![Message::Other]);
        let short_ip = msg(
            RTM_NEWADDR,
            0,
            1,
            0,
            &ifaddr(AF_INET, 32, 3, &[attr(IFA_LOCAL, &[1, 2, 3])]),
        );
        assert_eq!(parse(&short_ip, 0), vec![Message::Other]);
    }
}
