//! Shared checks for the cargo-fuzz targets of accord-types' decoders.
//!
//! Every target feeds raw bytes to one strict decoder. When the bytes decode, the
//! value must re-encode to exactly those bytes (one value, one encoding), survive a
//! JSON round trip, and go through the cheap verifiers without panicking. What the
//! verifiers answer does not matter here; that they answer does.
//!
//! [`rpc`] holds the in-memory chain behind the `rpc_request` target, which sends raw
//! JSON-RPC requests to accord-rpc's methods instead of bytes to a decoder.

pub mod rpc;

use std::fmt::Debug;
use std::sync::OnceLock;

use accord_types::test_utils;
use accord_types::validator::{QuorumRule, ValidatorSet};
use accord_types::{ChainId, Keypair};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Asserts that `value`, decoded from `input`, re-encodes to `input` byte for byte.
pub fn assert_canonical(input: &[u8], reencoded: &[u8], what: &str) {
    assert!(
        input == reencoded,
        "{what}: accepted a non-canonical encoding ({} bytes in, {} bytes out)",
        input.len(),
        reencoded.len()
    );
}

/// Asserts that `value` survives a JSON round trip unchanged.
pub fn assert_json_round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let json = serde_json::to_string(value).expect("every decoded value serialises to JSON");
    let back: T = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("JSON round trip failed: {e}\n{json}"));
    assert_eq!(&back, value, "JSON round trip changed the value");
}

/// The chain id the targets verify against.
pub fn chain_id() -> &'static ChainId {
    static CHAIN: OnceLock<ChainId> = OnceLock::new();
    CHAIN.get_or_init(|| ChainId::new("fuzz").expect("valid chain id"))
}

/// The four keys of [`validators`], so seeds can be signed by real members.
pub fn keypairs() -> &'static [Keypair] {
    static KEYS: OnceLock<Vec<Keypair>> = OnceLock::new();
    KEYS.get_or_init(|| test_utils::keypairs("fuzz", 4))
}

/// A fixed set of four validators in two regions under the regional rule.
pub fn validators() -> &'static ValidatorSet {
    static SET: OnceLock<ValidatorSet> = OnceLock::new();
    SET.get_or_init(|| {
        let k = keypairs();
        let members = [
            (&k[0], "eu", 10),
            (&k[1], "us", 10),
            (&k[2], "eu", 10),
            (&k[3], "us", 10),
        ];
        test_utils::validator_set(&members, QuorumRule::Regional).expect("valid set")
    })
}
