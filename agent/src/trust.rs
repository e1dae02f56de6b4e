//! The validator sets the agent trusts, by height, and the proofs checked against them.
//!
//! ```text
//!  chain spec ──► set from height 0 (genesis)
//!                   │
//!  ValidatorSetChangeScheduled{proposal P, effective_height E}   (event proven under the set of its height)
//!                   │ P's submission: the ProposalSubmitted event (proven) names its transaction
//!                   │ by hash in the receipt; the transaction with that hash holds P's draft,
//!                   │ whose validator updates apply to the latest set
//!                   ▼
//!                 set from height E ──► history {0: genesis, E: new, …}
//! ```
//!
//! Every event the agent acts on is fetched again with `gov_getEventProof` and checked
//! with [`accord_rpc::verify::verify_event_proof`] against the set of its height; the
//! proven event must equal the streamed one. State proofs are checked the same way
//! against the set of the header they come with.
//!
//! **Why the new set is derived, not read.** `gov_getStateProof` proves records
//! against the head only, and the `Validators` record holds a new set only from its
//! effective height on, where headers are already decided by that (not yet trusted)
//! set. The draft's updates, authenticated by the hash of the transaction that
//! submitted them, give the new set from what is already trusted; every header of the
//! new era then names it (`validator_set_hash`), so a wrong derivation cannot verify
//! anything. The updates apply as the runtime applies them to its scheduled set.
//!
//! A proof whose header names a set the agent does not know yet makes it catch up:
//! it reads the change events after the last one it adopted (`gov_getEvents`),
//! proves and adopts each in order, and checks again. The history is kept in the state
//! directory (`trust.json`), so a restart does not need the whole chain again.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

use accord_rpc::types::{
    EventFilter, EventPage, EventProof, StateProofView, StateTarget, TransactionStatus,
};
use accord_rpc::verify::{verify_event_proof, verify_state_proof, ProofError, Record};
use accord_runtime::ProposalView;
use accord_types::governance::{ProposalBody, ProposalDraft, ValidatorChange};
use accord_types::{
    ChainId, Event, EventCursor, Hash, Header, Height, Payload, ProposalId, QuorumRule, Receipt,
    ReceiptSource, Validator, ValidatorSet,
};
use serde::{Deserialize, Serialize};

use crate::durable;
use crate::error::{Error, Refusal, Result};

/// Largest trust store read.
const MAX_STORE_BYTES: u64 = 64 * 1024 * 1024;
/// Pages of the event log read per search before giving up for now.
const MAX_PAGES: usize = 1_000;
/// Events asked for per page.
const PAGE: u32 = 100;

/// What the agent reads from a node to check proofs: the typed RPC client implements
/// it ([`crate::node::Node`]); tests implement it over chains they build.
pub trait ProofSource: Sync {
    /// The node's URL, for errors.
    fn endpoint(&self) -> &str;
    /// `gov_getEventProof`.
    fn event_proof(&self, cursor: EventCursor) -> impl Future<Output = Result<EventProof>> + Send;
    /// `gov_getStateProof`.
    fn state_proof(
        &self,
        target: StateTarget,
    ) -> impl Future<Output = Result<StateProofView>> + Send;
    /// `gov_getEvents`.
    fn events(
        &self,
        filter: EventFilter,
        after: Option<EventCursor>,
        limit: u32,
    ) -> impl Future<Output = Result<EventPage>> + Send;
    /// `chain_getTransaction`.
    fn transaction(&self, hash: Hash) -> impl Future<Output = Result<TransactionStatus>> + Send;
    /// `gov_getProposal` (not proven: callers check what they use against proven digests).
    fn proposal(&self, id: ProposalId)
        -> impl Future<Output = Result<Option<ProposalView>>> + Send;
}

/// An event and the header of the block that emitted it, both proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    /// The event.
    pub event: Event,
    /// Its block's header.
    pub header: Header,
    /// The receipt holding it.
    pub receipt: Receipt,
}

/// The trust store's file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    chain_id: ChainId,
    last_change: Option<EventCursor>,
    scanned: Option<EventCursor>,
    sets: Vec<StoredSet>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredSet {
    from: Height,
    rule: QuorumRule,
    validators: Vec<Validator>,
}

/// The trusted validator sets by the first height each decides.
pub struct Trust {
    chain_id: ChainId,
    path: Option<PathBuf>,
    sets: BTreeMap<Height, ValidatorSet>,
    /// The last change event adopted.
    last_change: Option<EventCursor>,
    /// Every change event up to here has been adopted.
    scanned: Option<EventCursor>,
}

impl Trust {
    /// Trusts `genesis` from height 0, plus the history stored at `path` if any (without
    /// `path`, nothing is stored: dry runs). Blocking (reads one file).
    pub fn open(chain_id: ChainId, genesis: ValidatorSet, path: Option<PathBuf>) -> Result<Self> {
        let mut trust = Self {
            chain_id,
            path: path.clone(),
            sets: BTreeMap::from([(Height(0), genesis)]),
            last_change: None,
            scanned: None,
        };
        let Some(path) = path else {
            return Ok(trust);
        };
        let io = |source| Error::Io {
            what: "trust store",
            path: path.clone(),
            source,
        };
        let Some(bytes) = durable::read_blocking(&path, MAX_STORE_BYTES).map_err(io)? else {
            return Ok(trust);
        };
        let corrupt = |reason: String| Error::Corrupt {
            what: "trust store",
            path: path.clone(),
            reason,
        };
        let stored: Stored = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if stored.chain_id != trust.chain_id {
            return Err(corrupt(format!(
                "it is of chain {}, not {}",
                stored.chain_id, trust.chain_id
            )));
        }
        let mut sets = BTreeMap::new();
        for set in stored.sets {
            let validators = ValidatorSet::new(set.validators, set.rule)
                .map_err(|e| corrupt(format!("the set from height {}: {e}", set.from)))?;
            sets.insert(set.from, validators);
        }
        let genesis_hash = trust.sets.get(&Height(0)).map(ValidatorSet::hash);
        if sets.get(&Height(0)).map(ValidatorSet::hash) != genesis_hash {
            return Err(corrupt(
                "its genesis validator set is not the chain spec's; it belongs to another chain spec"
                    .into(),
            ));
        }
        trust.sets = sets;
        trust.last_change = stored.last_change;
        trust.scanned = stored.scanned;
        Ok(trust)
    }

    /// The chain.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// The set that decides `height`.
    pub fn set_at(&self, height: Height) -> Option<&ValidatorSet> {
        self.sets.range(..=height).next_back().map(|(_, set)| set)
    }

    /// Every set, by the first height it decides.
    pub fn history(&self) -> impl Iterator<Item = (Height, &ValidatorSet)> {
        self.sets.iter().map(|(h, s)| (*h, s))
    }

    /// Notes that the agent's event stream (which carries every change event) has been
    /// handled through `cursor`: no change up to it remains to adopt.
    pub fn note_scanned(&mut self, cursor: EventCursor) {
        if self.scanned.is_none_or(|s| s < cursor) {
            self.scanned = Some(cursor);
        }
    }

    /// Proves the event at `cursor` and checks it is `streamed`.
    pub async fn verify_event<S: ProofSource>(
        &mut self,
        source: &S,
        cursor: EventCursor,
        streamed: &Event,
    ) -> Result<Proven> {
        let what = format!("event {cursor}");
        let proof = source.event_proof(cursor).await?;
        check_cursor(source, &what, &proof, cursor)?;
        let chain_id = self.chain_id.clone();
        let event = self
            .checked(source, &what, cursor.height, |set| {
                verify_event_proof(&proof, &chain_id, set)
            })
            .await?;
        if &event != streamed {
            return Err(refused(
                source,
                &what,
                Refusal::mismatch(cursor, streamed, &event),
            ));
        }
        Ok(Proven {
            event,
            header: proof.header,
            receipt: proof.receipt,
        })
    }

    /// Proves a state record against the node's head.
    pub async fn verify_state<S: ProofSource>(
        &mut self,
        source: &S,
        target: StateTarget,
    ) -> Result<(Record, Header)> {
        let what = format!("state proof of {}", describe(&target));
        let view = source.state_proof(target.clone()).await?;
        if view.target != target {
            return Err(refused(
                source,
                &what,
                Refusal::WrongTarget {
                    asked: describe(&target),
                    found: describe(&view.target),
                },
            ));
        }
        let chain_id = self.chain_id.clone();
        let record = self
            .checked(source, &what, view.header.height, |set| {
                verify_state_proof(&view, &chain_id, set)
            })
            .await?;
        Ok((record, view.header))
    }

    /// Adopts the change a proven `ValidatorSetChangeScheduled` event at `cursor` announces
    /// (nothing when it was adopted already).
    pub async fn adopt_change<S: ProofSource>(
        &mut self,
        source: &S,
        cursor: EventCursor,
        proposal: ProposalId,
        effective_height: Height,
    ) -> Result<()> {
        if self.last_change.is_some_and(|c| cursor <= c) {
            return Ok(());
        }
        let draft = self.submitted_draft(source, proposal).await?;
        let updates = match &draft.body {
            ProposalBody::InfrastructureChange(change) if !change.validator_updates.is_empty() => {
                &change.validator_updates
            }
            _ => {
                return Err(Error::Trust {
                    reason: format!(
                        "proposal #{} scheduled a validator-set change at {cursor}, but its proven draft holds no validator updates",
                        proposal.0
                    ),
                })
            }
        };
        let Some((latest_from, latest)) = self.sets.iter().next_back() else {
            return Err(Error::Trust {
                reason: "no validator set is trusted".into(),
            });
        };
        if effective_height < *latest_from {
            return Err(Error::Trust {
                reason: format!(
                    "the change at {cursor} takes effect at height {effective_height}, before the set already adopted from height {latest_from}"
                ),
            });
        }
        let next = apply_updates(latest, updates).map_err(|reason| Error::Trust {
            reason: format!(
                "the validator updates of proposal #{} do not apply to the trusted set: {reason}",
                proposal.0
            ),
        })?;
        tracing::info!(
            target: "accord::agent::trust",
            proposal = proposal.0,
            effective_height = effective_height.0,
            set = %next.hash(),
            validators = next.len(),
            "adopting a new validator set"
        );
        self.sets.insert(effective_height, next);
        self.last_change = Some(cursor);
        self.note_scanned(cursor);
        self.save().await
    }

    /// Writes the history to the trust store.
    pub async fn save(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let stored = Stored {
            chain_id: self.chain_id.clone(),
            last_change: self.last_change,
            scanned: self.scanned,
            sets: self
                .sets
                .iter()
                .map(|(from, set)| StoredSet {
                    from: *from,
                    rule: set.rule(),
                    validators: set.validators().to_vec(),
                })
                .collect(),
        };
        durable::write_json("trust store", path, &stored).await
    }

    /// Runs `check` with the set of `height`; when the proof names a set the agent does
    /// not know, catches up with the chain's validator-set changes and checks again.
    async fn checked<S: ProofSource, T>(
        &mut self,
        source: &S,
        what: &str,
        height: Height,
        check: impl Fn(&ValidatorSet) -> Result<T, ProofError>,
    ) -> Result<T> {
        let mut caught_up = false;
        loop {
            let Some(set) = self.set_at(height) else {
                return Err(refused(source, what, Refusal::NoValidatorSet { height }));
            };
            match check(set) {
                Ok(value) => return Ok(value),
                Err(ProofError::ValidatorSet { .. }) if !caught_up => {
                    caught_up = true;
                    if !self.catch_up(source).await? {
                        // Nothing new: check once more for the exact error.
                        continue;
                    }
                }
                Err(error) => return Err(refused(source, what, Refusal::Proof(error))),
            }
        }
    }

    /// Plain verification of an event proof, without catching up.
    fn prove_event(
        &self,
        source: &impl ProofSource,
        proof: &EventProof,
        cursor: EventCursor,
    ) -> Result<Event> {
        let what = format!("event {cursor}");
        check_cursor(source, &what, proof, cursor)?;
        let set = self.set_at(cursor.height).ok_or_else(|| {
            refused(
                source,
                &what,
                Refusal::NoValidatorSet {
                    height: cursor.height,
                },
            )
        })?;
        verify_event_proof(proof, &self.chain_id, set)
            .map_err(|e| refused(source, &what, Refusal::Proof(e)))
    }

    /// Reads, proves and adopts the change events after the last one adopted.
    /// Returns whether a new set was adopted.
    async fn catch_up<S: ProofSource>(&mut self, source: &S) -> Result<bool> {
        let filter = EventFilter {
            types: Some(vec!["validator_set_change_scheduled".into()]),
            ..EventFilter::default()
        };
        let mut after = self.scanned.max(self.last_change);
        let mut adopted = false;
        for _ in 0..MAX_PAGES {
            let page = source.events(filter.clone(), after, PAGE).await?;
            for view in &page.events {
                if after.is_some_and(|a| view.cursor <= a) {
                    continue;
                }
                let Event::ValidatorSetChangeScheduled {
                    proposal,
                    effective_height,
                } = view.event
                else {
                    return Err(refused(
                        source,
                        "the validator-set changes",
                        Refusal::WrongTarget {
                            asked: "validator_set_change_scheduled events".into(),
                            found: format!("{:?} at {}", view.event, view.cursor),
                        },
                    ));
                };
                let proof = source.event_proof(view.cursor).await?;
                let event = self.prove_event(source, &proof, view.cursor)?;
                if event != view.event {
                    return Err(refused(
                        source,
                        &format!("event {}", view.cursor),
                        Refusal::mismatch(view.cursor, &view.event, &event),
                    ));
                }
                self.adopt_change(source, view.cursor, proposal, effective_height)
                    .await?;
                adopted = true;
            }
            if let Some(next) = page.next {
                if after.is_some_and(|a| next <= a) {
                    break;
                }
                after = Some(next);
            }
            if page.complete || page.next.is_none() {
                break;
            }
        }
        if let Some(after) = after {
            self.note_scanned(after);
        }
        Ok(adopted)
    }

    /// The draft of a proposal, authenticated: its `ProposalSubmitted` event is proven,
    /// the receipt names the submitting transaction by hash, and the transaction read
    /// back must have that hash.
    async fn submitted_draft<S: ProofSource>(
        &self,
        source: &S,
        proposal: ProposalId,
    ) -> Result<ProposalDraft> {
        let what = format!("the submission of proposal #{}", proposal.0);
        let hint = source
            .proposal(proposal)
            .await?
            .and_then(|view| view.state.submitted_at.checked_prev())
            .map(|height| EventCursor {
                height,
                receipt: u32::MAX,
                event: u32::MAX,
            });
        let filter = EventFilter {
            types: Some(vec!["proposal_submitted".into()]),
            proposals: Some(vec![proposal]),
            ..EventFilter::default()
        };
        let mut starts = vec![hint];
        if hint.is_some() {
            starts.push(None);
        }
        let mut found = None;
        'search: for start in starts {
            let mut after = start;
            for _ in 0..MAX_PAGES {
                let page = source.events(filter.clone(), after, 1).await?;
                if let Some(view) = page.events.into_iter().next() {
                    found = Some(view);
                    break 'search;
                }
                match page.next {
                    Some(next) if !page.complete && after.is_none_or(|a| a < next) => {
                        after = Some(next);
                    }
                    _ => break,
                }
            }
        }
        let Some(view) = found else {
            return Err(refused(
                source,
                &what,
                Refusal::Inconsistent {
                    reason: format!(
                        "a validator-set change of proposal #{} is proven, but the node shows no submission of it",
                        proposal.0
                    ),
                },
            ));
        };
        let proof = source.event_proof(view.cursor).await?;
        let event = self.prove_event(source, &proof, view.cursor)?;
        if !matches!(event, Event::ProposalSubmitted { proposal: p, .. } if p == proposal) {
            return Err(refused(
                source,
                &what,
                Refusal::WrongTarget {
                    asked: format!("the ProposalSubmitted event of #{}", proposal.0),
                    found: format!("{event:?}"),
                },
            ));
        }
        let ReceiptSource::Transaction { hash } = proof.receipt.source else {
            return Err(refused(
                source,
                &what,
                Refusal::Inconsistent {
                    reason: "the submission's receipt is not a transaction's".into(),
                },
            ));
        };
        let inconsistent =
            |reason: String| refused(source, &what, Refusal::Inconsistent { reason });
        let TransactionStatus::Finalized { transaction, .. } = source.transaction(hash).await?
        else {
            return Err(inconsistent(format!(
                "the node does not return the finalized transaction {hash} its receipt names"
            )));
        };
        if transaction.hash() != hash {
            return Err(inconsistent(format!(
                "the transaction returned for {hash} hashes to {}",
                transaction.hash()
            )));
        }
        match transaction.payload {
            Payload::SubmitProposal { draft } => Ok(*draft),
            _ => Err(inconsistent(format!(
                "transaction {hash} does not submit a proposal"
            ))),
        }
    }
}

fn refused(source: &impl ProofSource, what: &str, refusal: Refusal) -> Error {
    Error::Refused {
        endpoint: source.endpoint().to_owned(),
        what: what.to_owned(),
        refusal,
    }
}

/// Refuses a proof of another event than the one asked for.
fn check_cursor(
    source: &impl ProofSource,
    what: &str,
    proof: &EventProof,
    cursor: EventCursor,
) -> Result<()> {
    if proof.cursor == cursor {
        return Ok(());
    }
    Err(refused(
        source,
        what,
        Refusal::WrongTarget {
            asked: format!("event {cursor}"),
            found: format!("event {}", proof.cursor),
        },
    ))
}

fn describe(target: &StateTarget) -> String {
    match target {
        StateTarget::Proposal { id } => format!("proposal #{}", id.0),
        StateTarget::Account { key } => format!("account {key}"),
        StateTarget::Nonce { key } => format!("the nonce of {key}"),
        StateTarget::Params => "the governance parameters".into(),
        StateTarget::Validators => "the validator set".into(),
    }
}

/// Applies validator updates to a set, by the rules the runtime applies them to its
/// scheduled set: an added validator must be new by key and name, a removed or
/// re-powered one must exist, and the result must be a valid set under the same rule.
pub fn apply_updates(
    base: &ValidatorSet,
    updates: &[ValidatorChange],
) -> Result<ValidatorSet, String> {
    let mut validators: Vec<Validator> = base.validators().to_vec();
    for update in updates {
        match update {
            ValidatorChange::Add { validator } => {
                if validators
                    .iter()
                    .any(|v| v.key == validator.consensus_key || v.name == validator.name)
                {
                    return Err(format!(
                        "validator {} is already in the set",
                        validator.name
                    ));
                }
                validators.push(validator.to_validator());
            }
            ValidatorChange::Remove { consensus_key } => {
                let before = validators.len();
                validators.retain(|v| &v.key != consensus_key);
                if validators.len() == before {
                    return Err(format!("validator {consensus_key} is not in the set"));
                }
            }
            ValidatorChange::SetPower {
                consensus_key,
                power,
            } => {
                let Some(validator) = validators.iter_mut().find(|v| &v.key == consensus_key)
                else {
                    return Err(format!("validator {consensus_key} is not in the set"));
                };
                validator.power = *power;
            }
        }
    }
    ValidatorSet::new(validators, base.rule()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
