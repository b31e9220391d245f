//! Opening and creating files in the state directory without ever
//! following a symbolic link or opening a FIFO, device or directory in
//! place of a file (docs/safety.md, "State directory").
//!
//! The directory belongs to the service's user, who may plant entries in
//! it; root runs `push` and `run` there too. So every entry is looked at
//! with `lstat` before it is opened, opened with `O_NOFOLLOW | O_NONBLOCK`
//! (a FIFO planted between the two cannot block), and checked again with
//! `fstat` on the descriptor. New files are created with `O_EXCL` and
//! given to the directory's owner with `fchown` on their own descriptor:
//! ownership never goes to a file failoverd did not just create.
//!
//! Public so that other owners of state-directory files (the spool, the
//! control socket) can use the same rules.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Flags on every open here: no link followed, no FIFO waited for.
const FLAGS: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;

/// What a non-file entry is, for the error that names it.
fn kind(m: &Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_file() {
        "a regular file"
    } else {
        "of an unknown kind"
    }
}

/// The error for a state directory that is not one.
fn not_dir(path: &Path, m: &Metadata) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is {}, not a directory: set state_dir to a folder",
            path.display(),
            kind(m)
        ),
    )
}

/// The error for an entry that is not a regular file: it names the entry
/// and says what to do. Its kind is `InvalidInput`, see [`is_planted`].
pub fn planted(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is {what}, not a regular file: failoverd never follows or opens such an entry in its state directory; remove it (was it planted?)",
            path.display()
        ),
    )
}

/// Whether `e` is [`planted`]'s error (a configuration problem: `run`
/// exits 2).
pub fn is_planted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::InvalidInput
}

/// Whether `path` exists as a regular file (`false`: absent); any other
/// entry (a link, even to a file, a FIFO, a directory, a device) is an
/// error naming it. Never follows a link.
pub fn check_entry(path: &Path) -> io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => Ok(true),
        Ok(m) => Err(planted(path, kind(&m))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The descriptor's own check: a regular file, else the error naming it.
fn verified(path: &Path, opened: io::Result<File>) -> io::Result<File> {
    let f = opened.map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => planted(path, "a symbolic link"),
        Some(libc::ENXIO) => planted(path, "a FIFO or device"),
        _ => e,
    })?;
    let m = f.metadata()?;
    if m.file_type().is_file() {
        Ok(f)
    } else {
        Err(planted(path, kind(&m)))
    }
}

/// Opens an existing regular file to read (see the module's rules).
pub fn open_read(path: &Path) -> io::Result<File> {
    check_entry(path)?;
    let f = OpenOptions::new().read(true).custom_flags(FLAGS).open(path);
    verified(path, f)
}

/// Reads a whole regular file, refusing one larger than `limit` bytes.
pub fn read_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let f = open_read(path)?;
    let mut bytes = Vec::new();
    f.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(io::Error::other(format!("larger than {limit} bytes")));
    }
    Ok(bytes)
}

/// Creates `dir/name`, which must not exist (`O_EXCL`: never an existing
/// entry, never through a link), mode 0600, and gives it to the
/// directory's owner through its descriptor.
pub fn create_new(dir: &Path, name: &str) -> io::Result<File> {
    let path = dir.join(name);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(FLAGS)
        .open(&path);
    let f = match f {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            check_entry(&path)?;
            return Err(e);
        }
        other => verified(&path, other)?,
    };
    give_to_owner(dir, &f);
    Ok(f)
}

/// Opens `dir/name` to read and write, creating it (as [`create_new`])
/// when absent: for the lock, which stays between runs.
pub fn open_or_create(dir: &Path, name: &str) -> io::Result<File> {
    match create_new(dir, name) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let path = dir.join(name);
            check_entry(&path)?;
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(FLAGS)
                .open(&path);
            verified(&path, f)
        }
        other => other,
    }
}

/// No command leaves files owned by another user than the folder's owner
/// (a root `push` beside a DynamicUser daemon): a file just created is
/// given to it, through its descriptor. Best effort: a user who may not
/// give files away keeps them.
fn give_to_owner(dir: &Path, f: &File) {
    if let (Ok(d), Ok(m)) = (std::fs::metadata(dir), f.metadata())
        && (d.uid() != m.uid() || d.gid() != m.gid())
    {
        let _ = std::os::unix::fs::fchown(f, Some(d.uid()), Some(d.gid()));
    }
}

/// The state directory itself: created if absent; a symbolic link is
/// followed only when root owns the link, or the owner of the folder that
/// holds it (who could replace it anyway): systemd's `DynamicUser=` makes
/// `/var/lib/NAME` a root-owned link to `private/NAME`. A link owned by
/// anyone else, or anything but a directory at the end, is an error
/// naming it.
pub fn check_dir(dir: &Path) -> io::Result<()> {
    let m = match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return std::fs::create_dir_all(dir),
        other => other?,
    };
    if !m.file_type().is_symlink() {
        return if m.is_dir() { Ok(()) } else { Err(not_dir(dir, &m)) };
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let parent_owner = std::fs::metadata(parent)?.uid();
    if m.uid() != 0 && m.uid() != parent_owner {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link owned by uid {}, who does not own {}: failoverd follows a link to its state directory only when root or the folder's owner made it; set state_dir to the real folder",
                dir.display(),
                m.uid(),
                parent.display()
            ),
        ));
    }
    let target = std::fs::metadata(dir)?;
    if target.is_dir() {
        Ok(())
    } else {
        Err(not_dir(dir, &target))
    }
}

/// Writes `bytes` into a fresh temporary file `.NAME.tmp` beside `name`
/// (a stale regular one from a crash is removed first; any other entry
/// there is an error naming it), fsynced; returns its path.
pub fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let (mut f, tmp) = create_temp(dir, name)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(tmp)
}

/// Creates the fresh temporary file `.NAME.tmp` beside `name` as
/// [`write_temp`] does, for a caller that writes it piece by piece (and
/// fsyncs it before the rename).
pub fn create_temp(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    let tmp_name = format!(".{name}.tmp");
    let tmp = dir.join(&tmp_name);
    if check_entry(&tmp)? {
        // unlink removes the entry itself, whatever it points to.
        std::fs::remove_file(&tmp)?;
    }
    Ok((create_new(dir, &tmp_name)?, tmp))
}

/// fsyncs the folder, so renames in it survive a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `dir/name` atomically: a temporary file created anew, fsync,
/// rename (which replaces the entry `name`, never follows it), fsync of
/// the folder. New files are 0600 and owned by the folder's owner.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = write_temp(dir, name, bytes)?;
    std::fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}
