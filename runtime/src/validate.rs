//! Stateless checks of a proposal draft against the chain's configuration.

use std::collections::BTreeSet;

use accord_types::governance::{
    GovernanceChange, InfrastructureChangeKind, ProposalBody, ProposalDraft, Role, Urgency,
    ValidatorChange, ValidatorSpec,
};
use accord_types::params::GovernanceParams;
use accord_types::{Domain, ErrorCode, Hash, Height, PublicKey, RegionId, Validator, ValidatorSet};

use crate::error::TxError;
use crate::records::{ChainConfig, ValidatorRecord};

/// Longest title, in bytes.
pub const MAX_TITLE_BYTES: usize = 256;
/// Longest description or analysis, in bytes.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// Longest short field (pipeline, environment, path, item, reason), in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Most affected regions of one proposal.
pub const MAX_REGIONS: usize = 32;
/// Most dependencies of one proposal.
pub const MAX_DEPENDENCIES: usize = 32;
/// Most entries of a list inside a body (resources, validator updates, governance changes,
/// freeze windows, check results).
pub const MAX_LIST: usize = 64;

/// The digest of a proposal body: what agents apply and report back.
pub fn payload_digest(body: &ProposalBody) -> Hash {
    Hash::of_borsh(Domain::PAYLOAD, body)
}

fn invalid(message: impl Into<String>) -> TxError {
    TxError::new(ErrorCode::InvalidPayload, message)
}

fn too_long(field: &str, len: usize, max: usize) -> TxError {
    TxError::new(
        ErrorCode::LimitExceeded,
        format!("{field} has {len} entries or bytes, more than the limit of {max}"),
    )
}

pub(crate) fn check_text(
    field: &str,
    text: &str,
    max: usize,
    required: bool,
) -> Result<(), TxError> {
    if required && text.trim().is_empty() {
        return Err(invalid(format!("{field} must not be empty")));
    }
    if text.len() > max {
        return Err(too_long(field, text.len(), max));
    }
    Ok(())
}

fn check_region(chain: &ChainConfig, region: &RegionId) -> Result<(), TxError> {
    if chain.regions.binary_search(region).is_err() {
        return Err(TxError::new(
            ErrorCode::UnknownRegion,
            format!(
                "region {} is not one of the chain's regions",
                region.as_str()
            ),
        ));
    }
    Ok(())
}

fn check_account_key(key: &PublicKey) -> Result<(), TxError> {
    if !key.is_valid_point() || key.is_small_order() {
        return Err(invalid(format!(
            "account key {key} is not a usable ed25519 key (small order or not a curve point)"
        )));
    }
    Ok(())
}

/// Everything about a draft that needs no state but the chain configuration and
/// parameters: sizes, regions, digest, heights, and the body's own rules. Returns the
/// number of execution phases.
pub(crate) fn check_draft(
    chain: &ChainConfig,
    params: &GovernanceParams,
    height: Height,
    draft: &ProposalDraft,
) -> Result<u16, TxError> {
    check_text("title", &draft.title, MAX_TITLE_BYTES, true)?;
    check_text("description", &draft.description, MAX_TEXT_BYTES, false)?;
    check_text(
        "impact analysis",
        &draft.impact.analysis,
        MAX_TEXT_BYTES,
        false,
    )?;
    if draft.regions.is_empty() {
        return Err(invalid("a proposal must affect at least one region"));
    }
    if draft.regions.len() > MAX_REGIONS {
        return Err(too_long("regions", draft.regions.len(), MAX_REGIONS));
    }
    let regions: BTreeSet<&RegionId> = draft.regions.iter().collect();
    if regions.len() != draft.regions.len() {
        return Err(invalid("regions must not repeat"));
    }
    for region in &draft.regions {
        check_region(chain, region)?;
    }
    if draft.dependencies.len() > MAX_DEPENDENCIES {
        return Err(too_long(
            "dependencies",
            draft.dependencies.len(),
            MAX_DEPENDENCIES,
        ));
    }
    let deps: BTreeSet<_> = draft.dependencies.iter().collect();
    if deps.len() != draft.dependencies.len() {
        return Err(invalid("dependencies must not repeat"));
    }
    let expected = payload_digest(&draft.body);
    if draft.payload_digest != expected {
        return Err(invalid(format!(
            "payload digest {} does not match the body (expected {expected})",
            draft.payload_digest
        )));
    }
    if let Some(execute_by) = draft.execute_by {
        if execute_by <= height {
            return Err(invalid(format!(
                "execute-by height {} is not after the current height {}",
                execute_by.0, height.0
            )));
        }
        if let Some(not_before) = draft.not_before {
            if not_before > execute_by {
                return Err(invalid(format!(
                    "not-before height {} is after execute-by height {}",
                    not_before.0, execute_by.0
                )));
            }
        }
    }
    if let Urgency::Emergency { justification } = &draft.urgency {
        check_text(
            "emergency justification",
            justification,
            MAX_TEXT_BYTES,
            true,
        )?;
        if !draft.dependencies.is_empty() {
            return Err(invalid("an emergency cannot wait for dependencies"));
        }
        match &draft.body {
            ProposalBody::PipelineAction(_) => {}
            ProposalBody::InfrastructureChange(change) if change.validator_updates.is_empty() => {}
            _ => {
                return Err(invalid(
                    "only pipeline actions and infrastructure changes without validator updates can be emergencies",
                ))
            }
        }
    }
    check_body(chain, params, &draft.body)
}

fn check_body(
    chain: &ChainConfig,
    params: &GovernanceParams,
    body: &ProposalBody,
) -> Result<u16, TxError> {
    match body {
        ProposalBody::PipelineAction(action) => {
            check_text("pipeline", &action.pipeline, MAX_NAME_BYTES, true)?;
            check_text("environment", &action.environment, MAX_NAME_BYTES, true)?;
            check_text(
                "rollback plan",
                &action.rollback_plan,
                MAX_TEXT_BYTES,
                false,
            )?;
            let max = params.execution.max_phases;
            if action.phases.len() > usize::from(max) {
                return Err(too_long(
                    "rollout phases",
                    action.phases.len(),
                    usize::from(max),
                ));
            }
            let mut last = 0u8;
            for phase in &action.phases {
                if phase.percent == 0 || phase.percent > 100 || phase.percent <= last {
                    return Err(invalid(
                        "rollout phases must be percentages between 1 and 100, strictly increasing",
                    ));
                }
                last = phase.percent;
            }
            if !action.phases.is_empty() && last != 100 {
                return Err(invalid("the last rollout phase must reach 100 percent"));
            }
            Ok(u16::try_from(action.phases.len().max(1)).unwrap_or(u16::MAX))
        }
        ProposalBody::InfrastructureChange(change) => {
            if change.resources.len() > MAX_LIST {
                return Err(too_long("resources", change.resources.len(), MAX_LIST));
            }
            for resource in &change.resources {
                check_text("resource", resource, MAX_NAME_BYTES, true)?;
            }
            if !change.validator_updates.is_empty() {
                if change.change != InfrastructureChangeKind::ArchitectureChange {
                    return Err(invalid(
                        "validator-set updates must be part of an architecture change",
                    ));
                }
                if change.validator_updates.len() > MAX_LIST {
                    return Err(too_long(
                        "validator updates",
                        change.validator_updates.len(),
                        MAX_LIST,
                    ));
                }
            }
            Ok(1)
        }
        ProposalBody::DocumentationChange(doc) => {
            check_text("document path", &doc.path, MAX_NAME_BYTES, true)?;
            check_text("document uri", &doc.uri, MAX_NAME_BYTES, false)?;
            Ok(1)
        }
        ProposalBody::RoadmapChange(change) => {
            check_text("roadmap item", &change.item, MAX_NAME_BYTES, true)?;
            check_text("roadmap target", &change.target, MAX_NAME_BYTES, false)?;
            Ok(1)
        }
        ProposalBody::GovernanceChange(changes) => {
            if changes.is_empty() {
                return Err(invalid("a governance change must change something"));
            }
            if changes.len() > MAX_LIST {
                return Err(too_long("governance changes", changes.len(), MAX_LIST));
            }
            for change in changes {
                match change {
                    GovernanceChange::GrantRole { account, role }
                    | GovernanceChange::RevokeRole { account, role } => {
                        check_account_key(account)?;
                        if let Role::Voter(region) | Role::Agent(region) = role {
                            check_region(chain, region)?;
                        }
                    }
                    GovernanceChange::SetFreezeWindows { windows } => {
                        if windows.len() > MAX_LIST {
                            return Err(too_long("freeze windows", windows.len(), MAX_LIST));
                        }
                        for window in windows {
                            for region in &window.regions {
                                check_region(chain, region)?;
                            }
                        }
                    }
                    GovernanceChange::SetTierParams { .. } => {}
                }
            }
            // The parameters that would result must pass the same rules as a chain spec.
            let mut after = params.clone();
            apply_params(&mut after, changes);
            if let Some(problem) = after.problems().into_iter().next() {
                return Err(invalid(format!(
                    "the change would break a parameter rule: {}: {}",
                    problem.field, problem.message
                )));
            }
            Ok(1)
        }
    }
}

/// Applies the parameter changes of a governance change (roles are applied elsewhere).
pub(crate) fn apply_params(params: &mut GovernanceParams, changes: &[GovernanceChange]) {
    for change in changes {
        match change {
            GovernanceChange::SetTierParams {
                tier,
                params: tier_params,
            } => {
                *params.tiers.get_mut(*tier) = tier_params.clone();
            }
            GovernanceChange::SetFreezeWindows { windows } => {
                params.freeze_windows = windows.clone();
            }
            GovernanceChange::GrantRole { .. } | GovernanceChange::RevokeRole { .. } => {}
        }
    }
}

/// Applies validator-set updates to a set, checking every rule a validator set obeys.
/// Returns the new record and the regions it brings that the chain did not have.
pub(crate) fn apply_validator_changes(
    current: &ValidatorRecord,
    changes: &[ValidatorChange],
) -> Result<ValidatorRecord, TxError> {
    let mut validators: Vec<ValidatorSpec> = current.validators.clone();
    for change in changes {
        match change {
            ValidatorChange::Add { validator } => {
                check_text("validator name", &validator.name, MAX_NAME_BYTES, true)?;
                check_account_key(&validator.consensus_key)?;
                check_account_key(&validator.p2p_key)?;
                if validators
                    .iter()
                    .any(|v| v.consensus_key == validator.consensus_key || v.name == validator.name)
                {
                    return Err(invalid(format!(
                        "validator {} is already in the set",
                        validator.name
                    )));
                }
                // A p2p key names one node on the network: a second validator with it
                // would take over the first one's connections.
                if let Some(holder) = validators.iter().find(|v| v.p2p_key == validator.p2p_key) {
                    return Err(invalid(format!(
                        "validator {}'s p2p key is validator {}'s already",
                        validator.name, holder.name
                    )));
                }
                validators.push(validator.clone());
            }
            ValidatorChange::Remove { consensus_key } => {
                let before = validators.len();
                validators.retain(|v| &v.consensus_key != consensus_key);
                if validators.len() == before {
                    return Err(invalid(format!(
                        "validator {consensus_key} is not in the set"
                    )));
                }
            }
            ValidatorChange::SetPower {
                consensus_key,
                power,
            } => {
                let Some(validator) = validators
                    .iter_mut()
                    .find(|v| &v.consensus_key == consensus_key)
                else {
                    return Err(invalid(format!(
                        "validator {consensus_key} is not in the set"
                    )));
                };
                validator.power = *power;
            }
        }
    }
    if validators.is_empty() {
        return Err(invalid("the validator set would be empty"));
    }
    let set = ValidatorSet::new(
        validators
            .iter()
            .map(ValidatorSpec::to_validator)
            .collect::<Vec<Validator>>(),
        current.rule,
    )
    .map_err(|e| invalid(format!("the validator set would be invalid: {e}")))?;
    // Keep the record in the set's order (by consensus key).
    validators.sort_by_key(|v| v.consensus_key);
    debug_assert_eq!(set.len(), validators.len());
    Ok(ValidatorRecord {
        rule: current.rule,
        validators,
    })
}
