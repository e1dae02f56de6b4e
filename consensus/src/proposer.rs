//! Proposer selection: a stateless weighted round-robin that skips absent validators
//! in round 0.
//!
//! # The schedule
//!
//! Slot `s` of the schedule is computed from the validator set alone. Validator `i`
//! with power `pᵢ` out of a total `T` owns the points `(2k + 1)·T / (2pᵢ)` for
//! `k = 0, 1, …` on a line of period `T` (the Sainte-Laguë divisors); slot `s` goes to
//! the owner of the `(s mod T)`-th point, ties broken by key order. Over any `T`
//! consecutive slots validator `i` gets exactly `pᵢ` of them, spread evenly; with equal
//! powers the schedule is plain round-robin in key order. Finding the slot's owner is a
//! binary search over the line, `O(n log T)`, with no state carried between heights.
//!
//! Round `r` of height `h` uses slot `h + r`, so consecutive heights and consecutive
//! rounds both walk the schedule.
//!
//! # Demoting absent validators
//!
//! A crashed validator would still own its slots, and every height whose round 0 it
//! owns would wait out a propose timeout. So round 0 skips validators that finalized
//! data shows to be absent: a validator is *absent at height `h`* when none of the
//! [`ABSENCE_WINDOW`] blocks below `h` (near genesis, of the blocks from height 2, the
//! first to carry a certificate) was built by it or carries a certificate
//! (`last_commit`) it signed. Round 0 then goes to the first slot from `h` on whose
//! owner is not absent. Rounds above 0 use the plain schedule, so every validator,
//! absent or not, still gets turns.
//!
//! This stays deterministic and agreed: the blocks below `h` are finalized, so every
//! honest node computes the same absent set, and the same proposer for every round.
//! It cannot hurt safety, which in Tendermint never depends on who proposes (a faulty
//! proposer may send anything anyway). It cannot hurt liveness either: proposers of
//! rounds above 0 rotate through everyone, so a validator wrongly marked absent (for
//! instance because faulty proposers left its signature out of their certificates)
//! still proposes in later rounds; and a validator that comes back is present again
//! as soon as a certificate it signed is finalized.

use std::collections::BTreeSet;

use accord_types::{Height, PublicKey, Round, ValidatorSet};

use crate::error::{Error, Result};
use crate::input::CommittedBlock;

/// How many finalized blocks below a height are searched for signs of life.
pub const ABSENCE_WINDOW: u64 = 4;

/// Which validator owns slot `slot` of the weighted round-robin schedule of `validators`.
pub fn scheduled(validators: &ValidatorSet, slot: u64) -> Option<&PublicKey> {
    let all = validators.validators();
    let total = u128::from(validators.total_power());
    if total == 0 {
        return None;
    }
    let s = u128::from(slot) % total;
    // Points of validator i up to x (inclusive): floor((2·pᵢ·x + T) / (2T)).
    let count_up_to = |x: u128| -> u128 {
        all.iter()
            .map(|v| (2 * u128::from(v.power) * x + total) / (2 * total))
            .sum()
    };
    // Smallest integer x in [1, T] with more than s points up to x.
    let (mut lo, mut hi) = (1u128, total);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if count_up_to(mid) > s {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let x = lo;
    let before = count_up_to(x - 1);
    // Points spaced T/pᵢ ≥ 1 apart, so each validator has at most one in (x-1, x].
    // Order those by exact position (2k+1)/(2pᵢ), then by key order.
    let mut in_step: Vec<(u128, u128, usize)> = all
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let p = u128::from(v.power);
            let upto = (2 * p * x + total) / (2 * total);
            let below = (2 * p * (x - 1) + total) / (2 * total);
            (upto > below).then(|| (2 * (upto - 1) + 1, p, i))
        })
        .collect();
    // (2a+1)/pa < (2b+1)/pb  ⇔  (2a+1)·pb < (2b+1)·pa.
    in_step.sort_by(|(na, pa, ia), (nb, pb, ib)| (na * pb).cmp(&(nb * pa)).then(ia.cmp(ib)));
    let offset = usize::try_from(s - before).ok()?;
    let (_, _, index) = in_step.get(offset)?;
    all.get(*index).map(|v| &v.key)
}

/// The proposers of one height: the validator set, and who is absent.
#[derive(Debug, Clone)]
pub struct ProposerSchedule {
    height: Height,
    absent: BTreeSet<PublicKey>,
    round_zero: Option<PublicKey>,
}

impl ProposerSchedule {
    /// The schedule of `height`, with `history` (finalized blocks below `height`,
    /// oldest first) deciding who is absent.
    pub fn new(
        validators: &ValidatorSet,
        height: Height,
        history: &[CommittedBlock],
    ) -> Result<Self> {
        let absent = absent_validators(validators, height, history)?;
        let round_zero = Self::pick_round_zero(validators, height, &absent);
        Ok(Self {
            height,
            absent,
            round_zero,
        })
    }

    fn pick_round_zero(
        validators: &ValidatorSet,
        height: Height,
        absent: &BTreeSet<PublicKey>,
    ) -> Option<PublicKey> {
        let first = scheduled(validators, height.get()).copied();
        // Absent validators hold less than a third of the power (the others signed
        // the certificates), so a present owner turns up within a few slots; the bound
        // only guards against a history that marks everyone absent.
        let limit = u64::try_from(validators.len())
            .unwrap_or(u64::MAX)
            .saturating_mul(2);
        (0..=limit)
            .filter_map(|j| scheduled(validators, height.get().wrapping_add(j)))
            .find(|key| !absent.contains(*key))
            .copied()
            .or(first)
    }

    /// Validators the history shows to be absent.
    pub fn absent(&self) -> &BTreeSet<PublicKey> {
        &self.absent
    }

    /// The proposer of `round`.
    pub fn proposer(&self, validators: &ValidatorSet, round: Round) -> Option<PublicKey> {
        if round == Round(0) {
            return self.round_zero;
        }
        scheduled(
            validators,
            self.height.get().wrapping_add(u64::from(round.get())),
        )
        .copied()
    }
}

/// The validators of `validators` that neither built nor signed the certificate of any
/// block of the window below `height`: the [`ABSENCE_WINDOW`] blocks below it, or near
/// genesis those from height 2 (the first block that carries a certificate). Empty
/// unless the history holds every block of the window, each with its certificate's
/// signers, so an incomplete history never demotes anyone.
pub fn absent_validators(
    validators: &ValidatorSet,
    height: Height,
    history: &[CommittedBlock],
) -> Result<BTreeSet<PublicKey>> {
    let invalid = |reason| Error::InvalidHistory { height, reason };
    let mut previous: Option<Height> = None;
    for block in history {
        if block.height >= height {
            return Err(invalid("a block is not below the height being started"));
        }
        if previous.is_some_and(|p| p >= block.height) {
            return Err(invalid("blocks are not in increasing height order"));
        }
        previous = Some(block.height);
    }
    let window_start = height.get().saturating_sub(ABSENCE_WINDOW).max(2);
    let expected = height.get().saturating_sub(window_start);
    let window: Vec<&CommittedBlock> = history
        .iter()
        .filter(|b| b.height.get() >= window_start)
        .collect();
    let full = expected > 0
        && u64::try_from(window.len()).ok() == Some(expected)
        && window.iter().all(|b| !b.last_commit_signers.is_empty());
    if !full {
        return Ok(BTreeSet::new());
    }
    let present: BTreeSet<&PublicKey> = window
        .iter()
        .flat_map(|b| std::iter::once(&b.proposer).chain(b.last_commit_signers.iter()))
        .collect();
    Ok(validators
        .validators()
        .iter()
        .map(|v| v.key)
        .filter(|k| !present.contains(k))
        .collect())
}
