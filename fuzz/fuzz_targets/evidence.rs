#![no_main]

use accord_fuzz::{assert_canonical, assert_json_round_trip, chain_id, validators};
use accord_types::{codec, Evidence};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(evidence) = Evidence::decode(data) else {
        return;
    };
    assert_canonical(data, &codec::encode(&evidence), "evidence");
    assert_json_round_trip(&evidence);
    let _ = evidence.hash();
    let _ = evidence.offender();
    let _ = evidence.height();
    let verdict = evidence.verify(chain_id(), validators());
    // Evidence that verifies is what `duplicate_vote` builds from its two votes.
    let Evidence::DuplicateVote { first, second } = &evidence;
    if verdict.is_ok() {
        let rebuilt = Evidence::duplicate_vote(second.clone(), first.clone());
        assert_eq!(
            rebuilt.as_ref(),
            Some(&evidence),
            "verified evidence is canonical"
        );
    }
});
