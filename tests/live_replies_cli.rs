//! Replies as live firmware writes them (docs/firewall-api.md, "What live
//! firmware is reported to answer"), read by `push`, `sync` and `check
//! --online` as a user runs them: the real binary against the emulator
//! answering in each shape. A 501's InvalidParams path reaches the user.

use std::path::Path;
use std::process::Command;

use sfos_emulator::{Definition, Emulator, EmulatorConfig, Fault, Protocol};

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

fn setup(emu: &Emulator) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let settings = format!(
        "groups = [\"g.xml\"]\nstate_dir = \"state\"\n[connections.A]\ntargets = [\"127.0.0.1\"]\nvia = \"underlay\"\n[firewall]\nurl = \"{}\"\nusername = \"api\"\npassword_file = \"pw\"\npin_sha256 = \"{}\"\n",
        emu.url(),
        emu.cert_fingerprint()
    );
    std::fs::write(dir.path().join("failoverd.toml"), settings).unwrap();
    std::fs::write(dir.path().join("g.xml"), "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>").unwrap();
    std::fs::write(dir.path().join("pw"), "pw-live\n").unwrap();
    std::fs::set_permissions(dir.path().join("pw"), std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

fn start(rt: &tokio::runtime::Runtime) -> Emulator {
    rt.block_on(Emulator::start(EmulatorConfig {
        username: "api".into(),
        password: "pw-live".into(),
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

fn group_g() -> Definition {
    Definition {
        name: "G".into(),
        members: vec!["A".into()],
        mail: true,
        failback: Some(true),
        conditions: vec![(Protocol::Ping, None)],
    }
}

#[test]
fn write_replies_without_the_entity_element_are_read_by_push_and_sync() {
    let rt = runtime();
    for fault in [
        None,
        Some(Fault::AltWrapper),
        Some(Fault::WriteConfiguration),
        Some(Fault::WriteAction),
    ] {
        let emu = start(&rt);
        if let Some(f) = fault {
            emu.set_fault(f);
        }
        let dir = setup(&emu);
        let config = dir.path().join("failoverd.toml");
        let (code, out, err) = cli(&["sync"], &config);
        assert_eq!(code, 0, "{fault:?}: {out}{err}");
        assert!(out.starts_with("G: added: 200"), "{fault:?}: {out}");
        let (code, out, err) = cli(&["push", "G", "--deactivate"], &config);
        assert_eq!(code, 0, "{fault:?}: {out}{err}");
        assert!(out.starts_with("G: DeActive: 200"), "{fault:?}: {out}");
        assert_eq!(emu.groups().get("G"), Some(&false), "{fault:?}");
        let (code, out, err) = cli(&["push", "G", "--activate"], &config);
        assert_eq!(code, 0, "{fault:?}: {out}{err}");
        assert_eq!(emu.groups().get("G"), Some(&true), "{fault:?}");
    }
}

#[test]
fn a_501_names_the_offending_field_in_push_and_sync() {
    let rt = runtime();
    let emu = start(&rt);
    emu.add_group(group_g(), true);
    emu.set_fault(Fault::InvalidParams);
    let dir = setup(&emu);
    let config = dir.path().join("failoverd.toml");
    let path = "/VPNFailoverGroup/GroupDetail/MailNotification";
    let (code, out, err) = cli(&["push", "G", "--deactivate"], &config);
    assert_eq!(code, 1, "{out}{err}");
    assert!(format!("{out}{err}").contains(path), "push: {out}{err}");
    assert_eq!(emu.groups().get("G"), Some(&true), "nothing applied");
    let (code, out, err) = cli(&["sync"], &config);
    assert_ne!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains(path), "sync: {out}{err}");
}

#[test]
fn get_replies_in_every_shape_pass_check_online() {
    let rt = runtime();
    for fault in [
        None,
        Some(Fault::GetBare),
        Some(Fault::GetDeepEmpty),
        Some(Fault::GetOneEntity),
    ] {
        for groups in [false, true] {
            let emu = start(&rt);
            if groups {
                emu.add_group(group_g(), true);
            }
            if let Some(f) = fault {
                emu.set_fault(f);
            }
            let dir = setup(&emu);
            let config = dir.path().join("failoverd.toml");
            let (code, out, err) = cli(&["check", "--online"], &config);
            assert_eq!(code, 0, "{fault:?} groups={groups}: {out}{err}");
            let n = usize::from(groups);
            assert!(
                out.contains(&format!(
                    "the firewall accepted the Get ({n} failover group(s) defined there)"
                )),
                "{fault:?} groups={groups}: {out}"
            );
            let (code, out, err) = cli(&["sync", "--changed-only"], &config);
            assert_eq!(code, 0, "{fault:?} groups={groups}: {out}{err}");
        }
    }
}
