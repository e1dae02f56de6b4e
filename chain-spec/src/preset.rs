//! Ready-made specs for development and local networks, with their (insecure,
//! deterministic) keys.

use std::fmt;

use accord_types::governance::{RiskLevel, Role};
use accord_types::params::{
    ConsensusParams, ExecutionParams, Fraction, GovernanceParams, KindFloors, RiskRules,
    TierParams, TierTable, TierThresholds, TimeoutParams,
};
use accord_types::{ChainId, Keypair, PublicKey, RegionId, Timestamp};

use crate::spec::{Account, GenesisValidator};
use crate::{ChainSpec, Error, Result};

/// Names accepted by [`preset`].
pub const PRESET_NAMES: &[&str] = &["dev", "local"];

/// The genesis time of every preset: 2026-01-01T00:00:00Z.
pub const PRESET_GENESIS_TIME: Timestamp = Timestamp(1_767_225_600_000);

/// A preset spec and the keys it was built from.
#[derive(Debug, Clone)]
pub struct Preset {
    /// The validated spec.
    pub spec: ChainSpec,
    /// Every key the spec names, in spec order: per validator its consensus then p2p
    /// key, then per account its key.
    pub keys: Vec<NamedKey>,
}

/// A key a preset derived, and what it is for.
#[derive(Debug, Clone)]
pub struct NamedKey {
    /// The validator, observer or account it belongs to.
    pub name: String,
    /// What it signs.
    pub purpose: KeyPurpose,
    /// The key pair, derived from a public label: for development only.
    pub keypair: Keypair,
}

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyPurpose {
    /// A validator's vote-signing key.
    Consensus,
    /// A node's libp2p identity.
    P2p,
    /// An account's transaction-signing key.
    Account,
}

impl KeyPurpose {
    /// The lower-case name used in derivation labels: `consensus`, `p2p`, `account`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Consensus => "consensus",
            Self::P2p => "p2p",
            Self::Account => "account",
        }
    }
}

impl fmt::Display for KeyPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The key a preset derives for `name` and `purpose`: from the public label
/// `accord-preset/{preset}/{purpose}/{name}`, so anyone can recompute it.
pub fn preset_key(preset: &str, purpose: KeyPurpose, name: &str) -> Keypair {
    Keypair::derive_insecure(&format!("accord-preset/{preset}/{purpose}/{name}"))
}

/// Every preset whose keys are derived from public labels: the named presets and
/// [`localnet`].
pub const PUBLIC_KEY_PRESETS: &[&str] = &["dev", "local", "localnet", "bench"];

/// The preset whose public label derives `key` as the `purpose` key of `name`, if
/// any: anyone can recompute such a key and sign with it.
pub fn public_preset(purpose: KeyPurpose, name: &str, key: &PublicKey) -> Option<&'static str> {
    PUBLIC_KEY_PRESETS
        .iter()
        .copied()
        .find(|preset| preset_key(preset, purpose, name).public() == *key)
}

/// The preset called `name` (one of [`PRESET_NAMES`]).
///
/// - `dev`: one region `dev`, one validator `dev-1`, accounts `dev-author` (proposer,
///   guardian), `dev-voter` and `dev-agent`; global quorum.
/// - `local`: regions `eu` and `us`, validators `eu-1`, `eu-2`, `us-1`, `us-2` on
///   ports 30301–30304, an author, a guardian, two voters and an agent per region;
///   regional quorum.
pub fn preset(name: &str) -> Result<Preset> {
    let mut builder = Builder::new(name)?;
    match name {
        "dev" => {
            builder.region("dev")?;
            builder.validator("dev-1", "dev", 30300)?;
            builder.account("dev-author", vec![Role::Proposer, Role::Guardian]);
            builder.account("dev-voter", vec![Role::Voter(region("dev")?)]);
            builder.account("dev-agent", vec![Role::Agent(region("dev")?)]);
            builder.build(false)
        }
        "local" => {
            builder.region("eu")?;
            builder.region("us")?;
            builder.validator("eu-1", "eu", 30301)?;
            builder.validator("eu-2", "eu", 30302)?;
            builder.validator("us-1", "us", 30303)?;
            builder.validator("us-2", "us", 30304)?;
            builder.account("author", vec![Role::Proposer]);
            builder.account("guardian", vec![Role::Guardian]);
            for r in ["eu", "us"] {
                for n in 1..=2 {
                    builder.account(&format!("{r}-voter-{n}"), vec![Role::Voter(region(r)?)]);
                }
            }
            builder.account("eu-agent", vec![Role::Agent(region("eu")?)]);
            builder.account("us-agent", vec![Role::Agent(region("us")?)]);
            builder.build(true)
        }
        _ => Err(Error::UnknownPreset { name: name.into() }),
    }
}

/// Region names a [`localnet`] spec uses, in order.
pub const LOCALNET_REGIONS: &[&str] = &["eu", "us", "ap", "sa", "af", "me", "oc", "an"];

/// Largest localnet.
pub const MAX_LOCALNET_VALIDATORS: usize = 64;

/// A spec for a local network of `validators` validators spread over `regions`
/// regions (named from [`LOCALNET_REGIONS`], validators dealt to them in turn and named
/// `<region>-<n>`), listening on 127.0.0.1 from `base_port` up; accounts `author`
/// (proposer), `guardian`, two voters and an agent per region. Keys are derived from
/// the preset name `localnet` (insecure: development only). The regional quorum rule is
/// on only when every region has at least four validators, the fewest with which a
/// region tolerates a crash (more than two thirds of four is three); smaller networks
/// use the global rule, so that a local network of four keeps running with one node down.
pub fn localnet(validators: usize, regions: usize, base_port: u16) -> Result<Preset> {
    local_network("localnet", validators, regions, base_port, 2, None)
}

/// Voters per region of a [`bench`] network.
pub const BENCH_VOTERS_PER_REGION: usize = 500;

/// Voting period, in blocks, of every tier of a [`bench`] network: votes on a pool of
/// proposals opened at its start stay open for the whole of any benchmark.
pub const BENCH_VOTING_PERIOD: u64 = 10_000_000;

/// A [`localnet`] made for load tests: [`BENCH_VOTERS_PER_REGION`] voters per region
/// (`<region>-voter-1` up), so a load of votes comes from many accounts, and voting
/// periods of [`BENCH_VOTING_PERIOD`] blocks, so it can go on voting on the same few
/// proposals. Keys are derived from the preset name `bench` (insecure).
pub fn bench(validators: usize, regions: usize, base_port: u16) -> Result<Preset> {
    local_network(
        "bench",
        validators,
        regions,
        base_port,
        BENCH_VOTERS_PER_REGION,
        Some(BENCH_VOTING_PERIOD),
    )
}

/// A localnet of `voters` voters per region, its keys derived from `label`, every
/// tier's voting period `voting_period` blocks when given.
fn local_network(
    label: &str,
    validators: usize,
    regions: usize,
    base_port: u16,
    voters: usize,
    voting_period: Option<u64>,
) -> Result<Preset> {
    if regions == 0 || regions > LOCALNET_REGIONS.len() {
        return Err(Error::Localnet(format!(
            "{regions} regions; a local network has 1 to {}",
            LOCALNET_REGIONS.len()
        )));
    }
    if validators < regions || validators > MAX_LOCALNET_VALIDATORS {
        return Err(Error::Localnet(format!(
            "{validators} validators for {regions} regions; each region needs one, and a local network has at most {MAX_LOCALNET_VALIDATORS}"
        )));
    }
    let last_port = usize::from(base_port).saturating_add(validators);
    if last_port > usize::from(u16::MAX) || base_port == 0 {
        return Err(Error::Localnet(format!(
            "ports {base_port}..{last_port} are not all valid TCP ports"
        )));
    }
    let mut builder = Builder::new(label)?;
    let names = LOCALNET_REGIONS.get(..regions).unwrap_or(LOCALNET_REGIONS);
    for name in names {
        builder.region(name)?;
    }
    let mut counts = vec![0usize; regions];
    for i in 0..validators {
        let r = i % regions;
        let n = counts.get(r).copied().unwrap_or(0) + 1;
        if let Some(count) = counts.get_mut(r) {
            *count = n;
        }
        let region_name = names.get(r).copied().unwrap_or("eu");
        let port = base_port.saturating_add(u16::try_from(i).unwrap_or(u16::MAX));
        builder.validator(&format!("{region_name}-{n}"), region_name, port)?;
    }
    builder.account("author", vec![Role::Proposer]);
    builder.account("guardian", vec![Role::Guardian]);
    for name in names {
        for n in 1..=voters {
            builder.account(
                &format!("{name}-voter-{n}"),
                vec![Role::Voter(region(name)?)],
            );
        }
        builder.account(&format!("{name}-agent"), vec![Role::Agent(region(name)?)]);
    }
    let regional = counts.iter().all(|c| *c >= 4);
    if let Some(voting_period) = voting_period {
        let tiers = &mut builder.governance.tiers;
        for tier in [
            &mut tiers.low,
            &mut tiers.medium,
            &mut tiers.high,
            &mut tiers.critical,
        ] {
            tier.voting_period = voting_period;
        }
    }
    builder.build(regional)
}

fn region(name: &str) -> Result<RegionId> {
    Ok(RegionId::new(name)?)
}

/// Collects a preset's parts and keys.
struct Builder {
    preset: String,
    chain_id: ChainId,
    regions: Vec<RegionId>,
    validators: Vec<GenesisValidator>,
    accounts: Vec<Account>,
    keys: Vec<NamedKey>,
    governance: GovernanceParams,
}

impl Builder {
    fn new(preset: &str) -> Result<Self> {
        if !PRESET_NAMES.contains(&preset) && preset != "localnet" && preset != "bench" {
            return Err(Error::UnknownPreset {
                name: preset.into(),
            });
        }
        Ok(Self {
            preset: preset.into(),
            chain_id: ChainId::new(format!("accord-{preset}"))?,
            regions: Vec::new(),
            validators: Vec::new(),
            accounts: Vec::new(),
            keys: Vec::new(),
            governance: default_governance(),
        })
    }

    fn key(&mut self, purpose: KeyPurpose, name: &str) -> Keypair {
        let keypair = preset_key(&self.preset, purpose, name);
        self.keys.push(NamedKey {
            name: name.into(),
            purpose,
            keypair: keypair.clone(),
        });
        keypair
    }

    fn region(&mut self, name: &str) -> Result<()> {
        self.regions.push(region(name)?);
        Ok(())
    }

    fn validator(&mut self, name: &str, region_name: &str, port: u16) -> Result<()> {
        let consensus = self.key(KeyPurpose::Consensus, name);
        let p2p = self.key(KeyPurpose::P2p, name);
        self.validators.push(GenesisValidator {
            name: name.into(),
            region: region(region_name)?,
            consensus_key: consensus.public(),
            p2p_key: p2p.public(),
            listen_addr: format!("/ip4/127.0.0.1/tcp/{port}"),
            power: 10,
        });
        Ok(())
    }

    fn account(&mut self, name: &str, roles: Vec<Role>) {
        let key = self.key(KeyPurpose::Account, name).public();
        self.accounts.push(Account {
            name: name.into(),
            key,
            roles,
        });
    }

    fn build(self, regional_quorum: bool) -> Result<Preset> {
        let spec = ChainSpec {
            chain_id: self.chain_id.clone(),
            name: self.chain_id,
            genesis_time: PRESET_GENESIS_TIME,
            regions: self.regions,
            validators: self.validators,
            observers: Vec::new(),
            accounts: self.accounts,
            governance: self.governance,
            consensus: default_consensus(regional_quorum),
        };
        Ok(Preset {
            spec: spec.validate()?,
            keys: self.keys,
        })
    }
}

/// Governance parameters the presets use, a reasonable start for a new chain.
pub fn default_governance() -> GovernanceParams {
    let tier = |quorum, approval, veto, voting_period, enactment_delay| TierParams {
        quorum: Fraction::from_bps(quorum),
        approval_threshold: Fraction::from_bps(approval),
        veto_threshold: Fraction::from_bps(veto),
        voting_period,
        enactment_delay,
    };
    let thresholds = |medium, high, critical| TierThresholds {
        medium,
        high,
        critical,
    };
    GovernanceParams {
        tiers: TierTable {
            low: tier(3334, 5001, 3334, 20, 0),
            medium: tier(5000, 6000, 3334, 40, 5),
            high: tier(6667, 6667, 2500, 60, 10),
            critical: tier(7500, 7500, 2000, 100, 20),
        },
        risk_rules: RiskRules {
            downtime_minutes: thresholds(5, 30, 120),
            cost: thresholds(1_000, 10_000, 100_000),
            regions: thresholds(2, 3, 5),
            kind_floor: KindFloors {
                pipeline_action: RiskLevel::Low,
                infrastructure_change: RiskLevel::Medium,
                documentation_change: RiskLevel::Low,
                roadmap_change: RiskLevel::Low,
                governance_change: RiskLevel::High,
            },
        },
        freeze_windows: Vec::new(),
        execution: ExecutionParams {
            claim_lease_blocks: 20,
            emergency_ratification_blocks: 50,
            max_phases: 8,
        },
    }
}

/// Consensus parameters the presets use, for validators on one host or one data centre:
/// a proposal is awaited 300 ms in round 0 (300 ms more each round), 4 MiB blocks.
///
/// The propose timeout is what a height whose round-0 proposer is down costs until
/// proposer selection has seen that validator absent, so it is kept near what an honest
/// proposal takes to arrive with room to spare (tens of milliseconds on loopback, with
/// a full block); later rounds wait longer, so a slower network still decides.
pub fn default_consensus(regional_quorum: bool) -> ConsensusParams {
    ConsensusParams {
        timeouts: TimeoutParams {
            propose_ms: 300,
            propose_delta_ms: 300,
            prevote_ms: 500,
            prevote_delta_ms: 250,
            precommit_ms: 500,
            precommit_delta_ms: 250,
            commit_ms: 200,
        },
        max_block_bytes: 4 * 1024 * 1024,
        max_block_txs: 2000,
        regional_quorum,
    }
}

#[cfg(test)]
mod public_key_tests {
    use super::*;

    #[test]
    fn the_bench_preset_has_many_voters_long_votes_and_keys_of_its_own() {
        let bench = bench(4, 2, 31000).unwrap();
        let local = localnet(4, 2, 31000).unwrap();
        let voters = |p: &Preset, region: &str| {
            p.spec
                .accounts()
                .iter()
                .filter(|a| a.roles == vec![Role::Voter(RegionId::new(region).unwrap())])
                .count()
        };
        assert_eq!(voters(&bench, "eu"), BENCH_VOTERS_PER_REGION);
        assert_eq!(voters(&bench, "us"), BENCH_VOTERS_PER_REGION);
        assert_eq!(voters(&local, "eu"), 2);
        let tiers = &bench.spec.governance().tiers;
        assert_eq!(tiers.low.voting_period, BENCH_VOTING_PERIOD);
        assert_eq!(tiers.critical.voting_period, BENCH_VOTING_PERIOD);
        assert_eq!(local.spec.governance().tiers.low.voting_period, 20);
        assert_ne!(bench.spec.chain_id(), local.spec.chain_id());
        let key = bench
            .keys
            .iter()
            .find(|k| k.name == "eu-voter-500")
            .unwrap();
        assert_eq!(
            public_preset(KeyPurpose::Account, "eu-voter-500", &key.keypair.public()),
            Some("bench")
        );
    }

    #[test]
    fn a_preset_key_is_recognised_as_public_and_a_generated_one_is_not() {
        let derived = preset_key("localnet", KeyPurpose::Consensus, "eu-1").public();
        assert_eq!(
            public_preset(KeyPurpose::Consensus, "eu-1", &derived),
            Some("localnet")
        );
        assert_eq!(public_preset(KeyPurpose::P2p, "eu-1", &derived), None);
        assert_eq!(public_preset(KeyPurpose::Consensus, "eu-2", &derived), None);
        let generated = Keypair::from_seed(&[42; 32]).public();
        assert_eq!(
            public_preset(KeyPurpose::Consensus, "eu-1", &generated),
            None
        );
    }
}
