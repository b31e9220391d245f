use super::*;
use tokio::io::DuplexStream;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

/// A listener fed by the test: each item is what the next accept returns.
struct Fed(Mutex<mpsc::UnboundedReceiver<std::io::Result<DuplexStream>>>);

impl Listener for Fed {
    type Conn = DuplexStream;
    async fn accept_one(&self) -> std::io::Result<DuplexStream> {
        match self.0.lock().await.recv().await {
            Some(item) => item,
            None => std::future::pending().await,
        }
    }
}

fn emfile() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::EMFILE)
}

/// Starts the accept loop on a fed listener whose connections are held
/// until the client closes them.
fn fed() -> mpsc::UnboundedSender<std::io::Result<DuplexStream>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(serve(
        "test",
        Fed(Mutex::new(rx)),
        |mut conn: DuplexStream| async move {
            let mut buf = [0u8; 16];
            while conn.read(&mut buf).await.is_ok_and(|n| n > 0) {}
            let _ = conn.shutdown().await;
        },
    ));
    tx
}

/// A connection for the loop; the client's end.
fn connect(tx: &mpsc::UnboundedSender<std::io::Result<DuplexStream>>) -> DuplexStream {
    let (client, server) = tokio::io::duplex(64);
    tx.send(Ok(server)).unwrap();
    client
}

/// Whether the server closed `client` within `limit`.
async fn closed_within(client: &mut DuplexStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1];
    matches!(tokio::time::timeout(limit, client.read(&mut buf)).await, Ok(Ok(0)))
}

#[test]
fn the_pause_doubles_from_100_ms_to_1_s() {
    let ms: Vec<u128> = (1..=7).map(|n| pause(n).as_millis()).collect();
    assert_eq!(ms, [100, 200, 400, 800, 1000, 1000, 1000]);
    assert_eq!(pause(u64::MAX), LONGEST_PAUSE);
}

#[tokio::test(start_paused = true)]
async fn accept_errors_pause_the_loop_but_never_end_it() {
    let tx = fed();
    for _ in 0..50 {
        tx.send(Err(emfile())).unwrap();
    }
    let start = Instant::now();
    let mut client = connect(&tx);
    // Served after the pauses: the connection is held open, not closed.
    assert!(!closed_within(&mut client, Duration::from_secs(60)).await);
    assert!(start.elapsed() >= Duration::from_secs(40), "{:?}", start.elapsed());
    drop(client);
    let mut again = connect(&tx);
    assert!(!closed_within(&mut again, Duration::from_secs(1)).await);
}

#[tokio::test(start_paused = true)]
async fn the_65th_connection_is_closed_at_once_and_a_freed_slot_serves_again() {
    let tx = fed();
    let mut held: Vec<DuplexStream> = (0..MAX_CONNECTIONS).map(|_| connect(&tx)).collect();
    let mut extra = connect(&tx);
    assert!(closed_within(&mut extra, Duration::from_millis(10)).await);
    assert!(!closed_within(&mut held[0], Duration::from_millis(10)).await);
    drop(held.pop());
    // The slot is freed once its task sees the end.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let mut next = connect(&tx);
    assert!(!closed_within(&mut next, Duration::from_secs(1)).await);
}

fn has_newline(b: &[u8]) -> bool {
    b.contains(&b'\n')
}

#[tokio::test(start_paused = true)]
async fn a_client_that_sends_no_whole_request_is_dropped_after_10_s() {
    let (mut client, mut server) = tokio::io::duplex(64);
    client.write_all(b"{\"cmd\":").await.unwrap();
    let start = Instant::now();
    let got = read_request(&mut server, 100, has_newline).await;
    assert_eq!(got, Got::Nothing);
    assert_eq!(start.elapsed(), REQUEST_LIMIT);
}

#[tokio::test(start_paused = true)]
async fn a_request_is_whole_closed_early_or_too_long() {
    let (mut client, mut server) = tokio::io::duplex(64);
    client.write_all(b"ab\ncd").await.unwrap();
    assert_eq!(
        read_request(&mut server, 100, has_newline).await,
        Got::Whole(b"ab\ncd".to_vec())
    );
    let (mut client, mut server) = tokio::io::duplex(64);
    client.write_all(b"ab").await.unwrap();
    drop(client);
    assert_eq!(
        read_request(&mut server, 100, has_newline).await,
        Got::Closed(b"ab".to_vec())
    );
    let (mut client, mut server) = tokio::io::duplex(1 << 16);
    client.write_all(&[b'x'; 5000]).await.unwrap();
    assert_eq!(read_request(&mut server, 100, has_newline).await, Got::TooLong);
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_reads_loses_its_reply_after_30_s() {
    let (_client, mut server) = tokio::io::duplex(64);
    let start = Instant::now();
    assert!(!write_reply(&mut server, &[&[b'x'; 100_000]]).await);
    assert_eq!(start.elapsed(), WRITE_LIMIT);
    let (mut client, mut server) = tokio::io::duplex(64);
    let reader = tokio::spawn(async move {
        let mut all = Vec::new();
        client.read_to_end(&mut all).await.map(|_| all.len())
    });
    assert!(write_reply(&mut server, &[b"head", &[b'x'; 1000]]).await);
    drop(server);
    assert_eq!(reader.await.unwrap().unwrap(), 1004);
}
