//! The settings reader: TOML, then every key of section 3, then every
//! finding turned into `FILE:LINE:COL` text. The file's folder does not
//! exist, so globs, password and CA files are looked for and not found.
#![no_main]

use std::path::Path;

use failoverd::config::diag::{Diagnostics, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let src = Source::new(Path::new("/nonexistent-failoverd-fuzz/failoverd.toml"), text);
    let mut d = Diagnostics::default();
    let _ = failoverd::config::read_settings(&src, &mut d);
    for f in d.sorted() {
        let _ = f.to_string();
    }
});
