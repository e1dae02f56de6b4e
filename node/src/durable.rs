//! Durable file writes, shared by everything the node keeps on disk outside RocksDB:
//! the consensus log's pruning, the signer guard's state, key files, the files
//! `accord init` writes, and the mempool journal's rewrites.
//!
//! A file is replaced by writing the new contents to a temporary file beside it (same
//! directory, so the rename cannot cross file systems), syncing that file, renaming it
//! over the target, and syncing the directory so the rename itself survives a crash.
//! At every instant the target path holds either the complete old file or the complete
//! new one.
//!
//! A file replaced at every height (the consensus log, the signer guard's record) uses
//! an [`Exchanger`] instead: the new contents go into a spare file beside it, which is
//! synced and then swapped with the target in one `renameat2(RENAME_EXCHANGE)`, so the
//! old file becomes the next spare. The same guarantee, without creating and deleting
//! a file (an inode) every time, which cost the file system more than the writes.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
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
    hidden_sibling(path, &format!(".tmp-{}", std::process::id()))
}

/// `.<name><suffix>` in the directory of `path`.
fn hidden_sibling(path: &Path, suffix: &str) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    let mut sibling = OsString::from(".");
    sibling.push(name);
    sibling.push(suffix);
    Ok(path.with_file_name(sibling))
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

/// Replaces one file again and again through a spare beside it (`.<name>.spare`): the
/// new contents are written into the spare and synced, the spare and the file are
/// swapped by one atomic `renameat2(RENAME_EXCHANGE)`, and the directory is synced. At
/// every instant the path holds the complete old file or the complete new one, as with
/// [`replace_file`]; the old file becomes the next spare, so no file is created or
/// deleted once both exist. Where the exchange is not available (another system, a
/// file system without it), the spare is renamed over the file instead.
///
/// The spare's contents are never read: after a crash it holds an older version or a
/// partial write, and is overwritten by the next replacement.
#[derive(Debug)]
pub(crate) struct Exchanger {
    path: PathBuf,
    spare_path: PathBuf,
    dir: File,
    mode: u32,
    /// The spare, when open.
    spare: Option<File>,
    /// The file this exchanger last put at the path, when it did: the next spare, as
    /// long as it is still the file there.
    current: Option<File>,
}

impl Exchanger {
    /// An exchanger of the file at `path` (which need not exist yet, but whose
    /// directory must); files it creates get permission bits `mode`.
    pub(crate) fn new(path: &Path, mode: u32) -> io::Result<Self> {
        Ok(Self {
            path: path.to_path_buf(),
            spare_path: hidden_sibling(path, ".spare")?,
            dir: File::open(parent_dir(path))?,
            mode,
            spare: None,
            current: None,
        })
    }

    /// The spare's path.
    #[cfg(test)]
    pub(crate) fn spare_path(&self) -> &Path {
        &self.spare_path
    }

    /// Makes `contents` the file's contents, durably, and returns a handle on the file
    /// now at the path (open for reading and writing; its offset is not defined).
    ///
    /// Only a regular file (or nothing) at the path is replaced: anything else there is
    /// an error. The file this exchanger put there last becomes the next spare only
    /// while it is still the file there (someone may have put another one there
    /// meanwhile).
    pub(crate) fn replace(&mut self, contents: &[u8]) -> io::Result<File> {
        let target = match fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.file_type().is_file() => Some((meta.dev(), meta.ino())),
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} is not a regular file", self.path.display()),
                ))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        let current = self.current.take().filter(|file| {
            file.metadata()
                .is_ok_and(|meta| target == Some((meta.dev(), meta.ino())))
        });
        let spare = match self.spare.take() {
            Some(spare) => spare,
            None => self.open_spare()?,
        };
        spare.set_len(0)?;
        spare.write_all_at(contents, 0)?;
        spare.sync_data()?;
        if exchange(&self.spare_path, &self.path)? {
            // The replaced file now has the spare's name.
            self.spare = current;
        } else {
            fs::rename(&self.spare_path, &self.path)?;
        }
        self.dir.sync_all()?;
        let handle = spare.try_clone()?;
        self.current = Some(spare);
        Ok(handle)
    }

    fn open_spare(&self) -> io::Result<File> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(self.mode)
            .open(&self.spare_path)?;
        // A spare left by an earlier run gets the mode the file must have.
        file.set_permissions(fs::Permissions::from_mode(self.mode))?;
        Ok(file)
    }
}

/// Swaps the files at `a` and `b` atomically; `Ok(false)` when there is nothing at `b`
/// to swap with or the system or file system cannot exchange.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    use nix::errno::Errno;
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    match renameat2(AT_FDCWD, a, AT_FDCWD, b, RenameFlags::RENAME_EXCHANGE) {
        Ok(()) => Ok(true),
        Err(Errno::ENOENT | Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Swaps the files at `a` and `b` atomically: not available here.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchange(_: &Path, _: &Path) -> io::Result<bool> {
    Ok(false)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::io::{Read, Seek};

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_exchanger_creates_the_file_and_then_swaps_two_inodes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.json");
        let mut exchanger = Exchanger::new(&path, 0o600).unwrap();
        let spare = exchanger.spare_path().to_path_buf();
        assert_eq!(spare, dir.path().join(".record.json.spare"));

        exchanger.replace(b"first, longer than the rest").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first, longer than the rest");
        let mut inodes = BTreeSet::new();
        for i in 0..6 {
            let contents = format!("version {i}");
            let file = exchanger.replace(contents.as_bytes()).unwrap();
            // The handle returned is the file at the path, whole and nothing more.
            let mut read = String::new();
            (&file).seek(io::SeekFrom::Start(0)).unwrap();
            (&file).read_to_string(&mut read).unwrap();
            assert_eq!(read, contents);
            assert_eq!(fs::read_to_string(&path).unwrap(), contents);
            assert_eq!(
                file.metadata().unwrap().ino(),
                fs::metadata(&path).unwrap().ino()
            );
            inodes.insert(fs::metadata(&path).unwrap().ino());
            inodes.insert(fs::metadata(&spare).unwrap().ino());
        }
        // Two files, swapped every time: none created or deleted after the first two.
        assert_eq!(inodes.len(), 2, "inodes used: {inodes:?}");
        assert_eq!(fs::read_to_string(&spare).unwrap(), "version 4");
        assert_eq!((mode(&path), mode(&spare)), (0o600, 0o600));
        let names: BTreeSet<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn an_exchanger_over_a_file_it_did_not_write_or_a_stale_spare_still_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        fs::write(&path, b"written before").unwrap();
        // A spare left by a crash: larger than what replaces it, and readable by all.
        let spare = dir.path().join(".state.spare");
        fs::write(&spare, vec![b'x'; 4096]).unwrap();
        fs::set_permissions(&spare, fs::Permissions::from_mode(0o644)).unwrap();

        let mut exchanger = Exchanger::new(&path, 0o600).unwrap();
        exchanger.replace(b"one").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(fs::read(&spare).unwrap(), b"written before");
        exchanger.replace(b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read(&spare).unwrap(), b"one");
    }

    #[test]
    fn an_exchanger_refuses_what_is_not_a_file_and_lets_go_of_a_replaced_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let spare = dir.path().join(".state.spare");
        let mut exchanger = Exchanger::new(&path, 0o600).unwrap();
        exchanger.replace(b"one").unwrap();
        exchanger.replace(b"two").unwrap();

        // A directory where the file was: nothing is swapped with it.
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        let error = exchanger.replace(b"three").unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        assert!(path.is_dir());

        // Another file put there: it is replaced, and the file this exchanger wrote
        // last, removed meanwhile, is not taken as the spare (what it wrote would be
        // lost).
        fs::remove_dir(&path).unwrap();
        fs::write(&path, b"restored").unwrap();
        exchanger.replace(b"three").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"three");
        assert_eq!(fs::read(&spare).unwrap(), b"restored");
        exchanger.replace(b"four").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"four");
        assert_eq!(fs::read(&spare).unwrap(), b"three");
        exchanger.replace(b"five").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"five");
        assert_eq!(fs::read(&spare).unwrap(), b"four");
    }

    #[test]
    fn an_exchanger_needs_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let error = Exchanger::new(&dir.path().join("missing/state"), 0o600).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }
}
