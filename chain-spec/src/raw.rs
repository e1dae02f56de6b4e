//! Stage 1: the chain spec's JSON shape, with every value that has syntax of its own
//! (keys, region ids, the chain id, the genesis time, fractions) kept as plain text,
//! so that stage 2 can report each malformed value at its path instead of stopping
//! at the first.

use accord_types::params::{ConsensusParams, ExecutionParams, RiskRules};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The whole spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChainSpec {
    pub chain_id: String,
    pub genesis_time: String,
    pub regions: Vec<String>,
    pub validators: Vec<RawValidator>,
    #[serde(default)]
    pub observers: Vec<RawObserver>,
    pub accounts: Vec<RawAccount>,
    pub governance: RawGovernance,
    pub consensus: ConsensusParams,
}

/// One genesis validator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawValidator {
    pub name: String,
    pub region: String,
    pub consensus_key: String,
    pub p2p_key: String,
    pub listen_addr: String,
    pub power: u64,
}

/// One observer node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawObserver {
    pub name: String,
    pub p2p_key: String,
}

/// One account and its roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccount {
    pub name: String,
    pub key: String,
    #[serde(default)]
    pub roles: Vec<RawRole>,
}

/// A role, in the serde form of [`accord_types::governance::Role`]:
/// `"proposer"`, `{"voter": "eu"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawRole {
    Proposer,
    Voter(String),
    Agent(String),
    Guardian,
}

/// Governance parameters, in the serde form of [`accord_types::params::GovernanceParams`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGovernance {
    pub tiers: RawTierTable,
    pub risk_rules: RiskRules,
    #[serde(default)]
    pub freeze_windows: Vec<RawFreezeWindow>,
    pub execution: ExecutionParams,
}

/// Parameters per risk tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTierTable {
    pub low: RawTierParams,
    pub medium: RawTierParams,
    pub high: RawTierParams,
    pub critical: RawTierParams,
}

/// One tier's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTierParams {
    pub quorum: String,
    pub approval_threshold: String,
    pub veto_threshold: String,
    pub voting_period: u64,
    pub enactment_delay: u64,
}

/// One freeze window; `start` and `end` are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFreezeWindow {
    pub name: String,
    pub start: u64,
    pub end: u64,
    #[serde(default)]
    pub regions: Vec<String>,
}

/// Stage 1: parses JSON text into the raw shape, or reports the first structural error
/// with its JSON path, line and column.
pub(crate) fn parse(json: &str) -> Result<RawChainSpec> {
    let mut de = serde_json::Deserializer::from_str(json);
    let raw: RawChainSpec = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = json_path(&e.path().to_string());
        syntax_error(path, e.inner())
    })?;
    // Trailing text after the object is as much a syntax error as a missing brace.
    de.end().map_err(|e| syntax_error("$".into(), &e))?;
    Ok(raw)
}

/// `validators[0].power` (serde_path_to_error's form, `.` for the root) to `$.validators[0].power`.
fn json_path(path: &str) -> String {
    if path == "." || path.is_empty() {
        "$".into()
    } else {
        format!("$.{path}")
    }
}

fn syntax_error(path: String, error: &serde_json::Error) -> Error {
    let full = error.to_string();
    // serde_json appends " at line L column C"; the error carries those separately.
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    Error::Syntax {
        path,
        line: error.line(),
        column: error.column(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use accord_types::governance::Role;
    use accord_types::RegionId;

    use super::*;

    #[test]
    fn raw_roles_have_the_serde_form_of_typed_roles() {
        let eu = RegionId::new("eu").unwrap();
        let pairs = [
            (Role::Proposer, RawRole::Proposer),
            (Role::Guardian, RawRole::Guardian),
            (Role::Voter(eu.clone()), RawRole::Voter("eu".into())),
            (Role::Agent(eu), RawRole::Agent("eu".into())),
        ];
        for (typed, raw) in pairs {
            assert_eq!(
                serde_json::to_value(&typed).unwrap(),
                serde_json::to_value(&raw).unwrap()
            );
        }
        assert_eq!(
            serde_json::to_string(&Role::Proposer).unwrap(),
            r#""proposer""#
        );
        let voter = Role::Voter(RegionId::new("eu").unwrap());
        assert_eq!(serde_json::to_string(&voter).unwrap(), r#"{"voter":"eu"}"#);
    }

    #[test]
    fn paths_start_at_the_root() {
        assert_eq!(json_path("."), "$");
        assert_eq!(json_path("validators[2].power"), "$.validators[2].power");
    }

    #[test]
    fn syntax_errors_carry_path_line_and_column() {
        let err = parse("{\n  \"chain_id\": 5\n}").unwrap_err();
        let Error::Syntax {
            path,
            line,
            column,
            message,
        } = err
        else {
            panic!("not a syntax error: {err:?}");
        };
        assert_eq!(path, "$.chain_id");
        assert_eq!((line, column), (2, 15));
        assert!(
            message.starts_with("invalid type: integer `5`"),
            "{message}"
        );
        assert!(!message.contains("line"), "{message}");
    }
}
