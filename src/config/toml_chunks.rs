//! Parses the settings file as `toml` does in one go, but each plain
//! `[connections.NAME]` section on its own, so the parser's token and event
//! lists never hold the whole file: at 5,000 connections (300 KB) they were
//! 6.6 MB of the load's 12.6 MB peak (BENCHMARKS.md, "Settings (conf31)").
//!
//! The result is the same document, spans included: the rest of the file
//! is parsed with those sections blanked to spaces (offsets unchanged), each
//! section alone with its spans shifted back. Whenever that could differ
//! from the one-go parse (any error, a section that is not one plain table,
//! a name twice, `connections` written anywhere else), the file is parsed in
//! one go instead, so every message stays toml's own.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};
use toml_parser::lexer::TokenKind;

/// One section alone gains nothing. Kept low on purpose: every settings
/// file of the test suite with two connections or more takes this path,
/// so the suite checks that it reads the same as the one-go parse.
const MIN_SECTIONS: usize = 2;

/// What [`toml::de::DeTable::parse_recoverable`] returns for `text`.
/// `rest` holds the blanked copy the document may borrow from.
pub fn parse<'i>(text: &'i str, rest: &'i mut String) -> (Spanned<DeTable<'i>>, Vec<toml::de::Error>) {
    parse_with(text, rest, MIN_SECTIONS)
}

fn parse_with<'i>(text: &'i str, rest: &'i mut String, min: usize) -> (Spanned<DeTable<'i>>, Vec<toml::de::Error>) {
    let sections = sections(text);
    if sections.len() >= min {
        *rest = blanked(text, &sections);
        let rest: &'i String = rest;
        if let Some(doc) = assemble(text, rest, &sections) {
            return (doc, Vec::new());
        }
    }
    DeTable::parse_recoverable(text)
}

/// The plain `[connections.NAME]` sections, each to the next table header
/// (or the end), and the offset and length of NAME in each.
fn sections(text: &str) -> Vec<(Range<usize>, Range<usize>)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Range<usize>)> = None;
    for start in header_starts(text).into_iter().chain([text.len()]) {
        if let Some((from, name)) = open.take() {
            out.push((from..start, name));
        }
        open = plain_header(text, start).map(|name| (start, name));
    }
    out
}

/// Offsets of the `[` of every table header: a `[` first on its line
/// (after blanks) outside any value, as toml's own lexer reads the text.
fn header_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let (mut depth, mut line_start, mut in_header) = (0usize, true, false);
    for t in toml_parser::Source::new(text).lex() {
        match t.kind() {
            TokenKind::Newline => {
                in_header = false;
                line_start = depth == 0;
            }
            TokenKind::Whitespace | TokenKind::Comment | TokenKind::Eof => {}
            _ if in_header => {}
            TokenKind::LeftSquareBracket if line_start => {
                starts.push(t.span().start());
                (in_header, line_start) = (true, false);
            }
            TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => {
                depth += 1;
                line_start = false;
            }
            TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                depth = depth.saturating_sub(1);
                line_start = false;
            }
            _ => line_start = false,
        }
    }
    starts
}

/// NAME's range when the line at `start` is `[connections.NAME]` with a
/// bare NAME, then only blanks or a comment.
fn plain_header(text: &str, start: usize) -> Option<Range<usize>> {
    let line = text[start..].split('\n').next().unwrap_or("");
    let after = line.strip_prefix("[connections.")?;
    let len = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(after.len());
    let tail = after[len..].strip_prefix(']')?;
    let tail = tail.trim_start_matches([' ', '\t']);
    let plain = tail.is_empty() || tail.starts_with('#') || tail == "\r";
    let at = start + "[connections.".len();
    (len > 0 && plain).then_some(at..at + len)
}

/// `text` with the sections' bytes turned to spaces.
fn blanked(text: &str, sections: &[(Range<usize>, Range<usize>)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for (s, _) in sections {
        bytes[s.clone()].fill(b' ');
    }
    // Whole UTF-8 characters were replaced by ASCII: still UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
}

/// The document, or `None` where the one-go parse could differ.
fn assemble<'i>(
    text: &'i str,
    rest: &'i str,
    sections: &[(Range<usize>, Range<usize>)],
) -> Option<Spanned<DeTable<'i>>> {
    let (doc, errors) = DeTable::parse_recoverable(rest);
    if !errors.is_empty() || doc.get_ref().contains_key("connections") {
        return None;
    }
    let mut conns = DeTable::with_capacity(sections.len());
    let mut first_key: Option<Spanned<toml::de::DeString<'i>>> = None;
    for (range, name) in sections {
        let (key, value) = section(text, range.clone(), name)?;
        first_key.get_or_insert_with(|| Spanned::new(range.start + 1..name.start - 1, "connections".into()));
        if conns.insert(key, value).is_some() {
            return None;
        }
    }
    // Where toml puts the table a header makes: the first `connections`
    // key, among the other keys in the order of their first mention.
    let first = first_key?;
    let at = first.span();
    let span = doc.span();
    let mut top = DeTable::with_capacity(doc.get_ref().len() + 1);
    let mut pending = Some((first, conns));
    for (k, v) in doc.into_inner() {
        if k.span().start > at.start
            && let Some((ck, cv)) = pending.take()
        {
            top.insert(ck, Spanned::new(at.clone(), DeValue::Table(cv)));
        }
        top.insert(k, v);
    }
    if let Some((ck, cv)) = pending {
        top.insert(ck, Spanned::new(at, DeValue::Table(cv)));
    }
    Some(Spanned::new(span, top))
}

type Entry<'i> = (Spanned<toml::de::DeString<'i>>, Spanned<DeValue<'i>>);

/// One section parsed alone: its `NAME = table`, spans in `text`'s offsets.
fn section<'i>(text: &'i str, range: Range<usize>, name: &Range<usize>) -> Option<Entry<'i>> {
    let (doc, errors) = DeTable::parse_recoverable(&text[range.clone()]);
    if !errors.is_empty() || doc.get_ref().len() != 1 {
        return None;
    }
    let (_, conns) = doc.into_inner().into_iter().next()?;
    let DeValue::Table(conns) = conns.into_inner() else {
        return None;
    };
    if conns.len() != 1 {
        return None;
    }
    let (key, value) = conns.into_iter().next()?;
    if key.get_ref().as_ref() != &text[name.clone()] || !value.get_ref().is_table() {
        return None;
    }
    let at = range.start;
    let key_span = key.span();
    Some((Spanned::new(shift(key_span, at), key.into_inner()), shifted(value, at)))
}

fn shift(r: Range<usize>, by: usize) -> Range<usize> {
    r.start + by..r.end + by
}

/// `v` with every span moved `by` bytes on.
fn shifted(v: Spanned<DeValue<'_>>, by: usize) -> Spanned<DeValue<'_>> {
    let span = shift(v.span(), by);
    let value = match v.into_inner() {
        DeValue::Table(t) => {
            let mut out = DeTable::with_capacity(t.len());
            for (k, v) in t {
                let ks = shift(k.span(), by);
                out.insert(Spanned::new(ks, k.into_inner()), shifted(v, by));
            }
            DeValue::Table(out)
        }
        DeValue::Array(a) => {
            // Exactly its items: toml's push left room for 4 (1.44 MB
            // at 5,000 one-target connections).
            let mut items: Vec<_> = a.into_iter().map(|v| shifted(v, by)).collect();
            items.shrink_to_fit();
            DeValue::Array(items.into_iter().collect::<DeArray<'_>>())
        }
        other => other,
    };
    Spanned::new(span, value)
}

#[cfg(test)]
mod tests;
