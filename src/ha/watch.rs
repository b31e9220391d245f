//! The role watcher: one task that keeps a `watch` channel of this host's
//! [`Role`] (docs/ha.md, How the role is watched). Netlink address
//! notifications give a change at once; a full dump every second is the
//! backstop, so a lost notification costs at most a second. It reads the
//! level (is the address here now?), never keepalived's notify scripts.
//!
//! Errors never end the task: they are logged, shown in
//! [`Role::problem`], and the next second tries again. While the addresses
//! cannot be read for [`BLIND_AFTER`] re-checks in a row the role is
//! standby: a host that cannot see whether it holds the address must not
//! push.

use std::io::{self, Read};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use socket2::Socket;
use tokio::io::unix::AsyncFd;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use super::netlink::{self, Message};
use super::role::{AddressBook, Applied, Role, RoleKind};

/// Time between two full re-checks.
pub const RECHECK: Duration = Duration::from_secs(1);
/// Failed re-checks in a row after which the role is standby.
pub const BLIND_AFTER: u32 = 3;
const RECEIVE_BUFFER: usize = 1 << 20;

struct Watcher {
    address: IpAddr,
    tx: watch::Sender<Role>,
    book: AddressBook,
    socket: Option<(AsyncFd<Socket>, u32)>,
    seq: u32,
    failures: u32,
    problem: Option<String>,
    dumps_done: u64,
    buf: Vec<u8>,
}

/// Starts watching `address`. Returns once the first full re-check is in
/// (or after [`RECHECK`] if it is not), so the first role is a real one.
/// The task ends when every receiver is dropped.
pub async fn start(address: IpAddr) -> watch::Receiver<Role> {
    let (tx, rx) = watch::channel(Role::new(RoleKind::Standby, SystemTime::now(), Instant::now()));
    let mut w = Watcher {
        address,
        tx,
        book: AddressBook::new(address),
        socket: None,
        seq: fastrand::u32(1..u32::MAX / 2),
        failures: 0,
        problem: None,
        dumps_done: 0,
        buf: vec![0; 65536],
    };
    let mut tick = tokio::time::interval(RECHECK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = Instant::now() + RECHECK;
    while w.dumps_done == 0 && w.failures == 0 {
        if tokio::time::timeout_at(deadline, w.step(&mut tick)).await.is_err() {
            break;
        }
    }
    let tx = w.tx.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tx.closed() => return,
                () = w.step(&mut tick) => {}
            }
        }
    });
    rx
}

/// A receiver that always says active: for a host without `[ha]`.
pub fn always_active() -> watch::Receiver<Role> {
    let (_tx, rx) = watch::channel(Role::new(RoleKind::Active, SystemTime::now(), Instant::now()));
    rx
}

impl Watcher {
    /// One turn: a re-check is due, or the socket has messages.
    async fn step(&mut self, tick: &mut tokio::time::Interval) {
        if self.socket.is_none() {
            self.open();
        }
        enum Turn {
            Tick,
            Readable(io::Result<()>),
        }
        let turn = {
            let socket = &self.socket;
            let readable = async move {
                match socket {
                    Some((fd, _)) => fd.readable().await.map(|mut g| g.clear_ready()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tick.tick() => Turn::Tick,
                r = readable => Turn::Readable(r),
            }
        };
        match turn {
            Turn::Tick => self.recheck(),
            Turn::Readable(Ok(())) => self.read(),
            Turn::Readable(Err(e)) => self.fail(format!("cannot wait on the netlink socket: {e}"), true),
        }
        self.publish();
    }

    fn open(&mut self) {
        match netlink_socket() {
            Ok(s) => self.socket = Some(s),
            Err(e) => self.fail(format!("cannot open a netlink socket: {e}"), false),
        }
    }

    /// Starts a full dump; one still unanswered counts as a failure.
    fn recheck(&mut self) {
        if self.book.dumping() {
            self.fail("the last address dump was not answered within a second".into(), false);
        }
        let Some((fd, _)) = &self.socket else {
            return;
        };
        self.seq = self.seq.wrapping_add(1).max(1);
        self.book.start_dump(self.seq);
        if let Err(e) = fd.get_ref().send(&netlink::dump_request(self.seq)) {
            self.fail(format!("cannot ask for the address list: {e}"), true);
        }
    }

    /// Reads every datagram queued on the socket.
    fn read(&mut self) {
        loop {
            let Some((fd, port)) = &self.socket else {
                return;
            };
            let port = *port;
            let mut socket: &Socket = fd.get_ref();
            let n = match socket.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    // Notifications were lost: ask for the whole list now.
                    self.fail("address notifications were lost (buffer full)".into(), false);
                    self.recheck();
                    continue;
                }
                Err(e) => return self.fail(format!("cannot read the netlink socket: {e}"), true),
            };
            let messages: Vec<Message> = netlink::parse(&self.buf[..n], port);
            for m in &messages {
                self.apply(m);
            }
        }
    }

    fn apply(&mut self, m: &Message) {
        match self.book.apply(m) {
            Applied::DumpDone { .. } => {
                self.dumps_done += 1;
                self.failures = 0;
                if self.problem.take().is_some() {
                    tracing::info!(EVENT = "ha_watch", "the address list can be read again");
                }
            }
            Applied::Failed { errno: Some(e), .. } => {
                let err = io::Error::from_raw_os_error(e);
                self.fail(format!("the kernel refused the address dump: {err}"), false);
            }
            Applied::Failed { errno: None, .. } => {
                self.fail("address notifications were lost (overrun)".into(), false);
                if !self.book.dumping() {
                    self.recheck();
                }
            }
            Applied::Nothing => {}
        }
    }

    /// Records a failure; `reopen` drops the socket so the next turn opens
    /// a fresh one.
    fn fail(&mut self, why: String, reopen: bool) {
        self.failures = self.failures.saturating_add(1);
        if reopen {
            self.socket = None;
        }
        if self.problem.as_deref() != Some(why.as_str()) {
            tracing::warn!(EVENT = "ha_watch", "cannot watch the virtual address: {why}");
            self.problem = Some(why);
        }
    }

    /// Sends the role when it or its problem changed.
    fn publish(&mut self) {
        let kind = if self.failures >= BLIND_AFTER {
            RoleKind::Standby
        } else {
            self.book.role()
        };
        let problem = self.problem.clone();
        let address = self.address;
        self.tx.send_if_modified(|r| {
            let mut changed = false;
            if r.kind != kind {
                *r = Role::new(kind, SystemTime::now(), Instant::now());
                tracing::info!(ROLE = %kind, EVENT = "ha_role", "{kind}: the virtual address {address} is {}", if kind == RoleKind::Active { "here" } else { "not here" });
                changed = true;
            }
            if r.problem != problem {
                r.problem = problem;
                changed = true;
            }
            changed
        });
    }
}

fn netlink_socket() -> io::Result<(AsyncFd<Socket>, u32)> {
    super::socket::open_async(RECEIVE_BUFFER)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real netlink, no root needed: loopback's address is on `lo` of every
    // host, a documentation address on none of this machine's.
    #[tokio::test]
    async fn loopback_is_here_and_a_documentation_address_is_not() {
        let rx = start("127.0.0.1".parse().unwrap()).await;
        let role = rx.borrow().clone();
        assert_eq!((role.kind, role.problem), (RoleKind::Active, None));
        let rx = start("::1".parse().unwrap()).await;
        assert_eq!(rx.borrow().kind, RoleKind::Active);
        let rx = start("198.51.100.250".parse().unwrap()).await;
        let role = rx.borrow().clone();
        assert_eq!((role.kind, role.problem), (RoleKind::Standby, None));
    }

    #[test]
    fn without_ha_the_role_is_active_for_good() {
        let mut rx = always_active();
        assert_eq!(rx.borrow().kind, RoleKind::Active);
        assert!(rx.borrow_and_update().problem.is_none());
        assert!(rx.has_changed().is_err(), "no sender: it never changes");
    }
}
