//! `failoverd import` as a new user runs it: the real binary against the
//! firewall emulator over HTTPS with the pinned certificate. From settings
//! holding only `[firewall]` to a validated configuration in three
//! commands (import, paste, check), with nothing pushed on the way.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sfos_emulator::{ActionKind, Definition, Emulator, EmulatorConfig, Fault, IpsecConnection, Protocol};

mod daemonutil;
use daemonutil::cli;

const PASSWORD: &str = "pa<ss&word";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn emulator(rt: &tokio::runtime::Runtime) -> Emulator {
    rt.block_on(Emulator::start(EmulatorConfig {
        username: "api".into(),
        password: PASSWORD.into(),
        ..EmulatorConfig::default()
    }))
    .unwrap()
}

/// A settings folder whose file holds only `[firewall]` (and a state
/// directory of its own).
fn settings_only_firewall(emu: &Emulator) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let settings = format!(
        "state_dir = \"state\"\n[firewall]\nurl = \"{}\"\nusername = \"api\"\npassword_file = \"pw\"\npin_sha256 = \"{}\"\n",
        emu.url(),
        emu.cert_fingerprint()
    );
    std::fs::write(dir.path().join("failoverd.toml"), settings).unwrap();
    std::fs::write(dir.path().join("pw"), format!("{PASSWORD}\n")).unwrap();
    std::fs::set_permissions(dir.path().join("pw"), std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

fn group(
    name: &str,
    members: &[&str],
    mail: bool,
    failback: Option<bool>,
    conditions: &[(Protocol, Option<u16>)],
) -> Definition {
    Definition {
        name: name.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        mail,
        failback,
        conditions: conditions.to_vec(),
    }
}

const ODD: &str = "R&D \"Lab\" <1>";

/// Two groups, one with a connection name that needs escaping everywhere.
fn firewall_with_groups(emu: &Emulator) {
    emu.add_group(
        group(
            "HQ_VPN",
            &["HQ_Primary", "HQ_Backup"],
            true,
            Some(false),
            &[(Protocol::Ping, None), (Protocol::Tcp, Some(443))],
        ),
        true,
    );
    emu.add_group(group("Lab", &[ODD], false, None, &[]), true);
    emu.add_connection(IpsecConnection::site_to_site(
        "HQ_Primary",
        "203.0.113.10",
        "PortB",
        &["10.0.0.0/24", "10.0.1.0/24"],
        &["10.1.0.0/24", "10.1.1.0/24"],
    ));
    emu.add_connection(IpsecConnection::tunnel_interface("HQ_Backup", "198.51.100.7", "PortC"));
    emu.add_connection(IpsecConnection::site_to_site(
        ODD,
        "lab.example.net",
        "PortA",
        &["10.9.0.0/16"],
        &["10.8.0.0/16"],
    ));
}

fn actions(emu: &Emulator) -> Vec<ActionKind> {
    emu.requests()
        .iter()
        .flat_map(|r| r.actions.iter().map(|a| a.action))
        .collect()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Every file below `dir`, as text.
fn all_text(dir: &Path) -> String {
    let mut text = String::new();
    for p in files_in(dir) {
        if p.is_dir() {
            text.push_str(&all_text(&p));
        } else if p.file_name().is_some_and(|n| n != "pw") {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    text
}

/// The user's paste: the tables below the settings, and the `groups` line
/// import asked for at the top.
fn paste(config: &Path, tables: &str) {
    let settings = std::fs::read_to_string(config).unwrap();
    let line = tables
        .lines()
        .find_map(|l| l.strip_prefix("# groups = "))
        .expect("import says which groups line to add");
    std::fs::write(config, format!("groups = {line}\n{settings}\n{tables}")).unwrap();
}

#[test]
fn three_commands_from_firewall_settings_to_a_validated_configuration() {
    let rt = runtime();
    let emu = emulator(&rt);
    firewall_with_groups(&emu);
    let dir = settings_only_firewall(&emu);
    let config = dir.path().join("failoverd.toml");

    let (code, tables, err) = cli(&["import"], &config);
    assert_eq!(code, 0, "{err}");
    let groups_d = dir.path().join("groups.d");
    assert_eq!(
        files_in(&groups_d),
        [groups_d.join("HQ_VPN.xml"), groups_d.join("Lab.xml")]
    );
    let hq = std::fs::read_to_string(groups_d.join("HQ_VPN.xml")).unwrap();
    assert!(
        hq.starts_with(&format!("<!-- Imported by failoverd import from {} at 20", emu.url())),
        "{hq}"
    );
    for want in [
        "<Connection>HQ_Primary</Connection>\n      <Connection>HQ_Backup</Connection>",
        "<MailNotification>Enable</MailNotification>",
        "<AutomaticFailback>Disable</AutomaticFailback>",
        "<FailoverIF><Protocol>PING</Protocol><Port></Port></FailoverIF>",
        "<FailoverIF><Protocol>TCP</Protocol><Port>443</Port></FailoverIF>",
    ] {
        assert!(hq.contains(want), "{want} in\n{hq}");
    }
    assert!(
        !hq.contains("<Active>") && !hq.contains("<DeActive>"),
        "GroupDetail only: {hq}"
    );
    let lab = std::fs::read_to_string(groups_d.join("Lab.xml")).unwrap();
    assert!(
        lab.contains("<Connection>R&amp;D &quot;Lab&quot; &lt;1&gt;</Connection>"),
        "{lab}"
    );

    for want in [
        "[connections.HQ_Primary]\n# group HQ_VPN, primary\n# IPsec connection HQ_Primary: SiteToSite, local WAN port PortB, remote gateway 203.0.113.10\n# local subnets: 10.0.0.0/24, 10.0.1.0/24; remote networks: 10.1.0.0/24, 10.1.1.0/24\ntargets = [\"203.0.113.10\"]\n",
        "[connections.HQ_Backup]\n# group HQ_VPN, member 2 of 2\n# IPsec connection HQ_Backup: TunnelInterface, local WAN port PortC, remote gateway 198.51.100.7\n# local subnets: Any; remote networks: Any\ntargets = [\"198.51.100.7\"]\n",
        "[connections.\"R&D \\\"Lab\\\" <1>\"]\n",
        "targets = [\"lab.example.net\"]",
        "a host inside 10.1.0.0/24",
        "reached over PortB",
        "# groups = [\"groups.d/*.xml\"]",
    ] {
        assert!(tables.contains(want), "{want} in\n{tables}");
    }
    assert!(
        !tables.lines().any(|l| l.starts_with("via")),
        "via is left at its default: {tables}"
    );
    assert!(err.contains("next: paste the tables above into"), "{err}");
    assert!(
        actions(&emu).iter().all(|a| *a == ActionKind::Get),
        "import only reads: {:?}",
        actions(&emu)
    );
    assert_eq!(emu.requests().len(), 2, "one Get of each entity");

    paste(&config, &tables);
    let (code, out, err) = cli(&["check", "--online"], &config);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("HQ_VPN"), "one line per group: {out}");
    assert!(out.contains("Lab"), "{out}");

    let (code, out, err) = cli(&["sync", "--changed-only"], &config);
    assert_eq!(
        (code, out.as_str()),
        (0, "HQ_VPN: unchanged\nLab: unchanged\n"),
        "{err}"
    );
    assert!(
        actions(&emu).iter().all(|a| *a == ActionKind::Get),
        "nothing was ever sent but Gets: {:?}",
        actions(&emu)
    );
    assert_eq!(emu.groups().values().filter(|a| **a).count(), 2, "both still active");

    let everything = format!("{tables}{err}{}", all_text(dir.path()));
    assert!(
        !everything.contains("$sfos$hash$"),
        "no preshared key in the output or any file"
    );
    assert!(!everything.contains(PASSWORD), "no password in the output or any file");
}

#[test]
fn every_reply_shape_and_both_spellings() {
    let rt = runtime();
    let emu = emulator(&rt);
    firewall_with_groups(&emu);
    let cases = [
        (
            Some(Fault::GetBare),
            "<MailNotification>Enable</MailNotification>",
            "<MailNotification>Disable</MailNotification>",
        ),
        (
            Some(Fault::GetOneEntity),
            "<AutomaticFailback>Disable</AutomaticFailback>",
            "<AutomaticFailback>Enable</AutomaticFailback>",
        ),
        (
            Some(Fault::GetSfos17),
            "<Protocol>ping</Protocol><Port></Port>",
            "<MailNotification>n</MailNotification>",
        ),
        (
            Some(Fault::GetMixed),
            "<Protocol>PING</Protocol>",
            "<MailNotification>n</MailNotification>",
        ),
    ];
    for (fault, in_hq, in_lab) in cases {
        emu.clear_faults();
        if let Some(f) = fault {
            emu.set_fault(f);
        }
        let dir = settings_only_firewall(&emu);
        let config = dir.path().join("failoverd.toml");
        let (code, tables, err) = cli(&["import"], &config);
        assert_eq!(code, 0, "{fault:?}: {err}");
        let hq = std::fs::read_to_string(dir.path().join("groups.d/HQ_VPN.xml")).unwrap();
        let lab = std::fs::read_to_string(dir.path().join("groups.d/Lab.xml")).unwrap();
        assert!(hq.contains(in_hq), "{fault:?}: {in_hq} in {hq}");
        assert!(lab.contains(in_lab), "{fault:?}: {in_lab} in {lab}");
        if fault == Some(Fault::GetSfos17) {
            assert!(!hq.contains("AutomaticFailback"), "the 2017 spelling has none: {hq}");
            assert!(err.contains("set spelling = \"sfos17\""), "{err}");
            // With the spelling the firewall uses, nothing differs.
            paste(&config, &tables);
            let settings = std::fs::read_to_string(&config).unwrap();
            std::fs::write(
                &config,
                settings.replace("[firewall]\n", "[firewall]\nspelling = \"sfos17\"\n"),
            )
            .unwrap();
            let (code, out, err) = cli(&["check"], &config);
            assert_eq!(code, 0, "{out}{err}");
            let (code, out, err) = cli(&["sync", "--changed-only"], &config);
            assert_eq!(
                (code, out.as_str()),
                (0, "HQ_VPN: unchanged\nLab: unchanged\n"),
                "{err}"
            );
        }
    }
    assert!(
        actions(&emu).iter().all(|a| *a == ActionKind::Get),
        "{:?}",
        actions(&emu)
    );

    let empty = emulator(&rt);
    for fault in [None, Some(Fault::GetBare), Some(Fault::GetDeepEmpty)] {
        empty.clear_faults();
        if let Some(f) = fault {
            empty.set_fault(f);
        }
        let dir = settings_only_firewall(&empty);
        let (code, out, err) = cli(&["import"], &dir.path().join("failoverd.toml"));
        assert_eq!((code, out.as_str()), (0, ""), "{fault:?}: {err}");
        assert!(err.contains("the firewall has no failover groups"), "{err}");
        assert!(!dir.path().join("groups.d").exists());
    }
}

/// The quick start as root under a umask that hides files, for a service
/// that runs as another user (systemd's DynamicUser): the group files are
/// 0644, the service's user reads them (`check` run as nobody), a second
/// import of unchanged files says so and succeeds, and a dry run over a
/// file that differs says a real run would refuse, writing nothing.
#[test]
fn imported_files_are_readable_by_the_service_user_and_a_rerun_is_unchanged() {
    let rt = runtime();
    let emu = emulator(&rt);
    firewall_with_groups(&emu);
    let dir = settings_only_firewall(&emu);
    let config = dir.path().join("failoverd.toml");
    let groups_d = dir.path().join("groups.d");

    let (code, tables, err) = cli_umask(&["import"], &config, "077");
    assert_eq!(code, 0, "{err}");
    for f in files_in(&groups_d) {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{}: group files hold no secret", f.display());
    }
    assert!(
        files_in(&groups_d)
            .iter()
            .all(|f| f.extension().is_some_and(|e| e == "xml")),
        "no temporary file left: {:?}",
        files_in(&groups_d)
    );
    if root() {
        paste(&config, &tables);
        // The service's user reads the group files root imported; the
        // settings and the password stay root's, so only the group files'
        // reading is asked of nobody here.
        let mut perms = std::fs::metadata(dir.path()).unwrap().permissions();
        perms.set_mode(0o755);
        std::fs::set_permissions(dir.path(), perms).unwrap();
        for f in files_in(&groups_d) {
            let out = std::process::Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
                .arg(&f)
                .output()
                .unwrap();
            assert!(out.status.success(), "nobody reads {}: {:?}", f.display(), out);
        }
    } else {
        println!("SKIPPED: reading as nobody needs root (setpriv)");
    }

    // A second later: only the header's time would differ.
    let first = std::fs::read_to_string(groups_d.join("HQ_VPN.xml")).unwrap();
    let aged = first.replacen(" at 20", " at 19", 1);
    assert_ne!(aged, first, "the header names the time");
    std::fs::write(groups_d.join("HQ_VPN.xml"), &aged).unwrap();
    let (code, _, err) = cli(&["import"], &config);
    assert_eq!(code, 0, "every file unchanged is a success: {err}");
    assert_eq!(
        std::fs::read_to_string(groups_d.join("HQ_VPN.xml")).unwrap(),
        aged,
        "an unchanged file is left as it is"
    );
    assert!(err.contains("unchanged") && err.contains("HQ_VPN.xml"), "{err}");

    std::fs::write(groups_d.join("Lab.xml"), "mine").unwrap();
    let (code, out, err) = cli(&["import", "--dry-run"], &config);
    assert_eq!(code, 0, "a dry run exits 0: {err}");
    assert!(
        err.contains("Lab.xml exists and differs: a real run would refuse (add --force to overwrite)"),
        "{err}"
    );
    assert!(err.contains("unchanged") && err.contains("HQ_VPN.xml"), "{err}");
    assert!(out.contains("would write") && out.contains("with --force"), "{out}");
    assert_eq!(std::fs::read_to_string(groups_d.join("Lab.xml")).unwrap(), "mine");

    // A FIFO where a group file goes: a located error at once, never a
    // read that blocks (the old import hung here), and left as it is.
    std::fs::remove_file(groups_d.join("Lab.xml")).unwrap();
    let fifo = groups_d.join("Lab.xml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (code, _, err) = cli(&["import", "--force"], &config);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("Lab.xml is a FIFO, not a regular file: nothing written"),
        "{err}"
    );
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

/// Whether the test runs as root (the owner of its own /proc entry).
fn root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// `cli`, with a umask set for the command (through the shell).
fn cli_umask(args: &[&str], config: &Path, umask: &str) -> (i32, String, String) {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask {umask}; b=\"$0\"; c=\"$1\"; shift; exec \"$b\" \"$@\" -c \"$c\""
        ))
        .arg(env!("CARGO_BIN_EXE_failoverd"))
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn refusals_unreadable_replies_and_files_in_the_way() {
    let rt = runtime();
    let emu = emulator(&rt);
    firewall_with_groups(&emu);
    let dir = settings_only_firewall(&emu);
    let config = dir.path().join("failoverd.toml");
    let groups_d = dir.path().join("groups.d");

    for (fault, want) in [
        (Fault::LoginFailure, "the firewall refused the login"),
        (Fault::DenyAll, "534"),
        (Fault::ApiDisabled, "532"),
        (Fault::HttpStatus(503), "HTTP status 503"),
        (Fault::NotXml, "cannot be read"),
    ] {
        emu.clear_faults();
        emu.set_fault(fault);
        let (code, out, err) = cli(&["import"], &config);
        assert_eq!((code, out.as_str()), (1, ""), "{fault:?}: {err}");
        assert!(
            err.contains(want) && err.contains("nothing written"),
            "{fault:?}: {err}"
        );
        assert!(!groups_d.exists(), "{fault:?}: nothing written");
        assert!(!err.contains(PASSWORD), "{err}");
    }
    emu.clear_faults();

    // No pin yet: the system roots refuse the appliance certificate, and
    // import shows the one presented, to compare and pin.
    let settings = std::fs::read_to_string(&config).unwrap();
    let unpinned = dir.path().join("unpinned.toml");
    let pin_line = format!("pin_sha256 = \"{}\"\n", emu.cert_fingerprint());
    std::fs::write(&unpinned, settings.replace(&pin_line, "")).unwrap();
    let (code, _, err) = cli(&["import"], &unpinned);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("pin it with {}", pin_line.trim())), "{err}");
    assert!(!groups_d.exists());

    let (code, out, err) = cli(&["import", "--group", "HQ_VPN", "--dry-run"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("# would write {}", groups_d.join("HQ_VPN.xml").display())),
        "{out}"
    );
    assert!(
        out.contains("<Name>HQ_VPN</Name>") && !out.contains("<Name>Lab</Name>"),
        "{out}"
    );
    assert!(out.contains("[connections.HQ_Primary]"), "{out}");
    assert!(
        !groups_d.exists() && !dir.path().join("state").exists(),
        "a dry run writes nothing"
    );

    let (code, _, err) = cli(&["import", "--group", "Nope"], &config);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--group \"Nope\": the firewall has no such failover group; it has: HQ_VPN, Lab"),
        "{err}"
    );

    let (code, _, err) = cli(&["import", "--group", "Lab"], &config);
    assert_eq!(code, 0, "{err}");
    assert_eq!(files_in(&groups_d), [groups_d.join("Lab.xml")]);
    std::fs::write(groups_d.join("Lab.xml"), "mine").unwrap();
    let (code, _, err) = cli(&["import"], &config);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("Lab.xml exists and differs from the firewall's definition: nothing written (--force overwrites"),
        "{err}"
    );
    assert_eq!(files_in(&groups_d), [groups_d.join("Lab.xml")], "not even the new file");
    assert_eq!(std::fs::read_to_string(groups_d.join("Lab.xml")).unwrap(), "mine");
    let (code, _, err) = cli(&["import", "--force"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(
        std::fs::read_to_string(groups_d.join("Lab.xml"))
            .unwrap()
            .contains("<Name>Lab</Name>")
    );

    // A group already defined in another file the settings name.
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("hq.xml"), "<VPNFailoverGroup><GroupDetail><Name>HQ_VPN</Name><MemberConnections><Connection>HQ_Primary</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>").unwrap();
    let settings = std::fs::read_to_string(&config).unwrap();
    let with_groups = dir.path().join("with-groups.toml");
    std::fs::write(&with_groups, format!("groups = [\"mine/*.xml\"]\n{settings}")).unwrap();
    let (code, _, err) = cli(&["import", "--force"], &with_groups);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("group HQ_VPN is already defined in") && err.contains("hq.xml"),
        "{err}"
    );
    assert!(
        !mine.join("HQ_VPN.xml").exists() && !mine.join("Lab.xml").exists(),
        "nothing written"
    );
    let (code, _, err) = cli(&["import", "--group", "Lab"], &with_groups);
    assert_eq!(code, 0, "{err}");
    assert!(mine.join("Lab.xml").exists(), "DIR is the first glob's folder");

    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let out_dir = blocker.join("groups");
    let (code, _, err) = cli(&["import", "--out", out_dir.to_str().unwrap()], &config);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot write") && err.contains("--out"), "{err}");

    // A member the firewall does not describe: a table to fill in, and a warning.
    emu.add_group(group("Ghost", &["Nowhere"], false, Some(true), &[]), true);
    let other = dir.path().join("other");
    let (code, tables, err) = cli(
        &["import", "--group", "Ghost", "--out", other.to_str().unwrap()],
        &config,
    );
    assert_eq!(code, 0, "{err}");
    assert!(tables.contains("[connections.Nowhere]\n# group Ghost, primary\n# The firewall returned no IPsec connection of this name: fill in targets.\ntargets = []"), "{tables}");
    assert!(
        err.contains(
            "group Ghost names connection \"Nowhere\", which the firewall's Get VPNIPSecConnection did not return"
        ),
        "{err}"
    );
    assert!(other.join("Ghost.xml").exists());

    // A name the firewall should never give, and no file name is made of it.
    emu.add_group(group("Bad/../../x", &["HQ_Primary"], false, None, &[]), true);
    let (code, _, err) = cli(&["import", "--out", other.to_str().unwrap(), "--force"], &config);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Response/VPNFailoverGroup[1]/GroupDetail[1]/Name: \"Bad/../../x\" is not a group name"),
        "{err}"
    );
    assert!(
        actions(&emu).iter().all(|a| *a == ActionKind::Get),
        "{:?}",
        actions(&emu)
    );

    std::fs::write(dir.path().join("pw"), "").unwrap();
    std::fs::remove_file(dir.path().join("pw")).unwrap();
    let (code, _, err) = cli(&["import"], &config);
    assert_eq!(code, 2, "no password: {err}");
    let (code, _, err) = cli(&["import"], &dir.path().join("missing.toml"));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn five_hundred_groups_in_seconds() {
    let rt = runtime();
    let emu = emulator(&rt);
    for i in 0..500 {
        let (a, b) = (format!("S{i}_A"), format!("S{i}_B"));
        emu.add_group(
            group(
                &format!("Site{i}"),
                &[&a, &b],
                i % 2 == 0,
                Some(true),
                &[(Protocol::Ping, None)],
            ),
            true,
        );
        let gw = format!("198.18.{}.{}", i / 250, i % 250 + 1);
        emu.add_connection(IpsecConnection::site_to_site(
            &a,
            &gw,
            "PortB",
            &["10.0.0.0/24"],
            &[&format!("10.{}.{}.0/24", 1 + i / 250, i % 250)],
        ));
        emu.add_connection(IpsecConnection::tunnel_interface(&b, &gw, "PortC"));
    }
    let dir = settings_only_firewall(&emu);
    let config = dir.path().join("failoverd.toml");
    let started = Instant::now();
    let (code, tables, err) = cli(&["import"], &config);
    let took = started.elapsed();
    assert_eq!(code, 0, "{err}");
    assert_eq!(files_in(&dir.path().join("groups.d")).len(), 500);
    assert_eq!(
        tables.matches("\n[connections.").count() + usize::from(tables.starts_with("[connections.")),
        1000
    );
    eprintln!("import of 500 groups and 1000 connections took {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    paste(&config, &tables);
    let (code, out, err) = cli(&["check"], &config);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("Site")).count(), 500, "{out}");
    let (code, out, err) = cli(&["sync", "--changed-only"], &config);
    assert_eq!((code, out.matches(": unchanged\n").count()), (0, 500), "{err}");
}

/// A minimal host without ca-certificates (the package's container): the
/// quick start's first import, with no pin yet, still prints the
/// certificate the firewall presents and the line to add, and says that
/// nothing on this host can vouch for it; it sends nothing.
#[test]
fn with_no_system_ca_certificates_the_first_import_prints_the_pin_line() {
    let rt = runtime();
    let emu = emulator(&rt);
    firewall_with_groups(&emu);
    let dir = settings_only_firewall(&emu);
    let config = dir.path().join("failoverd.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let no_pin: String = text
        .lines()
        .filter(|l| !l.starts_with("pin_sha256"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&config, no_pin).unwrap();
    let empty = dir.path().join("no-cas.pem");
    std::fs::write(&empty, "").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(["import", "-c"])
        .arg(&config)
        .env("SSL_CERT_FILE", &empty)
        .env("SSL_CERT_DIR", dir.path().join("no-such-dir"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("this host has no system CA certificates"), "{err}");
    let line = format!("add pin_sha256 = \"{}\" to [firewall]", emu.cert_fingerprint());
    assert!(err.contains(&line), "{err}");
    assert!(emu.requests().is_empty(), "nothing reached the API");
    assert!(!dir.path().join("groups.d").exists(), "nothing written");
}
