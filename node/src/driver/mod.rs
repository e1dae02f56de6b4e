//! The consensus driver: the task that feeds the consensus engine its inputs and carries
//! out its outputs, and that executes, commits and serves blocks.
//!
//! ```text
//!   p2p gossip ──► verify signature ──► report to gossip (forward or not)
//!        │                                   │
//!        ▼                                   ▼
//!   consensus log (append) ──► Engine::process ──► outputs
//!                                                   │ Broadcast: signer guard (synced) ─► log sync ─► publish
//!                                                   │ ScheduleTimeout: tokio timer ─► TimeoutElapsed
//!                                                   │ RequestValue: reap pool ─► build + execute ─► ProposeValue
//!                                                   │ RequestValidation: (fetch by hash) ─► check + execute ─► Validity
//!                                                   │ Decide: commit pause ─► one synced RocksDB batch ─► next height
//!                                                   │ Requeue: back into the log as an input
//! ```
//!
//! Every input is appended to the consensus log before the engine sees it, and the log
//! is synced before any message this validator signed leaves the node; the signer
//! guard's own record is synced before that. On restart the log is replayed into a
//! fresh engine, which reaches the same state (the engine is a deterministic function
//! of its inputs); blocks that inputs refer to by hash are in the log too. The log is
//! pruned when a height is committed: it then holds only the next height's start.
//!
//! A node that is behind (it sees peers at a greater height) stops taking part and
//! catches up through block sync: ranges of blocks with their commit certificates,
//! fetched from several peers at once, each certificate verified against the validator
//! set of its height and each block executed and committed in order; then it starts
//! the next height.

pub mod candidates;
pub mod sync;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use accord_consensus::{
    CommittedBlock, Decision, Engine, EngineConfig, Input, Message, Output, SignatureCheck,
    TimeoutStep, Validity,
};
use accord_runtime::CheckContext;
use accord_types::governance::ValidatorSpec;
use accord_types::params::ConsensusParams;
use accord_types::{
    Block, ChainId, CommitCertificate, ErrorCode, Evidence, Hash, Height, Keypair, PublicKey,
    Round, Timestamp, ValidatorSet,
};
use anyhow::{Context, Result};
use futures::StreamExt;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, watch};
use tracing::{debug, info, warn};

use crate::chain::{self, Checking, Executed, Parent, Proposing};
use crate::fault;
use crate::mempool::Mempool;
use crate::p2p::{NetEvent, P2pHandle, SyncRequest, SyncResponse, Topic, Verdict};
use crate::signer::{Approval, SignerGuard, Step};
use crate::storage::Storage;
use crate::wal::Wal;
use candidates::{Candidates, Offer};
pub use sync::SYNC_RANGE;
use sync::{SyncPeers, SYNC_PARALLEL};
use wire::{ConsensusWire, WalEntry};

/// How many finalized blocks proposer selection looks back on.
const HISTORY: usize = accord_consensus::proposer::ABSENCE_WINDOW as usize;
/// Dropped-transaction answers kept for clients.
const MAX_DROPPED: usize = 100_000;
/// A height that has not decided after this long makes the node ask whether it is behind.
const STALL: Duration = Duration::from_secs(4);
/// How long a sync request may take before the next peer is asked.
const SYNC_TIMEOUT: Duration = Duration::from_secs(3);
/// Blocks between rewrites of the mempool journal down to the pool's contents.
const JOURNAL_REWRITE_BLOCKS: u64 = 100;
/// Pooled transactions gossiped again after one block, at most.
const MAX_REGOSSIP: usize = 256;
/// How often the same consensus message is forwarded again.
const REFORWARD: Duration = Duration::from_secs(2);
/// Consensus messages remembered per height (to drop repeats).
const MAX_SEEN: usize = 65_536;
/// Heights past the next whose consensus messages are taken (the engine holds the
/// next height's; anything further is of no use yet and is neither logged nor
/// forwarded).
const HEIGHTS_AHEAD: u64 = 1;
/// Consensus messages of later rounds or of the next height logged per height, at most.
const MAX_FAR_MESSAGES: usize = 10_000;

pub use accord_rpc::types::NodeStatus;

/// The status, shared with the RPC server.
pub type SharedStatus = Arc<RwLock<NodeStatus>>;

/// Connected peers (p2p keys) and the height each reported last, shared with the RPC
/// server.
pub type SharedPeers = Arc<RwLock<Vec<(PublicKey, Option<Height>)>>>;

/// Why an accepted transaction left the pool without being finalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedTx {
    /// The error a client can act on.
    pub code: ErrorCode,
    /// Why.
    pub message: String,
    /// The height after which it was dropped.
    pub height: Height,
}

/// Answers for dropped transactions, by hash, shared with the RPC server.
#[derive(Debug, Default)]
pub struct DroppedLog {
    entries: BTreeMap<Hash, DroppedTx>,
    order: VecDeque<Hash>,
}

impl DroppedLog {
    /// Records an answer, forgetting the oldest beyond the cap.
    pub fn insert(&mut self, hash: Hash, dropped: DroppedTx) {
        if self.entries.insert(hash, dropped).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > MAX_DROPPED {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
    }

    /// The answer for a transaction, if it was dropped.
    pub fn get(&self, hash: &Hash) -> Option<&DroppedTx> {
        self.entries.get(hash)
    }
}

/// Everything the driver runs with.
pub struct DriverParts {
    /// The chain.
    pub chain_id: ChainId,
    /// Consensus parameters from the chain spec.
    pub params: ConsensusParams,
    /// This validator's consensus key.
    pub keypair: Keypair,
    /// The database.
    pub storage: Arc<Storage>,
    /// The consensus log, opened.
    pub wal: Wal,
    /// The records recovered from it.
    pub recovered: Vec<Vec<u8>>,
    /// The signer guard.
    pub signer: SignerGuard,
    /// The network.
    pub p2p: P2pHandle,
    /// Events from the network.
    pub net_events: mpsc::Receiver<NetEvent>,
    /// The transaction pool.
    pub mempool: Arc<Mutex<Mempool>>,
    /// The status the RPC server reports.
    pub status: SharedStatus,
    /// Answers for dropped transactions.
    pub dropped: Arc<RwLock<DroppedLog>>,
    /// Connected peers and their heights.
    pub peers: SharedPeers,
    /// Announces every committed block once it is durable (RPC subscriptions).
    pub commits: broadcast::Sender<accord_rpc::Committed>,
    /// The node's metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Becomes `true` when the node shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// The p2p layer's cap on one sync response, in bytes.
    pub sync_response_bytes: usize,
    /// The mempool's journal.
    pub journal: crate::mempool::Journal,
}

enum Timer {
    Engine {
        height: Height,
        round: Round,
        step: TimeoutStep,
    },
    CommitPause(Height),
}

struct Driver {
    chain_id: ChainId,
    params: ConsensusParams,
    key: PublicKey,
    storage: Arc<Storage>,
    wal: Wal,
    signer: SignerGuard,
    p2p: P2pHandle,
    mempool: Arc<Mutex<Mempool>>,
    status: SharedStatus,
    dropped: Arc<RwLock<DroppedLog>>,
    commits: broadcast::Sender<accord_rpc::Committed>,
    metrics: Arc<crate::metrics::Metrics>,
    engine: Engine,
    /// The last committed block.
    parent: Parent,
    /// The set deciding `parent.height + 1`, and the one that decided the parent.
    validators: ValidatorSet,
    specs: Vec<ValidatorSpec>,
    parent_validators: ValidatorSet,
    history: VecDeque<CommittedBlock>,
    /// Blocks proposed for the current height, by hash.
    candidates: Candidates,
    /// Evidence to include in a block this node proposes.
    evidence: Vec<Evidence>,
    decided: Option<Decision>,
    queue: VecDeque<Input>,
    replaying: bool,
    /// Requests the log may answer during replay.
    pending_value: Option<(Height, Round)>,
    pending_validation: BTreeSet<Hash>,
    height_started: Instant,
    timers: mpsc::UnboundedSender<Timer>,
    fetched: mpsc::Sender<Block>,
    /// Last stamp put on a gossiped consensus message.
    stamp: u64,
    /// Peers that claimed blocks they did not deliver, and until when they are passed over.
    sync_peers: SyncPeers,
    /// Bytes of blocks and certificates one sync answer may hold.
    sync_budget: usize,
    /// Consensus messages seen at this height, by the hash of their bytes, with when
    /// they were last forwarded.
    seen: BTreeMap<Hash, Instant>,
    /// The mempool's journal.
    journal: crate::mempool::Journal,
    /// Consensus messages of later rounds or the next height logged at this height.
    far_messages: usize,
    /// Whether the signer guard failed to record the last message (the node then
    /// reports itself halted: it does not vote).
    cannot_sign: bool,
    /// The validators' p2p keys and addresses the allow list must follow.
    allow_list: watch::Sender<Vec<(PublicKey, libp2p::Multiaddr)>>,
}

fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Timestamp(ms)
}

fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Accept => "accepted",
        Verdict::Ignore => "ignored",
        Verdict::Reject => "rejected",
    }
}

fn message_hash(message: &Message) -> Hash {
    Hash::from_bytes(*blake3::hash(&accord_types::codec::encode(message)).as_bytes())
}

/// Runs the driver until shutdown.
pub async fn run(parts: DriverParts) -> Result<()> {
    let DriverParts {
        chain_id,
        params,
        keypair,
        storage,
        wal,
        recovered,
        signer,
        p2p,
        mut net_events,
        mempool,
        status,
        dropped,
        peers,
        commits,
        metrics,
        mut shutdown,
        sync_response_bytes,
        journal,
    } = parts;
    let head = storage.head()?.context("the database has no genesis")?;
    let (timers, mut timer_rx) = mpsc::unbounded_channel();
    let (fetched, mut fetched_rx) = mpsc::channel(16);
    let store = storage.state_store();
    let (validators, specs) = chain::validators_at(&store, head.height.saturating_add(1))?;
    // After block h, the state's current set is the one that decided h.
    let (parent_validators, _) = chain::validators_at(&store, head.height)?;
    let parent_timestamp = match storage.header(head.height)? {
        Some(header) => header.timestamp,
        None => status.read().timestamp,
    };
    let mut history = VecDeque::new();
    let first = head.height.0.saturating_sub(HISTORY as u64).max(1);
    for h in first..=head.height.0 {
        if let Some(block) = storage.block(Height(h))? {
            history.push_back(CommittedBlock::from_block(&block));
        }
    }
    let key = keypair.public();
    let engine = Engine::new(EngineConfig {
        chain_id: chain_id.clone(),
        params: params.clone(),
        keypair: Some(keypair),
    });
    let allow_list = follow_allow_list(p2p.clone());
    let mut driver = Driver {
        chain_id,
        params,
        key,
        storage,
        wal,
        signer,
        p2p,
        mempool,
        status,
        dropped,
        commits,
        metrics,
        engine,
        parent: Parent {
            height: head.height,
            hash: head.hash,
            timestamp: parent_timestamp,
        },
        validators,
        specs,
        parent_validators,
        history,
        candidates: Candidates::new(head.height.saturating_add(1)),
        evidence: Vec::new(),
        decided: None,
        queue: VecDeque::new(),
        replaying: false,
        pending_value: None,
        pending_validation: BTreeSet::new(),
        height_started: Instant::now(),
        timers,
        fetched,
        stamp: 0,
        sync_peers: SyncPeers::default(),
        cannot_sign: false,
        // Room for the response's own framing.
        sync_budget: sync_response_bytes.saturating_sub(64 * 1024),
        seen: BTreeMap::new(),
        journal,
        far_messages: 0,
        allow_list,
    };
    driver.publish_status();
    // The set at the head may differ from the spec's (a validator-set change on chain).
    driver.follow_validator_set();
    driver.recover(recovered).await?;
    let mut peer_heights = spawn_status_poller(driver.p2p.clone(), driver.status.clone(), peers);
    loop {
        while let Some(input) = driver.queue.pop_front() {
            driver.feed(input).await?;
        }
        tokio::select! {
            biased;
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            Some(timer) = timer_rx.recv() => driver.on_timer(timer).await?,
            Some(event) = net_events.recv() => driver.on_net(event).await?,
            Some(block) = fetched_rx.recv() => driver.on_fetched(block).await?,
            Some(heights) = peer_heights.recv() => driver.sync_if_behind(heights).await?,
        }
    }
    // A decided block in its commit pause is committed before the node stops.
    if driver.decided.is_some() {
        driver.commit().await?;
    }
    driver.wal.sync()?;
    info!(height = driver.parent.height.0, "consensus driver stopped");
    Ok(())
}

/// Starts the task that has the p2p allow list and dial schedule follow the latest
/// list sent on the returned channel.
fn follow_allow_list(p2p: P2pHandle) -> watch::Sender<Vec<(PublicKey, libp2p::Multiaddr)>> {
    let (tx, mut rx) = watch::channel(Vec::new());
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let peers = rx.borrow_and_update().clone();
            if let Err(error) = p2p.set_validators(peers).await {
                warn!(%error, "the p2p allow list could not follow the validator set");
            }
        }
    });
    tx
}

/// Asks every peer for its height once a second, in the background, and sends the
/// answers to the driver (a slow peer never holds the driver up).
fn spawn_status_poller(
    p2p: P2pHandle,
    status: SharedStatus,
    shared_peers: SharedPeers,
) -> mpsc::Receiver<Vec<(PublicKey, Height)>> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let peers = p2p.peers().await;
            status.write().peers = peers.len();
            let peers_now = peers.clone();
            let answers = futures::future::join_all(peers.into_iter().map(|peer| {
                let p2p = p2p.clone();
                async move {
                    let response = tokio::time::timeout(
                        Duration::from_secs(2),
                        p2p.request(peer, SyncRequest::Status),
                    )
                    .await;
                    match response {
                        Ok(Ok(SyncResponse::Status { height, .. })) => Some((peer, height)),
                        _ => None,
                    }
                }
            }))
            .await;
            let heights: Vec<(PublicKey, Height)> = answers.into_iter().flatten().collect();
            *shared_peers.write() = peers_now
                .iter()
                .map(|p| (*p, heights.iter().find(|(k, _)| k == p).map(|(_, h)| *h)))
                .collect();
            // A full channel means the driver is busy; the next round will do.
            match tx.try_send(heights) {
                Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
    });
    rx
}

impl Driver {
    fn store(&self) -> crate::storage::RocksState {
        self.storage.state_store()
    }

    fn publish_status(&self) {
        let mut status = self.status.write();
        status.height = self.parent.height;
        status.hash = self.parent.hash;
        status.timestamp = self.parent.timestamp;
        status.round = self.engine.state().map_or(Round(0), |s| s.round);
    }

    /// Replays the consensus log of the current height, or starts the height afresh.
    async fn recover(&mut self, records: Vec<Vec<u8>>) -> Result<()> {
        let next = self.parent.height.saturating_add(1);
        let mut entries = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            let entry = WalEntry::decode(record).with_context(|| {
                format!("consensus log record {index} does not decode; the log is corrupt")
            })?;
            entries.push(entry);
        }
        let current = matches!(
            entries.first(),
            Some(WalEntry::Input(Input::StartHeight { height, .. })) if *height == next
        );
        if !current {
            if !entries.is_empty() {
                info!(
                    records = entries.len(),
                    "consensus log is of an earlier height; starting height {} afresh", next.0
                );
            }
            return self.start_height().await;
        }
        info!(
            records = entries.len(),
            height = next.0,
            "replaying the consensus log"
        );
        self.replaying = true;
        for entry in entries {
            match entry {
                WalEntry::Block(block) => self.candidates.restore(block),
                WalEntry::Input(input) => self.process(input).await?,
            }
        }
        self.replaying = false;
        // Requests the log did not answer (the node stopped before it could).
        if let Some((height, round)) = self.pending_value.take() {
            self.propose(height, round).await?;
        }
        for hash in std::mem::take(&mut self.pending_validation) {
            self.validate(hash).await?;
        }
        self.height_started = Instant::now();
        Ok(())
    }

    async fn start_height(&mut self) -> Result<()> {
        let input = Input::StartHeight {
            height: self.parent.height.saturating_add(1),
            validators: self.validators.clone(),
            history: self.history.iter().cloned().collect(),
        };
        self.wal.reset(&WalEntry::Input(input.clone()).encode())?;
        fault::crash_point("after-log-reset");
        self.height_started = Instant::now();
        self.seen.clear();
        self.far_messages = 0;
        self.process(input).await
    }

    /// Logs an input, then processes it.
    async fn feed(&mut self, input: Input) -> Result<()> {
        self.wal.append(&WalEntry::Input(input.clone()).encode())?;
        self.process(input).await
    }

    async fn process(&mut self, input: Input) -> Result<()> {
        match &input {
            Input::ProposeValue { height, round, .. }
                if self.pending_value == Some((*height, *round)) =>
            {
                self.pending_value = None;
            }
            Input::Validity { block_hash, .. } => {
                self.pending_validation.remove(block_hash);
            }
            _ => {}
        }
        let outputs = match self.engine.process(input) {
            Ok(outputs) => outputs,
            Err(error) => {
                debug!(%error, "consensus input refused");
                return Ok(());
            }
        };
        for output in outputs {
            self.on_output(output).await?;
        }
        let round = self.engine.state().map_or(Round(0), |s| s.round);
        if self.status.read().round != round {
            self.status.write().round = round;
        }
        Ok(())
    }

    async fn on_output(&mut self, output: Output) -> Result<()> {
        match output {
            Output::Broadcast(message) => self.release(message).await?,
            Output::Relay(message) => self.send(message).await,
            Output::ScheduleTimeout {
                height,
                round,
                step,
                duration_ms,
            } => self.schedule(
                Duration::from_millis(duration_ms),
                Timer::Engine {
                    height,
                    round,
                    step,
                },
            ),
            Output::RequestValue { height, round } => {
                if self.replaying {
                    self.pending_value = Some((height, round));
                } else {
                    self.propose(height, round).await?;
                }
            }
            Output::RequestValidation { block_hash, .. } => {
                if self.replaying {
                    self.pending_validation.insert(block_hash);
                } else {
                    self.validate(block_hash).await?;
                }
            }
            Output::Decide(decision) => {
                info!(
                    height = decision.height.0,
                    round = decision.round.0,
                    block = %decision.block_hash,
                    "decided"
                );
                let height = decision.height;
                self.decided = Some(decision);
                self.schedule(
                    Duration::from_millis(self.params.timeouts.commit_ms),
                    Timer::CommitPause(height),
                );
            }
            Output::Evidence(evidence) => {
                warn!(offender = %evidence.offender(), height = evidence.height().0, "equivocation");
                self.add_evidence(evidence.clone());
                self.publish_consensus(&ConsensusWire::Evidence(evidence))
                    .await;
            }
            Output::ConflictingProposals { first, second } => {
                warn!(
                    proposer = %first.proposer,
                    height = first.height.0,
                    round = first.round.0,
                    first = %first.block_hash,
                    second = %second.block_hash,
                    "a proposer signed two different proposals"
                );
            }
            Output::Requeue(message) => {
                self.queue
                    .push_back(Input::received(message, SignatureCheck::Verified));
            }
        }
        Ok(())
    }

    /// Releases a message this validator signed, once the signer guard agrees and the
    /// log is on disk.
    async fn release(&mut self, message: Message) -> Result<()> {
        let (height, round, step) = match &message {
            Message::Proposal(p) => (p.height, p.round, Step::Proposal),
            Message::Vote(v) => (
                v.height,
                v.round,
                match v.vote_type {
                    accord_types::consensus::VoteType::Prevote => Step::Prevote,
                    accord_types::consensus::VoteType::Precommit => Step::Precommit,
                },
            ),
        };
        // The inputs that led to this message are on disk first, so a replay after a
        // crash reproduces it; then the guard records it before it leaves.
        self.wal.sync()?;
        match self
            .signer
            .approve(height, round, step, message_hash(&message))
        {
            Ok(Approval::Signed | Approval::Repeat) => {
                if self.cannot_sign {
                    self.cannot_sign = false;
                    self.status.write().halted = false;
                    info!("the signer guard records signatures again; voting resumes");
                }
            }
            Err(error) if error.is_double_sign() => {
                warn!(%error, "signed message withheld");
                return Ok(());
            }
            Err(error) => {
                // The validator cannot vote until the guard can record what it signs:
                // say so in health and metrics, and try again with the next message.
                if !self.cannot_sign {
                    self.cannot_sign = true;
                    self.status.write().halted = true;
                }
                tracing::error!(%error, "signed message withheld: the signer guard cannot record it");
                return Ok(());
            }
        }
        self.send(message).await;
        Ok(())
    }

    async fn send(&mut self, message: Message) {
        let wire = match message {
            Message::Proposal(proposal) => {
                let block = self.candidates.block(&proposal.block_hash).cloned();
                ConsensusWire::Proposal { proposal, block }
            }
            Message::Vote(vote) => ConsensusWire::Vote(vote),
        };
        self.publish_consensus(&wire).await;
    }

    /// Gossips a consensus message with a fresh stamp (see [`ConsensusWire::encode_stamped`]).
    async fn publish_consensus(&mut self, wire: &ConsensusWire) {
        self.stamp = self
            .stamp
            .max(now().0.saturating_mul(1000))
            .saturating_add(1);
        let data = wire.encode_stamped(self.stamp);
        self.publish(Topic::Consensus, data).await;
    }

    async fn publish(&self, topic: Topic, data: Vec<u8>) {
        if let Err(error) = self.p2p.publish(topic, data).await {
            debug!(%error, "not published");
        }
    }

    fn schedule(&self, after: Duration, timer: Timer) {
        let timers = self.timers.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = timers.send(timer);
        });
    }

    fn add_evidence(&mut self, evidence: Evidence) {
        let hash = evidence.hash();
        if self.evidence.len() < chain::MAX_BLOCK_EVIDENCE
            && !self.evidence.iter().any(|e| e.hash() == hash)
        {
            self.evidence.push(evidence);
        }
    }

    /// Builds, executes and logs a block to propose.
    async fn propose(&mut self, height: Height, round: Round) -> Result<()> {
        if height != self.parent.height.saturating_add(1) {
            return Ok(());
        }
        let store = self.store();
        let max_bytes = usize::try_from(self.params.max_block_bytes)
            .unwrap_or(usize::MAX)
            .saturating_sub(accord_types::codec::MAX_CERTIFICATE_BYTES + 64 * 1024);
        let transactions =
            self.mempool
                .lock()
                .reap(&store, self.params.max_block_txs as usize, max_bytes)?;
        let last_commit = if self.parent.height.0 == 0 {
            None
        } else {
            self.storage.certificate(self.parent.height)?
        };
        let evidence: Vec<Evidence> = self
            .evidence
            .iter()
            .filter(|e| e.verify(&self.chain_id, &self.validators).is_ok())
            .cloned()
            .collect();
        let executed = chain::build(
            &store,
            Proposing {
                chain_id: &self.chain_id,
                parent: self.parent,
                proposer: self.key,
                validators: &self.validators,
                last_commit,
                now: now(),
            },
            transactions,
            evidence,
        )?;
        let hash = executed.block.hash();
        debug!(
            height = height.0,
            round = round.0,
            txs = executed.block.transactions.len(),
            block = %hash,
            "proposing"
        );
        self.wal
            .append(&WalEntry::Block(executed.block.clone()).encode())?;
        self.candidates.built(executed);
        self.queue.push_back(Input::ProposeValue {
            height,
            round,
            block_hash: hash,
        });
        Ok(())
    }

    /// Checks a candidate block and answers the engine; fetches it first if missing.
    async fn validate(&mut self, hash: Hash) -> Result<()> {
        let height = self.parent.height.saturating_add(1);
        let verdict = if self.candidates.is_executed(&hash) {
            Validity::Valid
        } else if let Some(block) = self.candidates.block(&hash).cloned() {
            self.verdict(hash, &block)?
        } else {
            if self.candidates.wait_for(hash) {
                self.fetch(hash).await;
            }
            return Ok(());
        };
        self.candidates.answered(&hash);
        self.queue.push_back(Input::Validity {
            height,
            block_hash: hash,
            verdict,
        });
        Ok(())
    }

    /// Asks peers for a block by hash, in the background.
    async fn fetch(&self, hash: Hash) {
        let peers = self.p2p.peers().await;
        let p2p = self.p2p.clone();
        let fetched = self.fetched.clone();
        tokio::spawn(async move {
            for peer in peers {
                if let Ok(SyncResponse::Block(Some(block))) =
                    p2p.request(peer, SyncRequest::BlockByHash(hash)).await
                {
                    if block.hash() == hash {
                        let _ = fetched.send(block).await;
                        return;
                    }
                }
            }
        });
    }

    async fn on_fetched(&mut self, block: Block) -> Result<()> {
        let hash = block.hash();
        let record = WalEntry::Block(block.clone()).encode();
        match self.candidates.fetched(block) {
            Offer::Kept => self.wal.append(&record)?,
            Offer::Known => {}
            Offer::OtherHeight | Offer::FarRound | Offer::Full => return Ok(()),
        }
        if self.candidates.is_awaited(&hash) {
            self.validate(hash).await?;
        }
        if self.decided.as_ref().is_some_and(|d| d.block_hash == hash) {
            self.commit().await?;
        }
        Ok(())
    }

    async fn on_timer(&mut self, timer: Timer) -> Result<()> {
        match timer {
            Timer::Engine {
                height,
                round,
                step,
            } => {
                self.feed(Input::TimeoutElapsed {
                    height,
                    round,
                    step,
                })
                .await
            }
            Timer::CommitPause(height) => {
                if self.decided.as_ref().is_some_and(|d| d.height == height) {
                    self.commit().await?;
                }
                Ok(())
            }
        }
    }

    /// Commits the decided block, then starts the next height.
    async fn commit(&mut self) -> Result<()> {
        let Some(decision) = self.decided.clone() else {
            return Ok(());
        };
        let executed = match self.candidates.take_executed(&decision.block_hash) {
            Some(executed) => executed,
            None => {
                let Some(block) = self.candidates.block(&decision.block_hash).cloned() else {
                    // Decided on a block this node has not seen: fetch it, commit on arrival.
                    if self.candidates.wait_for(decision.block_hash) {
                        self.fetch(decision.block_hash).await;
                    }
                    return Ok(());
                };
                self.check_block(&block, None).with_context(|| {
                    format!(
                        "block {} was decided by a quorum but does not execute here",
                        decision.block_hash
                    )
                })?
            }
        };
        let certificate = self
            .engine
            .certificate()
            .filter(|c| c.block_hash == decision.block_hash)
            .unwrap_or(decision.certificate);
        self.decided = None;
        self.apply(&executed, &certificate)?;
        self.start_height().await
    }

    /// Writes a committed block and moves every piece of state past it.
    fn apply(&mut self, executed: &Executed, certificate: &CommitCertificate) -> Result<()> {
        let block = &executed.block;
        fault::crash_point("before-commit");
        let started = Instant::now();
        self.storage
            .commit_block(block, certificate, &executed.outcome)?;
        self.metrics.commit_took(started.elapsed());
        fault::crash_point("after-commit");
        // Subscribers hear of the block only once it is durable; nobody listening is fine.
        let _ = self.commits.send(accord_rpc::Committed {
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
        let included: BTreeSet<Hash> = block.evidence.iter().map(Evidence::hash).collect();
        self.evidence.retain(|e| !included.contains(&e.hash()));
        let store = self.store();
        let committed: Vec<Hash> = block.transactions.iter().map(|t| t.hash()).collect();
        let ctx = CheckContext {
            chain_id: self.chain_id.clone(),
            height: height.saturating_add(1),
            timestamp: block.header.timestamp,
        };
        let (dropped, again, kept) = {
            let mut pool = self.mempool.lock();
            let dropped = pool.update(&store, &ctx, &committed);
            let again = pool.regossip(ctx.height.get(), MAX_REGOSSIP);
            // The journal only grows between rewrites.
            let kept = (height.0 % JOURNAL_REWRITE_BLOCKS == 0).then(|| pool.encoded());
            (dropped, again, kept)
        };
        if let Some(kept) = kept {
            self.journal.rewrite(kept);
        }
        if !again.is_empty() {
            // Transactions accepted while the node had no peers, or whose copies were
            // lost, go out again until they are finalized or dropped.
            let p2p = self.p2p.clone();
            tokio::spawn(async move {
                for tx in again {
                    if let Err(error) = p2p.publish(Topic::Transactions, tx).await {
                        debug!(%error, "pooled transaction not gossiped again");
                    }
                }
            });
        }
        if !dropped.is_empty() {
            let mut log = self.dropped.write();
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
        self.parent_validators = self.validators.clone();
        let (validators, specs) = chain::validators_at(&store, height.saturating_add(1))?;
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
        if changed {
            self.follow_validator_set();
        }
        self.candidates.advance(height.saturating_add(1));
        self.publish_status();
        Ok(())
    }

    /// Has the p2p allow list and dial schedule follow the current validator set, in
    /// the background (a validator whose address does not parse is left out, with a
    /// warning: the set is on chain and the node cannot refuse it).
    fn follow_validator_set(&self) {
        let mut peers = Vec::with_capacity(self.specs.len());
        for spec in &self.specs {
            match spec.listen_addr.parse() {
                Ok(addr) => peers.push((spec.p2p_key, addr)),
                Err(error) => warn!(
                    validator = %spec.name,
                    addr = %spec.listen_addr,
                    %error,
                    "a validator's p2p address is not a multiaddr; not dialed"
                ),
            }
        }
        // One task applies the latest list, in order: two changes in quick succession
        // can never reach the p2p task the wrong way round.
        self.allow_list.send_replace(peers);
    }

    async fn on_net(&mut self, event: NetEvent) -> Result<()> {
        match event {
            NetEvent::Gossip {
                topic: Topic::Consensus,
                from,
                id,
                data,
                ..
            } => {
                let verdict = match ConsensusWire::decode_stamped(&data) {
                    // The same message again behind another stamp (a rebroadcast, or a
                    // replay by anyone who saw it): the engine has it; forwarded at
                    // most once per REFORWARD so rebroadcasts still travel.
                    Ok(message) => match self.recently_seen(&data) {
                        Some(verdict) => verdict,
                        None => self.on_consensus(message)?,
                    },
                    Err(error) => {
                        debug!(%from, %error, "undecodable consensus message");
                        Verdict::Reject
                    }
                };
                self.metrics.gossip("consensus", verdict_label(verdict));
                self.p2p.report(id, from, verdict);
            }
            NetEvent::Gossip {
                topic: Topic::Transactions,
                from,
                id,
                data,
                ..
            } => {
                let store = self.store();
                let ctx = self.check_context();
                let result = self.mempool.lock().add_raw(&store, &ctx, &[&data]).pop();
                let verdict = match result {
                    Some(Ok(_)) => {
                        self.journal.append(data);
                        Verdict::Accept
                    }
                    // Nobody should forward what can never be valid.
                    Some(Err(error))
                        if matches!(
                            error.code(),
                            Some(
                                ErrorCode::BadSignature
                                    | ErrorCode::InvalidPayload
                                    | ErrorCode::WrongChain
                            )
                        ) =>
                    {
                        Verdict::Reject
                    }
                    _ => Verdict::Ignore,
                };
                self.metrics.gossip("transactions", verdict_label(verdict));
                self.p2p.report(id, from, verdict);
            }
            NetEvent::SyncRequest { request, reply, .. } => {
                let response = self.serve(&request);
                reply.send(response);
            }
            NetEvent::PeerUp(_) | NetEvent::PeerDown(_) => {
                let peers = self.p2p.peers().await.len();
                self.status.write().peers = peers;
            }
        }
        Ok(())
    }

    /// The context the pool checks transactions in: the next block's.
    fn check_context(&self) -> CheckContext {
        CheckContext {
            chain_id: self.chain_id.clone(),
            height: self.parent.height.saturating_add(1),
            timestamp: self.parent.timestamp,
        }
    }

    /// `Some(verdict)` for a consensus message seen at this height already (its bytes
    /// after the sender's stamp): ignored, or accepted for forwarding once every
    /// [`REFORWARD`] so that rebroadcasts reach peers that missed the first copy.
    fn recently_seen(&mut self, data: &[u8]) -> Option<Verdict> {
        let body = data.get(8..)?;
        let key = Hash::from_bytes(*blake3::hash(body).as_bytes());
        let now = Instant::now();
        match self.seen.get_mut(&key) {
            Some(at) if now.duration_since(*at) < REFORWARD => Some(Verdict::Ignore),
            Some(at) => {
                *at = now;
                Some(Verdict::Accept)
            }
            None => {
                if self.seen.len() >= MAX_SEEN {
                    self.seen.clear();
                }
                self.seen.insert(key, now);
                None
            }
        }
    }

    /// Whether a message of `height` and `round` may still be logged: messages of the
    /// current round or the next always may; those of later rounds (or of the next
    /// height), which only a validator far ahead or a Byzantine one sends, count
    /// against [`MAX_FAR_MESSAGES`] per height, so the consensus log of a height stays
    /// bounded whatever one peer floods it with.
    fn admit_far(&mut self, height: Height, round: Round) -> bool {
        let round_now = self.engine.state().map_or(Round(0), |s| s.round);
        let near = height == self.parent.height.saturating_add(1)
            && round.0 <= round_now.0.saturating_add(1);
        if near {
            return true;
        }
        if self.far_messages >= MAX_FAR_MESSAGES {
            if self.far_messages == MAX_FAR_MESSAGES {
                warn!(
                    height = height.0,
                    "{MAX_FAR_MESSAGES} consensus messages of later rounds or the next height at this height; ignoring more until it is decided"
                );
                self.far_messages += 1;
            }
            return false;
        }
        self.far_messages += 1;
        true
    }

    /// Whether `key` may sign consensus messages of `height`: a validator of the set
    /// deciding the next height. Later heights are judged by the same set (a change
    /// takes effect two heights after it is decided, so a message from a validator
    /// that is about to join waits in its sender's retries, never in this node).
    fn may_sign(&self, key: &PublicKey) -> bool {
        self.validators.get(key).is_some()
    }

    fn on_consensus(&mut self, message: ConsensusWire) -> Result<Verdict> {
        let next = self.parent.height.saturating_add(1);
        match message {
            ConsensusWire::Proposal { proposal, block } => {
                if proposal.verify(&self.chain_id).is_err() || !self.may_sign(&proposal.proposer) {
                    return Ok(Verdict::Reject);
                }
                if proposal.height < next || proposal.height > next.saturating_add(HEIGHTS_AHEAD) {
                    return Ok(Verdict::Ignore);
                }
                if !self.admit_far(proposal.height, proposal.round) {
                    return Ok(Verdict::Ignore);
                }
                let current = proposal.height == next && self.engine.height() == Some(next);
                if current && self.engine.proposer(proposal.round) != Some(proposal.proposer) {
                    debug!(proposer = %proposal.proposer, round = proposal.round.0, "proposal out of turn");
                    return Ok(Verdict::Reject);
                }
                if let Some(block) = block {
                    if block.hash() != proposal.block_hash
                        || block.header.proposer != proposal.proposer
                            && proposal.valid_round.is_none()
                    {
                        return Ok(Verdict::Reject);
                    }
                    if let Err(error) = chain::BlockLimits::of(&self.params).check(&block, None) {
                        warn!(proposer = %proposal.proposer, %error, "proposed block over the chain's limits");
                        return Ok(Verdict::Reject);
                    }
                    if current {
                        let round_now = self.engine.state().map_or(Round(0), |s| s.round);
                        let record = WalEntry::Block(block.clone()).encode();
                        if self.candidates.offer(block, proposal.round, round_now) == Offer::Kept {
                            self.wal.append(&record)?;
                        }
                    }
                }
                self.queue.push_back(Input::Proposal {
                    proposal,
                    check: SignatureCheck::Verified,
                });
                self.revalidate_awaited()?;
                Ok(Verdict::Accept)
            }
            ConsensusWire::Vote(vote) => {
                if vote.verify(&self.chain_id).is_err() || !self.may_sign(&vote.validator) {
                    return Ok(Verdict::Reject);
                }
                if vote.height < next || vote.height > next.saturating_add(HEIGHTS_AHEAD) {
                    return Ok(Verdict::Ignore);
                }
                if !self.admit_far(vote.height, vote.round) {
                    return Ok(Verdict::Ignore);
                }
                self.queue.push_back(Input::Vote {
                    vote,
                    check: SignatureCheck::Verified,
                });
                Ok(Verdict::Accept)
            }
            ConsensusWire::Evidence(evidence) => {
                if evidence.verify(&self.chain_id, &self.validators).is_err() {
                    return Ok(Verdict::Ignore);
                }
                self.add_evidence(evidence);
                Ok(Verdict::Accept)
            }
        }
    }

    /// Blocks whose validation was asked before they arrived are checked now.
    fn revalidate_awaited(&mut self) -> Result<()> {
        for hash in self.candidates.arrived() {
            self.validate_now(hash)?;
        }
        Ok(())
    }

    fn validate_now(&mut self, hash: Hash) -> Result<()> {
        let Some(block) = self.candidates.block(&hash).cloned() else {
            return Ok(());
        };
        let verdict = self.verdict(hash, &block)?;
        self.queue.push_back(Input::Validity {
            height: block.header.height,
            block_hash: hash,
            verdict,
        });
        Ok(())
    }

    /// Checks and executes a candidate block of the current height (keeping the
    /// execution for the commit); a fault of this node's state is an error.
    fn verdict(&mut self, hash: Hash, block: &Block) -> Result<Validity> {
        match self.check_block(block, Some(now())) {
            Ok(executed) => {
                self.candidates.executed(hash, executed);
                Ok(Validity::Valid)
            }
            Err(error) if error.is_block_fault() => {
                warn!(block = %hash, %error, "invalid block proposed");
                Ok(Validity::Invalid)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Checks a block extending the last committed one, and executes it on its state.
    fn check_block(
        &self,
        block: &Block,
        now: Option<Timestamp>,
    ) -> Result<Executed, chain::BlockError> {
        let checking = Checking {
            chain_id: &self.chain_id,
            parent: self.parent,
            validators: &self.validators,
            parent_validators: &self.parent_validators,
            now,
            limits: chain::BlockLimits::of(&self.params),
        };
        chain::check(&self.store(), checking, block)
    }

    fn serve(&self, request: &SyncRequest) -> SyncResponse {
        let result: Result<SyncResponse> = (|| match *request {
            SyncRequest::Status => Ok(SyncResponse::Status {
                height: self.parent.height,
                hash: self.parent.hash,
            }),
            SyncRequest::Blocks { from, to } => {
                let last =
                    to.0.min(from.0.saturating_add(SYNC_RANGE - 1))
                        .min(self.parent.height.0);
                // A prefix of the range that fits the response cap (the first block
                // always does: the cap holds two of the largest blocks).
                let mut out = Vec::new();
                let mut bytes = 0usize;
                for h in from.0.max(1)..=last {
                    let (Some(block), Some(certificate)) = (
                        self.storage.block(Height(h))?,
                        self.storage.certificate(Height(h))?,
                    ) else {
                        break;
                    };
                    let size = borsh::object_length(&block)
                        .unwrap_or(usize::MAX)
                        .saturating_add(borsh::object_length(&certificate).unwrap_or(usize::MAX));
                    bytes = bytes.saturating_add(size);
                    if !out.is_empty() && bytes > self.sync_budget {
                        break;
                    }
                    out.push((block, certificate));
                }
                Ok(SyncResponse::Blocks(out))
            }
            SyncRequest::BlockByHash(hash) => {
                if let Some(block) = self.candidates.block(&hash) {
                    return Ok(SyncResponse::Block(Some(block.clone())));
                }
                Ok(SyncResponse::Block(self.storage.block_by_hash(&hash)?))
            }
        })();
        result.unwrap_or_else(|error| SyncResponse::Error(error.to_string()))
    }

    /// Catches up when peers are ahead: two or more blocks (one is normal while a commit
    /// is in flight), or one while this height has stalled. Peers serving a penalty for
    /// an earlier claim they did not back are not believed.
    async fn sync_if_behind(&mut self, heights: Vec<(PublicKey, Height)>) -> Result<()> {
        let stalled = self.height_started.elapsed() > STALL;
        let ahead = self
            .sync_peers
            .believed(heights, self.parent.height, Instant::now());
        let Some(best) = ahead.iter().map(|(_, h)| *h).max() else {
            return Ok(());
        };
        if best.0 < self.parent.height.0.saturating_add(2) && !stalled {
            return Ok(());
        }
        self.status.write().syncing = true;
        let result = self.catch_up(&ahead, best).await;
        self.status.write().syncing = false;
        result
    }

    /// Fetches and applies the blocks of [`sync::plan`] towards `best`, each range from
    /// the peers [`sync::sources`] names, fastest first; a peer that claimed a range and
    /// delivered nothing of it, or sent blocks that do not check, is penalized.
    async fn catch_up(&mut self, peers: &[(PublicKey, Height)], best: Height) -> Result<()> {
        let ranges = sync::plan(self.parent.height, best);
        if let (Some((from, _)), Some((_, to))) = (ranges.first(), ranges.last()) {
            info!(from = from.0, to = to.0, "catching up through block sync");
        }
        let p2p = self.p2p.clone();
        let mut responses =
            futures::stream::iter(ranges.into_iter().enumerate().map(|(i, (from, to))| {
                let p2p = p2p.clone();
                let sources = sync::sources(i, from, peers);
                async move {
                    let mut failed = Vec::new();
                    for peer in sources {
                        let request = SyncRequest::Blocks { from, to };
                        let asked = Instant::now();
                        let answer =
                            tokio::time::timeout(SYNC_TIMEOUT, p2p.request(peer, request)).await;
                        if let Ok(Ok(SyncResponse::Blocks(blocks))) = answer {
                            if !blocks.is_empty() {
                                return (Some((peer, asked.elapsed(), blocks)), failed);
                            }
                        }
                        failed.push(peer);
                    }
                    (None, failed)
                }
            }))
            .buffered(SYNC_PARALLEL);
        let mut applied = 0u64;
        while let Some((batch, failed)) = responses.next().await {
            let now = Instant::now();
            for peer in failed {
                warn!(%peer, "a peer claimed blocks it did not deliver; not asked again for a while");
                self.sync_peers.penalize(peer, now);
            }
            let Some((source, took, batch)) = batch else {
                break;
            };
            self.sync_peers.served(source, took);
            for (block, certificate) in batch {
                if block.header.height != self.parent.height.saturating_add(1) {
                    break;
                }
                let hash = block.hash();
                if let Err(error) = certificate.verify_commit(
                    &self.chain_id,
                    &self.validators,
                    block.header.height,
                    &hash,
                ) {
                    warn!(height = block.header.height.0, peer = %source, %error, "synced block's certificate does not verify");
                    self.sync_peers.penalize(source, now);
                    return self.restart_height(applied).await;
                }
                let executed = match self.check_block(&block, None) {
                    Ok(executed) => executed,
                    Err(error) if error.is_block_fault() => {
                        warn!(height = block.header.height.0, peer = %source, %error, "synced block does not check");
                        self.sync_peers.penalize(source, now);
                        return self.restart_height(applied).await;
                    }
                    Err(error) => return Err(error.into()),
                };
                self.decided = None;
                self.apply(&executed, &certificate)?;
                applied += 1;
            }
        }
        self.restart_height(applied).await
    }

    async fn restart_height(&mut self, applied: u64) -> Result<()> {
        if applied > 0 {
            info!(applied, height = self.parent.height.0, "caught up");
            self.start_height().await?;
        }
        Ok(())
    }
}
