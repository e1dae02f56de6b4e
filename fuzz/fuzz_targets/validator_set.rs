#![no_main]

use accord_fuzz::{assert_canonical, assert_json_round_trip};
use accord_types::codec;
use accord_types::validator::{PowerTally, ValidatorSet, MAX_TOTAL_POWER, MAX_VALIDATORS};
use libfuzzer_sys::fuzz_target;

/// The node reads validator sets from disk and from sync peers; they are capped like a block.
const MAX_VALIDATOR_SET_BYTES: usize = codec::MAX_BLOCK_BYTES;

fuzz_target!(|data: &[u8]| {
    let Ok(set) = codec::decode::<ValidatorSet>("validator set", data, MAX_VALIDATOR_SET_BYTES)
    else {
        return;
    };
    assert_canonical(data, &codec::encode(&set), "validator set");
    assert_json_round_trip(&set);
    let _ = set.hash();
    // Structural invariants every decoded set upholds.
    assert!(!set.is_empty() && set.len() <= MAX_VALIDATORS);
    assert!(set.validators().windows(2).all(|w| w[0].key < w[1].key));
    let sum: u64 = set.validators().iter().map(|v| v.power).sum();
    assert_eq!(sum, set.total_power());
    assert!(sum <= MAX_TOTAL_POWER);
    // Everyone signing is a quorum; no one signing is not.
    let mut all = PowerTally::default();
    for v in set.validators() {
        assert_eq!(set.get(&v.key), Some(v));
        all.add(v);
    }
    assert!(set.is_quorum(&all));
    assert!(!set.is_quorum(&PowerTally::default()));
});
