//! `loadgen`: a closed-loop load generator for a running accord network.
//!
//! # Load
//!
//! The `author` account submits documentation proposals touching every region that
//! has voters among the keys; as soon as a proposal's receipt names its id, each
//! region's voters vote yes on it. Every account keeps at most `in_flight`
//! transactions unconfirmed ([`window::NonceWindow`]), with nonces tracked locally from
//! the account's `pending_nonce`, so the offered load adapts to how fast the chain
//! finalizes. Submissions take turns over every RPC URL given.
//!
//! # Measurement
//!
//! The first node's finalized blocks are walked as they appear (`chain_getStatus`
//! polled, then `chain_getBlock` for every new height) and their transaction hashes
//! matched to the submissions ([`tracker::Tracker`]). Latency runs from the first send
//! to the block being seen, for transactions first sent inside the measured window
//! (after the warm-up); throughput is the run's transactions in blocks seen inside the
//! window, over its length.
//!
//! ```text
//!  0 ──── warm-up ────┬──────── measured window ────────┬── drain ──► report
//!                     │ latency of txs sent here        │ no new proposals; votes on
//!                     │ tx/s of txs finalized here      │ the proposals sent, until
//!                     │                                 │ every tx is finalized
//! ```
//!
//! After the drain, every transaction sent is either finalized or reported unresolved
//! (asked of the node: still pending, dropped with its code, or unknown); a refused
//! submission is retried where the refusal is transient (full pool, a node a block
//! behind) and otherwise given up, its nonce reused, and counted by code. Proposal
//! receipts are read to learn ids and count failures; votes are checked against the
//! proposals' tallies, which costs one read per proposal rather than one per vote.

pub mod stats;
pub mod target;
pub mod tracker;
pub mod window;

mod report;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use accord_node::client::Client;
use accord_node::rpc::TX_REFUSED;
use accord_rpc::types::TransactionStatus;
use accord_rpc::{ChainApiClient, GovApiClient};
use accord_runtime::ProposalView;
use accord_types::codec::hex_encode;
use accord_types::governance::{
    DocumentKind, DocumentationChange, ExecutionMode, ImpactAssessment, ProposalBody,
    ProposalDraft, RiskLevel, Urgency, VoteChoice,
};
use accord_types::{
    Block, ChainId, Domain, Event, Hash, Height, Keypair, Nonce, Outcome, Payload, ProposalId,
    Receipt, RegionId, Transaction,
};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use tokio::sync::{mpsc, Notify};

pub use report::{Report, Unresolved, WindowFigures};
pub use target::{Accounts, Target};

use stats::Summary;
use tracker::{Pending, TxKind};
use window::NonceWindow;

/// Sends of one transaction before it is given up.
const MAX_ATTEMPTS: u32 = 20;
/// Pause before sending a refused transaction again.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// How long the watched node may stay unreachable before the run fails.
const WATCH_PATIENCE: Duration = Duration::from_secs(15);

/// A run's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The network.
    pub target: Target,
    /// The measured window.
    pub duration: Duration,
    /// Load before the measured window.
    pub warmup: Duration,
    /// Most unconfirmed transactions per account (the mempool holds 64 per account).
    pub in_flight: usize,
    /// How long to wait after the window for the votes on every proposal sent and for
    /// every transaction to be finalized.
    pub drain: Duration,
    /// Wait this long at most, after the drain, for every proposal to leave voting,
    /// and report the decisions.
    pub await_decisions: Option<Duration>,
    /// Interval of `chain_getStatus` polls on the watched node.
    pub poll: Duration,
}

impl Config {
    /// Defaults for `target`: 60 s measured after 10 s of warm-up, 48 in flight per
    /// account, 60 s of drain, 50 ms polls, decisions not awaited.
    pub fn new(target: Target) -> Self {
        Self {
            target,
            duration: Duration::from_secs(60),
            warmup: Duration::from_secs(10),
            in_flight: 48,
            drain: Duration::from_secs(60),
            await_decisions: None,
            poll: Duration::from_millis(50),
        }
    }
}

/// One signing account.
struct Account {
    name: String,
    keypair: Keypair,
}

/// The run's timeline.
#[derive(Debug, Clone, Copy)]
struct Clock {
    measure_start: Instant,
    measure_end: Instant,
    drain_end: Instant,
}

impl Clock {
    fn measured(&self, at: Instant) -> bool {
        at >= self.measure_start && at < self.measure_end
    }
}

/// Everything the tasks change, under one lock never held across an await.
#[derive(Default)]
struct State {
    tracker: tracker::Tracker,
    windows: Vec<NonceWindow>,
    sent_proposals: u64,
    sent_votes: u64,
    finalized_proposals: u64,
    finalized_votes: u64,
    latencies: Vec<Duration>,
    submit_calls: Vec<Duration>,
    refusals: BTreeMap<String, u64>,
    abandoned: BTreeMap<String, u64>,
    failed_receipts: BTreeMap<String, u64>,
    transport_errors: u64,
    proposals: Vec<u64>,
    votes_finalized: HashMap<u64, u64>,
    window: WindowCount,
}

/// What the blocks seen inside the measured window held.
#[derive(Default)]
struct WindowCount {
    first_height: Option<u64>,
    last_height: Option<u64>,
    blocks: u64,
    block_txs: u64,
    max_block_txs: usize,
    ours: u64,
    foreign: u64,
}

struct Ctx {
    clients: Vec<Client>,
    urls: Vec<String>,
    turn: AtomicUsize,
    chain_id: ChainId,
    accounts: Vec<Account>,
    regions: Vec<RegionId>,
    votes: Vec<Option<mpsc::UnboundedSender<(u64, RegionId)>>>,
    voters_by_region: BTreeMap<RegionId, Vec<usize>>,
    freed: Vec<Notify>,
    clock: Clock,
    state: Mutex<State>,
    author_done: AtomicBool,
    receipts_outstanding: AtomicUsize,
    stop_walker: AtomicBool,
    poll: Duration,
}

impl Ctx {
    fn state(&self) -> MutexGuard<'_, State> {
        // A task that panicked while holding the lock leaves counters that are still
        // worth reporting.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn watch(&self) -> &Client {
        &self.clients[0]
    }

    /// The next node in turn.
    fn next_client(&self) -> (usize, &Client) {
        let i = self.turn.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        (i, &self.clients[i])
    }

    /// Waits for a free nonce of `account` until `deadline`.
    async fn acquire(&self, account: usize, deadline: Instant) -> Option<u64> {
        loop {
            let freed = self.freed[account].notified();
            // Past the deadline nothing more is sent, even if a slot is free: a chain
            // that frees slots as fast as they are taken would otherwise keep a sender
            // going long after its window.
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            if let Some(nonce) = self.state().windows[account].acquire() {
                return Some(nonce);
            }
            let wait = (deadline - now).min(Duration::from_millis(50));
            let _ = tokio::time::timeout(wait, freed).await;
        }
    }
}

/// Runs the load against `config.target` and reports what happened.
pub async fn run(config: &Config) -> Result<Report> {
    if config.in_flight == 0 || config.in_flight > 64 {
        bail!(
            "--in-flight {} is out of range: 1 to 64 (the mempool holds at most 64 transactions \
             per account)",
            config.in_flight
        );
    }
    if config.target.rpc.is_empty() {
        bail!("no RPC URL given");
    }
    let keys = Accounts::read(&config.target.keys)?;
    let mut clients = Vec::new();
    let mut chain_id: Option<ChainId> = None;
    let mut start_height = 0;
    for url in &config.target.rpc {
        let client = Client::new(url)?;
        let status = client
            .status()
            .await
            .with_context(|| format!("cannot reach the node at {url} (is the network running?)"))?;
        let id = status.chain_id;
        match &chain_id {
            None => {
                start_height = status.height.0;
                chain_id = Some(id);
            }
            Some(first) if *first != id => bail!(
                "the node at {url} runs chain {id}, the node at {} runs {first}",
                config.target.rpc[0]
            ),
            Some(_) => {}
        }
        clients.push(client);
    }
    let chain_id = chain_id.context("no RPC URL given")?;

    // Accounts: the author first, then the voters by region.
    let regions = keys.regions();
    let mut accounts = vec![Account {
        name: "author".into(),
        keypair: keys.author.clone(),
    }];
    let mut voters_by_region: BTreeMap<RegionId, Vec<usize>> = BTreeMap::new();
    for (region, voters) in &keys.voters {
        for (name, keypair) in voters {
            voters_by_region
                .entry(region.clone())
                .or_default()
                .push(accounts.len());
            accounts.push(Account {
                name: name.clone(),
                keypair: keypair.clone(),
            });
        }
    }
    let mut windows = Vec::with_capacity(accounts.len());
    for account in &accounts {
        let nonce = clients[0]
            .api()
            .account(account.keypair.public())
            .await
            .context("gov_getAccount")?
            .pending_nonce;
        windows.push(NonceWindow::new(nonce, config.in_flight));
    }

    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    for i in 0..accounts.len() {
        if i == 0 {
            senders.push(None);
            receivers.push(None);
        } else {
            let (tx, rx) = mpsc::unbounded_channel();
            senders.push(Some(tx));
            receivers.push(Some(rx));
        }
    }

    let start = Instant::now();
    let measure_start = start + config.warmup;
    let measure_end = measure_start + config.duration;
    let clock = Clock {
        measure_start,
        measure_end,
        drain_end: measure_end + config.drain,
    };
    let ctx = Arc::new(Ctx {
        clients,
        urls: config.target.rpc.clone(),
        turn: AtomicUsize::new(0),
        chain_id: chain_id.clone(),
        freed: accounts.iter().map(|_| Notify::new()).collect(),
        accounts,
        regions: regions.clone(),
        votes: senders,
        voters_by_region,
        clock,
        state: Mutex::new(State {
            windows,
            ..State::default()
        }),
        author_done: AtomicBool::new(false),
        receipts_outstanding: AtomicUsize::new(0),
        stop_walker: AtomicBool::new(false),
        poll: config.poll,
    });

    let walker = tokio::spawn(walk(Arc::clone(&ctx), start_height));
    let mut senders = Vec::new();
    senders.push(tokio::spawn(author(Arc::clone(&ctx))));
    for (i, rx) in receivers.into_iter().enumerate() {
        if let Some(rx) = rx {
            senders.push(tokio::spawn(voter(Arc::clone(&ctx), i, rx)));
        }
    }
    let mut failure = None;
    for task in senders {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => failure = failure.or(Some(error)),
            Err(join) => failure = failure.or(Some(anyhow::anyhow!("a sender failed: {join}"))),
        }
    }
    // Every sender is done; wait for the last transactions to be finalized.
    while failure.is_none()
        && ctx.state().tracker.in_flight() > 0
        && Instant::now() < clock.drain_end
        && !walker.is_finished()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ctx.stop_walker.store(true, Ordering::SeqCst);
    match walker.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => failure = failure.or(Some(error)),
        Err(join) => failure = failure.or(Some(anyhow::anyhow!("the block walker failed: {join}"))),
    }
    if let Some(error) = failure {
        return Err(error);
    }

    let unresolved = classify_unresolved(&ctx).await?;
    let proposals = ctx.state().proposals.clone();
    let votes_not_counted = check_tallies(&ctx, &proposals).await?;
    let decisions = match config.await_decisions {
        Some(limit) => Some(await_decisions(&ctx, &proposals, limit).await?),
        None => None,
    };

    let state = ctx.state();
    let window = &state.window;
    let secs = config.duration.as_secs_f64().max(f64::MIN_POSITIVE);
    Ok(Report {
        nodes: ctx.urls.clone(),
        chain_id: chain_id.to_string(),
        accounts: ctx.accounts.iter().map(|a| a.name.clone()).collect(),
        regions: regions.iter().map(|r| r.as_str().to_owned()).collect(),
        in_flight: config.in_flight,
        warmup_s: config.warmup.as_secs_f64(),
        duration_s: config.duration.as_secs_f64(),
        window: WindowFigures {
            first_height: window.first_height,
            last_height: window.last_height,
            blocks: window.blocks,
            heights_per_s: window.blocks as f64 / secs,
            txs_per_block_mean: if window.blocks == 0 {
                0.0
            } else {
                window.block_txs as f64 / window.blocks as f64
            },
            txs_per_block_max: window.max_block_txs,
            finalized: window.ours,
            foreign: window.foreign,
            tx_per_s: window.ours as f64 / secs,
        },
        latency: Summary::of(&state.latencies).map(|s| s.millis()),
        submit_call: Summary::of(&state.submit_calls).map(|s| s.millis()),
        sent_proposals: state.sent_proposals,
        sent_votes: state.sent_votes,
        finalized_proposals: state.finalized_proposals,
        finalized_votes: state.finalized_votes,
        refusals: state.refusals.clone(),
        abandoned: state.abandoned.clone(),
        failed_receipts: state.failed_receipts.clone(),
        votes_not_counted,
        transport_errors: state.transport_errors,
        unresolved,
        proposals_created: proposals.len(),
        proposal_ids: proposals,
        decisions,
    })
}

/// The draft of the `seq`-th proposal of run `run`: a documentation change in every
/// region.
pub fn draft(seq: u64, run: u64, regions: &[RegionId]) -> ProposalDraft {
    let body = ProposalBody::DocumentationChange(DocumentationChange {
        document: DocumentKind::UserGuide,
        path: format!("loadgen/{run:x}/{seq}.md"),
        content_digest: Hash::digest(
            Domain::PAYLOAD,
            &[run.to_le_bytes(), seq.to_le_bytes()].concat(),
        ),
        uri: format!("https://docs.example/loadgen/{run:x}/{seq}.md"),
    });
    ProposalDraft {
        title: format!("loadgen documentation change {seq}"),
        description: "Generated by loadgen to load the chain.".into(),
        regions: regions.to_vec(),
        impact: ImpactAssessment {
            cost: 0,
            downtime_minutes: 0,
            declared_risk: RiskLevel::Low,
            analysis: "Documentation only.".into(),
        },
        dependencies: Vec::new(),
        payload_digest: accord_runtime::payload_digest(&body),
        execution_mode: ExecutionMode::OnApproval,
        not_before: None,
        execute_by: None,
        urgency: Urgency::Normal,
        body,
    }
}

/// The author: a new proposal whenever its window has room, until the window ends.
async fn author(ctx: Arc<Ctx>) -> Result<()> {
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut seq = 0u64;
    let result = async {
        while let Some(nonce) = ctx.acquire(0, ctx.clock.measure_end).await {
            let payload = Payload::SubmitProposal {
                draft: Box::new(draft(seq, run, &ctx.regions)),
            };
            send(&ctx, 0, nonce, payload, TxKind::Proposal { seq }).await?;
            seq += 1;
        }
        Ok(())
    }
    .await;
    ctx.author_done.store(true, Ordering::SeqCst);
    result
}

/// A voter: a yes vote on every proposal of its region, until the drain ends or no
/// proposal can come any more.
async fn voter(
    ctx: Arc<Ctx>,
    account: usize,
    mut jobs: mpsc::UnboundedReceiver<(u64, RegionId)>,
) -> Result<()> {
    loop {
        let job = match jobs.try_recv() {
            Ok(job) => job,
            Err(_) => {
                let finished = ctx.author_done.load(Ordering::SeqCst)
                    && ctx.state().windows[0].in_flight() == 0
                    && ctx.receipts_outstanding.load(Ordering::SeqCst) == 0;
                if finished && jobs.is_empty() {
                    return Ok(());
                }
                if Instant::now() >= ctx.clock.drain_end {
                    return Ok(());
                }
                match tokio::time::timeout(Duration::from_millis(50), jobs.recv()).await {
                    Ok(Some(job)) => job,
                    _ => continue,
                }
            }
        };
        let (proposal, region) = job;
        let Some(nonce) = ctx.acquire(account, ctx.clock.drain_end).await else {
            return Ok(());
        };
        let payload = Payload::Vote {
            proposal: ProposalId(proposal),
            region: region.clone(),
            choice: VoteChoice::Yes,
        };
        send(
            &ctx,
            account,
            nonce,
            payload,
            TxKind::Vote { proposal, region },
        )
        .await?;
    }
}

/// A node's answer to a submission.
enum Answer {
    Accepted,
    Refused { code: String, retry: bool },
    Unreachable(anyhow::Error),
}

/// Reads a submission's result: a hash, a refusal with its code, or no answer.
fn answer<T>(result: Result<T, jsonrpsee::core::client::Error>, kind: &TxKind) -> Answer {
    let Err(error) = result else {
        return Answer::Accepted;
    };
    let jsonrpsee::core::client::Error::Call(object) = &error else {
        return Answer::Unreachable(error.into());
    };
    let data: Value = object
        .data()
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .unwrap_or(Value::Null);
    let code = data.get("code").and_then(Value::as_str).map(str::to_owned);
    match (object.code(), code) {
        // Already pooled: an earlier send reached the node after all.
        (TX_REFUSED, None) if object.message().contains("already in the mempool") => {
            Answer::Accepted
        }
        (TX_REFUSED, Some(code)) => {
            // Transient: a full pool; a nonce window or a proposal the node has not
            // reached yet (it is a block behind the watched node).
            let retry = match code.as_str() {
                "limit_exceeded" | "bad_nonce" => true,
                "unknown_proposal" => matches!(kind, TxKind::Vote { .. }),
                _ => false,
            };
            Answer::Refused { code, retry }
        }
        (TX_REFUSED, None) => Answer::Refused {
            code: "node_state".into(),
            retry: true,
        },
        (other, _) => Answer::Refused {
            code: format!("rpc_error_{other}"),
            retry: other == -32000,
        },
    }
}

/// Signs and sends one transaction, retrying transient refusals on the next node;
/// gives it up (reusing its nonce) on a lasting refusal. Fails only when no node
/// answers.
async fn send(ctx: &Ctx, account: usize, nonce: u64, payload: Payload, kind: TxKind) -> Result<()> {
    let tx = Transaction::sign(
        &ctx.accounts[account].keypair,
        ctx.chain_id.clone(),
        Nonce(nonce),
        payload,
    );
    let hash = tx.hash();
    let hex = hex_encode(&tx.encode());
    let first = Instant::now();
    ctx.state().tracker.submitted(
        hash,
        Pending {
            account,
            nonce,
            kind: kind.clone(),
            submitted: first,
        },
    );
    let mut last_refusal = String::new();
    let mut unreachable = 0u32;
    for attempt in 1..=MAX_ATTEMPTS {
        let (node, client) = ctx.next_client();
        let began = Instant::now();
        let result = client.api().submit_transaction(hex.clone()).await;
        let took = began.elapsed();
        match answer(result, &kind) {
            Answer::Accepted => {
                let mut state = ctx.state();
                state.submit_calls.push(took);
                match kind {
                    TxKind::Proposal { .. } => state.sent_proposals += 1,
                    TxKind::Vote { .. } => state.sent_votes += 1,
                }
                return Ok(());
            }
            Answer::Refused { code, retry } => {
                {
                    let mut state = ctx.state();
                    state.submit_calls.push(took);
                    *state.refusals.entry(code.clone()).or_default() += 1;
                }
                last_refusal = code;
                if !retry {
                    break;
                }
            }
            Answer::Unreachable(error) => {
                ctx.state().transport_errors += 1;
                unreachable += 1;
                if unreachable >= MAX_ATTEMPTS / 2 {
                    return Err(error.context(format!(
                        "{} (and the other nodes) did not answer {unreachable} submissions in a \
                         row; is the network still running?",
                        ctx.urls[node]
                    )));
                }
            }
        }
        if attempt < MAX_ATTEMPTS {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
    // Given up: unless a block already holds it, its nonce goes to the next transaction.
    let mut state = ctx.state();
    if state.tracker.withdraw(&hash).is_some() {
        if let Err(not_last) = state.windows[account].abandon(nonce) {
            bail!(
                "internal error: {} gave up nonce {} while the next is {}",
                ctx.accounts[account].name,
                not_last.nonce,
                not_last.next
            );
        }
        let code = if last_refusal.is_empty() {
            "unanswered".to_owned()
        } else {
            last_refusal
        };
        *state.abandoned.entry(code).or_default() += 1;
        drop(state);
        ctx.freed[account].notify_waiters();
    } else {
        match kind {
            TxKind::Proposal { .. } => state.sent_proposals += 1,
            TxKind::Vote { .. } => state.sent_votes += 1,
        }
    }
    Ok(())
}

/// Walks the watched node's finalized blocks from `start_height` until told to stop,
/// then once more to the head.
async fn walk(ctx: Arc<Ctx>, start_height: u64) -> Result<()> {
    let mut walked = start_height;
    let mut unreachable_since: Option<Instant> = None;
    loop {
        let stopping = ctx.stop_walker.load(Ordering::SeqCst);
        match walk_to_head(&ctx, &mut walked).await {
            Ok(()) => unreachable_since = None,
            Err(error) => {
                let since = *unreachable_since.get_or_insert_with(Instant::now);
                if since.elapsed() > WATCH_PATIENCE {
                    return Err(
                        error.context(format!("the node at {} stopped answering", ctx.urls[0]))
                    );
                }
            }
        }
        if stopping {
            return Ok(());
        }
        tokio::time::sleep(ctx.poll).await;
    }
}

async fn walk_to_head(ctx: &Arc<Ctx>, walked: &mut u64) -> Result<()> {
    let status = ctx.watch().status().await?;
    let head = status.height.0;
    while *walked < head {
        let height = *walked + 1;
        let answer = ctx
            .watch()
            .api()
            .block(Height(height).into())
            .await
            .context("chain_getBlock")?;
        let seen = Instant::now();
        let block: Block = answer
            .with_context(|| format!("the node has no block at height {height}"))?
            .block;
        on_block(ctx, height, &block, seen);
        *walked = height;
    }
    Ok(())
}

fn on_block(ctx: &Arc<Ctx>, height: u64, block: &Block, seen: Instant) {
    let hashes: Vec<Hash> = block.transactions.iter().map(Transaction::hash).collect();
    let mut state = ctx.state();
    let found = state.tracker.on_block(height, hashes, seen);
    let measured = ctx.clock.measured(seen);
    if measured {
        let window = &mut state.window;
        window.first_height.get_or_insert(height);
        window.last_height = Some(height);
        window.blocks += 1;
        window.block_txs += block.transactions.len() as u64;
        window.max_block_txs = window.max_block_txs.max(block.transactions.len());
        window.ours += found.ours.len() as u64;
        window.foreign += found.foreign as u64;
    }
    let mut freed = Vec::new();
    for tx in found.ours {
        state.windows[tx.pending.account].finalized(tx.pending.nonce);
        freed.push(tx.pending.account);
        if ctx.clock.measured(tx.pending.submitted) {
            state.latencies.push(tx.latency);
        }
        match tx.pending.kind {
            TxKind::Proposal { .. } => {
                state.finalized_proposals += 1;
                ctx.receipts_outstanding.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(learn_proposal(Arc::clone(ctx), tx.hash));
            }
            TxKind::Vote { proposal, .. } => {
                state.finalized_votes += 1;
                *state.votes_finalized.entry(proposal).or_default() += 1;
            }
        }
    }
    drop(state);
    freed.dedup();
    for account in freed {
        ctx.freed[account].notify_waiters();
    }
}

/// Reads a finalized proposal's receipt: its id goes to the voters of its regions, a
/// failure is counted by code.
async fn learn_proposal(ctx: Arc<Ctx>, hash: Hash) {
    let mut receipt = None;
    for _ in 0..50 {
        if let Ok(TransactionStatus::Finalized { receipt: found, .. }) =
            ctx.watch().api().transaction(hash).await
        {
            receipt = Some(*found);
            break;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    {
        let mut state = ctx.state();
        match receipt {
            None => {
                *state
                    .failed_receipts
                    .entry("receipt_unreadable".into())
                    .or_default() += 1;
            }
            Some(Receipt {
                outcome: Outcome::Failed { code, .. },
                ..
            }) => {
                let code = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("{code:?}"));
                *state.failed_receipts.entry(code).or_default() += 1;
            }
            Some(Receipt {
                outcome: Outcome::Success,
                events,
                ..
            }) => {
                let submitted = events.iter().find_map(|event| match event {
                    Event::ProposalSubmitted {
                        proposal, regions, ..
                    } => Some((*proposal, regions.clone())),
                    _ => None,
                });
                match submitted {
                    Some((proposal, regions)) => {
                        state.proposals.push(proposal.0);
                        for region in regions {
                            for &voter in ctx.voters_by_region.get(&region).into_iter().flatten() {
                                if let Some(Some(jobs)) = ctx.votes.get(voter) {
                                    let _ = jobs.send((proposal.0, region.clone()));
                                }
                            }
                        }
                    }
                    None => {
                        *state
                            .failed_receipts
                            .entry("no_proposal_event".into())
                            .or_default() += 1;
                    }
                }
            }
        }
    }
    ctx.receipts_outstanding.fetch_sub(1, Ordering::SeqCst);
}

/// Asks the watched node about every transaction still unconfirmed after the drain.
async fn classify_unresolved(ctx: &Ctx) -> Result<Unresolved> {
    let hashes: Vec<Hash> = ctx.state().tracker.pending().map(|(h, _)| *h).collect();
    let mut unresolved = Unresolved::default();
    for hash in hashes {
        let answer = ctx
            .watch()
            .api()
            .transaction(hash)
            .await
            .context("chain_getTransaction")?;
        match answer {
            // Finalized after the walker's last pass.
            TransactionStatus::Finalized { .. } => unresolved.late += 1,
            TransactionStatus::Pending => unresolved.pending += 1,
            TransactionStatus::Dropped { code, .. } => {
                let code = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "unknown".to_owned());
                *unresolved.dropped.entry(code).or_default() += 1;
            }
            TransactionStatus::Unknown => unresolved.unknown += 1,
        }
    }
    Ok(unresolved)
}

/// Yes votes finalized on the run's proposals that their tallies do not count.
async fn check_tallies(ctx: &Ctx, proposals: &[u64]) -> Result<u64> {
    let finalized = ctx.state().votes_finalized.clone();
    let mut missing = 0;
    for &id in proposals {
        let view = ctx
            .watch()
            .api()
            .proposal(ProposalId(id))
            .await
            .context("gov_getProposal")?;
        let counted: u64 = view
            .iter()
            .flat_map(|v| v.tallies.iter())
            .map(|(_, tally)| u64::from(tally.yes))
            .sum();
        let sent = finalized.get(&id).copied().unwrap_or(0);
        missing += sent.saturating_sub(counted);
    }
    Ok(missing)
}

/// The status of a proposal view, as its snake-case name.
pub fn status_name(view: Option<&ProposalView>) -> Option<String> {
    view.map(|v| accord_rpc::types::status_name(&v.state.status))
}

/// Waits until no proposal of the run is voting any more (or `limit`), and counts them
/// by status.
async fn await_decisions(
    ctx: &Ctx,
    proposals: &[u64],
    limit: Duration,
) -> Result<BTreeMap<String, u64>> {
    let deadline = Instant::now() + limit;
    let mut open: Vec<u64> = proposals.to_vec();
    let mut decided: BTreeMap<String, u64> = BTreeMap::new();
    loop {
        let mut still = Vec::new();
        for id in open {
            let view = ctx
                .watch()
                .api()
                .proposal(ProposalId(id))
                .await
                .context("gov_getProposal")?;
            match status_name(view.as_ref()).as_deref() {
                Some("voting") | None => still.push(id),
                Some(status) => *decided.entry(status.to_owned()).or_default() += 1,
            }
        }
        open = still;
        if open.is_empty() || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if !open.is_empty() {
        decided.insert("voting".into(), open.len() as u64);
    }
    Ok(decided)
}
