//! The real daemon for end-to-end tests: the `failoverd` binary started in
//! a temporary folder with settings, a group file and a password file, a
//! fake NOTIFY_SOCKET and its log captured; the firewall emulator over
//! HTTPS with a pinned certificate; loopback TCP listeners as peers.
//! Shared by daemon_e2e and the fault matrix.
#![allow(dead_code)] // each test crate uses a different part

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sfos_emulator::{ActionKind, Definition, Emulator, EmulatorConfig, Protocol};

pub const GROUP: &str = "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>TCP</Protocol><Port>PORT</Port></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>";

thread_local! {
    /// The emulator this test thread started last: every wait that times
    /// out describes it beside the daemon's last STATUS.
    static WATCHED: std::cell::RefCell<Option<sfos_emulator::Watcher>> = const { std::cell::RefCell::new(None) };
}

/// Describes the emulator this test thread started last, if any.
pub fn watched_emulator() -> String {
    WATCHED.with(|w| match &*w.borrow() {
        Some(watcher) => watcher.describe(),
        None => "(no emulator started by this test)\n".to_string(),
    })
}

pub struct Daemon {
    pub child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
    /// Every notification, read as it comes (a reader that lags would make
    /// the daemon drop them: its socket never blocks), and how far the
    /// test has looked.
    pub notes: Arc<Mutex<Vec<String>>>,
    pub seen: Mutex<usize>,
    pub dir: tempfile::TempDir,
}

pub fn settings(emu: &Emulator, port: u16, via: &str, extra: &str) -> String {
    format!(
        r#"groups = ["g.xml"]
state_dir = "state"
[probe]
interval = "200ms"
timeout = "200ms"
fall = 3
rise = 2
[connections.A]
targets = ["127.0.0.1"]
via = "{via}"
[connections.B]
targets = ["127.0.0.2"]
via = "{via}"
[firewall]
url = "{}"
username = "api"
password_file = "pw"
pin_sha256 = "{}"
{extra}
"#,
        emu.url(),
        emu.cert_fingerprint(),
    )
    .replace("PORT", &port.to_string())
}

impl Daemon {
    pub fn start(settings: &str, port: u16) -> Daemon {
        Daemon::start_with(settings, &GROUP.replace("PORT", &port.to_string()))
    }

    pub fn start_with(settings: &str, group: &str) -> Daemon {
        Daemon::start_in(Daemon::prepare(settings, group))
    }

    /// A folder with the settings, the group file and the password file.
    pub fn prepare(settings: &str, group: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("failoverd.toml"), settings).unwrap();
        std::fs::write(dir.path().join("g.xml"), group).unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret-<&>\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path().join("pw"), std::fs::Permissions::from_mode(0o600)).unwrap();
        dir
    }

    /// Starts (again) in a folder that holds the settings and the state.
    pub fn start_in(dir: tempfile::TempDir) -> Daemon {
        Daemon::start_wrapped(dir, &[])
    }

    /// Starts (again) in `dir`, the daemon's command line run by `wrapper`
    /// (e.g. `unshare -m ...`), which must exec it in the end.
    pub fn start_wrapped(dir: tempfile::TempDir, wrapper: &[&str]) -> Daemon {
        let _ = std::fs::remove_file(dir.path().join("notify.sock"));
        let sock = dir.path().join("notify.sock");
        let notify = UnixDatagram::bind(&sock).unwrap();
        let notes = Arc::new(Mutex::new(Vec::new()));
        let into = notes.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = notify.recv(&mut buf) {
                into.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        });
        let mut command = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(env!("CARGO_BIN_EXE_failoverd"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_failoverd")),
        };
        let mut child = command
            .args(["run", "-c"])
            .arg(dir.path().join("failoverd.toml"))
            .env("NOTIFY_SOCKET", &sock)
            .env("WATCHDOG_USEC", "400000")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Daemon {
            child,
            log,
            notes,
            seen: Mutex::new(0),
            dir,
        }
    }

    /// Waits (bounded) until the log has a line containing `want`.
    pub fn until_logged(&self, want: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.log.lock().unwrap().iter().any(|l| l.contains(want)) {
            assert!(
                Instant::now() < deadline,
                "no {want:?} in the log within {limit:?}\n{}",
                self.report()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Notifications received since the last call, until `want` shows up
    /// (bounded).
    pub fn until_notified(&self, want: &str, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        loop {
            let notes = self.notes.lock().unwrap().clone();
            let mut seen = self.seen.lock().unwrap();
            if let Some(i) = notes[*seen..].iter().position(|n| n.contains(want)) {
                let got = notes[*seen..=*seen + i].to_vec();
                *seen += i + 1;
                return got;
            }
            drop(seen);
            assert!(
                Instant::now() < deadline,
                "no {want:?} notified within {limit:?}; got {notes:?}\n{}",
                self.report()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends signal `sig` (a `kill` name such as `HUP`, `STOP`).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{sig} failed");
    }

    /// The port `[http] listen` bound (set it to port 0 and let the kernel
    /// pick: no free-port guess that another socket could take first).
    pub fn http_port(&self) -> u16 {
        const MARK: &str = "[http] listening on ";
        self.until_logged(MARK, Duration::from_secs(10));
        let log = self.log_text();
        let at = log.find(MARK).unwrap() + MARK.len();
        let addr: String = log[at..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '"')
            .collect();
        addr.parse::<std::net::SocketAddr>()
            .unwrap_or_else(|e| panic!("{addr:?} after {MARK:?} is no address: {e}"))
            .port()
    }

    /// The log so far, one string.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The daemon's last STATUS= notification.
    pub fn last_status(&self) -> String {
        let notes = self.notes.lock().unwrap();
        match notes
            .iter()
            .rev()
            .find_map(|n| n.lines().find(|l| l.starts_with("STATUS=")))
        {
            Some(line) => line.to_string(),
            None => "(no STATUS= yet)".to_string(),
        }
    }

    /// What a timed-out wait prints: the daemon's last STATUS, the
    /// emulator's view (its groups, requests in flight, the last requests)
    /// and the daemon's log.
    pub fn report(&self) -> String {
        format!(
            "the daemon's last {}\nthe emulator:\n{}the daemon's log:\n{}",
            self.last_status(),
            watched_emulator(),
            self.log_text()
        )
    }

    /// SIGKILL: no chance to clean up. Returns the log and the folder.
    pub fn crash(mut self) -> (Vec<String>, tempfile::TempDir) {
        self.signal("KILL");
        let _ = self.child.wait();
        let log = self.log.lock().unwrap().clone();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (log, dir)
    }

    pub fn stop(mut self) -> (i32, Vec<String>, PathBuf, tempfile::TempDir) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.until_notified("STOPPING=1", Duration::from_secs(10));
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        let log = self.log.lock().unwrap().clone();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (code, log, dir.path().join("state/state.json"), dir)
    }
}

impl Drop for Daemon {
    /// A failed test never leaves a daemon behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (bounded) until the emulator has recorded `n` actions for G.
pub fn actions(emu: &Emulator, n: usize, limit: Duration, log: &Arc<Mutex<Vec<String>>>) -> Vec<ActionKind> {
    let deadline = Instant::now() + limit;
    loop {
        let got: Vec<ActionKind> = emu
            .requests()
            .iter()
            .flat_map(|r| r.actions.iter().filter(|a| a.group == "G").map(|a| a.action))
            .collect();
        if got.len() >= n || Instant::now() > deadline {
            assert!(
                got.len() >= n,
                "{got:?} after {limit:?}; log:\n{}",
                log.lock().unwrap().join("\n")
            );
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn listen(addr: &str, port: u16) -> TcpListener {
    TcpListener::bind((addr, port)).unwrap()
}

pub fn emulator() -> (tokio::runtime::Runtime, Emulator) {
    emulator_with(true)
}

pub fn emulator_with(defined: bool) -> (tokio::runtime::Runtime, Emulator) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emu = rt
        .block_on(Emulator::start(EmulatorConfig {
            username: "api".into(),
            password: "s3cret-<&>".into(),
            ..EmulatorConfig::default()
        }))
        .unwrap();
    // The group exists on the firewall, active, as after `failoverd sync`.
    let definition = Definition {
        name: "G".into(),
        members: vec!["A".into(), "B".into()],
        mail: false,
        failback: Some(true),
        conditions: vec![(Protocol::Ping, None)],
    };
    if defined {
        emu.add_group(definition, true);
    }
    let watcher = emu.watcher();
    WATCHED.with(|w| *w.borrow_mut() = Some(watcher));
    (rt, emu)
}

/// The state file's entry for the (only) firewall.
pub fn firewall_state(state: &Path) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap();
    v["firewalls"].as_object().unwrap().values().next().unwrap().clone()
}

pub fn belief(state: &Path) -> String {
    firewall_state(state)["beliefs"]["G"]
        .as_str()
        .unwrap_or("none")
        .to_string()
}

pub fn cli(args: &[&str], config: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One raw HTTP/1.1 request to the daemon's `[http]` server on loopback:
/// the whole response, head and body.
pub fn http_get(port: u16, method: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// A TCP peer that accepts (and drops) every connection, so its backlog
/// never fills however long a test probes it; `close` takes the port away
/// (connections are then refused).
pub struct Accepting {
    pub port: u16,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Accepting {
    /// Listens on `addr:port` (port 0: the kernel picks).
    pub fn start(addr: &str, port: u16) -> Accepting {
        Accepting::try_start(addr, port).unwrap()
    }

    /// Two peers on one port: `127.0.0.1:P` and `127.0.0.2:P` (another
    /// port is picked while the second address has P taken).
    pub fn pair() -> (Accepting, Accepting) {
        for _ in 0..20 {
            let a = Accepting::start("127.0.0.1", 0);
            if let Ok(b) = Accepting::try_start("127.0.0.2", a.port) {
                return (a, b);
            }
        }
        panic!("no port free on both 127.0.0.1 and 127.0.0.2 in 20 tries");
    }

    pub fn try_start(addr: &str, port: u16) -> std::io::Result<Accepting> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = TcpListener::bind((addr, port))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => drop(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Accepting {
            port,
            stop,
            thread: Some(thread),
        })
    }

    /// Closes the port: connections are refused from now on.
    pub fn close(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Accepting {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Runs `failoverd ARGS -c config` until it exits `code` (bounded);
/// returns its stdout. A timeout shows the last output and `context`.
pub fn until_cli(args: &[&str], config: &Path, code: i32, limit: Duration, context: &dyn Fn() -> String) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let (got, out, err) = cli(args, config);
        if got == code {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "failoverd {args:?} did not exit {code} within {limit:?}; last exit {got}:\n{out}{err}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
