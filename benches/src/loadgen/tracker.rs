//! Matching finalized blocks' transactions to the submissions that sent them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use accord_types::{Hash, RegionId};

/// What a submitted transaction does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxKind {
    /// A documentation proposal, the `seq`-th of the run.
    Proposal {
        /// Its sequence number in the run.
        seq: u64,
    },
    /// A yes vote on a proposal of the run.
    Vote {
        /// The proposal.
        proposal: u64,
        /// The region voted for.
        region: RegionId,
    },
}

/// A transaction sent and not yet seen in a finalized block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Index of the signing account.
    pub account: usize,
    /// Its nonce.
    pub nonce: u64,
    /// What it does.
    pub kind: TxKind,
    /// When it was first sent.
    pub submitted: Instant,
}

/// A submission found in a finalized block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finalized {
    /// Its hash.
    pub hash: Hash,
    /// The submission.
    pub pending: Pending,
    /// The block's height.
    pub height: u64,
    /// From the first send to the block being seen.
    pub latency: Duration,
}

/// What one block held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockMatch {
    /// The run's transactions, in block order.
    pub ours: Vec<Finalized>,
    /// Transactions that are not the run's (other clients, or sent before it).
    pub foreign: usize,
}

/// The run's unconfirmed transactions, by hash.
#[derive(Debug, Default)]
pub struct Tracker {
    pending: HashMap<Hash, Pending>,
}

impl Tracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a transaction about to be sent. It is recorded before the submission
    /// call, so a block that holds it is matched even if it is seen before the call
    /// returns.
    pub fn submitted(&mut self, hash: Hash, pending: Pending) {
        self.pending.insert(hash, pending);
    }

    /// Forgets a transaction every node refused. `None` if it is not pending: it was
    /// finalized after all (an earlier attempt reached a pool), or never recorded.
    pub fn withdraw(&mut self, hash: &Hash) -> Option<Pending> {
        self.pending.remove(hash)
    }

    /// Matches the transactions of the block at `height`, seen at `seen`: every pending
    /// one leaves the tracker with its latency.
    pub fn on_block(
        &mut self,
        height: u64,
        hashes: impl IntoIterator<Item = Hash>,
        seen: Instant,
    ) -> BlockMatch {
        let mut found = BlockMatch::default();
        for hash in hashes {
            match self.pending.remove(&hash) {
                Some(pending) => found.ours.push(Finalized {
                    hash,
                    latency: seen.saturating_duration_since(pending.submitted),
                    pending,
                    height,
                }),
                None => found.foreign += 1,
            }
        }
        found
    }

    /// Transactions sent and not yet finalized.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// The unconfirmed transactions.
    pub fn pending(&self) -> impl Iterator<Item = (&Hash, &Pending)> {
        self.pending.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_types::Domain;

    fn hash(i: u64) -> Hash {
        Hash::digest(Domain::TRANSACTION, &i.to_le_bytes())
    }

    fn proposal(account: usize, nonce: u64, submitted: Instant) -> Pending {
        Pending {
            account,
            nonce,
            kind: TxKind::Proposal { seq: nonce },
            submitted,
        }
    }

    #[test]
    fn blocks_match_submissions_by_hash_with_their_latency() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new();
        tracker.submitted(hash(1), proposal(0, 5, t0));
        tracker.submitted(hash(2), proposal(0, 6, t0 + Duration::from_millis(100)));
        let vote = Pending {
            account: 1,
            nonce: 0,
            kind: TxKind::Vote {
                proposal: 9,
                region: RegionId::new("eu").unwrap(),
            },
            submitted: t0 + Duration::from_millis(50),
        };
        tracker.submitted(hash(3), vote.clone());
        assert_eq!(tracker.in_flight(), 3);

        // A block with one of ours between two foreign transactions.
        let seen = t0 + Duration::from_millis(400);
        let first = tracker.on_block(12, [hash(100), hash(3), hash(101)], seen);
        assert_eq!(first.foreign, 2);
        assert_eq!(
            first.ours,
            vec![Finalized {
                hash: hash(3),
                pending: vote,
                height: 12,
                latency: Duration::from_millis(350),
            }]
        );
        assert_eq!(tracker.in_flight(), 2);

        let seen = t0 + Duration::from_millis(700);
        let second = tracker.on_block(13, [hash(2), hash(1)], seen);
        assert_eq!(second.foreign, 0);
        let got: Vec<(u64, Duration)> = second
            .ours
            .iter()
            .map(|f| (f.pending.nonce, f.latency))
            .collect();
        // Block order, each against its own submission time.
        assert_eq!(
            got,
            vec![
                (6, Duration::from_millis(600)),
                (5, Duration::from_millis(700))
            ]
        );
        assert_eq!(tracker.in_flight(), 0);
    }

    #[test]
    fn a_transaction_is_matched_once() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new();
        tracker.submitted(hash(1), proposal(0, 0, t0));
        assert_eq!(tracker.on_block(1, [hash(1)], t0).ours.len(), 1);
        // Walking the same block again (or a copy) finds nothing of ours.
        let again = tracker.on_block(1, [hash(1)], t0);
        assert!(again.ours.is_empty());
        assert_eq!(again.foreign, 1);
    }

    #[test]
    fn a_withdrawn_transaction_is_not_matched_and_a_finalized_one_cannot_be_withdrawn() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new();
        tracker.submitted(hash(1), proposal(0, 0, t0));
        tracker.submitted(hash(2), proposal(0, 1, t0));
        assert_eq!(tracker.withdraw(&hash(1)), Some(proposal(0, 0, t0)));
        assert_eq!(tracker.on_block(4, [hash(1)], t0).foreign, 1);
        assert_eq!(tracker.on_block(5, [hash(2)], t0).ours.len(), 1);
        assert_eq!(tracker.withdraw(&hash(2)), None);
        assert_eq!(tracker.in_flight(), 0);
    }

    #[test]
    fn a_block_seen_before_the_recorded_send_time_has_zero_latency() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new();
        tracker.submitted(hash(1), proposal(0, 0, t0 + Duration::from_secs(1)));
        let found = tracker.on_block(1, [hash(1)], t0);
        assert_eq!(found.ours[0].latency, Duration::ZERO);
    }
}
