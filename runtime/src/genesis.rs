//! The state at height zero.

use std::collections::{BTreeMap, BTreeSet};

use accord_chain_spec::ChainSpec;
use accord_state::{Commit, Overlay, StateStore, StateView};
use accord_types::governance::{Role, ValidatorSpec};
use accord_types::params::GovernanceParams;
use accord_types::{ChainId, PublicKey, QuorumRule, RegionId, ValidatorSet};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::keys;
use crate::records::{AccountRecord, ChainConfig, ValidatorRecord};

/// Everything the runtime's genesis state holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genesis {
    /// Chain id.
    pub chain_id: ChainId,
    /// Governance regions.
    pub regions: Vec<RegionId>,
    /// Governance parameters.
    pub params: GovernanceParams,
    /// Accounts and their roles.
    pub accounts: Vec<(PublicKey, Vec<Role>)>,
    /// The validators and the quorum rule.
    pub validators: Vec<ValidatorSpec>,
    /// Quorum rule of the validator set.
    pub rule: QuorumRule,
}

impl Genesis {
    /// The genesis of a validated chain spec.
    pub fn from_spec(spec: &ChainSpec) -> Self {
        Self {
            chain_id: spec.chain_id().clone(),
            regions: spec.regions().to_vec(),
            params: spec.governance().clone(),
            accounts: spec
                .accounts()
                .iter()
                .map(|a| (a.key, a.roles.clone()))
                .collect(),
            validators: spec.validators().to_vec(),
            rule: spec.quorum_rule(),
        }
    }

    /// Writes the genesis state into `store`'s empty keyspace and returns the commit
    /// (root and raw batch) without applying it.
    pub fn build(&self, store: &dyn StateStore) -> Result<Commit> {
        let invalid = |reason: String| Error::InvalidGenesis { reason };
        if let Some(problem) = self.params.problems().into_iter().next() {
            return Err(invalid(format!(
                "governance.{}: {}",
                problem.field, problem.message
            )));
        }
        let mut regions = self.regions.clone();
        regions.sort();
        regions.dedup();
        if regions.is_empty() {
            return Err(invalid("no regions".to_owned()));
        }
        let set = ValidatorSet::new(
            self.validators
                .iter()
                .map(ValidatorSpec::to_validator)
                .collect(),
            self.rule,
        )
        .map_err(|e| invalid(format!("validator set: {e}")))?;
        let mut validators = self.validators.clone();
        validators.sort_by_key(|v| v.consensus_key);
        debug_assert_eq!(set.len(), validators.len());

        let mut db = Db::new(Overlay::new(StateView::new(store)));
        db.put(
            keys::chain(),
            &ChainConfig {
                chain_id: self.chain_id.clone(),
                regions: regions.clone(),
            },
        );
        db.put(keys::params(), &self.params);
        db.put(keys::next_proposal(), &1u64);
        db.put(
            keys::validators(),
            &ValidatorRecord {
                rule: self.rule,
                validators,
            },
        );
        let mut voters: BTreeMap<RegionId, Vec<PublicKey>> =
            regions.iter().map(|r| (r.clone(), Vec::new())).collect();
        let mut accounts: BTreeMap<PublicKey, BTreeSet<Role>> = BTreeMap::new();
        for (key, roles) in &self.accounts {
            if !key.is_valid_point() || key.is_small_order() {
                return Err(invalid(format!(
                    "account {key} is not a usable ed25519 key"
                )));
            }
            for role in roles {
                if let Role::Voter(region) | Role::Agent(region) = role {
                    if !voters.contains_key(region) {
                        return Err(invalid(format!(
                            "account {key} has a role in unknown region {}",
                            region.as_str()
                        )));
                    }
                }
                if let Role::Voter(region) = role {
                    voters.entry(region.clone()).or_default().push(*key);
                }
                accounts.entry(*key).or_default().insert(role.clone());
            }
        }
        for (key, roles) in accounts {
            db.put(keys::account(&key), &AccountRecord { roles });
        }
        for (region, list) in voters {
            db.set_voter_list(&region, list)?;
        }
        Ok(db.into_overlay().commit()?)
    }
}
