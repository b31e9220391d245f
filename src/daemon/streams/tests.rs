//! The running streams share their keys with the engine: one copy of each
//! key per running stream, kept across a reload that keeps the stream
//! (issue #30).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::*;
use crate::health::outcome::Outcome;

/// A check that never answers: the streams' tasks run but report nothing.
struct Silent;

impl Check for Silent {
    type State = ();
    fn state(&self, _key: &StreamKey) {}
    fn check<'a>(
        &'a self,
        _key: &'a StreamKey,
        _addr: IpAddr,
        _state: &'a mut (),
    ) -> impl std::future::Future<Output = Outcome> + Send + 'a {
        std::future::pending()
    }
}

fn engine(dir: &std::path::Path, second: &str) -> (Engine, Probe) {
    let settings = format!(
        "groups = [\"g.xml\"]\nstate_dir = \"state\"\n[firewall]\nurl = \"https://127.0.0.1:9\"\nusername = \"t\"\ndry_run = true\n\
         [connections.A]\ntargets = [\"192.0.2.1\"]\n[connections.B]\ntargets = [\"{second}\"]\n"
    );
    std::fs::write(dir.join("failoverd.toml"), settings).unwrap();
    std::fs::write(
        dir.join("g.xml"),
        "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection>\
         <Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>PING</Protocol>\
         </FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>",
    )
    .unwrap();
    let plan = crate::config::load(&dir.join("failoverd.toml"))
        .unwrap()
        .plan
        .expect("valid");
    (Engine::new(&plan, &BTreeMap::new()), plan.settings.probe.clone())
}

/// The probe task's copy of stream `id`'s key is the engine's.
fn shared(streams: &Streams<Silent>, engine: &Engine, id: StreamId) -> bool {
    let key = engine.stream_keys().nth(id).unwrap();
    let (running, _) = streams.running.get_key_value(&**key).unwrap();
    Arc::ptr_eq(running, key)
}

#[tokio::test]
async fn a_running_stream_holds_the_engines_key_and_a_reload_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = mpsc::channel(16);
    let (first, probe) = engine(dir.path(), "192.0.2.2");
    let mut streams = Streams::new(Arc::new(Silent), &probe, tx);
    assert_eq!(streams.apply(&first, &probe).started, first.streams().len());
    for id in 0..first.streams().len() {
        assert!(
            shared(&streams, &first, id),
            "stream {id}: a copy of the key, not the engine's"
        );
    }
    // A reload that changes B's target: A's stream runs on with one key.
    let (mut next, _) = engine(dir.path(), "192.0.2.3");
    next.adopt(&first);
    drop(first);
    let r = streams.apply(&next, &probe);
    assert_eq!((r.kept, r.started, r.stopped), (1, 1, 1));
    for id in 0..next.streams().len() {
        assert!(
            shared(&streams, &next, id),
            "after the reload, stream {id} has two copies of its key"
        );
    }
}
