//! A deterministic multi-node simulator that tries to break the engine.
//!
//! `N` validators in a few regions run real [`Engine`]s over a simulated
//! [`network`]: a virtual clock, a seeded random stream, per-link delay and
//! jitter, loss, duplication, reordering, partitions that change over time, and a
//! global stabilisation time (GST). Each node plays the part of the future `accord`
//! node: it logs every input to a write-ahead log (truncated at each `StartHeight`),
//! builds and checks blocks, pauses after a commit, and helps lagging peers by sending
//! them the certificate of a height they are stuck at (what block sync will do).
//!
//! Byzantine behaviours ([`Behaviour`]): a proposer that sends different proposals to
//! different peers, a validator that signs two different votes for every vote, twins
//! (two nodes running honest code with one key), silent validators, and nodes that
//! crash and restart by replaying their write-ahead log. Blocks are simulated: a hash
//! over height, parent, proposer, the previous certificate's signers and a salt.
//! A node may also carry a [`Mutation`]: a defect in how it handles its engine's
//! inputs and outputs, which the checker must notice.
//!
//! The [`Checker`] looks at every step for forks, decisions of blocks nobody
//! proposed, bad certificates, equivocations a node saw without reporting them, and
//! replays that differ; at the end it checks liveness. The whole run is a function of
//! its [`SimConfig`], summarised by [`Report::trace_hash`] over every input and output.
//!
//! ```text
//!   event queue (time, seq) ──► Deliver ──► node: WAL ─► Engine::process ─► outputs
//!         ▲                     Timer                        │ Broadcast ──► network ──┐
//!         │                     StartHeight                  │ Decide ────► checker    │
//!         │                     Crash / Restart (replay WAL) │ Request* ──► inputs     │
//!         └──────────────────────────────────────────────────┴─────────────────────────┘
//! ```

mod checker;
pub mod network;
mod rng;
pub mod scenario;

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

use accord_types::params::{ConsensusParams, TimeoutParams};
use accord_types::{
    ChainId, CommitCertificate, ConsensusProposal, Domain, Evidence, Hash, Height, Keypair,
    PublicKey, QuorumRule, RegionId, Round, Validator, ValidatorSet, Vote, VoteType,
};
use borsh::BorshSerialize;

pub use checker::{Checker, Violation};
pub use network::{NetworkConfig, Partition};
pub use rng::{Ppm, SimRng};

use crate::input::{CommittedBlock, Decision, Input, Message, Output, SignatureCheck, Validity};
use crate::proposer::ABSENCE_WINDOW;
use crate::{Engine, EngineConfig, Error};

/// The simulated chain's id.
pub const CHAIN_ID: &str = "accord-sim";

/// Heights a node goes past the target, so that nodes still at the target find
/// peers ahead of them to catch up from.
const EXTRA_HEIGHTS: u64 = 2;

/// The simulated chain id.
#[allow(clippy::expect_used)] // CHAIN_ID is a constant, valid label
pub fn chain_id() -> ChainId {
    ChainId::new(CHAIN_ID).expect("CHAIN_ID is a valid chain id")
}

/// The key of validator `index` in every simulation.
pub fn keypair(index: usize) -> Keypair {
    Keypair::derive_insecure(&format!("accord-sim/validator/{index}"))
}

/// How a validator behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Runs the engine and follows it.
    Honest,
    /// Never sends anything (crashed from the start).
    Silent,
    /// Honest, but crashes at `crash_at_ms` and, if `restart_at_ms` is set, restarts
    /// then from its write-ahead log.
    CrashRestart {
        /// When it crashes.
        crash_at_ms: u64,
        /// When it restarts, if ever.
        restart_at_ms: Option<u64>,
    },
    /// Runs the engine, and for every vote it signs also signs a different one, which
    /// it sends to a random half of its peers.
    DoubleVoter,
    /// Runs the engine, and for every proposal it makes also makes one of another
    /// block; each peer gets one, the other, or both.
    EquivocatingProposer,
    /// Two nodes run honest code with this validator's key.
    Twins,
}

impl Behaviour {
    /// Whether the validator counts against the fault bound.
    pub fn is_faulty(self) -> bool {
        self != Self::Honest
    }

    /// Whether its nodes run unmodified engine code (their decisions and evidence
    /// are held to the checker's rules).
    pub fn runs_honest_code(self) -> bool {
        matches!(self, Self::Honest | Self::CrashRestart { .. } | Self::Twins)
    }

    /// Whether its nodes must decide every height (honest, or restarted after a crash).
    pub fn must_be_live(self) -> bool {
        match self {
            Self::Honest => true,
            Self::CrashRestart { restart_at_ms, .. } => restart_at_ms.is_some(),
            _ => false,
        }
    }
}

/// A defect planted in one node, to show that the checker notices it. The node keeps
/// its [`Behaviour`], and with it the checker's rules; its engine is unchanged, only
/// the node's handling of the engine's inputs and outputs departs from the honest node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// Drops the evidence and conflicting-proposal reports its engine outputs.
    HideEvidence,
    /// Keeps only the first signature of the certificate of every decision.
    TrimCertificate,
    /// When it restarts, the first timeout of its replayed log is scheduled 1 ms later
    /// than the logged one.
    TamperReplay,
    /// Starts no height above this one: it stops deciding.
    StopAfter(u64),
    /// Every proposal it sends or receives for a round below this one is lost.
    MissProposals(u32),
}

/// One validator of a simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSpec {
    /// Its region.
    pub region: String,
    /// Its voting power.
    pub power: u64,
    /// How it behaves.
    pub behaviour: Behaviour,
}

/// Everything a simulation run depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Seeds the network's randomness.
    pub seed: u64,
    /// The validators, in order; validator `i` signs with [`keypair`]`(i)`.
    pub validators: Vec<ValidatorSpec>,
    /// Global or regional quorums.
    pub rule: QuorumRule,
    /// Consensus timeouts.
    pub timeouts: TimeoutParams,
    /// The network.
    pub network: NetworkConfig,
    /// The run ends when every node required to be live has decided this height.
    pub target_height: u64,
    /// Or at this virtual time.
    pub max_time_ms: u64,
    /// Whether nodes pass their committed history to `StartHeight`, letting proposer
    /// selection skip absent validators.
    pub demote_absent: bool,
    /// Keep every node's full input and output log in the report.
    pub record_logs: bool,
    /// Verify every decision certificate's signatures (slow), not only its signers.
    pub verify_signatures: bool,
    /// Defects planted in nodes, by node index (see [`SimConfig::node_validators`]).
    pub mutations: BTreeMap<usize, Mutation>,
}

impl SimConfig {
    /// A configuration with reliable 10 ms links, default timeouts and target height 5.
    pub fn new(seed: u64, validators: Vec<ValidatorSpec>, rule: QuorumRule) -> Self {
        Self {
            seed,
            validators,
            rule,
            timeouts: Self::default_timeouts(),
            network: NetworkConfig::reliable(10, 10),
            target_height: 5,
            max_time_ms: 120_000,
            demote_absent: true,
            record_logs: false,
            verify_signatures: false,
            mutations: BTreeMap::new(),
        }
    }

    /// `n` honest validators of power 1, spread over `regions` regions in turn.
    pub fn honest(seed: u64, n: usize, regions: usize) -> Self {
        let names = region_names(regions);
        let validators = (0..n)
            .map(|i| ValidatorSpec {
                region: names
                    .get(i % names.len().max(1))
                    .cloned()
                    .unwrap_or_else(|| "r0".into()),
                power: 1,
                behaviour: Behaviour::Honest,
            })
            .collect();
        Self::new(seed, validators, QuorumRule::Global)
    }

    /// Timeouts used by default: propose 300 ms, prevote and precommit 100 ms, growing by
    /// 100, 50 and 50 ms per round; a 20 ms commit pause.
    pub fn default_timeouts() -> TimeoutParams {
        TimeoutParams {
            propose_ms: 300,
            propose_delta_ms: 100,
            prevote_ms: 100,
            prevote_delta_ms: 50,
            precommit_ms: 100,
            precommit_delta_ms: 50,
            commit_ms: 20,
        }
    }

    /// The validator index of every node: validator `i` is node `i` (silent ones
    /// included, as nodes that never run), and each twinned validator has one more
    /// node after them.
    pub fn node_validators(&self) -> Vec<usize> {
        let twins = self
            .validators
            .iter()
            .enumerate()
            .filter(|(_, v)| v.behaviour == Behaviour::Twins)
            .map(|(i, _)| i);
        (0..self.validators.len()).chain(twins).collect()
    }

    /// The validator set.
    pub fn validator_set(&self) -> Result<ValidatorSet, accord_types::Error> {
        let validators = self
            .validators
            .iter()
            .enumerate()
            .map(|(i, v)| {
                Ok(Validator {
                    name: format!("v{i}"),
                    region: RegionId::new(v.region.clone())?,
                    key: keypair(i).public(),
                    power: v.power,
                })
            })
            .collect::<Result<Vec<_>, accord_types::Error>>()?;
        ValidatorSet::new(validators, self.rule)
    }

    /// Whether the faulty validators hold less than a third of the power, and under
    /// the regional rule less than a third of every region's power: the condition under
    /// which the engine must stay live.
    pub fn faults_within_bounds(&self) -> bool {
        faults_within_bounds(&self.validators, self.rule)
    }

    /// The consensus parameters the nodes use.
    pub fn params(&self) -> ConsensusParams {
        ConsensusParams {
            timeouts: self.timeouts.clone(),
            max_block_bytes: 1 << 20,
            max_block_txs: 1_000,
            regional_quorum: self.rule == QuorumRule::Regional,
        }
    }

    /// The engine configuration of validator `index`.
    pub fn engine_config(&self, index: usize) -> EngineConfig {
        EngineConfig {
            chain_id: chain_id(),
            params: self.params(),
            keypair: Some(keypair(index)),
        }
    }
}

/// See [`SimConfig::faults_within_bounds`].
pub fn faults_within_bounds(validators: &[ValidatorSpec], rule: QuorumRule) -> bool {
    let mut total = (0u64, 0u64);
    let mut regions: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for v in validators {
        let faulty = if v.behaviour.is_faulty() { v.power } else { 0 };
        total = (total.0 + faulty, total.1 + v.power);
        let r = regions.entry(v.region.as_str()).or_default();
        *r = (r.0 + faulty, r.1 + v.power);
    }
    let under_third = |(faulty, all): (u64, u64)| u128::from(faulty) * 3 < u128::from(all);
    under_third(total) && (rule == QuorumRule::Global || regions.into_values().all(under_third))
}

/// Region names `r0`, `r1`, ….
pub fn region_names(count: usize) -> Vec<String> {
    (0..count.max(1)).map(|i| format!("r{i}")).collect()
}

/// Everything one node of the simulation processed, for replay tests.
#[derive(Debug, Clone)]
pub struct NodeLog {
    /// The node's index.
    pub node: usize,
    /// Its validator's index (its key is [`keypair`]`(validator)`).
    pub validator: usize,
    /// Every input its current engine processed, with the result.
    pub entries: Vec<(Input, Result<Vec<Output>, Error>)>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// A hash over every input each node processed and every output it produced, in order.
    pub trace_hash: Hash,
    /// What the checker found.
    pub violations: Vec<Violation>,
    /// Whether every node required to be live decided the target height.
    pub finished: bool,
    /// Virtual time when the run ended.
    pub end_ms: u64,
    /// Virtual time when the last node required to be live decided the target height.
    pub target_reached_ms: Option<u64>,
    /// Messages handed to the network (each copy to each peer counts once).
    pub messages_sent: u64,
    /// Messages delivered to a running node.
    pub messages_delivered: u64,
    /// Inputs processed by all engines.
    pub inputs: u64,
    /// Inputs an engine refused.
    pub engine_errors: u64,
    /// Equivocation evidence produced, over all nodes.
    pub evidence: u64,
    /// Conflicting proposals reported, over all nodes.
    pub conflicting_proposals: u64,
    /// Validators (by index) that some node produced evidence or a conflicting-proposal
    /// report against.
    pub accused: BTreeSet<usize>,
    /// Highest round any honest-code node decided in.
    pub max_decided_round: u32,
    /// Node logs, when [`SimConfig::record_logs`] is set.
    pub logs: Vec<NodeLog>,
    /// Where each node ended.
    pub nodes: Vec<NodeSummary>,
}

/// Where a node ended.
#[derive(Debug, Clone)]
pub struct NodeSummary {
    /// Its validator's index.
    pub validator: usize,
    /// Its behaviour.
    pub behaviour: Behaviour,
    /// Its engine's round state (`None` if it is not running).
    pub state: Option<crate::RoundState>,
    /// The highest height it decided, and the round.
    pub decided: Option<(Height, Round)>,
    /// Messages its engine holds.
    pub stored_messages: usize,
}

impl Report {
    /// The safety violations.
    pub fn safety_violations(&self) -> Vec<&Violation> {
        self.violations.iter().filter(|v| v.is_safety()).collect()
    }

    /// The liveness violations.
    pub fn liveness_violations(&self) -> Vec<&Violation> {
        self.violations.iter().filter(|v| !v.is_safety()).collect()
    }

    /// Whether some node decided differently from another.
    pub fn has_fork(&self) -> bool {
        self.violations
            .iter()
            .any(|v| matches!(v, Violation::Fork { .. }))
    }
}

/// Runs one simulation.
pub fn run(config: &SimConfig) -> Report {
    match Simulation::new(config.clone()) {
        Ok(sim) => sim.run(),
        Err(e) => Report {
            seed: config.seed,
            trace_hash: Hash::ZERO,
            violations: vec![Violation::BadCertificate {
                node: 0,
                height: Height(0),
                reason: format!("invalid simulation config: {e}"),
            }],
            finished: false,
            end_ms: 0,
            target_reached_ms: None,
            messages_sent: 0,
            messages_delivered: 0,
            inputs: 0,
            engine_errors: 0,
            evidence: 0,
            conflicting_proposals: 0,
            accused: BTreeSet::new(),
            max_decided_round: 0,
            logs: Vec::new(),
            nodes: Vec::new(),
        },
    }
}

/// A simulated block.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize)]
struct SimBlock {
    height: Height,
    parent: Hash,
    proposer: PublicKey,
    last_commit_signers: BTreeSet<PublicKey>,
    salt: u64,
}

impl SimBlock {
    fn hash(&self) -> Hash {
        Hash::of_borsh(Domain::new("accord/sim-block"), self)
    }
}

/// A decided height, as a node stores it.
#[derive(Debug, Clone)]
struct Committed {
    round: Round,
    hash: Hash,
    certificate: CommitCertificate,
}

/// What travels over the simulated network.
#[derive(Debug, Clone)]
enum Packet {
    /// A consensus message.
    Message(Message),
    /// A commit certificate sent to a peer stuck at a decided height (block sync).
    Commit(CommitCertificate),
}

#[derive(Debug, Clone)]
enum Event {
    Deliver {
        to: usize,
        from: usize,
        packet: Packet,
    },
    Timer {
        node: usize,
        incarnation: u32,
        input: Input,
    },
    StartHeight {
        node: usize,
        incarnation: u32,
        height: Height,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
}

#[derive(Debug)]
struct Scheduled {
    time: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

struct Node {
    validator: usize,
    behaviour: Behaviour,
    mutation: Option<Mutation>,
    region: usize,
    keypair: Keypair,
    engine: Option<Engine>,
    incarnation: u32,
    /// Inputs since the last `StartHeight` (inclusive), and the outputs each gave.
    wal: Vec<(Input, Vec<Output>)>,
    log: Vec<(Input, Result<Vec<Output>, Error>)>,
    chain: BTreeMap<Height, Committed>,
    started: BTreeMap<Height, u64>,
    sync_sent: BTreeMap<(usize, Height), u64>,
    evidence: BTreeSet<(PublicKey, Height, Round, VoteType)>,
    conflicts: BTreeSet<(Height, Round)>,
    /// Second proposals of an equivocating proposer, per (height, round).
    twin_proposals: BTreeMap<(Height, Round), ConsensusProposal>,
}

struct Simulation {
    config: SimConfig,
    chain_id: ChainId,
    validators: ValidatorSet,
    rng: SimRng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    nodes: Vec<Node>,
    blocks: BTreeMap<Hash, SimBlock>,
    proposed: BTreeSet<Hash>,
    checker: Checker,
    trace: Hash,
    /// Per height, the round bound of the liveness check: one round after the second
    /// round whose proposer is an honest validator.
    round_bound: BTreeMap<Height, Round>,
    remaining: usize,
    target_reached_ms: Option<u64>,
    report: Report,
}

impl Simulation {
    fn new(config: SimConfig) -> Result<Self, accord_types::Error> {
        let validators = config.validator_set()?;
        let regions: BTreeMap<&str, usize> = config
            .validators
            .iter()
            .map(|v| v.region.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .enumerate()
            .map(|(i, r)| (r, i))
            .collect();
        let mut nodes = Vec::new();
        for validator in config.node_validators() {
            let Some(spec) = config.validators.get(validator) else {
                continue;
            };
            let mutation = config.mutations.get(&nodes.len()).copied();
            nodes.push(Node {
                validator,
                behaviour: spec.behaviour,
                mutation,
                region: regions.get(spec.region.as_str()).copied().unwrap_or(0),
                keypair: keypair(validator),
                engine: None,
                incarnation: 0,
                wal: Vec::new(),
                log: Vec::new(),
                chain: BTreeMap::new(),
                started: BTreeMap::new(),
                sync_sent: BTreeMap::new(),
                evidence: BTreeSet::new(),
                conflicts: BTreeSet::new(),
                twin_proposals: BTreeMap::new(),
            });
        }
        let remaining = nodes.iter().filter(|n| n.behaviour.must_be_live()).count();
        let report = Report {
            seed: config.seed,
            trace_hash: Hash::ZERO,
            violations: Vec::new(),
            finished: false,
            end_ms: 0,
            target_reached_ms: None,
            messages_sent: 0,
            messages_delivered: 0,
            inputs: 0,
            engine_errors: 0,
            evidence: 0,
            conflicting_proposals: 0,
            accused: BTreeSet::new(),
            max_decided_round: 0,
            logs: Vec::new(),
            nodes: Vec::new(),
        };
        Ok(Self {
            rng: SimRng::new(config.seed, 0),
            chain_id: chain_id(),
            validators,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            blocks: BTreeMap::new(),
            proposed: BTreeSet::new(),
            checker: Checker::default(),
            trace: Hash::ZERO,
            round_bound: BTreeMap::new(),
            remaining,
            target_reached_ms: None,
            report,
            config,
        })
    }

    fn run(mut self) -> Report {
        for node in 0..self.nodes.len() {
            let Some(n) = self.nodes.get_mut(node) else {
                continue;
            };
            if n.behaviour == Behaviour::Silent {
                continue;
            }
            n.engine = Some(Engine::new(self.config.engine_config(n.validator)));
            if let Behaviour::CrashRestart {
                crash_at_ms,
                restart_at_ms,
            } = n.behaviour
            {
                self.push(crash_at_ms, Event::Crash { node });
                if let Some(at) = restart_at_ms {
                    self.push(at.max(crash_at_ms), Event::Restart { node });
                }
            }
            self.push(
                0,
                Event::StartHeight {
                    node,
                    incarnation: 0,
                    height: Height(1),
                },
            );
        }
        if self.remaining == 0 {
            self.target_reached_ms = Some(0);
        }
        while let Some(Reverse(next)) = self.queue.pop() {
            if next.time > self.config.max_time_ms {
                break;
            }
            self.now = next.time;
            self.step(next.event);
            if self.remaining == 0 {
                break;
            }
        }
        self.finish()
    }

    fn push(&mut self, time: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            time,
            seq: self.seq,
            event,
        }));
    }

    fn step(&mut self, event: Event) {
        match event {
            Event::Deliver { to, from, packet } => match packet {
                Packet::Message(message) => self.deliver(to, from, message),
                Packet::Commit(certificate) => {
                    if self.incarnation(to).is_some() {
                        self.report.messages_delivered += 1;
                        self.feed(
                            to,
                            Input::Commit {
                                certificate,
                                check: SignatureCheck::Verified,
                            },
                        );
                    }
                }
            },
            Event::Timer {
                node,
                incarnation,
                input,
            } => {
                if self.incarnation(node) == Some(incarnation) {
                    self.feed(node, input);
                }
            }
            Event::StartHeight {
                node,
                incarnation,
                height,
            } => {
                if self.incarnation(node) == Some(incarnation) {
                    self.start_height(node, height);
                }
            }
            Event::Crash { node } => {
                if let Some(n) = self.nodes.get_mut(node) {
                    n.engine = None;
                    n.incarnation += 1;
                }
            }
            Event::Restart { node } => self.restart(node),
        }
    }

    /// The node's incarnation, if it is running.
    fn incarnation(&self, node: usize) -> Option<u32> {
        let n = self.nodes.get(node)?;
        n.engine.as_ref().map(|_| n.incarnation)
    }

    /// The node's planted defect, if any.
    fn mutation(&self, node: usize) -> Option<Mutation> {
        self.nodes.get(node)?.mutation
    }

    // ---- node behaviour ------------------------------------------------------------

    fn start_height(&mut self, node: usize, height: Height) {
        let Some(n) = self.nodes.get_mut(node) else {
            return;
        };
        let Some(engine) = &n.engine else {
            return;
        };
        let previous = height.checked_prev().filter(|h| h.get() > 0);
        if engine.height() != previous || height.get() > self.config.target_height + EXTRA_HEIGHTS {
            return; // already started, or far enough
        }
        if let Some(Mutation::StopAfter(last)) = n.mutation {
            if height.get() > last {
                return;
            }
        }
        // The certificate stored with the block is the fullest one: every matching
        // precommit that arrived during the commit pause.
        if let (Some(prev), Some(certificate)) = (previous, engine.certificate()) {
            if let Some(c) = n.chain.get_mut(&prev) {
                c.certificate = certificate;
            }
        }
        let history = if self.config.demote_absent {
            let from = Height(height.get().saturating_sub(ABSENCE_WINDOW));
            n.chain
                .range(from..height)
                .filter_map(|(h, c)| {
                    self.blocks.get(&c.hash).map(|b| CommittedBlock {
                        height: *h,
                        proposer: b.proposer,
                        last_commit_signers: b.last_commit_signers.clone(),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        n.wal.clear();
        n.started.insert(height, self.now);
        self.feed(
            node,
            Input::StartHeight {
                height,
                validators: self.validators.clone(),
                history,
            },
        );
        if !self.round_bound.contains_key(&height) {
            if let Some(engine) = self.nodes.get(node).and_then(|n| n.engine.as_ref()) {
                let honest = |key: PublicKey| {
                    self.nodes
                        .iter()
                        .any(|n| n.keypair.public() == key && n.behaviour == Behaviour::Honest)
                };
                let second = (0..1_000u32)
                    .map(Round)
                    .filter(|r| engine.proposer(*r).is_some_and(honest))
                    .nth(1);
                if let Some(round) = second {
                    self.round_bound.insert(height, round.saturating_next());
                }
            }
        }
    }

    fn restart(&mut self, node: usize) {
        let config = match self.nodes.get(node) {
            Some(n) if n.engine.is_none() && n.behaviour != Behaviour::Silent => {
                self.config.engine_config(n.validator)
            }
            _ => return,
        };
        let Some(n) = self.nodes.get_mut(node) else {
            return;
        };
        n.engine = Some(Engine::new(config));
        n.incarnation += 1;
        n.log.clear();
        let wal = std::mem::take(&mut n.wal);
        let mut tamper = n.mutation == Some(Mutation::TamperReplay);
        if wal.is_empty() {
            let next = n
                .chain
                .keys()
                .next_back()
                .map_or(Height(1), |h| h.saturating_next());
            // It crashed before starting a height: start one now, before anything else
            // reaches it, as a node does at boot.
            self.start_height(node, next);
            return;
        }
        // Replay: the same inputs must give the same outputs (except the requeued
        // early messages of the first `StartHeight`, which the log holds as inputs).
        let mut outputs = Vec::new();
        for (index, (input, expected)) in wal.into_iter().enumerate() {
            let mut got = self.process(node, input);
            if tamper {
                if let Some(Output::ScheduleTimeout { duration_ms, .. }) = got
                    .iter_mut()
                    .find(|o| matches!(o, Output::ScheduleTimeout { .. }))
                {
                    *duration_ms = duration_ms.saturating_add(1);
                    tamper = false;
                }
            }
            if strip_requeue(&got) != strip_requeue(&expected) {
                self.checker
                    .report(Violation::ReplayMismatch { node, index });
            }
            outputs.extend(got);
        }
        let mut pending = VecDeque::new();
        for output in outputs {
            self.handle_output(node, output, &mut pending);
        }
        self.drain(node, pending);
    }

    /// Logs and processes one input, then everything it leads to.
    fn feed(&mut self, node: usize, input: Input) {
        self.drain(node, VecDeque::from([input]));
    }

    fn drain(&mut self, node: usize, mut pending: VecDeque<Input>) {
        while let Some(input) = pending.pop_front() {
            let outputs = self.process(node, input);
            for output in outputs {
                self.handle_output(node, output, &mut pending);
            }
        }
        self.start_if_complete(node);
    }

    /// A node whose certificate of its decided height holds every validator's
    /// precommit starts the next height now, without waiting out the commit pause, as
    /// the node does for a block that carries transactions (the pause only gathers late
    /// precommits; simulated blocks stand for busy ones).
    fn start_if_complete(&mut self, node: usize) {
        let Some(engine) = self.nodes.get(node).and_then(|n| n.engine.as_ref()) else {
            return;
        };
        let (Some(height), Some(certificate)) = (engine.height(), engine.certificate()) else {
            return;
        };
        if certificate.signatures.len() < self.validators.len() {
            return;
        }
        let incarnation = self.nodes.get(node).map_or(0, |n| n.incarnation);
        self.push(
            self.now,
            Event::StartHeight {
                node,
                incarnation,
                height: height.saturating_next(),
            },
        );
    }

    /// Writes the input to the node's WAL, runs the engine, records the trace.
    fn process(&mut self, node: usize, input: Input) -> Vec<Output> {
        let record = self.config.record_logs;
        let Some(n) = self.nodes.get_mut(node) else {
            return Vec::new();
        };
        let Some(engine) = n.engine.as_mut() else {
            return Vec::new();
        };
        let result = engine.process(input.clone());
        self.report.inputs += 1;
        let mut encoded = borsh::to_vec(&(self.now, node as u64, &input)).unwrap_or_default();
        match &result {
            Ok(outputs) => encoded.extend(borsh::to_vec(outputs).unwrap_or_default()),
            Err(e) => encoded.extend(e.to_string().as_bytes()),
        }
        self.trace = Hash::digest_parts(
            Domain::new("accord/sim-trace"),
            &[self.trace.as_bytes(), &encoded],
        );
        let outputs = match &result {
            Ok(outputs) => outputs.clone(),
            Err(_) => {
                self.report.engine_errors += 1;
                Vec::new()
            }
        };
        if record {
            n.log.push((input.clone(), result));
        }
        n.wal.push((input, outputs.clone()));
        outputs
    }

    fn handle_output(&mut self, node: usize, output: Output, pending: &mut VecDeque<Input>) {
        match output {
            Output::Broadcast(message) => self.broadcast(node, &message),
            Output::Relay(message) => {
                for to in (0..self.nodes.len()).filter(|p| *p != node) {
                    self.send(node, to, &message);
                }
            }
            Output::ScheduleTimeout {
                height,
                round,
                step,
                duration_ms,
            } => {
                if let Some(incarnation) = self.incarnation(node) {
                    self.push(
                        self.now.saturating_add(duration_ms),
                        Event::Timer {
                            node,
                            incarnation,
                            input: Input::TimeoutElapsed {
                                height,
                                round,
                                step,
                            },
                        },
                    );
                }
            }
            Output::RequestValue { height, round } => {
                if let Some(block_hash) = self.build_block(node, height, round) {
                    pending.push_back(Input::ProposeValue {
                        height,
                        round,
                        block_hash,
                    });
                }
            }
            Output::RequestValidation {
                height, block_hash, ..
            } => {
                let verdict = self.validate(node, height, &block_hash);
                pending.push_back(Input::Validity {
                    height,
                    block_hash,
                    verdict,
                });
            }
            Output::Decide(mut decision) => {
                if self.mutation(node) == Some(Mutation::TrimCertificate) {
                    decision.certificate.signatures.truncate(1);
                }
                self.decided(node, &decision);
            }
            Output::Evidence(_) | Output::ConflictingProposals { .. }
                if self.mutation(node) == Some(Mutation::HideEvidence) => {}
            Output::Evidence(evidence) => {
                self.report.evidence += 1;
                self.accuse(evidence.offender());
                let Evidence::DuplicateVote { first, .. } = &evidence;
                if let Some(n) = self.nodes.get_mut(node) {
                    n.evidence.insert((
                        first.validator,
                        first.height,
                        first.round,
                        first.vote_type,
                    ));
                }
            }
            Output::ConflictingProposals { first, .. } => {
                self.report.conflicting_proposals += 1;
                self.accuse(&first.proposer);
                if let Some(n) = self.nodes.get_mut(node) {
                    n.conflicts.insert((first.height, first.round));
                }
            }
            Output::Requeue(message) => {
                pending.push_back(Input::received(message, SignatureCheck::Verified));
            }
        }
    }

    fn accuse(&mut self, key: &PublicKey) {
        if let Some(n) = self.nodes.iter().find(|n| &n.keypair.public() == key) {
            self.report.accused.insert(n.validator);
        }
    }

    fn build_block(&mut self, node: usize, height: Height, round: Round) -> Option<Hash> {
        let n = self.nodes.get(node)?;
        let previous = height.checked_prev().and_then(|h| n.chain.get(&h));
        let block = SimBlock {
            height,
            parent: previous.map_or(Hash::ZERO, |c| c.hash),
            proposer: n.keypair.public(),
            last_commit_signers: previous
                .map(|c| {
                    c.certificate
                        .signatures
                        .iter()
                        .map(|s| s.validator)
                        .collect()
                })
                .unwrap_or_default(),
            salt: ((node as u64) << 32) | u64::from(round.get()),
        };
        let hash = block.hash();
        self.blocks.insert(hash, block);
        Some(hash)
    }

    fn validate(&self, node: usize, height: Height, hash: &Hash) -> Validity {
        let Some(n) = self.nodes.get(node) else {
            return Validity::Invalid;
        };
        let parent = match height.checked_prev().filter(|h| h.get() > 0) {
            None => Some(Hash::ZERO),
            Some(h) => n.chain.get(&h).map(|c| c.hash),
        };
        match self.blocks.get(hash) {
            Some(b) if b.height == height && Some(b.parent) == parent => Validity::Valid,
            _ => Validity::Invalid,
        }
    }

    fn decided(&mut self, node: usize, decision: &Decision) {
        let Some(n) = self.nodes.get(node) else {
            return;
        };
        let behaviour = n.behaviour;
        let incarnation = n.incarnation;
        if behaviour.runs_honest_code() {
            let proposed = self.proposed.contains(&decision.block_hash);
            let verify = self.config.verify_signatures.then_some(&self.chain_id);
            self.checker
                .decision(node, decision, proposed, &self.validators, verify);
            self.report.max_decided_round = self.report.max_decided_round.max(decision.round.get());
        }
        let Some(n) = self.nodes.get_mut(node) else {
            return;
        };
        let first_time = !n.chain.contains_key(&decision.height);
        n.chain.entry(decision.height).or_insert_with(|| Committed {
            round: decision.round,
            hash: decision.block_hash,
            certificate: decision.certificate.clone(),
        });
        if first_time
            && behaviour.must_be_live()
            && decision.height == Height(self.config.target_height)
        {
            self.remaining = self.remaining.saturating_sub(1);
            if self.remaining == 0 {
                self.target_reached_ms = Some(self.now);
            }
        }
        // Simulated blocks stand for busy ones: as the node does for a block that
        // carries transactions, late precommits get a tenth of the commit pause (and
        // none at all once every precommit is in, `start_if_complete`).
        self.push(
            self.now.saturating_add(self.config.timeouts.commit_ms / 10),
            Event::StartHeight {
                node,
                incarnation,
                height: decision.height.saturating_next(),
            },
        );
    }

    // ---- the network ---------------------------------------------------------------

    fn broadcast(&mut self, from: usize, message: &Message) {
        let Some(n) = self.nodes.get(from) else {
            return;
        };
        let behaviour = n.behaviour;
        if let Message::Proposal(p) = message {
            self.proposed.insert(p.block_hash);
        }
        let peers: Vec<usize> = (0..self.nodes.len()).filter(|p| *p != from).collect();
        match (behaviour, message) {
            (Behaviour::DoubleVoter, Message::Vote(vote)) => {
                let other = self.conflicting_vote(from, vote);
                for to in peers {
                    self.send(from, to, message);
                    if let Some(other) = &other {
                        if self.rng.chance(500_000) {
                            self.send(from, to, &Message::Vote(other.clone()));
                        }
                    }
                }
            }
            (Behaviour::EquivocatingProposer, Message::Proposal(proposal)) => {
                let other = self.second_proposal(from, proposal);
                for to in peers {
                    let Some(other) = &other else {
                        self.send(from, to, message);
                        continue;
                    };
                    let second = Message::Proposal(other.clone());
                    match self.rng.below(4) {
                        0 => self.send(from, to, message),
                        1 => self.send(from, to, &second),
                        2 => {
                            self.send(from, to, message);
                            self.send(from, to, &second);
                        }
                        _ => {
                            self.send(from, to, &second);
                            self.send(from, to, message);
                        }
                    }
                }
            }
            _ => {
                for to in peers {
                    self.send(from, to, message);
                }
            }
        }
    }

    /// A double voter's second vote: nil for a block, a made-up block for nil.
    fn conflicting_vote(&self, from: usize, vote: &Vote) -> Option<Vote> {
        let n = self.nodes.get(from)?;
        let other = match vote.block_hash {
            Some(_) => None,
            None => Some(Hash::digest(
                Domain::new("accord/sim-fake-block"),
                &[
                    vote.height.get().to_le_bytes(),
                    u64::from(vote.round.get()).to_le_bytes(),
                ]
                .concat(),
            )),
        };
        Some(Vote::sign(
            &n.keypair,
            &self.chain_id,
            vote.height,
            vote.round,
            vote.vote_type,
            other,
        ))
    }

    /// An equivocating proposer's second proposal for the same round: another valid block.
    fn second_proposal(
        &mut self,
        from: usize,
        proposal: &ConsensusProposal,
    ) -> Option<ConsensusProposal> {
        let key = (proposal.height, proposal.round);
        if let Some(p) = self.nodes.get(from)?.twin_proposals.get(&key) {
            return Some(p.clone());
        }
        let mut block = self.blocks.get(&proposal.block_hash)?.clone();
        block.salt ^= 1 << 63;
        let hash = block.hash();
        self.blocks.insert(hash, block);
        self.proposed.insert(hash);
        let n = self.nodes.get_mut(from)?;
        let second = ConsensusProposal::sign(
            &n.keypair,
            &self.chain_id,
            proposal.height,
            proposal.round,
            proposal.valid_round,
            hash,
        );
        n.twin_proposals.insert(key, second.clone());
        Some(second)
    }

    fn send(&mut self, from: usize, to: usize, message: &Message) {
        self.send_packet(from, to, &Packet::Message(message.clone()));
    }

    fn send_packet(&mut self, from: usize, to: usize, packet: &Packet) {
        let same_region = match (self.nodes.get(from), self.nodes.get(to)) {
            (Some(a), Some(b)) => a.region == b.region,
            _ => return,
        };
        self.report.messages_sent += 1;
        let times = self
            .config
            .network
            .deliveries(&mut self.rng, self.now, from, to, same_region);
        for time in times {
            self.push(
                time,
                Event::Deliver {
                    to,
                    from,
                    packet: packet.clone(),
                },
            );
        }
    }

    fn deliver(&mut self, to: usize, from: usize, message: Message) {
        if let Message::Proposal(p) = &message {
            let lost = |node| match self.mutation(node) {
                Some(Mutation::MissProposals(below)) => p.round.get() < below,
                _ => false,
            };
            if lost(to) || lost(from) {
                return;
            }
        }
        let Some(n) = self.nodes.get(to) else {
            return;
        };
        let Some(engine) = &n.engine else {
            return;
        };
        self.report.messages_delivered += 1;
        // A peer still at a height this node has left (or, at the last height a node
        // runs, has decided) gets its certificate: what block sync will do.
        let height = message.height();
        let last = Height(self.config.target_height + EXTRA_HEIGHTS);
        let left = engine.height().is_some_and(|h| h > height || h == last);
        if left && n.chain.contains_key(&height) {
            self.sync(to, from, height);
        }
        let conflict = self.nodes.get(to).and_then(|n| {
            let engine = n.engine.as_ref()?;
            if n.behaviour.runs_honest_code() {
                seen_conflict(engine, &message)
            } else {
                None
            }
        });
        self.feed(to, Input::received(message, SignatureCheck::Verified));
        if let Some((validator, height, round, kind)) = conflict {
            let reported = self.nodes.get(to).is_some_and(|n| match kind {
                Some(vote_type) => n.evidence.contains(&(validator, height, round, vote_type)),
                None => n.conflicts.contains(&(height, round)),
            });
            if !reported {
                self.checker.report(Violation::MissingEvidence {
                    node: to,
                    validator,
                    height,
                    round,
                    kind: match kind {
                        Some(VoteType::Prevote) => "prevote",
                        Some(VoteType::Precommit) => "precommit",
                        None => "proposal",
                    },
                });
            }
        }
    }

    /// Sends `peer` the certificate of `height`, at most once per propose timeout per
    /// peer and height.
    fn sync(&mut self, node: usize, peer: usize, height: Height) {
        let interval = self.config.timeouts.propose_ms;
        let now = self.now;
        let Some(n) = self.nodes.get_mut(node) else {
            return;
        };
        if n.sync_sent
            .get(&(peer, height))
            .is_some_and(|t| now < t.saturating_add(interval))
        {
            return;
        }
        n.sync_sent.insert((peer, height), now);
        let Some(c) = n.chain.get(&height) else {
            return;
        };
        let packet = Packet::Commit(c.certificate.clone());
        self.send_packet(node, peer, &packet);
    }

    // ---- the end -------------------------------------------------------------------

    fn finish(mut self) -> Report {
        let target = Height(self.config.target_height);
        let gst = self.config.network.gst_ms;
        let live: Vec<usize> = (0..self.nodes.len())
            .filter(|i| {
                self.nodes
                    .get(*i)
                    .is_some_and(|n| n.behaviour.must_be_live())
            })
            .collect();
        for &i in &live {
            let Some(n) = self.nodes.get(i) else {
                continue;
            };
            if !n.chain.contains_key(&target) {
                let decided = n.chain.keys().next_back().map_or(0, |h| h.get());
                self.checker.report(Violation::Stalled { node: i, decided });
            }
        }
        // Heights every live node started after GST decide by one round after the
        // second round with an honest proposer. (The first such round can still be lost
        // to the skew between the nodes' start times that losses before GST left.)
        for h in 1..=self.config.target_height {
            let height = Height(h);
            let starts: Vec<u64> = live
                .iter()
                .filter_map(|i| self.nodes.get(*i)?.started.get(&height).copied())
                .collect();
            if starts.len() != live.len() || starts.iter().any(|t| *t < gst) {
                continue;
            }
            let Some(&bound) = self.round_bound.get(&height) else {
                continue;
            };
            let slowest = live
                .iter()
                .filter_map(|i| self.nodes.get(*i)?.chain.get(&height).map(|c| c.round))
                .max();
            if let Some(round) = slowest.filter(|r| *r > bound) {
                self.checker.report(Violation::SlowHeight {
                    height,
                    round,
                    bound,
                });
            }
        }
        let mut report = self.report;
        report.trace_hash = self.trace;
        report.finished = self.remaining == 0;
        report.end_ms = self.now;
        report.target_reached_ms = self.target_reached_ms;
        report.violations = self.checker.into_violations();
        report.nodes = self
            .nodes
            .iter()
            .map(|n| NodeSummary {
                validator: n.validator,
                behaviour: n.behaviour,
                state: n.engine.as_ref().and_then(|e| e.state().cloned()),
                decided: n.chain.iter().next_back().map(|(h, c)| (*h, c.round)),
                stored_messages: n.engine.as_ref().map_or(0, Engine::stored_messages),
            })
            .collect();
        if self.config.record_logs {
            report.logs = self
                .nodes
                .into_iter()
                .enumerate()
                .map(|(node, n)| NodeLog {
                    node,
                    validator: n.validator,
                    entries: n.log,
                })
                .collect();
        }
        report
    }
}

/// If `message` conflicts with what `engine` already holds from the same signer for
/// the same height, round and type: the signer, height, round, and the vote type
/// (`None` for a proposal).
fn seen_conflict(
    engine: &Engine,
    message: &Message,
) -> Option<(PublicKey, Height, Round, Option<VoteType>)> {
    match message {
        Message::Vote(v) => engine
            .vote(v.height, v.round, v.vote_type, &v.validator)
            .filter(|held| held.block_hash != v.block_hash)
            .map(|_| (v.validator, v.height, v.round, Some(v.vote_type))),
        Message::Proposal(p) => engine
            .proposal(p.height, p.round)
            .filter(|held| held.proposer == p.proposer && *held != p)
            .map(|_| (p.proposer, p.height, p.round, None)),
    }
}

fn strip_requeue(outputs: &[Output]) -> Vec<&Output> {
    outputs
        .iter()
        .filter(|o| !matches!(o, Output::Requeue(_)))
        .collect()
}
