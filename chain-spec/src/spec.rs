//! The validated, typed chain spec and what other crates ask of it.

use accord_types::governance::Role;
use accord_types::params::{ConsensusParams, GovernanceParams, TierParams};
use accord_types::ValidatorSet;
use accord_types::{ChainId, Domain, Hash, PublicKey, QuorumRule, RegionId, Timestamp};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;

use crate::raw::{
    RawAccount, RawChainSpec, RawFreezeWindow, RawGovernance, RawObserver, RawRole, RawTierParams,
    RawTierTable, RawValidator,
};
use crate::{time, Result};

/// A validated chain spec: the genesis configuration every node of a chain shares.
///
/// The only ways to get one are [`ChainSpec::from_json`], [`crate::preset`] and borsh
/// decoding, and each validates, so every value of this type satisfies every rule
/// that validation checks. Its fields are read through accessors for that reason.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize)]
pub struct ChainSpec {
    /// The chain's name: the spec's `chain_id` field.
    pub(crate) name: ChainId,
    /// The chain id that signatures cover: derived from the rest, so not hashed.
    #[borsh(skip)]
    pub(crate) chain_id: ChainId,
    pub(crate) genesis_time: Timestamp,
    pub(crate) regions: Vec<RegionId>,
    pub(crate) validators: Vec<GenesisValidator>,
    pub(crate) observers: Vec<Observer>,
    pub(crate) accounts: Vec<Account>,
    pub(crate) governance: GovernanceParams,
    pub(crate) consensus: ConsensusParams,
}

/// A validator at genesis: the same description governance uses to add validators.
pub use accord_types::governance::ValidatorSpec as GenesisValidator;

/// A node that follows the chain without voting; allowed to connect by its p2p key.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Observer {
    /// A name, unique among all names in the spec.
    pub name: String,
    /// ed25519 public key of its libp2p identity.
    pub p2p_key: PublicKey,
}

/// An account known at genesis and the roles it holds.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Account {
    /// A name, unique among all names in the spec.
    pub name: String,
    /// The key that signs its transactions.
    pub key: PublicKey,
    /// Its roles, without repeats.
    pub roles: Vec<Role>,
}

impl Account {
    /// Whether the account holds `role`.
    pub fn has(&self, role: &Role) -> bool {
        self.roles.contains(role)
    }
}

impl ChainSpec {
    /// The spec as pretty-printed JSON, in the format [`ChainSpec::from_json`] reads.
    pub fn to_json_pretty(&self) -> String {
        // Serialising plain structs with string keys into a String cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The hash every node of the chain agrees on: blake3 over the borsh encoding of
    /// the spec, in the genesis domain.
    pub fn genesis_hash(&self) -> Hash {
        Hash::of_borsh(Domain::GENESIS, self)
    }

    /// The chain id: the spec's `chain_id` (its name) joined by `-` to the first 16
    /// bytes of the genesis hash in hex, such as `accord-local-3f09…` (32 hex digits).
    /// It is part of everything signed (transactions, votes, proposals, reports), so a
    /// signature is good on this chain alone: not on another chain, and not on a new
    /// genesis under the same name, where old transactions would otherwise replay from
    /// nonce 0 and old votes could be paired with new ones as false evidence.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// The chain's name, as the spec's `chain_id` field gives it.
    pub fn chain_name(&self) -> &ChainId {
        &self.name
    }

    /// The genesis time, which is the timestamp of the genesis state.
    pub fn genesis_time(&self) -> Timestamp {
        self.genesis_time
    }

    /// The regions, in spec order; at least one.
    pub fn regions(&self) -> &[RegionId] {
        &self.regions
    }

    /// The genesis validators, in spec order; at least one.
    pub fn validators(&self) -> &[GenesisValidator] {
        &self.validators
    }

    /// The observers, in spec order.
    pub fn observers(&self) -> &[Observer] {
        &self.observers
    }

    /// The accounts, in spec order.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// The governance parameters at genesis.
    pub fn governance(&self) -> &GovernanceParams {
        &self.governance
    }

    /// The consensus parameters.
    pub fn consensus(&self) -> &ConsensusParams {
        &self.consensus
    }

    /// The quorum rule: regional when the spec sets `regional_quorum`.
    pub fn quorum_rule(&self) -> QuorumRule {
        if self.consensus.regional_quorum {
            QuorumRule::Regional
        } else {
            QuorumRule::Global
        }
    }

    /// The genesis validator set.
    ///
    /// Validation guarantees the set is well formed; the types crate still reports
    /// its checks as a `Result`, which is passed on rather than unwrapped.
    pub fn validator_set(&self) -> Result<ValidatorSet> {
        let validators = self.validators.iter().map(GenesisValidator::to_validator);
        Ok(ValidatorSet::new(validators.collect(), self.quorum_rule())?)
    }

    /// The validator called `name`.
    pub fn validator(&self, name: &str) -> Option<&GenesisValidator> {
        self.validators.iter().find(|v| v.name == name)
    }

    /// The account called `name`.
    pub fn account(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// Accounts holding `role`, in spec order.
    pub fn accounts_with(&self, role: &Role) -> impl Iterator<Item = &Account> + '_ {
        let role = role.clone();
        self.accounts.iter().filter(move |a| a.has(&role))
    }

    /// Keys of the accounts that vote for `region`, in spec order.
    pub fn voters(&self, region: &RegionId) -> impl Iterator<Item = &PublicKey> + '_ {
        let role = Role::Voter(region.clone());
        self.accounts
            .iter()
            .filter(move |a| a.has(&role))
            .map(|a| &a.key)
    }

    /// Validators of `region`, in spec order.
    pub fn validators_in(&self, region: &RegionId) -> impl Iterator<Item = &GenesisValidator> + '_ {
        let region = region.clone();
        self.validators.iter().filter(move |v| v.region == region)
    }

    /// The p2p keys allowed to connect: every validator's and every observer's.
    pub fn peer_keys(&self) -> impl Iterator<Item = &PublicKey> + '_ {
        let validators = self.validators.iter().map(|v| &v.p2p_key);
        validators.chain(self.observers.iter().map(|o| &o.p2p_key))
    }

    /// The spec in its stage-1 shape, every value as its text.
    pub(crate) fn to_raw(&self) -> RawChainSpec {
        RawChainSpec {
            chain_id: self.name.to_string(),
            genesis_time: time::format(self.genesis_time),
            regions: self.regions.iter().map(ToString::to_string).collect(),
            validators: self.validators.iter().map(raw_validator).collect(),
            observers: self.observers.iter().map(raw_observer).collect(),
            accounts: self.accounts.iter().map(raw_account).collect(),
            governance: raw_governance(&self.governance),
            consensus: self.consensus.clone(),
        }
    }
}

fn raw_validator(v: &GenesisValidator) -> RawValidator {
    RawValidator {
        name: v.name.clone(),
        region: v.region.to_string(),
        consensus_key: v.consensus_key.to_string(),
        p2p_key: v.p2p_key.to_string(),
        listen_addr: v.listen_addr.clone(),
        power: v.power,
    }
}

fn raw_observer(o: &Observer) -> RawObserver {
    RawObserver {
        name: o.name.clone(),
        p2p_key: o.p2p_key.to_string(),
    }
}

fn raw_account(a: &Account) -> RawAccount {
    let role = |role: &Role| match role {
        Role::Proposer => RawRole::Proposer,
        Role::Voter(region) => RawRole::Voter(region.to_string()),
        Role::Agent(region) => RawRole::Agent(region.to_string()),
        Role::Guardian => RawRole::Guardian,
    };
    RawAccount {
        name: a.name.clone(),
        key: a.key.to_string(),
        roles: a.roles.iter().map(role).collect(),
    }
}

fn raw_governance(g: &GovernanceParams) -> RawGovernance {
    let tier = |t: &TierParams| RawTierParams {
        quorum: t.quorum.to_string(),
        approval_threshold: t.approval_threshold.to_string(),
        veto_threshold: t.veto_threshold.to_string(),
        voting_period: t.voting_period,
        enactment_delay: t.enactment_delay,
    };
    RawGovernance {
        tiers: RawTierTable {
            low: tier(&g.tiers.low),
            medium: tier(&g.tiers.medium),
            high: tier(&g.tiers.high),
            critical: tier(&g.tiers.critical),
        },
        risk_rules: g.risk_rules.clone(),
        freeze_windows: g
            .freeze_windows
            .iter()
            .map(|w| RawFreezeWindow {
                name: w.name.clone(),
                start: w.start.get(),
                end: w.end.get(),
                regions: w.regions.iter().map(ToString::to_string).collect(),
            })
            .collect(),
        execution: g.execution.clone(),
    }
}

/// The JSON form is the stage-1 shape, so what is written is exactly what is read.
impl Serialize for ChainSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_raw().serialize(serializer)
    }
}
