//! Mail survives `kill -9` (docs/events-and-mail.md, "Durability"): the
//! real daemon, the firewall emulator and a real SMTP server (aiosmtpd,
//! else mailin-embedded); a failover (member down, failover, member down,
//! group down, DeActive decided) with `coalesce = "30s"`, long on purpose,
//! and the daemon killed at seeded random moments after a chosen EVENT=
//! line. After a restart on the same state directory, every event logged
//! at least a second before the kill (the contract's allowance) is mailed.
//! Also: links, FIFOs and folders planted in `spool/` are errors naming
//! them (`run` exits 2), never followed.
//!
//! `CRASH_MAIL_SEED=n` replays a run; the seed is printed either way.

mod daemonutil;
mod faultutil;
mod mailutil;

use std::collections::{BTreeMap, HashSet};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daemonutil::{Daemon, emulator, listen};
use faultutil::{headline_kind, headlines, logged_kinds, loopback_settings, message_id, until, until_belief};
use mailutil::Received;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// A real SMTP server: aiosmtpd when installed, else mailin-embedded.
enum Smtp {
    Aio(mailutil::Aiosmtpd, #[allow(dead_code)] mailutil::Certs),
    Mailin(mailutil::Mailin),
}

impl Smtp {
    fn start() -> Smtp {
        let has_aiosmtpd = Command::new("/usr/bin/python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if has_aiosmtpd {
            let certs = mailutil::certs(&["localhost"]);
            return Smtp::Aio(mailutil::aiosmtpd("plain", &certs, ("u", "p")), certs);
        }
        println!(
            "SKIPPED aiosmtpd: /usr/bin/python3 lacks it (apt-get install python3-aiosmtpd); using mailin-embedded"
        );
        Smtp::Mailin(mailutil::mailin(mailutil::port0(), Default::default()))
    }

    fn port(&self) -> u16 {
        match self {
            Smtp::Aio(a, _) => a.port,
            Smtp::Mailin(m) => m.port,
        }
    }

    /// Adds what arrived since the last call to `into`.
    fn drain(&mut self, into: &mut Vec<Received>) {
        match self {
            Smtp::Mailin(m) => into.extend(std::iter::from_fn(|| m.rx.try_recv().ok())),
            Smtp::Aio(a, _) => {
                for line in std::iter::from_fn(|| a.lines.try_recv().ok()) {
                    let Some(json) = line.strip_prefix("MSG ") else {
                        continue;
                    };
                    let v: serde_json::Value = serde_json::from_str(json).unwrap();
                    into.push(Received {
                        from: v["from"].as_str().unwrap_or_default().to_owned(),
                        to: Vec::new(),
                        raw: v["raw"].as_str().unwrap_or_default().to_owned(),
                        user: None,
                    });
                }
            }
        }
    }
}

fn mail_section(port: u16) -> String {
    format!(
        "[mail]\nserver = \"smtp://127.0.0.1:{port}?tls=none\"\nfrom = \"failoverd <failoverd@example.com>\"\n\
         to = [\"netops@example.com\"]\ncoalesce = \"30s\"\nmax_per_hour = 1000\ntimeout = \"2s\"\n"
    )
}

/// Each kind mailed, counted over distinct Message-IDs.
fn mailed(mails: &[Received]) -> BTreeMap<String, usize> {
    let mut seen = HashSet::new();
    let mut out = BTreeMap::new();
    for m in mails.iter().filter(|m| seen.insert(message_id(m))) {
        for h in headlines(m) {
            *out.entry(headline_kind(&h).to_owned()).or_default() += 1;
        }
    }
    out
}

fn counted(kinds: &[String]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for k in kinds {
        *out.entry(k.clone()).or_default() += 1;
    }
    out
}

fn until_events(d: &Daemon, from: usize, n: usize) {
    let what = format!("{n} EVENT= lines");
    until(
        &what,
        SECS(20),
        || logged_kinds(&d.log.lock().unwrap()[from..]).len() >= n,
        &|| d.report(),
    );
}

/// One run: the failover, a kill after the `k`-th event (1..=5) plus
/// `extra` ms, a restart with both peers up; every event logged a second
/// before the kill must arrive.
fn one_run(seed: u64, k: usize, extra: u64) {
    println!("crash_mail run: seed {seed}, kill after event {k} + {extra} ms (+ 1.1 s)");
    let (_rt, emu) = emulator();
    let mut smtp = Smtp::start();
    let port = mailutil::free_port();
    let (cfg, xml) = loopback_settings(&emu, port, "", &mail_section(smtp.port()));
    let dir = Daemon::prepare(&cfg, &xml);
    let (a, mut b): (TcpListener, Option<TcpListener>) = (listen("127.0.0.1", port), Some(listen("127.0.0.2", port)));
    let d = Daemon::start_in(dir);
    until_belief(&d, "Active");
    let from = d.log.lock().unwrap().len();
    drop(a);
    until_events(&d, from, k.min(2));
    if k > 2 {
        b = None;
        until_events(&d, from, k);
    }
    std::thread::sleep(Duration::from_millis(extra));
    // The contract's allowance: durable within 1 s of being logged.
    let must = logged_kinds(&d.log.lock().unwrap());
    std::thread::sleep(Duration::from_millis(1100));
    let (first, dir) = d.crash();
    assert!(!must.is_empty(), "events were logged before the kill");
    drop(b);
    let _peers = (listen("127.0.0.1", port), listen("127.0.0.2", port));
    let d = Daemon::start_in(dir);
    let want = counted(&must);
    let mut got = Vec::new();
    let deadline = Instant::now() + SECS(30);
    loop {
        smtp.drain(&mut got);
        let have = mailed(&got);
        if want.iter().all(|(k, n)| have.get(k).copied().unwrap_or(0) >= *n) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "seed {seed}: logged before the kill {want:?}, mailed {have:?}\nfirst run:\n{}\nafter the restart:\n{}",
            first.join("\n"),
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // At least once: a Message-ID twice only for the very same mail.
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in &got {
        let first = ids.entry(message_id(m)).or_insert_with(|| headlines(m));
        assert_eq!(*first, headlines(m), "seed {seed}: one Message-ID, two mails");
    }
    let (_, log, _, _) = d.stop();
    let all = format!("{}\n{}", first.join("\n"), log.join("\n"));
    assert!(!all.contains("panicked"), "a panic:\n{all}");
}

#[test]
fn kill_9_during_a_failover_loses_no_logged_event() {
    let seed = std::env::var("CRASH_MAIL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("crash_mail seed {seed} (CRASH_MAIL_SEED={seed} replays it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..3 {
        let (run, k, extra) = (rng.u64(..), rng.usize(1..=5), rng.u64(0..1500));
        one_run(run, k, extra);
    }
}

/// Runs `failoverd run` in `dir` and waits (bounded) for it to end.
fn run_exits(dir: &Path) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(["run", "-c"])
        .arg(dir.join("failoverd.toml"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + SECS(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`run` still running after 10 s:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

#[test]
fn a_link_fifo_or_folder_planted_in_the_spool_stops_run_and_is_never_followed() {
    let (_rt, emu) = emulator();
    let (cfg, xml) = loopback_settings(&emu, mailutil::free_port(), "", &mail_section(mailutil::free_port()));
    let dir = Daemon::prepare(&cfg, &xml);
    let spool = dir.path().join("state/spool");
    std::fs::create_dir_all(&spool).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    type Plant = fn(&Path, &Path);
    let plants: [(&str, Plant); 4] = [
        ("00000000000000000001.json", |at, to| {
            std::os::unix::fs::symlink(to, at).unwrap()
        }),
        (".00000000000000000001.json.tmp", |at, to| {
            std::os::unix::fs::symlink(to, at).unwrap()
        }),
        ("00000000000000000002.json", |at, _| mkfifo(at)),
        ("pending.jsonl", |at, _| std::fs::create_dir(at).unwrap()),
    ];
    for (name, plant) in plants {
        let at = spool.join(name);
        plant(&at, &victim);
        let (code, err) = run_exits(dir.path());
        assert_eq!(code, 2, "{name}: exit 2\n{err}");
        assert!(
            err.contains(&at.display().to_string()),
            "{name}: the error names it\n{err}"
        );
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "keep",
            "{name}: never followed"
        );
        let _ = std::fs::remove_file(&at);
        let _ = std::fs::remove_dir(&at);
    }
    // The spool folder itself a link to a folder elsewhere.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::remove_dir(&spool).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &spool).unwrap();
    let (code, err) = run_exits(dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&spool.display().to_string()), "{err}");
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through it"
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs `sh -c script` in `dir` as `nobody` (setpriv).
fn as_nobody(dir: &Path, script: &str) {
    let status = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "as nobody: {script}");
}

/// Root runs failoverd in a state directory that belongs to the service's
/// user (nobody here), who plants a link to a root-only file in `spool/`,
/// then swaps `spool/` itself for a link to a root-only folder: `run`
/// exits 2 naming each, and root's file and folder are untouched (content,
/// owner, mode).
#[test]
fn links_planted_by_the_service_user_never_reach_roots_files() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, chown};
    if !is_root() {
        println!("SKIPPED: links planted by another user need root (setpriv)");
        return;
    }
    let (_rt, emu) = emulator();
    let (cfg, xml) = loopback_settings(&emu, mailutil::free_port(), "", &mail_section(mailutil::free_port()));
    let dir = Daemon::prepare(&cfg, &xml);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (state, spool) = (dir.path().join("state"), dir.path().join("state/spool"));
    std::fs::create_dir_all(&spool).unwrap();
    chown(&state, Some(65534), Some(65534)).unwrap();
    chown(&spool, Some(65534), Some(65534)).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let private = dir.path().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o711)).unwrap();
    let untouched = || {
        let m = std::fs::metadata(&victim).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o777), (0, 0o600), "the victim's owner and mode");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        let p = std::fs::metadata(&private).unwrap();
        assert_eq!(
            (p.uid(), p.mode() & 0o777),
            (0, 0o711),
            "the private folder's owner and mode"
        );
        assert_eq!(std::fs::read_dir(&private).unwrap().count(), 0, "nothing written in it");
    };
    as_nobody(&state, "ln -s ../victim spool/00000000000000000001.json");
    let (code, err) = run_exits(dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("spool/00000000000000000001.json"), "{err}");
    untouched();
    as_nobody(
        &state,
        "rm spool/00000000000000000001.json && rmdir spool && ln -s ../private spool",
    );
    let (code, err) = run_exits(dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&spool.display().to_string()), "{err}");
    untouched();
}
