//! Typed, located reading of a TOML table: each getter checks one key's
//! type and range and reports a located error instead of failing, and
//! [`Table::finish`] reports every key nobody asked for as unknown, with a
//! "did you mean" hint.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::{Diagnostics, Source, hint};

/// A value and the byte offset where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub pos: usize,
}

/// One table being read; `path` is the dotted key of the table itself.
pub struct Table<'a, 'i> {
    src: &'a Source,
    table: &'a DeTable<'i>,
    pub path: String,
    /// Offset of the table's header or first key, for "missing key" errors.
    pub pos: usize,
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'a, 'i> Table<'a, 'i> {
    pub fn new(src: &'a Source, table: &'a DeTable<'i>, path: &str, span: Range<usize>) -> Self {
        Table {
            src,
            table,
            path: path.to_string(),
            pos: span.start,
        }
    }

    pub fn src(&self) -> &'a Source {
        self.src
    }

    /// `path.key`, or `key` at the top level.
    pub fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn raw(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.table.get(key)
    }

    /// Offset of `key`'s name, if present.
    pub fn key_pos(&self, key: &str) -> Option<usize> {
        // A lookup, not a scan: a table of 20,000 connections stays linear.
        self.table.get_key_value(key).map(|(k, _)| k.span().start)
    }

    fn wrong_type(&self, d: &mut Diagnostics, key: &str, v: &Spanned<DeValue<'_>>, want: &str) {
        let msg = format!("expected {want}, found {}", type_name(v.get_ref()));
        d.error(self.src, v.span().start, &self.key_path(key), msg);
    }

    /// Reports a missing required key at the table.
    pub fn missing(&self, d: &mut Diagnostics, key: &str, example: &str) {
        let msg = format!("required key {key} is missing: add {key} = {example}");
        d.error(self.src, self.pos, &self.key_path(key), msg);
    }

    pub fn string(&self, d: &mut Diagnostics, key: &str) -> Option<At<String>> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(At {
                value: s.to_string(),
                pos: v.span().start,
            }),
            _ => {
                self.wrong_type(d, key, v, "a string");
                None
            }
        }
    }

    pub fn bool(&self, d: &mut Diagnostics, key: &str) -> Option<bool> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(d, key, v, "true or false");
                None
            }
        }
    }

    /// A whole number in `min..=max`.
    pub fn int(&self, d: &mut Diagnostics, key: &str, min: u64, max: u64) -> Option<At<u64>> {
        let v = self.raw(key)?;
        let pos = v.span().start;
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong_type(d, key, v, "a whole number");
            return None;
        };
        match u64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if (min..=max).contains(&n) => Some(At { value: n, pos }),
            _ => {
                let msg = format!("{key} = {i} is out of range: use {min} to {max}");
                d.error(self.src, pos, &self.key_path(key), msg);
                None
            }
        }
    }

    /// A humantime duration such as `"1s"` or `"500ms"`, at least `min`
    /// and at most the key's bound in [`super::keys::DURATION_MAX`].
    pub fn duration(&self, d: &mut Diagnostics, key: &str, min: Duration) -> Option<At<Duration>> {
        let s = self.string_of(d, key, "a duration such as \"1s\" or \"500ms\"")?;
        let max = super::keys::duration_max(super::keys::section_of(&self.path), key);
        match humantime::parse_duration(s.value.trim()) {
            Ok(v) if v >= min && v <= max => Some(At { value: v, pos: s.pos }),
            Ok(v) if v > max => {
                let msg = format!(
                    "{key} = {:?} is too long: use at most {}",
                    s.value,
                    humantime::format_duration(max)
                );
                d.error(self.src, s.pos, &self.key_path(key), msg);
                None
            }
            Ok(_) => {
                let msg = format!(
                    "{key} = {:?} is too short: use at least {}",
                    s.value,
                    humantime::format_duration(min)
                );
                d.error(self.src, s.pos, &self.key_path(key), msg);
                None
            }
            Err(e) => {
                let msg = format!(
                    "{key} = {:?} is not a duration ({e}): write it like \"1s\", \"500ms\" or \"5m\"",
                    s.value
                );
                d.error(self.src, s.pos, &self.key_path(key), msg);
                None
            }
        }
    }

    /// A percentage string such as `"40%"`, as a fraction 0..=1.
    pub fn percent(&self, d: &mut Diagnostics, key: &str) -> Option<At<f64>> {
        let s = self.string_of(d, key, "a percentage such as \"40%\"")?;
        let parsed = s
            .value
            .trim()
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok());
        match parsed {
            Some(p) if (0.0..=100.0).contains(&p) => Some(At {
                value: p / 100.0,
                pos: s.pos,
            }),
            _ => {
                let msg = format!("{key} = {:?} is not a percentage from \"0%\" to \"100%\"", s.value);
                d.error(self.src, s.pos, &self.key_path(key), msg);
                None
            }
        }
    }

    /// A string, with `want` naming the expected form in the type error.
    fn string_of(&self, d: &mut Diagnostics, key: &str, want: &str) -> Option<At<String>> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(At {
                value: s.to_string(),
                pos: v.span().start,
            }),
            _ => {
                self.wrong_type(d, key, v, want);
                None
            }
        }
    }

    /// An array of strings; each string keeps its own position.
    pub fn strings(&self, d: &mut Diagnostics, key: &str) -> Option<Vec<At<String>>> {
        let v = self.raw(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(d, key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => out.push(At {
                    value: s.to_string(),
                    pos: item.span().start,
                }),
                other => {
                    let msg = format!("expected a string, found {}", type_name(other));
                    d.error(
                        self.src,
                        item.span().start,
                        &format!("{}[{i}]", self.key_path(key)),
                        msg,
                    );
                }
            }
        }
        Some(out)
    }

    /// A sub-table.
    pub fn table(&self, d: &mut Diagnostics, key: &str) -> Option<Table<'a, 'i>> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::Table(t) => {
                let pos = self.key_pos(key).unwrap_or(v.span().start);
                Some(Table::new(self.src, t, &self.key_path(key), pos..pos))
            }
            _ => {
                self.wrong_type(d, key, v, "a table");
                None
            }
        }
    }

    /// The keys of this table, in file order, with their positions.
    pub fn keys(&self) -> Vec<At<String>> {
        self.table
            .iter()
            .map(|(k, _)| At {
                value: k.get_ref().to_string(),
                pos: k.span().start,
            })
            .collect()
    }

    /// Reports every key not in `known` as unknown.
    pub fn finish(&self, d: &mut Diagnostics, known: &[&str]) {
        for k in self.keys() {
            if !known.contains(&k.value.as_str()) {
                let h = hint(&k.value, known);
                // Printed: a key with a line break or bidi character is
                // shown escaped, on one line.
                let shown = match super::names::problem(&k.value) {
                    Some(_) => super::names::shown(&k.value),
                    None => k.value.clone(),
                };
                let mut msg = format!("unknown key {shown}{h}");
                // The line pasted below a [table] that belongs above every
                // table (import's `groups = [...]`): say where it goes.
                let top = super::keys::names(super::keys::Section::Top);
                if !self.path.is_empty() && h.is_empty() && top.contains(&k.value.as_str()) {
                    msg = format!(
                        "unknown key {shown} in [{}]: {shown} is a top-level key, and a key belongs to the [table] above it; move this line above the first [table] of the file",
                        self.path
                    );
                }
                d.error(self.src, k.pos, &self.key_path(&shown), msg);
            }
        }
    }
}
