//! The pool's journal: every admitted transaction's bytes, appended to a file by a
//! thread of its own, so that a restarted node still holds what it accepted and keeps
//! the pool's promise (finalized, or answered with a reason).
//!
//! ```text
//!   RPC submit ─┐ append(bytes)           ┌──────── writer thread ─────────┐
//!   gossip ─────┼──── bounded channel ───►│ append: length-prefixed record │──► mempool.journal
//!   executor ───┘ rewrite(pool contents)  │ rewrite: temp file, fsync,     │
//!                 (every REWRITE_EVERY    │   rename, fsync the directory   │
//!                  blocks, and at start)  └────────────────────────────────┘
//! ```
//!
//! A record is a little-endian `u32` length and the transaction's encoding. Reading
//! stops at the first record that is cut short or over the cap (a torn tail after a
//! crash); what was read is admitted again like any transaction, so anything stale
//! (committed meanwhile, or no longer valid) is refused then and forgotten. Appends are
//! not synced one by one: a crash may lose the last ones, which a client then sees as
//! unknown; a graceful stop loses nothing.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use accord_types::codec::MAX_TRANSACTION_BYTES;
use tracing::{info, warn};

/// Log target of the journal.
const TARGET: &str = "accord::mempool";
/// Commands waiting for the writer; an append that finds the queue full is dropped
/// (with a warning): the transaction stays pooled, only its restart copy is lost.
const QUEUE: usize = 16_384;

enum Command {
    Append(Vec<u8>),
    Rewrite(Vec<Vec<u8>>),
}

/// A handle to the journal's writer; cloneable, cheap.
#[derive(Clone, Debug)]
pub struct Journal {
    commands: SyncSender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Append(bytes) => write!(f, "Append({} bytes)", bytes.len()),
            Self::Rewrite(txs) => write!(f, "Rewrite({} transactions)", txs.len()),
        }
    }
}

impl Journal {
    /// Reads the journal at `path` (none yet: nothing) and starts its writer thread.
    /// Returns the handle and the transactions read, in the order they were admitted.
    pub fn open(path: &Path) -> io::Result<(Self, Vec<Vec<u8>>)> {
        let saved = read(path)?;
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (commands, queue) = sync_channel(QUEUE);
        let path = path.to_owned();
        std::thread::Builder::new()
            .name("mempool-journal".into())
            .spawn(move || writer(&path, file, &queue))?;
        Ok((Self { commands }, saved))
    }

    /// Records an admitted transaction.
    pub fn append(&self, bytes: Vec<u8>) {
        self.send(Command::Append(bytes));
    }

    /// Replaces the journal's contents with `txs` (the pool's transactions).
    pub fn rewrite(&self, txs: Vec<Vec<u8>>) {
        self.send(Command::Rewrite(txs));
    }

    fn send(&self, command: Command) {
        match self.commands.try_send(command) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(command)) => {
                warn!(target: TARGET, ?command, "the mempool journal is behind; not recorded");
            }
        }
    }
}

/// Every complete record of the file at `path`.
pub fn read(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut file) => {
            file.read_to_end(&mut bytes)?;
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    }
    let mut out = Vec::new();
    let mut rest = bytes.as_slice();
    while let Some((head, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*head) as usize;
        if len == 0 || len > MAX_TRANSACTION_BYTES || tail.len() < len {
            if !rest.is_empty() {
                warn!(target: TARGET, path = %path.display(), bytes = rest.len(), "ignoring a torn or damaged end of the mempool journal");
            }
            break;
        }
        let (record, tail) = tail.split_at(len);
        out.push(record.to_vec());
        rest = tail;
    }
    Ok(out)
}

fn record(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "transaction too large"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(bytes)
}

/// Writes `txs` to a temporary file beside `path`, syncs it, and renames it over `path`.
fn replace(path: &Path, txs: &[Vec<u8>]) -> io::Result<File> {
    let temp: PathBuf = path.with_extension("journal.new");
    {
        let mut out = BufWriter::new(File::create(&temp)?);
        for tx in txs {
            record(&mut out, tx)?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(&temp, path)?;
    crate::durable::sync_dir(&crate::durable::parent_dir(path))?;
    OpenOptions::new().append(true).open(path)
}

fn writer(path: &Path, file: File, queue: &Receiver<Command>) {
    let mut out = BufWriter::new(file);
    let fail = |error: io::Error| {
        warn!(target: TARGET, path = %path.display(), %error, "the mempool journal cannot be written");
    };
    while let Ok(command) = queue.recv() {
        let mut next = Some(command);
        // Everything queued now, then one flush.
        while let Some(command) = next {
            match command {
                Command::Append(bytes) => {
                    if let Err(error) = record(&mut out, &bytes) {
                        fail(error);
                    }
                }
                Command::Rewrite(txs) => {
                    if let Err(error) = out.flush() {
                        fail(error);
                    }
                    match replace(path, &txs) {
                        Ok(file) => out = BufWriter::new(file),
                        Err(error) => fail(error),
                    }
                }
            }
            next = queue.try_recv().ok();
        }
        if let Err(error) = out.flush() {
            fail(error);
        }
    }
    // Every handle is gone: the node is stopping.
    match out.into_inner() {
        Ok(file) => {
            if let Err(error) = file.sync_all() {
                fail(error);
            }
        }
        Err(error) => fail(error.into_error()),
    }
    info!(target: TARGET, "mempool journal closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_for(path: &Path, want: &[Vec<u8>]) {
        for _ in 0..200 {
            if read(path).unwrap() == want {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the journal holds {:?}, not {want:?}", read(path).unwrap());
    }

    #[test]
    fn appends_survive_a_reopen_and_a_rewrite_replaces_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mempool.journal");
        let (journal, saved) = Journal::open(&path).unwrap();
        assert!(saved.is_empty());
        journal.append(b"first".to_vec());
        journal.append(b"second".to_vec());
        wait_for(&path, &[b"first".to_vec(), b"second".to_vec()]);
        drop(journal);

        let (journal, saved) = Journal::open(&path).unwrap();
        assert_eq!(saved, [b"first".to_vec(), b"second".to_vec()]);
        journal.rewrite(vec![b"kept".to_vec()]);
        journal.append(b"after".to_vec());
        wait_for(&path, &[b"kept".to_vec(), b"after".to_vec()]);
    }

    #[test]
    fn a_torn_or_damaged_end_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mempool.journal");
        let mut bytes = Vec::new();
        record(&mut bytes, b"whole").unwrap();
        let whole = bytes.len();
        record(&mut bytes, b"cut short").unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(read(&path).unwrap(), [b"whole".to_vec()]);
        // A length over the cap.
        let mut damaged = bytes[..whole].to_vec();
        damaged.extend_from_slice(&u32::MAX.to_le_bytes());
        damaged.extend_from_slice(b"xyz");
        std::fs::write(&path, damaged).unwrap();
        assert_eq!(read(&path).unwrap(), [b"whole".to_vec()]);
    }
}
