//! The status page's costs (issue #15), in this process: the history's
//! memory per target at 10,000 targets once it holds a full hour, counted
//! by a counting allocator; and the CPU time of one `GET /` (the core's
//! status, charts and HTML) for 1,000 targets fed an hour of checks; the
//! cost of saving the history of 5,000 targets (`page-history.bin`): the
//! part on the probing loop (the points into the file) and the rest (fsync,
//! rename), and the heap it takes meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use failoverd::control::Request;
use failoverd::daemon::core::history::History;
use failoverd::daemon::core::{Core, Effect};
use failoverd::daemon::persist::Clocks;
use failoverd::health::outcome::Outcome;
use failoverd::probe::schedule::{Observation, Report};
use failoverd::state::StateFile;

use crate::Row;
use crate::daemon::{Cond, Scratch, connections_toml, groups_xml};

/// Live heap bytes of this process.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The highest `LIVE` since it was last reset.
static PEAK: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(l.size() as isize, Ordering::Relaxed) + l.size() as isize;
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// This thread's CPU time.
fn cpu() -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: t is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn check(stream: usize, at: tokio::time::Instant, i: u64) -> Observation {
    let outcome = if i % 50 == 7 {
        Outcome::failed("no reply within 1s")
    } else {
        Outcome::good(Duration::from_micros(800 + (i * 37 + stream as u64) % 400))
    };
    Observation {
        stream,
        at,
        report: Report::Check { outcome, addr: None },
    }
}

/// The history of `n` streams after an hour and a minute of checks, one
/// per stream every 10 s: bytes per stream.
fn history_bytes(n: usize) -> (f64, f64) {
    let t0 = Clocks::now();
    let before = LIVE.load(Ordering::Relaxed);
    let mut h = History::new(t0.mono, n);
    for step in 0..366u64 {
        let c = Clocks {
            mono: t0.mono + Duration::from_secs(step * 10),
            wall: t0.wall + Duration::from_secs(step * 10),
        };
        for s in 0..n {
            h.record(&check(s, c.mono, step), &[], c);
        }
    }
    let bytes = (LIVE.load(Ordering::Relaxed) - before) as f64;
    drop(h);
    (bytes / n as f64, bytes / 1_048_576.0)
}

/// A core of `n` targets (n/2 groups of 2) fed an hour of checks, one per
/// target every 10 s, and the CPU of one page (median of `tries`).
fn page_cpu(n: usize, tries: usize) -> Result<(Duration, usize), String> {
    let dir = Scratch::new("page");
    let targets: Vec<String> = (0..n).map(|i| format!("127.30.{}.{}", i / 250, i % 250 + 1)).collect();
    dir.write("groups.xml", &groups_xml(&targets, 2, Cond::Ping));
    let pw = dir.write("pw", "secret\n");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())?;
    let settings = format!(
        "groups = [\"groups.xml\"]\nstate_dir = \"state\"\n[probe]\ninterval = \"10s\"\ntimeout = \"1s\"\n[firewall]\nurl = \"https://127.0.0.1:9\"\nusername = \"bench\"\npassword_file = \"pw\"\ndry_run = true\n{}",
        connections_toml(&targets, "tunnel")
    );
    let path = dir.write("failoverd.toml", &settings);
    let loaded = failoverd::config::load(&path).map_err(|e| format!("{e:?}"))?;
    let plan = loaded
        .plan
        .ok_or_else(|| format!("{:?}", loaded.diagnostics.sorted()))?;
    let t0 = Clocks::now();
    let mut core = Core::new(plan, StateFile::default(), t0);
    core.start();
    let streams = core.engine().streams().len();
    let mut c = t0;
    for step in 0..361u64 {
        c = Clocks {
            mono: t0.mono + Duration::from_secs(step * 10),
            wall: t0.wall + Duration::from_secs(step * 10),
        };
        for s in 0..streams {
            core.observe(&check(s, c.mono, step), c);
        }
    }
    let mut times = Vec::new();
    let mut size = 0;
    for i in 0..tries {
        let start = cpu();
        let e = core.control(Request::Page, i as u64, c, 0);
        times.push(cpu() - start);
        if let Some(Effect::Reply { reply, .. }) = e.first() {
            size = reply.body.as_str().map_or(0, str::len);
        }
    }
    times.sort();
    Ok((times[times.len() / 2], size))
}

/// Saving an hour of `n` streams as the daemon does: (loop ms, fsync and
/// rename ms, bytes, peak extra heap bytes while saving).
fn save_cost(n: usize) -> Result<(f64, f64, u64, isize), String> {
    use failoverd::config::settings::{Family, Target};
    use failoverd::probe::{Protocol, StreamKey};
    use std::io::Write;
    let keys: Vec<StreamKey> = (0..n)
        .map(|i| StreamKey {
            protocol: Protocol::Icmp,
            target: Target::Ip(std::net::Ipv4Addr::from(0x7f1e_0000 + i as u32 + 1).into()),
            family: Family::Any,
            source: None,
            interface: None,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        })
        .collect();
    let refs: Vec<&StreamKey> = keys.iter().collect();
    let t0 = Clocks::now();
    let mut h = History::new(t0.mono, n);
    let mut last = t0;
    for step in 0..366u64 {
        last = Clocks {
            mono: t0.mono + Duration::from_secs(step * 10),
            wall: t0.wall + Duration::from_secs(step * 10),
        };
        for s in 0..n {
            h.record(&check(s, last.mono, step), &[], last);
        }
    }
    let dir = Scratch::new("page-save");
    let path = dir.path.join("page-history.bin");
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let started = std::time::Instant::now();
    let file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    let mut w = std::io::BufWriter::with_capacity(64 << 10, file);
    h.save_to(&mut w, &refs, last).map_err(|e| e.to_string())?;
    w.flush().map_err(|e| e.to_string())?;
    let heap = PEAK.load(Ordering::Relaxed) - before;
    let file = w.into_inner().map_err(|e| e.to_string())?;
    let on_loop = started.elapsed().as_secs_f64() * 1e3;
    let started = std::time::Instant::now();
    file.sync_all().map_err(|e| e.to_string())?;
    std::fs::rename(&path, dir.path.join("page-history.bin.2")).map_err(|e| e.to_string())?;
    let off_loop = started.elapsed().as_secs_f64() * 1e3;
    let bytes = std::fs::metadata(dir.path.join("page-history.bin.2")).map_or(0, |m| m.len());
    Ok((on_loop, off_loop, bytes, heap))
}

pub fn run() -> Vec<Row> {
    crate::say!("page: the history of 10,000 streams over an hour");
    let (per, total) = history_bytes(10_000);
    let mut rows = vec![Row {
        scenario: "page history (1 h of 20 s points)".into(),
        n: "10000".into(),
        process: "in-process".into(),
        result: format!("{per:.0} bytes per target ({total:.1} MiB for all)"),
        target: "(stated in BENCHMARKS.md)".into(),
        ..Row::default()
    }];
    crate::say!("page: saving the history of 5,000 streams");
    rows.push(match save_cost(5000) {
        Ok((on_loop, off_loop, bytes, heap)) => Row {
            scenario: "page history save (page-history.bin)".into(),
            n: "5000".into(),
            process: "in-process".into(),
            result: format!(
                "{on_loop:.1} ms on the loop (points into the file), {off_loop:.1} ms fsync and rename off it; {bytes} bytes; {} KiB more heap at most while saving",
                heap.max(0) / 1024
            ),
            target: "(stated in BENCHMARKS.md)".into(),
            ..Row::default()
        },
        Err(e) => Row {
            scenario: "page history save (page-history.bin)".into(),
            n: "5000".into(),
            result: format!("FAILED: {e}"),
            met: Some(false),
            ..Row::default()
        },
    });
    crate::say!("page: one page of 1,000 targets with an hour of history");
    rows.push(match page_cpu(1000, 21) {
        Ok((t, size)) => Row {
            scenario: "page render (GET /)".into(),
            n: "1000".into(),
            process: "in-process".into(),
            result: format!(
                "{:.1} ms CPU per page (median of 21), {} KiB",
                t.as_secs_f64() * 1e3,
                size / 1024
            ),
            target: "< 100 ms CPU".into(),
            met: Some(t < Duration::from_millis(100)),
            ..Row::default()
        },
        Err(e) => Row {
            scenario: "page render (GET /)".into(),
            n: "1000".into(),
            result: format!("FAILED: {e}"),
            met: Some(false),
            ..Row::default()
        },
    });
    rows
}
