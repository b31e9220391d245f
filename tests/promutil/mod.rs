//! The official Prometheus client's parser, run on a page a test got
//! (`tests/prom_families.py`), shared by the tests that read `/metrics`.

use std::process::{Command, Stdio};

use crate::netutil;

/// The families as the official parser lists them ("NAME TYPE SAMPLES"),
/// or None (after SKIPPED) without python3-prometheus-client and root.
pub fn families(page: &str) -> Option<String> {
    let python = "/usr/bin/python3";
    let probe = Command::new(python).args(["-c", "import prometheus_client"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            !netutil::require_root("metrics parse: python3-prometheus-client is in scripts/debian-packages.txt"),
            "running as root, yet {python} cannot import prometheus_client"
        );
        netutil::skipped("python3-prometheus-client not installed (Debian python3-prometheus-client)");
        return None;
    }
    let mut child = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/prom_families.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let text = page.to_string();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(text.as_bytes()).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}\nfamilies:\n{listed}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(listed)
}
