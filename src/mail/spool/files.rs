//! The spool folder's file operations, safe in a folder another user may
//! write to (the state directory belongs to the service's user, and root
//! may run failoverd there): every operation goes through the open
//! folder's descriptor (`openat`, `renameat`, `unlinkat`), never follows a
//! symbolic link and never opens anything but a regular file. A file is
//! only ever created new (`O_CREAT|O_EXCL|O_NOFOLLOW`), so no planted entry
//! is written through or given away; failoverd changes no owner here.
//!
//! An audited `unsafe` module: std has no `openat`, `renameat` or
//! `unlinkat`, so they are called through `libc`, each with a
//! NUL-terminated name that outlives the call; the one descriptor they
//! return is wrapped in a `File` at once.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::{DirBuilder, File};
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{DirBuilderExt as _, FileTypeExt as _, PermissionsExt as _};
use std::path::Path;

/// Spool files are no bigger than this (a mail, or the pending events);
/// a larger one is not a spool file and is set aside unread.
pub const MAX_FILE: u64 = 16 << 20;

/// The spool folder, open.
#[derive(Debug)]
pub struct Folder {
    fd: File,
}

impl Folder {
    /// Creates `dir` (mode 0700) if it is missing and opens it without
    /// following a link; anything but a real folder there is an error
    /// naming it.
    pub fn open(dir: &Path) -> io::Result<Folder> {
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match DirBuilder::new().mode(0o700).create(dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        let fd =
            open_raw(libc::AT_FDCWD, dir.as_os_str().as_bytes(), flags, 0).map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP | libc::ENOTDIR) => planted(dir, "is not a folder (a symbolic link or a file)"),
                _ => e,
            })?;
        fd.set_permissions(std::fs::Permissions::from_mode(0o700))?;
        Ok(Folder { fd })
    }

    /// Reads the regular file `name` (at most [`MAX_FILE`] bytes), never
    /// following a link nor waiting on a FIFO.
    pub fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
        let f = open_raw(self.fd.as_raw_fd(), name.as_bytes(), flags, 0)?;
        let meta = f.metadata()?;
        if !meta.file_type().is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        if meta.len() > MAX_FILE {
            return Err(io::Error::other(format!("larger than {MAX_FILE} bytes")));
        }
        let mut bytes = Vec::new();
        f.take(MAX_FILE + 1).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Writes `name` atomically: a new temporary file (created, never
    /// reused), fsync, rename over `name`, fsync the folder. A reader (or
    /// the next start) sees the old file or the whole new one.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let tmp = format!(".{name}.tmp");
        // A leftover of a crash (or anything planted under that name):
        // unlinking removes the entry itself, never what a link points to.
        let _ = self.remove(&tmp);
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        let mut f = open_raw(self.fd.as_raw_fd(), tmp.as_bytes(), flags, 0o600)?;
        let written = f.write_all(bytes).and_then(|()| f.sync_all());
        drop(f);
        if let Err(e) = written.and_then(|()| self.rename(&tmp, name)) {
            let _ = self.remove(&tmp);
            return Err(e);
        }
        self.sync()
    }

    /// Renames within the folder; replaces (never follows) whatever is at
    /// `to`.
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (cstring(from.as_bytes())?, cstring(to.as_bytes())?);
        let fd = self.fd.as_raw_fd();
        // SAFETY: both names are NUL-terminated and outlive the call.
        let rc = unsafe { libc::renameat(fd, from.as_ptr(), fd, to.as_ptr()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Removes the entry `name` (a link is removed, not followed).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        let name = cstring(name.as_bytes())?;
        // SAFETY: the name is NUL-terminated and outlives the call.
        let rc = unsafe { libc::unlinkat(self.fd.as_raw_fd(), name.as_ptr(), 0) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Makes renames and removals durable.
    pub fn sync(&self) -> io::Result<()> {
        self.fd.sync_all()
    }
}

/// Every entry of the folder at `dir` that is not a regular file: a link,
/// FIFO, socket, device or folder planted in the spool. Read from the
/// entries themselves (never followed).
pub fn foreign_entries(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let t = item.file_type()?;
        if t.is_file() {
            continue;
        }
        let what = if t.is_symlink() {
            "a symbolic link"
        } else if t.is_dir() {
            "a folder"
        } else if t.is_fifo() {
            "a FIFO"
        } else {
            "a socket or device"
        };
        out.push(format!("{} is {what}", item.path().display()));
    }
    out.sort();
    Ok(out)
}

/// The error for a planted entry: names it and says how to fix it.
pub fn planted(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} {what}: failoverd never follows or opens such an entry in its state directory; \
             remove it (the spool holds only regular files failoverd wrote)",
            path.display()
        ),
    )
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in a file name"))
}

fn open_raw(dir: libc::c_int, name: &[u8], flags: libc::c_int, mode: libc::mode_t) -> io::Result<File> {
    let name = cstring(name)?;
    // SAFETY: the name is NUL-terminated and outlives the call; `mode` is
    // passed as the variadic argument openat expects with O_CREAT.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags, libc::c_uint::from(mode)) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}
