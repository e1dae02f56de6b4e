//! Helpers shared by the test modules.

use accord_chain_spec::{preset, ChainSpec, Error, Problem};
use serde_json::Value;

/// A preset's spec as a JSON value, to be edited by a test.
pub fn preset_value(name: &str) -> Value {
    serde_json::from_str(&preset(name).unwrap().spec.to_json_pretty()).unwrap()
}

/// Parses a JSON value as a spec.
pub fn parse(value: &Value) -> Result<ChainSpec, Error> {
    ChainSpec::from_json(&serde_json::to_string_pretty(value).unwrap())
}

/// The problems of an invalid spec; fails the test for any other outcome.
pub fn problems(value: &Value) -> Vec<Problem> {
    match parse(value) {
        Err(Error::Invalid { problems }) => problems,
        other => panic!("expected validation problems, got {other:?}"),
    }
}

/// 32 bytes, as hex, that are not the encoding of a curve point.
pub fn not_a_point() -> String {
    (0u8..=255)
        .map(|b| {
            let mut bytes = [0u8; 32];
            bytes[0] = b;
            bytes[1] = 1;
            accord_types::PublicKey::from_bytes(bytes)
        })
        .find(|key| !key.is_valid_point())
        .expect("some y coordinate has no point")
        .to_string()
}
