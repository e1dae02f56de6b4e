//! Chain parameters that governance and consensus read: risk tiers, thresholds, timeouts, limits.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::MAX_BLOCK_BYTES;
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
        let (whole, frac) = match s.split_once('.') {
            Some((_, "")) => return Err(bad("must be a decimal such as \"0.6667\"")),
            Some(parts) => parts,
            None => (s, ""),
        };
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

/// Risk tiers, in increasing order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = false)]
pub enum RiskLevel {
    /// Routine.
    Low,
    /// Noticeable.
    Medium,
    /// Serious.
    High,
    /// Could take regions down.
    Critical,
}

impl RiskLevel {
    /// Every tier, lowest first.
    pub const ALL: [Self; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];
}

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
    /// Wait after a decision for late precommits to join the certificate before the
    /// block is committed and the next height starts; a block that carries
    /// transactions is committed as soon as every validator's precommit is in.
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

/// Smallest `max_block_bytes` a chain may set: room for a header, a certificate and a
/// few transactions.
pub const MIN_BLOCK_BYTES: u64 = 4096;

/// A parameter that breaks a rule: its field path relative to the value checked
/// (`tiers.high.quorum`), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamProblem {
    /// Field path, relative to the checked value.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ParamProblem {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    fn within(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}

fn nested(prefix: &str, problems: Vec<ParamProblem>) -> impl Iterator<Item = ParamProblem> + '_ {
    problems.into_iter().map(move |p| p.within(prefix))
}

impl TierParams {
    /// Every rule the parameters break: thresholds in (0, 1], a voting period of at least one block.
    pub fn problems(&self) -> Vec<ParamProblem> {
        let mut out = Vec::new();
        for (field, fraction) in [
            ("quorum", self.quorum),
            ("approval_threshold", self.approval_threshold),
            ("veto_threshold", self.veto_threshold),
        ] {
            if !fraction.is_proper() {
                out.push(ParamProblem::new(
                    field,
                    format!("must be more than 0 and at most 1, found {fraction}"),
                ));
            }
        }
        if self.voting_period == 0 {
            out.push(ParamProblem::new(
                "voting_period",
                "must be at least one block",
            ));
        }
        out
    }
}

impl TierThresholds {
    /// Every rule the thresholds break: they must not decrease (medium ≤ high ≤ critical).
    pub fn problems(&self) -> Vec<ParamProblem> {
        let mut out = Vec::new();
        if self.high < self.medium {
            out.push(ParamProblem::new(
                "high",
                format!("{} is below medium ({})", self.high, self.medium),
            ));
        }
        if self.critical < self.high {
            out.push(ParamProblem::new(
                "critical",
                format!("{} is below high ({})", self.critical, self.high),
            ));
        }
        out
    }
}

impl RiskRules {
    /// Every rule the risk rules break.
    pub fn problems(&self) -> Vec<ParamProblem> {
        nested("downtime_minutes", self.downtime_minutes.problems())
            .chain(nested("cost", self.cost.problems()))
            .chain(nested("regions", self.regions.problems()))
            .collect()
    }
}

impl ExecutionParams {
    /// Every rule the execution parameters break: all must be positive.
    pub fn problems(&self) -> Vec<ParamProblem> {
        let mut out = Vec::new();
        if self.claim_lease_blocks == 0 {
            out.push(ParamProblem::new(
                "claim_lease_blocks",
                "must be at least one block",
            ));
        }
        if self.emergency_ratification_blocks == 0 {
            out.push(ParamProblem::new(
                "emergency_ratification_blocks",
                "must be at least one block",
            ));
        }
        if self.max_phases == 0 {
            out.push(ParamProblem::new("max_phases", "must be at least one"));
        }
        out
    }
}

impl FreezeWindow {
    /// Every rule the window breaks on its own: a name, and an end after its start.
    /// Whether its regions exist is for the caller, who knows the regions.
    pub fn problems(&self) -> Vec<ParamProblem> {
        let mut out = Vec::new();
        if self.name.is_empty() {
            out.push(ParamProblem::new("name", "must not be empty"));
        }
        if self.start >= self.end {
            out.push(ParamProblem::new(
                "end",
                format!(
                    "{} is not after start ({}); a window must not be empty",
                    self.end, self.start
                ),
            ));
        }
        out
    }
}

impl GovernanceParams {
    /// Every rule the governance parameters break, with paths such as `tiers.high.quorum`.
    pub fn problems(&self) -> Vec<ParamProblem> {
        let tiers = RiskLevel::ALL.into_iter().flat_map(|tier| {
            let name = match tier {
                RiskLevel::Low => "tiers.low",
                RiskLevel::Medium => "tiers.medium",
                RiskLevel::High => "tiers.high",
                RiskLevel::Critical => "tiers.critical",
            };
            nested(name, self.tiers.get(tier).problems()).collect::<Vec<_>>()
        });
        let windows = self.freeze_windows.iter().enumerate().flat_map(|(i, w)| {
            w.problems()
                .into_iter()
                .map(move |p| p.within(&format!("freeze_windows[{i}]")))
        });
        tiers
            .chain(nested("risk_rules", self.risk_rules.problems()))
            .chain(windows)
            .chain(nested("execution", self.execution.problems()))
            .collect()
    }
}

impl ConsensusParams {
    /// Every rule the consensus parameters break: positive timeouts, a block size in
    /// [`MIN_BLOCK_BYTES`, `MAX_BLOCK_BYTES`], at least one transaction per block.
    pub fn problems(&self) -> Vec<ParamProblem> {
        let mut out = Vec::new();
        for (field, value) in [
            ("timeouts.propose_ms", self.timeouts.propose_ms),
            ("timeouts.prevote_ms", self.timeouts.prevote_ms),
            ("timeouts.precommit_ms", self.timeouts.precommit_ms),
        ] {
            if value == 0 {
                out.push(ParamProblem::new(field, "must be more than zero"));
            }
        }
        let max = MAX_BLOCK_BYTES as u64;
        if !(MIN_BLOCK_BYTES..=max).contains(&self.max_block_bytes) {
            out.push(ParamProblem::new(
                "max_block_bytes",
                format!(
                    "{} is outside the allowed range {MIN_BLOCK_BYTES}..={max}",
                    self.max_block_bytes
                ),
            ));
        }
        if self.max_block_txs == 0 {
            out.push(ParamProblem::new("max_block_txs", "must be at least one"));
        }
        out
    }
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
        for bad in [
            "", ".5", "1.", "0.12345", "-1", "1e3", "0,5", "99999999", "0.5 ",
        ] {
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
