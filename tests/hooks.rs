//! `[[hooks]]` end to end (docs/hooks.md): the real daemon, the firewall
//! emulator, loopback listeners as the members' peers, and real
//! executables as hooks (small shell scripts written into the test's
//! folder). What each hook saw is compared with the daemon's own log.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

mod daemonutil;

use daemonutil::*;

/// Writes an executable script `name` into `dir`; returns its path.
fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool, context: &dyn Fn() -> String) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}\n{}", context());
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A log line's `NAME=` field (quoted or not).
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.split(&format!(" {name}=")).nth(1)?;
    match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next(),
        None => rest.split_whitespace().next(),
    }
}

/// The events the daemon logged, as "KIND GROUP", in order: each line
/// whose EVENT is an event kind (docs/events-and-mail.md).
fn logged(d: &Daemon) -> Vec<String> {
    d.log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| {
            let kind = field(l, "EVENT").filter(|k| failoverd::mail::event::Kind::from_name(k).is_some())?;
            Some(format!("{kind} {}", field(l, "GROUP").unwrap_or("")))
        })
        .collect()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Member A's peer goes away until the group's failover is logged, then
/// comes back until its recovery is logged: a few events each time.
fn flap(d: &Daemon, a: TcpListener, port: u16, round: usize) -> TcpListener {
    let ups = |d: &Daemon| logged(d).iter().filter(|e| e.starts_with("MemberUp")).count();
    let downs = |d: &Daemon| logged(d).iter().filter(|e| e.starts_with("MemberDown")).count();
    let before = downs(d);
    drop(a);
    until("member down", Duration::from_secs(10), || downs(d) > before, &|| {
        d.report()
    });
    let a = listen("127.0.0.1", port);
    until("member up", Duration::from_secs(10), || ups(d) >= round, &|| d.report());
    a
}

fn hooks_settings(emu: &sfos_emulator::Emulator, port: u16, hooks: &str) -> String {
    settings(
        emu,
        port,
        "underlay",
        &format!("[http]\nlisten = \"127.0.0.1:0\"\n{hooks}"),
    )
}

fn metric(page: &str, line_start: &str) -> u64 {
    page.lines()
        .find_map(|l| l.strip_prefix(line_start).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

#[test]
fn every_event_reaches_the_hooks_in_order_and_the_filter_holds() {
    let (_rt, emu) = emulator();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let all = script(
        w,
        "record",
        &format!(
            "printf '%s %s\\n' \"$FAILOVERD_EVENT\" \"$FAILOVERD_GROUP\" >> {}/all.txt",
            w.display()
        ),
    );
    // A slow one: its events queue and all run, in order, while the
    // daemon goes on probing and answering.
    let slow = script(
        w,
        "slow",
        &format!(
            "sleep 0.4; printf '%s %s\\n' \"$FAILOVERD_EVENT\" \"$FAILOVERD_GROUP\" >> {}/slow.txt",
            w.display()
        ),
    );
    let json = script(
        w,
        "json",
        &format!("cat >> {}/down.jsonl; env > {}/env.txt", w.display(), w.display()),
    );
    let hooks = format!(
        "[[hooks]]\ncommand = [\"{all}\"]\n[[hooks]]\ncommand = [\"{slow}\"]\ntimeout = \"5s\"\n\
         [[hooks]]\nname = \"downs\"\ncommand = [\"{json}\"]\nevents = [\"MemberDown\"]\n"
    );
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let d = Daemon::start(&hooks_settings(&emu, port, &hooks), port);
    let http = d.http_port();
    d.until_notified("groups: 1 up", Duration::from_secs(10));
    let mut a = a;
    for round in 1..=3 {
        a = flap(&d, a, port, round);
    }
    // The slow hook is behind now; the daemon answers at once meanwhile,
    // and its checks go on.
    let checks = |page: &str| -> u64 {
        let lines = page.lines().filter(|l| l.starts_with("failoverd_checks_total{"));
        lines.filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok()).sum()
    };
    let before = checks(&http_get(http, "GET", "/metrics"));
    let t = Instant::now();
    let status = http_get(http, "GET", "/status");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    // The hooks' backlog is several seconds long: an answer within 2 s
    // (on a loaded test machine) was not waiting for it.
    assert!(t.elapsed() < Duration::from_secs(2), "status took {:?}", t.elapsed());
    until(
        "checks go on while the slow hook works",
        Duration::from_secs(5),
        || checks(&http_get(http, "GET", "/metrics")) > before + 2,
        &|| d.report(),
    );
    let want = logged(&d);
    assert!(want.len() >= 9, "{want:?}");
    until(
        "every event ran the hooks",
        Duration::from_secs(30),
        || lines(&w.join("all.txt")).len() >= want.len() && lines(&w.join("slow.txt")).len() >= want.len(),
        &|| format!("{want:?}\n{:?}\n{}", lines(&w.join("slow.txt")), d.report()),
    );
    assert_eq!(lines(&w.join("all.txt")), want, "in the order of the log");
    assert_eq!(lines(&w.join("slow.txt")), want, "queued, not dropped, in order");
    // The filter: only MemberDown, with the event as JSON on stdin.
    let downs: Vec<serde_json::Value> = lines(&w.join("down.jsonl"))
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        downs.len(),
        want.iter().filter(|e| e.starts_with("MemberDown")).count(),
        "{downs:?}"
    );
    for e in &downs {
        assert_eq!(
            (e["kind"].as_str(), e["group"].as_str(), e["member"].as_str()),
            (Some("MemberDown"), Some("G"), Some("A"))
        );
        assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
        assert!(e["reason"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
    }
    let env = std::fs::read_to_string(w.join("env.txt")).unwrap();
    assert!(
        env.contains("FAILOVERD_MEMBER=A\n") && env.contains("FAILOVERD_EVENT=MemberDown\n"),
        "{env}"
    );
    assert!(
        !env.contains("NOTIFY_SOCKET") && !env.contains("RUST_LOG"),
        "a clean environment: {env}"
    );
    let page = http_get(http, "GET", "/metrics");
    let ok = metric(&page, "failoverd_hook_runs_total{hook=\"slow\",result=\"ok\"}");
    assert_eq!(ok as usize, want.len(), "{page}");
    let (code, _, _, _dir) = d.stop();
    assert_eq!(code, 0);
}

/// The pids the hanging hook's grandchildren wrote, still alive.
fn alive(path: &Path) -> Vec<String> {
    lines(path)
        .into_iter()
        .filter(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| !s.contains(") Z ")))
        .collect()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn failing_hanging_and_flooding_hooks_are_contained() {
    let (_rt, emu) = emulator();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let fail = script(
        w,
        "fail",
        &format!(
            "[ -e {}/fixed ] && exit 0; echo 'boom: no route' >&2; exit 3",
            w.display()
        ),
    );
    let hang = script(
        w,
        "hang",
        &format!(
            "sleep 1000 & echo $! >> {}/pids; echo started >> {}/hang.txt; wait",
            w.display(),
            w.display()
        ),
    );
    // 40 MB on stdout and stderr each: read to the end and discarded (a
    // reader that closed the pipe early would fail it with SIGPIPE, one
    // that stopped reading would block it until the timeout).
    let flood = script(
        w,
        "flood",
        "head -c 40000000 /dev/zero || exit 7; head -c 40000000 /dev/zero >&2 || exit 8; exit 0",
    );
    let hooks = format!(
        "[[hooks]]\ncommand = [\"{fail}\"]\n[[hooks]]\ncommand = [\"{hang}\"]\ntimeout = \"1s\"\n\
         [[hooks]]\ncommand = [\"{flood}\"]\ntimeout = \"60s\"\n"
    );
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let d = Daemon::start(&hooks_settings(&emu, port, &hooks), port);
    let http = d.http_port();
    d.until_notified("groups: 1 up", Duration::from_secs(10));
    let rss_before = rss_kib(d.pid());
    let mut a = a;
    for round in 1..=2 {
        a = flap(&d, a, port, round);
    }
    let events = logged(&d).len() as u64;
    let page = || http_get(http, "GET", "/metrics");
    until(
        "every hook ran for every event",
        Duration::from_secs(60),
        || {
            let p = page();
            metric(&p, "failoverd_hook_runs_total{hook=\"fail\",result=\"failed\"}") >= events
                && metric(&p, "failoverd_hook_runs_total{hook=\"hang\",result=\"timeout\"}") >= events
                && metric(&p, "failoverd_hook_runs_total{hook=\"flood\",result=\"ok\"}") >= events
        },
        &|| format!("{}\n{}", page(), d.report()),
    );
    // Killed at the timeout, the grandchild with it; the next event ran.
    assert_eq!(lines(&w.join("hang.txt")).len() as u64, events);
    until(
        "no grandchild left",
        Duration::from_secs(5),
        || alive(&w.join("pids")).is_empty(),
        &|| format!("{:?}", alive(&w.join("pids"))),
    );
    // The flood did not grow the daemon: 80 MB went through it per event.
    let grown = rss_kib(d.pid()).saturating_sub(rss_before);
    assert!(grown < 30_000, "the daemon grew by {grown} KiB");
    // A failure streak is logged once, with the start of stderr.
    let text = d.log_text();
    let failed = text.matches("hook fail failed for").count();
    assert_eq!(failed, 1, "{text}");
    assert!(text.contains("exit status 3; stderr: boom: no route"), "{text}");
    assert_eq!(text.matches("hook hang failed for").count(), 1, "{text}");
    // Fixed: the recovery is logged once.
    std::fs::write(w.join("fixed"), "").unwrap();
    let _a = flap(&d, a, port, 3);
    d.until_logged("hook fail ran for", Duration::from_secs(30));
    let (code, log, _, _dir) = d.stop();
    assert_eq!(code, 0);
    let text = log.join("\n");
    assert_eq!(text.matches("hook fail ran for").count(), 1, "{text}");
    assert_eq!(
        text.matches("hook fail failed for").count(),
        1,
        "one line per streak: {text}"
    );
}

fn check_config(dir: &Path, hooks: &str) -> (i32, String, String) {
    let (_rt, emu) = emulator();
    let text = hooks_settings(&emu, 9, hooks);
    std::fs::write(dir.join("failoverd.toml"), &text).unwrap();
    std::fs::write(dir.join("g.xml"), GROUP.replace("PORT", "9")).unwrap();
    std::fs::write(dir.join("pw"), "pw\n").unwrap();
    std::fs::set_permissions(dir.join("pw"), std::fs::Permissions::from_mode(0o600)).unwrap();
    cli(&["check"], &dir.join("failoverd.toml"))
}

#[test]
fn check_locates_bad_hooks_and_names_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    let plain = plain.display().to_string();
    for (hook, want) in [
        ("command = [\"hooks/notify\"]", "is not an absolute path"),
        (
            "command = [\"/nonexistent/notify\"]",
            "\"/nonexistent/notify\" cannot be run",
        ),
        (&format!("command = [\"{plain}\"]"), "is not executable"),
        (
            "command = [\"/bin/true\"]\nevents = [\"GroupDwon\"]",
            "unknown event kind \"GroupDwon\" (did you mean GroupDown?)",
        ),
    ] {
        let (code, _, err) = check_config(dir.path(), &format!("[[hooks]]\n{hook}\n"));
        assert_eq!(code, 1, "{hook}: {err}");
        let line = err
            .lines()
            .find(|l| l.contains(want))
            .unwrap_or_else(|| panic!("{hook}: {err}"));
        let toml = dir.path().join("failoverd.toml").display().to_string();
        let rest = line
            .strip_prefix(&format!("{toml}:"))
            .unwrap_or_else(|| panic!("{line}"));
        let mut parts = rest.splitn(3, ':');
        let (l, c) = (parts.next().unwrap(), parts.next().unwrap());
        assert!(
            l.parse::<u32>().is_ok() && c.parse::<u32>().is_ok(),
            "FILE:LINE:COL: {line}"
        );
        assert!(line.contains("hooks[0]."), "{line}");
    }
    let hook = "[[hooks]]\ncommand = [\"/bin/echo\", \"a; b\"]\nevents = [\"GroupDown\", \"GroupUp\"]\n";
    let (code, out, err) = check_config(dir.path(), hook);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("hook echo: runs [\"/bin/echo\", \"a; b\"] for GroupDown, GroupUp (timeout 10s, no shell)"),
        "{out}"
    );
}

/// The webhook example run as failoverd runs a hook (clean environment,
/// the event as JSON on stdin) against a local HTTP server: the message
/// carries hostile names as plain text.
#[test]
fn the_webhook_example_posts_json_built_by_jq() {
    for tool in ["jq", "curl"] {
        if !Path::new(&format!("/usr/bin/{tool}")).exists() {
            println!("SKIPPED: the webhook example needs /usr/bin/{tool} (apt-get install {tool})");
            return;
        }
    }
    use std::io::{BufRead, BufReader, Read, Write};
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("webhook.url");
    std::fs::write(&url, format!("http://127.0.0.1:{port}/hook/s3cret\n")).unwrap();
    let got = std::thread::spawn(move || {
        let (s, _) = server.accept().unwrap();
        let mut r = BufReader::new(s);
        let (mut head, mut len) = (String::new(), 0usize);
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            head.push_str(&l);
            if l == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        r.get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")
            .unwrap();
        (head, String::from_utf8(body).unwrap())
    });
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hooks/failoverd-webhook");
    let event = r#"{"kind":"GroupDown","label":"group down","group":"HQ \"VPN\" $(touch /tmp/pwned); x","member":null,"reason":"all 2 members down","time":"2026-12-06T22:00:00Z","push":"DeActive HQ","answer":"200 ok","expected_active":null}"#;
    let mut child = std::process::Command::new(&example)
        .arg(&url)
        .env_clear()
        .env("PATH", failoverd::hooks::run::SAFE_PATH)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(event.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    let (head, body) = got.join().unwrap();
    assert!(head.starts_with("POST /hook/s3cret HTTP/1.1"), "{head}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let text = json["text"].as_str().unwrap();
    assert!(
        text.contains(
            ": group down HQ \"VPN\" $(touch /tmp/pwned); x: all 2 members down (pushed DeActive HQ: 200 ok)"
        ),
        "{text}"
    );
}

/// A reload swaps the hooks from the next event; one with a bad command is
/// rejected whole and the old hooks run on; at SIGTERM a run in progress
/// is killed with its process group.
#[test]
fn a_reload_swaps_the_hooks_and_a_stop_kills_a_run_in_progress() {
    let (_rt, emu) = emulator();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let record = |name: &str| {
        let body = format!("printf '%s\\n' \"$FAILOVERD_EVENT\" >> {}/{name}.txt", w.display());
        script(w, name, &body)
    };
    let (first, second) = (record("first"), record("second"));
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let text = |hooks: &str| hooks_settings(&emu, port, hooks);
    let d = Daemon::start(&text(&format!("[[hooks]]\ncommand = [\"{first}\"]\n")), port);
    d.until_notified("groups: 1 up", Duration::from_secs(10));
    let a = flap(&d, a, port, 1);
    let toml = d.dir.path().join("failoverd.toml");
    // Rejected: a relative command. The first hook keeps running.
    std::fs::write(&toml, text("[[hooks]]\ncommand = [\"second\"]\n")).unwrap();
    d.signal("HUP");
    d.until_logged("reload rejected", Duration::from_secs(10));
    let a = flap(&d, a, port, 2);
    let events = logged(&d).len();
    until(
        "the first hook ran for each event",
        Duration::from_secs(10),
        || lines(&w.join("first.txt")).len() == events,
        &|| d.report(),
    );
    assert!(!w.join("second.txt").exists());
    // Applied: the second hook from the next event on; the first no more.
    let hang = script(
        w,
        "hang",
        &format!("sleep 1000 & echo $! >> {}/pids; wait", w.display()),
    );
    let hooks = format!("[[hooks]]\ncommand = [\"{second}\"]\n[[hooks]]\ncommand = [\"{hang}\"]\ntimeout = \"10m\"\n");
    std::fs::write(&toml, text(&hooks)).unwrap();
    d.signal("HUP");
    d.until_logged("[[hooks]] changed", Duration::from_secs(10));
    let _a = flap(&d, a, port, 3);
    let all = logged(&d).len();
    until(
        "the second hook ran for the new events",
        Duration::from_secs(10),
        || lines(&w.join("second.txt")).len() == all - events,
        &|| d.report(),
    );
    assert_eq!(lines(&w.join("first.txt")).len(), events, "the removed hook ran again");
    // The hanging hook is still in its first run: SIGTERM kills it, and its
    // grandchild, with the daemon.
    until(
        "the hanging hook started",
        Duration::from_secs(10),
        || !lines(&w.join("pids")).is_empty(),
        &|| d.report(),
    );
    assert_eq!(alive(&w.join("pids")).len(), 1);
    let (code, _, _, _dir) = d.stop();
    assert_eq!(code, 0);
    until(
        "no grandchild left after the stop",
        Duration::from_secs(5),
        || alive(&w.join("pids")).is_empty(),
        &|| format!("{:?}", alive(&w.join("pids"))),
    );
}

/// The logger example hands logger one argument, whatever the group name
/// holds (a stand-in logger first on PATH records what it got).
#[test]
fn the_logger_example_passes_values_as_one_argument() {
    let dir = tempfile::tempdir().unwrap();
    let got = dir.path().join("got");
    script(
        dir.path(),
        "logger",
        &format!("printf '%s|' \"$#\" \"$@\" > {}", got.display()),
    );
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hooks/failoverd-logger");
    let status = std::process::Command::new(&example)
        .env_clear()
        .env(
            "PATH",
            format!("{}:{}", dir.path().display(), failoverd::hooks::run::SAFE_PATH),
        )
        .env("FAILOVERD_EVENT", "GroupDown")
        .env("FAILOVERD_GROUP", "HQ \"VPN\" $(touch /tmp/pwned); x")
        .env("FAILOVERD_MEMBER", "")
        .env("FAILOVERD_TIME", "2026-12-06T22:00:00Z")
        .stdin(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read_to_string(&got).unwrap(),
        "4|--tag|failoverd-hook|--|event=GroupDown group=HQ \"VPN\" $(touch /tmp/pwned); x member=- time=2026-12-06T22:00:00Z|"
    );
}
