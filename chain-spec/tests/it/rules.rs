//! One test per validation rule: each edits a valid preset to break exactly that rule
//! and expects exactly the problems listed, so removing a rule fails its test.

use accord_chain_spec::{Error, MIN_BLOCK_BYTES};
use accord_types::codec::MAX_BLOCK_BYTES;
use accord_types::validator::{MAX_TOTAL_POWER, MAX_VALIDATORS};
use accord_types::Keypair;
use serde_json::{json, Value};

use crate::common::{not_a_point, parse, preset_value, problems};

/// Applies `edit` to the `local` preset and expects exactly `expected` problems
/// (path, part of the message), in any order.
fn expect(edit: impl FnOnce(&mut Value), expected: &[(&str, &str)]) {
    let mut spec = preset_value("local");
    edit(&mut spec);
    let found = problems(&spec);
    let mut unmatched = found.clone();
    for (path, fragment) in expected {
        let at = unmatched
            .iter()
            .position(|p| p.path == *path && p.message.contains(fragment))
            .unwrap_or_else(|| {
                panic!("no problem at {path} containing {fragment:?}; found {found:#?}")
            });
        unmatched.remove(at);
    }
    assert!(unmatched.is_empty(), "unexpected problems: {unmatched:#?}");
}

/// Applies `edit` to the `local` preset and expects it still to validate.
fn expect_valid(edit: impl FnOnce(&mut Value)) {
    let mut spec = preset_value("local");
    edit(&mut spec);
    if let Err(e) = parse(&spec) {
        panic!("expected a valid spec: {e}");
    }
}

fn key(label: &str) -> Value {
    Keypair::derive_insecure(label).public().to_string().into()
}

#[test]
fn three_planted_mistakes_give_exactly_three_problems() {
    let mut spec = preset_value("local");
    spec["validators"][2]["power"] = 0.into();
    spec["validators"][1]["region"] = "asia".into();
    spec["accounts"][3]["key"] = "0x1234".into();
    let err = parse(&spec).unwrap_err();
    let Error::Invalid { problems } = &err else {
        panic!("{err:?}")
    };
    let mut paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "$.accounts[3].key",
            "$.validators[1].region",
            "$.validators[2].power"
        ]
    );
    let text = err.to_string();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("$.validators[2].power: ")),
        "{text}"
    );
}

// ---- chain id, genesis time, regions ----

#[test]
fn malformed_chain_id() {
    expect(
        |s| s["chain_id"] = "Accord Local".into(),
        &[("$.chain_id", "chain id")],
    );
    expect(|s| s["chain_id"] = "".into(), &[("$.chain_id", "empty")]);
}

#[test]
fn malformed_genesis_time() {
    expect(
        |s| s["genesis_time"] = "2026-01-01".into(),
        &[("$.genesis_time", "RFC 3339")],
    );
    expect(
        |s| s["genesis_time"] = "2026-02-30T00:00:00Z".into(),
        &[("$.genesis_time", "")],
    );
    expect(
        |s| s["genesis_time"] = "2026-01-01T00:00:00.0000001Z".into(),
        &[("$.genesis_time", "sub-millisecond")],
    );
}

#[test]
fn malformed_region_id() {
    expect(
        |s| s["regions"].as_array_mut().unwrap().push("Asia".into()),
        &[("$.regions[2]", "region id")],
    );
}

#[test]
fn empty_region_list() {
    let mut spec = preset_value("local");
    spec["regions"] = json!([]);
    let found = problems(&spec);
    assert!(
        found
            .iter()
            .any(|p| p.path == "$.regions" && p.message.contains("at least one region")),
        "{found:#?}"
    );
}

#[test]
fn duplicate_region() {
    expect(
        |s| s["regions"].as_array_mut().unwrap().push("eu".into()),
        &[(
            "$.regions[2]",
            "duplicate region \"eu\", also used at $.regions[0]",
        )],
    );
}

// ---- validators ----

#[test]
fn no_validators() {
    expect(
        |s| {
            s["validators"] = json!([]);
            s["consensus"]["regional_quorum"] = false.into();
        },
        &[("$.validators", "at least one validator")],
    );
}

#[test]
fn too_many_validators() {
    expect(
        |s| {
            let many: Vec<Value> = (0..=MAX_VALIDATORS)
                .map(|i| {
                    json!({
                        "name": format!("v{i}"),
                        "region": if i % 2 == 0 { "eu" } else { "us" },
                        "consensus_key": key(&format!("c{i}")),
                        "p2p_key": key(&format!("p{i}")),
                        "listen_addr": format!("/ip4/10.0.0.1/tcp/{}", 10_000 + i),
                        "power": 1,
                    })
                })
                .collect();
            s["validators"] = many.into();
        },
        &[("$.validators", "more than the maximum of 1000")],
    );
}

#[test]
fn empty_validator_name() {
    expect(
        |s| s["validators"][0]["name"] = "".into(),
        &[("$.validators[0].name", "empty")],
    );
}

#[test]
fn malformed_validator_name() {
    expect(
        |s| s["validators"][0]["name"] = "../eu-1".into(),
        &[("$.validators[0].name", "may contain only")],
    );
}

#[test]
fn duplicate_validator_name() {
    expect(
        |s| s["validators"][1]["name"] = "eu-1".into(),
        &[(
            "$.validators[1].name",
            "duplicate name \"eu-1\", also used at $.validators[0].name",
        )],
    );
}

#[test]
fn names_are_unique_across_validators_observers_and_accounts() {
    expect(
        |s| s["accounts"][0]["name"] = "eu-1".into(),
        &[("$.accounts[0].name", "also used at $.validators[0].name")],
    );
    expect(
        |s| s["observers"] = json!([{"name": "author", "p2p_key": key("o")}]),
        &[("$.accounts[0].name", "also used at $.observers[0].name")],
    );
}

#[test]
fn validator_region_unknown() {
    expect(
        |s| s["validators"][0]["region"] = "asia".into(),
        &[(
            "$.validators[0].region",
            "unknown region \"asia\"; the spec's regions are [eu, us]",
        )],
    );
    expect(
        |s| s["validators"][0]["region"] = "EU".into(),
        &[("$.validators[0].region", "region id")],
    );
}

#[test]
fn malformed_consensus_key() {
    let path = "$.validators[0].consensus_key";
    expect(
        |s| s["validators"][0]["consensus_key"] = "0xzz".into(),
        &[(path, "hex")],
    );
    expect(
        |s| s["validators"][0]["consensus_key"] = "0x1234".into(),
        &[(path, "expected 32 bytes, found 2")],
    );
    expect(
        |s| s["validators"][0]["consensus_key"] = not_a_point().into(),
        &[(path, "not a curve point")],
    );
}

#[test]
fn small_order_keys_are_refused() {
    // The identity point: under cofactored verification anyone can sign for it.
    let identity = "0x0100000000000000000000000000000000000000000000000000000000000000";
    expect(
        |s| s["validators"][0]["consensus_key"] = identity.into(),
        &[("$.validators[0].consensus_key", "small-order")],
    );
    expect(
        |s| s["accounts"][0]["key"] = identity.into(),
        &[("$.accounts[0].key", "small-order")],
    );
}

#[test]
fn duplicate_consensus_key() {
    expect(
        |s| s["validators"][1]["consensus_key"] = s["validators"][0]["consensus_key"].clone(),
        &[(
            "$.validators[1].consensus_key",
            "duplicate consensus key, also used at $.validators[0].consensus_key",
        )],
    );
}

#[test]
fn malformed_p2p_key() {
    expect(
        |s| s["validators"][3]["p2p_key"] = not_a_point().into(),
        &[("$.validators[3].p2p_key", "not a curve point")],
    );
    expect(
        |s| s["observers"] = json!([{"name": "explorer", "p2p_key": "0x00"}]),
        &[("$.observers[0].p2p_key", "expected 32 bytes")],
    );
}

#[test]
fn duplicate_p2p_key_across_validators_and_observers() {
    expect(
        |s| s["validators"][2]["p2p_key"] = s["validators"][0]["p2p_key"].clone(),
        &[(
            "$.validators[2].p2p_key",
            "also used at $.validators[0].p2p_key",
        )],
    );
    expect(
        |s| {
            let taken = s["validators"][1]["p2p_key"].clone();
            s["observers"] = json!([{"name": "explorer", "p2p_key": taken}]);
        },
        &[(
            "$.observers[0].p2p_key",
            "also used at $.validators[1].p2p_key",
        )],
    );
}

#[test]
fn observers_are_checked() {
    expect_valid(|s| s["observers"] = json!([{"name": "explorer", "p2p_key": key("o")}]));
    expect(
        |s| s["observers"] = json!([{"name": "", "p2p_key": key("o")}]),
        &[("$.observers[0].name", "empty")],
    );
}

#[test]
fn bad_listen_addr() {
    let path = "$.validators[1].listen_addr";
    expect(
        |s| s["validators"][1]["listen_addr"] = "".into(),
        &[(path, "empty")],
    );
    expect(
        |s| s["validators"][1]["listen_addr"] = "127.0.0.1:30302".into(),
        &[(path, "not a multiaddress")],
    );
}

#[test]
fn duplicate_listen_addr() {
    expect(
        |s| s["validators"][3]["listen_addr"] = s["validators"][0]["listen_addr"].clone(),
        &[(
            "$.validators[3].listen_addr",
            "also used at $.validators[0].listen_addr",
        )],
    );
}

#[test]
fn zero_power() {
    expect(
        |s| s["validators"][2]["power"] = 0.into(),
        &[("$.validators[2].power", "more than zero")],
    );
}

#[test]
fn total_power_above_maximum() {
    expect(
        |s| s["validators"][0]["power"] = MAX_TOTAL_POWER.into(),
        &[("$.validators", "total power")],
    );
    // Exactly the maximum is fine.
    expect_valid(|s| s["validators"][0]["power"] = (MAX_TOTAL_POWER - 30).into());
}

#[test]
fn regional_quorum_needs_validators_in_every_region() {
    let add_region = |s: &mut Value| {
        s["regions"].as_array_mut().unwrap().push("ap".into());
        s["accounts"][2]["roles"]
            .as_array_mut()
            .unwrap()
            .push(json!({"voter": "ap"}));
    };
    expect(
        add_region,
        &[("$.regions[2]", "no set of validators can reach")],
    );
    expect_valid(|s| {
        add_region(s);
        s["consensus"]["regional_quorum"] = false.into();
    });
}

// ---- accounts and roles ----

#[test]
fn empty_account_name() {
    expect(
        |s| s["accounts"][7]["name"] = "".into(),
        &[("$.accounts[7].name", "empty")],
    );
}

#[test]
fn duplicate_account_name() {
    expect(
        |s| s["accounts"][3]["name"] = "eu-voter-1".into(),
        &[("$.accounts[3].name", "also used at $.accounts[2].name")],
    );
}

#[test]
fn malformed_account_key() {
    expect(
        |s| s["accounts"][0]["key"] = "".into(),
        &[("$.accounts[0].key", "expected 32 bytes")],
    );
    expect(
        |s| s["accounts"][0]["key"] = not_a_point().into(),
        &[("$.accounts[0].key", "curve point")],
    );
}

#[test]
fn duplicate_account_key() {
    expect(
        |s| s["accounts"][5]["key"] = s["accounts"][4]["key"].clone(),
        &[(
            "$.accounts[5].key",
            "duplicate account key, also used at $.accounts[4].key",
        )],
    );
}

#[test]
fn role_naming_unknown_region() {
    expect(
        |s| s["accounts"][6]["roles"] = json!([{"agent": "asia"}]),
        &[("$.accounts[6].roles[0]", "unknown region \"asia\"")],
    );
    expect(
        |s| s["accounts"][2]["roles"] = json!([{"voter": "us"}, {"voter": "asia"}]),
        &[("$.accounts[2].roles[1]", "unknown region")],
    );
}

#[test]
fn repeated_role() {
    expect(
        |s| s["accounts"][0]["roles"] = json!(["proposer", "proposer"]),
        &[("$.accounts[0].roles[1]", "repeats")],
    );
}

#[test]
fn region_without_voter() {
    expect(
        |s| {
            s["accounts"][4]["roles"] = json!([]);
            s["accounts"][5]["roles"] = json!([{"agent": "us"}]);
        },
        &[("$.regions[1]", "no voter account")],
    );
}

#[test]
fn no_proposer() {
    expect(
        |s| s["accounts"][0]["roles"] = json!(["guardian"]),
        &[("$.accounts", "proposer")],
    );
}

// ---- governance ----

#[test]
fn thresholds_outside_zero_to_one() {
    for tier in ["low", "medium", "high", "critical"] {
        for field in ["quorum", "approval_threshold", "veto_threshold"] {
            let path = format!("$.governance.tiers.{tier}.{field}");
            for bad in ["0", "0.0", "1.0001", "2"] {
                expect(
                    |s| s["governance"]["tiers"][tier][field] = bad.into(),
                    &[(&path, "more than 0 and at most 1")],
                );
            }
            expect(
                |s| s["governance"]["tiers"][tier][field] = "two thirds".into(),
                &[(&path, "fraction")],
            );
            expect_valid(|s| s["governance"]["tiers"][tier][field] = "1".into());
            expect_valid(|s| s["governance"]["tiers"][tier][field] = "0.0001".into());
        }
    }
}

#[test]
fn zero_voting_period() {
    for tier in ["low", "medium", "high", "critical"] {
        expect(
            |s| s["governance"]["tiers"][tier]["voting_period"] = 0.into(),
            &[(
                &format!("$.governance.tiers.{tier}.voting_period"),
                "at least one block",
            )],
        );
    }
    expect_valid(|s| s["governance"]["tiers"]["high"]["enactment_delay"] = 0.into());
}

#[test]
fn risk_thresholds_must_not_decrease() {
    for rule in ["downtime_minutes", "cost", "regions"] {
        let at = |field: &str| format!("$.governance.risk_rules.{rule}.{field}");
        fn rules<'a>(s: &'a mut Value, rule: &str) -> &'a mut Value {
            &mut s["governance"]["risk_rules"][rule]
        }
        expect(
            |s| {
                let r = rules(s, rule);
                r["high"] = (r["medium"].as_u64().unwrap() - 1).into();
            },
            &[(&at("high"), "below medium")],
        );
        expect(
            |s| {
                let r = rules(s, rule);
                r["critical"] = (r["high"].as_u64().unwrap() - 1).into();
            },
            &[(&at("critical"), "below high")],
        );
        expect_valid(|s| {
            let r = rules(s, rule);
            r["high"] = r["medium"].clone();
            r["critical"] = r["medium"].clone();
        });
    }
}

#[test]
fn execution_parameters_must_be_positive() {
    for field in [
        "claim_lease_blocks",
        "emergency_ratification_blocks",
        "max_phases",
    ] {
        expect(
            |s| s["governance"]["execution"][field] = 0.into(),
            &[(&format!("$.governance.execution.{field}"), "at least one")],
        );
    }
}

#[test]
fn freeze_windows() {
    let window = |start: u64, end: u64, regions: Value| {
        move |s: &mut Value| {
            s["governance"]["freeze_windows"] =
                json!([{"name": "holidays", "start": start, "end": end, "regions": regions}]);
        }
    };
    expect_valid(window(10, 20, json!(["eu"])));
    expect_valid(window(10, 20, json!([])));
    expect(
        window(20, 20, json!([])),
        &[("$.governance.freeze_windows[0].end", "not after start")],
    );
    expect(
        window(30, 20, json!([])),
        &[("$.governance.freeze_windows[0].end", "not after start")],
    );
    expect(
        window(10, 20, json!(["eu", "asia"])),
        &[(
            "$.governance.freeze_windows[0].regions[1]",
            "unknown region",
        )],
    );
    expect(
        |s| s["governance"]["freeze_windows"] = json!([{"name": "", "start": 1, "end": 2}]),
        &[("$.governance.freeze_windows[0].name", "empty")],
    );
}

// ---- consensus ----

#[test]
fn zero_timeouts() {
    for field in ["propose_ms", "prevote_ms", "precommit_ms"] {
        expect(
            |s| s["consensus"]["timeouts"][field] = 0.into(),
            &[(&format!("$.consensus.timeouts.{field}"), "more than zero")],
        );
    }
    // Deltas and the commit pause may be zero.
    expect_valid(|s| {
        s["consensus"]["timeouts"]["propose_delta_ms"] = 0.into();
        s["consensus"]["timeouts"]["commit_ms"] = 0.into();
    });
}

#[test]
fn block_size_limits() {
    let path = "$.consensus.max_block_bytes";
    expect(
        |s| s["consensus"]["max_block_bytes"] = (MIN_BLOCK_BYTES - 1).into(),
        &[(path, "outside")],
    );
    expect(
        |s| s["consensus"]["max_block_bytes"] = (MAX_BLOCK_BYTES as u64 + 1).into(),
        &[(path, "outside")],
    );
    expect_valid(|s| s["consensus"]["max_block_bytes"] = MIN_BLOCK_BYTES.into());
    expect_valid(|s| s["consensus"]["max_block_bytes"] = (MAX_BLOCK_BYTES as u64).into());
}

#[test]
fn zero_max_block_txs() {
    expect(
        |s| s["consensus"]["max_block_txs"] = 0.into(),
        &[("$.consensus.max_block_txs", "at least one")],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut spec = preset_value("local");
    spec["chain_id"] = "X".into();
    spec["validators"][0]["power"] = 0.into();
    spec["governance"]["tiers"]["low"]["quorum"] = "0".into();
    spec["governance"]["execution"]["max_phases"] = 0.into();
    spec["consensus"]["max_block_txs"] = 0.into();
    assert_eq!(problems(&spec).len(), 5);
}

#[test]
fn governance_problems_are_all_reported_together() {
    expect(
        |s| {
            let tier = &mut s["governance"]["tiers"]["medium"];
            tier["quorum"] = "lots".into();
            tier["voting_period"] = 0.into();
            s["governance"]["freeze_windows"] =
                json!([{"name": "", "start": 5, "end": 5, "regions": ["mars"]}]);
            s["governance"]["execution"]["max_phases"] = 0.into();
        },
        &[
            ("$.governance.tiers.medium.quorum", "decimal"),
            (
                "$.governance.tiers.medium.voting_period",
                "at least one block",
            ),
            (
                "$.governance.freeze_windows[0].regions[0]",
                "unknown region",
            ),
            ("$.governance.freeze_windows[0].name", "empty"),
            ("$.governance.freeze_windows[0].end", "not after start"),
            ("$.governance.execution.max_phases", "at least one"),
        ],
    );
}
