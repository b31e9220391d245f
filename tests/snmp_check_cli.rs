//! `failoverd check --online` with `[snmp]`, as a user runs it: the real
//! binary, the firewall emulator, and a real snmpd serving its tunnel
//! table. One walk, each member's view; or why the table could not be
//! read, with exit 1. Skips (SKIPPED) without snmpd when not root.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use sfos_emulator::tunnels::{AgentOptions, SnmpAgent, TableFault, V3User, snmpd_path};
use sfos_emulator::{Definition, Emulator, EmulatorConfig, Protocol};

const AUTH: &str = "cli-auth-pass-7";
const PRIV: &str = "cli-priv-pass-9";

fn cli(config: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_failoverd"))
        .args(["check", "--online", "-c"])
        .arg(config)
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_secret(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), format!("{text}\n")).unwrap();
    std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn check_online_prints_each_members_firewall_view() {
    if snmpd_path().is_none() {
        let root = std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
        assert!(
            !root,
            "snmpd is missing although this runs as root: scripts/test.sh installs it"
        );
        eprintln!("SKIPPED: snmpd is not installed (Debian package snmpd) and this is not root");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emu = rt
        .block_on(Emulator::start(EmulatorConfig {
            username: "api".into(),
            password: "pw-api".into(),
            ..EmulatorConfig::default()
        }))
        .unwrap();
    let agent = SnmpAgent::start(AgentOptions {
        community: "unused-community".into(),
        users: vec![V3User {
            name: "failoverd".into(),
            auth: "SHA-256".into(),
            auth_password: AUTH.into(),
            privacy: "AES".into(),
            privacy_password: PRIV.into(),
        }],
    })
    .unwrap();
    emu.attach_tunnels(agent.tunnels.clone());
    emu.add_group(
        Definition {
            name: "G".into(),
            members: vec!["A".into(), "B".into()],
            mail: true,
            failback: Some(true),
            conditions: vec![(Protocol::Ping, None)],
        },
        true,
    );
    agent.tunnels.add_other_rows(2);
    let dir = tempfile::tempdir().unwrap();
    let settings = format!(
        "groups = [\"g.xml\"]\nstate_dir = \"state\"\n[connections.A]\ntargets = [\"127.0.0.1\"]\nvia = \"underlay\"\n\
         [connections.B]\ntargets = [\"127.0.0.2\"]\nvia = \"underlay\"\n\
         [firewall]\nurl = \"{}\"\nusername = \"api\"\npassword_file = \"pw\"\npin_sha256 = \"{}\"\n\
         [snmp]\naddress = \"{}\"\nuser = \"failoverd\"\nauth = \"sha256\"\nauth_password_file = \"auth\"\nprivacy_password_file = \"priv\"\n",
        emu.url(),
        emu.cert_fingerprint(),
        agent.addr()
    );
    std::fs::write(dir.path().join("failoverd.toml"), settings).unwrap();
    std::fs::write(
        dir.path().join("g.xml"),
        "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>",
    )
    .unwrap();
    write_secret(dir.path(), "pw", "pw-api");
    write_secret(dir.path(), "auth", AUTH);
    write_secret(dir.path(), "priv", PRIV);
    let config = dir.path().join("failoverd.toml");

    let (code, out, err) = cli(&config);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("online: snmp:")).collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[0].starts_with(&format!(
            "online: snmp: read the tunnel table at {}: 4 row(s) in ",
            agent.addr()
        )),
        "{out}"
    );
    assert_eq!(
        &lines[1..],
        [
            "online: snmp: G: the firewall carries A",
            "online: snmp: G/A: active, activated",
            "online: snmp: G/B: inactive, activated",
        ]
    );

    agent.tunnels.set_fault(TableFault::OldFirmware);
    let (code, out, err) = cli(&config);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("online: snmp: the tunnel table could not be read: the tunnel table at")
            && err.contains("firmware before SFOS 20"),
        "{err}"
    );
    assert!(
        out.contains("the firewall accepted the Get"),
        "the API check still runs: {out}"
    );
    assert!(!format!("{out}{err}").contains(AUTH) && !format!("{out}{err}").contains(PRIV));

    agent.tunnels.clear_faults();
    agent.stop_answering().unwrap();
    let (code, _, err) = cli(&config);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no SNMP answer from"), "{err}");
    agent.resume().unwrap();
}
