//! `failoverd status --json` prints the `/status` document, for scripts
//! and monitoring: the real binary with the firewall emulator and `[http]`
//! on port 0; the command's JSON and the listener's carry the same groups
//! and fields.

use std::time::Duration;

mod daemonutil;
use daemonutil::{Daemon, cli, emulator, http_get, listen, settings};

#[test]
fn status_json_is_the_status_document() {
    let (_rt, emu) = emulator();
    let peer = listen("127.0.0.1", 0);
    let port = peer.local_addr().unwrap().port();
    let d = Daemon::start(
        &settings(&emu, port, "tunnel", "[http]\nlisten = \"127.0.0.1:0\"\n"),
        port,
    );
    d.until_notified("READY=1", Duration::from_secs(20));
    let http = d.http_port();
    let config = d.dir.path().join("failoverd.toml");
    let (code, out, err) = cli(&["status", "--json"], &config);
    assert_eq!(code, 0, "{err}");
    let from_cli: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let response = http_get(http, "GET", "/status");
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    let from_http: serde_json::Value = serde_json::from_str(body).unwrap();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&from_cli), keys(&from_http));
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(names(&from_cli), vec!["G".to_string()], "{out}");
    assert_eq!(names(&from_cli), names(&from_http));
    let (code, table, _) = cli(&["status"], &config);
    assert_eq!(code, 0);
    assert!(
        !table.trim_start().starts_with('{'),
        "without --json, the table: {table}"
    );
    let (code, ..) = d.stop();
    assert_eq!(code, 0);
}
