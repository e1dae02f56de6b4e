//! What "the same target" means for time to restore, and the phases a body runs in.

use accord_types::governance::ProposalBody;
use accord_types::{Domain, Hash, ProposalId};
use std::collections::BTreeSet;

const TARGET_DOMAIN: Domain = Domain::new("accord/delivery-target");

/// The target of a proposal as text: what "the same target" means for time to restore.
pub fn target(body: &ProposalBody) -> String {
    match body {
        ProposalBody::PipelineAction(action) => {
            format!("pipeline/{}@{}", action.pipeline, action.environment)
        }
        ProposalBody::InfrastructureChange(change) => {
            let resources: BTreeSet<&str> = change.resources.iter().map(String::as_str).collect();
            let joined = resources.into_iter().collect::<Vec<_>>().join(",");
            format!("infrastructure/{joined}")
        }
        ProposalBody::DocumentationChange(doc) => format!("document/{}", doc.path),
        ProposalBody::RoadmapChange(change) => format!("roadmap/{}", change.item),
        ProposalBody::GovernanceChange(_) => "governance".to_owned(),
    }
}

/// The target's fixed-size identity (a hash of [`target`]).
pub fn target_id(body: &ProposalBody) -> Hash {
    Hash::digest(TARGET_DOMAIN, target(body).as_bytes())
}

/// The target of a proposal known only by its id (its submission body unknown: no
/// valid block has such a proposal): its own target.
pub(super) fn own_target(id: ProposalId) -> Hash {
    Hash::digest(TARGET_DOMAIN, format!("proposal/{}", id.0).as_bytes())
}

/// Execution phases of a body, as the runtime counts them.
pub(super) fn phases(body: &ProposalBody) -> u16 {
    match body {
        ProposalBody::PipelineAction(action) => {
            u16::try_from(action.phases.len().max(1)).unwrap_or(u16::MAX)
        }
        _ => 1,
    }
}
