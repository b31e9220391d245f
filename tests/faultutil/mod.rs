//! The fault matrix's shared parts: a TCP switch in front of a server (to
//! take the firewall's API or the SMTP server away and bring it back on the
//! same port), a mail box over a real SMTP server, and the invariants every
//! case checks.
#![allow(dead_code)] // each test crate uses a different part

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sfos_emulator::{ActionKind, Emulator};

use crate::mailutil::{self, Received};

/// A TCP forwarder on a fixed loopback port: `down` closes the port (new
/// connections are refused) and cuts every open connection, `up` opens
/// it again; `set_target` changes where new connections go.
pub struct Switch {
    pub port: u16,
    up: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    target: Arc<Mutex<SocketAddr>>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Switch {
    pub fn new(target: SocketAddr) -> Switch {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let s = Switch {
            port,
            up: Arc::new(AtomicBool::new(true)),
            stop: Arc::new(AtomicBool::new(false)),
            target: Arc::new(Mutex::new(target)),
            conns: Arc::new(Mutex::new(Vec::new())),
        };
        let (up, stop, to, conns) = (s.up.clone(), s.stop.clone(), s.target.clone(), s.conns.clone());
        std::thread::spawn(move || {
            let mut listener = Some(listener);
            while !stop.load(Ordering::SeqCst) {
                if !up.load(Ordering::SeqCst) {
                    listener = None;
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                if listener.is_none() {
                    // The same port again (std sets SO_REUSEADDR).
                    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
                        Ok(l) => listener = Some(l),
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                    }
                }
                let l = listener.as_ref().unwrap();
                l.set_nonblocking(true).unwrap();
                match l.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let target = *to.lock().unwrap();
                        let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
                            continue;
                        };
                        let mut list = conns.lock().unwrap();
                        list.retain(|c: &TcpStream| c.peer_addr().is_ok());
                        list.push(client.try_clone().unwrap());
                        list.push(server.try_clone().unwrap());
                        pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                        pipe(server, client);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        s
    }

    /// Closes the port and cuts every connection through it.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        // Bounded wait until the port refuses.
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
            assert!(Instant::now() < deadline, "switch port still open");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Opens the port again (bounded wait until it accepts).
    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_err() {
            assert!(Instant::now() < deadline, "switch port did not open");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn set_target(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// The emulator's URL through a switch (same path, pinned certificate).
pub fn url_via(emu: &Emulator, switch: &Switch) -> String {
    emu.url()
        .replace(&format!(":{}/", emu.addr().port()), &format!(":{}/", switch.port))
}

/// Every mail a server received, in order.
pub struct MailBox {
    pub server: mailutil::Mailin,
    pub got: Vec<Received>,
}

impl MailBox {
    pub fn new(server: mailutil::Mailin) -> MailBox {
        MailBox {
            server,
            got: Vec::new(),
        }
    }

    pub fn drain(&mut self) -> &[Received] {
        while let Ok(m) = self.server.rx.try_recv() {
            self.got.push(m);
        }
        &self.got
    }

    /// Waits (bounded) until every logged event was mailed (by kind).
    pub fn until_mailed(&mut self, logged: &[String], log: &dyn Fn() -> String) {
        self.until_mailed_within(logged, Duration::from_secs(30), log);
    }

    pub fn until_mailed_within(&mut self, logged: &[String], limit: Duration, log: &dyn Fn() -> String) {
        let want = count(logged);
        let deadline = Instant::now() + limit;
        loop {
            let have = count(&mailed_kinds(self.drain()));
            if want.iter().all(|(k, n)| have.get(k).copied().unwrap_or(0) >= *n) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not every event was mailed: logged {want:?}, mailed {have:?} {:?}\n{}",
                self.got.iter().flat_map(headlines).collect::<Vec<_>>(),
                log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Before a stop: waits until the running daemon's events are mailed.
    pub fn catch_up(&mut self, d: &crate::daemonutil::Daemon) {
        self.catch_up_within(d, Duration::from_secs(30));
    }

    pub fn catch_up_within(&mut self, d: &crate::daemonutil::Daemon, limit: Duration) {
        let log = d.log.lock().unwrap().clone();
        self.until_mailed_within(&logged_kinds(&log), limit, &|| d.report());
    }

    /// Waits (bounded) until a mailed event's kind is `kind`.
    pub fn until_kind(&mut self, kind: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !mailed_kinds(self.drain()).iter().any(|k| k == kind) {
            assert!(
                Instant::now() < deadline,
                "no {kind} mailed within {limit:?}; mailed so far: {:?}\nthe emulator:\n{}",
                mailed_kinds(&self.got),
                crate::daemonutil::watched_emulator()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The `[mail]` section for a plain local server that mails every event
/// on its own (no coalescing, no hourly limit in a test).
pub fn mail_section(port: u16) -> String {
    format!(
        "[mail]\nserver = \"smtp://127.0.0.1:{port}?tls=none\"\nfrom = \"failoverd <failoverd@example.com>\"\nto = [\"netops@example.com\"]\ncoalesce = \"0s\"\nmax_per_hour = 1000\ntimeout = \"2s\"\n"
    )
}

pub fn message_id(m: &Received) -> String {
    m.header("Message-ID").unwrap_or_default()
}

/// The event headlines of a mail: the line after "reports 1 event:", or
/// the numbered lines of a batch.
pub fn headlines(m: &Received) -> Vec<String> {
    let body = body(m);
    let mut out = Vec::new();
    let mut lines = body.lines().map(|l| l.trim_end_matches('\r'));
    let single = loop {
        match lines.next() {
            Some(l) if l.contains(" reports ") => break l.contains(" reports 1 event"),
            Some(_) => {}
            None => return out,
        }
    };
    for l in lines {
        if l == "-- " {
            break;
        }
        if l.is_empty() || l.starts_with(' ') {
            continue;
        }
        if single {
            out.push(l.to_string());
        } else if let Some((n, rest)) = l.split_once(". ")
            && n.chars().all(|c| c.is_ascii_digit())
        {
            out.push(rest.to_string());
        }
    }
    out
}

/// A mail's body, decoded when quoted-printable.
pub fn body(m: &Received) -> String {
    let body = m.raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or(&m.raw);
    let qp = m
        .header("Content-Transfer-Encoding")
        .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
    if qp { quoted_printable(body) } else { body.to_string() }
}

/// Decodes a quoted-printable body (soft line breaks, `=XX`).
fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An event kind from a mail's headline.
pub fn headline_kind(h: &str) -> &'static str {
    let rules: [(&str, &str); 25] = [
        ("state lost", "StateLost"),
        ("tunnel table cannot be read", "SnmpUnusable"),
        ("tunnel table is read again", "SnmpUsable"),
        ("firewall disagrees", "FirewallDisagrees"),
        ("firewall agrees again", "FirewallAgrees"),
        ("did not apply it", "PushNotHonoured"),
        (" DOWN", "GroupDown"),
        (" UP", "GroupUp"),
        (" failed over", "Failover"),
        (" failed back", "Failback"),
        (" restarted", "GroupRestart"),
        (" deactivated by failoverd", "DeactivateDecided"),
        ("firewall API unusable", "ApiUnusable"),
        ("firewall API usable again", "ApiUsable"),
        ("firewall refused", "PushRefused"),
        ("push refused", "PushRefused"),
        ("accepted again", "PushRecovered"),
        ("guard withheld", "GuardTrip"),
        ("guard trip ended", "GuardTripEnded"),
        ("state not persisted", "StateDirFailure"),
        ("reload rejected", "ReloadRejected"),
        ("ICMP probing failed", "IcmpFailure"),
        ("spool over its limit", "SpoolOverLimit"),
        ("this host became active", "BecameActive"),
        ("this host became standby", "BecameStandby"),
    ];
    if h.contains(" member ") {
        return if h.ends_with(" down") || h.contains(" down (") {
            "MemberDown"
        } else {
            "MemberUp"
        };
    }
    rules
        .iter()
        .find(|(p, _)| h.contains(p))
        .map(|(_, k)| *k)
        .unwrap_or("Other")
}

/// Every mailed event's kind, in order, each mail counted once (a resend
/// after a crash keeps its Message-ID).
pub fn mailed_kinds(mails: &[Received]) -> Vec<String> {
    let mut seen = HashSet::new();
    mails
        .iter()
        .filter(|m| seen.insert(message_id(m)))
        .flat_map(headlines)
        .map(|h| headline_kind(&h).to_string())
        .collect()
}

const GROUP_KINDS: [&str; 6] = ["MemberDown", "MemberUp", "Failover", "Failback", "GroupDown", "GroupUp"];

/// The `EVENT=` field of a log line (quoted or not).
fn event_field(line: &str) -> Option<&str> {
    let rest = line.split(" EVENT=").nth(1).or_else(|| line.strip_prefix("EVENT="))?;
    match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next(),
        None => rest.split_whitespace().next(),
    }
}

/// The mailable events the daemon logged, in order (every group mails),
/// read from each line's machine-readable `EVENT=` kind, never from its
/// wording: a reworded message cannot drop out of "every logged event is
/// mailed".
pub fn logged_kinds(log: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut open = HashSet::new();
    for line in log {
        let Some(k) = event_field(line).filter(|k| failoverd::mail::event::Kind::from_name(k).is_some()) else {
            continue;
        };
        // Push trouble is one event per failure streak (docs/events-and-mail.md):
        // repeats inside a streak, and a recovery that closes none, are not
        // mailed.
        let streak = match k {
            "ApiUnusable" => Some(("api", true)),
            "ApiUsable" => Some(("api", false)),
            "PushRefused" => Some(("refused", true)),
            "PushRecovered" => Some(("refused", false)),
            _ => None,
        };
        if let Some((name, opens)) = streak {
            let changed = if opens { open.insert(name) } else { open.remove(name) };
            if !changed {
                continue;
            }
        }
        out.push(k.to_string());
    }
    out
}

fn count(kinds: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for k in kinds {
        *m.entry(k.clone()).or_default() += 1;
    }
    m
}

/// What a case ran into, for the invariants.
pub struct Run<'a> {
    /// The logs of every daemon run, in order.
    pub log: Vec<String>,
    pub emu: &'a Emulator,
    pub groups: &'a [&'a str],
    /// None when the case runs without mail.
    pub mail: Option<&'a mut MailBox>,
    /// No DeActive may ever reach the firewall.
    pub dangerous: bool,
    /// A daemon was killed: a mail may come twice, with its Message-ID.
    pub crashed: bool,
    /// The state directory after the last stop: mails still spooled there
    /// (events of the last moments) count as kept, not lost.
    pub state: Option<&'a std::path::Path>,
}

/// The invariants every case checks: no panic; never two requests in
/// flight for a group; no DeActive in the dangerous cases; every logged
/// event mailed (waits, bounded), group events in the logged order; a
/// Message-ID twice only after a crash, and then for the same mail.
pub fn check_invariants(run: Run<'_>) {
    let text = run.log.join("\n");
    assert!(!text.contains("panicked"), "a panic:\n{text}");
    for g in run.groups {
        assert!(run.emu.max_in_flight(g) <= 1, "two requests in flight for {g}:\n{text}");
    }
    if run.dangerous {
        let deactives: Vec<_> = run
            .emu
            .requests()
            .iter()
            .flat_map(|r| r.actions.clone())
            .filter(|a| a.action == ActionKind::DeActive)
            .collect();
        assert!(
            deactives.is_empty(),
            "DeActive in a dangerous case: {deactives:?}\n{text}"
        );
    }
    let Some(mail) = run.mail else { return };
    let logged = logged_kinds(&run.log);
    if let Some(state) = run.state {
        // Accepted but not yet removed when the daemon stopped: sent again
        // at the next start, with the same Message-ID (at least once).
        mail.drain();
        let received: HashSet<String> = mail.got.iter().map(message_id).collect();
        let kept = spooled(state)
            .into_iter()
            .filter(|m| !received.contains(&message_id(m)));
        mail.got.extend(kept.collect::<Vec<_>>());
    }
    mail.until_mailed(&logged, &|| text.clone());
    let mailed = mailed_kinds(&mail.got);
    let groupwise = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|k| GROUP_KINDS.contains(&k.as_str()))
            .cloned()
            .collect()
    };
    assert_eq!(
        groupwise(&mailed),
        groupwise(&logged),
        "group events mailed in the logged order, each once"
    );
    // Delivery is at least once: a mail comes twice, with one Message-ID,
    // only after a crash, or after an attempt the daemon logged as failed
    // (the connection was lost after the server had taken the mail).
    let retried: HashSet<&str> = run
        .log
        .iter()
        .filter(|l| l.contains("mail not sent"))
        .filter_map(|l| l.split("message_id=Some(\"").nth(1)?.split('"').next())
        .collect();
    // Every mail names its event kinds in X-Failoverd-Event; the kinds read
    // from its wording must be exactly those, so a reworded message cannot
    // silently drop out of "every logged event is mailed".
    for m in &mail.got {
        let header = m.header("X-Failoverd-Event").unwrap_or_default();
        let named: BTreeSet<&str> = header.split(", ").filter(|k| !k.is_empty()).collect();
        let worded: BTreeSet<String> = headlines(m).iter().map(|h| headline_kind(h).to_string()).collect();
        let worded: BTreeSet<&str> = worded.iter().map(String::as_str).collect();
        assert_eq!(
            named,
            worded,
            "X-Failoverd-Event against the wording of {:?}",
            headlines(m)
        );
    }
    let mut ids: BTreeMap<String, &Received> = BTreeMap::new();
    for m in &mail.got {
        let id = message_id(m);
        assert!(!id.is_empty(), "a mail without Message-ID: {}", m.raw);
        if let Some(first) = ids.insert(id.clone(), m) {
            assert!(
                run.crashed || retried.contains(id.as_str()),
                "Message-ID {id} twice without a crash or a failed attempt logged for it\n{text}"
            );
            assert_eq!(headlines(first), headlines(m), "one Message-ID, two mails");
        }
    }
}

/// The mails left in a state directory's spool, as a server would see them.
pub fn spooled(state: &std::path::Path) -> Vec<Received> {
    let Ok(dir) = std::fs::read_dir(state.join("spool")) else {
        return Vec::new();
    };
    let mut files: Vec<_> = dir.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    files
        .iter()
        .filter_map(|p| serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(p).ok()?).ok())
        .map(|v| Received {
            from: String::new(),
            to: Vec::new(),
            raw: format!(
                "Message-ID: {}\r\nX-Failoverd-Event: {}\r\n\r\n{}",
                v["mail"]["message_id"].as_str().unwrap_or_default(),
                serde_json::from_value::<failoverd::mail::render::Mail>(v["mail"].clone())
                    .map(|m| failoverd::mail::smtp::event_kinds(&m))
                    .unwrap_or_default(),
                v["mail"]["body"].as_str().unwrap_or_default()
            ),
            user: None,
        })
        .collect()
}

/// The actions the emulator recorded for `group`, in order.
pub fn pushed(emu: &Emulator, group: &str) -> Vec<ActionKind> {
    emu.requests()
        .iter()
        .flat_map(|r| r.actions.iter().filter(|a| a.group == group).map(|a| a.action))
        .filter(|a| matches!(a, ActionKind::Active | ActionKind::DeActive))
        .collect()
}

/// Waits (bounded) until the emulated firewall holds `group` as `active`.
pub fn until_firewall(emu: &Emulator, group: &str, active: bool, limit: Duration, log: &dyn Fn() -> String) {
    let deadline = Instant::now() + limit;
    while emu.groups().get(group) != Some(&active) {
        assert!(
            Instant::now() < deadline,
            "{group} not {} on the firewall within {limit:?}; pushed {:?}\nthe emulator:\n{}{}",
            if active { "active" } else { "inactive" },
            pushed(emu, group),
            emu.describe(),
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (bounded) for `cond`. `context` says what a reader needs when it
/// times out (usually `Daemon::report`: last STATUS, the emulator, the log).
pub fn until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool, context: &dyn Fn() -> String) {
    until_met(
        what,
        limit,
        || if cond() { Ok(()) } else { Err(String::new()) },
        context,
    );
}

/// Waits (bounded) until `check` passes; `check` says which part of the
/// condition failed, and a timeout quotes its last word.
pub fn until_met(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Result<(), String>,
    context: &dyn Fn() -> String,
) {
    let deadline = Instant::now() + limit;
    loop {
        let failed = match check() {
            Ok(()) => return,
            Err(part) => part,
        };
        if Instant::now() >= deadline {
            let part = if failed.is_empty() {
                String::new()
            } else {
                format!("\nstill failing: {failed}")
            };
            panic!("{what}: not within {limit:?}{part}\n{}", context());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TCP service in a network namespace (accepts and closes), for probes.
pub struct NsListener(Child);

impl NsListener {
    pub fn start(ns: &str, port: u16) -> NsListener {
        let code = format!(
            "import socket\ns=socket.socket(socket.AF_INET6)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,0)\ns.bind(('::',{port}))\ns.listen(128)\nprint('up',flush=True)\nwhile True:\n  c,_=s.accept()\n  c.close()\n"
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "/usr/bin/python3", "-c", &code])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "up", "listener in {ns} did not start");
        NsListener(child)
    }
}

impl Drop for NsListener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `[snmp]` of every case: an agent that never answers (a UDP port on
/// loopback nothing listens on), so every case also shows that a dead
/// agent changes nothing about pushes or mail (contract section 10). The
/// community is read from the case's password file (it must be 0600 like
/// any secret; nothing ever answers it).
fn dead_snmp() -> String {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map_or(9, |a| a.port());
    format!(
        "[snmp]\naddress = \"127.0.0.1:{port}\"\nversion = \"2c\"\ncommunity_file = \"pw\"\ninterval = \"1s\"\ntimeout = \"300ms\"\n"
    )
}

/// Settings for a case: `probe` lines under `[probe]`, one connection per
/// `(name, target, via)`, `firewall` lines under `[firewall]`, then `tail`
/// (more sections), and `[snmp]` with an agent that never answers. Mail,
/// when wanted, goes in `tail`.
pub fn config(url: &str, pin: &str, probe: &str, conns: &[(&str, &str, &str)], firewall: &str, tail: &str) -> String {
    let mut s = format!("groups = [\"g.xml\"]\nstate_dir = \"state\"\n[probe]\n{probe}\n");
    for (name, target, via) in conns {
        s.push_str(&format!(
            "[connections.{name}]\ntargets = [\"{target}\"]\nvia = \"{via}\"\n"
        ));
    }
    s.push_str(&format!(
        "[firewall]\nurl = \"{url}\"\nusername = \"api\"\npassword_file = \"pw\"\npin_sha256 = \"{pin}\"\n{firewall}\n{tail}\n{}",
        dead_snmp()
    ));
    s
}

/// Fast probing for the matrix.
pub const FAST: &str = "interval = \"200ms\"\ntimeout = \"200ms\"\nfall = 3\nrise = 2";

/// A group with mail on; `cond` is `PING` or `TCP/port`.
pub fn group(name: &str, members: &[&str], cond: &str) -> String {
    let members: String = members
        .iter()
        .map(|m| format!("<Connection>{m}</Connection>"))
        .collect();
    let cond = match cond.split_once('/') {
        Some((p, port)) => format!("<Protocol>{p}</Protocol><Port>{port}</Port>"),
        None => format!("<Protocol>{cond}</Protocol>"),
    };
    format!(
        "<VPNFailoverGroup><GroupDetail><Name>{name}</Name><MemberConnections>{members}</MemberConnections><MailNotification>Enable</MailNotification><FailoverCondition><FailoverIF>{cond}</FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>"
    )
}

pub fn groups(list: &[String]) -> String {
    format!("<VPNFailoverGroups>{}</VPNFailoverGroups>", list.concat())
}

/// Puts group `name` on the emulated firewall, active (as after a sync).
pub fn define(emu: &Emulator, name: &str, members: &[&str]) {
    let definition = sfos_emulator::Definition {
        name: name.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        mail: true,
        failback: Some(true),
        conditions: vec![(sfos_emulator::Protocol::Ping, None)],
    };
    emu.add_group(definition, true);
}

/// Peers of A (127.0.0.1) and B (127.0.0.2) on one port.
pub fn peers(port: u16) -> (TcpListener, TcpListener) {
    (
        crate::daemonutil::listen("127.0.0.1", port),
        crate::daemonutil::listen("127.0.0.2", port),
    )
}

pub fn loopback_settings(emu: &Emulator, port: u16, firewall: &str, tail: &str) -> (String, String) {
    let conns = [("A", "127.0.0.1", "underlay"), ("B", "127.0.0.2", "underlay")];
    let cfg = config(&emu.url(), &emu.cert_fingerprint(), FAST, &conns, firewall, tail);
    (cfg, group("G", &["A", "B"], &format!("TCP/{port}")))
}

/// Polls `failoverd status` until the firewall line says `want`.
pub fn until_belief(d: &crate::daemonutil::Daemon, want: &str) {
    let config = d.dir.path().join("failoverd.toml");
    until_met(
        &format!("status says firewall: {want}"),
        Duration::from_secs(30),
        || {
            let (_, out, err) = crate::daemonutil::cli(&["status"], &config);
            if out.contains(&format!("firewall: {want}")) {
                Ok(())
            } else {
                Err(format!("`failoverd status` printed:\n{out}{err}"))
            }
        },
        &|| d.report(),
    );
}

/// Consecutive repeats folded (retries after an unknown outcome).
pub fn folded(v: Vec<ActionKind>) -> Vec<ActionKind> {
    let mut out = v;
    out.dedup();
    out
}

/// A TCP peer that accepts and closes every connection. A listener that
/// never accepts fills its backlog after ~128 checks (25 s at 200 ms),
/// and then drops SYNs: fine for a short case, not for a soak.
pub struct Peer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Peer {
    pub fn listen(host: &str, port: u16) -> Peer {
        let listener = crate::daemonutil::listen(host, port);
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((c, _)) => drop(c),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Peer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Peer {
    /// Closes the port before returning.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
