//! The consensus write-ahead log: every consensus input, appended before the node acts
//! on it, so a restarted node replays them into a fresh engine and reaches the same
//! state and the same signed messages.
//!
//! # Design
//!
//! The log is a plain append-only file rather than a RocksDB column family, so the
//! meaning of a crash in the middle of a write is ours to define and to test.
//!
//! ```text
//!   file header   "ACCRDWAL" (8 bytes) ‖ version u32 LE (= 1)
//!   record        length u32 LE ‖ crc32(payload) u32 LE ‖ payload (1 ..= 4 MiB bytes)
//!   record        …
//! ```
//!
//! Payloads are opaque here (the consensus task writes borsh inputs). The task
//! calls [`Wal::append`] (buffered) for each input before processing it and
//! [`Wal::sync`] (flush and `fdatasync`) before any message it signed leaves the node.
//! After a block is committed, [`Wal::reset`] prunes the log by replacing it
//! atomically with a new one that holds only the first input of the next height
//! (written into a spare file beside it, `.<name>.spare`, and swapped in: see
//! [`Exchanger`]; the spare is never read).
//!
//! **Recovery** ([`Wal::open`]) reads records from the start and stops at the first
//! one that is not intact. What follows decides between a torn tail and corruption:
//!
//! | what is found at the first bad record                            | verdict           |
//! |-------------------------------------------------------------------|-------------------|
//! | fewer than 8 bytes left (a cut-short record header)               | torn: dropped     |
//! | a length that runs past the end of the file                       | torn: dropped     |
//! | a bad checksum, and nothing but zero bytes after the record       | torn: dropped     |
//! | only zero bytes from here to the end (a zero-filled tail)         | torn: dropped     |
//! | a zero length or a length above the cap, with non-zero bytes left | corruption        |
//! | a bad checksum with non-zero bytes after the record               | corruption        |
//!
//! A torn tail is what a crash during an unsynced append leaves (a prefix of the
//! written bytes, or zeros where the file system extended the file without its data),
//! so it is dropped and the file truncated to the last intact record; nothing dropped
//! was ever synced, so no signed message depended on it. Anything else means bytes the
//! node once synced are damaged, and the log refuses to open with [`WalError::Corrupt`],
//! whose message tells the operator how to recover. Empty payloads are refused on
//! append because an empty record would look like a zero-filled tail. The length field
//! has no checksum of its own: a length damaged so that it points past the end of the
//! file reads as a torn tail, which loses the records after it (the signer guard still
//! refuses any conflicting signature in that case).
//!
//! A write or sync error leaves the file in an unknown state (after a failed
//! `fdatasync`, the kernel may already have dropped the dirty pages), so the log then
//! refuses further use ([`WalError::Failed`]) until the node restarts and recovers it
//! from what is on disk.
//!
//! The log does not lock its file: one node owns a data directory because it holds the
//! RocksDB lock of its storage, which it opens first.

mod error;
#[cfg(test)]
mod tests;

use crate::durable::{replace_file, Exchanger};
pub use error::{Result, WalError};

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The first eight bytes of every consensus log.
pub const MAGIC: [u8; 8] = *b"ACCRDWAL";
/// The format version this node writes and reads.
pub const VERSION: u32 = 1;
/// Length of the file header: magic and version.
pub const HEADER_LEN: usize = 12;
/// Length of a record header: payload length and checksum.
pub const RECORD_HEADER_LEN: usize = 8;
/// Largest payload of one record: the largest block any chain may allow, with room
/// for the record's framing.
pub const MAX_RECORD_BYTES: usize = accord_types::codec::MAX_BLOCK_BYTES + 64 * 1024;
/// Permission bits of log files: the node's user only.
pub const WAL_FILE_MODE: u32 = 0o600;

/// Size of the append buffer.
const BUFFER_BYTES: usize = 64 * 1024;

/// What [`Wal::open`] found in an existing log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The intact records, in the order they were appended.
    pub records: Vec<Vec<u8>>,
    /// Bytes of a torn tail that were dropped (the file was truncated before them).
    pub torn_bytes: u64,
}

/// An open consensus log, positioned for appending.
#[derive(Debug)]
pub struct Wal {
    path: PathBuf,
    file: BufWriter<File>,
    /// Replaces the file on reset.
    exchanger: Exchanger,
    records: usize,
    failed: bool,
}

impl Wal {
    /// Opens the log at `path`, creating it if missing, and recovers its records: a torn
    /// tail is dropped and the file truncated to the last intact record; damage before
    /// that is [`WalError::Corrupt`].
    pub fn open(path: &Path) -> Result<(Self, Recovered)> {
        let bytes = match fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => return Err(io_error(path, "read", source)),
        };
        let (records, good_end, torn_bytes) = match &bytes {
            None => {
                replace_file(path, &file_header(), WAL_FILE_MODE)
                    .map_err(|source| io_error(path, "create", source))?;
                (Vec::new(), HEADER_LEN as u64, 0)
            }
            Some(bytes) => {
                let scan = scan(path, bytes)?;
                let torn = (bytes.len() as u64).saturating_sub(scan.good_end);
                if scan.good_end < HEADER_LEN as u64 {
                    // A header cut short while the file was being created.
                    replace_file(path, &file_header(), WAL_FILE_MODE)
                        .map_err(|source| io_error(path, "rewrite the header of", source))?;
                    (Vec::new(), HEADER_LEN as u64, torn)
                } else {
                    (scan.records, scan.good_end, torn)
                }
            }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .mode(WAL_FILE_MODE)
            .open(path)
            .map_err(|source| io_error(path, "open", source))?;
        let on_disk = file
            .metadata()
            .map_err(|source| io_error(path, "read the metadata of", source))?
            .len();
        if on_disk > good_end {
            file.set_len(good_end)
                .and_then(|()| file.sync_all())
                .map_err(|source| io_error(path, "truncate the torn tail of", source))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|source| io_error(path, "seek to the end of", source))?;
        let exchanger = Exchanger::new(path, WAL_FILE_MODE)
            .map_err(|source| io_error(path, "open the directory of", source))?;
        let wal = Self {
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(BUFFER_BYTES, file),
            exchanger,
            records: records.len(),
            failed: false,
        };
        Ok((
            wal,
            Recovered {
                records,
                torn_bytes,
            },
        ))
    }

    /// Appends one record (buffered: durable only after [`Wal::sync`]).
    pub fn append(&mut self, payload: &[u8]) -> Result<()> {
        self.usable()?;
        let header = record_header(payload)?;
        let written = self
            .file
            .write_all(&header)
            .and_then(|()| self.file.write_all(payload));
        self.guard(written, "append to")?;
        self.records = self.records.saturating_add(1);
        Ok(())
    }

    /// Writes every buffered record to the file and waits until the disk has it.
    pub fn sync(&mut self) -> Result<()> {
        self.usable()?;
        let synced = self
            .file
            .flush()
            .and_then(|()| self.file.get_ref().sync_data());
        self.guard(synced, "sync")
    }

    /// Prunes the log: replaces it atomically with a new log holding just `first` (the
    /// spare is written and synced, swapped with the log, and the directory synced).
    /// Records appended but not synced before are discarded with the old log.
    pub fn reset(&mut self, first: &[u8]) -> Result<()> {
        self.usable()?;
        let header = record_header(first)?;
        let mut contents = file_header();
        contents.reserve(header.len().saturating_add(first.len()));
        contents.extend_from_slice(&header);
        contents.extend_from_slice(first);
        let replaced = self.exchanger.replace(&contents).and_then(|mut file| {
            file.seek(SeekFrom::End(0))?;
            Ok(file)
        });
        let file = self.guard(replaced, "replace")?;
        let old = std::mem::replace(&mut self.file, BufWriter::with_capacity(BUFFER_BYTES, file));
        // The old log's unsynced buffer is dropped, not written.
        drop(old.into_parts());
        self.records = 1;
        Ok(())
    }

    /// Number of records in the log: recovered, appended since, or 1 after a reset.
    pub fn len(&self) -> usize {
        self.records
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn usable(&self) -> Result<()> {
        if self.failed {
            return Err(WalError::Failed {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// Marks the log failed if `result` is an error.
    fn guard<T>(&mut self, result: io::Result<T>, operation: &'static str) -> Result<T> {
        result.map_err(|source| {
            self.failed = true;
            io_error(&self.path, operation, source)
        })
    }
}

/// The file header of a new log.
fn file_header() -> Vec<u8> {
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header
}

/// The record header of `payload`, which must be non-empty and within the cap.
fn record_header(payload: &[u8]) -> Result<[u8; RECORD_HEADER_LEN]> {
    if payload.is_empty() {
        return Err(WalError::EmptyRecord);
    }
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&len| len as usize <= MAX_RECORD_BYTES)
        .ok_or(WalError::RecordTooLarge {
            len: payload.len(),
            max: MAX_RECORD_BYTES,
        })?;
    let mut header = [0u8; RECORD_HEADER_LEN];
    let (len_bytes, crc_bytes) = header.split_at_mut(4);
    len_bytes.copy_from_slice(&len.to_le_bytes());
    crc_bytes.copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    Ok(header)
}

fn io_error(path: &Path, operation: &'static str, source: io::Error) -> WalError {
    WalError::Io {
        path: path.to_path_buf(),
        operation,
        source,
    }
}

/// The intact records of a log file and where they end.
struct Scan {
    records: Vec<Vec<u8>>,
    /// Offset just past the last intact record (0 for a torn file header).
    good_end: u64,
}

/// Reads the records of `bytes`, the whole log file, following the recovery rules of
/// the module documentation.
fn scan(path: &Path, bytes: &[u8]) -> Result<Scan> {
    let corrupt = |offset: usize, reason: String| WalError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    let header = file_header();
    let Some((head, body)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        if header.starts_with(bytes) {
            return Ok(Scan {
                records: Vec::new(),
                good_end: 0,
            });
        }
        return Err(corrupt(
            0,
            format!(
                "the file is {} bytes long and does not start with the consensus log header",
                bytes.len()
            ),
        ));
    };
    let (magic, version) = head.split_at(MAGIC.len());
    if magic != MAGIC {
        return Err(corrupt(
            0,
            "the file does not start with the consensus log magic \"ACCRDWAL\"".to_owned(),
        ));
    }
    let version = u32::from_le_bytes(version.try_into().unwrap_or_default());
    if version != VERSION {
        return Err(WalError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: VERSION,
        });
    }

    let mut records = Vec::new();
    let mut rest = body;
    let mut offset = HEADER_LEN;
    while let Some((record_header, after_header)) = rest.split_first_chunk::<RECORD_HEADER_LEN>() {
        let (len_bytes, crc_bytes) = record_header.split_at(4);
        let len = u32::from_le_bytes(len_bytes.try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(crc_bytes.try_into().unwrap_or_default());
        if len == 0 || len > MAX_RECORD_BYTES {
            if all_zero(rest) {
                break; // a zero-filled tail
            }
            return Err(corrupt(
                offset,
                format!("record length {len} is outside 1..={MAX_RECORD_BYTES}"),
            ));
        }
        let Some((payload, after)) = after_header.split_at_checked(len) else {
            break; // the record runs past the end of the file
        };
        let computed = crc32fast::hash(payload);
        if computed != crc {
            if all_zero(after) {
                break; // the last record, cut short or never fully written
            }
            return Err(corrupt(
                offset,
                format!(
                    "checksum mismatch in a record of {len} bytes (stored {crc:08x}, \
                     computed {computed:08x}) with {} more bytes after it",
                    after.len()
                ),
            ));
        }
        records.push(payload.to_vec());
        offset = offset.saturating_add(RECORD_HEADER_LEN).saturating_add(len);
        rest = after;
    }
    Ok(Scan {
        records,
        good_end: offset as u64,
    })
}

fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}
