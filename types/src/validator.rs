//! Weighted validators grouped by region, and the quorum rule over them.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::hash::{Domain, Hash};
use crate::{Error, PublicKey, RegionId};

/// Largest total voting power a set may have, so that `3 × power` never overflows.
pub const MAX_TOTAL_POWER: u64 = u64::MAX / 4;
/// Largest validator set.
pub const MAX_VALIDATORS: usize = 1_000;

/// One validator.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Validator {
    /// Operator-chosen name.
    pub name: String,
    /// Its region.
    pub region: RegionId,
    /// Vote-signing key; the validator's identity in consensus.
    pub key: PublicKey,
    /// Voting power, positive.
    pub power: u64,
}

/// Which power a quorum needs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum QuorumRule {
    /// More than two thirds of the total power.
    Global,
    /// More than two thirds of the total power and of each region's power.
    Regional,
}

/// A validated validator set, ordered by key.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, Serialize)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    rule: QuorumRule,
    #[borsh(skip)]
    #[serde(skip)]
    total_power: u64,
    #[borsh(skip)]
    #[serde(skip)]
    region_power: BTreeMap<RegionId, u64>,
}

/// Power that signed, in total and per region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PowerTally {
    /// Total signed power.
    pub total: u64,
    /// Signed power per region (regions with none are absent).
    pub per_region: BTreeMap<RegionId, u64>,
}

impl PowerTally {
    /// Adds a validator's power.
    pub fn add(&mut self, validator: &Validator) {
        self.total = self.total.saturating_add(validator.power);
        let region = self.per_region.entry(validator.region.clone()).or_default();
        *region = region.saturating_add(validator.power);
    }
}

/// `part > 2/3 × whole`, without overflow.
pub fn exceeds_two_thirds(part: u64, whole: u64) -> bool {
    u128::from(part) * 3 > u128::from(whole) * 2
}

/// `part > 1/3 × whole`, without overflow.
pub fn exceeds_one_third(part: u64, whole: u64) -> bool {
    u128::from(part) * 3 > u128::from(whole)
}

impl ValidatorSet {
    /// Validates and orders `validators`.
    pub fn new(mut validators: Vec<Validator>, rule: QuorumRule) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidValidatorSet { reason };
        if validators.is_empty() {
            return Err(invalid("no validators".into()));
        }
        if validators.len() > MAX_VALIDATORS {
            return Err(invalid(format!(
                "{} validators, more than {MAX_VALIDATORS}",
                validators.len()
            )));
        }
        validators.sort_by_key(|v| v.key);
        let mut total_power: u64 = 0;
        let mut region_power: BTreeMap<RegionId, u64> = BTreeMap::new();
        let mut previous: Option<&PublicKey> = None;
        for v in &validators {
            if previous == Some(&v.key) {
                return Err(invalid(format!("validator key {} appears twice", v.key)));
            }
            previous = Some(&v.key);
            if v.key.is_small_order() {
                return Err(invalid(format!(
                    "validator {} has a small-order key, under which anyone can sign",
                    v.name
                )));
            }
            if v.power == 0 {
                return Err(invalid(format!("validator {} has zero power", v.name)));
            }
            total_power = total_power
                .checked_add(v.power)
                .filter(|t| *t <= MAX_TOTAL_POWER)
                .ok_or_else(|| invalid(format!("total power exceeds {MAX_TOTAL_POWER}")))?;
            let region = region_power.entry(v.region.clone()).or_default();
            *region = region.saturating_add(v.power);
        }
        Ok(Self {
            validators,
            rule,
            total_power,
            region_power,
        })
    }

    /// The validators, ordered by key.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// How many validators.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Never true: a set has at least one validator.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// The quorum rule.
    pub fn rule(&self) -> QuorumRule {
        self.rule
    }

    /// Total power.
    pub fn total_power(&self) -> u64 {
        self.total_power
    }

    /// Each region's power.
    pub fn region_power(&self) -> &BTreeMap<RegionId, u64> {
        &self.region_power
    }

    /// The validator with `key`.
    pub fn get(&self, key: &PublicKey) -> Option<&Validator> {
        self.index_of(key).and_then(|i| self.validators.get(i))
    }

    /// The position of `key` in key order.
    pub fn index_of(&self, key: &PublicKey) -> Option<usize> {
        self.validators.binary_search_by(|v| v.key.cmp(key)).ok()
    }

    /// Whether `tally` is a quorum: more than 2/3 of the total power and, under the
    /// regional rule, more than 2/3 of every region's power.
    pub fn is_quorum(&self, tally: &PowerTally) -> bool {
        self.quorum_shortfall(tally).is_none()
    }

    /// Why `tally` is not a quorum, or `None` when it is.
    pub fn quorum_shortfall(&self, tally: &PowerTally) -> Option<Error> {
        if !exceeds_two_thirds(tally.total, self.total_power) {
            return Some(Error::InsufficientPower {
                signed: tally.total,
                total: self.total_power,
            });
        }
        if self.rule == QuorumRule::Regional {
            for (region, &total) in &self.region_power {
                let signed = tally.per_region.get(region).copied().unwrap_or(0);
                if !exceeds_two_thirds(signed, total) {
                    return Some(Error::RegionWithoutQuorum {
                        region: region.clone(),
                        signed,
                        total,
                    });
                }
            }
        }
        None
    }

    /// Whether `tally` must contain a correct validator, assuming less than 1/3 of
    /// the power is faulty (and, under the regional rule, less than 1/3 of each
    /// region's power): more than 1/3 of the total, or of some region's power
    /// under the regional rule.
    pub fn contains_correct(&self, tally: &PowerTally) -> bool {
        if exceeds_one_third(tally.total, self.total_power) {
            return true;
        }
        self.rule == QuorumRule::Regional
            && tally.per_region.iter().any(|(region, &signed)| {
                self.region_power
                    .get(region)
                    .is_some_and(|&total| exceeds_one_third(signed, total))
            })
    }

    /// The hash of the set (validators in key order, and the rule).
    pub fn hash(&self) -> Hash {
        Hash::of_borsh(Domain::VALIDATOR_SET, self)
    }
}

impl BorshDeserialize for ValidatorSet {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let validators = Vec::<Validator>::deserialize_reader(reader)?;
        let rule = QuorumRule::deserialize_reader(reader)?;
        let invalid = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidData, msg);
        // One set, one encoding: validators must already be in strictly increasing key order.
        if !validators.is_sorted_by(|a, b| a.key < b.key) {
            return Err(invalid(
                "validators are not in strictly increasing key order".into(),
            ));
        }
        Self::new(validators, rule).map_err(|e| invalid(e.to_string()))
    }
}

impl<'de> Deserialize<'de> for ValidatorSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            validators: Vec<Validator>,
            rule: QuorumRule,
        }
        let raw = Raw::deserialize(d)?;
        Self::new(raw.validators, raw.rule).map_err(serde::de::Error::custom)
    }
}
