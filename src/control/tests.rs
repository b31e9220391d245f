use super::*;

#[test]
fn one_line_of_json_is_a_request_whatever_follows_it() {
    assert_eq!(read_request(b"{\"cmd\":\"status\"}\n"), Ok(Request::Status));
    assert_eq!(read_request(b"{\"cmd\":\"status\"}\r\nrest"), Ok(Request::Status));
    // The client closed its side without a newline: the bytes are the line.
    assert_eq!(read_request(b" {\"cmd\":\"metrics\"} "), Ok(Request::Metrics));
    let hold = br#"{"cmd":"hold","groups":["G"],"for_secs":60,"reason":"r"}"#;
    assert!(matches!(read_request(hold), Ok(Request::Hold { for_secs: 60, .. })));
}

#[test]
fn bad_requests_are_refused_clearly() {
    assert_eq!(read_request(b""), Err(RequestError::Empty));
    assert_eq!(read_request(b"\r\n{\"cmd\":\"status\"}"), Err(RequestError::Empty));
    assert_eq!(read_request(b"\xff\xfe\n"), Err(RequestError::NotText));
    let err = read_request(b"{\"cmd\":\"rm -rf\"}\n").unwrap_err();
    assert!(err.to_string().starts_with("bad request: unknown variant"), "{err}");
    let err = read_request(b"{\"cmd\":\"hold\",\"groups\":[\"G\"],\"for_secs\":-1,\"reason\":\"\"}").unwrap_err();
    assert!(matches!(err, RequestError::Json(_)), "{err}");
}

#[test]
fn an_over_long_line_is_refused_with_its_bound() {
    let mut long = b"{\"cmd\":\"status\",\"x\":\"".to_vec();
    long.resize(MAX_REQUEST + 1, b'a');
    assert_eq!(read_request(&long), Err(RequestError::TooLong));
    long.push(b'\n');
    assert_eq!(read_request(&long), Err(RequestError::TooLong));
    assert!(RequestError::TooLong.to_string().contains("65536 bytes"));
}

#[test]
fn a_planted_entry_where_the_socket_goes_is_named_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sock = socket_path(dir.path());
    assert_eq!(check_socket_path(&sock), Ok(()));
    std::os::unix::fs::symlink("/etc/passwd", &sock).unwrap();
    let err = check_socket_path(&sock).unwrap_err();
    assert!(err.contains("control.sock is not a socket (a symbolic link)"), "{err}");
    std::fs::remove_file(&sock).unwrap();
    std::fs::create_dir(&sock).unwrap();
    assert!(check_socket_path(&sock).unwrap_err().contains("(a folder)"));
}

#[tokio::test]
async fn the_socket_is_bound_owner_only_and_a_stale_one_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let sock = socket_path(dir.path());
    let (tx, mut rx) = mpsc::channel::<Call>(1);
    let first = serve(&sock, tx.clone()).unwrap();
    first.abort();
    // A stale socket of a daemon killed with -9: replaced.
    let _task = serve(&sock, tx).unwrap();
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    tokio::spawn(async move {
        while let Some((_, reply)) = rx.recv().await {
            let _ = reply.send(Reply::ok(serde_json::json!("hi")));
        }
    });
    let path = dir.path().to_path_buf();
    let got = tokio::task::spawn_blocking(move || call(&path, &Request::Status, Duration::from_secs(5)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.body, serde_json::json!("hi"));
}

#[test]
fn a_reply_that_never_ends_its_line_is_refused_at_its_bound_not_read_forever() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let listener = std::os::unix::net::UnixListener::bind(socket_path(dir.path())).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let chunk = vec![b'a'; 1 << 20];
        // One MiB more than the bound, and no line end; then the socket
        // stays open until the client goes.
        for _ in 0..=(MAX_REPLY >> 20) {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut s, &mut rest);
    });
    let err = call(dir.path(), &Request::Status, Duration::from_secs(30)).unwrap_err();
    assert!(
        matches!(&err, CallError::NoAnswer(m) if m.contains("longer than 64 MiB")),
        "{err:?}"
    );
    server.join().unwrap();
}
