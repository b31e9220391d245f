//! The floor of the TCP scenario: one thread, no runtime, that only
//! connects to each target and closes again, at the daemon's pace (target
//! `i` first at `i × interval / N`, then every interval), each connect
//! bounded by the timeout (`TcpStream::connect_timeout`: a non-blocking
//! connect, poll, SO_ERROR). It wakes at most once a millisecond and then
//! makes every connect that is due. At the end it prints
//! `good failed seconds` on stdout.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

pub fn run(targets: &Path, port: u16, interval_ms: u64, timeout_ms: u64, seconds: f64) -> ExitCode {
    let text = match std::fs::read_to_string(targets) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: {e}", targets.display());
            return ExitCode::from(2);
        }
    };
    let addrs: Vec<SocketAddr> = text
        .lines()
        .filter_map(|l| l.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    if addrs.is_empty() {
        eprintln!("no targets");
        return ExitCode::from(2);
    }
    let interval = Duration::from_millis(interval_ms);
    let timeout = Duration::from_millis(timeout_ms);
    let step = interval.as_secs_f64() / addrs.len() as f64;
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let (mut good, mut failed) = (0u64, 0u64);
    let mut k: u64 = 0;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        loop {
            let due = start + Duration::from_secs_f64(k as f64 * step);
            if due > now {
                break;
            }
            let addr = addrs[(k % addrs.len() as u64) as usize];
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(s) => {
                    drop(s);
                    good += 1;
                }
                Err(_) => failed += 1,
            }
            k += 1;
        }
        let due = start + Duration::from_secs_f64(k as f64 * step);
        let wake = due.max(Instant::now() + Duration::from_millis(1));
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }
    println!("{good} {failed} {:.3}", start.elapsed().as_secs_f64());
    ExitCode::SUCCESS
}
