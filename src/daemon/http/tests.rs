use super::*;
use crate::control::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A daemon loop that answers every request with its name.
fn fake_loop() -> mpsc::Sender<Call> {
    let (tx, mut rx) = mpsc::channel::<Call>(4);
    tokio::spawn(async move {
        while let Some((req, reply)) = rx.recv().await {
            let _ = reply.send(Reply::ok(serde_json::json!(format!("{req:?}\n"))));
        }
    });
    tx
}

/// The whole response to `raw` on a listener reached through loopback or not.
async fn exchange(raw: &str, loopback: bool) -> String {
    let (mut client, server) = tokio::io::duplex(1 << 16);
    let served = tokio::spawn(handle(server, loopback, fake_loop()));
    client.write_all(raw.as_bytes()).await.unwrap();
    let mut out = String::new();
    client.read_to_string(&mut out).await.unwrap();
    served.await.unwrap();
    out
}

fn status(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

#[tokio::test]
async fn head_answers_the_get_head_without_its_body() {
    let get = exchange("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", true).await;
    let head = exchange("HEAD /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", true).await;
    assert!(get.starts_with("HTTP/1.1 200 OK\r\n"), "{get}");
    assert!(get.ends_with("\r\n\r\nMetrics\n"), "{get}");
    assert!(get.contains("\r\nContent-Length: 8\r\n"), "{get}");
    assert_eq!(head, get.strip_suffix("Metrics\n").unwrap());
}

#[tokio::test]
async fn a_query_string_is_ignored() {
    let r = exchange("GET /metrics?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9733\r\n\r\n", true).await;
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("Metrics\n"), "{r}");
    let r = exchange("GET /?refresh HTTP/1.1\r\n\r\n", true).await;
    assert!(r.contains("Content-Security-Policy") && r.ends_with("Page\n"), "{r}");
}

#[tokio::test]
async fn a_foreign_host_is_refused_on_loopback_only() {
    let foreign = "GET /status HTTP/1.1\r\nHost: rebind.evil.example:9733\r\n\r\n";
    let r = exchange(foreign, true).await;
    assert_eq!(status(&r), "HTTP/1.1 403 Forbidden", "{r}");
    assert!(!r.contains("Status"), "{r}");
    assert_eq!(status(&exchange(foreign, false).await), "HTTP/1.1 200 OK");
    for host in ["localhost", "localhost:9733", "127.0.0.1:9733", "[::1]:9733"] {
        let r = exchange(&format!("GET /status HTTP/1.1\r\nHost: {host}\r\n\r\n"), true).await;
        assert_eq!(status(&r), "HTTP/1.1 200 OK", "{host}");
    }
    // No Host at all (HTTP/1.0 probes): served; a browser always sends one.
    assert_eq!(
        status(&exchange("GET /status HTTP/1.0\r\n\r\n", true).await),
        "HTTP/1.1 200 OK"
    );
    let two = "GET /status HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n";
    assert_eq!(status(&exchange(two, true).await), "HTTP/1.1 400 Bad Request");
}

#[tokio::test]
async fn a_head_ended_by_bare_lf_is_answered() {
    let r = exchange("GET /status HTTP/1.1\nHost: localhost\n\n", true).await;
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("Status\n"), "{r}");
}

#[tokio::test]
async fn other_methods_bad_lines_and_long_heads_get_clear_statuses() {
    let r = exchange("POST / HTTP/1.1\r\n\r\n", true).await;
    assert_eq!(status(&r), "HTTP/1.1 405 Method Not Allowed");
    assert!(r.contains("\r\nAllow: GET, HEAD\r\n"), "{r}");
    assert_eq!(status(&exchange("\r\n\r\n", true).await), "HTTP/1.1 400 Bad Request");
    assert_eq!(
        status(&exchange("GET /x HTTP/1.1\r\n\r\n", true).await),
        "HTTP/1.1 404 Not Found"
    );
    let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000));
    assert_eq!(
        status(&exchange(&long, true).await),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
}

#[tokio::test(start_paused = true)]
async fn a_connection_without_a_whole_head_is_closed_after_10_s() {
    let (mut client, server) = tokio::io::duplex(1 << 16);
    let served = tokio::spawn(handle(server, true, fake_loop()));
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let start = tokio::time::Instant::now();
    let mut out = Vec::new();
    assert_eq!(client.read_to_end(&mut out).await.unwrap(), 0);
    assert_eq!(start.elapsed(), accept::REQUEST_LIMIT);
    served.await.unwrap();
}
