//! The firewall and SMTP passwords never appear in any output: every
//! command and the daemon run at trace level (`--log-level trace`, and
//! `RUST_LOG=trace`) with canary passwords, through a failover that is
//! mailed over STARTTLS with AUTH, and through the error paths (login
//! refused by the firewall, AUTH refused by the mail server, a wrong pin,
//! an untrusted certificate, broken settings). stdout, stderr, the mails
//! received, `/status`, `/metrics`, the status page `/` and every file in the state directory
//! are searched for the canaries and their encodings (the raw text, any
//! escaping that keeps its letters: XML, percent, JSON, TOML, Debug; and
//! base64 at every alignment, as AUTH PLAIN and LOGIN carry it).
//!
//! The same runs check the TLS defaults from the command line: the
//! emulator's self-signed certificate is refused without a pin, a wrong
//! pin is refused naming the presented fingerprint, an SMTP certificate
//! from an unknown CA is refused; and `insecure = true` is warned about by
//! every command that talks to the firewall and by the daemon at start.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sfos_emulator::{ActionKind, Definition, Emulator, EmulatorConfig, Fault, Protocol};

mod mailutil;

/// The canaries: a distinctive core (kept by every escaping) and the
/// characters that XML, URLs, TOML and JSON each escape differently.
const FW_CORE: &str = "Fwc4n4ry71";
const FW_PASSWORD: &str = "Fwc4n4ry71<&>\"' %+/x";
const SMTP_CORE: &str = "Smc4n4ry92";
const SMTP_PASSWORD: &str = "Smc4n4ry92<&>\"' %+/y";

const GROUP: &str = "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><MailNotification>Enable</MailNotification><FailoverCondition><FailoverIF><Protocol>TCP</Protocol><Port>PORT</Port></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>";

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What a leak of `secret` could look like in text: the core, and the
/// stable middle of its base64 at each of the three alignments it can
/// have inside a longer encoded string (AUTH PLAIN encodes
/// `\0user\0password`).
fn needles(secret: &str, core: &str) -> Vec<String> {
    let mut out = vec![secret.to_string(), core.to_string()];
    for pad in 0..3 {
        let mut bytes = vec![0u8; pad];
        bytes.extend_from_slice(secret.as_bytes());
        let encoded = base64(&bytes);
        // Leading characters depend on the pad, trailing ones on what follows.
        let skip = if pad == 0 { 0 } else { 4 };
        let end = encoded.len() - 4;
        out.push(encoded[skip..end].to_string());
    }
    out
}

fn all_needles() -> Vec<String> {
    let mut all = needles(FW_PASSWORD, FW_CORE);
    all.extend(needles(SMTP_PASSWORD, SMTP_CORE));
    all
}

fn has_canary(text: &str) -> bool {
    all_needles().iter().any(|n| text.contains(n.as_str()))
}

/// The search itself finds every encoding a leak could take.
#[test]
fn the_search_finds_every_encoding() {
    for (pw, user) in [(FW_PASSWORD, "api"), (SMTP_PASSWORD, "alert"), (SMTP_PASSWORD, "x")] {
        let xml = pw
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        let percent: String = pw
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let plain = base64(format!("\0{user}\0{pw}").as_bytes());
        let login = base64(pw.as_bytes());
        for (i, prefix) in ["", "a", "ab", "abc"].iter().enumerate() {
            let shifted = base64(format!("{prefix}{pw}-and-more").as_bytes());
            assert!(has_canary(&format!("AUTH X {shifted}")), "alignment {i}");
        }
        for text in [
            format!("<Password>{xml}</Password>"),
            format!("reqxml=...{percent}..."),
            format!("AUTH PLAIN {plain}"),
            format!("{login}\r\n"),
            format!("{pw:?}"),
            serde_json::to_string(pw).unwrap(),
        ] {
            assert!(has_canary(&text), "{text}");
        }
    }
    assert!(!has_canary("Fwc4n4ry7 Smc4n4ry9 ********"));
}

/// Every piece of output gathered, labelled, to be searched at the end.
#[derive(Default)]
struct Seen {
    texts: Vec<(String, String)>,
}

impl Seen {
    fn add(&mut self, label: impl Into<String>, text: impl Into<String>) {
        self.texts.push((label.into(), text.into()));
    }

    /// Adds every regular file under `dir`.
    fn add_dir(&mut self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                self.add_dir(&p);
            } else if meta.is_file() {
                let bytes = std::fs::read(&p).unwrap_or_default();
                self.add(p.display().to_string(), String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }

    /// Fails naming every piece of output that holds a canary, and says
    /// how much was searched.
    fn assert_clean(&self) {
        let mut leaks = Vec::new();
        for (label, text) in &self.texts {
            for n in &all_needles() {
                if let Some(at) = text.find(n.as_str()) {
                    let from = text[..at].char_indices().rev().nth(80).map_or(0, |(i, _)| i);
                    let to = (at + n.len() + 40).min(text.len());
                    let to = (to..=text.len())
                        .find(|&i| text.is_char_boundary(i))
                        .unwrap_or(text.len());
                    leaks.push(format!("{label}: {n:?} in …{}…", &text[from..to]));
                }
            }
        }
        assert!(leaks.is_empty(), "the password leaked:\n{}", leaks.join("\n"));
        let bytes: usize = self.texts.iter().map(|(_, t)| t.len()).sum();
        eprintln!("searched {} outputs, {bytes} bytes: no canary", self.texts.len());
    }
}

/// How verbosity is asked for.
#[derive(Clone, Copy)]
enum Trace {
    Flag,
    Env,
}

struct Setup {
    dir: tempfile::TempDir,
    trace: Trace,
}

impl Setup {
    fn config(&self) -> PathBuf {
        self.dir.path().join("failoverd.toml")
    }

    /// Runs a command at trace level; returns its exit code, stdout and
    /// stderr, all three recorded in `seen`.
    fn cli(&self, seen: &mut Seen, args: &[&str]) -> (i32, String, String) {
        self.cli_with(seen, args, &self.config())
    }

    fn cli_with(&self, seen: &mut Seen, args: &[&str], config: &Path) -> (i32, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_failoverd"));
        cmd.args(args).arg("-c").arg(config).env("NO_COLOR", "1");
        match self.trace {
            Trace::Flag => cmd.args(["--log-level", "trace"]).env_remove("RUST_LOG"),
            Trace::Env => cmd.env("RUST_LOG", "trace"),
        };
        let out = cmd.output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let label = format!("{} {}", args.join(" "), config.display());
        seen.add(format!("stdout of {label}"), stdout.clone());
        seen.add(format!("stderr of {label}"), stderr.clone());
        (code, stdout, stderr)
    }

    /// Writes a settings file next to the main one (same group file and
    /// password files) and returns its path.
    fn variant(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }
}

fn write_secret(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A TOML basic string holding `s`.
fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn runtime_and_emulator() -> (tokio::runtime::Runtime, Emulator) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emu = rt
        .block_on(Emulator::start(EmulatorConfig {
            username: "api".into(),
            password: FW_PASSWORD.into(),
            ..EmulatorConfig::default()
        }))
        .unwrap();
    emu.add_group(
        Definition {
            name: "G".into(),
            members: vec!["A".into(), "B".into()],
            mail: true,
            failback: None,
            conditions: vec![(Protocol::Tcp, None)],
        },
        true,
    );
    (rt, emu)
}

/// Settings with the passwords inline or in files, for the emulator and a
/// STARTTLS mail server with AUTH.
struct Parts<'a> {
    emu: &'a Emulator,
    port: u16,
    smtp_port: u16,
    ca: &'a Path,
    inline: bool,
    http_port: u16,
}

fn settings(p: &Parts<'_>) -> String {
    let (fw_pw, mail_pw) = if p.inline {
        (
            format!("password = {}", toml_str(FW_PASSWORD)),
            format!("password = {}", toml_str(SMTP_PASSWORD)),
        )
    } else {
        (
            "password_file = \"fw.pw\"".to_string(),
            "password_file = \"mail.pw\"".to_string(),
        )
    };
    format!(
        r#"groups = ["g.xml"]
state_dir = "state"
[probe]
interval = "200ms"
timeout = "200ms"
fall = 2
rise = 2
[connections.A]
targets = ["127.0.0.1"]
via = "underlay"
[connections.B]
targets = ["127.0.0.2"]
via = "underlay"
[firewall]
url = "{url}"
username = "api"
{fw_pw}
pin_sha256 = "{pin}"
config_retry = "1s"
[guard]
settle = "0s"
[mail]
server = "smtp://127.0.0.1:{smtp}"
from = "failoverd <failoverd@example.com>"
to = ["netops@example.com"]
username = "alert"
{mail_pw}
ca_file = "{ca}"
coalesce = "0s"
[http]
listen = "127.0.0.1:{http}"
"#,
        url = p.emu.url(),
        pin = p.emu.cert_fingerprint(),
        smtp = p.smtp_port,
        ca = p.ca.display(),
        http = p.http_port,
    )
    .replace("PORT", &p.port.to_string())
}

fn setup(p: &Parts<'_>, trace: Trace) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let s = Setup { dir, trace };
    s.variant("failoverd.toml", &settings(p));
    let group = if p.inline {
        // A whole API request, Login and all: read, warned, never printed.
        format!(
            "<Request><Login><Username>api</Username><Password>{}</Password></Login><Set operation=\"add\">{}</Set></Request>",
            FW_PASSWORD
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;"),
            GROUP
        )
    } else {
        GROUP.to_string()
    };
    std::fs::write(s.dir.path().join("g.xml"), group.replace("PORT", &p.port.to_string())).unwrap();
    write_secret(&s.dir.path().join("fw.pw"), &format!("{FW_PASSWORD}\n"));
    write_secret(&s.dir.path().join("mail.pw"), &format!("{SMTP_PASSWORD}\n"));
    s
}

/// A port for the daemon's `[http] listen`, from below the ephemeral range
/// so that no port-0 bind of a test running beside can take it meanwhile.
fn free_port() -> u16 {
    mailutil::free_port()
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The daemon, its stderr collected as it comes.
struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    fn start(s: &Setup) -> Daemon {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_failoverd"));
        cmd.args(["run", "-c"]).arg(s.config()).env("NO_COLOR", "1");
        match s.trace {
            Trace::Flag => cmd.args(["--log-level", "trace"]).env_remove("RUST_LOG"),
            Trace::Env => cmd.env("RUST_LOG", "trace"),
        };
        let mut child = cmd.stderr(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
        }
        Daemon { child, log }
    }

    fn until_logged(&self, want: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.log.lock().unwrap().iter().any(|l| l.contains(want)) {
            assert!(
                Instant::now() < deadline,
                "no {want:?} in the log within {limit:?}:\n{}",
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// failoverd's own lines of the log, the last 60 (trace lines of
    /// dependencies left out).
    fn tail(&self) -> String {
        let log = self.log.lock().unwrap();
        let own: Vec<&String> = log.iter().filter(|l| l.contains(" failoverd")).collect();
        let from = own.len().saturating_sub(60);
        own[from..].iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n")
    }

    /// SIGTERM, wait, and the whole log.
    fn stop(mut self) -> (i32, String) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        std::thread::sleep(Duration::from_millis(100));
        (code, self.log.lock().unwrap().join("\n"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (bounded) for a mail whose text contains `want`, keeping every
/// mail in `seen`.
fn mail_with(rt: &tokio::runtime::Runtime, smtp: &mut mailutil::Mailin, seen: &mut Seen, want: &str, d: &Daemon) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let got = rt.block_on(async { tokio::time::timeout(left, smtp.rx.recv()).await });
        let Ok(Some(mail)) = got else {
            panic!("no mail with {want:?} within 30s; log:\n{}", d.tail());
        };
        assert!(mail.user.as_deref() == Some("alert"), "mail sent without AUTH");
        // Quoted-printable soft line breaks may fall inside the word.
        let hit = mail.raw.replace("=\r\n", "").contains(want);
        seen.add(format!("mail {:?}", mail.header("Subject")), mail.raw);
        if hit {
            return;
        }
    }
}

fn wait_for_action(emu: &Emulator, kind: ActionKind, d: &Daemon) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !emu
        .requests()
        .iter()
        .flat_map(|r| r.actions.clone())
        .any(|a| a.action == kind)
    {
        assert!(Instant::now() < deadline, "no {kind:?} pushed; log:\n{}", d.tail());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every command, then the daemon through a failover with mail, with the
/// passwords in files (`--log-level trace`) or inline (`RUST_LOG=trace`).
fn every_command_and_the_daemon(inline: bool, trace: Trace) {
    let (rt, emu) = runtime_and_emulator();
    let certs = mailutil::certs(&["127.0.0.1"]);
    let mut smtp = mailutil::mailin(
        mailutil::port0(),
        mailutil::MailinOptions {
            tls: Some(&certs),
            login: Some(("alert", SMTP_PASSWORD)),
        },
    );
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = a.local_addr().unwrap().port();
    let b = TcpListener::bind(("127.0.0.2", port)).unwrap();
    let http_port = free_port();
    let parts = Parts {
        emu: &emu,
        port,
        smtp_port: smtp.port,
        ca: &certs.ca,
        inline,
        http_port,
    };
    let s = setup(&parts, trace);
    let mut seen = Seen::default();

    // Without a daemon.
    let (code, out, err) = s.cli(&mut seen, &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    if inline {
        assert!(err.contains("a password in the settings file"), "{err}");
        assert!(err.contains("Login"), "the group file's Login is warned about: {err}");
    }
    let (code, out, err) = s.cli(&mut seen, &["check", "--online"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.cli(&mut seen, &["probe"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.cli(&mut seen, &["sync"]);
    assert_eq!(code, 0, "{out}{err}");
    // import, from settings without groups (G is defined in g.xml, and a
    // second definition of it is refused).
    let imported = s.dir.path().join("imported");
    let main = std::fs::read_to_string(s.config()).unwrap();
    let bare = s.variant("import.toml", &main.replace("groups = [\"g.xml\"]\n", ""));
    let (code, out, err) = s.cli_with(&mut seen, &["import", "--out", imported.to_str().unwrap()], &bare);
    assert_eq!(code, 0, "{out}{err}");
    seen.add_dir(&imported);
    assert!(imported.join("G.xml").exists(), "import wrote the group file");
    let (code, out, err) = s.cli(&mut seen, &["push", "G", "--deactivate", "--hold", "1s"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.cli(&mut seen, &["push", "G", "--activate", "--hold", "1s"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.cli(&mut seen, &["mail-test"]);
    assert_eq!(code, 0, "{out}{err}");
    let test_mail = rt.block_on(mailutil::next(&mut smtp.rx));
    assert_eq!(test_mail.user.as_deref(), Some("alert"));
    seen.add("the test mail", test_mail.raw);
    for args in [&["status"][..], &["hold", "G"], &["release", "G"]] {
        let (code, _, _) = s.cli(&mut seen, args);
        assert_eq!(code, 3, "no daemon yet: {args:?}");
    }
    std::thread::sleep(Duration::from_millis(1100)); // the push's hold ends

    // The daemon starts while the firewall refuses the login: a daemon
    // event, mailed; then the login works again.
    emu.set_fault(Fault::LoginFailure);
    let d = Daemon::start(&s);
    mail_with(&rt, &mut smtp, &mut seen, "login", &d);
    emu.clear_faults();
    emu.clear_requests();

    d.until_logged("probing started", Duration::from_secs(10));

    // A failover (mailed), then the whole group down: DeActive pushed,
    // and mailed.
    drop(a);
    mail_with(&rt, &mut smtp, &mut seen, "127.0.0.1", &d);
    drop(b);
    wait_for_action(&emu, ActionKind::DeActive, &d);
    mail_with(&rt, &mut smtp, &mut seen, "deactivat", &d);
    seen.add("/status", http_get(http_port, "/status"));
    seen.add("/metrics", http_get(http_port, "/metrics"));
    seen.add("the status page", http_get(http_port, "/"));

    // Every command through the daemon.
    let (code, out, err) = s.cli(&mut seen, &["status"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.cli(&mut seen, &["hold", "G", "--for", "1m"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.cli(&mut seen, &["release", "G"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.cli(&mut seen, &["push", "G", "--activate", "--hold", "1s"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.cli(&mut seen, &["check", "--online"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.cli(&mut seen, &["status"]);
    assert_eq!(code, 0, "{out}{err}");
    seen.add("/status after", http_get(http_port, "/status"));
    seen.add("/metrics after", http_get(http_port, "/metrics"));
    seen.add("the status page after", http_get(http_port, "/"));

    let (code, log) = d.stop();
    assert_eq!(code, 0, "{log}");
    // Trace level really was on, for dependencies too (failoverd itself
    // logs nothing below debug).
    assert!(
        log.contains("TRACE rustls") && log.contains("TRACE hyper_util"),
        "no trace lines of the TLS and HTTP dependencies"
    );
    assert!(log.lines().count() > 50, "{log}");
    seen.add("the daemon's log", log);
    let state = s.dir.path().join("state");
    seen.add_dir(&state);
    assert!(
        seen.texts.iter().any(|(l, _)| l.ends_with("state.json")),
        "state.json searched"
    );
    seen.assert_clean();
}

#[test]
fn passwords_in_files_never_reach_any_output() {
    every_command_and_the_daemon(false, Trace::Flag);
}

#[test]
fn inline_passwords_never_reach_any_output() {
    every_command_and_the_daemon(true, Trace::Env);
}

/// The error paths, each at trace level: the firewall refusing the login,
/// the mail server refusing AUTH, a wrong pin, no pin at all, an
/// untrusted SMTP certificate, settings that do not parse around the
/// password.
#[test]
fn error_paths_never_print_the_password_and_tls_is_checked_by_default() {
    let (_rt, emu) = runtime_and_emulator();
    let certs = mailutil::certs(&["127.0.0.1"]);
    // A mail server that takes another password.
    let refusing = mailutil::mailin(
        mailutil::port0(),
        mailutil::MailinOptions {
            tls: Some(&certs),
            login: Some(("alert", "not-the-canary")),
        },
    );
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = a.local_addr().unwrap().port();
    let parts = Parts {
        emu: &emu,
        port,
        smtp_port: refusing.port,
        ca: &certs.ca,
        inline: false,
        http_port: free_port(),
    };
    let s = setup(&parts, Trace::Flag);
    let good = settings(&parts);
    let mut seen = Seen::default();

    // AUTH refused.
    let (code, out, err) = s.cli(&mut seen, &["mail-test"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("not accepted"), "{out}");
    assert_eq!(refusing.auth_attempts.load(std::sync::atomic::Ordering::SeqCst), 1);

    // An SMTP certificate from a CA not given: refused by default.
    let untrusted = s.variant(
        "untrusted-mail.toml",
        &good.replace(&format!("ca_file = \"{}\"\n", certs.ca.display()), ""),
    );
    let (code, out, err) = s.cli_with(&mut seen, &["mail-test"], &untrusted);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("ca_file"), "{out}");

    // The firewall refuses the login.
    emu.set_fault(Fault::LoginFailure);
    for args in [
        &["check", "--online"][..],
        &["push", "G", "--activate", "--hold", "1s"],
        &["sync"],
        &["import", "--dry-run"],
    ] {
        let (code, out, err) = s.cli(&mut seen, args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            format!("{out}{err}").contains("Authentication Failure"),
            "{args:?}: {out}{err}"
        );
    }
    emu.clear_faults();

    // The emulator's record of what reached it holds the password, and
    // the search finds it there (a control that the search works).
    assert!(has_canary(&emu.requests()[0].xml));

    // A wrong pin: refused, naming the certificate presented.
    let wrong = s.variant(
        "wrong-pin.toml",
        &good.replace(&emu.cert_fingerprint(), &"AB".repeat(32)),
    );
    for args in [
        &["check", "--online"][..],
        &["push", "G", "--activate", "--hold", "1s"],
        &["sync"],
        &["import", "--dry-run"],
    ] {
        let (code, out, err) = s.cli_with(&mut seen, args, &wrong);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            format!("{out}{err}").contains(&emu.cert_fingerprint()),
            "{args:?}: {out}{err}"
        );
    }

    // No pin, no CA: system roots, which refuse the self-signed certificate.
    let unpinned = s.variant(
        "unpinned.toml",
        &good.replace(&format!("pin_sha256 = \"{}\"\n", emu.cert_fingerprint()), ""),
    );
    let before = emu.requests().len();
    let (code, out, err) = s.cli_with(&mut seen, &["check", "--online"], &unpinned);
    assert_eq!(code, 1, "{out}{err}");
    assert!(format!("{out}{err}").contains("certificate"), "{out}{err}");
    assert_eq!(emu.requests().len(), before, "nothing reached the API unverified");

    // Settings that do not parse, with the password on the broken line.
    let pw = toml_str(FW_PASSWORD);
    let broken = [
        good.replace("password_file = \"fw.pw\"", &format!("password = {pw} trailing junk")),
        good.replace(
            "password_file = \"fw.pw\"",
            &format!("password = {pw}\npassword = {pw}"),
        ),
        good.replace("password_file = \"fw.pw\"", &format!("password = [{pw}]")),
        good.replace("password_file = \"fw.pw\"", &format!("pasword = {pw}")),
        good.replace(
            "password_file = \"fw.pw\"",
            &format!("password = {}", &pw[..pw.len() - 1]),
        ),
        good.replace("[guard]", &format!("[guard]\npassword = {pw}")),
        // A password written into a URL, in every way that fails.
        good.replace(
            &format!("url = \"{}\"", emu.url()),
            &format!("url = \"http://api:{FW_CORE}@127.0.0.1:4444\""),
        ),
        good.replace(
            &format!("url = \"{}\"", emu.url()),
            &format!("url = \"api:{FW_CORE}@127.0.0.1:4444\""),
        ),
        good.replace(
            &format!("url = \"{}\"", emu.url()),
            &format!("url = \"https://api:{FW_CORE}@127.0.0.1:4444\""),
        ),
        good.replace("server = \"smtp://", &format!("server = \"smtp://alert:{SMTP_CORE}@")),
        good.replace("server = \"smtp://", &format!("server = \"alert:{SMTP_CORE}@")),
        good.replace("server = \"smtp://", &format!("server = \"smtpx://alert:{SMTP_CORE}@")),
    ];
    for (i, text) in broken.iter().enumerate() {
        let path = s.variant(&format!("broken{i}.toml"), text);
        for args in [&["check"][..], &["push", "G", "--activate"], &["run"]] {
            let (code, out, err) = s.cli_with(&mut seen, args, &path);
            assert!(code == 1 || code == 2, "{i} {args:?}: {code} {out}{err}");
        }
    }

    // Group files holding a whole API request, broken around the
    // password in its <Login>.
    let group = GROUP.replace("PORT", &port.to_string());
    let bad_logins = [
        format!("<Password>{FW_CORE}&x</Password>"),
        format!("<Password>{FW_CORE}&bogus;</Password>"),
        format!("<Password>{FW_CORE}&#xZZ;</Password>"),
        format!("<Password>{FW_CORE}</Passwrd>"),
        format!("<Password>{FW_CORE}<</Password>"),
        format!("<Password x=\"{FW_CORE}\">p</Password>"),
        format!("<Password>{FW_CORE}</Password><Password>{FW_CORE}</Password>"),
        format!("<Pasword>{FW_CORE}</Pasword>"),
        format!("<Password><x>{FW_CORE}</x></Password>"),
        format!("<Password>{FW_CORE}"),
    ];
    for (i, login) in bad_logins.iter().enumerate() {
        let tail = if login.ends_with(FW_CORE) {
            String::new()
        } else {
            format!("</Login><Set>{group}</Set></Request>")
        };
        let doc = format!("<Request><Login><Username>api</Username>{login}{tail}");
        std::fs::write(s.dir.path().join(format!("bad{i}.xml")), doc).unwrap();
        let path = s.variant(
            &format!("bad{i}.toml"),
            &good.replace("\"g.xml\"", &format!("\"bad{i}.xml\"")),
        );
        // (`run` logs the same findings through the same loader.)
        let (code, out, err) = s.cli_with(&mut seen, &["check"], &path);
        assert!(code == 0 || code == 1, "{i}: {code} {out}{err}");
    }
    seen.add_dir(s.dir.path().join("state").as_path());
    seen.assert_clean();
}

/// `insecure = true` is warned about by every command that talks to the
/// firewall and by the daemon at start.
#[test]
fn insecure_is_warned_at_every_start() {
    let (_rt, emu) = runtime_and_emulator();
    let certs = mailutil::certs(&["127.0.0.1"]);
    let smtp = mailutil::mailin(
        mailutil::port0(),
        mailutil::MailinOptions {
            tls: Some(&certs),
            login: Some(("alert", SMTP_PASSWORD)),
        },
    );
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = a.local_addr().unwrap().port();
    let _b = TcpListener::bind(("127.0.0.2", port)).unwrap();
    let parts = Parts {
        emu: &emu,
        port,
        smtp_port: smtp.port,
        ca: &certs.ca,
        inline: false,
        http_port: free_port(),
    };
    let s = setup(&parts, Trace::Flag);
    let text = settings(&parts).replace(
        &format!("pin_sha256 = \"{}\"", emu.cert_fingerprint()),
        "insecure = true",
    );
    s.variant("failoverd.toml", &text);
    let mut seen = Seen::default();
    for args in [
        &["check"][..],
        &["check", "--online"],
        &["sync"],
        &["push", "G", "--activate", "--hold", "1s"],
        &["probe"],
    ] {
        let (code, out, err) = s.cli(&mut seen, args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        assert!(
            err.contains("insecure = true: the firewall's certificate is not checked"),
            "{args:?}: {err}"
        );
    }
    std::thread::sleep(Duration::from_millis(1100));
    let d = Daemon::start(&s);
    d.until_logged(
        "insecure = true: the firewall's certificate is not checked; set pin_sha256 instead",
        Duration::from_secs(10),
    );
    d.until_logged("probing started", Duration::from_secs(10));
    let (code, log) = d.stop();
    assert_eq!(code, 0, "{log}");
    seen.add("log", log);
    seen.assert_clean();
}

/// A settings file holding a password, or a password file, that others
/// can read is warned about by every command, naming the file and the fix.
#[test]
fn files_readable_by_others_are_warned_naming_the_file_and_the_fix() {
    let (_rt, emu) = runtime_and_emulator();
    let certs = mailutil::certs(&["127.0.0.1"]);
    let smtp = mailutil::mailin(
        mailutil::port0(),
        mailutil::MailinOptions {
            tls: Some(&certs),
            login: Some(("alert", SMTP_PASSWORD)),
        },
    );
    let parts = Parts {
        emu: &emu,
        port: free_port(),
        smtp_port: smtp.port,
        ca: &certs.ca,
        inline: false,
        http_port: free_port(),
    };
    let s = setup(&parts, Trace::Flag);
    let readable = std::fs::Permissions::from_mode(0o644);
    let mut seen = Seen::default();

    // Password files, for the firewall and for mail.
    for name in ["fw.pw", "mail.pw"] {
        std::fs::set_permissions(s.dir.path().join(name), readable.clone()).unwrap();
    }
    let fw = s.dir.path().join("fw.pw").display().to_string();
    let mail = s.dir.path().join("mail.pw").display().to_string();
    for args in [&["check"][..], &["mail-test"], &["sync"]] {
        let (_, _, err) = s.cli(&mut seen, args);
        for file in [&fw, &mail] {
            let want = format!("{file} holds a password and is readable by others: run chmod o-rwx {file}");
            assert!(err.contains(&want), "{args:?}: {err}");
        }
    }

    // A settings file holding both passwords inline (the password files
    // are no longer named, so no longer warned about).
    let text = settings(&Parts { inline: true, ..parts });
    let path = s.variant("inline.toml", &text);
    std::fs::set_permissions(&path, readable.clone()).unwrap();
    let (code, _, err) = s.cli_with(&mut seen, &["check"], &path);
    assert_eq!(code, 0, "{err}");
    let file = path.display().to_string();
    let want = format!("{file} holds a password and is readable by others: run chmod o-rwx {file}");
    assert_eq!(err.matches(&want).count(), 2, "firewall and mail: {err}");
    assert!(!err.contains(&fw) && !err.contains(&mail), "{err}");
    // 0600: no such warning.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_, _, err) = s.cli_with(&mut seen, &["check"], &path);
    assert!(!err.contains("readable by others"), "{err}");
    // A settings file without a password may be readable (DynamicUser
    // must read it): not warned.
    std::fs::set_permissions(s.config(), readable).unwrap();
    for name in ["fw.pw", "mail.pw"] {
        std::fs::set_permissions(s.dir.path().join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (_, _, err) = s.cli(&mut seen, &["check"]);
    assert!(!err.contains("readable by others"), "{err}");
    seen.assert_clean();
}
