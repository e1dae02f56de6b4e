//! Chain parameters that governance and consensus read: risk tiers, thresholds, timeouts, limits.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::governance::RiskLevel;
use crate::{Error, RegionId, Timestamp};

/// A fraction in basis points: `10_000` is one. Written as a decimal string
/// (`"0.6667"`) in JSON so no floating point ever touches a threshold.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
pub struct Fraction {
    bps: u32,
}

impl Fraction {
    /// Basis points in one whole.
    pub const ONE_BPS: u32 = 10_000;
    /// The whole.
    pub const ONE: Self = Self { bps: Self::ONE_BPS };

    /// A fraction of `bps` basis points.
    pub const fn from_bps(bps: u32) -> Self {
        Self { bps }
    }

    /// Its basis points.
    pub const fn bps(self) -> u32 {
        self.bps
    }

    /// Whether the fraction lies in (0, 1], the range every threshold must be in.
    pub const fn is_proper(self) -> bool {
        self.bps > 0 && self.bps <= Self::ONE_BPS
    }

    /// Whether `part / whole` is at least this fraction. An empty whole meets nothing.
    pub fn is_met(self, part: u64, whole: u64) -> bool {
        whole > 0
            && u128::from(part) * u128::from(Self::ONE_BPS)
                >= u128::from(whole) * u128::from(self.bps)
    }

    /// Whether `part / whole` is strictly more than this fraction. An empty whole exceeds nothing.
    pub fn is_exceeded(self, part: u64, whole: u64) -> bool {
        whole > 0
            && u128::from(part) * u128::from(Self::ONE_BPS)
                > u128::from(whole) * u128::from(self.bps)
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.bps / Self::ONE_BPS;
        let frac = self.bps % Self::ONE_BPS;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:04}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl FromStr for Fraction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |reason: &'static str| Error::InvalidIdentifier {
            what: "fraction",
            value: s.chars().take(64).collect(),
            reason,
        };
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("must be a decimal such as \"0.6667\""));
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("must be a decimal such as \"0.6667\""));
        }
        if frac.len() > 4 {
            return Err(bad("has more than four decimal places"));
        }
        let whole: u32 = whole.parse().map_err(|_| bad("is too large"))?;
        let mut frac_bps: u32 = 0;
        for (i, digit) in frac.bytes().enumerate() {
            let scale = 10u32.pow(3u32.saturating_sub(i as u32));
            frac_bps = frac_bps.saturating_add(u32::from(digit - b'0').saturating_mul(scale));
        }
        let bps = whole
            .checked_mul(Self::ONE_BPS)
            .and_then(|w| w.checked_add(frac_bps))
            .ok_or_else(|| bad("is too large"))?;
        Ok(Self { bps })
    }
}

crate::codec::serde_via_str!(Fraction, "a decimal fraction such as \"0.6667\"");

/// The governance parameters of one risk tier.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct TierParams {
    /// Share of a region's voters that must vote (any choice) for its tally to count.
    pub quorum: Fraction,
    /// Share of a region's yes+no votes that must be yes.
    pub approval_threshold: Fraction,
    /// Share of a region's cast votes that, as vetoes, vetoes the proposal.
    pub veto_threshold: Fraction,
    /// Blocks from submission until voting closes.
    pub voting_period: u64,
    /// Blocks between approval and the earliest execution.
    pub enactment_delay: u64,
}

/// One parameter set per risk tier.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct TierTable {
    /// Low risk.
    pub low: TierParams,
    /// Medium risk.
    pub medium: TierParams,
    /// High risk.
    pub high: TierParams,
    /// Critical risk.
    pub critical: TierParams,
}

impl TierTable {
    /// The parameters of `tier`.
    pub fn get(&self, tier: RiskLevel) -> &TierParams {
        match tier {
            RiskLevel::Low => &self.low,
            RiskLevel::Medium => &self.medium,
            RiskLevel::High => &self.high,
            RiskLevel::Critical => &self.critical,
        }
    }

    /// Mutable parameters of `tier`.
    pub fn get_mut(&mut self, tier: RiskLevel) -> &mut TierParams {
        match tier {
            RiskLevel::Low => &mut self.low,
            RiskLevel::Medium => &mut self.medium,
            RiskLevel::High => &mut self.high,
            RiskLevel::Critical => &mut self.critical,
        }
    }
}

/// Values at or above which an impact raises the tier to medium, high or critical.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct TierThresholds {
    /// At or above: at least medium.
    pub medium: u64,
    /// At or above: at least high.
    pub high: u64,
    /// At or above: critical.
    pub critical: u64,
}

impl TierThresholds {
    /// The tier a value falls in.
    pub fn tier_of(&self, value: u64) -> RiskLevel {
        if value >= self.critical {
            RiskLevel::Critical
        } else if value >= self.high {
            RiskLevel::High
        } else if value >= self.medium {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        }
    }
}

/// The lowest tier each proposal kind may have.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct KindFloors {
    /// Pipeline actions.
    pub pipeline_action: RiskLevel,
    /// Infrastructure changes.
    pub infrastructure_change: RiskLevel,
    /// Documentation changes.
    pub documentation_change: RiskLevel,
    /// Roadmap changes.
    pub roadmap_change: RiskLevel,
    /// Changes to governance itself (parameters, roles, freeze windows).
    pub governance_change: RiskLevel,
}

/// Deterministic rules that derive a tier from a proposal's impact; the effective
/// tier is the highest of these and the declared risk.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct RiskRules {
    /// Expected downtime in minutes.
    pub downtime_minutes: TierThresholds,
    /// Expected cost, in the chain's cost unit.
    pub cost: TierThresholds,
    /// Number of affected regions.
    pub regions: TierThresholds,
    /// Lowest tier per kind.
    pub kind_floor: KindFloors,
}

/// A period during which no change executes in the listed regions (all when empty),
/// emergencies excepted.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct FreezeWindow {
    /// A short name, shown in events.
    pub name: String,
    /// First instant of the freeze (block timestamp, inclusive).
    pub start: Timestamp,
    /// End of the freeze (block timestamp, exclusive).
    pub end: Timestamp,
    /// Regions frozen; empty means every region.
    #[serde(default)]
    pub regions: Vec<RegionId>,
}

impl FreezeWindow {
    /// Whether `region` is frozen at `now`.
    pub fn freezes(&self, region: &RegionId, now: Timestamp) -> bool {
        self.start <= now
            && now < self.end
            && (self.regions.is_empty() || self.regions.contains(region))
    }
}

/// Parameters of the execution step.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct ExecutionParams {
    /// Blocks a claim by an agent lasts before another agent may claim.
    pub claim_lease_blocks: u64,
    /// Blocks an emergency action stays open for ratification.
    pub emergency_ratification_blocks: u64,
    /// Most rollout phases a pipeline action may declare.
    pub max_phases: u16,
}

/// Everything governance reads from the chain spec; changed only by governance proposals.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct GovernanceParams {
    /// Parameters per risk tier.
    pub tiers: TierTable,
    /// Rules deriving a tier from impact.
    pub risk_rules: RiskRules,
    /// Freeze windows.
    #[serde(default)]
    pub freeze_windows: Vec<FreezeWindow>,
    /// Execution parameters.
    pub execution: ExecutionParams,
}

/// Consensus timeouts in milliseconds; each grows by its delta every round.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct TimeoutParams {
    /// Waiting for a proposal in round 0.
    pub propose_ms: u64,
    /// Added to the propose timeout per round.
    pub propose_delta_ms: u64,
    /// Waiting for more prevotes after a quorum of any prevotes.
    pub prevote_ms: u64,
    /// Added to the prevote timeout per round.
    pub prevote_delta_ms: u64,
    /// Waiting for more precommits after a quorum of any precommits.
    pub precommit_ms: u64,
    /// Added to the precommit timeout per round.
    pub precommit_delta_ms: u64,
    /// Pause after a commit before the next height starts, to gather late precommits.
    pub commit_ms: u64,
}

/// Consensus parameters from the chain spec.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct ConsensusParams {
    /// Timeouts.
    pub timeouts: TimeoutParams,
    /// Largest encoded block.
    pub max_block_bytes: u64,
    /// Most transactions in a block.
    pub max_block_txs: u32,
    /// Whether every quorum also needs more than two thirds of each region's power.
    pub regional_quorum: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_text_round_trips() {
        for (text, bps) in [
            ("0.6667", 6667),
            ("1", 10_000),
            ("0.5", 5000),
            ("0.0001", 1),
            ("2.25", 22_500),
        ] {
            let f: Fraction = text.parse().unwrap();
            assert_eq!(f.bps(), bps, "{text}");
            assert_eq!(f.to_string(), text);
        }
        for bad in ["", ".5", "0.12345", "-1", "1e3", "0,5", "99999999"] {
            assert!(bad.parse::<Fraction>().is_err(), "{bad:?} accepted");
        }
        assert_eq!("1.0".parse::<Fraction>().unwrap(), Fraction::ONE);
    }

    #[test]
    fn fraction_thresholds_are_exact() {
        let two_thirds: Fraction = "0.6667".parse().unwrap();
        assert!(!two_thirds.is_met(2, 3));
        assert!(two_thirds.is_met(6667, 10_000));
        assert!(!two_thirds.is_exceeded(6667, 10_000));
        assert!(Fraction::ONE.is_met(u64::MAX, u64::MAX));
        assert!(!Fraction::from_bps(1).is_met(0, 0));
    }

    #[test]
    fn tier_thresholds_pick_the_highest_reached() {
        let t = TierThresholds {
            medium: 10,
            high: 100,
            critical: 1000,
        };
        assert_eq!(t.tier_of(9), RiskLevel::Low);
        assert_eq!(t.tier_of(10), RiskLevel::Medium);
        assert_eq!(t.tier_of(999), RiskLevel::High);
        assert_eq!(t.tier_of(u64::MAX), RiskLevel::Critical);
    }
}
