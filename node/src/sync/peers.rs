//! What block sync believes and plans, without I/O: which peers' heights are believed,
//! which ranges one catch-up asks for, and whom each range is asked of. The client
//! sends the requests and applies what comes back.
//!
//! A peer's height is a claim. A catch-up plans at most [`SYNC_WINDOW`] blocks (the
//! next status poll plans the next ones), asks a range only of peers claiming to hold
//! it, fastest first, and a peer that claimed a range and delivered none of it, or sent
//! blocks that do not check, is passed over for [`SYNC_PENALTY`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use accord_types::{Height, PublicKey};

/// Blocks asked for in one sync request.
pub const SYNC_RANGE: u64 = 32;
/// Sync requests in flight at once.
pub const SYNC_PARALLEL: usize = 4;
/// Most blocks one catch-up asks for.
pub const SYNC_WINDOW: u64 = SYNC_RANGE * SYNC_PARALLEL as u64 * 4;
/// How long a peer that claimed blocks and delivered none, or sent blocks that do not
/// check, is not believed.
pub const SYNC_PENALTY: Duration = Duration::from_secs(60);
/// How long a peer that did not answer in time (or answered with an error, such as
/// "busy") is passed over: it may be honest and loaded, so not for long.
pub const SYNC_BACKOFF: Duration = Duration::from_secs(10);

/// What a peer did wrong in a catch-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No answer in time, a transport failure or an error response.
    Unanswered,
    /// An empty answer to a range it claimed, or blocks or certificates that do not
    /// check.
    Lied,
}

impl Fault {
    /// How long the peer is passed over.
    pub const fn penalty(self) -> Duration {
        match self {
            Self::Unanswered => SYNC_BACKOFF,
            Self::Lied => SYNC_PENALTY,
        }
    }
}

/// The ranges a catch-up from `parent` towards a claimed `best` asks for: consecutive,
/// [`SYNC_RANGE`] blocks each, at most [`SYNC_WINDOW`] blocks in all.
pub fn plan(parent: Height, best: Height) -> Vec<(Height, Height)> {
    let last = best.0.min(parent.0.saturating_add(SYNC_WINDOW));
    let mut ranges = Vec::new();
    let mut from = parent.0.saturating_add(1);
    while from <= last {
        let to = from.saturating_add(SYNC_RANGE - 1).min(last);
        ranges.push((Height(from), Height(to)));
        from = match to.checked_add(1) {
            Some(next) => next,
            None => break,
        };
    }
    ranges
}

/// Whom the `index`-th range of a plan, starting at `from`, is asked of, in order: the
/// peers claiming to hold it, each range starting with another peer so that ranges are
/// spread over them.
pub fn sources(index: usize, from: Height, peers: &[(PublicKey, Height)]) -> Vec<PublicKey> {
    let holding: Vec<PublicKey> = peers
        .iter()
        .filter(|(_, claimed)| *claimed >= from)
        .map(|(peer, _)| *peer)
        .collect();
    if holding.is_empty() {
        return holding;
    }
    let start = index % holding.len();
    holding[start..]
        .iter()
        .chain(&holding[..start])
        .copied()
        .collect()
}

/// What sync remembers about peers: penalties, and how fast each served.
#[derive(Debug, Default)]
pub struct SyncPeers {
    penalties: BTreeMap<PublicKey, Instant>,
    /// Recent time per served request (an average weighting the latest by a quarter).
    latency: BTreeMap<PublicKey, Duration>,
}

impl SyncPeers {
    /// The claims of `heights` that are believed at `now` and ahead of `parent`,
    /// fastest peers first (those not yet measured before the slow ones).
    pub fn believed(
        &mut self,
        heights: Vec<(PublicKey, Height)>,
        parent: Height,
        now: Instant,
    ) -> Vec<(PublicKey, Height)> {
        self.penalties.retain(|_, until| *until > now);
        let mut ahead: Vec<(PublicKey, Height)> = heights
            .into_iter()
            .filter(|(peer, claimed)| *claimed > parent && !self.penalties.contains_key(peer))
            .collect();
        ahead.sort_by_key(|(peer, _)| self.latency.get(peer).copied().unwrap_or_default());
        ahead
    }

    /// `peer` committed `fault`: it is passed over for the fault's penalty (a longer
    /// one already running is kept).
    pub fn penalize(&mut self, peer: PublicKey, fault: Fault, now: Instant) {
        let until = now + fault.penalty();
        let entry = self.penalties.entry(peer).or_insert(until);
        *entry = (*entry).max(until);
        self.latency.remove(&peer);
    }

    /// `peer` served a request in `took`.
    pub fn served(&mut self, peer: PublicKey, took: Duration) {
        let average = match self.latency.get(&peer) {
            Some(before) => (*before * 3 + took) / 4,
            None => took,
        };
        self.latency.insert(peer, average);
    }

    /// Whether `peer` is serving a penalty at `now`.
    pub fn penalized(&self, peer: &PublicKey, now: Instant) -> bool {
        self.penalties.get(peer).is_some_and(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> PublicKey {
        PublicKey::from_bytes([n; 32])
    }

    #[test]
    fn a_plan_covers_the_gap_in_consecutive_ranges_up_to_the_window() {
        assert!(plan(Height(10), Height(10)).is_empty());
        assert_eq!(plan(Height(10), Height(12)), [(Height(11), Height(12))]);
        let ranges = plan(Height(0), Height(70));
        assert_eq!(
            ranges,
            [
                (Height(1), Height(32)),
                (Height(33), Height(64)),
                (Height(65), Height(70))
            ]
        );
        // A claim of u64::MAX plans one window, not the claim.
        let ranges = plan(Height(5), Height(u64::MAX));
        let blocks: u64 = ranges.iter().map(|(a, b)| b.0 - a.0 + 1).sum();
        assert_eq!(blocks, SYNC_WINDOW);
        assert_eq!(ranges.len() as u64, SYNC_WINDOW / SYNC_RANGE);
        assert!(ranges.windows(2).all(|w| w[1].0 .0 == w[0].1 .0 + 1));
        // Near the top of the height range nothing overflows.
        assert_eq!(
            plan(Height(u64::MAX - 2), Height(u64::MAX)),
            [(Height(u64::MAX - 1), Height(u64::MAX))]
        );
    }

    #[test]
    fn a_range_is_asked_only_of_peers_claiming_it_starting_with_another_each_time() {
        let peers = [
            (peer(1), Height(100)),
            (peer(2), Height(40)),
            (peer(3), Height(100)),
        ];
        assert_eq!(sources(0, Height(1), &peers), [peer(1), peer(2), peer(3)]);
        assert_eq!(sources(1, Height(1), &peers), [peer(2), peer(3), peer(1)]);
        assert_eq!(sources(0, Height(50), &peers), [peer(1), peer(3)]);
        assert_eq!(sources(1, Height(50), &peers), [peer(3), peer(1)]);
        assert!(sources(0, Height(101), &peers).is_empty());
    }

    #[test]
    fn penalized_peers_are_not_believed_until_their_penalty_ends() {
        let mut peers = SyncPeers::default();
        let now = Instant::now();
        let heights = vec![(peer(1), Height(u64::MAX)), (peer(2), Height(9))];
        assert_eq!(peers.believed(heights.clone(), Height(5), now).len(), 2);
        peers.penalize(peer(1), Fault::Lied, now);
        assert!(peers.penalized(&peer(1), now));
        assert_eq!(
            peers.believed(heights.clone(), Height(5), now),
            [(peer(2), Height(9))]
        );
        // Claims at or below the parent are not ahead.
        assert!(peers.believed(heights.clone(), Height(9), now).len() <= 1);
        let later = now + SYNC_PENALTY + Duration::from_secs(1);
        assert_eq!(peers.believed(heights, Height(5), later).len(), 2);
        assert!(!peers.penalized(&peer(1), later));
    }

    #[test]
    fn a_peer_that_did_not_answer_is_passed_over_briefly_a_liar_for_longer() {
        let mut peers = SyncPeers::default();
        let now = Instant::now();
        peers.penalize(peer(1), Fault::Unanswered, now);
        peers.penalize(peer(2), Fault::Lied, now);
        let after_backoff = now + SYNC_BACKOFF + Duration::from_millis(1);
        assert!(!peers.penalized(&peer(1), after_backoff));
        assert!(peers.penalized(&peer(2), after_backoff));
        // A timeout does not shorten a running penalty for lying.
        peers.penalize(peer(2), Fault::Unanswered, after_backoff);
        assert!(peers.penalized(&peer(2), now + SYNC_PENALTY - Duration::from_millis(1)));
        assert!(SYNC_BACKOFF < SYNC_PENALTY);
    }

    #[test]
    fn the_fastest_peers_are_asked_first() {
        let mut peers = SyncPeers::default();
        let now = Instant::now();
        peers.served(peer(1), Duration::from_millis(2_900));
        peers.served(peer(2), Duration::from_millis(20));
        let heights = vec![
            (peer(1), Height(50)),
            (peer(2), Height(50)),
            (peer(3), Height(50)),
        ];
        let order: Vec<PublicKey> = peers
            .believed(heights, Height(1), now)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        // Not measured yet (3) first, then the fast one, the slow one last.
        assert_eq!(order, [peer(3), peer(2), peer(1)]);
        // One slow answer does not bury a fast peer at once.
        peers.served(peer(2), Duration::from_millis(400));
        assert!(peers.latency[&peer(2)] < Duration::from_millis(200));
    }
}
