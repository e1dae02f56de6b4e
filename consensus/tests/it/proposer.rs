//! Proposer selection: the weighted round-robin schedule, demotion of absent
//! validators, and what demotion buys when a validator is down.

use std::collections::{BTreeMap, BTreeSet};

use accord_consensus::proposer::{absent_validators, scheduled, ProposerSchedule};
use accord_consensus::sim::{self, scenario};
use accord_consensus::{CommittedBlock, Error, Input, ABSENCE_WINDOW};
use accord_types::test_utils::{keypairs, validator_set};
use accord_types::{Height, Keypair, PublicKey, QuorumRule, Round, ValidatorSet};
use proptest::prelude::*;

fn set_with_powers(powers: &[u64]) -> (Vec<Keypair>, ValidatorSet) {
    let mut keys = keypairs("proposer-tests", powers.len());
    keys.sort_by_key(|k| k.public());
    let members: Vec<(&Keypair, &str, u64)> = keys
        .iter()
        .zip(powers)
        .map(|(k, p)| (k, "eu", *p))
        .collect();
    let set = validator_set(&members, QuorumRule::Global).unwrap();
    (keys, set)
}

#[test]
fn equal_powers_rotate_in_key_order() {
    let (keys, set) = set_with_powers(&[7, 7, 7, 7, 7]);
    for slot in 0..40u64 {
        assert_eq!(
            scheduled(&set, slot),
            Some(&keys[(slot % 5) as usize].public())
        );
    }
}

#[test]
fn weights_are_spread_evenly() {
    let (keys, set) = set_with_powers(&[2, 1, 1]);
    let order: Vec<usize> = (0..8u64)
        .map(|s| {
            let k = scheduled(&set, s).unwrap();
            keys.iter().position(|x| &x.public() == k).unwrap()
        })
        .collect();
    // Validator 0 (power 2) owns the points 1 and 3 of the period 4; the others 2.
    assert_eq!(order, vec![0, 1, 2, 0, 0, 1, 2, 0]);
}

#[test]
fn huge_powers_do_not_overflow() {
    let big = accord_types::validator::MAX_TOTAL_POWER / 3;
    let (_, set) = set_with_powers(&[big, big, big - 1]);
    let mut seen = BTreeSet::new();
    for slot in [0, 1, 2, 3, u64::MAX - 1, u64::MAX] {
        seen.insert(*scheduled(&set, slot).unwrap());
    }
    assert_eq!(seen.len(), 3);
}

proptest! {
    /// Over one period (the total power) every validator gets exactly its power in
    /// slots, the schedule repeats with that period, and no validator waits much longer
    /// than its fair interval: between two of its turns come at most `T/p + n` others.
    #[test]
    fn every_period_gives_each_validator_its_power(powers in prop::collection::vec(1u64..12, 1..7)) {
        let (keys, set) = set_with_powers(&powers);
        let total: u64 = powers.iter().sum();
        let n = powers.len() as u64;
        let owners: Vec<PublicKey> = (0..3 * total).map(|s| *scheduled(&set, s).unwrap()).collect();
        for s in 0..total as usize {
            prop_assert_eq!(owners[s], owners[s + total as usize]);
        }
        for (i, key) in keys.iter().enumerate() {
            let power = powers[i];
            let count = owners[..total as usize].iter().filter(|k| **k == key.public()).count() as u64;
            prop_assert_eq!(count, power);
            let turns: Vec<usize> = owners
                .iter()
                .enumerate()
                .filter(|(_, k)| **k == key.public())
                .map(|(s, _)| s)
                .collect();
            for pair in turns.windows(2) {
                let gap = (pair[1] - pair[0]) as u64;
                prop_assert!(gap <= total.div_ceil(power) + n, "gap {gap} for power {power} of {total}");
            }
        }
    }
}

fn history(
    keys: &[Keypair],
    below: u64,
    blocks: u64,
    proposer: impl Fn(u64) -> usize,
    signers: &[usize],
) -> Vec<CommittedBlock> {
    (below - blocks..below)
        .map(|h| CommittedBlock {
            height: Height(h),
            proposer: keys[proposer(h)].public(),
            last_commit_signers: if h == 1 {
                BTreeSet::new()
            } else {
                signers.iter().map(|i| keys[*i].public()).collect()
            },
        })
        .collect()
}

#[test]
fn a_validator_absent_from_the_window_is_skipped_in_round_zero_only() {
    let (keys, set) = set_with_powers(&[1, 1, 1, 1]);
    let height = Height(10);
    let signers = [0, 1, 2];
    let hist = history(&keys, 10, ABSENCE_WINDOW, |h| (h % 3) as usize, &signers);
    let absent = absent_validators(&set, height, &hist).unwrap();
    assert_eq!(absent, BTreeSet::from([keys[3].public()]));
    let schedule = ProposerSchedule::new(&set, height, &hist).unwrap();
    // Slot 10 + 0 belongs to validator 2 (10 mod 4): present, so unchanged.
    assert_eq!(schedule.proposer(&set, Round(0)), Some(keys[2].public()));
    // Height 11: slot 11 is validator 3's; it is absent, so round 0 goes to slot 12's owner.
    let hist11 = history(&keys, 11, ABSENCE_WINDOW, |h| (h % 3) as usize, &signers);
    let schedule = ProposerSchedule::new(&set, Height(11), &hist11).unwrap();
    assert_eq!(schedule.proposer(&set, Round(0)), Some(keys[0].public()));
    // Rounds above 0 keep the plain schedule: validator 3 still gets its turns.
    for r in 1..8u32 {
        assert_eq!(
            schedule.proposer(&set, Round(r)),
            scheduled(&set, 11 + u64::from(r)).copied()
        );
    }
}

#[test]
fn signing_or_proposing_once_in_the_window_is_presence() {
    let (keys, set) = set_with_powers(&[1, 1, 1, 1]);
    // Validator 3 proposed one block of the window, signed nothing.
    let hist = history(
        &keys,
        10,
        ABSENCE_WINDOW,
        |h| if h == 8 { 3 } else { 0 },
        &[0, 1, 2],
    );
    assert!(!absent_validators(&set, Height(10), &hist)
        .unwrap()
        .contains(&keys[3].public()));
    // Validator 1 signed only the oldest certificate of the window.
    let mut hist = history(&keys, 10, ABSENCE_WINDOW, |_| 0, &[0, 2, 3]);
    hist[0].last_commit_signers.insert(keys[1].public());
    assert!(absent_validators(&set, Height(10), &hist)
        .unwrap()
        .is_empty());
}

#[test]
fn nobody_is_absent_without_a_full_window() {
    let (keys, set) = set_with_powers(&[1, 1, 1, 1]);
    // Too few blocks.
    let hist = history(&keys, 10, ABSENCE_WINDOW - 1, |_| 0, &[0]);
    assert!(absent_validators(&set, Height(10), &hist)
        .unwrap()
        .is_empty());
    // A block of the window missing.
    let mut hist = history(&keys, 10, ABSENCE_WINDOW, |_| 0, &[0]);
    hist.remove(1);
    assert!(absent_validators(&set, Height(10), &hist)
        .unwrap()
        .is_empty());
    // Older blocks beyond the window are not enough.
    let hist = history(&keys, 5, 4, |_| 0, &[0]);
    assert!(absent_validators(&set, Height(9), &hist)
        .unwrap()
        .is_empty());
    // Heights 1 and 2 have no certificate below them to look at.
    let hist = history(&keys, 2, 1, |_| 0, &[]);
    assert!(absent_validators(&set, Height(2), &hist)
        .unwrap()
        .is_empty());
    // An empty history: plain round-robin.
    assert!(absent_validators(&set, Height(100), &[])
        .unwrap()
        .is_empty());
}

#[test]
fn near_genesis_the_window_starts_at_height_two() {
    let (keys, set) = set_with_powers(&[1, 1, 1, 1]);
    // Height 3: block 2 carries the certificate of height 1, signed by 0, 1 and 2.
    let hist = history(&keys, 3, 2, |_| 0, &[0, 1, 2]);
    assert_eq!(
        absent_validators(&set, Height(3), &hist).unwrap(),
        BTreeSet::from([keys[3].public()])
    );
}

#[test]
fn malformed_history_is_refused() {
    let f = crate::fixture::Fixture::new(4);
    let keys = &f.keys;
    let mut e = f.engine(0);
    let start = |history| Input::StartHeight {
        height: Height(10),
        validators: f.validators.clone(),
        history,
    };
    let mut unordered = history(keys, 10, 4, |_| 0, &[0, 1, 2]);
    unordered.swap(0, 1);
    assert!(matches!(
        e.process(start(unordered)),
        Err(Error::InvalidHistory { .. })
    ));
    let too_high = history(keys, 11, 4, |_| 0, &[0, 1, 2]);
    assert!(matches!(
        e.process(start(too_high)),
        Err(Error::InvalidHistory { .. })
    ));
    assert_eq!(e.height(), None, "a refused input changes nothing");
    e.process(start(history(keys, 10, 4, |_| 0, &[0, 1, 2])))
        .unwrap();
    assert_eq!(e.absent().unwrap(), &BTreeSet::from([keys[3].public()]));
}

/// Heights per virtual second of a run.
fn rate(report: &sim::Report, heights: u64) -> u64 {
    let ms = report.target_reached_ms.expect("the run finished");
    heights * 1_000_000 / ms.max(1)
}

/// One validator of four down, with the 3 s propose timeout of a production chain:
/// demotion keeps at least half of the all-up rate whichever validator is down;
/// without it every fourth height waits out the timeout.
#[test]
fn one_crashed_validator_of_four_keeps_half_the_rate() {
    let heights = 100;
    let up = sim::run(&scenario::crashed(4, 2, &[], heights, true));
    assert!(up.violations.is_empty(), "{:?}", up.violations);
    let all_up = rate(&up, heights);
    let mut rates = BTreeMap::new();
    for crashed in 0..4 {
        let report = sim::run(&scenario::crashed(4, 2, &[crashed], heights, true));
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        let r = rate(&report, heights);
        assert!(
            r * 2 >= all_up,
            "validator {crashed} down: {r} heights per 1,000 s against {all_up} all up"
        );
        rates.insert(crashed, r);
        let plain = sim::run(&scenario::crashed(4, 2, &[crashed], heights, false));
        assert!(
            rate(&plain, heights) * 2 < all_up,
            "without demotion the rate should collapse"
        );
    }
    println!("heights per 1,000 virtual seconds: all up {all_up}, one down {rates:?}");
}
