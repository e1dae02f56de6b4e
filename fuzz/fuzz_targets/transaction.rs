#![no_main]

use accord_fuzz::{assert_canonical, assert_json_round_trip};
use accord_types::Transaction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(tx) = Transaction::decode(data) else {
        return;
    };
    assert_canonical(data, &tx.encode(), "transaction");
    assert_json_round_trip(&tx);
    let _ = tx.verify_signature();
    let _ = tx.hash();
});
