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
        }
    }
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
    /// CPU time over the window's length.
    pub cores: f64,
    /// Peak resident memory of the process so far, MiB.
    pub peak_rss_mib: f64,
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

/// What the senders and watchers change, under one lock never held across an await.
#[derive(Default)]
struct Shared {
    sent: Vec<Sent>,
    /// First announcement of each height, with its transaction count.
    heights: BTreeMap<u64, (Instant, u32)>,
    foreign: u64,
    watch_errors: Vec<String>,
}

struct Run {
    clients: Vec<Client>,
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
    let accounts = Accounts::read(&config.target.keys)?;
    let clients = config
        .target
        .rpc
        .iter()
        .map(|url| Client::new(url))
        .collect::<Result<Vec<_>>>()?;
    let first = clients.first().context("no node to load")?;
    let status = first.status().await?;
    let chain_id = status.chain_id.clone();
    let validators: usize = first
        .api()
        .validators(None)
        .await
        .context("cannot read the validator set")?
        .regions
        .iter()
        .map(|r| r.validators.len())
        .sum();
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

    let length = config.warmup + config.duration;
    let slots = plan::schedule(config.rate, length, voters.len(), clients.len(), pool.len());
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
    let run = Arc::new(Run {
        clients,
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
    let costs = tokio::spawn(measure_costs(processes, measure_start, measure_end));

    eprintln!(
        "loadgen: {:.0} tx/s for {} s ({} s warm-up)",
        config.rate,
        length.as_secs(),
        config.warmup.as_secs()
    );
    send_all(&run, &slots, start, config).await;
    drain(&run, measure_end + config.drain).await;
    for watcher in watchers {
        watcher.abort();
    }
    let (node_costs, loadgen_cores, disk_growth) = costs.await.unwrap_or_default();
    let shared = run.shared();
    if !shared.watch_errors.is_empty() && shared.heights.is_empty() {
        bail!(
            "no node announced a finalized block: {}",
            shared.watch_errors.join("; ")
        );
    }
    Ok(report(
        &shared,
        config,
        measure_start,
        measure_end,
        validators,
        accounts_count,
        run.clients.len(),
        signature_limit,
        (node_costs, loadgen_cores, disk_growth),
    ))
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
/// its transactions.
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
                    slot.insert((now, block.transactions));
                    true
                }
            }
        };
        if first && block.transactions > 0 {
            tokio::spawn(read_block(Arc::clone(&run), node, height, now));
        }
    }
}

/// Reads a finalized block and marks the run's transactions in it finalized at `at`.
async fn read_block(run: Arc<Run>, node: usize, height: u64, at: Instant) {
    let mut tries = 0;
    let block = loop {
        match run.clients[node]
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

/// Node CPU and memory, loadgen's CPU, and the nodes' disk growth over the window.
async fn measure_costs(
    processes: Vec<procstat::NodeProcess>,
    start: Instant,
    end: Instant,
) -> (Vec<NodeCost>, f64, Vec<u64>) {
    let me = std::process::id();
    let read = |processes: &[procstat::NodeProcess]| {
        processes
            .iter()
            .map(|p| {
                (
                    procstat::sample(p.pid).unwrap_or_default(),
                    procstat::dir_bytes(&p.home.join("data")),
                )
            })
            .collect::<Vec<_>>()
    };
    tokio::time::sleep_until(start.into()).await;
    let before = read(&processes);
    let me_before = procstat::sample(me).unwrap_or_default();
    tokio::time::sleep_until(end.into()).await;
    let after = read(&processes);
    let me_after = procstat::sample(me).unwrap_or_default();
    let seconds = end.duration_since(start).as_secs_f64().max(1e-9);
    #[allow(clippy::cast_precision_loss)]
    let cores =
        |a: u64, b: u64| a.saturating_sub(b) as f64 / procstat::TICKS_PER_SECOND as f64 / seconds;
    let mut costs = Vec::new();
    let mut growth = Vec::new();
    for ((p, (s0, d0)), (s1, d1)) in processes.iter().zip(&before).zip(&after) {
        #[allow(clippy::cast_precision_loss)]
        costs.push(NodeCost {
            name: p.name.clone(),
            cores: cores(s1.cpu_ticks, s0.cpu_ticks),
            peak_rss_mib: s1.peak_rss as f64 / (1024.0 * 1024.0),
            disk_bytes_per_tx: 0.0,
        });
        growth.push(d1.saturating_sub(*d0));
    }
    (
        costs,
        cores(me_after.cpu_ticks, me_before.cpu_ticks),
        growth,
    )
}

#[allow(clippy::too_many_arguments)]
fn report(
    shared: &Shared,
    config: &OpenConfig,
    measure_start: Instant,
    measure_end: Instant,
    validators: usize,
    accounts: usize,
    nodes: usize,
    signature_limit: SignatureLimit,
    costs: (Vec<NodeCost>, f64, Vec<u64>),
) -> OpenReport {
    let window = config.duration.as_secs_f64();
    let offset_start = config.warmup;
    let in_window = |at: Instant| at >= measure_start && at < measure_end;
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    let (mut accepted, mut unanswered, mut scheduled, mut lost) = (0u64, 0u64, 0u64, 0u64);
    let mut latencies = Vec::new();
    let mut lags = Vec::new();
    let mut finalized_in_window = 0u64;
    for sent in &shared.sent {
        let due_at = measure_start - offset_start + sent.slot.due;
        let measured = sent.slot.due >= offset_start;
        match (&sent.answered, &sent.refused) {
            (None, _) => unanswered += 1,
            (Some(_), Some(code)) => *refused.entry(code.clone()).or_default() += 1,
            (Some(_), None) => accepted += 1,
        }
        if let Some(at) = sent.finalized {
            if in_window(at) {
                finalized_in_window += 1;
            }
        }
        if !measured {
            continue;
        }
        scheduled += 1;
        if let Some(answered) = sent.answered {
            lags.push(answered.saturating_duration_since(due_at));
        }
        match sent.finalized {
            Some(at) => latencies.push(at.saturating_duration_since(due_at)),
            None if sent.answered.is_some() && sent.refused.is_none() => lost += 1,
            None => {}
        }
    }
    let blocks: Vec<u32> = shared
        .heights
        .values()
        .filter(|(at, _)| in_window(*at))
        .map(|(_, txs)| *txs)
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let finalized_tps = finalized_in_window as f64 / window;
    let (mut node_costs, loadgen_cores, growth) = costs;
    for (cost, grown) in node_costs.iter_mut().zip(growth) {
        #[allow(clippy::cast_precision_loss)]
        {
            cost.disk_bytes_per_tx = grown as f64 / finalized_in_window.max(1) as f64;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    OpenReport {
        offered_tps: scheduled as f64 / window,
        window_s: window,
        accounts,
        nodes,
        validators,
        scheduled,
        accepted,
        refused,
        unanswered,
        finalized_tps,
        latency: Summary::of(&latencies).map(|s| s.millis()),
        lost,
        send_lag: Summary::of(&lags).map(|s| s.millis()),
        foreign: shared.foreign,
        heights: blocks.len() as u64,
        txs_per_block_mean: if blocks.is_empty() {
            0.0
        } else {
            blocks.iter().map(|&t| f64::from(t)).sum::<f64>() / blocks.len() as f64
        },
        txs_per_block_max: blocks.iter().copied().max().map_or(0, u64::from),
        fraction_of_limit: finalized_tps / signature_limit.limit_tps.max(1e-9),
        signature_limit,
        node_costs,
        loadgen_cores,
    }
}

impl std::fmt::Display for OpenReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "open loop: {:.0} tx/s offered for {:.0} s from {} accounts to {} nodes ({} validators)",
            self.offered_tps, self.window_s, self.accounts, self.nodes, self.validators
        )?;
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
            "heights in the window: {} ({:.1} txs per block, at most {})",
            self.heights, self.txs_per_block_mean, self.txs_per_block_max
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
                "node {}: {:.2} cores, peak RSS {:.0} MiB, {:.0} disk bytes per tx",
                cost.name, cost.cores, cost.peak_rss_mib, cost.disk_bytes_per_tx
            )?;
        }
        write!(f, "loadgen: {:.2} cores", self.loadgen_cores)
    }
}
