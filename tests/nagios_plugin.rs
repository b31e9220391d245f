//! `failoverd status --check` under a real scheduler: Nagios 4 (Debian's
//! `nagios4-core`) with a private configuration in a temporary folder,
//! running the real binary against the real daemon and the firewall
//! emulator. Each case forces a check through Nagios's external command
//! file (`SCHEDULE_FORCED_SVC_CHECK`) and waits until `status.dat` records
//! the state the plugin's exit code means: OK (all up), WARNING (a member
//! down), CRITICAL (the group down), UNKNOWN (no daemon), with the
//! perfdata split from the text. Needs root (Nagios runs as root here, to
//! open root's 0600 control socket); SKIPPED when not root; as root a
//! missing nagios4 is a failure (scripts/test.sh installs it from
//! scripts/debian-packages.txt).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

mod daemonutil;
use daemonutil::{Accepting, Daemon, emulator, settings, until_cli};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

fn skipped(why: &str) {
    // Past libtest's capture, so the skip is visible.
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {why}");
}

/// The Nagios 4 binary, or None (after SKIPPED) when not root.
fn nagios_binary() -> Option<PathBuf> {
    if !is_root() {
        skipped("the Nagios test needs root (Nagios runs the plugin as root); run scripts/test.sh as root");
        return None;
    }
    let found = ["/usr/sbin/nagios4", "/usr/sbin/nagios", "/usr/local/nagios/bin/nagios"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    assert!(
        found.is_some(),
        "nagios4 is missing: install Debian's nagios4-core (scripts/debian-packages.txt)"
    );
    found
}

const SERVICE: &str = "failoverd";

fn main_cfg(d: &Path) -> String {
    let p = |name: &str| d.join(name).display().to_string();
    format!(
        "log_file={}\ncfg_file={}\nobject_cache_file={}\nprecached_object_file={}\nstatus_file={}\n\
         status_update_interval=1\nnagios_user=root\nnagios_group=root\ncheck_external_commands=1\n\
         command_file={}\nquery_socket={}\nlock_file={}\ntemp_file={}\ntemp_path={}\ncheck_result_path={}\n\
         use_syslog=0\nretain_state_information=0\ninterval_length=1\ncheck_result_reaper_frequency=1\n\
         enable_notifications=0\nexecute_host_checks=0\ncheck_for_updates=0\nservice_check_timeout=30\n",
        p("nagios.log"),
        p("objects.cfg"),
        p("objects.cache"),
        p("objects.precache"),
        p("status.dat"),
        p("nagios.cmd"),
        p("nagios.qh"),
        p("nagios.lock"),
        p("nagios.tmp"),
        d.display(),
        p("spool"),
    )
}

/// A timeperiod, a contact nobody and the host `host`.
fn base_objects(host: &str) -> String {
    let days: String = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ]
    .iter()
    .map(|d| format!("    {d} 00:00-24:00\n"))
    .collect();
    format!(
        "define timeperiod {{\n    timeperiod_name always\n    alias always\n{days}}}\n\
         define command {{\n    command_name nothing\n    command_line /bin/true\n}}\n\
         define contact {{\n    contact_name nobody\n    host_notifications_enabled 0\n    service_notifications_enabled 0\n\
         host_notification_period always\n    service_notification_period always\n    host_notification_options n\n\
         service_notification_options n\n    host_notification_commands nothing\n    service_notification_commands nothing\n}}\n\
         define host {{\n    host_name {host}\n    address 127.0.0.1\n    check_command nothing\n    max_check_attempts 1\n\
         check_period always\n    notification_period always\n    contacts nobody\n}}\n"
    )
}

/// A host and one service whose check is `command_line`, checked only when
/// forced (the interval is an hour of 1-second units).
fn objects(command_line: &str) -> String {
    format!(
        "{}define command {{\n    command_name check_failoverd\n    command_line {command_line}\n}}\n\
         define service {{\n    host_name firewall\n    service_description {SERVICE}\n    check_command check_failoverd\n\
         max_check_attempts 1\n    check_interval 3600\n    retry_interval 3600\n    check_period always\n\
         notification_period always\n    contacts nobody\n}}\n",
        base_objects("firewall")
    )
}

/// Nagios in the foreground with its own folder; stopped (TERM, then
/// KILL) when dropped.
struct Nagios {
    child: Child,
    dir: tempfile::TempDir,
}

/// The service as status.dat records it.
#[derive(Debug, Default)]
struct Recorded {
    state: Option<i32>,
    output: String,
    perfdata: String,
    last_check: u64,
}

impl Nagios {
    fn start(binary: &Path, command_line: &str) -> Nagios {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("spool")).unwrap();
        std::fs::write(dir.path().join("nagios.cfg"), main_cfg(dir.path())).unwrap();
        std::fs::write(dir.path().join("objects.cfg"), objects(command_line)).unwrap();
        let out = std::fs::File::create(dir.path().join("run.out")).unwrap();
        let child = Command::new(binary)
            .arg(dir.path().join("nagios.cfg"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Nagios { child, dir }
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    fn report(&self) -> String {
        format!(
            "nagios output:\n{}\nnagios.log:\n{}\nstatus.dat's service: {:?}",
            self.file("run.out"),
            self.file("nagios.log"),
            self.recorded()
        )
    }

    /// Writes one line to the external command file, once Nagios reads it
    /// (a FIFO: opening it without a reader fails, and is retried).
    fn command(&mut self, line: &str) {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.path().join("nagios.cmd");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let open = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path);
            if let Ok(mut fifo) = open {
                fifo.write_all(format!("{line}\n").as_bytes()).unwrap();
                return;
            }
            let exited = self.child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "Nagios does not read {} (exited: {exited:?})\n{}",
                path.display(),
                self.report()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn force_check(&mut self) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.command(&format!("[{now}] SCHEDULE_FORCED_SVC_CHECK;firewall;{SERVICE};{now}"));
    }

    /// The `servicestatus` block of status.dat.
    fn recorded(&self) -> Recorded {
        let text = self.file("status.dat");
        let Some(block) = text.split("servicestatus {").nth(1) else {
            return Recorded::default();
        };
        let block = block.split('}').next().unwrap_or_default();
        let mut r = Recorded::default();
        for line in block.lines().map(str::trim) {
            let Some((k, v)) = line.split_once('=') else { continue };
            match k {
                "current_state" => r.state = v.parse().ok(),
                "plugin_output" => r.output = v.to_string(),
                "performance_data" => r.perfdata = v.to_string(),
                "last_check" => r.last_check = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        r
    }

    /// Forces checks until status.dat records `state` with output starting
    /// `FAILOVERD WORD` (bounded).
    fn until_recorded(&mut self, state: i32, word: &str, context: &dyn Fn() -> String) -> Recorded {
        let want = format!("FAILOVERD {word} - ");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut forced = Instant::now() - Duration::from_secs(10);
        loop {
            let r = self.recorded();
            if r.state == Some(state) && r.output.starts_with(&want) && r.last_check > 0 {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "Nagios did not record state {state} ({want}) within 20s\n{}\n{}",
                self.report(),
                context()
            );
            if forced.elapsed() > Duration::from_secs(3) {
                self.force_check();
                forced = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Nagios {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn nagios_records_each_state_the_plugin_reports() {
    let Some(binary) = nagios_binary() else { return };
    let (_rt, emu) = emulator();
    // Member A probes 127.0.0.1:PORT, member B 127.0.0.2:PORT.
    let (a, b) = Accepting::pair();
    // The emulator's G is defined with PING, the file with TCP: the
    // daemon sends the file's definition (sync = true) after two Gets a
    // second apart, and the plugin is OK once the firewall is in step.
    let in_step = "check_every = \"1s\"\nsync = true";
    let d = Daemon::start(&settings(&emu, a.port, "tunnel", in_step), a.port);
    let config = d.dir.path().join("failoverd.toml");
    let check = ["status", "--check"];
    let limit = Duration::from_secs(30);
    let command_line = format!(
        "{} status --check -c {}",
        env!("CARGO_BIN_EXE_failoverd"),
        config.display()
    );
    let mut nagios = Nagios::start(&binary, &command_line);
    let report = || d.report();

    until_cli(&check, &config, 0, limit, &report);
    let r = nagios.until_recorded(0, "OK", &report);
    assert_eq!(r.output, "FAILOVERD OK - 1 group up: G", "{r:?}");
    assert!(
        r.perfdata.contains("'G'=1;;;0;1") && r.perfdata.contains("'G_rtt'="),
        "{r:?}"
    );

    b.close();
    until_cli(&check, &config, 1, limit, &report);
    let r = nagios.until_recorded(1, "WARNING", &report);
    assert!(r.output.contains("G: member B down"), "{r:?}");
    assert!(r.perfdata.contains("'G/B'=0;;;0;1"), "{r:?}");

    a.close();
    until_cli(&check, &config, 2, limit, &report);
    let r = nagios.until_recorded(2, "CRITICAL", &report);
    assert!(r.output.starts_with("FAILOVERD CRITICAL - G down"), "{r:?}");

    let (code, _, _, _kept) = d.stop();
    assert_eq!(code, 0);
    let r = nagios.until_recorded(3, "UNKNOWN", &String::new);
    assert!(r.output.contains("control.sock"), "{r:?}");
}

/// The example in config/monitoring/nagios.cfg (installed into the
/// package's doc folder) passes Nagios's own pre-flight check beside a
/// stand-in for Debian's `generic-service` template and a `localhost` host.
#[test]
fn the_nagios_example_passes_the_preflight_check() {
    let Some(binary) = nagios_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("spool")).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/monitoring/nagios.cfg");
    let base = base_objects("localhost");
    let template = "define service {\n    name generic-service\n    register 0\n    check_period always\n\
                    notification_period always\n    contacts nobody\n    max_check_attempts 3\n\
                    check_interval 5\n    retry_interval 1\n}\n";
    std::fs::write(d.join("objects.cfg"), format!("{base}{template}")).unwrap();
    let cfg = format!("{}cfg_file={}\n", main_cfg(d), example.display());
    std::fs::write(d.join("nagios.cfg"), cfg).unwrap();
    let out = Command::new(binary)
        .arg("-v")
        .arg(d.join("nagios.cfg"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "nagios -v refused the example:\n{text}");
    assert!(text.contains("Total Errors:   0"), "{text}");
}
