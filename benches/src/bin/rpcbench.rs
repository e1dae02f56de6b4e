//! `rpcbench`: read throughput of the API and delivery of one event stream to many
//! subscribers, against a running network (`accord localnet`).
//!
//! 1. `SUBSCRIBERS` WebSocket connections each subscribe to `gov_subscribeEvents`;
//!    the author submits `PROPOSALS` proposals; every subscriber must receive every
//!    `proposal_submitted` event, in the same order as the others (nothing lost, no
//!    duplicate); it reports events delivered per second across all subscribers.
//! 2. `CLIENTS` concurrent HTTP clients call `chain_getBlock` (random heights), then
//!    `gov_getProposal` (random ids), each for `DURATION`; it reports calls per second
//!    and latency percentiles.
//!
//! ```sh
//! rpcbench --home .localnet [--subscribers 100] [--proposals 200] [--clients 16] [--duration 10]
//! ```

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_benches::loadgen::{self, Accounts, Target};
use accord_node::client::Client;
use accord_rpc::types::{BlockId, EventFilter};
use accord_rpc::{ChainApiClient, GovApiClient};
use accord_types::codec::hex_encode;
use accord_types::{Event, Height, Nonce, Payload, ProposalId, Transaction};
use anyhow::{ensure, Context, Result};
use clap::Parser;
use jsonrpsee::ws_client::WsClientBuilder;

#[derive(Debug, Parser)]
#[command(about = "Read throughput and event delivery of the accord API")]
struct Args {
    /// The home given to `accord localnet`.
    #[arg(long)]
    home: PathBuf,
    /// WebSocket subscribers of the event stream.
    #[arg(long, default_value_t = 100)]
    subscribers: usize,
    /// Proposals submitted while they listen.
    #[arg(long, default_value_t = 200)]
    proposals: u64,
    /// Concurrent readers.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds per read benchmark.
    #[arg(long, default_value_t = 10)]
    duration: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn reads<F, Fut>(label: &str, clients: &[Client], duration: Duration, call: F) -> Result<()>
where
    F: Fn(Arc<Client>, u64) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        let url = client.url().to_owned();
        tasks.push(tokio::spawn(async move {
            let client = Arc::new(Client::new(&url)?);
            let mut latencies = Vec::new();
            let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ i as u64;
            while Instant::now() < deadline {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let began = Instant::now();
                call(Arc::clone(&client), seed).await?;
                latencies.push(began.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let took = started.elapsed().max(duration);
    all.sort_unstable();
    println!(
        "{label}: {} calls in {:.1} s = {:.0} calls/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        all.len(),
        took.as_secs_f64(),
        all.len() as f64 / took.as_secs_f64(),
        percentile(&all, 0.5),
        percentile(&all, 0.9),
        percentile(&all, 0.99),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let target = Target::from_home(&args.home)?;
    let accounts = Accounts::read(&target.keys)?;
    let url = target.rpc[0].clone();
    let client = Client::new(&url)?;
    let status = client.status().await?;
    let region = accounts
        .voters
        .keys()
        .next()
        .cloned()
        .context("no voter keys: no region to propose for")?;

    // 1. One event stream to many subscribers.
    let ws_url = url.replace("http://", "ws://");
    let mut subscriptions = Vec::new();
    for _ in 0..args.subscribers {
        let ws = WsClientBuilder::default()
            .max_buffer_capacity_per_subscription(100_000)
            .build(&ws_url)
            .await?;
        let filter = EventFilter {
            types: Some(vec!["proposal_submitted".into()]),
            ..Default::default()
        };
        let sub = ws.subscribe_events(Some(filter), None).await?;
        subscriptions.push((ws, sub));
    }
    let account = client.api().account(accounts.author.public()).await?;
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let started = Instant::now();
    for n in 0..args.proposals {
        let tx = Transaction::sign(
            &accounts.author,
            status.chain_id.clone(),
            Nonce(account.pending_nonce + n),
            Payload::SubmitProposal {
                draft: Box::new(loadgen::draft(n, run, std::slice::from_ref(&region))),
            },
        );
        // The pool holds 64 nonces per account: wait for room when it is full.
        loop {
            match client
                .api()
                .submit_transaction(hex_encode(&tx.encode()))
                .await
            {
                Ok(_) => break,
                Err(jsonrpsee::core::client::Error::Call(e))
                    if e.data().is_some_and(|d| d.get().contains("limit_exceeded")) =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    let expected = args.proposals as usize;
    let mut readers = Vec::new();
    for (ws, mut sub) in subscriptions {
        readers.push(tokio::spawn(async move {
            let mut ids: Vec<ProposalId> = Vec::with_capacity(expected);
            while ids.len() < expected {
                let item = tokio::time::timeout(Duration::from_secs(120), sub.next())
                    .await
                    .context("no event for 120 s")?
                    .context("the subscription closed")??;
                if let Event::ProposalSubmitted { proposal, .. } = item.event {
                    ids.push(proposal);
                }
            }
            drop(ws);
            anyhow::Ok(ids)
        }));
    }
    let mut received = Vec::new();
    for reader in readers {
        received.push(reader.await??);
    }
    let took = started.elapsed();
    let first = received.first().cloned().unwrap_or_default();
    ensure!(
        received.iter().all(|ids| *ids == first),
        "subscribers saw different sequences"
    );
    let distinct: BTreeSet<ProposalId> = first.iter().copied().collect();
    ensure!(distinct.len() == expected, "duplicates in the stream");
    let delivered = received.len() * expected;
    println!(
        "events: {} subscribers x {expected} proposal_submitted events = {delivered} delivered \
         in {:.1} s (submission to last delivery) = {:.0} events/s; none lost, none repeated, \
         every subscriber in the same order",
        received.len(),
        took.as_secs_f64(),
        delivered as f64 / took.as_secs_f64()
    );

    // 2. Reads.
    let head = client.status().await?.height.0;
    let proposals = client.api().list_proposals(None, None, Some(1)).await?;
    let top = {
        let mut last = proposals.proposals.first().map_or(1, |p| p.id.0);
        let mut after = None;
        loop {
            let page = client.api().list_proposals(None, after, Some(1000)).await?;
            if let Some(p) = page.proposals.last() {
                last = p.id.0;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break last,
            }
        }
    };
    let clients: Vec<Client> = (0..args.clients)
        .map(|_| Client::new(&url))
        .collect::<Result<_>>()?;
    let duration = Duration::from_secs(args.duration);
    reads(
        "chain_getBlock",
        &clients,
        duration,
        move |c, r| async move {
            let height = Height(1 + r % head.max(1));
            c.api()
                .block(BlockId::Height(height))
                .await?
                .context("a block below the head")?;
            Ok(())
        },
    )
    .await?;
    reads(
        "gov_getProposal",
        &clients,
        duration,
        move |c, r| async move {
            let id = ProposalId(1 + r % top.max(1));
            c.api().proposal(id).await?.context("a listed proposal")?;
            Ok(())
        },
    )
    .await?;
    Ok(())
}
