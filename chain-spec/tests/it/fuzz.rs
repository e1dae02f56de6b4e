//! `from_json` never panics, whatever it is given; what it accepts round-trips.

use accord_chain_spec::ChainSpec;
use proptest::prelude::*;
use serde_json::Value;

use crate::common::preset_value;

/// Parsing must not panic; an accepted spec must survive its own JSON form.
fn check(json: &str) {
    if let Ok(spec) = ChainSpec::from_json(json) {
        let again = ChainSpec::from_json(&spec.to_json_pretty()).unwrap();
        assert_eq!(again, spec);
        let _ = spec.genesis_hash();
        let _ = spec.validator_set().unwrap();
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "eu",
            "us",
            "0x00",
            "0.5",
            "proposer",
            "2026-01-01T00:00:00Z"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every path to a value inside `value`, as JSON pointers.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(v, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,256}") {
        check(&text);
    }

    #[test]
    fn mutated_bytes_never_panic(
        preset in prop::sample::select(vec!["dev", "local"]),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut bytes = preset_value(preset).to_string().into_bytes();
        for (index, byte, op) in edits {
            if bytes.is_empty() {
                break;
            }
            let at = index.index(bytes.len());
            match op {
                0 => bytes[at] = byte,
                1 => { bytes.remove(at); }
                _ => bytes.insert(at, byte),
            }
        }
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn replaced_values_never_panic(
        preset in prop::sample::select(vec!["dev", "local"]),
        edits in prop::collection::vec((any::<prop::sample::Index>(), arbitrary_json()), 1..4),
    ) {
        let mut spec = preset_value(preset);
        for (index, replacement) in edits {
            let mut all = Vec::new();
            pointers(&spec, String::new(), &mut all);
            let pointer = index.get(&all).clone();
            if pointer.is_empty() {
                spec = replacement;
            } else if let Some(slot) = spec.pointer_mut(&pointer) {
                *slot = replacement;
            }
        }
        check(&spec.to_string());
    }

    #[test]
    fn arbitrary_json_never_panics(value in arbitrary_json()) {
        check(&value.to_string());
    }
}
