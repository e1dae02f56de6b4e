//! The presets validate, round-trip through JSON and borsh, and match their description.

use accord_chain_spec::{
    preset, preset_key, ChainSpec, Error, KeyPurpose, PRESET_GENESIS_TIME, PRESET_NAMES,
};
use accord_types::governance::Role;
use accord_types::{QuorumRule, RegionId};

#[test]
fn every_preset_validates_and_round_trips_through_json() {
    for name in PRESET_NAMES {
        let spec = preset(name).unwrap().spec;
        let json = spec.to_json_pretty();
        let parsed = ChainSpec::from_json(&json).unwrap();
        assert_eq!(parsed, spec, "{name}");
        assert_eq!(
            parsed.to_json_pretty(),
            json,
            "{name}: JSON is not a fixed point"
        );
    }
}

#[test]
fn every_preset_round_trips_through_borsh() {
    for name in PRESET_NAMES {
        let spec = preset(name).unwrap().spec;
        let bytes = borsh::to_vec(&spec).unwrap();
        let decoded: ChainSpec = borsh::from_slice(&bytes).unwrap();
        assert_eq!(decoded, spec, "{name}");
    }
}

#[test]
fn borsh_decoding_validates() {
    // The power of the first validator is the last field of its entry; find and zero it.
    let spec = preset("dev").unwrap().spec;
    let bytes = borsh::to_vec(&spec).unwrap();
    let power = 10u64.to_le_bytes();
    let at = bytes.windows(8).position(|w| w == power).unwrap();
    let mut tampered = bytes;
    tampered[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
    let err = borsh::from_slice::<ChainSpec>(&tampered).unwrap_err();
    assert!(err.to_string().contains("$.validators[0].power"), "{err}");
}

#[test]
fn unknown_preset_is_an_error() {
    let err = preset("mainnet").unwrap_err();
    assert_eq!(
        err,
        Error::UnknownPreset {
            name: "mainnet".into()
        }
    );
    assert!(err.to_string().contains("dev, local"), "{err}");
}

#[test]
fn dev_preset_is_one_node_one_region() {
    let dev = preset("dev").unwrap();
    let spec = &dev.spec;
    assert_eq!(spec.chain_name().as_str(), "accord-dev");
    assert_eq!(spec.genesis_time(), PRESET_GENESIS_TIME);
    let region = RegionId::new("dev").unwrap();
    assert_eq!(spec.regions(), std::slice::from_ref(&region));
    let v = spec.validator("dev-1").unwrap();
    assert_eq!(v.listen_addr, "/ip4/127.0.0.1/tcp/30300");
    assert_eq!(spec.quorum_rule(), QuorumRule::Global);
    let author = spec.account("dev-author").unwrap();
    assert!(author.has(&Role::Proposer) && author.has(&Role::Guardian));
    let voters: Vec<_> = spec.voters(&region).collect();
    assert_eq!(voters, vec![&spec.account("dev-voter").unwrap().key]);
    let agents: Vec<_> = spec
        .accounts_with(&Role::Agent(region))
        .map(|a| &a.name)
        .collect();
    assert_eq!(agents, vec!["dev-agent"]);
}

#[test]
fn local_preset_is_two_regions_with_regional_quorum() {
    let spec = preset("local").unwrap().spec;
    assert_eq!(spec.chain_name().as_str(), "accord-local");
    let names: Vec<_> = spec.validators().iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["eu-1", "eu-2", "us-1", "us-2"]);
    let ports: Vec<_> = spec
        .validators()
        .iter()
        .map(|v| v.listen_addr.as_str())
        .collect();
    assert_eq!(
        ports,
        [
            "/ip4/127.0.0.1/tcp/30301",
            "/ip4/127.0.0.1/tcp/30302",
            "/ip4/127.0.0.1/tcp/30303",
            "/ip4/127.0.0.1/tcp/30304"
        ]
    );
    assert_eq!(spec.accounts().len(), 8);
    for region in spec.regions() {
        assert_eq!(spec.voters(region).count(), 2, "{region}");
        assert_eq!(spec.validators_in(region).count(), 2, "{region}");
        assert_eq!(spec.accounts_with(&Role::Agent(region.clone())).count(), 1);
    }
    assert_eq!(spec.accounts_with(&Role::Proposer).count(), 1);
    assert_eq!(spec.accounts_with(&Role::Guardian).count(), 1);

    let set = spec.validator_set().unwrap();
    assert_eq!(set.rule(), QuorumRule::Regional);
    assert_eq!(set.total_power(), 40);
    assert_eq!(set.region_power().len(), 2);
    assert_eq!(spec.peer_keys().count(), 4);
}

#[test]
fn preset_keys_match_the_spec_and_their_labels() {
    for name in PRESET_NAMES {
        let p = preset(name).unwrap();
        let spec = &p.spec;
        let expected = spec.validators().len() * 2 + spec.accounts().len();
        assert_eq!(p.keys.len(), expected, "{name}");
        for key in &p.keys {
            let public = key.keypair.public();
            let named = match key.purpose {
                KeyPurpose::Consensus => spec.validator(&key.name).unwrap().consensus_key,
                KeyPurpose::P2p => spec.validator(&key.name).unwrap().p2p_key,
                KeyPurpose::Account => spec.account(&key.name).unwrap().key,
            };
            assert_eq!(public, named, "{name}/{}/{}", key.purpose, key.name);
            let label_key = preset_key(name, key.purpose, &key.name);
            assert_eq!(label_key.public(), public);
        }
        // The label is public and documented: recompute one by hand.
        let manual = accord_types::Keypair::derive_insecure(&format!(
            "accord-preset/{name}/account/{}",
            spec.accounts()[0].name
        ));
        assert_eq!(manual.public(), spec.accounts()[0].key);
    }
}

#[test]
fn localnets_spread_validators_over_regions() {
    let net = accord_chain_spec::localnet(7, 3, 40000).unwrap();
    let spec = &net.spec;
    assert_eq!(spec.validators().len(), 7);
    let regions: Vec<&str> = spec.regions().iter().map(RegionId::as_str).collect();
    assert_eq!(regions, ["eu", "us", "ap"]);
    let per_region: Vec<usize> = spec
        .regions()
        .iter()
        .map(|r| spec.validators_in(r).count())
        .collect();
    assert_eq!(per_region, [3, 2, 2]);
    let ports: Vec<&str> = spec
        .validators()
        .iter()
        .map(|v| v.listen_addr.as_str())
        .collect();
    assert!(ports.contains(&"/ip4/127.0.0.1/tcp/40000"));
    assert!(ports.contains(&"/ip4/127.0.0.1/tcp/40006"));
    // Regions of two or three validators could not survive a crash under the regional rule.
    assert_eq!(spec.quorum_rule(), QuorumRule::Global);
    // Every validator has its two keys among the preset's keys.
    assert_eq!(
        net.keys
            .iter()
            .filter(|k| k.purpose != KeyPurpose::Account)
            .count(),
        14
    );
    // Four or more in every region: the regional rule.
    assert_eq!(
        accord_chain_spec::localnet(8, 2, 40000)
            .unwrap()
            .spec
            .quorum_rule(),
        QuorumRule::Regional
    );
}

#[test]
fn localnet_shapes_out_of_range_are_refused() {
    for (validators, regions, port, expected) in [
        (4, 0, 30300, "0 regions"),
        (4, 9, 30300, "9 regions"),
        (1, 2, 30300, "each region needs one"),
        (65, 2, 30300, "at most 64"),
        (4, 2, 65534, "not all valid TCP ports"),
    ] {
        let error = accord_chain_spec::localnet(validators, regions, port)
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
    }
}
