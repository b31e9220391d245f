//! Two real `failoverd run`s as a pair (docs/ha.md, Tests): one in each
//! host's namespace, with `[ha]`, probing ICMP on their own loopback, the
//! firewall emulator and an SMTP server inside the switch's namespace
//! (198.51.100.1 on the bridge), reachable from both hosts. The emulator
//! records each request's source address, so every request is known by
//! the host that sent it; each host mails with its own envelope sender.

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sfos_emulator::{ActionKind, Definition, Emulator, EmulatorConfig, Protocol};

use super::{Host, Lan, VIP};
use crate::mailutil::{Mailin, MailinOptions, Received, mailin};
use crate::netutil::Namespace;

/// The switch's address on the bridge, where the firewall and SMTP are.
pub const SERVICES: &str = "198.51.100.1";

/// Runs `f` on a thread inside `ns` (setns), for sockets bound there.
pub fn in_ns<T: Send + 'static>(ns: &Namespace, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = std::fs::File::open(format!("/var/run/netns/{}", ns.name)).unwrap();
    std::thread::spawn(move || {
        // SAFETY: setns on this thread only, with a valid descriptor of a
        // network namespace; sockets made here stay in that namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap()
}

/// The firewall emulator and an SMTP server on the switch.
pub struct Services {
    pub rt: tokio::runtime::Runtime,
    pub emu: Emulator,
    pub mail: Mailin,
    /// Every mail received so far.
    pub mails: Vec<Received>,
}

impl Services {
    pub fn start(lan: &Lan) -> Services {
        lan.switch
            .exec(&["ip", "addr", "add", &format!("{SERVICES}/24"), "dev", "br0"]);
        let (rt, emu, mail) = in_ns(&lan.switch, || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let emu = rt
                .block_on(Emulator::start(EmulatorConfig {
                    listen: format!("{SERVICES}:0").parse().unwrap(),
                    username: "api".into(),
                    password: "s3cret".into(),
                    ..EmulatorConfig::default()
                }))
                .unwrap();
            let listener = TcpListener::bind((SERVICES, 0)).unwrap();
            let mail = mailin(listener, MailinOptions::default());
            (rt, emu, mail)
        });
        for (name, members) in [("G", ["A", "B"]), ("H", ["C", "D"])] {
            emu.add_group(
                Definition {
                    name: name.into(),
                    members: members.iter().map(|m| m.to_string()).collect(),
                    mail: false,
                    failback: Some(true),
                    conditions: vec![(Protocol::Ping, None)],
                },
                true,
            );
        }
        Services {
            rt,
            emu,
            mail,
            mails: Vec::new(),
        }
    }

    /// Pushes (Active, DeActive) as (source address, group, action, when).
    pub fn pushes(&self) -> Vec<(String, String, ActionKind, std::time::SystemTime)> {
        self.emu
            .requests()
            .iter()
            .flat_map(|r| {
                r.actions
                    .iter()
                    .filter(|a| matches!(a.action, ActionKind::Active | ActionKind::DeActive))
                    .map(move |a| (r.peer.to_string(), a.group.clone(), a.action, r.at))
            })
            .collect()
    }

    /// Every request's source address (Gets and syncs included).
    pub fn senders(&self) -> Vec<String> {
        self.emu.requests().iter().map(|r| r.peer.to_string()).collect()
    }

    /// Takes the mails that arrived.
    pub fn collect_mail(&mut self) -> &[Received] {
        while let Ok(m) = self.mail.rx.try_recv() {
            self.mails.push(m);
        }
        &self.mails
    }

    /// Waits until a mail from `from` carries `kind` in X-Failoverd-Event.
    pub fn wait_mail(&mut self, from: &str, kind: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let found = self
                .collect_mail()
                .iter()
                .any(|m| m.from.contains(from) && m.header("X-Failoverd-Event").is_some_and(|h| h.contains(kind)));
            if found {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A `failoverd run` of the pair in one host; killed when dropped.
pub struct PairDaemon {
    pub child: Option<Child>,
    pub dir: PathBuf,
}

impl PairDaemon {
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("failoverd.log")).unwrap_or_default()
    }

    /// `failoverd` with `args` against this host's daemon, in its namespace.
    pub fn cli(&self, host: &Host, args: &[&str]) -> (i32, String, String) {
        let out = host
            .ns
            .command(env!("CARGO_BIN_EXE_failoverd"))
            .args(args)
            .args(["-c", self.dir.join("failoverd.toml").to_str().unwrap()])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for PairDaemon {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Host {
    /// The daemon's folder (settings, state) in this host's temp folder.
    fn pair_dir(&self) -> PathBuf {
        self.dir.path().join("pair")
    }

    /// Starts this host's `failoverd run` of the pair: groups G (A, B)
    /// and H (C, D) on loopback addresses, `[http]` on 0.0.0.0:9733 (the
    /// peer reads it, the track script asks 127.0.0.1), mailing from
    /// `failoverd-<name>@example.com`. Waits until /status answers.
    pub fn start_pair_daemon(&self, svc: &Services, peer_ip: &str) -> PairDaemon {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.pair_dir();
        let _ = std::fs::create_dir(&dir);
        let mail_port = svc.mail.port;
        let conns: String = [
            ("A", "127.0.0.1"),
            ("B", "127.0.0.2"),
            ("C", "127.0.0.3"),
            ("D", "127.0.0.4"),
        ]
        .iter()
        .map(|(c, t)| format!("[connections.{c}]\ntargets = [\"{t}\"]\nvia = \"underlay\"\n"))
        .collect();
        let settings = format!(
            "groups = [\"g*.xml\"]\nstate_dir = \"state\"\n[probe]\ninterval = \"200ms\"\ntimeout = \"200ms\"\nfall = 3\nrise = 2\n\
             {conns}[firewall]\nurl = \"{}\"\nusername = \"api\"\npassword_file = \"pw\"\npin_sha256 = \"{}\"\n\
             [mail]\nserver = \"smtp://{SERVICES}:{mail_port}?tls=none\"\nfrom = \"failoverd {n} <failoverd-{n}@example.com>\"\n\
             to = [\"netops@example.com\"]\ncoalesce = \"0s\"\nmax_per_hour = 1000\ntimeout = \"2s\"\n\
             [http]\nlisten = \"0.0.0.0:9733\"\n[ha]\naddress = \"{VIP}\"\npeer = \"http://{peer_ip}:9733/status\"\n",
            svc.emu.url(),
            svc.emu.cert_fingerprint(),
            n = self.name,
        );
        std::fs::write(dir.join("failoverd.toml"), settings).unwrap();
        for (g, a, b) in [("G", "A", "B"), ("H", "C", "D")] {
            std::fs::write(
                dir.join(format!("g{g}.xml")),
                format!(
                    "<VPNFailoverGroup><GroupDetail><Name>{g}</Name><MemberConnections><Connection>{a}</Connection>\
                     <Connection>{b}</Connection></MemberConnections><MailNotification>Enable</MailNotification>\
                     </GroupDetail></VPNFailoverGroup>"
                ),
            )
            .unwrap();
        }
        std::fs::write(dir.join("pw"), "s3cret").unwrap();
        std::fs::set_permissions(dir.join("pw"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("failoverd.log"))
            .unwrap();
        let child = self
            .ns
            .command(env!("CARGO_BIN_EXE_failoverd"))
            .args(["run", "-c", dir.join("failoverd.toml").to_str().unwrap()])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start failoverd");
        let daemon = PairDaemon {
            child: Some(child),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.status_answers() {
            assert!(
                Instant::now() < deadline,
                "{}: failoverd's /status never answered:\n{}",
                self.name,
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }
}
