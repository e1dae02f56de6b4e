//! The node's Prometheus metrics, served on `/metrics` of the RPC port.
//!
//! ```text
//!   executor ──commit time────────────► accord_storage_commit_seconds
//!   consensus ──a height's phases──────► accord_consensus_height_phase_seconds
//!   consensus, tx admission ──verdicts► accord_p2p_gossip_messages_total
//!   commits (broadcast) ──► follow()  ► height, block interval, validators and missing
//!                                       validators by region, evidence, receipts by
//!                                       outcome, proposals by kind and status
//!   RPC middleware (Observer) ─────────► requests by method and outcome, connections,
//!                                       subscriptions
//!   a scrape ─► refresh() ─────────────► round, syncing, halted, peers by region, mempool,
//!                                       database bytes by column family, block cache
//!   a scrape ─► DoraCollector ─────────► accord_dora_*: the delivery metrics' all-time
//!                                       buckets, read from the database (right after a
//!                                       restart too)
//! ```
//!
//! Names follow Prometheus' rules: `accord_` prefix, base units (seconds, bytes),
//! `_total` on counters.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_rpc::server::{Observer, Outcome as CallOutcome};
use accord_rpc::Committed;
use accord_runtime::records::is_terminal;
use accord_runtime::Query;
use accord_types::governance::ProposalKind;
use accord_types::{Event, Height, Outcome, ProposalId, PublicKey};
use parking_lot::Mutex;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::sync::broadcast;

use crate::mempool::Mempool;
use crate::status::{SharedPeers, SharedStatus};
use crate::storage::Storage;

type Labels = Vec<(String, String)>;

/// Certificates `accord_consensus_validator_missed_certificates` looks back over.
pub const SIGNING_WINDOW: usize = 10;

/// A proposal as the gauges count it.
#[derive(Debug, Clone)]
struct Known {
    kind: ProposalKind,
    status: String,
    /// Whether nothing moves it out of that status any more (no age is reported).
    terminal: bool,
    /// Block time (ms) of the last status change.
    since_ms: u64,
}

fn label(name: &str, value: impl Into<String>) -> Labels {
    vec![(name.to_owned(), value.into())]
}

fn snake<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(map)) => map
            .get("status")
            .and_then(|s| s.as_str())
            .unwrap_or("unknown")
            .to_owned(),
        _ => "unknown".to_owned(),
    }
}

/// The phases of a height that `accord_consensus_height_phase_seconds` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeightPhase {
    /// From the height's start to its decision: the proposal and two rounds of votes.
    Decide,
    /// From the decision to the commit: the commit pause, or until every precommit is in.
    Pause,
    /// The decided block committed, the pool re-checked and the consensus log pruned,
    /// until the next height starts.
    Commit,
    /// This validator building and executing a block to propose.
    Build,
    /// Checking a proposed block: its signatures and its execution.
    Check,
}

impl HeightPhase {
    /// The phase's label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Decide => "decide",
            Self::Pause => "pause",
            Self::Commit => "commit",
            Self::Build => "build",
            Self::Check => "check",
        }
    }
}

/// Times one height's phases as the consensus task goes through them, into
/// `accord_consensus_height_phase_seconds` (decide, pause and commit; build and check
/// are timed where they happen).
#[derive(Debug)]
pub struct HeightClock {
    started: Instant,
    decided: Option<Instant>,
    committing: Option<Instant>,
}

impl Default for HeightClock {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            decided: None,
            committing: None,
        }
    }
}

impl HeightClock {
    /// A height starts: the commit of the one before, if timed here, ends.
    pub fn started(&mut self, metrics: &Metrics) {
        self.started = Instant::now();
        if let Some(committing) = self.committing.take() {
            metrics.phase_took(HeightPhase::Commit, self.started - committing);
        }
        self.decided = None;
    }

    /// The height is decided.
    pub fn decided(&mut self, metrics: &Metrics) {
        let now = Instant::now();
        metrics.phase_took(HeightPhase::Decide, now - self.started);
        self.decided = Some(now);
    }

    /// The decided block's commit begins.
    pub fn committing(&mut self, metrics: &Metrics) {
        let now = Instant::now();
        if let Some(decided) = self.decided {
            metrics.phase_took(HeightPhase::Pause, now - decided);
        }
        self.committing = Some(now);
    }
}

/// Every metric of the node.
pub struct Metrics {
    registry: Registry,
    height: Gauge,
    round: Gauge,
    syncing: Gauge,
    halted: Gauge,
    last_block_time: Gauge<f64, std::sync::atomic::AtomicU64>,
    block_interval: Histogram,
    validators: Family<Labels, Gauge>,
    missing_validators: Family<Labels, Gauge>,
    missed_certificates: Family<Labels, Gauge>,
    byzantine_validators: Gauge,
    peers: Family<Labels, Gauge>,
    mempool_size: Gauge,
    mempool_bytes: Gauge,
    mempool_max_size: Gauge,
    mempool_max_bytes: Gauge,
    rpc_requests: Family<Labels, Counter>,
    rpc_connections: Gauge<i64, AtomicI64>,
    rpc_subscriptions: Gauge<i64, AtomicI64>,
    proposals: Family<Labels, Gauge>,
    status_age: Family<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    receipts: Family<Labels, Counter>,
    commit_seconds: Histogram,
    height_phase: Family<Labels, Histogram, fn() -> Histogram>,
    gossip: Family<Labels, Counter>,
    db_sst_bytes: Family<Labels, Gauge>,
    db_memtable_bytes: Family<Labels, Gauge>,
    db_keys: Family<Labels, Gauge>,
    db_block_cache_bytes: Gauge,
    /// What the gauges of proposals are computed from: each proposal's kind, status and
    /// the block time (ms) of its last status change.
    known: Mutex<BTreeMap<ProposalId, Known>>,
    /// The signers of the last [`SIGNING_WINDOW`] certificates committed, oldest first.
    signers: Mutex<VecDeque<BTreeSet<PublicKey>>>,
    offenders: Mutex<BTreeSet<PublicKey>>,
    sources: Mutex<Option<Sources>>,
    dora: Arc<DoraCollector>,
}

/// The `accord_dora_*` metrics, read on each scrape from the all-time buckets the
/// database keeps with every block (`accord_runtime::delivery`).
#[derive(Debug, Default)]
struct DoraCollector {
    storage: Mutex<Option<Arc<Storage>>>,
}

impl prometheus_client::collector::Collector for DoraCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::metrics::MetricType;
        let Some(storage) = self.storage.lock().clone() else {
            return Ok(());
        };
        let Ok((_, totals)) = storage.delivery_totals() else {
            return Ok(());
        };
        let labels = |region: &accord_types::RegionId, kind: ProposalKind| -> Labels {
            vec![
                ("region".to_owned(), region.as_str().to_owned()),
                ("kind".to_owned(), snake(&kind)),
            ]
        };
        type Count = fn(&accord_runtime::delivery::Bucket) -> u64;
        let counters: [(&str, &str, Count); 3] = [
            (
                "accord_dora_deployments",
                "Deployments (a proposal's last phase reported succeeded in the region), by region and kind",
                |b| b.deployments,
            ),
            (
                "accord_dora_changes_executed",
                "Change executions concluded in a region (deployed, failed or rolled back), each once, by region and kind",
                |b| b.executed,
            ),
            (
                "accord_dora_changes_failed",
                "Change executions that failed (a phase reported failed) or were rolled back, each once, by region and kind",
                |b| b.failed,
            ),
        ];
        for (name, help, count) in counters {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for entry in &totals {
                let set = labels(&entry.region, entry.kind);
                let metric = family.encode_family(&set)?;
                prometheus_client::encoding::EncodeMetric::encode(
                    &prometheus_client::metrics::counter::ConstCounter::new(count(&entry.bucket)),
                    metric,
                )?;
            }
        }
        type Times = fn(&accord_runtime::delivery::Bucket) -> (u64, u64);
        let histograms: [(&str, &str, Times); 2] = [
            (
                "accord_dora_lead_time_seconds",
                "Lead time of deployments, from the block of the proposal's submission to the block of the deployment, by region and kind",
                |b| (b.lead_time_ms_sum, b.deployments),
            ),
            (
                "accord_dora_restore_seconds",
                "Time to restore: from a failure in a region to the next deployment there of the same target, by region and the restoring change's kind",
                |b| (b.restore_ms_sum, b.restore_count),
            ),
        ];
        for (name, help, times) in histograms {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            for entry in &totals {
                let set = labels(&entry.region, entry.kind);
                let (sum_ms, count) = times(&entry.bucket);
                family.encode_family(&set)?.encode_histogram::<Labels>(
                    sum_ms as f64 / 1000.0,
                    count,
                    &[(f64::INFINITY, count)],
                    None,
                )?;
            }
        }
        Ok(())
    }
}

/// What a scrape reads.
pub struct Sources {
    /// The node's status.
    pub status: SharedStatus,
    /// Connected peers.
    pub peers: SharedPeers,
    /// The pool.
    pub mempool: Arc<Mutex<Mempool>>,
    /// The database (the validators' regions).
    pub storage: Arc<Storage>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric, registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Self {
            height: Gauge::default(),
            round: Gauge::default(),
            syncing: Gauge::default(),
            halted: Gauge::default(),
            last_block_time: Gauge::default(),
            block_interval: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            validators: Family::default(),
            missing_validators: Family::default(),
            missed_certificates: Family::default(),
            byzantine_validators: Gauge::default(),
            peers: Family::default(),
            mempool_size: Gauge::default(),
            mempool_bytes: Gauge::default(),
            mempool_max_size: Gauge::default(),
            mempool_max_bytes: Gauge::default(),
            rpc_requests: Family::default(),
            rpc_connections: Gauge::default(),
            rpc_subscriptions: Gauge::default(),
            proposals: Family::default(),
            status_age: Family::default(),
            receipts: Family::default(),
            commit_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            height_phase: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0005, 2.0, 14))
            }),
            gossip: Family::default(),
            db_sst_bytes: Family::default(),
            db_memtable_bytes: Family::default(),
            db_keys: Family::default(),
            db_block_cache_bytes: Gauge::default(),
            known: Mutex::new(BTreeMap::new()),
            signers: Mutex::new(VecDeque::with_capacity(SIGNING_WINDOW)),
            offenders: Mutex::new(BTreeSet::new()),
            sources: Mutex::new(None),
            dora: Arc::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "accord_consensus_height",
            "Height of the last committed block",
            m.height.clone(),
        );
        r.register(
            "accord_consensus_round",
            "Round of the height being decided",
            m.round.clone(),
        );
        r.register(
            "accord_consensus_syncing",
            "1 while catching up through block sync",
            m.syncing.clone(),
        );
        r.register(
            "accord_node_halted",
            "1 once the node has stopped deciding",
            m.halted.clone(),
        );
        r.register(
            "accord_consensus_last_block_timestamp_seconds",
            "Timestamp of the last committed block (proposer's clock), Unix seconds",
            m.last_block_time.clone(),
        );
        r.register(
            "accord_consensus_block_interval_seconds",
            "Time between the timestamps of consecutive blocks",
            m.block_interval.clone(),
        );
        r.register(
            "accord_consensus_validators",
            "Validators of the set that decided the last block, by region",
            m.validators.clone(),
        );
        r.register(
            "accord_consensus_missing_validators",
            "Validators of the set whose precommit is not in the last certificate, by region",
            m.missing_validators.clone(),
        );
        r.register(
            "accord_consensus_validator_missed_certificates",
            "Of the last 10 certificates this node committed, those without the validator's precommit, by validator and region",
            m.missed_certificates.clone(),
        );
        r.register(
            "accord_consensus_byzantine_validators",
            "Distinct validators with equivocation evidence recorded on chain since start",
            m.byzantine_validators.clone(),
        );
        r.register(
            "accord_p2p_peers",
            "Connected peers, by region (\"none\": not a validator)",
            m.peers.clone(),
        );
        r.register(
            "accord_mempool_size",
            "Transactions in the pool",
            m.mempool_size.clone(),
        );
        r.register(
            "accord_mempool_bytes",
            "Bytes of the transactions in the pool",
            m.mempool_bytes.clone(),
        );
        r.register(
            "accord_mempool_max_size",
            "Most transactions the pool holds ([mempool] max_txs)",
            m.mempool_max_size.clone(),
        );
        r.register(
            "accord_mempool_max_bytes",
            "Most bytes the pool holds ([mempool] max_bytes)",
            m.mempool_max_bytes.clone(),
        );
        r.register(
            "accord_rpc_requests",
            "RPC calls, by method and outcome",
            m.rpc_requests.clone(),
        );
        r.register(
            "accord_rpc_connections",
            "Open RPC connections",
            m.rpc_connections.clone(),
        );
        r.register(
            "accord_rpc_subscriptions",
            "Open RPC subscriptions",
            m.rpc_subscriptions.clone(),
        );
        r.register(
            "accord_gov_proposals",
            "Proposals by kind and status",
            m.proposals.clone(),
        );
        r.register(
            "accord_gov_status_age_seconds",
            "Longest time a proposal has been in its status, by kind and status (block time of the last block minus that of the status change; statuses a proposal never leaves are left out)",
            m.status_age.clone(),
        );
        r.register(
            "accord_gov_receipts",
            "Receipts of committed blocks, by outcome",
            m.receipts.clone(),
        );
        r.register(
            "accord_storage_commit_seconds",
            "Time to write a block's synced RocksDB batch",
            m.commit_seconds.clone(),
        );
        r.register(
            "accord_consensus_height_phase_seconds",
            "Time of a height's phases, by phase: decide (from the height's start to its decision), pause (from the decision to the commit), commit (the block committed, the pool re-checked and the consensus log pruned, until the next height starts), build (this validator building a block to propose), check (checking a proposed block)",
            m.height_phase.clone(),
        );
        r.register(
            "accord_p2p_gossip_messages",
            "Gossip received, by topic and verdict: accepted (forwarded), ignored (not forwarded), rejected (invalid: not forwarded, the sender penalized)",
            m.gossip.clone(),
        );
        r.register(
            "accord_storage_sst_bytes",
            "Bytes of the database's live table files on disk, by column family",
            m.db_sst_bytes.clone(),
        );
        r.register(
            "accord_storage_memtable_bytes",
            "Bytes of the database's memtables, by column family",
            m.db_memtable_bytes.clone(),
        );
        r.register(
            "accord_storage_keys",
            "Keys in the database as RocksDB estimates them, by column family",
            m.db_keys.clone(),
        );
        r.register(
            "accord_storage_block_cache_bytes",
            "Bytes held by the block cache the column families share",
            m.db_block_cache_bytes.clone(),
        );
        r.register_collector(Box::new(Arc::clone(&m.dora)));
        Self { registry, ..m }
    }

    /// A gossip message on `topic` was judged `verdict`.
    pub fn gossip(&self, topic: &str, verdict: &str) {
        let labels = vec![
            ("topic".to_owned(), topic.to_owned()),
            ("verdict".to_owned(), verdict.to_owned()),
        ];
        self.gossip.get_or_create(&labels).inc();
    }

    /// Sets what scrapes read.
    pub fn set_sources(&self, sources: Sources) {
        *self.dora.storage.lock() = Some(Arc::clone(&sources.storage));
        *self.sources.lock() = Some(sources);
    }

    /// A block's synced commit took `took`.
    pub fn commit_took(&self, took: Duration) {
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// A phase of a height took `took`.
    pub fn phase_took(&self, phase: HeightPhase, took: Duration) {
        self.height_phase
            .get_or_create(&label("phase", phase.as_str()))
            .observe(took.as_secs_f64());
    }

    /// At start: the stored head's height and block time, and every proposal in the
    /// state by kind and status with the time of its last status change.
    pub fn load(&self, storage: &Storage) -> anyhow::Result<()> {
        if let Some(head) = storage.head()? {
            self.height
                .set(i64::try_from(head.height.0).unwrap_or(i64::MAX));
            if let Some(header) = storage.header(head.height)? {
                self.last_block_time.set(header.timestamp.0 as f64 / 1000.0);
            }
        }
        let store = storage.state_snapshot();
        let proposals = Query::new(&store).proposals(None, usize::MAX)?;
        let mut known = self.known.lock();
        for p in proposals {
            let since_ms = storage
                .header(p.updated_at)?
                .map_or(0, |header| header.timestamp.0);
            known.insert(
                p.id,
                Known {
                    kind: p.kind,
                    status: snake(&p.status),
                    terminal: is_terminal(p.status),
                    since_ms,
                },
            );
        }
        drop(known);
        self.recount();
        Ok(())
    }

    fn recount(&self) {
        self.proposals.clear();
        for known in self.known.lock().values() {
            let labels = vec![
                ("kind".to_owned(), snake(&known.kind)),
                ("status".to_owned(), known.status.clone()),
            ];
            self.proposals.get_or_create(&labels).inc();
        }
    }

    /// Updates from a committed block.
    pub fn on_commit(&self, block: &Committed, storage: &Storage) {
        let header = &block.block.header;
        let previous = self.last_block_time.get();
        let now = header.timestamp.0 as f64 / 1000.0;
        if previous > 0.0 && now >= previous {
            self.block_interval.observe(now - previous);
        }
        self.last_block_time.set(now);
        self.height
            .set(i64::try_from(header.height.0).unwrap_or(i64::MAX));
        let mut touched = false;
        for receipt in block.receipts.iter() {
            let outcome = match receipt.outcome {
                Outcome::Success => "success",
                Outcome::Failed { .. } => "failed",
            };
            self.receipts
                .get_or_create(&label("outcome", outcome))
                .inc();
            for event in &receipt.events {
                match event {
                    Event::ProposalSubmitted { proposal, kind, .. } => {
                        let known = Known {
                            kind: *kind,
                            status: "voting".to_owned(),
                            terminal: false,
                            since_ms: header.timestamp.0,
                        };
                        self.known.lock().insert(*proposal, known);
                        touched = true;
                    }
                    Event::StatusChanged {
                        proposal, status, ..
                    } => {
                        if let Some(entry) = self.known.lock().get_mut(proposal) {
                            entry.status = snake(status);
                            entry.terminal = is_terminal(*status);
                            entry.since_ms = header.timestamp.0;
                        }
                        touched = true;
                    }
                    Event::EvidenceRecorded { validator, .. } => {
                        let mut offenders = self.offenders.lock();
                        offenders.insert(*validator);
                        self.byzantine_validators
                            .set(i64::try_from(offenders.len()).unwrap_or(i64::MAX));
                    }
                    _ => {}
                }
            }
        }
        if touched {
            self.recount();
        }
        // The set that decided this block, against the certificate's signers.
        if let Ok(Some(set)) = storage.validator_set(header.height) {
            let signers: BTreeSet<PublicKey> = block
                .certificate
                .signatures
                .iter()
                .map(|s| s.validator)
                .collect();
            let mut window = self.signers.lock();
            if window.len() == SIGNING_WINDOW {
                window.pop_front();
            }
            window.push_back(signers.clone());
            self.missed_certificates.clear();
            for v in set.validators() {
                let missed = window.iter().filter(|s| !s.contains(&v.key)).count();
                let labels = vec![
                    ("validator".to_owned(), v.name.clone()),
                    ("region".to_owned(), v.region.as_str().to_owned()),
                ];
                self.missed_certificates
                    .get_or_create(&labels)
                    .set(i64::try_from(missed).unwrap_or(i64::MAX));
            }
            drop(window);
            self.missing_validators.clear();
            self.validators.clear();
            for region in set.region_power().keys() {
                let members = set.validators().iter().filter(|v| &v.region == region);
                let (total, missing) = members.fold((0i64, 0i64), |(t, m), v| {
                    (t + 1, m + i64::from(!signers.contains(&v.key)))
                });
                let labels = label("region", region.as_str());
                self.validators.get_or_create(&labels).set(total);
                self.missing_validators.get_or_create(&labels).set(missing);
            }
        }
    }

    /// The longest time a proposal of each kind has been in each status it may still
    /// leave, against the last block's time.
    fn set_status_ages(&self) {
        let now_ms = (self.last_block_time.get() * 1000.0) as u64;
        let mut oldest: BTreeMap<(String, String), u64> = BTreeMap::new();
        for known in self.known.lock().values() {
            if known.terminal {
                continue;
            }
            let key = (snake(&known.kind), known.status.clone());
            let since = oldest.entry(key).or_insert(u64::MAX);
            *since = (*since).min(known.since_ms);
        }
        self.status_age.clear();
        for ((kind, status), since_ms) in oldest {
            let labels = vec![("kind".to_owned(), kind), ("status".to_owned(), status)];
            let age = now_ms.saturating_sub(since_ms) as f64 / 1000.0;
            self.status_age.get_or_create(&labels).set(age);
        }
    }

    /// Reads the gauges that follow the node's live state, then encodes everything.
    pub fn render(&self) -> String {
        if let Some(sources) = &*self.sources.lock() {
            let status = sources.status.read().clone();
            self.round.set(i64::from(status.round.0));
            self.syncing.set(i64::from(status.syncing));
            self.halted.set(i64::from(status.halted));
            {
                let pool = sources.mempool.lock();
                let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
                self.mempool_size.set(count(pool.len()));
                self.mempool_bytes.set(count(pool.bytes()));
                self.mempool_max_size.set(count(pool.config().max_txs));
                self.mempool_max_bytes.set(count(pool.config().max_bytes));
            }
            let usage = sources.storage.usage();
            let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            for cf in &usage.column_families {
                let labels = label("column_family", cf.name);
                self.db_sst_bytes
                    .get_or_create(&labels)
                    .set(gauge(cf.sst_bytes));
                self.db_memtable_bytes
                    .get_or_create(&labels)
                    .set(gauge(cf.memtable_bytes));
                self.db_keys.get_or_create(&labels).set(gauge(cf.keys));
            }
            self.db_block_cache_bytes
                .set(gauge(usage.block_cache_bytes));
            let store = sources.storage.state_snapshot();
            let specs = crate::chain::validators_at(&store, Height(u64::MAX))
                .map(|(_, specs)| specs)
                .unwrap_or_default();
            self.peers.clear();
            for (key, _) in sources.peers.read().iter() {
                let region = specs
                    .iter()
                    .find(|s| &s.p2p_key == key)
                    .map_or("none".to_owned(), |s| s.region.as_str().to_owned());
                self.peers.get_or_create(&label("region", region)).inc();
            }
        }
        self.set_status_ages();
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Follows the commit announcements until the channel closes.
    pub fn follow(
        self: Arc<Self>,
        mut commits: broadcast::Receiver<Committed>,
        storage: Arc<Storage>,
    ) {
        tokio::spawn(async move {
            loop {
                match commits.recv().await {
                    Ok(block) => {
                        let metrics = Arc::clone(&self);
                        let storage = Arc::clone(&storage);
                        // A point read of the validator set: off the async workers.
                        let _ = tokio::task::spawn_blocking(move || {
                            metrics.on_commit(&block, &storage);
                        })
                        .await;
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }
}

impl accord_rpc::rest::MetricsSource for Metrics {
    fn encode(&self) -> String {
        self.render()
    }
}

impl Observer for Metrics {
    fn call(&self, method: &str, outcome: CallOutcome) {
        let outcome = match outcome {
            CallOutcome::Ok => "ok",
            CallOutcome::Error => "error",
            CallOutcome::Refused => "refused",
            CallOutcome::RateLimited => "rate_limited",
        };
        let labels = vec![
            ("method".to_owned(), method.to_owned()),
            ("outcome".to_owned(), outcome.to_owned()),
        ];
        self.rpc_requests.get_or_create(&labels).inc();
    }

    fn connection(&self, open: bool) {
        if open {
            self.rpc_connections.inc();
        } else {
            self.rpc_connections.dec();
        }
    }

    fn subscription(&self, open: bool) {
        if open {
            self.rpc_subscriptions.inc();
        } else {
            self.rpc_subscriptions.dec();
        }
    }
}
