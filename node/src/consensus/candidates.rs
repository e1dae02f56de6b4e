//! The blocks proposed for the height being decided: received with a proposal, fetched
//! by hash, or built by this node; with their executions once checked, and the hashes
//! the engine asked about before their blocks arrived. No I/O: the consensus task logs what
//! this store keeps and executes what it asks for.

use std::collections::{BTreeMap, BTreeSet};

use accord_types::{Block, Hash, Height, Round};

use crate::chain::Executed;

/// Candidate blocks kept for one height (proposals in many rounds).
pub const MAX_CANDIDATES: usize = 64;
/// Blocks of the next height kept ahead of it, at most (one per proposer): a node a
/// little behind then has the next proposal's block when that height starts, instead of
/// fetching it again at every height and never catching the live one.
pub const MAX_NEXT_CANDIDATES: usize = 16;

/// What became of a block offered with a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Kept: the caller logs it.
    Kept,
    /// Already held.
    Known,
    /// Not for the height being decided.
    OtherHeight,
    /// For a round after the next: fetched by hash if the height gets there, so a
    /// proposer cannot fill the store with a block for every round ahead.
    FarRound,
    /// The store holds [`MAX_CANDIDATES`] blocks already.
    Full,
}

/// The candidate blocks of one height.
#[derive(Debug, Default)]
pub struct Candidates {
    /// The height being decided.
    height: Height,
    blocks: BTreeMap<Hash, Block>,
    /// Blocks checked and executed, ready to commit.
    executed: BTreeMap<Hash, Executed>,
    /// Blocks the engine asked about that have not arrived.
    awaiting: BTreeSet<Hash>,
}

impl Candidates {
    /// An empty store for `height`.
    pub fn new(height: Height) -> Self {
        Self {
            height,
            ..Self::default()
        }
    }

    /// The height being decided.
    pub fn height(&self) -> Height {
        self.height
    }

    /// Moves to `height`: everything of lower heights is forgotten.
    pub fn advance(&mut self, height: Height) {
        self.height = height;
        self.blocks.retain(|_, block| block.header.height >= height);
        self.executed.clear();
        self.awaiting.clear();
    }

    /// Offers a block that came with a proposal for `round`, while the engine is in
    /// `round_now`.
    pub fn offer(&mut self, block: Block, round: Round, round_now: Round) -> Offer {
        if block.header.height != self.height {
            return Offer::OtherHeight;
        }
        if round.0 > round_now.0.saturating_add(1) {
            return Offer::FarRound;
        }
        self.keep(block)
    }

    /// Keeps a block fetched by hash (asked for by the engine or a decision).
    pub fn fetched(&mut self, block: Block) -> Offer {
        if block.header.height != self.height {
            return Offer::OtherHeight;
        }
        self.keep(block)
    }

    /// Offers a block that came with a proposal of the next height for `round`: kept
    /// until that height starts if it is for its first two rounds and its proposer has
    /// no block kept there yet, within [`MAX_NEXT_CANDIDATES`].
    pub fn offer_next(&mut self, block: Block, round: Round) -> Offer {
        let next = self.height.saturating_add(1);
        if block.header.height != next {
            return Offer::OtherHeight;
        }
        if round.0 > 1 {
            return Offer::FarRound;
        }
        let hash = block.hash();
        if self.blocks.contains_key(&hash) {
            return Offer::Known;
        }
        let ahead = || self.blocks.values().filter(|b| b.header.height == next);
        if ahead().any(|b| b.header.proposer == block.header.proposer) {
            return Offer::Known;
        }
        if ahead().count() >= MAX_NEXT_CANDIDATES {
            return Offer::Full;
        }
        self.blocks.insert(hash, block);
        Offer::Kept
    }

    /// The blocks held for the height being decided (logged when it starts).
    pub fn current(&self) -> impl Iterator<Item = &Block> {
        self.blocks
            .values()
            .filter(|b| b.header.height == self.height)
    }

    fn keep(&mut self, block: Block) -> Offer {
        let hash = block.hash();
        if self.blocks.contains_key(&hash) {
            return Offer::Known;
        }
        if self.current().count() >= MAX_CANDIDATES {
            return Offer::Full;
        }
        self.blocks.insert(hash, block);
        Offer::Kept
    }

    /// Keeps a block replayed from the consensus log (it was kept before).
    pub fn restore(&mut self, block: Block) {
        self.blocks.insert(block.hash(), block);
    }

    /// Keeps a block this node built and executed.
    pub fn built(&mut self, executed: Executed) {
        let hash = executed.block.hash();
        self.blocks.insert(hash, executed.block.clone());
        self.executed.insert(hash, executed);
    }

    /// A held block.
    pub fn block(&self, hash: &Hash) -> Option<&Block> {
        self.blocks.get(hash)
    }

    /// Whether the block was checked and executed here.
    pub fn is_executed(&self, hash: &Hash) -> bool {
        self.executed.contains_key(hash)
    }

    /// Records a block's execution.
    pub fn executed(&mut self, hash: Hash, executed: Executed) {
        self.executed.insert(hash, executed);
    }

    /// Takes a block's execution (to commit it).
    pub fn take_executed(&mut self, hash: &Hash) -> Option<Executed> {
        self.executed.remove(hash)
    }

    /// Notes that the engine waits for `hash`; whether it was not awaited before (the
    /// caller then fetches it).
    pub fn wait_for(&mut self, hash: Hash) -> bool {
        self.awaiting.insert(hash)
    }

    /// Whether the engine waits for `hash`.
    pub fn is_awaited(&self, hash: &Hash) -> bool {
        self.awaiting.contains(hash)
    }

    /// `hash` is answered: no longer awaited.
    pub fn answered(&mut self, hash: &Hash) {
        self.awaiting.remove(hash);
    }

    /// The awaited blocks that have arrived, no longer awaited.
    pub fn arrived(&mut self) -> Vec<Hash> {
        let arrived: Vec<Hash> = self
            .awaiting
            .iter()
            .filter(|hash| self.blocks.contains_key(hash))
            .copied()
            .collect();
        for hash in &arrived {
            self.awaiting.remove(hash);
        }
        arrived
    }

    /// Blocks held.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether no block is held.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use accord_types::block::Header;
    use accord_types::{ChainId, PublicKey, Timestamp};

    use super::*;

    fn block(height: u64, tag: u8) -> Block {
        Block {
            header: Header {
                chain_id: ChainId::new("accord-test").unwrap(),
                height: Height(height),
                parent_hash: Hash::ZERO,
                timestamp: Timestamp(u64::from(tag)),
                proposer: PublicKey::from_bytes([tag; 32]),
                transactions_root: Hash::ZERO,
                evidence_root: Hash::ZERO,
                state_root: Hash::ZERO,
                receipts_root: Hash::ZERO,
                validator_set_hash: Hash::ZERO,
                last_commit_hash: Hash::ZERO,
            },
            transactions: Vec::new(),
            evidence: Vec::new(),
            last_commit: None,
        }
    }

    #[test]
    fn next_height_blocks_wait_for_their_height_one_per_proposer_within_a_cap() {
        let mut store = Candidates::new(Height(5));
        assert_eq!(store.offer_next(block(6, 1), Round(0)), Offer::Kept);
        assert_eq!(store.offer_next(block(6, 1), Round(0)), Offer::Known);
        // Another block by the same proposer is not kept (one each).
        let mut again = block(6, 1);
        again.header.timestamp = Timestamp(99);
        assert_eq!(store.offer_next(again, Round(1)), Offer::Known);
        assert_eq!(store.offer_next(block(6, 2), Round(2)), Offer::FarRound);
        assert_eq!(store.offer_next(block(7, 2), Round(0)), Offer::OtherHeight);
        assert_eq!(store.offer_next(block(5, 2), Round(0)), Offer::OtherHeight);
        for tag in 2..=MAX_NEXT_CANDIDATES as u8 {
            assert_eq!(store.offer_next(block(6, tag), Round(0)), Offer::Kept);
        }
        assert_eq!(store.offer_next(block(6, 200), Round(0)), Offer::Full);
        // They take no room from the height being decided, and are not among its blocks.
        assert_eq!(store.current().count(), 0);
        for tag in 0..MAX_CANDIDATES as u8 {
            assert_eq!(store.offer(block(5, tag), Round(0), Round(0)), Offer::Kept);
        }
        // When the height starts they are its candidates.
        store.advance(Height(6));
        assert_eq!(store.current().count(), MAX_NEXT_CANDIDATES);
        assert!(store.block(&block(6, 1).hash()).is_some());
    }

    #[test]
    fn only_blocks_of_the_height_and_of_near_rounds_are_kept_once() {
        let mut store = Candidates::new(Height(5));
        assert_eq!(
            store.offer(block(6, 1), Round(0), Round(0)),
            Offer::OtherHeight
        );
        assert_eq!(
            store.offer(block(4, 1), Round(0), Round(0)),
            Offer::OtherHeight
        );
        assert_eq!(
            store.offer(block(5, 1), Round(2), Round(0)),
            Offer::FarRound
        );
        assert_eq!(store.offer(block(5, 1), Round(1), Round(0)), Offer::Kept);
        assert_eq!(store.offer(block(5, 1), Round(0), Round(0)), Offer::Known);
        assert_eq!(store.offer(block(5, 2), Round(7), Round(6)), Offer::Kept);
        assert_eq!(store.len(), 2);
        assert!(store.block(&block(5, 1).hash()).is_some());
    }

    #[test]
    fn the_store_holds_at_most_its_cap() {
        let mut store = Candidates::new(Height(1));
        for tag in 0..MAX_CANDIDATES {
            let tag = u8::try_from(tag).unwrap();
            assert_eq!(store.offer(block(1, tag), Round(0), Round(0)), Offer::Kept);
        }
        assert_eq!(store.offer(block(1, 200), Round(0), Round(0)), Offer::Full);
        assert_eq!(store.fetched(block(1, 201)), Offer::Full);
        assert_eq!(store.len(), MAX_CANDIDATES);
    }

    #[test]
    fn awaited_blocks_are_reported_once_they_arrive() {
        let mut store = Candidates::new(Height(3));
        let (a, b) = (block(3, 1), block(3, 2));
        assert!(store.wait_for(a.hash()));
        assert!(!store.wait_for(a.hash()), "already awaited: fetched once");
        assert!(store.wait_for(b.hash()));
        assert!(store.arrived().is_empty());
        assert_eq!(store.fetched(a.clone()), Offer::Kept);
        assert_eq!(store.arrived(), vec![a.hash()]);
        assert!(store.arrived().is_empty(), "reported once");
        assert!(store.is_awaited(&b.hash()));
        store.answered(&b.hash());
        assert!(!store.is_awaited(&b.hash()));
    }

    #[test]
    fn advancing_forgets_lower_heights_and_every_execution() {
        let mut store = Candidates::new(Height(3));
        store.restore(block(3, 1));
        store.restore(block(4, 2));
        store.wait_for(Hash::ZERO);
        store.advance(Height(4));
        assert_eq!(store.height(), Height(4));
        assert_eq!(store.len(), 1);
        assert!(store.block(&block(4, 2).hash()).is_some());
        assert!(!store.is_awaited(&Hash::ZERO));
        assert!(store.take_executed(&block(4, 2).hash()).is_none());
    }
}
