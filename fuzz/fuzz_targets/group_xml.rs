//! The group XML reader: the XML tree, then every rule of section 2, then
//! every finding turned into `FILE:LINE:COL` text.
#![no_main]

use std::path::Path;

use failoverd::config::diag::{Diagnostics, Source};
use failoverd::config::groups;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let src = Source::new(Path::new("g.xml"), text);
    let mut d = Diagnostics::default();
    let defs = groups::read(&src, &mut d);
    assert!(!defs.is_empty() || !d.is_empty(), "junk read as nothing");
    for f in d.sorted() {
        let _ = f.to_string();
    }
});
