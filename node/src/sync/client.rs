//! Block sync's client: a task of its own that polls peers' heights, decides when the
//! node is behind, fetches ranges of blocks from several peers at once, and hands them
//! in order to the consensus task, which verifies, executes and commits them.
//!
//! ```text
//!   every second, at once after a catch-up that applied blocks, or 100 ms after
//!   consensus heard a validator past the height it decides:
//!   Status to every peer (2 s each) ──► shared peer list
//!        │ behind? (2+ blocks, or 1 while the head has not moved for 4 s or since
//!        │          consensus heard the chain is past it)
//!        ▼
//!   plan ranges ──► Blocks requests, 4 at a time (3 s each, next peer on failure)
//!        │ in order
//!        ▼
//!   consensus mailbox: Synced { blocks } ──► applied / refused ──► penalties
//! ```
//!
//! The consensus task goes on deciding heights while requests are in flight: a peer
//! that claims to be ahead and never answers costs this task time, never consensus.

use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_types::{Block, CommitCertificate, Height, PublicKey};
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot, Notify};
use tracing::{info, warn};

use super::peers::{self, Fault, SyncPeers, SYNC_PARALLEL};
use crate::p2p::{P2pHandle, SyncRequest, SyncResponse};
use crate::status::{Lag, SharedPeers, SharedStatus};

/// A head that has not moved for this long makes the node believe a peer one block
/// ahead.
pub const STALL: Duration = Duration::from_secs(4);
/// How long a sync request may take before the next peer is asked.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a status request may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);
/// How often peers are asked for their heights.
const POLL: Duration = Duration::from_secs(1);
/// How long a poll that consensus asked for waits first (for consensus to get there
/// itself); also the shortest time between two such polls.
const NUDGE_WAIT: Duration = Duration::from_millis(100);

/// Blocks fetched from a peer, in height order, for the consensus task to apply.
#[derive(Debug)]
pub struct Synced {
    /// The blocks with their certificates.
    pub blocks: Vec<(Block, CommitCertificate)>,
    /// How it went.
    pub reply: oneshot::Sender<Applied>,
}

/// What the consensus task did with a [`Synced`] batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Blocks committed from it.
    pub blocks: u64,
    /// Whether a block or certificate did not check (the rest of the batch was not
    /// applied): the peer that sent it lied.
    pub refused: bool,
}

/// What the client runs with.
pub struct SyncClient {
    /// The network.
    pub p2p: P2pHandle,
    /// The node's status: its head (read), `syncing` and the peer count (written).
    pub status: SharedStatus,
    /// Connected peers and their reported heights (written).
    pub peers: SharedPeers,
    /// The consensus task's sync mailbox; the client stops when it closes.
    pub consensus: mpsc::Sender<Synced>,
    /// Notified by consensus when a validator's message shows the chain is ahead: the
    /// peers are polled then, not at the next tick, so a node that fell behind takes
    /// the live height's messages again within a block or two.
    pub behind: Arc<Notify>,
    /// How far behind the best peer the node is (written after every poll).
    pub lag: Lag,
}

impl SyncClient {
    /// Starts the client on the runtime.
    pub fn spawn(self) {
        tokio::spawn(self.run());
    }

    async fn run(self) {
        let mut sync_peers = SyncPeers::default();
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut head = (self.status.read().height, Instant::now());
        let mut again = false;
        while !self.consensus.is_closed() {
            // The head when consensus said a validator is further on.
            let mut nudged = None;
            if !again {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = self.behind.notified() => {
                        nudged = Some(self.status.read().height);
                        // Time for consensus to get there itself (and a bound on polls).
                        tokio::time::sleep(NUDGE_WAIT).await;
                    }
                }
            }
            again = false;
            let heights = self.poll().await;
            let now = Instant::now();
            let height = self.status.read().height;
            if height != head.0 {
                head = (height, now);
            }
            let stalled = now.duration_since(head.1) > STALL;
            let ahead = sync_peers.believed(heights, height, now);
            let Some(best) = ahead.iter().map(|(_, h)| *h).max() else {
                self.lag.set(0);
                continue;
            };
            self.lag.set(best.0.saturating_sub(height.0));
            // One block behind counts when consensus saw the chain past it and the head
            // has not moved since.
            let passed = nudged == Some(height);
            if best.0 < height.0.saturating_add(2) && !stalled && !passed {
                continue;
            }
            self.status.write().syncing = true;
            // Blocks applied: the chain went on meanwhile, so ask again at once.
            again = self.catch_up(&mut sync_peers, &ahead, height, best).await > 0;
            self.status.write().syncing = false;
        }
    }

    /// Asks every peer for its height (a slow peer holds up only this poll).
    async fn poll(&self) -> Vec<(PublicKey, Height)> {
        let peers = self.p2p.peers().await;
        self.status.write().peers = peers.len();
        let answers = futures::future::join_all(peers.iter().map(|peer| {
            let p2p = self.p2p.clone();
            let peer = *peer;
            async move {
                let response =
                    tokio::time::timeout(STATUS_TIMEOUT, p2p.request(peer, SyncRequest::Status))
                        .await;
                match response {
                    Ok(Ok(SyncResponse::Status { height, .. })) => Some((peer, height)),
                    _ => None,
                }
            }
        }))
        .await;
        let heights: Vec<(PublicKey, Height)> = answers.into_iter().flatten().collect();
        *self.peers.write() = peers
            .iter()
            .map(|p| (*p, heights.iter().find(|(k, _)| k == p).map(|(_, h)| *h)))
            .collect();
        heights
    }

    /// Fetches the ranges of [`peers::plan`] towards `best`, each from the peers
    /// [`peers::sources`] names, fastest first, and hands them to consensus in order;
    /// answers how many blocks consensus applied.
    async fn catch_up(
        &self,
        sync_peers: &mut SyncPeers,
        ahead: &[(PublicKey, Height)],
        parent: Height,
        best: Height,
    ) -> u64 {
        let ranges = peers::plan(parent, best);
        if let (Some((from, _)), Some((_, to))) = (ranges.first(), ranges.last()) {
            info!(from = from.0, to = to.0, "catching up through block sync");
        }
        let mut responses =
            futures::stream::iter(ranges.into_iter().enumerate().map(|(i, (from, to))| {
                let p2p = self.p2p.clone();
                let sources = peers::sources(i, from, ahead);
                fetch(p2p, sources, from, to)
            }))
            .buffered(SYNC_PARALLEL);
        let mut applied = 0u64;
        while let Some((batch, failed)) = responses.next().await {
            let now = Instant::now();
            for (peer, fault) in failed {
                warn!(%peer, ?fault, "a peer did not deliver blocks it claimed; not asked again for a while");
                sync_peers.penalize(peer, fault, now);
            }
            let Some((source, took, blocks)) = batch else {
                break;
            };
            sync_peers.served(source, took);
            let (reply, answer) = oneshot::channel();
            if self.consensus.send(Synced { blocks, reply }).await.is_err() {
                return applied;
            }
            let Ok(outcome) = answer.await else {
                return applied;
            };
            applied += outcome.blocks;
            if outcome.refused {
                warn!(peer = %source, "a peer sent blocks that do not check; not asked again for a while");
                sync_peers.penalize(source, Fault::Lied, Instant::now());
                break;
            }
        }
        if applied > 0 {
            info!(applied, "caught up");
        }
        applied
    }
}

/// Asks `sources` in turn for blocks `from..=to`; answers with the blocks of the first
/// peer that sends any (with who it was and how long its first answer took) and the
/// peers that failed before it. A peer whose answer stops short of `to` (its response
/// cap holds fewer blocks) is asked for the rest until it has sent the range or stops
/// making progress.
async fn fetch(
    p2p: P2pHandle,
    sources: Vec<PublicKey>,
    from: Height,
    to: Height,
) -> (
    Option<(PublicKey, Duration, Vec<(Block, CommitCertificate)>)>,
    Vec<(PublicKey, Fault)>,
) {
    let mut failed = Vec::new();
    for peer in sources {
        let asked = Instant::now();
        let answer = ask(&p2p, peer, from, to).await;
        match answer {
            Ok(blocks) if !blocks.is_empty() => {
                let took = asked.elapsed();
                let mut blocks = blocks;
                while let Some(next) = next_from(&blocks, to) {
                    match ask(&p2p, peer, next, to).await {
                        Ok(more) if !more.is_empty() => blocks.extend(more),
                        _ => break,
                    }
                }
                return (Some((peer, took, blocks)), failed);
            }
            // It claimed the range in its status and holds none of it.
            Ok(_) => failed.push((peer, Fault::Lied)),
            Err(()) => failed.push((peer, Fault::Unanswered)),
        }
    }
    (None, failed)
}

/// One `Blocks` request; `Err` for no answer in time, a transport failure or an answer
/// of another kind.
async fn ask(
    p2p: &P2pHandle,
    peer: PublicKey,
    from: Height,
    to: Height,
) -> Result<Vec<(Block, CommitCertificate)>, ()> {
    let request = SyncRequest::Blocks { from, to };
    match tokio::time::timeout(SYNC_TIMEOUT, p2p.request(peer, request)).await {
        Ok(Ok(SyncResponse::Blocks(blocks))) => Ok(blocks),
        _ => Err(()),
    }
}

/// Where the rest of a range starts when `blocks` stop short of `to` in order, or `None`
/// when they reach it (or are out of order: the consensus task refuses those anyway).
fn next_from(blocks: &[(Block, CommitCertificate)], to: Height) -> Option<Height> {
    let last = blocks.last()?.0.header.height;
    let consecutive = blocks
        .windows(2)
        .all(|w| w[1].0.header.height.0 == w[0].0.header.height.0.saturating_add(1));
    (consecutive && last < to).then(|| last.saturating_add(1))
}
