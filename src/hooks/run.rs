//! One run of a hook's program for one event (docs/hooks.md, "How a hook
//! runs"): started without a shell in a process group of its own, cwd `/`,
//! a clean environment (a fixed PATH and the FAILOVERD_* variables), the
//! event as JSON on stdin and stdin then closed; stdout and stderr read to
//! their end, the first [`KEPT`] bytes kept for the failure log line and
//! the rest discarded, so a flood neither grows memory nor blocks the
//! program; at the timeout, or when the run is dropped because the daemon
//! stops, the whole group is killed; the program is reaped.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::time::Instant;

use crate::config::settings::Hook;
use crate::mail::event::Event;

/// The PATH a hook's program gets: the system's own folders only.
pub const SAFE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Bytes of stdout and of stderr kept for the log line.
pub const KEPT: usize = 4096;
/// After the group was killed, how long its pipes may take to close.
const AFTER_KILL: Duration = Duration::from_secs(2);

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Exit status not 0, a signal, or the program could not start: why,
    /// with the start of its output.
    Failed(String),
    /// Still running at the timeout: killed, with its whole group.
    Timeout(String),
}

impl Outcome {
    /// The `result` label of `failoverd_hook_runs_total`.
    pub fn result(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed(_) => "failed",
            Outcome::Timeout(_) => "timeout",
        }
    }
}

/// The event as the program reads it on stdin: the journal's and the
/// mail's fields, the time in UTC RFC 3339.
pub fn payload(e: &Event) -> serde_json::Value {
    serde_json::json!({
        "kind": e.kind.name(),
        "label": e.kind.label(),
        "group": e.group,
        "member": e.member,
        "from": e.from,
        "to": e.to,
        "condition": e.condition,
        "target": e.target,
        "reason": e.reason,
        "expected_active": e.expected_active,
        "push": e.push,
        "answer": e.answer,
        "firewall": e.firewall,
        "time": crate::time::rfc3339(e.at),
        "while_stopped": e.while_stopped,
    })
}

fn command(hook: &Hook, e: &Event) -> Command {
    let mut c = Command::new(&hook.command[0]);
    c.args(&hook.command[1..])
        .current_dir("/")
        .env_clear()
        .env("PATH", SAFE_PATH)
        .env("FAILOVERD_EVENT", e.kind.name())
        .env("FAILOVERD_GROUP", e.group.as_deref().unwrap_or(""))
        .env("FAILOVERD_MEMBER", e.member.as_deref().unwrap_or(""))
        .env("FAILOVERD_TIME", crate::time::rfc3339(e.at))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    c
}

/// Runs `hook`'s program once for `e`.
pub async fn run(hook: &Hook, e: &Event) -> Outcome {
    let mut child = match command(hook, e).spawn() {
        Ok(c) => c,
        Err(err) => return Outcome::Failed(format!("{} could not be started: {err}", hook.command[0])),
    };
    let group = child.id().and_then(|p| i32::try_from(p).ok());
    // Dropped mid-run (the daemon stops): the whole group is killed.
    let mut guard = Group(group);
    let input = serde_json::to_vec(&payload(e)).unwrap_or_default();
    let stdin = child.stdin.take();
    let feed = tokio::spawn(async move {
        if let Some(mut s) = stdin {
            // A program that does not read stdin closes it: not an error.
            let _ = s.write_all(&input).await;
            let _ = s.write_all(b"\n").await;
        }
    });
    let out = tokio::spawn(drain(child.stdout.take()));
    let err = tokio::spawn(drain(child.stderr.take()));
    let deadline = Instant::now() + hook.timeout;
    let status = tokio::time::timeout_at(deadline, child.wait()).await;
    let timed_out = status.is_err();
    // Timed out, or the program ended but something it started still holds
    // its output open at the deadline: the whole group is killed.
    let pipes = async { (out.await.unwrap_or_default(), err.await.unwrap_or_default()) };
    tokio::pin!(pipes);
    let mut output = None;
    if !timed_out {
        output = tokio::time::timeout_at(deadline, &mut pipes).await.ok();
    }
    if timed_out || output.is_none() {
        kill_group(group);
        output = tokio::time::timeout(AFTER_KILL, &mut pipes).await.ok();
    }
    feed.abort();
    guard.0 = None;
    let (stdout, stderr) = output.unwrap_or_default();
    let shown = shown(&stdout, &stderr);
    match status {
        Err(_) => {
            // Killed above: reaped here, so no zombie is left.
            let _ = child.wait().await;
            Outcome::Timeout(format!(
                "still running after {}: killed with its process group{shown}",
                humantime::format_duration(hook.timeout)
            ))
        }
        Ok(Ok(st)) if st.success() => Outcome::Ok,
        Ok(Ok(st)) => Outcome::Failed(format!("{}{shown}", ended(st))),
        Ok(Err(err)) => Outcome::Failed(format!("could not wait for it: {err}")),
    }
}

/// A running hook's process group, killed if the run is dropped before
/// it ends.
struct Group(Option<i32>);

impl Drop for Group {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

/// Kills every process of the hook's process group (its id is the
/// program's pid: the program was started as the group's leader).
#[allow(unsafe_code)]
fn kill_group(group: Option<i32>) {
    if let Some(pgid) = group.filter(|p| *p > 1) {
        // SAFETY: kill(2) with a negative pid signals that process group;
        // it touches no memory of ours.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

fn ended(st: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => st.to_string(),
    }
}

/// The kept output for the log line, on one line.
fn shown(stdout: &[u8], stderr: &[u8]) -> String {
    let mut s = String::new();
    for (name, bytes) in [("stderr", stderr), ("stdout", stdout)] {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim();
        if !text.is_empty() {
            s.push_str(&format!("; {name}: {}", text.escape_debug()));
        }
    }
    s
}

/// Reads `r` to its end, keeping the first [`KEPT`] bytes.
async fn drain(r: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let Some(mut r) = r else { return Vec::new() };
    let mut kept = Vec::with_capacity(256);
    let mut buf = vec![0u8; 8192];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = KEPT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::mail::event::Kind;

    fn hook(script: &str, timeout: Duration) -> Hook {
        Hook {
            name: "t".into(),
            command: vec!["/bin/sh".into(), "-c".into(), script.into()],
            events: None,
            timeout,
        }
    }

    fn event() -> Event {
        Event::new(Kind::GroupDown, "all members down", SystemTime::UNIX_EPOCH)
            .with_group("HQ \"VPN\"; $(x)")
            .with_member("A")
    }

    #[tokio::test]
    async fn the_program_gets_json_and_a_clean_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("cat > {0}.json; env > {0}.env; pwd > {0}.pwd", out.display());
        assert_eq!(
            run(&hook(&script, Duration::from_secs(10)), &event()).await,
            Outcome::Ok
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap()).unwrap();
        assert_eq!(json["kind"], "GroupDown");
        assert_eq!(json["group"], "HQ \"VPN\"; $(x)");
        assert_eq!(json["time"], "1970-01-01T00:00:00Z");
        let env = std::fs::read_to_string(out.with_extension("env")).unwrap();
        assert!(env.contains("FAILOVERD_EVENT=GroupDown\n"), "{env}");
        assert!(env.contains("FAILOVERD_GROUP=HQ \"VPN\"; $(x)\n"), "{env}");
        assert!(
            env.contains("FAILOVERD_MEMBER=A\n") && env.contains(&format!("PATH={SAFE_PATH}\n")),
            "{env}"
        );
        assert!(!env.contains("CARGO") && !env.contains("HOME="), "{env}");
        assert_eq!(std::fs::read_to_string(out.with_extension("pwd")).unwrap(), "/\n");
    }

    #[tokio::test]
    async fn failures_say_why_with_the_start_of_the_output() {
        let o = run(&hook("echo boom >&2; exit 3", Duration::from_secs(10)), &event()).await;
        assert_eq!(o, Outcome::Failed("exit status 3; stderr: boom".into()));
        let o = run(&hook("kill -9 $$", Duration::from_secs(10)), &event()).await;
        assert_eq!(o, Outcome::Failed("killed by signal 9".into()));
        let mut h = hook("", Duration::from_secs(1));
        h.command = vec!["/nonexistent/hook".into()];
        assert!(matches!(run(&h, &event()).await, Outcome::Failed(w) if w.contains("could not be started")));
        // A flood: read to its end, only the start kept.
        let o = run(
            &hook(
                "head -c 5000000 /dev/zero | tr '\\0' x; exit 1",
                Duration::from_secs(20),
            ),
            &event(),
        )
        .await;
        let Outcome::Failed(why) = o else { panic!("{o:?}") };
        assert!(why.len() < KEPT + 100, "{}", why.len());
    }

    #[tokio::test]
    async fn a_program_that_never_ends_is_killed_with_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("pid");
        let script = format!("sleep 1000 & echo $! > {}; wait", pid.display());
        let started = std::time::Instant::now();
        let o = run(&hook(&script, Duration::from_millis(500)), &event()).await;
        assert!(matches!(&o, Outcome::Timeout(w) if w.contains("killed")), "{o:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let grandchild = std::fs::read_to_string(&pid).unwrap();
        let gone = !std::path::Path::new(&format!("/proc/{}", grandchild.trim())).exists()
            || std::fs::read_to_string(format!("/proc/{}/stat", grandchild.trim())).is_ok_and(|s| s.contains(") Z "));
        assert!(gone, "the grandchild {grandchild} still runs");
    }
}
