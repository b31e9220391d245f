//! push (without a daemon), sync, check --online and mail-test as a user
//! runs them: the real binary against the firewall emulator and a real
//! SMTP server.

mod mailutil;

use std::path::Path;
use std::process::Command;

use sfos_emulator::{ActionKind, Emulator, EmulatorConfig};

fn cli(args: &[&str], config: &Path) -> (i32, String, String) {
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

fn setup(emu: &Emulator, extra: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let settings = format!(
        "groups = [\"g.xml\"]\nstate_dir = \"state\"\n[connections.A]\ntargets = [\"127.0.0.1\"]\nvia = \"underlay\"\n[firewall]\nurl = \"{}\"\nusername = \"api\"\npassword_file = \"pw\"\npin_sha256 = \"{}\"\n{extra}",
        emu.url(),
        emu.cert_fingerprint()
    );
    std::fs::write(dir.path().join("failoverd.toml"), settings).unwrap();
    std::fs::write(dir.path().join("g.xml"), "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>").unwrap();
    std::fs::write(dir.path().join("pw"), "pa<ss&\n").unwrap();
    std::fs::set_permissions(dir.path().join("pw"), std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

fn emulator(rt: &tokio::runtime::Runtime) -> Emulator {
    rt.block_on(Emulator::start(EmulatorConfig {
        username: "api".into(),
        password: "pa<ss&".into(),
        ..EmulatorConfig::default()
    }))
    .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn check_online_sync_and_push_without_a_daemon() {
    let rt = runtime();
    let emu = emulator(&rt);
    let dir = setup(&emu, "");
    let config = dir.path().join("failoverd.toml");
    let (code, out, err) = cli(&["check", "--online"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("certificate presented: SHA-256 {}", emu.cert_fingerprint())),
        "{out}"
    );
    assert!(
        out.contains("the firewall accepted the Get (0 failover group(s) defined there)"),
        "{out}"
    );

    let (code, out, err) = cli(&["sync"], &config);
    assert_eq!(
        (code, out.as_str()),
        (0, "G: added: 200 Failover group \"G\" has been created successfully\n"),
        "{err}"
    );
    let (code, out, _) = cli(&["sync", "--changed-only"], &config);
    assert_eq!((code, out.as_str()), (0, "G: unchanged\n"));
    let (code, out, _) = cli(&["sync"], &config);
    assert_eq!(code, 0);
    assert!(out.starts_with("G: updated: 200"), "502 on Add, then Update: {out}");

    let (code, out, err) = cli(&["push", "G", "--deactivate", "--hold", "1m"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("G: DeActive: 200"), "{out}");
    assert!(err.contains("G is held for 1m"), "{err}");
    assert_eq!(
        emu.groups().get("G"),
        Some(&false),
        "the group is deactivated on the firewall"
    );
    let state = std::fs::read_to_string(dir.path().join("state/state.json")).unwrap();
    assert!(state.contains("\"G\": \"DeActive\""), "the belief is recorded: {state}");
    assert!(state.contains("\"reason\": \"manual push of DeActive\""), "{state}");
    let actions: Vec<ActionKind> = emu
        .requests()
        .iter()
        .flat_map(|r| r.actions.iter().map(|a| a.action))
        .collect();
    assert_eq!(actions.iter().filter(|a| **a == ActionKind::DeActive).count(), 1);

    let (code, _, err) = cli(&["push", "Nope", "--activate"], &config);
    assert_eq!(code, 2, "{err}");
    emu.set_fault(sfos_emulator::Fault::LoginFailure);
    let (code, out, err) = cli(&["push", "G", "--activate"], &config);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("fix: the firewall refused the login"), "{err}");
    assert!(
        !format!("{out}{err}").contains("pa<ss&"),
        "the password never reaches the output"
    );
    let (code, _, err) = cli(&["check", "--online"], &config);
    assert_eq!(code, 1, "a Get not accepted: {err}");
}

#[test]
fn mail_test_reaches_a_real_server_or_says_why_not() {
    let rt = runtime();
    let emu = emulator(&rt);
    let mut smtp = mailutil::mailin(mailutil::port0(), mailutil::MailinOptions::default());
    let mail = format!(
        "[mail]\nserver = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"failoverd <f@example.com>\"\nto = [\"ops@example.com\"]\n",
        smtp.port
    );
    let dir = setup(&emu, &mail);
    let (code, out, err) = cli(&["mail-test"], &dir.path().join("failoverd.toml"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!("accepted by 127.0.0.1:{}: 250", smtp.port)),
        "{out}"
    );
    let got = rt.block_on(mailutil::next(&mut smtp.rx));
    assert_eq!(got.to, ["ops@example.com"]);
    // STARTTLS required by smtp://, not offered by this plain server.
    let plain = mail.replace("?tls=none", "");
    let dir = setup(&emu, &plain);
    let (code, out, _) = cli(&["mail-test"], &dir.path().join("failoverd.toml"));
    assert_eq!(code, 1, "{out}");
    assert!(out.to_lowercase().contains("starttls"), "{out}");
    let dir = setup(&emu, "");
    let (code, _, err) = cli(&["mail-test"], &dir.path().join("failoverd.toml"));
    assert_eq!(code, 2, "no [mail]: {err}");
}

/// The messages a new admin meets first: `push` without a direction names
/// both choices (not only `--activate`).
#[test]
fn usage_mistakes_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("none.toml");
    let (code, out, err) = cli(&["push", "G"], &config);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("<--activate|--deactivate>"), "{err}");
    let (code, _, err) = cli(&["push", "G", "--activate", "--deactivate"], &config);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
}

/// `status` with no daemon to ask says which of the three it is, with the
/// socket's absolute path and the fix, and exits 3: no socket; a socket
/// of another user (permission denied, tried as nobody); a socket nobody
/// listens on (left by a daemon that stopped).
#[test]
fn status_without_a_daemon_says_why_with_the_absolute_path() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("failoverd.toml");
    std::fs::write(&config, "state_dir = \"state\"\n").unwrap();
    let socket = dir.path().join("state").join("control.sock");
    let shown = socket.display().to_string();
    // Run from elsewhere: the relative state_dir is the settings file's.
    let (code, out, err) = cli(&["status"], &config);
    assert_eq!((code, out.as_str()), (3, ""), "{err}");
    assert!(err.contains(&format!("no control socket at {shown}")), "{err}");

    std::fs::create_dir(dir.path().join("state")).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    drop(listener);
    let (code, _, err) = cli(&["status"], &config);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(&format!("no daemon answers on {shown}")), "{err}");

    if !is_root() {
        println!("SKIPPED: permission denied needs root (setpriv to nobody)");
        return;
    }
    std::fs::remove_file(&socket).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).unwrap();
    for p in [dir.path(), &dir.path().join("state")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_failoverd"))
        .args(["status", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("permission denied on the control socket {shown}")),
        "{err}"
    );
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}
