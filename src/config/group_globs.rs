//! The `groups` globs: which group files the settings name. Every match is
//! accounted for (docs/settings.md, "Files the settings name"): a regular
//! file is read, a folder is skipped, and anything that cannot be read (a
//! folder the glob could not search, a dangling link, a FIFO, a device) is
//! an error at the glob, never silently dropped. Matches are deduplicated
//! by set, so thousands of files stay linear.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::diag::Diagnostics;
use super::toml_read::Table;

/// The group files of `groups`, in glob order, each once.
pub fn group_files(top: &Table<'_, '_>, base: &Path, d: &mut Diagnostics) -> Vec<PathBuf> {
    let src = top.src();
    let Some(globs) = top.strings(d, "groups") else {
        if top.raw("groups").is_none() {
            top.missing(d, "groups", "[\"groups.d/*.xml\"]");
        }
        return Vec::new();
    };
    if globs.is_empty() {
        d.error(
            src,
            top.key_pos("groups").unwrap_or(0),
            "groups",
            "groups is empty: name at least one group file or glob",
        );
    }
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    for (i, g) in globs.iter().enumerate() {
        let path = format!("groups[{i}]");
        let pattern = base.join(&g.value);
        let paths = match glob::glob(&pattern.to_string_lossy()) {
            Ok(paths) => paths,
            Err(e) => {
                d.error(src, g.pos, &path, format!("{:?} is not a valid glob: {e}", g.value));
                continue;
            }
        };
        let mut v = Vec::new();
        let mut refused = false;
        for entry in paths {
            match matched_group_file(entry) {
                Ok(Match::File(p)) => v.push(p),
                Ok(Match::Folder(p)) => {
                    let msg = format!(
                        "{:?} matches the folder {}, which holds no group: skipped",
                        g.value,
                        p.display()
                    );
                    d.warn(src, g.pos, &path, msg);
                }
                Err(why) => {
                    refused = true;
                    d.error(src, g.pos, &path, format!("{:?} matches {why}", g.value));
                }
            }
        }
        v.sort();
        if v.is_empty() && !refused {
            d.error(
                src,
                g.pos,
                &path,
                format!(
                    "{:?} matches no file (looked for {}); fix the pattern or add the group files",
                    g.value,
                    pattern.display()
                ),
            );
        }
        // A file two globs match is read once.
        files.extend(v.into_iter().filter(|p| seen.insert(p.clone())));
    }
    files
}

/// What a glob matched that can be used.
enum Match {
    File(PathBuf),
    /// A glob such as `groups.d/*` may match a folder: it holds no group
    /// (warned, skipped).
    Folder(PathBuf),
}

/// One match of a `groups` glob, or why it cannot be read. Nothing is dropped silently (docs/safety.md): a
/// folder the glob could not search, a dangling link, a FIFO or a device is
/// an error.
fn matched_group_file(entry: Result<PathBuf, glob::GlobError>) -> Result<Match, String> {
    let p = match entry {
        Ok(p) => p,
        Err(e) => {
            return Err(format!(
                "{}, which cannot be read: {}; give the service user access or narrow the pattern",
                e.path().display(),
                e.error()
            ));
        }
    };
    match std::fs::metadata(&p) {
        Ok(m) if m.is_file() => Ok(Match::File(p)),
        Ok(m) if m.is_dir() => Ok(Match::Folder(p)),
        Ok(m) => Err(format!(
            "{}, which is {}, not a regular file: remove it or narrow the pattern",
            p.display(),
            super::regular::kind_of(m.file_type())
        )),
        Err(e) => Err(format!(
            "{}, which cannot be read: {e} (a dangling link?); remove it or fix it",
            p.display()
        )),
    }
}
