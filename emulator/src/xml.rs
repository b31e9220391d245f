//! A small, bounded XML tree for the emulator: requests are parsed into
//! elements with their attributes and text. Like the firewall, it refuses
//! DOCTYPEs and undeclared entities (nothing is ever expanded), and it caps
//! size and depth so a hostile request costs bounded memory.

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// Largest document accepted, in bytes.
pub const MAX_DOCUMENT: usize = 1 << 20;
/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 32;

/// One element: name, attributes, child elements and its own text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// The first child with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The value of an attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The trimmed text of a child, if the child exists.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

/// Parses a document into its root element.
pub fn parse(document: &str) -> Result<Element, String> {
    if document.len() > MAX_DOCUMENT {
        return Err(format!("document over {MAX_DOCUMENT} bytes"));
    }
    let mut reader = Reader::from_str(document);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|e| format!("not well-formed: {e}"))?;
        match event {
            Event::Start(start) => open(&mut stack, &root, &start)?,
            Event::Empty(start) => {
                open(&mut stack, &root, &start)?;
                close(&mut stack, &mut root);
            }
            Event::End(_) => close(&mut stack, &mut root),
            Event::Text(text) => push_text(&mut stack, &text.xml10_content())?,
            Event::CData(data) => push_text(&mut stack, &data.xml10_content())?,
            Event::GeneralRef(reference) => push_text(&mut stack, &entity(&reference)?)?,
            Event::DocType(_) => return Err("DOCTYPE refused".to_string()),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{}> is not closed", open.name));
    }
    root.ok_or_else(|| "no element".to_string())
}

fn open(stack: &mut Vec<Element>, root: &Option<Element>, start: &BytesStart<'_>) -> Result<(), String> {
    if stack.len() >= MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH}"));
    }
    if stack.is_empty() && root.is_some() {
        return Err("a second root element".to_string());
    }
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| format!("bad attribute: {e}"))?;
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| format!("bad attribute value: {e}"))?;
        let key = attribute.key.local_name().as_ref().to_string();
        attributes.push((key, value.into_owned()));
    }
    let name = start.local_name().as_ref().to_string();
    stack.push(Element {
        name,
        attributes,
        ..Element::default()
    });
    Ok(())
}

fn close(stack: &mut Vec<Element>, root: &mut Option<Element>) {
    if let Some(done) = stack.pop() {
        match stack.last_mut() {
            Some(parent) => parent.children.push(done),
            None => *root = Some(done),
        }
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(element) => element.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err("text outside the root element".to_string()),
    }
    Ok(())
}

fn entity(reference: &BytesRef<'_>) -> Result<String, String> {
    if let Some(c) = reference
        .resolve_char_ref()
        .map_err(|e| format!("bad reference: {e}"))?
    {
        return Ok(c.to_string());
    }
    let name = reference.xml10_content();
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_string)
        .ok_or_else(|| format!("undeclared entity &{name};"))
}

/// Escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_tree_with_unescaped_text() {
        let doc = "<?xml version=\"1.0\"?><Request APIVersion=\"1&amp;2\"><Login><Password>a&lt;&amp;amp;&#39;</Password></Login><Set/></Request>";
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Request");
        assert_eq!(root.attribute("APIVersion"), Some("1&2"));
        assert_eq!(root.child("Login").unwrap().child_text("Password"), Some("a<&amp;'"));
        assert!(root.child("Set").is_some());
    }

    #[test]
    fn refuses_hostile_documents() {
        let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "x<a/>",
            "<a>&foo;</a>",
            "<!DOCTYPE a><a/>",
            deep.as_str(),
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(escape("<&>\"'"), "&lt;&amp;&gt;&quot;&apos;");
    }
}
