//! Durable file writes, shared by everything the node keeps on disk outside RocksDB:
//! the consensus log's pruning, the signer guard's state, key files, the files
//! `accord init` writes, and the mempool journal's rewrites.
//!
//! A file is replaced by writing the new contents to a temporary file beside it (same
//! directory, so the rename cannot cross file systems), syncing that file, renaming it
//! over the target, and syncing the directory so the rename itself survives a crash.
//! At every instant the target path holds either the complete old file or the complete
//! new one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Syncs the directory entry list of `dir`, making renames and creations in it durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The temporary file used to replace `path`: `.<name>.tmp-<pid>` beside it.
pub(crate) fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".tmp-{}", std::process::id()));
    Ok(path.with_file_name(temp))
}

/// Replaces the file at `path` with `contents`, atomically and durably, creating it with
/// permission bits `mode` (the old file's mode is not carried over).
///
/// A temporary file left by an earlier crash is removed first; on failure the temporary
/// file is removed and `path` still holds its previous contents (or nothing).
pub(crate) fn replace_file(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let temp = temp_path(path)?;
    match fs::remove_file(&temp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let written = write_new(&temp, contents, mode).and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    sync_dir(&parent_dir(path))
}

/// Creates `path` (which must not exist) with `mode`, writes `contents` and syncs it.
pub(crate) fn write_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
