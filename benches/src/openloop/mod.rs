//! `loadgen --rate`: an open-loop load on a running accord network.
//!
//! # Load
//!
//! Set-up: the `author` opens a pool of proposals touching every region that has
//! voters, and waits for them to be finalized. Then every transaction of the run is
//! signed before the first is sent: votes of all the voter accounts (a `bench` network
//! has 1,000) on the proposals of the pool, on the fixed schedule of [`plan`] —
//! `rate` per second, whatever the chain does. Due transactions go out every few
//! milliseconds as JSON-RPC batches (at most 50 calls each), to the node of their
//! account, over at most `connections` batches in flight per node; a batch that waits
//! for a free connection is late, and its lateness counts in the latency.
//!
//! # Measurement
//!
//! Every node is followed over `chain_subscribeFinalizedBlocks`; a height is finalized
//! when the first node announces it, and its block (read from that node) names the
//! transactions it holds. Latency runs from a transaction's scheduled time, not its
//! send, to that announcement (no coordinated omission: a generator that falls behind
//! shows it as latency), for transactions scheduled inside the measured window;
//! throughput is the run's transactions in heights first announced inside it. After the
//! schedule, the run waits for the transactions the nodes accepted (or `drain`).
//!
//! The window can be reported in parts as well (`splits`: before and after a validator
//! is killed, or minute by minute in a soak), each with the same figures for the
//! transactions due in it and the heights first announced in it, and each node's CPU
//! and resident memory over it (sampled every second).
//!
//! Nodes can be left out of the submissions (`exclude`), by validator name or RPC URL:
//! a node that is to be stopped during the run then holds no account's transactions;
//! its finalized blocks are still followed while it runs, and the end of its
//! subscription is recorded, not an error.
//!
//! ```text
//!  set-up ─ sign all ─┬─ warm-up ─┬──── measured window ────┬── drain ──► report
//!                     │ schedule  │ latency of txs due here │ accepted txs
//!                     │ starts    │ tx/s finalized here     │ finalized or lost
//! ```
//!
//! Beside the chain's figures, the report holds what the run cost: each node's CPU
//! (cores over the window), peak resident memory and disk growth per finalized
//! transaction (read from `/proc` and the nodes' data directories when the network is
//! an `accord localnet` home), loadgen's own CPU, and the signature limit of the
//! machine measured in the same run: every validator checks every signature once, so
//! `cores ÷ (validators × cost of one batched check on one core)` transactions per
//! second is more than any chain of these validators can finalize here.

pub mod plan;
pub mod procstat;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use accord_node::client::Client;
use accord_node::rpc::TX_REFUSED;
use accord_rpc::types::TransactionStatus;
use accord_rpc::{ChainApiClient, GovApiClient};
use accord_types::codec::hex_encode;
use accord_types::crypto::{verify_batch, SignedMessage};
use accord_types::governance::VoteChoice;
use accord_types::{
    ChainId, Event, Hash, Keypair, Nonce, Outcome, Payload, ProposalId, RegionId, Transaction,
};
use anyhow::{bail, ensure, Context, Result};
use futures::StreamExt;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::types::ErrorObject;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::loadgen::stats::{Summary, SummaryMs};
use crate::loadgen::{Accounts, Target};
use plan::Slot;

/// Calls in one JSON-RPC batch (the nodes' default `max_batch_len`).
pub const MAX_BATCH: usize = 50;
/// Signatures in the batch whose check sets the signature limit.
const LIMIT_BATCH: usize = 1024;
/// Most transactions in a run's schedule: every one is signed and held in memory (about
/// 1 KiB each) before the first is sent.
pub const MAX_SCHEDULED: f64 = 10_000_000.0;

/// An open-loop run's settings.
#[derive(Debug, Clone)]
pub struct OpenConfig {
    /// The network.
    pub target: Target,
    /// The `accord localnet` home, when the network is one: its node processes and
    /// data directories are measured.
    pub home: Option<PathBuf>,
    /// Transactions per second offered.
    pub rate: f64,
    /// The measured window.
    pub duration: Duration,
    /// Load before the measured window, not measured.
    pub warmup: Duration,
    /// Longest wait after the schedule for the accepted transactions.
    pub drain: Duration,
    /// Proposals the votes go to.
    pub proposals: usize,
    /// Batches in flight per node, at most.
    pub connections: usize,
    /// How often due transactions are sent.
    pub tick: Duration,
    /// Nodes that receive no submissions: validator names or RPC URLs.
    pub exclude: Vec<String>,
    /// Where the window is split into parts, as offsets into it (none: one part).
    pub splits: Vec<Duration>,
}

impl OpenConfig {
    /// Defaults for `target` at `rate`: 30 s measured after 5 s of warm-up, 30 s of
    /// drain, 8 proposals, 4 batches in flight per node, a send every 5 ms.
    pub fn new(target: Target, rate: f64) -> Self {
        Self {
            target,
            home: None,
            rate,
            duration: Duration::from_secs(30),
            warmup: Duration::from_secs(5),
            drain: Duration::from_secs(30),
            proposals: 8,
            connections: 4,
            tick: Duration::from_millis(5),
            exclude: Vec::new(),
            splits: Vec::new(),
        }
    }
}

/// Most parts a window is reported in.
pub const MAX_PARTS: usize = 10_000;

/// Split points every `every` over a window of `duration`: `every`, `2·every`, … below
/// `duration`, at most [`MAX_PARTS`] parts (none for a zero `every`).
pub fn every(duration: Duration, every: Duration) -> Vec<Duration> {
    if every.is_zero() {
        return Vec::new();
    }
    std::iter::successors(Some(every), |at| at.checked_add(every))
        .take_while(|at| *at < duration)
        .take(MAX_PARTS - 1)
        .collect()
}

/// The parts of a window of `duration` cut at `splits` (offsets into it; those outside
/// the window and repeats are ignored), as `(from, to)` offsets in order.
pub fn parts(duration: Duration, splits: &[Duration]) -> Vec<(Duration, Duration)> {
    let mut cuts: Vec<Duration> = splits
        .iter()
        .copied()
        .filter(|at| !at.is_zero() && *at < duration)
        .collect();
    cuts.sort();
    cuts.dedup();
    let mut bounds = vec![Duration::ZERO];
    bounds.extend(cuts);
    bounds.push(duration);
    bounds.windows(2).map(|w| (w[0], w[1])).collect()
}

/// The nodes that receive submissions: every index of `urls` but those whose URL or
/// validator name (`names`, `None` when unknown) is in `exclude`. Each entry of
/// `exclude` must name a node, and at least one node must be left.
pub fn submission_nodes(
    urls: &[String],
    names: &[Option<String>],
    exclude: &[String],
) -> Result<Vec<usize>> {
    let same_url = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    let mut excluded = vec![false; urls.len()];
    for wanted in exclude {
        let mut found = false;
        for (i, url) in urls.iter().enumerate() {
            let named = names.get(i).and_then(Option::as_deref) == Some(wanted.as_str());
            if named || same_url(url, wanted) {
                excluded[i] = true;
                found = true;
            }
        }
        ensure!(
            found,
            "--exclude-node {wanted}: no node of the run has that validator name or RPC URL \
             (nodes: {})",
            urls.iter()
                .zip(names.iter().chain(std::iter::repeat(&None)))
                .map(|(url, name)| format!("{} {url}", name.as_deref().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let left: Vec<usize> = (0..urls.len()).filter(|i| !excluded[*i]).collect();
    ensure!(
        !left.is_empty(),
        "every node is excluded: nothing to submit to"
    );
    Ok(left)
}

/// What an open-loop run measured.
#[derive(Debug, Clone, Serialize)]
pub struct OpenReport {
    /// Transactions per second the schedule offered.
    pub offered_tps: f64,
    /// The measured window, seconds.
    pub window_s: f64,
    /// Signing accounts.
    pub accounts: usize,
    /// Nodes the load went to.
    pub nodes: usize,
    /// The validator name of each node of the run, in the order of its RPC URLs
    /// (`None`: it did not answer at the start).
    pub node_names: Vec<Option<String>>,
    /// The nodes left out of the submissions, as given.
    pub excluded: Vec<String>,
    /// Validators of the chain.
    pub validators: usize,
    /// Transactions due in the window.
    pub scheduled: u64,
    /// Of the run's transactions: accepted by a node.
    pub accepted: u64,
    /// Of the run's transactions: refused, by error code.
    pub refused: BTreeMap<String, u64>,
    /// Of the run's transactions: never answered (the run ended first, or the node
    /// did not answer).
    pub unanswered: u64,
    /// Transactions of the run finalized per second in the window.
    pub finalized_tps: f64,
    /// Due-to-finalized latency of the window's transactions that were finalized.
    pub latency: Option<SummaryMs>,
    /// Of the window's transactions: accepted and never finalized.
    pub lost: u64,
    /// Due-to-answer time of the window's submissions: how far behind its schedule the
    /// generator (or the nodes' RPC) fell.
    pub send_lag: Option<SummaryMs>,
    /// Transactions finalized during the run that it did not send.
    pub foreign: u64,
    /// Heights first announced in the window.
    pub heights: u64,
    /// Of those, heights decided past round 0 (a round timed out).
    pub heights_past_round_0: u64,
    /// Transactions per block in the window: mean.
    pub txs_per_block_mean: f64,
    /// Transactions per block in the window: most.
    pub txs_per_block_max: u64,
    /// The machine's signature limit, measured in this run.
    pub signature_limit: SignatureLimit,
    /// `finalized_tps` over the signature limit.
    pub fraction_of_limit: f64,
    /// What each node used in the window (an `accord localnet` home only).
    pub node_costs: Vec<NodeCost>,
    /// Cores loadgen itself used in the window.
    pub loadgen_cores: f64,
    /// Nodes whose finality subscription ended during the run.
    pub nodes_lost: Vec<NodeLost>,
    /// The window in parts, when it was split.
    pub parts: Vec<PartReport>,
}

/// A node whose finality subscription ended (the node stopped, or closed it).
#[derive(Debug, Clone, Serialize)]
pub struct NodeLost {
    /// Its validator name, or its URL.
    pub node: String,
    /// When, in seconds from the window's start (negative: before it).
    pub at_s: f64,
}

/// One part of the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct PartReport {
    /// Its start, seconds into the window.
    pub from_s: f64,
    /// Its end, seconds into the window.
    pub to_s: f64,
    /// Transactions due in it.
    pub scheduled: u64,
    /// Transactions of the run finalized per second in it.
    pub finalized_tps: f64,
    /// Due-to-finalized latency of the transactions due in it that were finalized.
    pub latency: Option<SummaryMs>,
    /// Of the transactions due in it: accepted and never finalized.
    pub lost: u64,
    /// Heights first announced in it.
    pub heights: u64,
    /// Of those, heights decided past round 0.
    pub heights_past_round_0: u64,
    /// What each node used in it (an `accord localnet` home only).
    pub nodes: Vec<NodePart>,
}

/// What one node used in a part of the window.
#[derive(Debug, Clone, Serialize)]
pub struct NodePart {
    /// The validator.
    pub name: String,
    /// CPU time over the part's length (up to its exit, if it exited).
    pub cores: f64,
    /// Resident memory, mean of the samples (one a second), MiB; 0 when it was not
    /// running.
    pub rss_mean_mib: f64,
    /// Resident memory, most of the samples, MiB.
    pub rss_max_mib: f64,
}

/// The most transactions per second the validators' signature checks allow here.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SignatureLimit {
    /// One signature of a batch of 1,024 checked on one core, microseconds (median of
    /// five).
    pub per_signature_us: f64,
    /// Cores of the machine.
    pub cores: usize,
    /// `cores × 10⁶ ÷ (validators × per_signature_us)`.
    pub limit_tps: f64,
}

/// What one node used in the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct NodeCost {
    /// The validator.
    pub name: String,
    /// CPU time over the window's length (up to its exit, if it exited).
    pub cores: f64,
    /// Peak resident memory of the process so far, MiB.
    pub peak_rss_mib: f64,
    /// Resident memory at the window's end (or its last sample), MiB.
    pub rss_mib: f64,
    /// Whether it still ran at the window's end.
    pub running_at_end: bool,
    /// Growth of its data directory over the window, per transaction finalized in it.
    pub disk_bytes_per_tx: f64,
}

/// One signed transaction of the schedule and what became of it.
struct Sent {
    slot: Slot,
    hex: String,
    answered: Option<Instant>,
    refused: Option<String>,
    finalized: Option<Instant>,
}

/// The first announcement of a finalized height.
#[derive(Debug, Clone, Copy)]
struct Announced {
    at: Instant,
    transactions: u32,
    /// The round it was decided in.
    round: u32,
}

/// What the senders and watchers change, under one lock never held across an await.
#[derive(Default)]
struct Shared {
    sent: Vec<Sent>,
    /// First announcement of each height.
    heights: BTreeMap<u64, Announced>,
    foreign: u64,
    watch_errors: Vec<String>,
    /// Nodes whose subscription ended, and when.
    lost_nodes: Vec<(usize, Instant)>,
}

struct Run {
    clients: Vec<Client>,
    /// How each node is called in messages: its validator name, or its URL.
    labels: Vec<String>,
    shared: Mutex<Shared>,
    by_hash: HashMap<Hash, usize>,
}

impl Run {
    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs the open-loop load of `config` and reports on it.
pub async fn run(config: &OpenConfig) -> Result<OpenReport> {
    ensure!(
        config.rate.is_finite() && config.rate > 0.0,
        "--rate must be a positive number of transactions per second"
    );
    ensure!(
        !config.duration.is_zero(),
        "--duration must be at least 1 s"
    );
    let week = Duration::from_secs(7 * 24 * 3600);
    ensure!(
        config.warmup <= week && config.duration <= week && config.drain <= week,
        "--warmup, --duration and --drain are at most a week each"
    );
    let length = Some(config.warmup + config.duration)
        .filter(|length| config.rate * length.as_secs_f64() <= MAX_SCHEDULED)
        .with_context(|| {
            format!(
                "--rate × (--warmup + --duration) is more than {MAX_SCHEDULED} transactions, \
                 all signed in memory before the run"
            )
        })?;
    let accounts = Accounts::read(&config.target.keys)?;
    let clients = config
        .target
        .rpc
        .iter()
        .map(|url| Client::new(url))
        .collect::<Result<Vec<_>>>()?;
    ensure!(!clients.is_empty(), "no node to load");
    let mut statuses = Vec::new();
    for client in &clients {
        statuses.push(client.status().await);
    }
    let (answering, status) = statuses
        .iter()
        .enumerate()
        .find_map(|(i, s)| s.as_ref().ok().map(|s| (i, s.clone())))
        .with_context(|| match statuses.first() {
            Some(Err(error)) => format!("no node answers: {error:#}"),
            _ => "no node answers".to_owned(),
        })?;
    let chain_id = status.chain_id.clone();
    let view = clients[answering]
        .api()
        .validators(None)
        .await
        .context("cannot read the validator set")?;
    let validators: usize = view.regions.iter().map(|r| r.validators.len()).sum();
    let names: Vec<Option<String>> = statuses
        .iter()
        .map(|s| {
            let key = s.as_ref().ok()?.validator;
            view.regions
                .iter()
                .flat_map(|r| r.validators.iter())
                .find(|v| v.key == key)
                .map(|v| v.name.clone())
        })
        .collect();
    let submit_to = submission_nodes(&config.target.rpc, &names, &config.exclude)?;
    for &i in &submit_to {
        if let Err(error) = &statuses[i] {
            bail!(
                "{} does not answer ({error:#}); leave it out with --exclude-node",
                config.target.rpc[i]
            );
        }
    }
    let first = &clients[submit_to[0]];
    let regions = accounts.regions();
    let voters: Vec<(RegionId, Keypair)> = accounts
        .voters
        .iter()
        .flat_map(|(region, keys)| keys.iter().map(|(_, kp)| (region.clone(), kp.clone())))
        .collect();

    eprintln!(
        "loadgen: opening {} proposals, reading {} voters' nonces",
        config.proposals,
        voters.len()
    );
    let pool = open_pool(
        first,
        &chain_id,
        &accounts.author,
        &regions,
        config.proposals,
    )
    .await?;
    let nonces = first_nonces(first, &voters).await?;

    let mut slots = plan::schedule(
        config.rate,
        length,
        voters.len(),
        submit_to.len(),
        pool.len(),
    );
    for slot in &mut slots {
        slot.node = submit_to[slot.node % submit_to.len()];
    }
    let accounts_count = voters.len();
    eprintln!("loadgen: signing {} transactions", slots.len());
    // Seconds of work on every core: off the runtime's workers.
    let (slots, signed, signature_limit) = tokio::task::spawn_blocking(move || {
        let signed = sign_all(&slots, &voters, &nonces, &pool, &chain_id);
        let limit = measure_signature_limit(&signed, validators);
        (slots, signed, limit)
    })
    .await
    .context("signing stopped")?;
    let signature_limit = signature_limit?;
    let by_hash: HashMap<Hash, usize> = signed
        .iter()
        .enumerate()
        .map(|(i, tx)| (tx.hash(), i))
        .collect();
    let sent: Vec<Sent> = signed
        .iter()
        .zip(&slots)
        .map(|(tx, slot)| Sent {
            slot: *slot,
            hex: hex_encode(&tx.encode()),
            answered: None,
            refused: None,
            finalized: None,
        })
        .collect();
    drop(signed);
    let labels = names
        .iter()
        .zip(&config.target.rpc)
        .map(|(name, url)| name.clone().unwrap_or_else(|| url.clone()))
        .collect();
    let run = Arc::new(Run {
        clients,
        labels,
        shared: Mutex::new(Shared {
            sent,
            ..Shared::default()
        }),
        by_hash,
    });

    let mut watchers = Vec::new();
    for node in 0..run.clients.len() {
        watchers.push(tokio::spawn(watch(Arc::clone(&run), node)));
    }
    let processes = config
        .home
        .as_deref()
        .map(procstat::node_processes)
        .unwrap_or_default();
    let start = Instant::now() + Duration::from_millis(500);
    let measure_start = start + config.warmup;
    let measure_end = measure_start + config.duration;
    let parts = parts(config.duration, &config.splits);
    let costs = tokio::spawn(measure_costs(
        processes,
        measure_start,
        measure_end,
        parts.clone(),
    ));

    eprintln!(
        "loadgen: {:.0} tx/s for {} s ({} s warm-up) to {} nodes",
        config.rate,
        length.as_secs(),
        config.warmup.as_secs(),
        submit_to.len()
    );
    let unix = |at: Instant| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (now + at.saturating_duration_since(Instant::now())).as_secs_f64()
    };
    eprintln!(
        "loadgen: the measured window runs from {:.3} to {:.3} (unix time)",
        unix(measure_start),
        unix(measure_end)
    );
    send_all(&run, &slots, start, config).await;
    drain(&run, measure_end + config.drain).await;
    for watcher in watchers {
        watcher.abort();
    }
    let costs = costs.await.unwrap_or_default();
    let shared = run.shared();
    if !shared.watch_errors.is_empty() && shared.heights.is_empty() {
        bail!(
            "no node announced a finalized block: {}",
            shared.watch_errors.join("; ")
        );
    }
    let at_s = |at: Instant| {
        if at >= measure_start {
            at.duration_since(measure_start).as_secs_f64()
        } else {
            -measure_start.duration_since(at).as_secs_f64()
        }
    };
    let mut report = report(
        &shared,
        config,
        measure_start,
        &parts,
        validators,
        accounts_count,
        submit_to.len(),
        signature_limit,
        &costs,
    );
    report.node_names = names;
    report.nodes_lost = shared
        .lost_nodes
        .iter()
        .map(|(node, at)| NodeLost {
            node: run.labels[*node].clone(),
            at_s: at_s(*at),
        })
        .collect();
    Ok(report)
}

/// Opens `count` documentation proposals by `author` touching `regions` and answers
/// their ids once they are finalized.
async fn open_pool(
    client: &Client,
    chain_id: &ChainId,
    author: &Keypair,
    regions: &[RegionId],
    count: usize,
) -> Result<Vec<ProposalId>> {
    let nonce = client
        .api()
        .account(author.public())
        .await
        .context("cannot read the author's nonce")?
        .pending_nonce;
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut hashes = Vec::new();
    for i in 0..count.max(1) as u64 {
        let tx = Transaction::sign(
            author,
            chain_id.clone(),
            Nonce(nonce + i),
            Payload::SubmitProposal {
                draft: Box::new(crate::loadgen::draft(i, run, regions)),
            },
        );
        client
            .api()
            .submit_transaction(hex_encode(&tx.encode()))
            .await
            .context("a proposal of the pool was refused")?;
        hashes.push(tx.hash());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ids = Vec::new();
    for hash in hashes {
        loop {
            ensure!(
                Instant::now() < deadline,
                "the pool's proposals were not finalized within 60 s"
            );
            match client.api().transaction(hash).await? {
                TransactionStatus::Finalized { receipt, .. } => {
                    ensure!(
                        matches!(receipt.outcome, Outcome::Success),
                        "a proposal of the pool failed: {:?}",
                        receipt.outcome
                    );
                    let id = receipt.events.iter().find_map(|event| match event {
                        Event::ProposalSubmitted { proposal, .. } => Some(*proposal),
                        _ => None,
                    });
                    ids.push(id.context("a pool proposal's receipt names no proposal")?);
                    break;
                }
                TransactionStatus::Pending => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => bail!("a proposal of the pool was not finalized: {other:?}"),
            }
        }
    }
    Ok(ids)
}

/// Each voter's next nonce (its `pending_nonce`), 32 reads at a time.
async fn first_nonces(client: &Client, voters: &[(RegionId, Keypair)]) -> Result<Vec<u64>> {
    futures::stream::iter(voters.iter().map(|(_, kp)| async move {
        client
            .api()
            .account(kp.public())
            .await
            .map(|a| a.pending_nonce)
            .context("cannot read a voter's nonce")
    }))
    .buffered(32)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect()
}

/// Signs every transaction of the schedule, on every core.
fn sign_all(
    slots: &[Slot],
    voters: &[(RegionId, Keypair)],
    nonces: &[u64],
    pool: &[ProposalId],
    chain_id: &ChainId,
) -> Vec<Transaction> {
    let sign = |slot: &Slot| {
        let (region, keypair) = &voters[slot.account];
        Transaction::sign(
            keypair,
            chain_id.clone(),
            Nonce(nonces[slot.account] + slot.seq),
            Payload::Vote {
                proposal: pool[slot.proposal % pool.len()],
                region: region.clone(),
                choice: if slot.seq % 2 == 0 {
                    VoteChoice::Yes
                } else {
                    VoteChoice::No
                },
            },
        )
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = slots.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = slots
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(sign).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().unwrap_or_default())
            .collect()
    })
}

/// The cost of one signature in a batch of [`LIMIT_BATCH`] checked on one core (the
/// median of five), and the limit it sets.
fn measure_signature_limit(signed: &[Transaction], validators: usize) -> Result<SignatureLimit> {
    ensure!(
        !signed.is_empty(),
        "a run without transactions cannot measure the signature limit"
    );
    // A short run's transactions more than once: a batch costs the same.
    let sample: Vec<&Transaction> = signed.iter().cycle().take(LIMIT_BATCH).collect();
    let messages: Vec<Vec<u8>> = sample.iter().map(|tx| tx.signing_bytes()).collect();
    let items: Vec<SignedMessage<'_>> = sample
        .iter()
        .zip(&messages)
        .map(|(tx, message)| tx.signed_message(message))
        .collect();
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .context("cannot start a one-thread pool")?;
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            one_core.install(|| {
                let started = Instant::now();
                let ok = verify_batch(&items).is_ok();
                (started.elapsed(), ok)
            })
        })
        .map(|(took, ok)| {
            if ok {
                Ok(took)
            } else {
                bail!("a signed transaction does not verify")
            }
        })
        .collect::<Result<_>>()?;
    times.sort();
    #[allow(clippy::cast_precision_loss)]
    let per_signature_us = times[2].as_secs_f64() * 1e6 / LIMIT_BATCH as f64;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    #[allow(clippy::cast_precision_loss)]
    let limit_tps = cores as f64 * 1e6 / (validators.max(1) as f64 * per_signature_us);
    Ok(SignatureLimit {
        per_signature_us,
        cores,
        limit_tps,
    })
}

/// Follows `node`'s finalized blocks; the first announcement of a height is read for
/// its transactions. A subscription that ends (the node stopped) is recorded.
async fn watch(run: Arc<Run>, node: usize) {
    let url = run.clients[node].url().replacen("http", "ws", 1);
    let client = match jsonrpsee::ws_client::WsClientBuilder::default()
        .build(&url)
        .await
    {
        Ok(client) => client,
        Err(error) => {
            run.shared().watch_errors.push(format!("{url}: {error}"));
            return;
        }
    };
    let mut blocks = match client.subscribe_finalized_blocks().await {
        Ok(subscription) => subscription,
        Err(error) => {
            run.shared().watch_errors.push(format!("{url}: {error}"));
            return;
        }
    };
    while let Some(item) = blocks.next().await {
        let Ok(block) = item else {
            run.shared()
                .watch_errors
                .push(format!("{url}: the subscription lagged"));
            return;
        };
        let now = Instant::now();
        let height = block.header.height.0;
        let first = {
            let mut shared = run.shared();
            match shared.heights.entry(height) {
                std::collections::btree_map::Entry::Occupied(_) => false,
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(Announced {
                        at: now,
                        transactions: block.transactions,
                        round: block.round.0,
                    });
                    true
                }
            }
        };
        if first && block.transactions > 0 {
            tokio::spawn(read_block(Arc::clone(&run), node, height, now));
        }
    }
    eprintln!(
        "loadgen: {}'s finality subscription ended",
        run.labels[node]
    );
    run.shared().lost_nodes.push((node, Instant::now()));
}

/// Reads a finalized block (from the node that announced it, then from the others in
/// turn) and marks the run's transactions in it finalized at `at`.
async fn read_block(run: Arc<Run>, node: usize, height: u64, at: Instant) {
    let mut tries = 0;
    let block = loop {
        match run.clients[(node + tries) % run.clients.len()]
            .api()
            .block(accord_types::Height(height).into())
            .await
        {
            Ok(Some(block)) => break block.block,
            _ if tries < 20 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ => {
                run.shared()
                    .watch_errors
                    .push(format!("block {height} unreadable"));
                return;
            }
        }
    };
    let mut shared = run.shared();
    for tx in &block.transactions {
        match run.by_hash.get(&tx.hash()) {
            Some(&i) => {
                if let Some(sent) = shared.sent.get_mut(i) {
                    sent.finalized.get_or_insert(at);
                }
            }
            None => shared.foreign += 1,
        }
    }
}

/// Sends every transaction of the schedule when it is due: one batch per node and
/// tick, at most `connections` batches in flight per node.
async fn send_all(run: &Arc<Run>, slots: &[Slot], start: Instant, config: &OpenConfig) {
    let gates: Vec<Arc<Semaphore>> = (0..run.clients.len())
        .map(|_| Arc::new(Semaphore::new(config.connections.max(1))))
        .collect();
    tokio::time::sleep_until(start.into()).await;
    let mut tick = tokio::time::interval(config.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut next = 0;
    let mut tasks = Vec::new();
    while next < slots.len() {
        tick.tick().await;
        let due = plan::due(slots, next, start.elapsed());
        next = due.end;
        let mut by_node: Vec<Vec<usize>> = vec![Vec::new(); run.clients.len()];
        for i in due {
            if let Some(list) = by_node.get_mut(slots[i].node) {
                list.push(i);
            }
        }
        for (node, list) in by_node.into_iter().enumerate() {
            for batch in list.chunks(MAX_BATCH) {
                let run = Arc::clone(run);
                let gate = Arc::clone(&gates[node]);
                let batch = batch.to_vec();
                tasks.push(tokio::spawn(async move {
                    let Ok(_permit) = gate.acquire_owned().await else {
                        return;
                    };
                    submit(&run, node, &batch).await;
                }));
            }
        }
        tasks.retain(|t| !t.is_finished());
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// One batch of submissions to `node`; records each answer.
async fn submit(run: &Run, node: usize, batch: &[usize]) {
    let mut request = BatchRequestBuilder::new();
    {
        let shared = run.shared();
        for &i in batch {
            if let Some(sent) = shared.sent.get(i) {
                let _ = request.insert("gov_submitTransaction", [sent.hex.as_str()]);
            }
        }
    }
    let answer = run.clients[node].api().batch_request::<Hash>(request).await;
    let now = Instant::now();
    let mut shared = run.shared();
    match answer {
        Ok(responses) => {
            for (&i, entry) in batch.iter().zip(responses) {
                if let Some(sent) = shared.sent.get_mut(i) {
                    sent.answered = Some(now);
                    if let Err(error) = entry {
                        sent.refused = refusal(&error);
                    }
                }
            }
        }
        Err(error) => {
            let code = format!("batch_failed: {error}");
            for &i in batch {
                if let Some(sent) = shared.sent.get_mut(i) {
                    sent.answered = Some(now);
                    sent.refused = Some(code.clone());
                }
            }
        }
    }
}

/// The error code of a refused submission (`None` when the node already held it).
fn refusal(error: &ErrorObject<'_>) -> Option<String> {
    let code = error
        .data()
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
        .and_then(|data| data.get("code").and_then(|c| c.as_str()).map(str::to_owned));
    match (error.code(), code) {
        (TX_REFUSED, None) if error.message().contains("already in the mempool") => None,
        (TX_REFUSED, Some(code)) => Some(code),
        (other, _) => Some(format!("rpc_error_{other}")),
    }
}

/// Waits until every accepted transaction is finalized, or `until`.
async fn drain(run: &Run, until: Instant) {
    loop {
        let open = {
            let shared = run.shared();
            shared
                .sent
                .iter()
                .any(|s| s.answered.is_some() && s.refused.is_none() && s.finalized.is_none())
        };
        if !open || Instant::now() >= until {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the run cost the machine, read from `/proc` over the measured window.
#[derive(Debug, Clone, Default)]
struct Costs {
    /// The nodes sampled.
    names: Vec<String>,
    /// Offsets into the window (every second, and each part's bounds) with each node's
    /// sample then (`None`: it was not running).
    samples: Vec<(Duration, Vec<Option<procstat::Sample>>)>,
    /// Growth of each node's data directory over the window, bytes.
    disk_growth: Vec<u64>,
    /// loadgen's own CPU over the window, cores.
    loadgen_cores: f64,
}

/// Samples every node's CPU and memory every second over the window (and at each
/// part's bounds), their data directories and loadgen's CPU at its start and end.
async fn measure_costs(
    processes: Vec<procstat::NodeProcess>,
    start: Instant,
    end: Instant,
    parts: Vec<(Duration, Duration)>,
) -> Costs {
    let length = end.duration_since(start);
    let mut times: Vec<Duration> = (0u64..)
        .map(Duration::from_secs)
        .take_while(|at| *at < length)
        .chain(parts.iter().flat_map(|(from, to)| [*from, *to]))
        .chain([length])
        .collect();
    times.sort();
    times.dedup();
    let me = std::process::id();
    let disk = |processes: &[procstat::NodeProcess]| {
        processes
            .iter()
            .map(|p| procstat::dir_bytes(&p.home.join("data")))
            .collect::<Vec<_>>()
    };
    tokio::time::sleep_until(start.into()).await;
    let disk_before = disk(&processes);
    let me_before = procstat::sample(me).unwrap_or_default();
    let mut samples = Vec::with_capacity(times.len());
    for at in times {
        tokio::time::sleep_until((start + at).into()).await;
        samples.push((
            at,
            processes.iter().map(|p| procstat::sample(p.pid)).collect(),
        ));
    }
    let disk_after = disk(&processes);
    let me_after = procstat::sample(me).unwrap_or_default();
    Costs {
        names: processes.iter().map(|p| p.name.clone()).collect(),
        samples,
        disk_growth: disk_after
            .iter()
            .zip(&disk_before)
            .map(|(a, b)| a.saturating_sub(*b))
            .collect(),
        loadgen_cores: cores(me_before.cpu_ticks, me_after.cpu_ticks, length),
    }
}

/// CPU ticks from `before` to `after` over `length`, in cores.
fn cores(before: u64, after: u64, length: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let seconds = after.saturating_sub(before) as f64 / procstat::TICKS_PER_SECOND as f64;
    seconds / length.as_secs_f64().max(1e-9)
}

/// Bytes in MiB.
#[allow(clippy::cast_precision_loss)]
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl Costs {
    /// Node `node`'s samples taken from `from` to `to` (offsets into the window), while
    /// it ran.
    fn of(&self, node: usize, from: Duration, to: Duration) -> Vec<procstat::Sample> {
        self.samples
            .iter()
            .filter(|(at, _)| *at >= from && *at <= to)
            .filter_map(|(_, nodes)| nodes.get(node).copied().flatten())
            .collect()
    }

    /// What each node used from `from` to `to`.
    fn parts(&self, from: Duration, to: Duration) -> Vec<NodePart> {
        self.names
            .iter()
            .enumerate()
            .map(|(node, name)| {
                let samples = self.of(node, from, to);
                let rss: Vec<u64> = samples.iter().map(|s| s.rss).collect();
                #[allow(clippy::cast_precision_loss)]
                let rss_mean_mib = if rss.is_empty() {
                    0.0
                } else {
                    mib(rss.iter().sum::<u64>()) / rss.len() as f64
                };
                NodePart {
                    name: name.clone(),
                    cores: match (samples.first(), samples.last()) {
                        (Some(a), Some(b)) => cores(a.cpu_ticks, b.cpu_ticks, to - from),
                        _ => 0.0,
                    },
                    rss_mean_mib,
                    rss_max_mib: mib(rss.iter().copied().max().unwrap_or(0)),
                }
            })
            .collect()
    }

    /// What each node used over the window of `length`, its disk growth divided by the
    /// `finalized` transactions.
    fn window(&self, length: Duration, finalized: u64) -> Vec<NodeCost> {
        let last = self.samples.last();
        self.names
            .iter()
            .enumerate()
            .map(|(node, name)| {
                let samples = self.of(node, Duration::ZERO, length);
                let grown = self.disk_growth.get(node).copied().unwrap_or(0);
                #[allow(clippy::cast_precision_loss)]
                NodeCost {
                    name: name.clone(),
                    cores: match (samples.first(), samples.last()) {
                        (Some(a), Some(b)) => cores(a.cpu_ticks, b.cpu_ticks, length),
                        _ => 0.0,
                    },
                    peak_rss_mib: mib(samples.iter().map(|s| s.peak_rss).max().unwrap_or(0)),
                    rss_mib: mib(samples.last().map_or(0, |s| s.rss)),
                    running_at_end: last
                        .and_then(|(_, nodes)| nodes.get(node).copied().flatten())
                        .is_some(),
                    disk_bytes_per_tx: grown as f64 / finalized.max(1) as f64,
                }
            })
            .collect()
    }
}

/// The chain's figures for a part of the window: the transactions due in it, the
/// heights first announced in it and the run's transactions finalized in it.
#[derive(Debug, Default)]
struct Figures {
    scheduled: u64,
    finalized: u64,
    latencies: Vec<Duration>,
    lags: Vec<Duration>,
    lost: u64,
    blocks: Vec<u32>,
    late: u64,
}

/// [`Figures`] of `from` to `to`, offsets into the window that starts at
/// `window_start`, after `warmup` of the schedule.
fn figures(
    shared: &Shared,
    window_start: Instant,
    warmup: Duration,
    from: Duration,
    to: Duration,
) -> Figures {
    let (from_at, to_at) = (window_start + from, window_start + to);
    let inside = |at: Instant| at >= from_at && at < to_at;
    let schedule_start = window_start - warmup;
    let mut out = Figures::default();
    for sent in &shared.sent {
        if sent.finalized.is_some_and(inside) {
            out.finalized += 1;
        }
        let due_at = schedule_start + sent.slot.due;
        if !inside(due_at) {
            continue;
        }
        out.scheduled += 1;
        if let Some(answered) = sent.answered {
            out.lags.push(answered.saturating_duration_since(due_at));
        }
        match sent.finalized {
            Some(at) => out.latencies.push(at.saturating_duration_since(due_at)),
            None if sent.answered.is_some() && sent.refused.is_none() => out.lost += 1,
            None => {}
        }
    }
    let heights: Vec<&Announced> = shared.heights.values().filter(|h| inside(h.at)).collect();
    out.blocks = heights.iter().map(|h| h.transactions).collect();
    out.late = heights.iter().filter(|h| h.round > 0).count() as u64;
    out
}

#[allow(clippy::too_many_arguments)]
fn report(
    shared: &Shared,
    config: &OpenConfig,
    window_start: Instant,
    parts: &[(Duration, Duration)],
    validators: usize,
    accounts: usize,
    nodes: usize,
    signature_limit: SignatureLimit,
    costs: &Costs,
) -> OpenReport {
    let window = config.duration.as_secs_f64();
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    let (mut accepted, mut unanswered) = (0u64, 0u64);
    for sent in &shared.sent {
        match (&sent.answered, &sent.refused) {
            (None, _) => unanswered += 1,
            (Some(_), Some(code)) => *refused.entry(code.clone()).or_default() += 1,
            (Some(_), None) => accepted += 1,
        }
    }
    let all = figures(
        shared,
        window_start,
        config.warmup,
        Duration::ZERO,
        config.duration,
    );
    #[allow(clippy::cast_precision_loss)]
    let finalized_tps = all.finalized as f64 / window;
    let node_costs = costs.window(config.duration, all.finalized);
    let parts = if parts.len() > 1 {
        parts
            .iter()
            .map(|&(from, to)| {
                let part = figures(shared, window_start, config.warmup, from, to);
                #[allow(clippy::cast_precision_loss)]
                PartReport {
                    from_s: from.as_secs_f64(),
                    to_s: to.as_secs_f64(),
                    scheduled: part.scheduled,
                    finalized_tps: part.finalized as f64 / (to - from).as_secs_f64().max(1e-9),
                    latency: Summary::of(&part.latencies).map(|s| s.millis()),
                    lost: part.lost,
                    heights: part.blocks.len() as u64,
                    heights_past_round_0: part.late,
                    nodes: costs.parts(from, to),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let blocks = &all.blocks;
    #[allow(clippy::cast_precision_loss)]
    OpenReport {
        offered_tps: all.scheduled as f64 / window,
        window_s: window,
        accounts,
        nodes,
        node_names: Vec::new(),
        excluded: config.exclude.clone(),
        validators,
        scheduled: all.scheduled,
        accepted,
        refused,
        unanswered,
        finalized_tps,
        latency: Summary::of(&all.latencies).map(|s| s.millis()),
        lost: all.lost,
        send_lag: Summary::of(&all.lags).map(|s| s.millis()),
        foreign: shared.foreign,
        heights: blocks.len() as u64,
        heights_past_round_0: all.late,
        txs_per_block_mean: if blocks.is_empty() {
            0.0
        } else {
            blocks.iter().map(|&t| f64::from(t)).sum::<f64>() / blocks.len() as f64
        },
        txs_per_block_max: blocks.iter().copied().max().map_or(0, u64::from),
        fraction_of_limit: finalized_tps / signature_limit.limit_tps.max(1e-9),
        signature_limit,
        node_costs,
        loadgen_cores: costs.loadgen_cores,
        nodes_lost: Vec::new(),
        parts,
    }
}

impl std::fmt::Display for OpenReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "open loop: {:.0} tx/s offered for {:.0} s from {} accounts to {} nodes ({} validators)",
            self.offered_tps, self.window_s, self.accounts, self.nodes, self.validators
        )?;
        if !self.excluded.is_empty() {
            writeln!(f, "no submissions to: {}", self.excluded.join(", "))?;
        }
        writeln!(
            f,
            "finalized: {:.1} tx/s ({:.1} % of the signature limit, {:.0} tx/s: {:.1} µs per signature, {} cores)",
            self.finalized_tps,
            self.fraction_of_limit * 100.0,
            self.signature_limit.limit_tps,
            self.signature_limit.per_signature_us,
            self.signature_limit.cores
        )?;
        match &self.latency {
            Some(l) => writeln!(
                f,
                "latency from the scheduled time: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} finalized)",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.count
            )?,
            None => writeln!(f, "latency: nothing finalized in the window")?,
        }
        if let Some(l) = &self.send_lag {
            writeln!(
                f,
                "submission answered after its due time: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                l.p50_ms, l.p99_ms, l.max_ms
            )?;
        }
        writeln!(
            f,
            "heights in the window: {} ({} past round 0; {:.1} txs per block, at most {})",
            self.heights,
            self.heights_past_round_0,
            self.txs_per_block_mean,
            self.txs_per_block_max
        )?;
        writeln!(
            f,
            "scheduled in the window: {}; run: {} accepted, {} unanswered, lost {}, foreign {}",
            self.scheduled, self.accepted, self.unanswered, self.lost, self.foreign
        )?;
        for (code, n) in &self.refused {
            writeln!(f, "refused {code}: {n}")?;
        }
        for cost in &self.node_costs {
            writeln!(
                f,
                "node {}: {:.2} cores, peak RSS {:.0} MiB, {:.0} disk bytes per tx{}",
                cost.name,
                cost.cores,
                cost.peak_rss_mib,
                cost.disk_bytes_per_tx,
                if cost.running_at_end {
                    ""
                } else {
                    " (not running at the end)"
                }
            )?;
        }
        for lost in &self.nodes_lost {
            writeln!(
                f,
                "{}'s finality subscription ended {:.1} s into the window",
                lost.node, lost.at_s
            )?;
        }
        for part in &self.parts {
            write!(
                f,
                "{:.0}–{:.0} s: {:.1} tx/s finalized, {} heights ({} past round 0)",
                part.from_s, part.to_s, part.finalized_tps, part.heights, part.heights_past_round_0
            )?;
            match &part.latency {
                Some(l) => write!(
                    f,
                    ", latency p50 {:.0} ms, p99 {:.0} ms",
                    l.p50_ms, l.p99_ms
                )?,
                None => write!(f, ", nothing due in it finalized")?,
            }
            for node in &part.nodes {
                write!(f, "; {} {:.0} MiB", node.name, node.rss_mean_mib)?;
            }
            writeln!(f)?;
        }
        write!(f, "loadgen: {:.2} cores", self.loadgen_cores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_window_is_cut_at_its_splits_in_order_and_every_interval() {
        assert_eq!(parts(secs(30), &[]), [(secs(0), secs(30))]);
        assert_eq!(
            parts(
                secs(30),
                &[secs(20), secs(10), secs(10), secs(0), secs(30), secs(99)]
            ),
            [
                (secs(0), secs(10)),
                (secs(10), secs(20)),
                (secs(20), secs(30))
            ]
        );
        assert_eq!(every(secs(180), secs(60)), [secs(60), secs(120)]);
        assert_eq!(every(secs(150), secs(60)), [secs(60), secs(120)]);
        assert!(every(secs(60), secs(60)).is_empty());
        assert!(every(secs(60), Duration::ZERO).is_empty());
        assert_eq!(every(secs(u64::MAX), secs(1)).len(), MAX_PARTS - 1);
    }

    #[test]
    fn excluded_nodes_are_found_by_name_or_url_and_one_must_be_left() {
        let urls: Vec<String> = (0..4).map(|i| format!("http://127.0.0.1:900{i}")).collect();
        let names = vec![
            Some("eu-1".to_owned()),
            Some("us-1".to_owned()),
            None,
            Some("us-2".to_owned()),
        ];
        assert_eq!(submission_nodes(&urls, &names, &[]).unwrap(), [0, 1, 2, 3]);
        assert_eq!(
            submission_nodes(&urls, &names, &["us-2".to_owned()]).unwrap(),
            [0, 1, 2]
        );
        assert_eq!(
            submission_nodes(&urls, &names, &["http://127.0.0.1:9002/".to_owned()]).unwrap(),
            [0, 1, 3]
        );
        let unknown = submission_nodes(&urls, &names, &["eu-9".to_owned()]).unwrap_err();
        assert!(unknown.to_string().contains("eu-9"), "{unknown}");
        assert!(
            unknown.to_string().contains("? http://127.0.0.1:9002"),
            "{unknown}"
        );
        let all: Vec<String> = urls.clone();
        assert!(submission_nodes(&urls, &names, &all).is_err());
        assert!(submission_nodes(&[], &[], &[]).is_err());
    }

    /// A transaction due `due` after the schedule's start, answered, finalized at
    /// `finalized` after it (if at all).
    fn sent(start: Instant, due: Duration, finalized: Option<Duration>) -> Sent {
        Sent {
            slot: Slot {
                due,
                account: 0,
                seq: 0,
                node: 0,
                proposal: 0,
            },
            hex: String::new(),
            answered: Some(start + due),
            refused: None,
            finalized: finalized.map(|at| start + at),
        }
    }

    #[test]
    fn each_part_counts_what_was_due_and_finalized_in_it() {
        // 5 s of warm-up, then a 20 s window cut at 10 s.
        let start = Instant::now();
        let window_start = start + secs(5);
        let mut shared = Shared::default();
        let ms = Duration::from_millis;
        // Due in the warm-up, finalized in the first part: its throughput, no latency.
        shared.sent.push(sent(start, secs(4), Some(secs(6))));
        // Due in the first part: 100 ms and 300 ms.
        shared
            .sent
            .push(sent(start, secs(7), Some(secs(7) + ms(100))));
        shared
            .sent
            .push(sent(start, secs(8), Some(secs(8) + ms(300))));
        // Due in the first part, finalized in the second: its latency counts in the first.
        shared.sent.push(sent(start, secs(14), Some(secs(16))));
        // Due in the second part: one finalized after 1 s, one lost.
        shared.sent.push(sent(start, secs(20), Some(secs(21))));
        shared.sent.push(sent(start, secs(22), None));
        let height = |at: Duration, round: u32| Announced {
            at: start + at,
            transactions: 1,
            round,
        };
        shared.heights.insert(1, height(secs(6), 0));
        shared.heights.insert(2, height(secs(16), 1));
        shared.heights.insert(3, height(secs(21), 0));

        let first = figures(&shared, window_start, secs(5), secs(0), secs(10));
        assert_eq!(first.scheduled, 3);
        assert_eq!(first.finalized, 3);
        assert_eq!(first.latencies, [ms(100), ms(300), secs(2)]);
        assert_eq!(first.lost, 0);
        assert_eq!(first.blocks.len(), 1);
        assert_eq!(first.late, 0);
        let second = figures(&shared, window_start, secs(5), secs(10), secs(20));
        assert_eq!(second.scheduled, 2);
        assert_eq!(second.finalized, 2);
        assert_eq!(second.latencies, [secs(1)]);
        assert_eq!(second.lost, 1);
        assert_eq!(second.blocks.len(), 2);
        assert_eq!(second.late, 1);
        let all = figures(&shared, window_start, secs(5), secs(0), secs(20));
        assert_eq!(all.scheduled, first.scheduled + second.scheduled);
        assert_eq!(all.finalized, first.finalized + second.finalized);
    }

    #[test]
    fn node_costs_follow_the_samples_and_a_node_that_exited_keeps_its_last() {
        let sample = |cpu_ticks: u64, rss_mib: u64| {
            Some(procstat::Sample {
                cpu_ticks,
                rss: rss_mib << 20,
                peak_rss: (rss_mib + 10) << 20,
            })
        };
        // Two nodes sampled at 0, 1, 2, 3 and 4 s; the second exits after 2 s.
        let costs = Costs {
            names: vec!["a".to_owned(), "b".to_owned()],
            samples: vec![
                (secs(0), vec![sample(0, 100), sample(0, 50)]),
                (secs(1), vec![sample(100, 110), sample(50, 60)]),
                (secs(2), vec![sample(200, 120), sample(100, 70)]),
                (secs(3), vec![sample(300, 130), None]),
                (secs(4), vec![sample(400, 140), None]),
            ],
            disk_growth: vec![3000, 1000],
            loadgen_cores: 0.5,
        };
        let window = costs.window(secs(4), 10);
        assert_eq!(window[0].name, "a");
        assert!((window[0].cores - 1.0).abs() < 1e-9);
        assert!((window[0].peak_rss_mib - 150.0).abs() < 1e-9);
        assert!((window[0].rss_mib - 140.0).abs() < 1e-9);
        assert!(window[0].running_at_end);
        assert!((window[0].disk_bytes_per_tx - 300.0).abs() < 1e-9);
        // One core-second over the 4 s window, up to its exit.
        assert!((window[1].cores - 0.25).abs() < 1e-9);
        assert!((window[1].rss_mib - 70.0).abs() < 1e-9);
        assert!(!window[1].running_at_end);

        let parts = costs.parts(secs(2), secs(4));
        assert!((parts[0].rss_mean_mib - 130.0).abs() < 1e-9);
        assert!((parts[0].rss_max_mib - 140.0).abs() < 1e-9);
        assert!((parts[0].cores - 1.0).abs() < 1e-9);
        assert!((parts[1].rss_mean_mib - 70.0).abs() < 1e-9);
        assert!(parts[1].cores.abs() < 1e-9);
        let gone = costs.parts(secs(3), secs(4));
        assert!(gone[1].rss_mean_mib.abs() < 1e-9 && gone[1].rss_max_mib.abs() < 1e-9);
    }
}
