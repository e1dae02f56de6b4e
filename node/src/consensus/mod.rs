//! The consensus task: it feeds the consensus engine its inputs and carries out its
//! outputs; blocks are built, checked and committed by the executor (a thread of its
//! own), whose answers it awaits.
//!
//! ```text
//!   p2p gossip ──► verify signature, dedup, caps ──► report to gossip (forward or not)
//!        │                                   │
//!        ▼                                   ▼
//!   consensus log (append) ──► Engine::process ──► outputs
//!                                                   │ Broadcast: recorder (log sync ─► signer guard) ─► publish
//!                                                   │ ScheduleTimeout: tokio timer ─► TimeoutElapsed
//!                                                   │ RequestValue: executor Build ─► ProposeValue
//!                                                   │ RequestValidation: (fetch by hash) ─► executor Check ─► Validity
//!                                                   │ Decide: commit pause (with txs: a tenth of it, or until every precommit is in) ─► executor Commit ─► next height
//!                                                   │ Requeue: back into the log as an input
//!   block sync client ──Synced──► verify certificates ─► executor Check + Commit ─► next height
//! ```
//!
//! Every input is appended to the consensus log before the engine sees it, and the log
//! is synced before any message this validator signed leaves the node; the signer
//! guard's own record is synced before that. Both files are written by the recorder
//! ([`recorder`]), a thread of their own that carries out the task's writes in order:
//! appends are sent without waiting, and a release (sync, then the guard's record) is
//! awaited before the message is published. On restart the log is replayed into a
//! fresh engine, which reaches the same state (the engine is a deterministic function
//! of its inputs); blocks that inputs refer to by hash are in the log too. The log is
//! pruned when a height is committed: it then holds only the next height's start.
//!
//! A node that is behind is told so by block sync's client ([`crate::sync::client`]),
//! which fetches ranges of blocks with their commit certificates while consensus goes
//! on; this task verifies each certificate against the validator set of its height and
//! has each block executed and committed in order, then starts the next height.

pub mod candidates;
pub mod gossip;
mod net;
mod recorder;
mod recover;
mod synced;
pub mod wire;

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use accord_consensus::{
    CommittedBlock, Decision, Engine, EngineConfig, Input, Message, Output, SignatureCheck,
    TimeoutStep, Validity,
};
use accord_types::governance::ValidatorSpec;
use accord_types::params::ConsensusParams;
use accord_types::{
    Block, ChainId, CommitCertificate, Evidence, Hash, Height, Keypair, PublicKey, Round,
    Timestamp, ValidatorSet,
};
use anyhow::{Context, Result};
use tokio::sync::{mpsc, watch, Semaphore};
use tracing::{debug, info, warn};

use crate::chain::{self, Executed, Parent};
use crate::executor::{BuildRequest, Executor, Tip};
use crate::fault;
use crate::mempool::gossip::{verdict_label, GossipedTx};
use crate::metrics::{HeightClock, HeightPhase};
use crate::p2p::{NetEvent, P2pHandle, SyncRequest, SyncResponse, Topic, Verdict};
use crate::signer::{Approval, LastSigned, SignerGuard, Step};
use crate::storage::Storage;
use crate::sync::client::{Applied, SyncClient, Synced};
use crate::wal::Wal;
use candidates::{Candidates, Offer};
use gossip::Admission;
use recorder::Recorder;
use wire::{ConsensusWire, WalEntry};

/// Synced batches waiting for the consensus task, at most (the client awaits each).
const SYNC_MAILBOX: usize = 2;
/// Sync requests of blocks served at once; more are answered "busy" at once.
const MAX_SERVING: usize = 8;
/// Heights past the next whose consensus messages are taken (the engine holds the
/// next height's; anything further is of no use yet and is neither logged nor
/// forwarded).
const HEIGHTS_AHEAD: u64 = 1;

pub use crate::status::{Lag, NodeStatus, SharedPeers, SharedStatus};

/// Everything the consensus task runs with.
pub struct ConsensusParts {
    /// The chain.
    pub chain_id: ChainId,
    /// Consensus parameters from the chain spec.
    pub params: ConsensusParams,
    /// This validator's consensus key.
    pub keypair: Keypair,
    /// The database (blocks served to peers).
    pub storage: Arc<Storage>,
    /// The executor, and the chain's tip it reported when it started.
    pub executor: (Executor, Tip),
    /// Gossiped transactions go here for admission.
    pub transactions: mpsc::Sender<GossipedTx>,
    /// How far behind its peers the node is: far behind, gossiped transactions are
    /// ignored.
    pub lag: Lag,
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
    /// The status the RPC server reports.
    pub status: SharedStatus,
    /// Connected peers and their heights.
    pub peers: SharedPeers,
    /// The node's metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Becomes `true` when the node shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// The p2p layer's cap on one sync response, in bytes.
    pub sync_response_bytes: usize,
}

enum Timer {
    Engine {
        height: Height,
        round: Round,
        step: TimeoutStep,
    },
    CommitPause(Height),
}

struct Task {
    chain_id: ChainId,
    params: ConsensusParams,
    key: PublicKey,
    storage: Arc<Storage>,
    /// The consensus log and the signer guard, on a thread of their own.
    recorder: Recorder,
    /// What the guard recorded last when the node started.
    last_signed: Option<LastSigned>,
    p2p: P2pHandle,
    executor: Executor,
    transactions: mpsc::Sender<GossipedTx>,
    lag: Lag,
    status: SharedStatus,
    metrics: Arc<crate::metrics::Metrics>,
    engine: Engine,
    /// The last committed block.
    parent: Parent,
    /// The set deciding `parent.height + 1`, with its members' descriptions.
    validators: ValidatorSet,
    specs: Vec<ValidatorSpec>,
    /// The last committed blocks, for proposer selection.
    history: Vec<CommittedBlock>,
    /// Blocks proposed for the current height, by hash.
    candidates: Candidates,
    /// Evidence to include in a block this node proposes.
    evidence: Vec<Evidence>,
    decided: Option<Decision>,
    /// Times the current height's phases.
    clock: HeightClock,
    queue: VecDeque<Input>,
    replaying: bool,
    /// Requests the log may answer during replay.
    pending_value: Option<(Height, Round)>,
    pending_validation: BTreeSet<Hash>,
    timers: mpsc::UnboundedSender<Timer>,
    fetched: mpsc::Sender<Block>,
    /// Last stamp put on a gossiped consensus message.
    stamp: u64,
    /// Bytes of blocks and certificates one sync answer may hold.
    sync_budget: usize,
    /// Sync requests of blocks being served.
    serving: Arc<Semaphore>,
    /// Repeats dropped and far messages counted at this height.
    admission: Admission,
    /// Whether the signer guard failed to record the last message (the node then
    /// reports itself halted: it does not vote).
    cannot_sign: bool,
    /// A height at which this validator signs nothing: it precommitted there before a
    /// restart that lost the consensus log, so it may be locked on a block it no longer
    /// knows, and any vote could contradict the lock.
    abstain: Option<Height>,
    /// Whether a batch from block sync is being applied (a request to propose then
    /// waits until it is done: the heights it passes through are decided already).
    catching_up: bool,
    /// The block a commit certificate from block sync vouches for: checked without this
    /// node's clock, as a decided block is.
    certified: Option<Hash>,
    /// The validators' p2p keys and addresses the allow list must follow.
    allow_list: watch::Sender<Vec<(PublicKey, libp2p::Multiaddr)>>,
    /// Tells block sync's client that a validator is past the heights taken.
    behind: Arc<tokio::sync::Notify>,
}

fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Timestamp(ms)
}

fn message_hash(message: &Message) -> Hash {
    Hash::from_bytes(*blake3::hash(&accord_types::codec::encode(message)).as_bytes())
}

/// Runs the consensus task until shutdown.
pub async fn run(parts: ConsensusParts) -> Result<()> {
    let ConsensusParts {
        chain_id,
        params,
        keypair,
        storage,
        executor: (executor, tip),
        transactions,
        lag,
        wal,
        recovered,
        signer,
        p2p,
        mut net_events,
        status,
        peers,
        metrics,
        mut shutdown,
        sync_response_bytes,
    } = parts;
    let (timers, mut timer_rx) = mpsc::unbounded_channel();
    let (fetched, mut fetched_rx) = mpsc::channel(16);
    let key = keypair.public();
    let engine = Engine::new(EngineConfig {
        chain_id: chain_id.clone(),
        params: params.clone(),
        keypair: Some(keypair),
    });
    let allow_list = follow_allow_list(p2p.clone());
    let last_signed = signer.last_signed().cloned();
    let recorder = Recorder::spawn(wal, signer)?;
    let mut task = Task {
        chain_id,
        params,
        key,
        storage,
        recorder,
        last_signed,
        p2p,
        executor,
        transactions,
        lag,
        status,
        metrics,
        engine,
        parent: tip.parent,
        validators: tip.validators,
        specs: tip.specs,
        history: tip.history,
        candidates: Candidates::new(tip.parent.height.saturating_add(1)),
        evidence: Vec::new(),
        decided: None,
        clock: HeightClock::default(),
        queue: VecDeque::new(),
        replaying: false,
        pending_value: None,
        pending_validation: BTreeSet::new(),
        timers,
        fetched,
        stamp: 0,
        cannot_sign: false,
        abstain: None,
        catching_up: false,
        certified: None,
        // Room for the response's own framing.
        sync_budget: sync_response_bytes.saturating_sub(64 * 1024),
        serving: Arc::new(Semaphore::new(MAX_SERVING)),
        admission: Admission::default(),
        allow_list,
        behind: Arc::new(tokio::sync::Notify::new()),
    };
    task.publish_status();
    // The set at the head may differ from the spec's (a validator-set change on chain).
    task.follow_validator_set();
    task.recover(recovered).await?;
    let (synced, mut synced_rx) = mpsc::channel(SYNC_MAILBOX);
    SyncClient {
        p2p: task.p2p.clone(),
        status: task.status.clone(),
        peers,
        consensus: synced,
        behind: Arc::clone(&task.behind),
        lag: task.lag.clone(),
    }
    .spawn();
    loop {
        loop {
            while let Some(input) = task.queue.pop_front() {
                task.feed(input).await?;
            }
            if !task.commit_if_complete().await? {
                break;
            }
        }
        tokio::select! {
            biased;
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            Some(timer) = timer_rx.recv() => task.on_timer(timer).await?,
            Some(event) = net_events.recv() => task.on_net(event).await?,
            Some(block) = fetched_rx.recv() => task.on_fetched(block).await?,
            Some(synced) = synced_rx.recv() => task.on_synced(synced).await?,
        }
    }
    // A decided block in its commit pause is committed before the node stops.
    if task.decided.is_some() {
        task.commit().await?;
    }
    task.recorder.sync().await?;
    info!(height = task.parent.height.0, "consensus stopped");
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

impl Task {
    /// Reports the engine's round (the executor reports the head).
    fn publish_status(&self) {
        let round = self.engine.state().map_or(Round(0), |s| s.round);
        if self.status.read().round != round {
            self.status.write().round = round;
        }
    }

    async fn start_height(&mut self) -> Result<()> {
        let input = Input::StartHeight {
            height: self.parent.height.saturating_add(1),
            validators: self.validators.clone(),
            history: self.history.clone(),
        };
        self.recorder
            .reset(WalEntry::Input(input.clone()).encode())
            .await?;
        // Blocks that came ahead of this height, so a replay finds them.
        let ahead: Vec<Vec<u8>> = self
            .candidates
            .current()
            .map(|block| WalEntry::Block(block.clone()).encode())
            .collect();
        for record in ahead {
            self.recorder.append(record).await?;
        }
        fault::crash_point("after-log-reset");
        self.admission.reset();
        self.clock.started(&self.metrics);
        self.process(input).await
    }

    /// Logs an input, then processes it.
    async fn feed(&mut self, input: Input) -> Result<()> {
        self.recorder
            .append(WalEntry::Input(input.clone()).encode())
            .await?;
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
        self.publish_status();
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
                if self.replaying || self.catching_up {
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
                let busy = self
                    .candidates
                    .block(&decision.block_hash)
                    .is_some_and(|b| !b.transactions.is_empty());
                self.decided = Some(decision);
                self.clock.decided(&self.metrics);
                self.schedule(
                    commit_pause(self.params.timeouts.commit_ms, busy),
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
        if self.abstain == Some(height) {
            debug!(height = height.0, round = round.0, %step, "not signed: this validator abstains at this height");
            return Ok(());
        }
        // The inputs that led to this message are on disk first, so a replay after a
        // crash reproduces it; then the guard records it before it leaves.
        match self
            .recorder
            .release(height, round, step, message_hash(&message))
            .await?
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
        // The executor leaves out what does not verify against the set of its height.
        let evidence = self.evidence.clone();
        let building = Instant::now();
        let executed = self
            .executor
            .build(BuildRequest {
                proposer: self.key,
                now: now(),
                evidence,
            })
            .await?;
        self.metrics
            .phase_took(HeightPhase::Build, building.elapsed());
        let hash = executed.block.hash();
        debug!(
            height = height.0,
            round = round.0,
            txs = executed.block.transactions.len(),
            block = %hash,
            "proposing"
        );
        self.recorder
            .append(WalEntry::Block(executed.block.clone()).encode())
            .await?;
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
            self.verdict(hash, block).await?
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
            Offer::Kept => self.recorder.append(record).await?,
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
                // A timer of a height passed meanwhile (by block sync) is of no use.
                if height != self.parent.height.saturating_add(1) {
                    return Ok(());
                }
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

    /// Commits a decided block that carries transactions at once, without waiting out
    /// its pause ([`commit_pause`]), when every validator's precommit for it is in: the
    /// pause lets late precommits join the certificate (which the next block carries
    /// and proposer selection reads), and none is missing. An empty block still waits
    /// the whole commit pause out, so a chain with nothing to do keeps a steady pace:
    /// block-denominated windows (voting periods, claim leases) keep their length in
    /// time, and idle blocks do not fill the disk. `true` when a height was committed.
    async fn commit_if_complete(&mut self) -> Result<bool> {
        let Some(decision) = &self.decided else {
            return Ok(false);
        };
        if self.replaying {
            return Ok(false);
        }
        let busy = self
            .candidates
            .block(&decision.block_hash)
            .is_some_and(|b| !b.transactions.is_empty());
        let complete = busy
            && self.engine.certificate().is_some_and(|c| {
                c.block_hash == decision.block_hash && c.signatures.len() >= self.validators.len()
            });
        if !complete {
            return Ok(false);
        }
        let before = self.parent.height;
        self.commit().await?;
        Ok(self.parent.height != before)
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
                self.executor.check(block, None).await?.with_context(|| {
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
        self.clock.committing(&self.metrics);
        self.apply(executed, certificate).await?;
        self.start_height().await
    }

    /// Has the executor commit a block, then moves this actor's view past it.
    async fn apply(&mut self, executed: Executed, certificate: CommitCertificate) -> Result<()> {
        let included: BTreeSet<Hash> = executed.block.evidence.iter().map(Evidence::hash).collect();
        let tip = self.executor.commit(executed, certificate).await?;
        self.evidence.retain(|e| !included.contains(&e.hash()));
        self.parent = tip.parent;
        self.validators = tip.validators;
        self.specs = tip.specs;
        self.history = tip.history;
        if tip.set_changed {
            self.follow_validator_set();
        }
        self.candidates
            .advance(self.parent.height.saturating_add(1));
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

    /// Blocks whose validation was asked before they arrived are checked now.
    async fn revalidate_awaited(&mut self) -> Result<()> {
        for hash in self.candidates.arrived() {
            let Some(block) = self.candidates.block(&hash).cloned() else {
                continue;
            };
            let height = block.header.height;
            let verdict = self.verdict(hash, block).await?;
            self.queue.push_back(Input::Validity {
                height,
                block_hash: hash,
                verdict,
            });
        }
        Ok(())
    }

    /// Checks and executes a candidate block of the current height (keeping the
    /// execution for the commit); a fault of this node's state is an error.
    async fn verdict(&mut self, hash: Hash, block: Block) -> Result<Validity> {
        let clock = (self.certified != Some(hash)).then(now);
        let checking = Instant::now();
        let checked = self.executor.check(block, clock).await?;
        self.metrics
            .phase_took(HeightPhase::Check, checking.elapsed());
        match checked {
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
}

/// How long a decided block waits for late precommits before it is committed: the
/// chain's `commit_ms` for an empty block; a tenth of it for a block that carries
/// transactions, which is committed even sooner once every precommit is in. With a
/// validator down, every certificate stays one short, and a busy chain would otherwise
/// wait the whole pause at every height.
pub(crate) fn commit_pause(commit_ms: u64, busy: bool) -> Duration {
    Duration::from_millis(if busy { commit_ms / 10 } else { commit_ms })
}
