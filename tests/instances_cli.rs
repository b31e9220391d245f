//! One failoverd per firewall on one host (docs/service.md, "One failoverd
//! per firewall"): `failoverd check` as a user runs it warns, exit 0, when
//! this settings file and another `*.toml` beside it would collide (state
//! directory, `[http] listen`, firewall), and when `failoverd@NAME` could
//! not run `.../failoverd/NAME.toml` as written; and the template unit
//! `systemd/failoverd@.service` passes `systemd-analyze verify`, rates 2.0
//! or lower, and differs from the main unit only where an instance must.
//! The instances booted under a real systemd: scripts/systemd-boot-test.sh.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{BASE_GROUP, BASE_SETTINGS, Case};

fn check(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(["check", "-c", path.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("STATE_DIRECTORY")
        .output()
        .expect("run failoverd")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// BASE_SETTINGS with its own state_dir, [http] listen and firewall.
fn instance(state: &str, listen: &str, firewall: &str) -> String {
    format!(
        "state_dir = \"{state}\"\n{}\n[http]\nlisten = \"{listen}\"\n",
        BASE_SETTINGS.replace("https://192.0.2.254:4444", firewall)
    )
}

fn warnings(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.contains(": warning: ")).collect()
}

#[test]
fn two_files_on_one_state_dir_and_port_warn_naming_both_and_exit_0() {
    let case = Case::new(
        &instance("state", "127.0.0.1:9733", "https://192.0.2.254:4444"),
        &[("g.xml", BASE_GROUP)],
    );
    let other = instance("state", "0.0.0.0:9733", "https://192.0.2.99:4444");
    std::fs::write(case.path("branch.toml"), other).unwrap();
    let out = check(&case.settings_path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let this = case.settings_path().display().to_string();
    let branch = case.path("branch.toml").display().to_string();
    let w = warnings(&err);
    assert_eq!(w.len(), 2, "{err}");
    assert!(w[0].starts_with(&format!(
        "{this}: warning: collides with {branch}: both use the state directory"
    )));
    assert!(w[0].contains("set state_dir = \"/var/lib/failoverd-NAME\""), "{err}");
    assert!(
        w[1].contains("[http] listen 127.0.0.1:9733 and its 0.0.0.0:9733 take the same port"),
        "{err}"
    );
    assert!(w[1].contains("give each instance its own port"), "{err}");
    assert!(
        err.contains("valid: 1 group(s), 2 connection(s), 2 warning(s)"),
        "{err}"
    );
}

#[test]
fn two_files_on_one_firewall_warn() {
    let case = Case::new(
        &instance("a", "127.0.0.1:9801", "https://FW.example.net:4444"),
        &[("g.xml", BASE_GROUP)],
    );
    // The same firewall written differently: host case, the path completed.
    let other = instance(
        "b",
        "127.0.0.1:9802",
        "https://fw.example.net:4444/webconsole/APIController",
    );
    std::fs::write(case.path("hq.toml"), other).unwrap();
    let out = check(&case.settings_path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let w = warnings(&err);
    assert_eq!(w.len(), 1, "{err}");
    assert!(
        w[0].contains("both push to the firewall https://fw.example.net:4444/webconsole/APIController"),
        "{err}"
    );
}

#[test]
fn instances_of_their_own_say_nothing_even_beside_a_broken_file() {
    let case = Case::new(
        &instance("a", "127.0.0.1:9801", "https://192.0.2.1:4444"),
        &[("g.xml", BASE_GROUP)],
    );
    std::fs::write(
        case.path("branch.toml"),
        instance("b", "127.0.0.1:9802", "https://192.0.2.2:4444"),
    )
    .unwrap();
    // A sibling with a broken edit, and one that is not a file: skipped
    // or read for what it names, never an error of this file's.
    std::fs::write(case.path("broken.toml"), "state_dir = \"c\"\n[http\nlisten = ").unwrap();
    std::fs::create_dir(case.path("dir.toml")).unwrap();
    let out = check(&case.settings_path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(warnings(&err).is_empty(), "{err}");
    assert!(err.contains("0 warning(s)"), "{err}");
}

#[test]
fn an_instance_file_says_which_state_dir_its_unit_uses() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("failoverd");
    std::fs::create_dir(&etc).unwrap();
    std::fs::write(etc.join("g.xml"), BASE_GROUP).unwrap();
    let pw = etc.join("pw");
    std::fs::write(&pw, "secret\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let hq = etc.join("hq.toml");
    std::fs::write(&hq, BASE_SETTINGS).unwrap();
    let err = stderr(&check(&hq));
    let w = warnings(&err);
    assert_eq!(w.len(), 1, "{err}");
    assert!(
        w[0].contains("failoverd@hq keeps its state in /var/lib/failoverd-hq (StateDirectory=), but commands with -c")
            && w[0].ends_with("look in /var/lib/failoverd: set state_dir = \"/var/lib/failoverd-hq\""),
        "{err}"
    );
    std::fs::write(&hq, format!("state_dir = \"/var/lib/failoverd-hq\"\n{BASE_SETTINGS}")).unwrap();
    let err = stderr(&check(&hq));
    assert!(warnings(&err).is_empty(), "{err}");
    // A name too long for the instance's user failoverd-NAME.
    let long = etc.join("branch-office-frankfurt.toml");
    let text = format!(
        "state_dir = \"/var/lib/failoverd-branch-office-frankfurt\"\n{}",
        BASE_SETTINGS.replace("192.0.2.254", "192.0.2.253")
    );
    std::fs::write(&long, text).unwrap();
    let out = check(&long);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let w = warnings(&err);
    assert_eq!(w.len(), 1, "{err}");
    assert!(
        w[0].contains("failoverd@branch-office-frankfurt could not start: its user failoverd-branch-office-frankfurt must be at most 31 characters"),
        "{err}"
    );
}

/// Under `failoverd@NAME` systemd sets `$STATE_DIRECTORY`; a file without
/// `state_dir` then runs where commands from a shell do not look.
#[test]
fn state_dir_unset_under_a_unit_is_warned() {
    let case = Case::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    let unit_dir = case.path("unit-state");
    let out = Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(["check", "-c", case.settings_path().to_str().unwrap()])
        .env("STATE_DIRECTORY", &unit_dir)
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let want = format!(
        "state_dir: warning: state_dir is not set: this run keeps its state in {0} (systemd's StateDirectory=), \
         but commands run from a shell with -c {1} look in /var/lib/failoverd: set state_dir = \"{0}\"",
        unit_dir.display(),
        case.settings_path().display()
    );
    assert!(err.contains(&want), "{err}");
    // Written, or the default folder: nothing to say.
    for env in [unit_dir.to_str().unwrap(), "/var/lib/failoverd"] {
        let settings = if env == "/var/lib/failoverd" {
            BASE_SETTINGS.to_string()
        } else {
            format!("state_dir = \"unit-state\"\n{BASE_SETTINGS}")
        };
        std::fs::write(case.settings_path(), settings).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_failoverd"))
            .args(["check", "-c", case.settings_path().to_str().unwrap()])
            .env("STATE_DIRECTORY", env)
            .output()
            .unwrap();
        assert!(warnings(&stderr(&out)).is_empty(), "{}", stderr(&out));
    }
}

/// Commands run from a shell with an instance's file read the instance's
/// credential folder, where its unit's LoadCredential= reads, never the
/// main unit's /etc/credstore/firewall.password.
#[test]
fn an_instance_file_reads_the_instances_credential() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("failoverd");
    std::fs::create_dir(&etc).unwrap();
    std::fs::write(etc.join("g.xml"), BASE_GROUP).unwrap();
    let hq = etc.join("hq.toml");
    let settings = format!(
        "state_dir = \"/var/lib/failoverd-hq\"\n{}",
        BASE_SETTINGS.replace("password_file = \"pw\"\n", "")
    );
    std::fs::write(&hq, settings).unwrap();
    let err = stderr(&check(&hq));
    assert!(
        err.contains(
            "systemd credential firewall.password not found (looked in /etc/credstore/failoverd-hq/firewall.password, \
             /run/credstore/failoverd-hq/firewall.password, /usr/lib/credstore/failoverd-hq/firewall.password): \
             set password_file, or install the credential (LoadCredential= in the unit, or \
             /etc/credstore/failoverd-hq/firewall.password)"
        ),
        "{err}"
    );
    // $CREDENTIALS_DIRECTORY still wins, as under the unit.
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(creds.join("firewall.password"), "secret\n").unwrap();
    std::fs::set_permissions(creds.join("firewall.password"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(["check", "-c", hq.to_str().unwrap()])
        .env("CREDENTIALS_DIRECTORY", &creds)
        .env_remove("STATE_DIRECTORY")
        .output()
        .unwrap();
    assert!(warnings(&stderr(&out)).is_empty(), "{}", stderr(&out));
}

// The template unit.

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/failoverd@.service")).unwrap()
}

/// The template as instance `hq`, its binary the one under test.
fn instance_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("failoverd@hq.service");
    let text = template().replace(
        "ExecStart=/usr/bin/failoverd",
        &format!("ExecStart={}", env!("CARGO_BIN_EXE_failoverd")),
    );
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn analyze(args: &[&str]) -> Option<Output> {
    match Command::new("systemd-analyze").args(args).output() {
        Ok(o) => Some(o),
        Err(e) => {
            eprintln!("SKIPPED: systemd-analyze not available ({e}); install systemd");
            None
        }
    }
}

#[test]
fn template_verify_prints_nothing() {
    let (_dir, path) = instance_copy();
    let Some(out) = analyze(&["verify", path.to_str().unwrap()]) else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.trim().is_empty(),
        "systemd-analyze verify said: {text}"
    );
}

#[test]
fn template_security_exposure_is_at_most_2() {
    let (_dir, path) = instance_copy();
    let Some(out) = analyze(&["security", "--offline=true", path.to_str().unwrap()]) else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("{text}"));
    let level: f64 = line
        .split(": ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(level <= 2.0, "exposure {level}: {line}");
}

/// Every setting of the main unit is in the template, the same, except
/// the four an instance changes; the template adds only `User=`.
#[test]
fn template_is_the_main_unit_per_instance() {
    let main = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/failoverd.service")).unwrap();
    let settings = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#') && l.contains('='))
            .map(str::to_string)
            .collect()
    };
    let per_instance = [
        (
            "Description=failoverd: Sophos Firewall VPN failover group monitor",
            "Description=failoverd for firewall %i: Sophos Firewall VPN failover group monitor",
        ),
        (
            "ExecStart=/usr/bin/failoverd run -c /etc/failoverd/failoverd.toml",
            "ExecStart=/usr/bin/failoverd run -c /etc/failoverd/%i.toml",
        ),
        ("StateDirectory=failoverd", "StateDirectory=failoverd-%i"),
        (
            "LoadCredential=firewall.password:/etc/credstore/firewall.password",
            "LoadCredential=firewall.password:/etc/credstore/failoverd-%i/firewall.password",
        ),
    ];
    let mut expected: Vec<String> = settings(&main)
        .into_iter()
        .map(|l| {
            per_instance
                .iter()
                .find(|(m, _)| *m == l)
                .map_or(l.clone(), |(_, t)| t.to_string())
        })
        .collect();
    let pos = expected.iter().position(|l| l == "DynamicUser=yes").unwrap();
    expected.insert(pos + 1, "User=failoverd-%i".to_string());
    assert_eq!(settings(&template()), expected);
}
