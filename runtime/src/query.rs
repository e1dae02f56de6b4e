//! Reads of the governance state, for RPC, tools and tests.

use accord_state::{Overlay, StateProof, StateStore, StateView};
use accord_types::governance::{ProposalDraft, Role, VoteChoice};
use accord_types::params::GovernanceParams;
use accord_types::{Hash, ProposalId, PublicKey, RegionId};
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::error::Result;
use crate::keys;
use crate::records::{
    BallotBox, ChainConfig, PendingValidators, ProposalState, RegionExecution, Tally,
    ValidatorRecord,
};

/// A proposal with everything known about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalView {
    /// Status and the fields transitions use.
    pub state: ProposalState,
    /// The draft as submitted.
    pub draft: ProposalDraft,
    /// Tallies per affected region.
    pub tallies: Vec<(RegionId, Tally)>,
    /// Execution per affected region (empty until execution starts).
    pub executions: Vec<(RegionId, RegionExecution)>,
}

/// An account's nonce and roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// The nonce its next transaction must carry.
    pub nonce: u64,
    /// Roles held.
    pub roles: Vec<Role>,
}

/// Read access to the runtime's state in a store.
pub struct Query<'a> {
    db: Db<'a>,
    view: StateView<'a>,
}

impl<'a> Query<'a> {
    /// Reads from `store`.
    pub fn new(store: &'a dyn StateStore) -> Self {
        Self {
            db: Db::new(Overlay::new(StateView::new(store))),
            view: StateView::new(store),
        }
    }

    /// The state root.
    pub fn state_root(&self) -> Result<Hash> {
        Ok(self.view.root()?)
    }

    /// A proof of the value under a key (see [`crate::keys`]) against [`Query::state_root`].
    pub fn prove(&self, key: &[u8]) -> Result<StateProof> {
        Ok(self.view.prove(key)?)
    }

    /// Chain id and regions.
    pub fn chain(&self) -> Result<ChainConfig> {
        self.db.chain()
    }

    /// Governance parameters in force.
    pub fn params(&self) -> Result<GovernanceParams> {
        self.db.params()
    }

    /// The current validator set.
    pub fn validators(&self) -> Result<ValidatorRecord> {
        self.db.validators()
    }

    /// A validator set scheduled to take effect, if any.
    pub fn pending_validators(&self) -> Result<Option<PendingValidators>> {
        self.db
            .get("pending validator set", &keys::pending_validators())
    }

    /// An account's nonce and roles.
    pub fn account(&self, account: &PublicKey) -> Result<AccountView> {
        Ok(AccountView {
            nonce: self.db.get("nonce", &keys::nonce(account))?.unwrap_or(0),
            roles: self.db.account(account)?.roles.into_iter().collect(),
        })
    }

    /// The id the next proposal will get.
    pub fn next_proposal_id(&self) -> Result<ProposalId> {
        Ok(ProposalId(
            self.db
                .get("next proposal id", &keys::next_proposal())?
                .unwrap_or(1),
        ))
    }

    /// A proposal's state alone.
    pub fn proposal_state(&self, id: ProposalId) -> Result<Option<ProposalState>> {
        self.db.get("proposal", &keys::proposal(id))
    }

    /// A proposal with its draft, tallies and executions.
    pub fn proposal(&self, id: ProposalId) -> Result<Option<ProposalView>> {
        let Some(state): Option<ProposalState> = self.db.get("proposal", &keys::proposal(id))?
        else {
            return Ok(None);
        };
        let draft = self.db.draft(id)?;
        let mut tallies = Vec::with_capacity(state.regions.len());
        let mut executions = Vec::new();
        for region in &state.regions {
            tallies.push((region.clone(), self.tally(id, region)?));
            if let Some(execution) = self.db.execution(id, region)? {
                executions.push((region.clone(), execution));
            }
        }
        Ok(Some(ProposalView {
            state,
            draft,
            tallies,
            executions,
        }))
    }

    /// Every proposal's state, by id, starting after `after` (exclusive), at most `limit`.
    pub fn proposals(&self, after: Option<ProposalId>, limit: usize) -> Result<Vec<ProposalState>> {
        let entries: Vec<(Vec<u8>, ProposalState)> = self
            .db
            .entries_under("proposal", &keys::proposals_prefix())?;
        Ok(entries
            .into_iter()
            .map(|(_, state)| state)
            .filter(|state| after.is_none_or(|after| state.id > after))
            .take(limit)
            .collect())
    }

    /// The tally of a proposal in a region.
    pub fn tally(&self, id: ProposalId, region: &RegionId) -> Result<Tally> {
        Ok(self
            .ballot_box(id, region)?
            .map(|b| b.tally)
            .unwrap_or_default())
    }

    /// Every ballot on a proposal in a region, by voter key, in key order.
    pub fn ballots(
        &self,
        id: ProposalId,
        region: &RegionId,
    ) -> Result<Vec<(PublicKey, VoteChoice)>> {
        let Some(ballots) = self.ballot_box(id, region)? else {
            return Ok(Vec::new());
        };
        let Some(epoch) = self
            .proposal_state(id)?
            .and_then(|state| state.snapshot(region).map(|s| s.epoch))
        else {
            return Ok(Vec::new());
        };
        let voters: Vec<PublicKey> = self
            .db
            .get("voter list", &keys::voter_list(region, epoch))?
            .unwrap_or_default();
        Ok(voters
            .iter()
            .zip(ballots.choices)
            .filter_map(|(voter, choice)| choice.map(|c| (*voter, c)))
            .collect())
    }

    /// The stored ballot box of a proposal in a region, if anyone voted.
    pub fn ballot_box(&self, id: ProposalId, region: &RegionId) -> Result<Option<BallotBox>> {
        self.db.get("ballot box", &keys::ballots(id, region))
    }

    /// The voter list of a region as of now.
    pub fn voters(&mut self, region: &RegionId) -> Result<Vec<PublicKey>> {
        let epoch = self.db.voter_epoch(region)?;
        Ok(self.db.voter_list(region, epoch)?.to_vec())
    }
}
