//! The real daemon under test: settings and group files written to a
//! fresh folder, `failoverd run` started with a fake NOTIFY_SOCKET whose
//! READY=1 is timed, stderr kept in a log file, SIGTERM at the end.

use std::fmt::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A scratch folder, removed when dropped.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(what: &str) -> Scratch {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("failoverd-bench-{}-{n}-{what}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("cannot create a scratch folder");
        Scratch { path }
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path.join(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("FAILOVERD_BENCH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// How members are checked.
#[derive(Clone, Copy, Debug)]
pub enum Cond {
    Ping,
    Tcp(u16),
}

/// Groups of `per_group` members, each member one connection with one
/// target: `targets[i]` is connection `C{i}`.
pub fn groups_xml(targets: &[String], per_group: usize, cond: Cond) -> String {
    let mut x = String::from("<VPNFailoverGroups>\n");
    let condition = match cond {
        Cond::Ping => "<FailoverIF><Protocol>PING</Protocol></FailoverIF>".to_string(),
        Cond::Tcp(p) => format!("<FailoverIF><Protocol>TCP</Protocol><Port>{p}</Port></FailoverIF>"),
    };
    for (g, chunk) in (0..targets.len()).collect::<Vec<_>>().chunks(per_group).enumerate() {
        let _ = write!(x, "<VPNFailoverGroup><GroupDetail><Name>G{g}</Name><MemberConnections>");
        for i in chunk {
            let _ = write!(x, "<Connection>C{i}</Connection>");
        }
        let _ = writeln!(
            x,
            "</MemberConnections><FailoverCondition>{condition}</FailoverCondition></GroupDetail></VPNFailoverGroup>"
        );
    }
    x.push_str("</VPNFailoverGroups>\n");
    x
}

/// `[connections.C{i}]` for every target.
pub fn connections_toml(targets: &[String], via: &str) -> String {
    let mut t = String::new();
    for (i, target) in targets.iter().enumerate() {
        let _ = writeln!(t, "[connections.C{i}]\ntargets = [\"{target}\"]\nvia = \"{via}\"");
    }
    t
}

pub struct Daemon {
    pub child: Child,
    pub started: Instant,
    ready: Arc<Mutex<Option<Instant>>>,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `failoverd run -c settings` in `dir`.
    pub fn start(bin: &Path, dir: &Scratch, settings: &Path) -> Result<Daemon, String> {
        let sock = dir.path.join("notify.sock");
        let _ = std::fs::remove_file(&sock);
        let notify = UnixDatagram::bind(&sock).map_err(|e| format!("notify socket: {e}"))?;
        let ready = Arc::new(Mutex::new(None));
        let seen = ready.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = notify.recv(&mut buf) {
                let at = Instant::now();
                let text = String::from_utf8_lossy(&buf[..n]);
                if text.lines().any(|l| l == "READY=1") {
                    let mut r = seen.lock().unwrap();
                    if r.is_none() {
                        *r = Some(at);
                    }
                }
            }
        });
        let log = dir.path.join("failoverd.log");
        let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let child = Command::new(bin)
            .args(["run", "-c"])
            .arg(settings)
            .env("NOTIFY_SOCKET", &sock)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        Ok(Daemon {
            child,
            started,
            ready,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Time from spawn to READY=1, waiting up to `limit`.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<Duration, String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(at) = *self.ready.lock().unwrap() {
                return Ok(at - self.started);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "failoverd exited ({status}) before READY; log:\n{}",
                    self.log_tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("no READY=1 within {limit:?}; log:\n{}", self.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, then wait (SIGKILL after 10 s).
    pub fn stop(mut self) {
        stop_child(&mut self.child, libc::SIGTERM);
    }

    /// SIGTERM, then reap with `wait4`: the process's peak RSS over its
    /// whole life (`ru_maxrss`, MiB), so including what it did at stop
    /// (the save of the page's history). `None` if it had to be killed.
    pub fn stop_peak(mut self) -> Option<f64> {
        let pid = self.child.id() as i32;
        // SAFETY: kill on the pid of a child we have not reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let mut status = 0;
            // SAFETY: rusage is plain data; wait4 fills it for our child.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: our own unreaped child; pointers to locals.
            let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
            if r == pid {
                return Some(usage.ru_maxrss as f64 / 1024.0);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        stop_child(&mut self.child, libc::SIGKILL);
        None
    }
}

/// Sends `sig` to `child` and reaps it (SIGKILL after 10 s).
pub fn stop_child(child: &mut Child, sig: i32) {
    // SAFETY: kill on the pid of a child we have not reaped yet.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
