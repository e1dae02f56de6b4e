#![no_main]

use accord_fuzz::{assert_canonical, assert_json_round_trip, chain_id, validators};
use accord_types::codec::MAX_BLOCK_BYTES;
use accord_types::Block;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(block) = Block::decode(data, MAX_BLOCK_BYTES) else {
        return;
    };
    assert_canonical(data, &block.encode(), "block");
    assert_json_round_trip(&block);
    let _ = block.hash();
    let _ = block.check_body();
    if let Some(commit) = &block.last_commit {
        let _ = commit.verify(chain_id(), validators());
    }
    for evidence in &block.evidence {
        let _ = evidence.verify(chain_id(), validators());
    }
    // Signature checks cost ~50 µs each; a couple keep the path covered without
    // starving the decoder of executions. (Single and batch verdicts are compared
    // exhaustively in types/tests/it/signatures.rs.)
    for tx in block.transactions.iter().take(2) {
        let _ = tx.verify_signature();
    }
});
