//! Reading a file that the configuration names: a regular file only, and never more than a
//! stated size.
//!
//! A path in a configuration file may point anywhere: `/dev/zero` would fill memory, a FIFO
//! would block the reader until some other process writes to it, a directory or a socket
//! gives errors that say little. [`read`] looks at what the path is before opening it, opens
//! it without blocking (`O_NONBLOCK`: opening a FIFO for reading would otherwise wait for a
//! writer), checks the opened file again (it may have been swapped in between), and reads at
//! most one byte more than allowed, so an oversized file is refused without being read whole.
//!
//! Depends on nothing else in the crate: the configuration (secret files, the configuration
//! file itself) and the transport (keystores, PEM files) both use it.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// What a path names when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A FIFO (named pipe): reading it would wait for a writer.
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A character device such as `/dev/zero` or a terminal.
    CharDevice,
    /// A block device such as a disk.
    BlockDevice,
    /// Anything else that is not a regular file.
    Other,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "a special file",
        })
    }
}

/// Why a file could not be read. The caller names the file: these texts do not repeat the
/// path, so that `cannot read the secret file PATH: {error}` reads once.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The path names something other than a regular file.
    #[error("it is {0}, not a regular file")]
    NotRegular(FileKind),
    /// The file holds more than the caller allows.
    #[error("larger than {max} bytes, too big for {what}")]
    TooLarge {
        /// The most bytes allowed.
        max: u64,
        /// What the file was meant to be, e.g. `a secret file`.
        what: &'static str,
    },
    /// The operating system refused (missing file, no permission...).
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl From<ReadError> for io::Error {
    /// For layers whose errors carry an [`io::Error`]: the kind says which failure it was
    /// (`NotFound` stays `NotFound`).
    fn from(e: ReadError) -> io::Error {
        match e {
            ReadError::Io(e) => e,
            e @ ReadError::NotRegular(_) => io::Error::new(io::ErrorKind::InvalidInput, e),
            e @ ReadError::TooLarge { .. } => io::Error::new(io::ErrorKind::InvalidData, e),
        }
    }
}

/// What `metadata` describes, when it is not a regular file.
fn irregular(metadata: &Metadata) -> Option<FileKind> {
    let kind = metadata.file_type();
    if kind.is_file() {
        return None;
    }
    if kind.is_dir() {
        return Some(FileKind::Directory);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some(FileKind::Fifo);
        }
        if kind.is_socket() {
            return Some(FileKind::Socket);
        }
        if kind.is_char_device() {
            return Some(FileKind::CharDevice);
        }
        if kind.is_block_device() {
            return Some(FileKind::BlockDevice);
        }
    }
    Some(FileKind::Other)
}

fn check(metadata: &Metadata, max: u64, what: &'static str) -> Result<(), ReadError> {
    if let Some(kind) = irregular(metadata) {
        return Err(ReadError::NotRegular(kind));
    }
    if metadata.len() > max {
        return Err(ReadError::TooLarge { max, what });
    }
    Ok(())
}

/// Opens `path` for reading without ever waiting: `O_NONBLOCK` makes opening a FIFO return
/// at once (it changes nothing for a regular file), and `O_NOCTTY` keeps a terminal from
/// becoming ours.
fn open(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    options.open(path)
}

/// Reads the whole of `path`, which must be a regular file of at most `max` bytes; `what`
/// names the file's purpose in the size error (`a secret file`, `a keystore`).
///
/// Symbolic links are followed (systemd credentials and Kubernetes secrets are often links).
/// Never blocks on a FIFO and never reads more than `max + 1` bytes.
pub fn read(path: &Path, max: u64, what: &'static str) -> Result<Vec<u8>, ReadError> {
    // Look before opening: opening some devices has effects of its own.
    check(&std::fs::metadata(path)?, max, what)?;
    let file = open(path)?;
    // And again on what was opened: the path may have been replaced in between.
    check(&file.metadata()?, max, what)?;
    let mut data = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut data)?;
    // A file that grew after the check (or a /proc file whose size says 0).
    if data.len() as u64 > max {
        return Err(ReadError::TooLarge { max, what });
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_regular_file_within_the_limit_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(read(&path, 5, "a test file").unwrap(), b"hello");
    }

    #[test]
    fn one_byte_over_the_limit_is_refused_with_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello!").unwrap();
        let e = read(&path, 5, "a test file").unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { max: 5, .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "larger than 5 bytes, too big for a test file"
        );
    }

    #[test]
    fn devices_and_directories_are_refused_by_kind() {
        let e = read(Path::new("/dev/zero"), 1024, "a test file").unwrap_err();
        assert!(
            matches!(e, ReadError::NotRegular(FileKind::CharDevice)),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "it is a character device, not a regular file"
        );
        let dir = tempfile::tempdir().unwrap();
        let e = read(dir.path(), 1024, "a test file").unwrap_err();
        assert!(
            matches!(e, ReadError::NotRegular(FileKind::Directory)),
            "{e:?}"
        );
    }

    #[test]
    fn a_fifo_is_refused_at_once_instead_of_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        let started = Instant::now();
        let e = read(&path, 1024, "a test file").unwrap_err();
        assert!(matches!(e, ReadError::NotRegular(FileKind::Fifo)), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            io::Error::from(e).kind(),
            io::ErrorKind::InvalidInput,
            "mapped for layers that carry io::Error"
        );
    }

    #[test]
    fn a_symlink_to_a_regular_file_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read(&link, 1, "a test file").unwrap(), b"x");
    }

    #[test]
    fn a_missing_file_keeps_its_io_kind() {
        let e = read(Path::new("/nonexistent/smppd"), 1, "a test file").unwrap_err();
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::NotFound);
    }
}
