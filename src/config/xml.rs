//! A small, hostile-input-safe XML tree with byte positions, read with
//! quick-xml.
//!
//! Group files come from admins and from the firewall's own exports, so the
//! reader refuses what could hurt: a DOCTYPE or entity declaration (nothing
//! is ever expanded beyond the five predefined entities and character
//! references), nesting deeper than [`MAX_DEPTH`], and (checked by the
//! caller before reading) files over [`MAX_FILE_BYTES`].

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// Largest group file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 64;

/// An attribute and the byte offset of its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    pub value: String,
    pub pos: usize,
}

/// An element with its position, attributes, children and text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    /// Byte offset of the `<` that opens it.
    pub pos: usize,
    pub attrs: Vec<Attr>,
    pub children: Vec<Element>,
    /// All character data directly inside, entities resolved.
    pub text: String,
    /// Byte offset of the first non-blank character data, if any.
    pub text_pos: Option<usize>,
}

impl Element {
    /// The text, with surrounding white space removed.
    pub fn trimmed(&self) -> &str {
        self.text.trim()
    }

    /// Where to point at for a problem with the text: the text itself, or
    /// the element when it has none.
    pub fn value_pos(&self) -> usize {
        self.text_pos.unwrap_or(self.pos)
    }
}

/// A reason the document could not be read, at a byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XmlError {
    pub pos: usize,
    pub message: String,
}

fn err(pos: usize, message: impl Into<String>) -> XmlError {
    XmlError {
        pos,
        message: message.into(),
    }
}

/// Parses `text` into its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|e| {
            let at = usize::try_from(reader.error_position()).unwrap_or(0);
            err(at, format!("not well-formed XML: {e}"))
        })?;
        match event {
            Event::Start(s) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(start, format!("elements nested deeper than {MAX_DEPTH} levels")));
                }
                check_one_root(&root, start)?;
                stack.push(open(&s, start)?);
            }
            Event::Empty(s) => {
                check_one_root(&root, start)?;
                let el = open(&s, start)?;
                close(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                if let Some(el) = stack.pop() {
                    close(&mut stack, &mut root, el);
                }
            }
            Event::Text(t) => add_text(&mut stack, start, &t.xml10_content())?,
            Event::CData(t) => add_text(&mut stack, start, &t.xml10_content())?,
            Event::GeneralRef(r) => {
                let resolved = resolve_ref(&r.xml10_content(), start)?;
                add_text(&mut stack, start, &resolved)?;
            }
            Event::DocType(_) => {
                return Err(err(
                    start,
                    "a DOCTYPE is not accepted (failoverd never expands entities); remove the <!DOCTYPE ...> declaration",
                ));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(err(open.pos, format!("<{}> is never closed", open.name)));
    }
    root.ok_or_else(|| err(text.len(), "no XML element found; the file is empty"))
}

fn check_one_root(root: &Option<Element>, at: usize) -> Result<(), XmlError> {
    match root {
        Some(r) => Err(err(
            at,
            format!("a second root element after <{}>; a file holds one root", r.name),
        )),
        None => Ok(()),
    }
}

fn open(s: &BytesStart<'_>, pos: usize) -> Result<Element, XmlError> {
    let name = s.name().as_ref().to_string();
    let raw = s.attributes_raw();
    let mut attrs = Vec::new();
    // quick-xml checks duplicates in linear time (a hash past a handful of
    // attributes); each attribute's offset comes from where its key lies in
    // the tag, not from searching for it (a search per attribute made
    // 100,000 attributes quadratic: 15 s).
    for a in s.attributes() {
        let a = a.map_err(|e| err(pos, format!("bad attribute in <{name}>: {e}")))?;
        let offset = offset_in(raw.as_bytes(), a.key.as_ref().as_bytes());
        let key = a.key.as_ref().to_string();
        let value = a
            .normalized_value(quick_xml::XmlVersion::default())
            .map_err(|e| err(pos, format!("attribute {key} of <{name}>: {e}")))?
            .into_owned();
        attrs.push(Attr {
            name: key,
            value,
            pos: pos.saturating_add(1 + name.len()).saturating_add(offset),
        });
    }
    Ok(Element {
        name,
        pos,
        attrs,
        ..Element::default()
    })
}

/// Where `part` (a slice of `whole`) starts in `whole`; 0 if it is not
/// one (it always is: quick-xml's keys borrow the tag's text).
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    let (start, at) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    at.checked_sub(start).filter(|o| *o <= whole.len()).unwrap_or(0)
}

fn close(stack: &mut [Element], root: &mut Option<Element>, mut el: Element) {
    // Complete now: a vector's first growth makes room for 4, and most
    // elements of a group file hold 1 or 2 (6.0 of the 9.4 MB peak of
    // loading 2,500 groups).
    el.children.shrink_to_fit();
    el.attrs.shrink_to_fit();
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn add_text(stack: &mut [Element], pos: usize, text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(el) => {
            if el.text_pos.is_none()
                && let Some(lead) = text.find(|c: char| !c.is_whitespace())
            {
                el.text_pos = Some(pos + lead);
            }
            el.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(err(pos, "text outside the root element")),
    }
}

/// Resolves `&name;`: the five predefined entities and character
/// references; anything else is refused.
fn resolve_ref(name: &str, pos: usize) -> Result<String, XmlError> {
    let fixed = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    };
    if let Some(c) = fixed {
        return Ok(c.to_string());
    }
    let code = if let Some(hex) = name.strip_prefix("#x") {
        u32::from_str_radix(hex, 16).ok()
    } else if let Some(dec) = name.strip_prefix('#') {
        dec.parse::<u32>().ok()
    } else {
        return Err(err(
            pos,
            format!("unknown entity &{name};: only &lt; &gt; &amp; &apos; &quot; and character references are read"),
        ));
    };
    code.and_then(char::from_u32)
        .filter(|c| *c != '\0')
        .map(|c| c.to_string())
        .ok_or_else(|| err(pos, format!("&{name}; is not a valid character reference")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tree_text_and_positions() {
        let doc = "<?xml version=\"1.0\"?>\n<A x=\"1\"><B>t &amp; &#x41;</B><C/></A>";
        let a = parse(doc).unwrap();
        assert_eq!(a.name, "A");
        assert_eq!(a.pos, 22);
        assert_eq!(
            a.attrs,
            vec![Attr {
                name: "x".into(),
                value: "1".into(),
                pos: 25
            }]
        );
        assert_eq!(a.children[0].text, "t & A");
        assert_eq!(a.children[0].text_pos, Some(34));
        assert_eq!(a.children[1].name, "C");
    }

    #[test]
    fn refuses_doctype_entities_and_depth() {
        let e = parse("<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>").unwrap_err();
        assert!(e.message.contains("DOCTYPE"), "{e:?}");
        let e = parse("<x>&custom;</x>").unwrap_err();
        assert!(e.message.contains("unknown entity &custom;"), "{e:?}");
        let deep = "<a>".repeat(65) + &"</a>".repeat(65);
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("deeper than 64"), "{e:?}");
        let ok = "<a>".repeat(64) + &"</a>".repeat(64);
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn attribute_positions_are_where_each_key_is() {
        // `b` appears first inside a's value: the position is b's own.
        let a = parse("<A a=\"b\" b=\"2\"/>").unwrap();
        assert_eq!(a.attrs[0].pos, 3);
        assert_eq!(a.attrs[1].pos, 9);
    }

    #[test]
    fn many_attributes_and_children_read_in_linear_time() {
        // 100,000 attributes took 15 s when each offset was searched for.
        let attrs: String = (0..100_000).map(|i| format!(" a{i}=\"v\"")).collect();
        let doc = format!("<A{attrs}>{}</A>", "<C>x</C>".repeat(200_000));
        let started = std::time::Instant::now();
        let a = parse(&doc).unwrap();
        assert_eq!((a.attrs.len(), a.children.len()), (100_000, 200_000));
        assert_eq!(a.attrs[99_999].pos, doc.find(" a99999=").unwrap() + 1);
        // Generous even for a debug build on a busy machine; the quadratic
        // reader needed many times this.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn refuses_broken_documents() {
        for doc in ["", "<a>", "<a></b>", "<a/><b/>", "x<a/>", "<a x=1/>", "<a>&#0;</a>"] {
            assert!(parse(doc).is_err(), "{doc:?} should be refused");
        }
    }
}
