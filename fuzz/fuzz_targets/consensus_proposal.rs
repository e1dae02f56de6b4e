#![no_main]

use accord_fuzz::{assert_canonical, assert_json_round_trip, chain_id};
use accord_types::codec;
use accord_types::ConsensusProposal;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(proposal) = ConsensusProposal::decode(data) else {
        return;
    };
    assert_canonical(data, &codec::encode(&proposal), "consensus proposal");
    assert_json_round_trip(&proposal);
    let _ = proposal.verify(chain_id());
});
