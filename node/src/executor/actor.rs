//! The executor's loop and the chain view it keeps.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use accord_consensus::CommittedBlock;
use accord_runtime::CheckContext;
use accord_types::governance::ValidatorSpec;
use accord_types::{CommitCertificate, Evidence, Hash, Height, ValidatorSet};
use anyhow::{Context, Result};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info};

use super::{BuildRequest, Command, ExecutorParts, Tip};
use crate::chain::{self, Checking, Executed, Parent, Proposing};
use crate::fault;
use crate::mempool::DroppedTx;
use crate::storage::RocksState;

/// Committed blocks kept for proposer selection.
const HISTORY: usize = accord_consensus::proposer::ABSENCE_WINDOW as usize;
/// The pool's journal is rewritten from its contents every this many blocks.
const JOURNAL_REWRITE_BLOCKS: u64 = 100;
/// Pooled transactions gossiped again after one commit, at most.
const MAX_REGOSSIP: usize = 256;
/// Room left in a block for its certificate and framing.
const BLOCK_OVERHEAD: usize = accord_types::codec::MAX_CERTIFICATE_BYTES + 64 * 1024;

struct Actor {
    parts: ExecutorParts,
    parent: Parent,
    validators: ValidatorSet,
    specs: Vec<ValidatorSpec>,
    parent_validators: ValidatorSet,
    history: VecDeque<CommittedBlock>,
}

/// Reads the head, reports it on `ready`, then serves commands until every handle is
/// dropped.
pub(super) fn run(
    parts: ExecutorParts,
    mut commands: mpsc::Receiver<Command>,
    ready: oneshot::Sender<Result<Tip>>,
) {
    let mut actor = match Actor::load(parts) {
        Ok(actor) => actor,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    if ready.send(Ok(actor.tip(false))).is_err() {
        return;
    }
    while let Some(command) = commands.blocking_recv() {
        match command {
            Command::Build { request, reply } => {
                let _ = reply.send(actor.build(request));
            }
            Command::Check { block, now, reply } => {
                let _ = reply.send(actor.check(&block, now));
            }
            Command::Commit {
                executed,
                certificate,
                reply,
            } => {
                let _ = reply.send(actor.commit(&executed, &certificate));
            }
        }
    }
    debug!(height = actor.parent.height.0, "executor stopped");
}

impl Actor {
    fn load(parts: ExecutorParts) -> Result<Self> {
        let storage = &parts.storage;
        let head = storage.head()?.context("the database has no genesis")?;
        let store = storage.state_store();
        let (validators, specs) = chain::validators_at(&store, head.height.saturating_add(1))?;
        // After block h, the state's current set is the one that decided h.
        let (parent_validators, _) = chain::validators_at(&store, head.height)?;
        let timestamp = match storage.header(head.height)? {
            Some(header) => header.timestamp,
            // The genesis has no header; the status holds the genesis time.
            None => parts.status.read().timestamp,
        };
        let mut history = VecDeque::new();
        let first = head.height.0.saturating_sub(HISTORY as u64).max(1);
        for h in first..=head.height.0 {
            if let Some(block) = storage.block(Height(h))? {
                history.push_back(CommittedBlock::from_block(&block));
            }
        }
        let actor = Self {
            parts,
            parent: Parent {
                height: head.height,
                hash: head.hash,
                timestamp,
            },
            validators,
            specs,
            parent_validators,
            history,
        };
        actor.publish_head();
        Ok(actor)
    }

    fn store(&self) -> RocksState {
        self.parts.storage.state_store()
    }

    fn tip(&self, set_changed: bool) -> Tip {
        Tip {
            parent: self.parent,
            validators: self.validators.clone(),
            specs: self.specs.clone(),
            set_changed,
            history: self.history.iter().cloned().collect(),
        }
    }

    fn publish_head(&self) {
        let mut status = self.parts.status.write();
        status.height = self.parent.height;
        status.hash = self.parent.hash;
        status.timestamp = self.parent.timestamp;
    }

    fn build(&mut self, request: BuildRequest) -> Result<Executed> {
        let store = self.store();
        let params = &self.parts.params;
        let max_bytes = usize::try_from(params.max_block_bytes)
            .unwrap_or(usize::MAX)
            .saturating_sub(BLOCK_OVERHEAD);
        let transactions =
            self.parts
                .mempool
                .lock()
                .reap(&store, params.max_block_txs as usize, max_bytes)?;
        let last_commit = if self.parent.height.0 == 0 {
            None
        } else {
            self.parts.storage.certificate(self.parent.height)?
        };
        // Evidence that does not verify against the set of its height is left out.
        let sets = self.evidence_sets(&request.evidence)?;
        let next = self.parent.height.saturating_add(1);
        let evidence = request
            .evidence
            .into_iter()
            .filter(|e| {
                let set = if e.height() == next {
                    Some(&self.validators)
                } else {
                    sets.get(&e.height())
                };
                set.is_some_and(|set| e.verify(&self.parts.chain_id, set).is_ok())
            })
            .take(chain::MAX_BLOCK_EVIDENCE)
            .collect();
        let executed = chain::build(
            &store,
            Proposing {
                chain_id: &self.parts.chain_id,
                parent: self.parent,
                proposer: request.proposer,
                validators: &self.validators,
                last_commit,
                now: request.now,
            },
            transactions,
            evidence,
        )?;
        Ok(executed)
    }

    fn check(
        &self,
        block: &accord_types::Block,
        now: Option<accord_types::Timestamp>,
    ) -> Result<Result<Executed, chain::BlockError>> {
        let sets = self.evidence_sets(&block.evidence)?;
        let checking = Checking {
            chain_id: &self.parts.chain_id,
            parent: self.parent,
            validators: &self.validators,
            parent_validators: &self.parent_validators,
            evidence_sets: &sets,
            now,
            limits: chain::BlockLimits::of(&self.parts.params),
        };
        // A transaction the pool holds had its signature checked at admission; the
        // block's copy has the same hash, so the same bytes.
        let pool = &self.parts.mempool;
        Ok(chain::check_known(
            &self.store(),
            checking,
            block,
            &|hash| pool.lock().contains(hash),
        ))
    }

    /// The validator sets of the earlier heights `evidence` is of (at most one read per
    /// height; a block holds at most 64 items).
    fn evidence_sets(&self, evidence: &[Evidence]) -> Result<BTreeMap<Height, ValidatorSet>> {
        let next = self.parent.height.saturating_add(1);
        let mut sets = BTreeMap::new();
        for height in chain::evidence_heights(next, evidence)
            .into_iter()
            .take(chain::MAX_BLOCK_EVIDENCE)
        {
            if let Some(set) = self.parts.storage.validator_set(height)? {
                sets.insert(height, set);
            }
        }
        Ok(sets)
    }

    /// Writes a committed block and moves the chain view, the pool and the status past
    /// it.
    fn commit(&mut self, executed: &Executed, certificate: &CommitCertificate) -> Result<Tip> {
        let block = &executed.block;
        anyhow::ensure!(
            block.header.height == self.parent.height.saturating_add(1)
                && block.header.parent_hash == self.parent.hash,
            "block {} at height {} does not extend the head {} at height {}",
            block.hash(),
            block.header.height.0,
            self.parent.hash,
            self.parent.height.0
        );
        fault::crash_point("before-commit");
        let started = Instant::now();
        self.parts
            .storage
            .commit_block(block, certificate, &executed.outcome)?;
        self.parts.metrics.commit_took(started.elapsed());
        fault::crash_point("after-commit");
        // Subscribers hear of the block only once it is durable; nobody listening is fine.
        let _ = self.parts.commits.send(accord_rpc::Committed {
            block: Arc::new(block.clone()),
            certificate: certificate.clone(),
            receipts: Arc::new(executed.outcome.receipts.clone()),
        });
        let height = block.header.height;
        info!(
            height = height.0,
            hash = %block.hash(),
            txs = block.transactions.len(),
            "committed"
        );
        self.parent = Parent {
            height,
            hash: block.hash(),
            timestamp: block.header.timestamp,
        };
        self.history.push_back(CommittedBlock::from_block(block));
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
        self.update_pool(block)?;
        self.parent_validators = self.validators.clone();
        let (validators, specs) = chain::validators_at(&self.store(), height.saturating_add(1))?;
        let changed = validators.hash() != self.validators.hash();
        if changed {
            info!(
                height = height.0 + 1,
                validators = validators.len(),
                "validator set changes"
            );
        }
        self.validators = validators;
        self.specs = specs;
        self.publish_head();
        Ok(self.tip(changed))
    }

    /// Drops what the block finalized or made invalid from the pool, records why for
    /// clients, and gossips again what is still waiting.
    fn update_pool(&mut self, block: &accord_types::Block) -> Result<()> {
        let height = block.header.height;
        let store = self.store();
        let committed: Vec<Hash> = block.transactions.iter().map(|t| t.hash()).collect();
        let ctx = CheckContext {
            chain_id: self.parts.chain_id.clone(),
            height: height.saturating_add(1),
            timestamp: block.header.timestamp,
        };
        let (dropped, again, kept) = {
            let mut pool = self.parts.mempool.lock();
            let dropped = pool.update(&store, &ctx, &committed);
            let again = pool.regossip(ctx.height.get(), MAX_REGOSSIP);
            // The journal only grows between rewrites.
            let kept = (height.0 % JOURNAL_REWRITE_BLOCKS == 0).then(|| pool.encoded());
            (dropped, again, kept)
        };
        if let Some(kept) = kept {
            self.parts.journal.rewrite(kept);
        }
        if !again.is_empty() {
            // Transactions accepted while the node had no peers, or whose copies were
            // lost, go out again until they are finalized or dropped.
            let _ = self.parts.regossip.try_send(again);
        }
        if !dropped.is_empty() {
            let mut log = self.parts.dropped.write();
            for d in dropped {
                log.insert(
                    d.hash,
                    DroppedTx {
                        code: d.code,
                        message: d.message,
                        height,
                    },
                );
            }
        }
        Ok(())
    }
}
