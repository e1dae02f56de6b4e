//! The one way the agent writes a file that must survive a crash: a temporary file
//! beside it, written and synced, renamed over it, then the directory synced. A reader
//! sees the old content or the new, never a mix. The work runs on tokio's blocking
//! pool, never on a worker.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` durably (see the module docs). Blocking.
pub fn write_blocking(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_path(path)?;
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    sync_dir(path)
}

/// [`write_blocking`] on the blocking pool.
pub async fn write(path: PathBuf, bytes: Vec<u8>) -> io::Result<()> {
    tokio::task::spawn_blocking(move || write_blocking(&path, &bytes))
        .await
        .unwrap_or_else(|e| Err(io::Error::other(format!("the write task failed: {e}"))))
}

/// Writes `value` as pretty JSON to `path` durably, on the blocking pool; errors name
/// the file as `what` (`journal`, `trust store`).
pub async fn write_json(
    what: &'static str,
    path: &Path,
    value: &impl serde::Serialize,
) -> crate::error::Result<()> {
    use crate::error::Error;
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Corrupt {
        what,
        path: path.to_owned(),
        reason: format!("cannot encode: {e}"),
    })?;
    write(path.to_owned(), bytes)
        .await
        .map_err(|source| Error::Io {
            what,
            path: path.to_owned(),
            source,
        })
}

/// Reads `path` whole if it exists, refusing files larger than `max` bytes. Blocking.
pub fn read_blocking(path: &Path, max: u64) -> io::Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{len} bytes, more than the {max} this file may hold"),
        ));
    }
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Creates `dir` (and its parents) readable by the owner only, and syncs its parent so
/// the entry survives a crash. Blocking.
pub fn create_dir_blocking(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    sync_dir(dir)
}

fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(".tmp");
    Ok(path.with_file_name(temp))
}

/// Syncs the directory holding `path`, so a rename or a new entry in it is durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_blocking(&path, b"first").unwrap();
        write_blocking(&path, b"second").unwrap();
        assert_eq!(read_blocking(&path, 100).unwrap().unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
        assert!(read_blocking(&dir.path().join("absent"), 100)
            .unwrap()
            .is_none());
        let error = read_blocking(&path, 3).unwrap_err().to_string();
        assert!(error.contains("more than the 3"), "{error}");
    }
}
