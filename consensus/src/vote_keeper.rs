//! The votes of one height: the first vote of each validator per round and type,
//! tallied by value, with equivocation detection and a bound on future rounds.
//!
//! # Counting
//!
//! A validator's first vote of a round and type counts everywhere: in the tally of its
//! value, in "any value" tallies (L34, L47) and among the round's voters (L55). A
//! different second vote is equivocation: the first time, the keeper returns the
//! evidence. The conflicting vote is kept too (up to [`MAX_VALUES_PER_VALIDATOR`]
//! values per validator, round and type) and counts in the tally of *its* value only,
//! never twice in an "any" tally. That is what lets a validator recognise a polka or a
//! commit quorum that other validators saw, when an equivocator sent it a different
//! vote first: without it, a validator locked by such a polka could never convince
//! the others, and the height could stall. It cannot hurt safety: a faulty validator
//! could as well have sent each value to a different correct validator.
//!
//! # Memory
//!
//! Rounds up to the current one hold at most [`MAX_VALUES_PER_VALIDATOR`] votes per
//! validator and type, and only rounds the engine has entered or that validators voted
//! in before it got there. Above the current round each validator may occupy at most
//! [`MAX_FUTURE_ROUNDS`] rounds; a vote for a higher round evicts that validator's
//! lowest future round. Honest validators only move up, so their latest round is the
//! one kept, which is the one that lets a lagging node skip ahead (L55); a validator
//! flooding far-future rounds only ever occupies its own few slots.

use std::collections::{BTreeMap, BTreeSet};

use accord_types::validator::PowerTally;
use accord_types::{
    Evidence, Hash, Height, PublicKey, Round, Validator, ValidatorSet, Vote, VoteType,
};

/// Rounds above the current one in which one validator's votes are kept.
pub const MAX_FUTURE_ROUNDS: usize = 2;

/// Different values one validator's votes may count for, per round and type.
pub const MAX_VALUES_PER_VALIDATOR: usize = 3;

/// The votes of one type in one round.
#[derive(Debug, Clone, Default)]
struct VoteSet {
    /// Each validator's first vote.
    first: BTreeMap<PublicKey, Vote>,
    /// Each equivocating validator's further votes, for other values.
    conflicting: BTreeMap<PublicKey, Vec<Vote>>,
    /// Power that voted for each value (an equivocator in each of its values).
    by_value: BTreeMap<Option<Hash>, PowerTally>,
    /// Power that voted at all (each validator once).
    any: PowerTally,
}

impl VoteSet {
    fn all_of<'a>(&'a self, key: &PublicKey) -> impl Iterator<Item = &'a Vote> + 'a {
        self.first
            .get(key)
            .into_iter()
            .chain(self.conflicting.get(key).into_iter().flatten())
    }
}

/// The votes of one round.
#[derive(Debug, Clone, Default)]
struct RoundVotes {
    prevotes: VoteSet,
    precommits: VoteSet,
    /// Validators with at least one vote in the round, for the round-skip rule.
    voters: BTreeSet<PublicKey>,
    voters_tally: PowerTally,
}

impl RoundVotes {
    fn set(&self, vote_type: VoteType) -> &VoteSet {
        match vote_type {
            VoteType::Prevote => &self.prevotes,
            VoteType::Precommit => &self.precommits,
        }
    }

    fn set_mut(&mut self, vote_type: VoteType) -> &mut VoteSet {
        match vote_type {
            VoteType::Prevote => &mut self.prevotes,
            VoteType::Precommit => &mut self.precommits,
        }
    }
}

/// What adding a vote did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// The vote is new and counted.
    Counted,
    /// The same vote (or another signature over the same vote) was already counted.
    Duplicate,
    /// The vote is for a round too far ahead to keep (see [`MAX_FUTURE_ROUNDS`]).
    Dropped,
    /// The validator already voted differently in this round and step.
    Conflicting {
        /// The evidence, the first time the conflict is seen.
        evidence: Option<Box<Evidence>>,
        /// Whether the vote counts for its value (see the module documentation).
        counted: bool,
    },
}

/// The votes of one height.
#[derive(Debug, Clone)]
pub struct VoteKeeper {
    height: Height,
    rounds: BTreeMap<Round, RoundVotes>,
    /// Each validator's rounds above the current round that hold its votes.
    future: BTreeMap<PublicKey, BTreeSet<Round>>,
    current_round: Round,
    /// Rounds and values that reached a quorum of precommits at some point; checked
    /// again before use, since eviction can undo a quorum of a future round.
    commit_candidates: BTreeSet<(Round, Hash)>,
    reported: BTreeSet<(PublicKey, Round, VoteType)>,
}

fn subtract(tally: &mut PowerTally, validator: &Validator) {
    tally.total = tally.total.saturating_sub(validator.power);
    if let Some(region) = tally.per_region.get_mut(&validator.region) {
        *region = region.saturating_sub(validator.power);
        if *region == 0 {
            tally.per_region.remove(&validator.region);
        }
    }
}

impl VoteKeeper {
    /// An empty keeper for `height`.
    pub fn new(height: Height) -> Self {
        Self {
            height,
            rounds: BTreeMap::new(),
            future: BTreeMap::new(),
            current_round: Round(0),
            commit_candidates: BTreeSet::new(),
            reported: BTreeSet::new(),
        }
    }

    /// The height whose votes are kept.
    pub fn height(&self) -> Height {
        self.height
    }

    /// Records that the engine entered `round`: votes of rounds up to it are no
    /// longer "future" and cannot be evicted.
    pub fn set_current_round(&mut self, round: Round) {
        self.current_round = round;
        for rounds in self.future.values_mut() {
            rounds.retain(|r| *r > round);
        }
        self.future.retain(|_, rounds| !rounds.is_empty());
    }

    /// Adds a vote of `validator` (a member of `validators` whose key signed it).
    pub fn add(&mut self, vote: Vote, validator: &Validator, validators: &ValidatorSet) -> Added {
        let (round, vote_type, key, value) =
            (vote.round, vote.vote_type, vote.validator, vote.block_hash);
        if let Some(set) = self.rounds.get_mut(&round).map(|r| r.set_mut(vote_type)) {
            if let Some(first) = set.first.get(&key).cloned() {
                if set.all_of(&key).any(|v| v.block_hash == value) {
                    return Added::Duplicate;
                }
                let evidence = if self.reported.insert((key, round, vote_type)) {
                    Evidence::duplicate_vote(first, vote.clone()).map(Box::new)
                } else {
                    None
                };
                let others = set.conflicting.entry(key).or_default();
                let counted = others.len() + 1 < MAX_VALUES_PER_VALIDATOR;
                if counted {
                    others.push(vote);
                    set.by_value.entry(value).or_default().add(validator);
                    self.note_commit_quorum(validators, round, vote_type, value);
                }
                return Added::Conflicting { evidence, counted };
            }
        }
        if round > self.current_round {
            let rounds = self.future.entry(key).or_default();
            rounds.insert(round);
            if rounds.len() > MAX_FUTURE_ROUNDS {
                if let Some(lowest) = rounds.pop_first() {
                    if lowest == round {
                        // The new vote is below every kept future round: drop it instead.
                        return Added::Dropped;
                    }
                    self.evict(lowest, validator);
                }
            }
        }
        let entry = self.rounds.entry(round).or_default();
        if entry.voters.insert(key) {
            entry.voters_tally.add(validator);
        }
        let set = entry.set_mut(vote_type);
        set.first.insert(key, vote);
        set.any.add(validator);
        set.by_value.entry(value).or_default().add(validator);
        self.note_commit_quorum(validators, round, vote_type, value);
        Added::Counted
    }

    fn note_commit_quorum(
        &mut self,
        validators: &ValidatorSet,
        round: Round,
        vote_type: VoteType,
        value: Option<Hash>,
    ) {
        if let (VoteType::Precommit, Some(hash)) = (vote_type, value) {
            if self.is_quorum_for(validators, round, vote_type, value) {
                self.commit_candidates.insert((round, hash));
            }
        }
    }

    /// Removes `validator`'s votes of `round` (a future round it must give up).
    fn evict(&mut self, round: Round, validator: &Validator) {
        let Some(entry) = self.rounds.get_mut(&round) else {
            return;
        };
        for vote_type in [VoteType::Prevote, VoteType::Precommit] {
            let set = entry.set_mut(vote_type);
            let Some(first) = set.first.remove(&validator.key) else {
                continue;
            };
            subtract(&mut set.any, validator);
            let others = set.conflicting.remove(&validator.key).unwrap_or_default();
            for vote in std::iter::once(first).chain(others) {
                if let Some(tally) = set.by_value.get_mut(&vote.block_hash) {
                    subtract(tally, validator);
                    if tally.total == 0 {
                        set.by_value.remove(&vote.block_hash);
                    }
                }
            }
        }
        if entry.voters.remove(&validator.key) {
            subtract(&mut entry.voters_tally, validator);
        }
        if entry.voters.is_empty() {
            self.rounds.remove(&round);
        }
    }

    /// The first vote `key` cast for `round` and `vote_type`, if counted.
    pub fn vote(&self, round: Round, vote_type: VoteType, key: &PublicKey) -> Option<&Vote> {
        self.rounds.get(&round)?.set(vote_type).first.get(key)
    }

    /// Every validator's first vote of `round` and `vote_type`, in key order.
    pub fn votes(&self, round: Round, vote_type: VoteType) -> impl Iterator<Item = &Vote> {
        self.rounds
            .get(&round)
            .into_iter()
            .flat_map(move |r| r.set(vote_type).first.values())
    }

    /// Every counted vote of `round` and `vote_type` for `value`, conflicting ones
    /// included, in key order.
    pub fn votes_for(
        &self,
        round: Round,
        vote_type: VoteType,
        value: Option<Hash>,
    ) -> impl Iterator<Item = &Vote> {
        self.rounds
            .get(&round)
            .into_iter()
            .flat_map(move |r| {
                let set = r.set(vote_type);
                set.first.keys().flat_map(move |k| set.all_of(k))
            })
            .filter(move |v| v.block_hash == value)
    }

    /// Whether the votes of `round` and `vote_type` for `value` form a quorum.
    pub fn is_quorum_for(
        &self,
        validators: &ValidatorSet,
        round: Round,
        vote_type: VoteType,
        value: Option<Hash>,
    ) -> bool {
        self.rounds
            .get(&round)
            .and_then(|r| r.set(vote_type).by_value.get(&value))
            .is_some_and(|t| validators.is_quorum(t))
    }

    /// The blocks with a quorum of prevotes in `round` (a polka), in hash order.
    pub fn polka_values<'a>(
        &'a self,
        validators: &'a ValidatorSet,
        round: Round,
    ) -> impl Iterator<Item = Hash> + 'a {
        self.rounds
            .get(&round)
            .into_iter()
            .flat_map(|r| r.prevotes.by_value.iter())
            .filter(|(_, tally)| validators.is_quorum(tally))
            .filter_map(|(value, _)| *value)
    }

    /// Whether the votes of `round` and `vote_type`, whatever their values, form a quorum.
    pub fn is_quorum_any(
        &self,
        validators: &ValidatorSet,
        round: Round,
        vote_type: VoteType,
    ) -> bool {
        self.rounds
            .get(&round)
            .is_some_and(|r| validators.is_quorum(&r.set(vote_type).any))
    }

    /// The highest round above `round` whose voters must include a correct validator
    /// (the paper's f + 1, region-aware under the regional rule).
    pub fn skip_target(&self, validators: &ValidatorSet, round: Round) -> Option<Round> {
        self.rounds
            .range(round.saturating_next()..)
            .rev()
            .find(|(r, votes)| **r > round && validators.contains_correct(&votes.voters_tally))
            .map(|(r, _)| *r)
    }

    /// Rounds and values with a quorum of precommits, lowest round first.
    pub fn commit_quorums<'a>(
        &'a self,
        validators: &'a ValidatorSet,
    ) -> impl Iterator<Item = (Round, Hash)> + 'a {
        self.commit_candidates
            .iter()
            .copied()
            .filter(|(round, hash)| {
                self.is_quorum_for(validators, *round, VoteType::Precommit, Some(*hash))
            })
    }

    /// How many votes are held, for memory accounting.
    pub fn len(&self) -> usize {
        self.rounds
            .values()
            .flat_map(|r| [&r.prevotes, &r.precommits])
            .map(|s| s.first.len() + s.conflicting.values().map(Vec::len).sum::<usize>())
            .sum()
    }

    /// Whether no vote is held.
    pub fn is_empty(&self) -> bool {
        self.rounds.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use accord_types::test_utils::{keypairs, validator_set};
    use accord_types::{ChainId, Domain, Keypair, QuorumRule};

    use super::*;

    struct Setup {
        keys: Vec<Keypair>,
        set: ValidatorSet,
        chain: ChainId,
    }

    fn setup() -> Setup {
        let mut keys = keypairs("vote-keeper", 4);
        keys.sort_by_key(|k| k.public());
        let members: Vec<(&Keypair, &str, u64)> = keys.iter().map(|k| (k, "eu", 1)).collect();
        let set = validator_set(&members, QuorumRule::Global).unwrap();
        Setup {
            keys,
            set,
            chain: ChainId::new("vote-keeper").unwrap(),
        }
    }

    fn value(name: &str) -> Option<Hash> {
        Some(Hash::digest(
            Domain::new("vote-keeper/test"),
            name.as_bytes(),
        ))
    }

    impl Setup {
        fn add(
            &self,
            keeper: &mut VoteKeeper,
            i: usize,
            r: u32,
            t: VoteType,
            v: Option<Hash>,
        ) -> Added {
            let vote = Vote::sign(&self.keys[i], &self.chain, Height(1), Round(r), t, v);
            let validator = self.set.get(&vote.validator).unwrap().clone();
            keeper.add(vote, &validator, &self.set)
        }
    }

    #[test]
    fn a_conflicting_vote_counts_for_its_value_but_not_twice_in_any() {
        let s = setup();
        let mut k = VoteKeeper::new(Height(1));
        let (b, c) = (value("b"), value("c"));
        assert_eq!(s.add(&mut k, 0, 0, VoteType::Prevote, b), Added::Counted);
        assert_eq!(s.add(&mut k, 1, 0, VoteType::Prevote, c), Added::Counted);
        // Validator 0 also prevotes c: evidence, counted for c.
        let added = s.add(&mut k, 0, 0, VoteType::Prevote, c);
        assert!(matches!(
            added,
            Added::Conflicting {
                evidence: Some(_),
                counted: true
            }
        ));
        // Two validators voted: no quorum of any prevotes, whatever 0 did.
        assert!(!k.is_quorum_any(&s.set, Round(0), VoteType::Prevote));
        assert_eq!(s.add(&mut k, 2, 0, VoteType::Prevote, c), Added::Counted);
        assert!(k.is_quorum_for(&s.set, Round(0), VoteType::Prevote, c));
        assert_eq!(k.votes(Round(0), VoteType::Prevote).count(), 3);
        assert_eq!(k.votes_for(Round(0), VoteType::Prevote, c).count(), 3);
        // The first vote stays the one reported.
        let first = k.vote(Round(0), VoteType::Prevote, &s.keys[0].public());
        assert_eq!(first.unwrap().block_hash, b);
        // A third value still counts, a fourth does not; no second evidence.
        let added = s.add(&mut k, 0, 0, VoteType::Prevote, None);
        assert_eq!(
            added,
            Added::Conflicting {
                evidence: None,
                counted: true
            }
        );
        let added = s.add(&mut k, 0, 0, VoteType::Prevote, value("d"));
        assert_eq!(
            added,
            Added::Conflicting {
                evidence: None,
                counted: false
            }
        );
        assert_eq!(s.add(&mut k, 0, 0, VoteType::Prevote, c), Added::Duplicate);
    }

    #[test]
    fn future_rounds_evict_the_lowest_and_restore_tallies() {
        let s = setup();
        let mut k = VoteKeeper::new(Height(1));
        let b = value("b");
        for i in 0..3 {
            s.add(&mut k, i, 5, VoteType::Precommit, b);
        }
        assert_eq!(
            k.commit_quorums(&s.set).collect::<Vec<_>>(),
            vec![(Round(5), b.unwrap())]
        );
        // Validator 0 moves on to rounds 6 and 7: its round-5 vote is evicted.
        s.add(&mut k, 0, 6, VoteType::Prevote, None);
        assert_eq!(s.add(&mut k, 0, 7, VoteType::Prevote, None), Added::Counted);
        assert!(k
            .vote(Round(5), VoteType::Precommit, &s.keys[0].public())
            .is_none());
        assert_eq!(k.commit_quorums(&s.set).count(), 0);
        // A vote below its kept future rounds is dropped.
        assert_eq!(s.add(&mut k, 0, 3, VoteType::Prevote, None), Added::Dropped);
        // Once round 7 is current, rounds up to it stay.
        k.set_current_round(Round(7));
        s.add(&mut k, 0, 8, VoteType::Prevote, None);
        s.add(&mut k, 0, 9, VoteType::Prevote, None);
        assert!(k
            .vote(Round(6), VoteType::Prevote, &s.keys[0].public())
            .is_some());
        assert_eq!(k.skip_target(&s.set, Round(7)), None);
        s.add(&mut k, 1, 9, VoteType::Prevote, None);
        assert_eq!(k.skip_target(&s.set, Round(7)), Some(Round(9)));
    }
}
