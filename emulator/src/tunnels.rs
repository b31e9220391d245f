//! The emulated firewall's tunnel table (SOPHOS-XG-MIB
//! `sfosIPSecVpnTunnelTable`, docs/firewall-api.md "The tunnel table over
//! SNMP"), served by a real Net-SNMP `snmpd` through a `pass_persist`
//! script that reads a data file this module rewrites atomically.
//!
//! Pushes the emulator accepts change the rows: Active makes the group's
//! first member activated and active (the others activated, inactive);
//! DeActive makes every member inactive and not activated. Fault
//! switches ([`TableFault`]) make it misbehave as firmware can.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::record::lock;

/// `sfosIPSecVpnTunnelEntry`.
pub const ENTRY: &str = ".1.3.6.1.4.1.2604.5.1.6.1.1.1.1";

/// The script snmpd runs (`pass_persist`).
const SCRIPT: &str = include_str!("tunnel_table.py");

/// One row: `sfosIPSecVpnConnId`, name, status (inactive 0, active 1,
/// partially active 2) and activated (0, 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelRow {
    pub index: u32,
    pub name: String,
    pub status: u8,
    pub activated: u8,
}

/// How the table misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFault {
    /// Pushes are accepted (2xx) but the rows do not change.
    NotApplied,
    /// Active carries the group on its second member instead of the first.
    CarryOther,
    /// Firmware before SFOS 20: no status (.9) and activated (.10) columns.
    OldFirmware,
    /// The status column holds strings (`"active"`), not integers.
    StatusAsString,
    /// The status column holds 7, which SOPHOS-XG-MIB does not define.
    StatusOutOfRange,
    /// The names are bytes that are not UTF-8.
    NameNotUtf8,
    /// After this many answers the table gains a row: a walk in progress
    /// sees the columns disagree.
    ChangeAfter(u32),
    /// After this many answers the table is empty.
    VanishAfter(u32),
}

impl TableFault {
    fn same_kind(&self, other: &TableFault) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

#[derive(Debug, Default)]
struct TableState {
    rows: Vec<TunnelRow>,
    faults: Vec<TableFault>,
}

/// The table and the file snmpd's script reads it from.
pub struct Tunnels {
    file: PathBuf,
    state: Mutex<TableState>,
}

impl std::fmt::Debug for Tunnels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnels")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

fn render_rows(out: &mut String, rows: &[TunnelRow], faults: &[TableFault]) {
    let has = |f: TableFault| faults.contains(&f);
    for r in rows {
        if has(TableFault::NameNotUtf8) {
            let hex: Vec<String> = r.name.bytes().map(|b| format!("{:02X}", b | 0x80)).collect();
            let _ = writeln!(out, "{ENTRY}.2.{} octet {}", r.index, hex.join(" "));
        } else {
            let _ = writeln!(out, "{ENTRY}.2.{} string {}", r.index, r.name);
        }
        if has(TableFault::OldFirmware) {
            continue;
        }
        if has(TableFault::StatusAsString) {
            let word = ["inactive", "active", "partially-active"][usize::from(r.status.min(2))];
            let _ = writeln!(out, "{ENTRY}.9.{} string {word}", r.index);
        } else if has(TableFault::StatusOutOfRange) {
            let _ = writeln!(out, "{ENTRY}.9.{} integer 7", r.index);
        } else {
            let _ = writeln!(out, "{ENTRY}.9.{} integer {}", r.index, r.status);
        }
        let _ = writeln!(out, "{ENTRY}.10.{} integer {}", r.index, r.activated);
    }
}

impl Tunnels {
    fn new(file: PathBuf) -> Tunnels {
        Tunnels {
            file,
            state: Mutex::default(),
        }
    }

    /// The data file's text (phases separated by `@after N`).
    fn render(state: &TableState) -> String {
        let mut out = String::new();
        render_rows(&mut out, &state.rows, &state.faults);
        for f in &state.faults {
            match *f {
                TableFault::ChangeAfter(n) => {
                    let mut more = state.rows.clone();
                    let next = more.iter().map(|r| r.index).max().unwrap_or(0) + 1;
                    more.push(TunnelRow {
                        index: next,
                        name: format!("Added_{next}"),
                        status: 1,
                        activated: 1,
                    });
                    let _ = writeln!(out, "@after {n}");
                    render_rows(&mut out, &more, &state.faults);
                }
                TableFault::VanishAfter(n) => {
                    let _ = writeln!(out, "@after {n}");
                }
                _ => {}
            }
        }
        out
    }

    /// Writes the file whole: a temporary file, then a rename, so the
    /// script never reads half a table.
    fn write(&self, state: &TableState) {
        let tmp = self.file.with_extension("tmp");
        if std::fs::write(&tmp, Self::render(state)).is_ok() {
            let _ = std::fs::rename(&tmp, &self.file);
        }
    }

    /// The rows now.
    pub fn rows(&self) -> Vec<TunnelRow> {
        lock(&self.state).rows.clone()
    }

    /// Replaces every row.
    pub fn set_rows(&self, rows: Vec<TunnelRow>) {
        let mut s = lock(&self.state);
        s.rows = rows;
        self.write(&s);
    }

    /// Adds `n` rows named `Other_1` ... (connections no group uses).
    pub fn add_other_rows(&self, n: u32) {
        let mut s = lock(&self.state);
        let start = s.rows.iter().map(|r| r.index).max().unwrap_or(0);
        for i in 1..=n {
            s.rows.push(TunnelRow {
                index: start + i,
                name: format!("Other_{i}"),
                status: (i % 3) as u8,
                activated: (i % 2) as u8,
            });
        }
        self.write(&s);
    }

    /// Switches a fault on, replacing one of the same kind.
    pub fn set_fault(&self, fault: TableFault) {
        let mut s = lock(&self.state);
        s.faults.retain(|f| !f.same_kind(&fault));
        s.faults.push(fault);
        self.write(&s);
    }

    pub fn clear_faults(&self) {
        let mut s = lock(&self.state);
        s.faults.clear();
        self.write(&s);
    }

    /// A row for each of `members` not in the table yet; the group's
    /// state sets their status as a push would.
    pub fn add_group(&self, members: &[String], active: bool) {
        let mut s = lock(&self.state);
        for m in members {
            if !s.rows.iter().any(|r| &r.name == m) {
                let index = s.rows.iter().map(|r| r.index).max().unwrap_or(0) + 1;
                s.rows.push(TunnelRow {
                    index,
                    name: m.clone(),
                    status: 0,
                    activated: 0,
                });
            }
        }
        Self::apply(&mut s, members, active);
        self.write(&s);
    }

    fn apply(s: &mut TableState, members: &[String], active: bool) {
        let carrier = if s.faults.contains(&TableFault::CarryOther) && members.len() > 1 {
            1
        } else {
            0
        };
        for (i, m) in members.iter().enumerate() {
            for r in s.rows.iter_mut().filter(|r| &r.name == m) {
                (r.status, r.activated) = match (active, i == carrier) {
                    (true, true) => (1, 1),
                    (true, false) => (0, 1),
                    (false, _) => (0, 0),
                };
            }
        }
    }

    /// An accepted Active (`active`) or DeActive of a group with these
    /// members, in order.
    pub fn switched(&self, members: &[String], active: bool) {
        let mut s = lock(&self.state);
        if s.faults.contains(&TableFault::NotApplied) {
            return;
        }
        Self::apply(&mut s, members, active);
        self.write(&s);
    }
}

/// A v3 user snmpd knows (always authPriv). Protocols as Net-SNMP spells
/// them: `SHA`, `SHA-256`, `SHA-512`, `MD5`; `AES`, `AES256`, `DES`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V3User {
    pub name: String,
    pub auth: String,
    pub auth_password: String,
    pub privacy: String,
    pub privacy_password: String,
}

/// What snmpd is started with.
#[derive(Clone, Debug)]
pub struct AgentOptions {
    pub community: String,
    pub users: Vec<V3User>,
}

/// Where snmpd is, if installed.
pub fn snmpd_path() -> Option<PathBuf> {
    ["/usr/sbin/snmpd", "/usr/bin/snmpd", "/usr/local/sbin/snmpd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A UDP port for snmpd (which cannot take port 0): below the kernel's
/// ephemeral range, which port-0 binds never hand out, unique within the
/// process (a counter from a base the process id picks), and free on
/// 127.0.0.1 and 127.0.0.2 when checked. Another process can still take
/// it before snmpd binds; [`SnmpAgent::start`] then tries another.
pub fn free_udp_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<usize>().ok())
        .unwrap_or(32768);
    const BASE: usize = 12_000;
    let span = low.saturating_sub(BASE).max(1000);
    let start = std::process::id() as usize * 389;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = (BASE + (start + n * 11) % span) as u16;
        let free = |ip: [u8; 4]| UdpSocket::bind((Ipv4Addr::from(ip), port)).is_ok();
        if free([127, 0, 0, 1]) && free([127, 0, 0, 2]) {
            return port;
        }
    }
    panic!("no free UDP port below the ephemeral range");
}

/// A running snmpd serving [`Tunnels`] on 127.0.0.1. Dropping it kills
/// snmpd and removes its folder.
pub struct SnmpAgent {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    options: AgentOptions,
    pub tunnels: Arc<Tunnels>,
}

static AGENTS: AtomicUsize = AtomicUsize::new(0);

impl SnmpAgent {
    /// Starts snmpd with `options`, the table empty. Errors say what is
    /// missing (snmpd not installed) or what snmpd said.
    pub fn start(options: AgentOptions) -> Result<SnmpAgent, String> {
        let n = AGENTS.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("sfos-emulator-snmpd-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("persist")).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let script = dir.join("tunnel_table.py");
        std::fs::write(&script, SCRIPT).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755));
        let tunnels = Arc::new(Tunnels::new(dir.join("table")));
        tunnels.write(&lock(&tunnels.state));
        let mut agent = SnmpAgent {
            child: None,
            dir,
            port: 0,
            options,
            tunnels,
        };
        agent.spawn()?;
        Ok(agent)
    }

    fn config(&self, port: u16) -> String {
        let mut c = format!(
            "agentAddress udp:127.0.0.1:{port}\nrocommunity {} 127.0.0.0/8\n",
            self.options.community
        );
        for u in &self.options.users {
            let _ = writeln!(
                c,
                "createUser {} {} {} {} {}\nrouser {} priv",
                u.name, u.auth, u.auth_password, u.privacy, u.privacy_password, u.name
            );
        }
        let _ = writeln!(
            c,
            "pass_persist {ENTRY} {} {}",
            self.dir.join("tunnel_table.py").display(),
            self.tunnels.file.display()
        );
        c
    }

    fn spawn(&mut self) -> Result<(), String> {
        let snmpd = snmpd_path().ok_or("snmpd is not installed (Debian package snmpd)")?;
        let mut last = String::new();
        for _ in 0..5 {
            let port = if self.port == 0 { free_udp_port() } else { self.port };
            let conf = self.dir.join("snmpd.conf");
            std::fs::write(&conf, self.config(port)).map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
            // Users are created from the file at each start, not kept.
            let _ = std::fs::remove_dir_all(self.dir.join("persist"));
            let _ = std::fs::create_dir_all(self.dir.join("persist"));
            let log = self.dir.join("snmpd.log");
            let _ = std::fs::remove_file(&log);
            let out = std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
            let err = out.try_clone().map_err(|e| e.to_string())?;
            let mut child = Command::new(&snmpd)
                .arg("-f")
                .arg("-Lo")
                .arg("-C")
                .arg("-c")
                .arg(&conf)
                .arg("-p")
                .arg(self.dir.join("snmpd.pid"))
                .arg(format!("--persistentDir={}", self.dir.join("persist").display()))
                .env("MIBS", "")
                .env("MIBDIRS", self.dir.join("no-mibs"))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", snmpd.display()))?;
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!("snmpd exited ({status}): {}", text.trim());
                    break;
                }
                let bound = UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_err();
                if bound && text.contains("NET-SNMP version") {
                    self.child = Some(child);
                    self.port = port;
                    return Ok(());
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = format!("snmpd did not start within 15 s: {}", text.trim());
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.port != 0 {
                break;
            }
        }
        Err(last)
    }

    /// Where snmpd answers.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// snmpd's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn signal(&self, sig: &str) -> Result<(), String> {
        let pid = self.pid().ok_or("snmpd is not running")?;
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .map_err(|e| e.to_string())?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("kill -{sig} {pid} failed"))
    }

    /// The agent stops answering (snmpd is stopped, its socket stays).
    pub fn stop_answering(&self) -> Result<(), String> {
        self.signal("STOP")
    }

    /// It answers again.
    pub fn resume(&self) -> Result<(), String> {
        self.signal("CONT")
    }

    /// Restarts snmpd on the same port with other options: e.g. v3
    /// passwords that no longer match what the client has.
    pub fn restart_with(&mut self, options: AgentOptions) -> Result<(), String> {
        if let Some(mut c) = self.child.take() {
            let _ = self.signal("CONT");
            let _ = c.kill();
            let _ = c.wait();
        }
        self.options = options;
        self.spawn()
    }

    /// What snmpd logged, for a failed test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("snmpd.log")).unwrap_or_default()
    }

    pub fn options(&self) -> &AgentOptions {
        &self.options
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for SnmpAgent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-CONT").arg(c.id().to_string()).status();
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A UDP front that passes requests to `agent` and sends its answers back
/// from another address (127.0.0.2): an agent answering from an address
/// the client did not ask. Stops when dropped.
pub struct OtherAddressFront {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl OtherAddressFront {
    pub async fn start(agent: SocketAddr) -> Result<OtherAddressFront, String> {
        use tokio::net::UdpSocket;
        let front = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| e.to_string())?;
        let back = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| e.to_string())?;
        let other = UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 2), 0))
            .await
            .map_err(|e| format!("cannot bind 127.0.0.2: {e}"))?;
        let addr = front.local_addr().map_err(|e| e.to_string())?;
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            let mut back_buf = vec![0u8; 65536];
            let mut client: Option<SocketAddr> = None;
            loop {
                tokio::select! {
                    r = front.recv_from(&mut buf) => {
                        let Ok((n, from)) = r else { return };
                        client = Some(from);
                        let _ = back.send_to(&buf[..n], agent).await;
                    }
                    r = back.recv_from(&mut back_buf) => {
                        let Ok((n, _)) = r else { return };
                        if let Some(c) = client {
                            let _ = other.send_to(&back_buf[..n], c).await;
                        }
                    }
                }
            }
        });
        Ok(OtherAddressFront { addr, task })
    }

    /// Where clients send.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for OtherAddressFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(m: &[&str]) -> Vec<String> {
        m.iter().map(|s| s.to_string()).collect()
    }

    fn table() -> Tunnels {
        let dir = std::env::temp_dir().join(format!("sfos-emulator-tunnels-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        Tunnels::new(dir.join(format!("t{}", AGENTS.fetch_add(1, Ordering::SeqCst))))
    }

    fn states(t: &Tunnels) -> Vec<(String, u8, u8)> {
        t.rows().into_iter().map(|r| (r.name, r.status, r.activated)).collect()
    }

    #[test]
    fn pushes_change_the_rows_and_faults_bend_them() {
        let t = table();
        let hq = members(&["A", "B"]);
        t.add_group(&hq, true);
        assert_eq!(states(&t), [("A".into(), 1, 1), ("B".into(), 0, 1)]);
        t.switched(&hq, false);
        assert_eq!(states(&t), [("A".into(), 0, 0), ("B".into(), 0, 0)]);
        t.set_fault(TableFault::CarryOther);
        t.switched(&hq, true);
        assert_eq!(states(&t), [("A".into(), 0, 1), ("B".into(), 1, 1)]);
        t.set_fault(TableFault::NotApplied);
        t.switched(&hq, false);
        assert_eq!(states(&t), [("A".into(), 0, 1), ("B".into(), 1, 1)]);
        let text = std::fs::read_to_string(&t.file).unwrap();
        assert!(text.contains(&format!("{ENTRY}.9.2 integer 1")), "{text}");
        t.set_fault(TableFault::OldFirmware);
        let text = std::fs::read_to_string(&t.file).unwrap();
        assert!(
            !text.contains(".9.") && text.contains(&format!("{ENTRY}.2.1 string A")),
            "{text}"
        );
        t.clear_faults();
        t.set_fault(TableFault::VanishAfter(3));
        let text = std::fs::read_to_string(&t.file).unwrap();
        assert!(text.trim_end().ends_with("@after 3"), "{text}");
        let _ = std::fs::remove_file(&t.file);
    }
}
