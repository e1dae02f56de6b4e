//! The genesis hash: deterministic, and different for any change to the spec.

use std::collections::BTreeMap;

use accord_chain_spec::preset;
use serde_json::Value;

use crate::common::{parse, preset_value};

#[test]
fn genesis_hash_is_stable() {
    let spec = preset("local").unwrap().spec;
    let hash = spec.genesis_hash();
    assert_eq!(spec.genesis_hash(), hash);
    assert_eq!(preset("local").unwrap().spec.genesis_hash(), hash);
    let reparsed = accord_chain_spec::ChainSpec::from_json(&spec.to_json_pretty()).unwrap();
    assert_eq!(reparsed.genesis_hash(), hash);
    assert_ne!(preset("dev").unwrap().spec.genesis_hash(), hash);
}

/// Pinned so that an accidental change to the encoding, the presets or key derivation
/// is seen: a different hash is a different chain. Update deliberately.
#[test]
fn local_genesis_hash_is_pinned() {
    let hash = preset("local").unwrap().spec.genesis_hash();
    assert_eq!(
        hash.to_string(),
        include_str!("local_genesis_hash.txt").trim()
    );
}

/// Every leaf path of a JSON value, with the leaf.
/// The chain id that signatures cover is the name and the genesis hash's first half:
/// the same from JSON, a preset or borsh; another genesis under the same name (here a
/// millisecond later) is another chain id, so nothing signed for one verifies on the
/// other.
#[test]
fn the_chain_id_binds_the_name_to_the_genesis() {
    let spec = preset("local").unwrap().spec;
    let genesis = spec.genesis_hash().to_string();
    let expected = format!("accord-local-{}", &genesis.trim_start_matches("0x")[..32]);
    assert_eq!(spec.chain_id().as_str(), expected);
    assert_eq!(spec.chain_name().as_str(), "accord-local");
    let reparsed = accord_chain_spec::ChainSpec::from_json(&spec.to_json_pretty()).unwrap();
    assert_eq!(reparsed.chain_id(), spec.chain_id());
    let decoded: accord_chain_spec::ChainSpec =
        borsh::from_slice(&borsh::to_vec(&spec).unwrap()).unwrap();
    assert_eq!(decoded.chain_id(), spec.chain_id());
    // The JSON form keeps the name.
    assert!(spec
        .to_json_pretty()
        .contains("\"chain_id\": \"accord-local\""));

    let mut again = preset_value("local");
    again["genesis_time"] = "2026-01-01T00:00:00.001Z".into();
    let regenesis = parse(&again).unwrap();
    assert_eq!(regenesis.chain_name(), spec.chain_name());
    assert_ne!(regenesis.chain_id(), spec.chain_id());

    let keypair = accord_types::Keypair::derive_insecure("signer");
    let vote = accord_types::Vote::sign(
        &keypair,
        spec.chain_id(),
        accord_types::Height(1),
        accord_types::Round(0),
        accord_types::VoteType::Prevote,
        None,
    );
    assert!(vote.verify(spec.chain_id()).is_ok());
    assert!(vote.verify(regenesis.chain_id()).is_err());
}

/// A name longer than 64 bytes leaves no room for the genesis hash in the chain id.
#[test]
fn a_chain_name_over_64_bytes_is_refused() {
    let mut value = preset_value("local");
    value["chain_id"] = "a".repeat(65).into();
    let error = parse(&value).unwrap_err().to_string();
    assert!(
        error.contains("$.chain_id") && error.contains("too long"),
        "{error}"
    );
    value["chain_id"] = "a".repeat(64).into();
    assert_eq!(parse(&value).unwrap().chain_id().as_str().len(), 64 + 33);
}

fn leaves(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                leaves(v, format!("{path}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, format!("{path}/{i}"), out);
            }
        }
        leaf => {
            out.insert(path, leaf.clone());
        }
    }
}

#[test]
fn any_number_or_flag_change_changes_the_hash() {
    for name in ["dev", "local"] {
        let base = preset_value(name);
        let base_hash = parse(&base).unwrap().genesis_hash();
        let mut all = BTreeMap::new();
        leaves(&base, String::new(), &mut all);
        let mut changed = 0;
        for (pointer, leaf) in all {
            let replacement = match leaf {
                Value::Number(n) => Value::from(n.as_u64().unwrap() + 1),
                Value::Bool(b) => Value::Bool(!b),
                _ => continue,
            };
            let mut edited = base.clone();
            *edited.pointer_mut(&pointer).unwrap() = replacement;
            let spec = parse(&edited).unwrap_or_else(|e| panic!("{name} {pointer}: {e}"));
            assert_ne!(
                spec.genesis_hash(),
                base_hash,
                "{name}: {pointer} does not reach the hash"
            );
            changed += 1;
        }
        assert!(changed > 30, "{name}: only {changed} numeric leaves");
    }
}

/// An edit of a spec; the second argument is a fresh public key.
type Edit = fn(&mut Value, &str);

#[test]
fn text_changes_and_reordering_change_the_hash() {
    let base = preset_value("local");
    let base_hash = parse(&base).unwrap().genesis_hash();
    let other_key = accord_types::Keypair::derive_insecure("another")
        .public()
        .to_string();
    let edits: [(&str, Edit); 15] = [
        ("chain id", |v, _| v["chain_id"] = "accord-other".into()),
        ("genesis time", |v, _| {
            v["genesis_time"] = "2026-01-01T00:00:00.001Z".into();
        }),
        ("validator name", |v, _| {
            v["validators"][0]["name"] = "eu-9".into();
        }),
        ("validator region", |v, _| {
            v["validators"][1]["region"] = "us".into();
        }),
        ("consensus key", |v, k| {
            v["validators"][0]["consensus_key"] = k.into();
        }),
        ("p2p key", |v, k| v["validators"][0]["p2p_key"] = k.into()),
        ("listen addr", |v, _| {
            v["validators"][0]["listen_addr"] = "/dns4/eu-1/tcp/1".into();
        }),
        ("account key", |v, k| v["accounts"][0]["key"] = k.into()),
        ("roles", |v, _| {
            v["accounts"][1]["roles"] = serde_json::json!(["guardian", "proposer"]);
        }),
        ("fraction", |v, _| {
            v["governance"]["tiers"]["low"]["quorum"] = "0.3335".into();
        }),
        ("kind floor", |v, _| {
            v["governance"]["risk_rules"]["kind_floor"]["roadmap_change"] = "medium".into();
        }),
        ("observer", |v, k| {
            v["observers"] = serde_json::json!([{"name": "explorer", "p2p_key": k}]);
        }),
        ("freeze window", |v, _| {
            v["governance"]["freeze_windows"] =
                serde_json::json!([{"name": "holidays", "start": 1, "end": 2, "regions": ["eu"]}]);
        }),
        ("validator order", |v, _| {
            v["validators"].as_array_mut().unwrap().swap(0, 1);
        }),
        ("region order", |v, _| {
            v["regions"].as_array_mut().unwrap().swap(0, 1);
        }),
    ];
    for (what, edit) in edits {
        let mut edited = base.clone();
        edit(&mut edited, &other_key);
        let spec = parse(&edited).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_ne!(
            spec.genesis_hash(),
            base_hash,
            "{what} does not reach the hash"
        );
    }
}
