//! Diagnostics: every error and warning found while loading settings and
//! group definitions, located by file, line and column, with a path that
//! names the offending element or key.
//!
//! Loading never stops at the first problem: each reader pushes into a
//! [`Diagnostics`] list so `failoverd check` can print them all at once.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How bad a finding is: errors make the configuration invalid, warnings
/// are printed and do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, printed as `FILE:LINE:COL: PATH: [warning: ]message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
    /// `VPNFailoverGroup[HQ_VPN]/FailoverCondition/FailoverIF[2]/Port` or
    /// `connections.HQ_Primary.targets`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}: ", self.file.display(), self.line, self.col, self.path)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A file's text with an index of line starts, to turn byte offsets into
/// line and column.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: Arc<str>,
    line_starts: Vec<usize>,
    /// UTF-8 continuation bytes before each multiple of [`BLOCK`]: a
    /// column then costs at most two blocks of counting, however long the
    /// line (a hostile file may be one line of 16 MiB).
    continuations: Vec<usize>,
}

/// Granularity of [`Source::continuations`], in bytes.
const BLOCK: usize = 1024;

/// Whether `b` continues a UTF-8 character rather than starting one.
fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

impl Source {
    pub fn new(path: &Path, text: &str) -> Self {
        // Sized exactly: grown by doubling, the index of a 300 KB file
        // took twice its size during the load.
        let lines = text.bytes().filter(|b| *b == b'\n').count();
        let mut line_starts = Vec::with_capacity(lines + 1);
        line_starts.push(0);
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let mut continuations = Vec::with_capacity(text.len() / BLOCK + 2);
        continuations.push(0);
        let mut count = 0;
        for block in text.as_bytes().chunks(BLOCK) {
            count += block.iter().filter(|b| is_continuation(**b)).count();
            continuations.push(count);
        }
        Source {
            path: path.to_path_buf(),
            text: Arc::from(text),
            line_starts,
            continuations,
        }
    }

    /// Continuation bytes in `text[..offset]`.
    fn continuations_before(&self, offset: usize) -> usize {
        let block = offset / BLOCK;
        let rest = &self.text.as_bytes()[block * BLOCK..offset];
        self.continuations[block] + rest.iter().filter(|b| is_continuation(**b)).count()
    }

    /// 1-based line and character column of a byte offset (clamped to the
    /// text, and to a character boundary).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let mut end = offset;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        // Characters are the bytes that are not continuation bytes.
        let col = (end - start) - (self.continuations_before(end) - self.continuations_before(start)) + 1;
        (line + 1, col)
    }
}

/// Most findings kept in one load. Beyond it they are only counted (a
/// hostile 16 MiB file can hold millions, each costing memory and a line
/// of output); [`Diagnostics::sorted`] ends with one that says how many.
pub const MAX_FINDINGS: usize = 1000;

/// Collected findings of one load.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    /// Files in the order they were read, for printing.
    files: Vec<PathBuf>,
    /// The same, for lookups.
    known: HashSet<PathBuf>,
    /// Findings beyond [`MAX_FINDINGS`]: errors, warnings, and the file
    /// of the first.
    dropped: (usize, usize, Option<PathBuf>),
}

impl Diagnostics {
    /// Records that `file` is read now: findings print in this order of
    /// files (the settings file first), whatever order they were found in.
    pub fn reading(&mut self, file: &Path) {
        // A set beside the list: a glob of 10,000 files stays linear.
        if self.known.insert(file.to_path_buf()) {
            self.files.push(file.to_path_buf());
        }
    }

    pub fn push(&mut self, d: Diagnostic) {
        if self.full(d.severity, &d.file) {
            return;
        }
        self.items.push(d);
    }

    /// Whether the list is full; if so, counts the finding instead.
    fn full(&mut self, severity: Severity, file: &Path) -> bool {
        if self.items.len() < MAX_FINDINGS {
            return false;
        }
        match severity {
            Severity::Error => self.dropped.0 += 1,
            Severity::Warning => self.dropped.1 += 1,
        }
        self.dropped.2.get_or_insert_with(|| file.to_path_buf());
        true
    }

    /// An error at a byte offset of `src`.
    pub fn error(&mut self, src: &Source, offset: usize, path: &str, message: impl Into<String>) {
        self.at(Severity::Error, src, offset, path, message.into());
    }

    /// A warning at a byte offset of `src`.
    pub fn warn(&mut self, src: &Source, offset: usize, path: &str, message: impl Into<String>) {
        self.at(Severity::Warning, src, offset, path, message.into());
    }

    /// A finding about a whole file that has no text to point into (it
    /// could not be read, or is too large to read).
    pub fn file_error(&mut self, file: &Path, path: &str, message: impl Into<String>) {
        self.push(Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line: 1,
            col: 1,
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn at(&mut self, severity: Severity, src: &Source, offset: usize, path: &str, message: String) {
        if self.full(severity, &src.path) {
            return;
        }
        let (line, col) = src.line_col(offset);
        self.items.push(Diagnostic {
            severity,
            file: src.path.clone(),
            line,
            col,
            path: path.to_string(),
            message,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.dropped.0 > 0 || self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Warning)
    }

    /// All findings, in file order, then by position; the order in which
    /// files were read is kept (the settings file first).
    pub fn sorted(&self) -> Vec<Diagnostic> {
        let mut order: HashMap<&PathBuf, usize> = HashMap::new();
        for f in self.files.iter().chain(self.items.iter().map(|d| &d.file)) {
            let next = order.len();
            order.entry(f).or_insert(next);
        }
        let rank = |p: &PathBuf| order.get(p).copied().unwrap_or(usize::MAX);
        let mut all = self.items.clone();
        all.sort_by_key(|d| (rank(&d.file), d.line, d.col, d.severity));
        let (errors, warnings, file) = &self.dropped;
        if let Some(file) = file {
            all.push(Diagnostic {
                severity: if *errors > 0 { Severity::Error } else { Severity::Warning },
                file: file.clone(),
                line: 1,
                col: 1,
                path: "(document)".to_string(),
                message: format!(
                    "{} more findings not shown ({errors} errors, {warnings} warnings): fix the first {MAX_FINDINGS} and check again",
                    errors + warnings
                ),
            });
        }
        all
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The closest of `candidates` to `word`, if close enough to be a likely
/// typo: a case-only difference, or an edit distance of at most 2 (1 for
/// short words).
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    if let Some(c) = candidates.iter().find(|c| c.to_ascii_lowercase() == lower) {
        return Some(c);
    }
    let len = word.chars().count();
    let limit = if len <= 4 { 1 } else { 2 };
    // A hint must keep most of the word: "C" is not a typo of "A".
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, _)| *d <= limit && *d < len)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean X?)` or nothing.
pub fn hint(word: &str, candidates: &[&str]) -> String {
    match did_you_mean(word, candidates) {
        Some(c) => format!(" (did you mean {c}?)"),
        None => String::new(),
    }
}

/// Levenshtein distance, with adjacent transpositions counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let s = Source::new(Path::new("f"), "ab\nçd\n\nx");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(3), (2, 1));
        // 'ç' is two bytes: offset 5 is 'd', the second character.
        assert_eq!(s.line_col(5), (2, 2));
        assert_eq!(s.line_col(7), (3, 1));
        assert_eq!(s.line_col(8), (4, 1));
        assert_eq!(s.line_col(999), (4, 2));
    }

    #[test]
    fn columns_across_blocks_match_a_plain_count() {
        // Long lines of 1- to 4-byte characters, crossing block edges.
        let text: String = (0..5000)
            .map(|i| {
                if i % 1500 == 0 {
                    '\n'
                } else {
                    ['a', 'ç', '€', '𝄞'][(i * 7 + i / 13) % 4]
                }
            })
            .collect();
        let s = Source::new(Path::new("f"), &text);
        for offset in (0..=text.len() + 3).step_by(7) {
            let clamped = offset.min(text.len());
            let mut end = clamped;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let start = text[..end].rfind('\n').map_or(0, |i| i + 1);
            let line = text[..end].matches('\n').count() + 1;
            let col = text[start..end].chars().count() + 1;
            assert_eq!(s.line_col(offset), (line, col), "offset {offset}");
        }
    }

    #[test]
    fn findings_beyond_the_cap_are_counted_not_kept() {
        let src = Source::new(Path::new("f"), "x");
        let mut d = Diagnostics::default();
        for _ in 0..MAX_FINDINGS {
            d.warn(&src, 0, "p", "w");
        }
        assert!(!d.has_errors());
        d.warn(&src, 0, "p", "w");
        d.error(&src, 0, "p", "e");
        assert!(d.has_errors(), "a dropped error still makes the load invalid");
        let all = d.sorted();
        assert_eq!(all.len(), MAX_FINDINGS + 1);
        assert_eq!(
            all[MAX_FINDINGS].to_string(),
            "f:1:1: (document): 2 more findings not shown (1 errors, 1 warnings): fix the first 1000 and check again"
        );
    }

    #[test]
    fn hints_find_near_misses_only() {
        let c = ["MailNotification", "AutomaticFailback", "Name"];
        assert_eq!(did_you_mean("Mailnotification", &c), Some("MailNotification"));
        assert_eq!(did_you_mean("MailNotifcation", &c), Some("MailNotification"));
        assert_eq!(did_you_mean("AutomaticFallback", &c), Some("AutomaticFailback"));
        assert_eq!(did_you_mean("Nmae", &c), Some("Name"));
        assert_eq!(did_you_mean("Whatever", &c), None);
        assert_eq!(hint("Whatever", &c), "");
    }
}
