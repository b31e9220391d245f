//! The control socket's request reader (`control::read_request`), fed the
//! bytes a client could send: it never panics, and a request it accepts
//! reads back the same from the line a command would send for it.
#![no_main]

use failoverd::control::{read_request, request_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = read_request(data) {
        let line = request_line(&req).expect("a request has a line");
        assert_eq!(read_request(line.as_bytes()), Ok(req));
    }
});
