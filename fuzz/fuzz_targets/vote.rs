#![no_main]

use accord_fuzz::{assert_canonical, assert_json_round_trip, chain_id};
use accord_types::codec;
use accord_types::Vote;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(vote) = Vote::decode(data) else {
        return;
    };
    assert_canonical(data, &codec::encode(&vote), "vote");
    assert_json_round_trip(&vote);
    let _ = vote.verify(chain_id());
});
