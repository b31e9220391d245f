//! The rules every group and connection name obeys besides its own syntax
//! (docs/settings.md, "Names"): no control character (C0, DEL, C1: a CR or
//! LF in a name would forge log and mail lines), no Unicode bidirectional
//! formatting character (they reorder what a reader sees), at most
//! [`MAX_NAME_BYTES`] bytes. Names are shown as they are everywhere, on one
//! line, so a name that could not be shown so is refused where it is read.

/// A group or connection name as the plan keeps it: one immutable copy,
/// shared by reference count with every table that names the group or
/// member (engine, pushes, the core's index, state.json's maps), instead
/// of a String (24 B and a malloc chunk) in each (BENCHMARKS.md, "One copy
/// of each name").
pub type Name = std::sync::Arc<str>;

/// Longest name accepted, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 255;

/// Unicode's bidirectional formatting characters: ALM, LRM, RLM, the
/// embeddings and overrides, and the isolates.
fn is_bidi_format(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` may not appear in a name.
fn forbidden(c: char) -> bool {
    c.is_control() || is_bidi_format(c)
}

/// What is wrong with `name`, as the end of a sentence starting with the
/// name ("holds ..." / "is ... long"), or `None` when it obeys the rules.
pub fn problem(name: &str) -> Option<String> {
    if let Some(c) = name.chars().find(|c| forbidden(*c)) {
        let what = if c.is_control() {
            "a control character"
        } else {
            "a Unicode bidirectional formatting character"
        };
        return Some(format!(
            "holds {what} (U+{:04X}): names are one line of visible text; remove it",
            u32::from(c)
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        return Some(format!(
            "is {} bytes long: names are at most {MAX_NAME_BYTES} bytes; shorten it",
            name.len()
        ));
    }
    None
}

/// `name` for a message: quoted, control and bidirectional formatting
/// characters written as `\u{..}`, and cut after 64 characters, so that a
/// refused name is shown on one line and in order.
pub fn shown(name: &str) -> String {
    let mut out = String::from("\"");
    for (i, c) in name.chars().enumerate() {
        if i == 64 {
            out.push_str("...");
            break;
        }
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if forbidden(c) => out.push_str(&format!("\\u{{{:04x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bidi_and_long_names_are_refused() {
        assert_eq!(problem("HQ_Primary"), None);
        assert_eq!(problem("Zürich-1 (backup)"), None);
        assert_eq!(problem(&"x".repeat(255)), None);
        for bad in ["a\nb", "a\rb", "a\tb", "a\u{7f}b", "a\u{85}b", "a\u{9b}b"] {
            let p = problem(bad).unwrap_or_default();
            assert!(p.starts_with("holds a control character (U+"), "{bad:?}: {p}");
        }
        for c in [
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}',
        ] {
            let p = problem(&format!("ab{c}c")).unwrap_or_default();
            assert!(p.contains("bidirectional"), "{c:?}: {p}");
        }
        assert_eq!(
            problem(&"é".repeat(128)).unwrap_or_default(),
            "is 256 bytes long: names are at most 255 bytes; shorten it"
        );
    }

    #[test]
    fn shown_names_stay_on_one_line_and_in_order() {
        assert_eq!(shown("a\nb\u{202e}c\"d"), "\"a\\u{000a}b\\u{202e}c\\\"d\"");
        let long = shown(&"y".repeat(300));
        assert_eq!(long, format!("\"{}...\"", "y".repeat(64)));
    }
}
