//! The recorder: the thread ("consensus-log") that owns the consensus log and the
//! signer guard, so their writes and `fsync`s never run on a tokio worker.
//!
//! ```text
//!   consensus task ──Append(record)──────────────► log buffer            (not awaited)
//!                  ──Reset(first)────────────────► replace the log, sync ─► done
//!                  ──Release(h, r, step, hash)───► sync the log ─► guard records, syncs ─► Approval
//!                  ──Sync────────────────────────► sync the log ─► done
//! ```
//!
//! Commands travel over one channel and are carried out in the order sent. Appends
//! are not awaited: an appended record is durable only at the next sync anyway, and
//! every sync comes after it in the channel. A release syncs the log and then has the
//! guard record the message, so when it answers `Signed` the inputs that led to the
//! message and the message itself are on disk; only then does the task publish it.
//!
//! A failed append is kept and answered to the next awaited command (the log refuses
//! further use after a failed write, [`WalError::Failed`]), and the consensus task
//! stops the node on it, as it stops on any failed write of the log.

use std::thread;

use accord_types::{Hash, Height, Round};
use anyhow::{anyhow, Context, Result};
use tokio::sync::{mpsc, oneshot};

use crate::signer::{self, Approval, SignerGuard, Step};
use crate::wal::{Wal, WalError};

/// Commands waiting for the thread, at most. Appends are the only ones not awaited;
/// a full mailbox makes the consensus task wait for the disk.
const MAILBOX: usize = 64;

/// The guard's answer to a release; the outer error is the log's.
pub(super) type Released = std::result::Result<signer::Result<Approval>, WalError>;

enum Command {
    Append(Vec<u8>),
    Reset(Vec<u8>, oneshot::Sender<std::result::Result<(), WalError>>),
    Sync(oneshot::Sender<std::result::Result<(), WalError>>),
    Release {
        height: Height,
        round: Round,
        step: Step,
        hash: Hash,
        reply: oneshot::Sender<Released>,
    },
}

/// The consensus task's handle on the recorder thread.
pub(super) struct Recorder {
    commands: mpsc::Sender<Command>,
}

impl Recorder {
    /// Starts the thread, which owns `wal` and `signer` until the handle is dropped.
    pub(super) fn spawn(wal: Wal, signer: SignerGuard) -> Result<Self> {
        let (commands, rx) = mpsc::channel(MAILBOX);
        thread::Builder::new()
            .name("consensus-log".into())
            .spawn(move || Thread { wal, signer }.run(rx))
            .context("starting the consensus log's thread")?;
        Ok(Self { commands })
    }

    /// Appends a record to the log (durable at the next sync, reset or release).
    pub(super) async fn append(&self, record: Vec<u8>) -> Result<()> {
        self.send(Command::Append(record)).await
    }

    /// Replaces the log with one holding just `first`, and waits until it is on disk.
    pub(super) async fn reset(&self, first: Vec<u8>) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Reset(first, reply)).await?;
        Ok(Self::answer(answer).await??)
    }

    /// Waits until every record appended so far is on disk.
    pub(super) async fn sync(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Sync(reply)).await?;
        Ok(Self::answer(answer).await??)
    }

    /// Syncs the log, then asks the guard to record a signed message; the answer is
    /// the guard's (a failure of the log is the outer error).
    pub(super) async fn release(
        &self,
        height: Height,
        round: Round,
        step: Step,
        hash: Hash,
    ) -> Result<signer::Result<Approval>> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Release {
            height,
            round,
            step,
            hash,
            reply,
        })
        .await?;
        Ok(Self::answer(answer).await??)
    }

    async fn send(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .await
            .map_err(|_| anyhow!("the consensus log's thread stopped"))
    }

    async fn answer<T>(answer: oneshot::Receiver<T>) -> Result<T> {
        answer
            .await
            .map_err(|_| anyhow!("the consensus log's thread stopped"))
    }
}

struct Thread {
    wal: Wal,
    signer: SignerGuard,
}

impl Thread {
    fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        // The first append that failed, answered to the next awaited command.
        let mut failed: Option<WalError> = None;
        while let Some(command) = commands.blocking_recv() {
            match command {
                Command::Append(record) => {
                    if failed.is_none() {
                        failed = self.wal.append(&record).err();
                    }
                }
                Command::Reset(first, reply) => {
                    let done = take(&mut failed).and_then(|()| self.wal.reset(&first));
                    let _ = reply.send(done);
                }
                Command::Sync(reply) => {
                    let done = take(&mut failed).and_then(|()| self.wal.sync());
                    let _ = reply.send(done);
                }
                Command::Release {
                    height,
                    round,
                    step,
                    hash,
                    reply,
                } => {
                    let done = take(&mut failed)
                        .and_then(|()| self.wal.sync())
                        .map(|()| self.signer.approve(height, round, step, hash));
                    let _ = reply.send(done);
                }
            }
        }
    }
}

fn take(failed: &mut Option<WalError>) -> std::result::Result<(), WalError> {
    failed.take().map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::SignerError;

    fn hash(byte: u8) -> Hash {
        Hash::from_bytes([byte; 32])
    }

    fn open(dir: &tempfile::TempDir) -> Recorder {
        let (wal, _) = Wal::open(&dir.path().join("consensus.wal")).unwrap();
        let signer = SignerGuard::open(&dir.path().join("signer-state.json")).unwrap();
        Recorder::spawn(wal, signer).unwrap()
    }

    #[tokio::test]
    async fn records_appended_before_a_release_are_on_disk_when_it_answers() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = open(&dir);
        recorder.reset(b"start".to_vec()).await.unwrap();
        recorder.append(b"one".to_vec()).await.unwrap();
        recorder.append(b"two".to_vec()).await.unwrap();
        let approval = recorder
            .release(Height(1), Round(0), Step::Prevote, hash(1))
            .await
            .unwrap();
        assert!(matches!(approval, Ok(Approval::Signed)));
        // Read back while the thread still holds the log: the sync made it durable.
        let (_, recovered) = Wal::open(&dir.path().join("consensus.wal")).unwrap();
        assert_eq!(
            recovered.records,
            vec![b"start".to_vec(), b"one".to_vec(), b"two".to_vec()]
        );
        let guard = SignerGuard::open(&dir.path().join("signer-state.json")).unwrap();
        assert_eq!(guard.last_signed().map(|l| l.height), Some(Height(1)));
    }

    #[tokio::test]
    async fn the_guard_answers_through_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = open(&dir);
        let first = recorder
            .release(Height(3), Round(1), Step::Precommit, hash(1))
            .await
            .unwrap();
        assert!(matches!(first, Ok(Approval::Signed)));
        let again = recorder
            .release(Height(3), Round(1), Step::Precommit, hash(1))
            .await
            .unwrap();
        assert!(matches!(again, Ok(Approval::Repeat)));
        let other = recorder
            .release(Height(3), Round(1), Step::Precommit, hash(2))
            .await
            .unwrap();
        assert!(
            matches!(other, Err(ref e) if e.is_double_sign()),
            "{other:?}"
        );
        let back = recorder
            .release(Height(2), Round(0), Step::Prevote, hash(3))
            .await
            .unwrap();
        assert!(
            matches!(back, Err(SignerError::DoubleSign { .. })),
            "{back:?}"
        );
    }

    #[tokio::test]
    async fn a_failed_append_is_answered_to_the_next_awaited_command() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = open(&dir);
        // An empty record is refused by the log; nothing waits for the append itself.
        recorder.append(Vec::new()).await.unwrap();
        let error = recorder.sync().await.unwrap_err();
        assert!(error.downcast_ref::<WalError>().is_some(), "{error:#}");
        // The failure is answered once; the log itself was not damaged by it.
        recorder.sync().await.unwrap();
        let released = recorder
            .release(Height(1), Round(0), Step::Prevote, hash(1))
            .await
            .unwrap();
        assert!(matches!(released, Ok(Approval::Signed)));
    }

    #[tokio::test]
    async fn a_release_after_a_failed_append_is_refused_and_not_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = open(&dir);
        recorder.append(Vec::new()).await.unwrap();
        assert!(recorder
            .release(Height(1), Round(0), Step::Prevote, hash(1))
            .await
            .is_err());
        drop(recorder);
        let guard = SignerGuard::open(&dir.path().join("signer-state.json")).unwrap();
        assert!(guard.last_signed().is_none());
    }
}
