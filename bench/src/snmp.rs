//! SNMP reading at 1,000 connections: walks of a real snmpd's tunnel
//! table of N rows, made by failoverd's own walk in this process; CPU per
//! walk is this process's CPU time over the walks, divided by their count
//! (snmpd and its table script are other processes, not counted).

use std::time::{Duration, Instant};

use failoverd::config::secret::{Password, Secret, SecretSource};
use failoverd::config::settings::{Snmp, SnmpAuth, SnmpPrivacy, SnmpSecurity};
use sfos_emulator::tunnels::{AgentOptions, SnmpAgent, V3User, snmpd_path};

use crate::{Row, measure, say};

const WALKS: usize = 20;

fn pw(s: &str) -> Password {
    Password {
        source: SecretSource::Inline,
        secret: Some(Secret::new(s)),
    }
}

pub fn run(n: u32) -> Vec<Row> {
    let skipped = |why: String| {
        say!("snmp: SKIPPED: {why}");
        vec![Row {
            scenario: "snmp walk (v3 sha/aes)".into(),
            n: n.to_string(),
            process: "failoverd".into(),
            result: format!("SKIPPED: {why}"),
            ..Row::default()
        }]
    };
    if snmpd_path().is_none() {
        return skipped("snmpd is not installed (Debian package snmpd)".into());
    }
    let user = V3User {
        name: "bench".into(),
        auth: "SHA".into(),
        auth_password: "bench-auth-pass".into(),
        privacy: "AES".into(),
        privacy_password: "bench-priv-pass".into(),
    };
    let agent = match SnmpAgent::start(AgentOptions {
        community: "bench-community".into(),
        users: vec![user.clone()],
    }) {
        Ok(a) => a,
        Err(e) => return skipped(e),
    };
    agent.tunnels.add_other_rows(n);
    let cfg = Snmp {
        host: "127.0.0.1".into(),
        port: agent.addr().port(),
        security: SnmpSecurity::V3 {
            user: user.name.clone(),
            auth: SnmpAuth::Sha,
            auth_password: pw(&user.auth_password),
            privacy: SnmpPrivacy::Aes,
            privacy_password: pw(&user.privacy_password),
        },
        interval: Duration::from_secs(60),
        timeout: Duration::from_secs(5),
        verify_within: Duration::from_secs(60),
        disagree_after: Duration::from_secs(120),
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return skipped(e.to_string()),
    };
    // One walk first: the agent's script loads the table, the engine is
    // discovered; then the measured walks.
    if let Err(e) = rt.block_on(failoverd::firewall::view::walk::walk_at(&cfg, agent.addr())) {
        return skipped(format!("the first walk failed: {e}"));
    }
    let me = std::process::id();
    let cpu0 = measure::cpu_seconds(me).unwrap_or(0.0);
    let t0 = Instant::now();
    for i in 0..WALKS {
        match rt.block_on(failoverd::firewall::view::walk::walk_at(&cfg, agent.addr())) {
            Ok(w) if w.rows.len() == n as usize => {}
            Ok(w) => return skipped(format!("walk {i} read {} rows, not {n}", w.rows.len())),
            Err(e) => return skipped(format!("walk {i} failed: {e}")),
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = measure::cpu_seconds(me).unwrap_or(0.0) - cpu0;
    say!("snmp: {WALKS} walks of {n} rows: {cpu:.3} s CPU, {wall:.2} s wall");
    vec![Row {
        scenario: "snmp walk (v3 sha/aes)".into(),
        n: n.to_string(),
        process: "failoverd".into(),
        cpu_s: Some(cpu),
        seconds: Some(wall),
        result: format!(
            "{:.1} ms CPU per walk, {:.0} ms wall per walk",
            1000.0 * cpu / WALKS as f64,
            1000.0 * wall / WALKS as f64
        ),
        ..Row::default()
    }]
}
