//! The peer reader against a real daemon's `/status` (docs/ha.md, Holds
//! bind the pair): the holds `failoverd hold` and `push --hold` place are
//! read back with their ends and reasons, and every way a read can fail is
//! a typed error, never "no holds".

mod daemonutil;

use std::time::{Duration, SystemTime};

use daemonutil::*;
use failoverd::ha::peer::{self, PeerClient, PeerError};

fn near(t: SystemTime, want: SystemTime) -> bool {
    let d = t.duration_since(want).or_else(|e| Ok::<_, ()>(e.duration())).unwrap();
    d <= Duration::from_secs(5)
}

#[test]
fn the_holds_a_real_daemon_shows_are_read_with_their_ends() {
    let (rt, emu) = emulator();
    let a = listen("127.0.0.1", 0);
    let port = a.local_addr().unwrap().port();
    let _b = listen("127.0.0.2", port);
    let extra = "[http]\nlisten = \"127.0.0.1:0\"";
    let d = Daemon::start(&(settings(&emu, port, "underlay", "") + extra), port);
    d.until_logged("the firewall answered", Duration::from_secs(10));
    let config = d.dir.path().join("failoverd.toml");
    let base = format!("http://127.0.0.1:{}", d.http_port());
    let client = PeerClient::new(&format!("{base}/status"), peer::TIMEOUT).unwrap();

    assert_eq!(rt.block_on(client.holds()), Ok(vec![]), "no hold yet");
    let (code, _, err) = cli(&["hold", "G", "--for", "1h", "--reason", "change window"], &config);
    assert_eq!(code, 0, "{err}");
    let placed = SystemTime::now();
    let holds = rt.block_on(client.holds()).unwrap();
    assert_eq!(holds.len(), 1, "{holds:?}");
    assert_eq!(
        (holds[0].group.as_str(), holds[0].reason.as_str()),
        ("G", "change window")
    );
    assert!(near(holds[0].until, placed + Duration::from_secs(3600)), "{holds:?}");

    // A manual push's hold, longer: the hold never shortens, the reason says
    // who placed it.
    let (code, out, err) = cli(&["push", "G", "--deactivate", "--hold", "2h"], &config);
    assert_eq!(code, 0, "{out}{err}");
    let holds = rt.block_on(client.holds()).unwrap();
    assert_eq!(holds[0].reason, "manual push of DeActive");
    assert!(near(holds[0].until, placed + Duration::from_secs(7200)), "{holds:?}");

    let (code, _, err) = cli(&["release", "G"], &config);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rt.block_on(client.holds()), Ok(vec![]), "released on the peer: gone");

    // The wrong URL for the peer: typed errors.
    let wrong = PeerClient::new(&format!("{base}/nope"), peer::TIMEOUT).unwrap();
    assert_eq!(rt.block_on(wrong.holds()), Err(PeerError::Status(404)));
    let metrics = PeerClient::new(&format!("{base}/metrics"), peer::TIMEOUT).unwrap();
    assert!(matches!(rt.block_on(metrics.holds()), Err(PeerError::NotJson(_))));
    drop(d);
    assert!(matches!(rt.block_on(client.holds()), Err(PeerError::Unreachable(_))));
}

#[test]
fn a_peer_that_never_answers_is_unreachable_after_the_timeout() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A listener that accepts (the kernel does) but never answers.
    let silent = listen("127.0.0.1", 0);
    let url = format!("http://127.0.0.1:{}/status", silent.local_addr().unwrap().port());
    let client = PeerClient::new(&url, Duration::from_millis(300)).unwrap();
    let t0 = std::time::Instant::now();
    let got = rt.block_on(client.holds());
    assert!(matches!(got, Err(PeerError::Unreachable(_))), "{got:?}");
    assert!(t0.elapsed() < Duration::from_secs(5), "the timeout bounds the read");
}

#[test]
fn a_url_with_user_info_is_refused_before_any_request() {
    let e = PeerClient::new("http://admin:s3cret@127.0.0.1:9/status", peer::TIMEOUT).unwrap_err();
    assert!(!e.contains("s3cret"), "{e}");
}
