#![no_main]

use accord_fuzz::{assert_canonical, assert_json_round_trip, chain_id, validators};
use accord_types::codec;
use accord_types::CommitCertificate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(cert) = CommitCertificate::decode(data) else {
        return;
    };
    assert_canonical(data, &codec::encode(&cert), "commit certificate");
    assert_json_round_trip(&cert);
    let _ = cert.hash();
    let verdict = cert.verify(chain_id(), validators());
    let commit = cert.verify_commit(chain_id(), validators(), cert.height, &cert.block_hash);
    assert_eq!(
        verdict, commit,
        "verify_commit on its own height and hash is verify"
    );
});
