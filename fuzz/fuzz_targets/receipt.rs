#![no_main]

use accord_fuzz::{assert_canonical, assert_json_round_trip};
use accord_types::receipt::receipts_root;
use accord_types::{codec, merkle, Receipt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(receipt) = Receipt::decode(data) else {
        return;
    };
    assert_canonical(data, &codec::encode(&receipt), "receipt");
    assert_json_round_trip(&receipt);
    // A receipt is provable against the root of the list that holds it.
    let receipts = vec![receipt.clone(), receipt.clone(), receipt];
    let root = receipts_root(&receipts);
    let leaves: Vec<_> = receipts.iter().map(Receipt::hash).collect();
    let proof = merkle::prove(&leaves, 1).expect("index in range");
    assert!(proof.verify(&root, &leaves[1]));
});
