use super::*;

#[test]
fn a_head_ends_at_an_empty_line_with_crlf_or_bare_lf() {
    assert!(whole(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert!(whole(b"GET / HTTP/1.1\nHost: a\n\n"));
    assert!(whole(b"GET / HTTP/1.0\r\n\n"));
    assert!(whole(b"GET / HTTP/1.0\n\r\n"));
    assert!(!whole(b"GET / HTTP/1.1\r\nHost: a\r\n"));
    assert!(!whole(b"GET / HTTP/1.1\r\n\r"));
    assert!(!whole(b""));
}

#[test]
fn the_query_string_is_not_part_of_the_path() {
    let h = parse("GET /metrics?x=1&y HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    assert_eq!((h.method, h.path, h.host), ("GET", "/metrics", Host::One("localhost")));
    assert_eq!(parse("HEAD /status?#frag HTTP/1.1\n\n").unwrap().path, "/status");
    assert_eq!(parse("GET ?x HTTP/1.1\n\n").unwrap().path, "");
}

#[test]
fn the_host_header_is_found_in_any_case_and_counted() {
    let h = parse("GET / HTTP/1.1\r\nUser-Agent: a:b\r\nhOsT:   127.0.0.1:9733  \r\n\r\n").unwrap();
    assert_eq!(h.host, Host::One("127.0.0.1:9733"));
    assert_eq!(parse("GET / HTTP/1.0\r\n\r\n").unwrap().host, Host::Missing);
    let two = parse("GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n").unwrap();
    assert_eq!(two.host, Host::Several);
    // Headers end at the empty line: what follows is a body, not a header.
    let body = parse("GET / HTTP/1.1\r\n\r\nHost: evil.example\r\n").unwrap();
    assert_eq!(body.host, Host::Missing);
}

#[test]
fn a_request_line_that_is_not_method_target_version_is_none() {
    assert_eq!(parse(""), None);
    assert_eq!(parse("GET\r\n\r\n"), None);
    assert_eq!(parse("\r\n\r\n"), None);
    assert_eq!(parse("GET / HTTP/1.1 extra\r\n\r\n"), None);
    assert_eq!(parse("GET / junk\r\n\r\n"), None);
    assert!(parse("GET /\r\n\r\n").is_some());
}

#[test]
fn loopback_addresses_and_localhost_are_loopback_hosts() {
    for ok in [
        "localhost",
        "LocalHost:9733",
        "localhost.",
        "127.0.0.1",
        "127.0.0.1:9733",
        "127.8.9.10:1",
        "[::1]",
        "[::1]:9733",
        "[::ffff:127.0.0.1]:80",
    ] {
        assert!(loopback_host(ok), "{ok}");
    }
}

#[test]
fn every_other_name_is_foreign() {
    for bad in [
        "",
        "x",
        "evil.example",
        "evil.example:9733",
        "localhost.evil.example",
        "127.0.0.1.evil.example",
        "localhost:99999",
        "localhost:",
        "localhost:+80",
        "127.0.0.1:80:80",
        "192.0.2.1",
        "[::2]:80",
        "[::1",
        "[::1]x",
        "::1",
        "0.0.0.0",
        "2130706433",
    ] {
        assert!(!loopback_host(bad), "{bad}");
    }
}
