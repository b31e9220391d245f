//! Opening the files the settings name (the settings file itself, group
//! files, password and secret files, CA certificates) so that reading them
//! can never block: every open is non-blocking, and whatever is not a
//! regular file (a FIFO, a socket, a device, a folder) is refused by its
//! `fstat` before a byte is read (docs/safety.md, "Reload and input files").
//!
//! A FIFO named as `password_file` once froze the daemon at SIGHUP until
//! something was written into it: opening a FIFO for reading blocks until a
//! writer comes, and reading it blocks until it writes. With `O_NONBLOCK`
//! the open returns at once, and the file type check refuses it.

use std::fs::{File, FileType, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A path that names something other than a regular file.
#[derive(Debug)]
pub struct NotRegular {
    pub path: PathBuf,
    /// "a FIFO", "a folder", ...
    pub kind: &'static str,
}

impl std::fmt::Display for NotRegular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is {}, not a regular file", self.path.display(), self.kind)
    }
}

impl std::error::Error for NotRegular {}

/// What a file type is, in words.
pub fn kind_of(t: FileType) -> &'static str {
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

/// Opens `path` for reading without blocking and checks, on the open
/// descriptor, that it is a regular file. Symbolic links are followed (an
/// admin may link a group file or a certificate from elsewhere); what they
/// lead to must be a regular file.
pub fn open(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    let t = file.metadata()?.file_type();
    if t.is_file() {
        return Ok(file);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(t),
        },
    ))
}

/// Reads at most `limit` bytes of the regular file `path`; a larger file is
/// an `InvalidData` error, found without reading it all.
pub fn read_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open(path)?;
    // The size it has now, so the buffer is not grown by doubling (a
    // 300 KB file took 512 KB); a file that grows meanwhile still reads.
    let size = file.metadata().map_or(0, |m| m.len()).min(limit.saturating_add(1));
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} MiB", limit / (1024 * 1024)),
        ));
    }
    Ok(bytes)
}

/// Whether `e` says the file was not a regular file.
pub fn not_regular(e: &io::Error) -> Option<&NotRegular> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<NotRegular>())
}

/// `e` for a message about `path`: "PATH is a FIFO, not a regular file", or
/// "cannot read PATH: ERROR".
pub fn explain(path: &Path, e: &io::Error) -> String {
    match not_regular(e) {
        Some(n) => n.to_string(),
        None => format!("cannot read {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo").arg(path).status().unwrap();
        assert!(ok.success());
    }

    #[test]
    fn a_fifo_is_refused_at_once_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pw");
        mkfifo(&fifo);
        let e = open(&fifo).unwrap_err();
        assert_eq!(
            explain(&fifo, &e),
            format!("{} is a FIFO, not a regular file", fifo.display())
        );
        let e = read_limited(dir.path(), 10).unwrap_err();
        assert_eq!(not_regular(&e).map(|n| n.kind), Some("a folder"));
        let e = open(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(not_regular(&e).map(|n| n.kind), Some("a character device"));
    }

    #[test]
    fn regular_files_and_links_to_them_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "abc").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert_eq!(read_limited(&link, 3).unwrap(), b"abc");
        assert_eq!(read_limited(&f, 2).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let missing = dir.path().join("missing");
        let e = open(&missing).unwrap_err();
        assert!(explain(&missing, &e).starts_with("cannot read "), "{e}");
    }
}
