//! The executor: the one thread that runs blocks and writes them to the database.
//!
//! ```text
//!   consensus actor ──Build──────► reap the pool, build and execute a block ──► Executed
//!   (and block sync) ──Check─────► check and execute a block on the head's state ─► Executed | BlockError
//!                    ──Commit────► one synced RocksDB batch ─► subscribers, pool update,
//!                                  dropped answers, status head, allow list ─► Tip
//! ```
//!
//! Block execution, RocksDB's synced commits and the pool's re-check after a block are
//! blocking work; they run here, on a thread of the executor's own, never on a tokio
//! worker. The consensus actor awaits the answer of each command (it has nothing else
//! to do with the block meanwhile), so commands are handled strictly in order and the
//! executor's head is always the one the consensus actor last heard of in a [`Tip`].

mod actor;

use std::sync::Arc;
use std::thread;

use accord_consensus::CommittedBlock;
use accord_types::governance::ValidatorSpec;
use accord_types::params::ConsensusParams;
use accord_types::{Block, ChainId, CommitCertificate, Evidence, Height, PublicKey, Timestamp};
use anyhow::{anyhow, Context, Result};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::chain::{BlockError, Executed, Parent};
use crate::mempool::gossip::TxGossip;
use crate::mempool::{DroppedLog, Journal, Mempool};
use crate::metrics::Metrics;
use crate::status::SharedStatus;
use crate::storage::Storage;

/// Commands waiting for the executor, at most (the consensus actor awaits each, so one
/// or two is the norm).
const MAILBOX: usize = 16;

/// What the executor runs with.
pub struct ExecutorParts {
    /// The chain.
    pub chain_id: ChainId,
    /// Consensus parameters from the chain spec (block limits).
    pub params: ConsensusParams,
    /// The database.
    pub storage: Arc<Storage>,
    /// The transaction pool.
    pub mempool: Arc<Mutex<Mempool>>,
    /// The pool's journal.
    pub journal: Journal,
    /// Answers for dropped transactions.
    pub dropped: Arc<RwLock<DroppedLog>>,
    /// Announces every committed block once it is durable.
    pub commits: broadcast::Sender<accord_rpc::Committed>,
    /// The node's metrics.
    pub metrics: Arc<Metrics>,
    /// The status the RPC server reports; the executor moves its head.
    pub status: SharedStatus,
    /// Pooled transactions to gossip again after a commit (see [`regossip`]); a full
    /// channel skips them this time (the next commit offers them again).
    pub regossip: mpsc::Sender<Vec<Vec<u8>>>,
}

/// Queues the transactions the executor offers again for gossip, on the node's runtime.
pub fn regossip(gossip: TxGossip) -> mpsc::Sender<Vec<Vec<u8>>> {
    let (tx, mut rx) = mpsc::channel::<Vec<Vec<u8>>>(4);
    tokio::spawn(async move {
        while let Some(batch) = rx.recv().await {
            let offered = batch.len();
            let queued = batch
                .into_iter()
                .filter_map(|tx| gossip.offer(tx).then_some(()))
                .count();
            if queued < offered {
                tracing::debug!(
                    offered,
                    queued,
                    "pooled transactions not all gossiped again"
                );
            }
        }
    });
    tx
}

/// The chain as the last commit left it: what the next height is decided on.
#[derive(Debug, Clone)]
pub struct Tip {
    /// The last committed block.
    pub parent: Parent,
    /// The set deciding `parent.height + 1`.
    pub validators: accord_types::ValidatorSet,
    /// Its members' full descriptions (p2p keys and addresses).
    pub specs: Vec<ValidatorSpec>,
    /// Whether the set differs from the one that decided the parent.
    pub set_changed: bool,
    /// The last committed blocks, oldest first (for proposer selection).
    pub history: Vec<CommittedBlock>,
}

/// A block to build on the head.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The proposer (this validator).
    pub proposer: PublicKey,
    /// The time to stamp it with.
    pub now: Timestamp,
    /// Evidence to include, verified by the caller.
    pub evidence: Vec<Evidence>,
}

enum Command {
    Build {
        request: BuildRequest,
        reply: oneshot::Sender<Result<Executed>>,
    },
    Check {
        block: Box<Block>,
        now: Option<Timestamp>,
        reply: oneshot::Sender<Result<Result<Executed, BlockError>>>,
    },
    Commit {
        executed: Box<Executed>,
        certificate: Box<CommitCertificate>,
        reply: oneshot::Sender<Result<Tip>>,
    },
}

/// The executor's mailbox.
#[derive(Clone)]
pub struct Executor {
    commands: mpsc::Sender<Command>,
}

/// The executor's thread; joined after the consensus actor has stopped.
pub struct ExecutorThread(thread::JoinHandle<()>);

impl ExecutorThread {
    /// Waits for the thread to finish (every [`Executor`] handle must be dropped first).
    pub fn join(self) -> Result<()> {
        self.0
            .join()
            .map_err(|_| anyhow!("the executor thread panicked"))
    }
}

fn gone() -> anyhow::Error {
    anyhow!("the executor has stopped")
}

impl Executor {
    /// Starts the executor on its own thread; answers with the chain's tip once it has
    /// read it from the database.
    pub async fn spawn(parts: ExecutorParts) -> Result<(Self, Tip, ExecutorThread)> {
        let (commands, rx) = mpsc::channel(MAILBOX);
        let (ready, tip) = oneshot::channel();
        let handle = thread::Builder::new()
            .name("executor".into())
            .spawn(move || actor::run(parts, rx, ready))
            .context("starting the executor thread")?;
        let thread = ExecutorThread(handle);
        match tip.await {
            Ok(Ok(tip)) => Ok((Self { commands }, tip, thread)),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => Err(thread.join().err().unwrap_or_else(gone)),
        }
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())
    }

    /// Reaps the pool and builds and executes a block on the head.
    pub async fn build(&self, request: BuildRequest) -> Result<Executed> {
        self.ask(|reply| Command::Build { request, reply }).await?
    }

    /// Checks a block extending the head and executes it; `now` bounds its timestamp
    /// (`None` for a block a quorum has already decided). The outer error is the
    /// executor's; the inner one says what is wrong with the block, or that the state
    /// could not be read.
    pub async fn check(
        &self,
        block: Block,
        now: Option<Timestamp>,
    ) -> Result<Result<Executed, BlockError>> {
        self.ask(|reply| Command::Check {
            block: Box::new(block),
            now,
            reply,
        })
        .await?
    }

    /// Commits an executed block with its certificate and answers with the new tip.
    pub async fn commit(&self, executed: Executed, certificate: CommitCertificate) -> Result<Tip> {
        self.ask(|reply| Command::Commit {
            executed: Box::new(executed),
            certificate: Box::new(certificate),
            reply,
        })
        .await?
    }
}

impl Tip {
    /// The next height.
    pub fn next(&self) -> Height {
        self.parent.height.saturating_add(1)
    }
}

#[cfg(test)]
mod tests;
