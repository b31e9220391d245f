//! The firewall's reply parser, fed as the client feeds it: the body's
//! bytes, lossily decoded, then parsed and classified.
#![no_main]

use failoverd::firewall::response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    let _ = response::judge(&body);
    if let Ok(reply) = response::parse(&body) {
        let _ = response::get_accepted(&reply);
    }
});
