//! The driver: checks and records inputs, works out which of the paper's conditions
//! hold, feeds them to the [state machine](crate::state_machine), and turns its
//! actions into [`Output`]s.
//!
//! ```text
//!  Input ──► check (height, membership, proposer, signature) ──► record
//!              │ early (next height): bounded buffer, requeued at StartHeight
//!              ▼
//!   VoteKeeper / proposals / verdicts ──► next_event (L49, L22, L28, L36, L44, L34, L47, L55)
//!                                              │ until nothing holds
//!                                              ▼
//!                        state_machine::apply ──► Action ──► sign / schedule / decide ──► Output
//! ```

use std::collections::{BTreeMap, BTreeSet};

use accord_types::params::{ConsensusParams, TimeoutParams};
use accord_types::validator::PowerTally;
use accord_types::{
    ChainId, CommitCertificate, CommitSignature, ConsensusProposal, Hash, Height, Keypair,
    PublicKey, QuorumRule, Round, Signature, ValidatorSet, Vote, VoteType,
};

use crate::error::{Error, Result};
use crate::input::{
    CommittedBlock, Decision, Input, Message, Output, SignatureCheck, TimeoutStep, Validity,
};
use crate::proposer::ProposerSchedule;
use crate::state_machine::{self, Action, Event, Role, RoundState, Step};
use crate::vote_keeper::{Added, VoteKeeper, MAX_FUTURE_ROUNDS};

/// Messages of the next height kept per validator until that height starts.
pub const MAX_EARLY_PER_VALIDATOR: usize = 8;

/// Events applied for one input at most; far more than any input can enable, so
/// reaching it would mean a bug, and the engine then simply waits for the next input.
const MAX_EVENTS_PER_INPUT: usize = 1024;

/// What an engine is configured with.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The chain; part of everything signed.
    pub chain_id: ChainId,
    /// Timeouts and the quorum rule, from the chain spec.
    pub params: ConsensusParams,
    /// The validator's signing key; `None` for an observer that follows and decides
    /// but never signs.
    pub keypair: Option<Keypair>,
}

/// Which conditions have fired in the current round ("for the first time" in the paper).
#[derive(Debug, Clone, Copy, Default)]
struct RoundFlags {
    /// L34.
    polka_any: bool,
    /// L36.
    polka_current: bool,
    /// L47.
    precommit_any: bool,
}

/// Everything the engine knows about the height it is deciding.
#[derive(Debug, Clone)]
struct HeightState {
    validators: ValidatorSet,
    schedule: ProposerSchedule,
    state: RoundState,
    votes: VoteKeeper,
    proposals: BTreeMap<Round, ConsensusProposal>,
    /// Each proposer's rounds above the current one that hold its proposals.
    future_proposals: BTreeMap<PublicKey, BTreeSet<Round>>,
    conflicts_reported: BTreeSet<Round>,
    verdicts: BTreeMap<Hash, Validity>,
    requested: BTreeSet<Hash>,
    awaiting_value: Option<Round>,
    flags: RoundFlags,
    /// A certificate received with [`Input::Commit`].
    certified: Option<CommitCertificate>,
}

/// Messages of the next height, kept (bounded) until it starts.
#[derive(Debug, Clone, Default)]
struct EarlyBuffer {
    height: Option<Height>,
    by_signer: BTreeMap<PublicKey, Vec<Message>>,
}

impl EarlyBuffer {
    fn len(&self) -> usize {
        self.by_signer.values().map(Vec::len).sum()
    }
}

/// A Tendermint engine for one validator (or observer): a deterministic function from
/// its sequence of [`Input`]s to [`Output`]s.
#[derive(Debug, Clone)]
pub struct Engine {
    chain_id: ChainId,
    timeouts: TimeoutParams,
    rule: QuorumRule,
    keypair: Option<Keypair>,
    key: Option<PublicKey>,
    current: Option<HeightState>,
    early: EarlyBuffer,
}

impl Engine {
    /// A new engine; it does nothing until [`Input::StartHeight`].
    pub fn new(config: EngineConfig) -> Self {
        let rule = if config.params.regional_quorum {
            QuorumRule::Regional
        } else {
            QuorumRule::Global
        };
        Self {
            chain_id: config.chain_id,
            timeouts: config.params.timeouts,
            rule,
            key: config.keypair.as_ref().map(Keypair::public),
            keypair: config.keypair,
            current: None,
            early: EarlyBuffer::default(),
        }
    }

    /// Processes one input. On `Err` the input was refused and nothing changed.
    pub fn process(&mut self, input: Input) -> Result<Vec<Output>> {
        let mut out = Vec::new();
        match input {
            Input::StartHeight {
                height,
                validators,
                history,
            } => self.start_height(height, validators, &history, &mut out)?,
            Input::Proposal { proposal, check } => self.on_proposal(proposal, check, &mut out)?,
            Input::Vote { vote, check } => self.on_vote(vote, check, &mut out)?,
            Input::Commit { certificate, check } => {
                self.on_commit(certificate, check, &mut out)?;
            }
            Input::ProposeValue {
                height,
                round,
                block_hash,
            } => self.on_value(height, round, block_hash, &mut out),
            Input::Validity {
                height,
                block_hash,
                verdict,
            } => self.on_validity(height, block_hash, verdict),
            Input::TimeoutElapsed {
                height,
                round,
                step,
            } => self.on_timeout(height, round, step, &mut out),
        }
        self.advance(&mut out);
        Ok(out)
    }

    // ---- queries -------------------------------------------------------------------

    /// This engine's validator key, if it has one.
    pub fn public_key(&self) -> Option<&PublicKey> {
        self.key.as_ref()
    }

    /// The height being decided (or just decided), once started.
    pub fn height(&self) -> Option<Height> {
        self.current.as_ref().map(|h| h.state.height)
    }

    /// The round state of the current height.
    pub fn state(&self) -> Option<&RoundState> {
        self.current.as_ref().map(|h| &h.state)
    }

    /// The validator set of the current height.
    pub fn validators(&self) -> Option<&ValidatorSet> {
        self.current.as_ref().map(|h| &h.validators)
    }

    /// The proposer of `round` at the current height.
    pub fn proposer(&self, round: Round) -> Option<PublicKey> {
        let h = self.current.as_ref()?;
        h.schedule.proposer(&h.validators, round)
    }

    /// Validators that proposer selection treats as absent at the current height.
    pub fn absent(&self) -> Option<&BTreeSet<PublicKey>> {
        self.current.as_ref().map(|h| h.schedule.absent())
    }

    /// The vote of `validator` counted for (`height`, `round`, `vote_type`), if any.
    pub fn vote(
        &self,
        height: Height,
        round: Round,
        vote_type: VoteType,
        validator: &PublicKey,
    ) -> Option<&Vote> {
        let h = self.current.as_ref().filter(|h| h.state.height == height)?;
        h.votes.vote(round, vote_type, validator)
    }

    /// The proposal kept for (`height`, `round`), if any.
    pub fn proposal(&self, height: Height, round: Round) -> Option<&ConsensusProposal> {
        let h = self.current.as_ref().filter(|h| h.state.height == height)?;
        h.proposals.get(&round)
    }

    /// The certificate of the current height's decision, with every matching
    /// precommit received so far (the decision's own certificate plus late arrivals).
    /// The node stores this one with the block, and puts it in the next block as
    /// `last_commit`, after the commit pause (`TimeoutParams::commit_ms`).
    pub fn certificate(&self) -> Option<CommitCertificate> {
        let h = self.current.as_ref()?;
        let decided = h.state.decision?;
        Some(h.certificate(decided.round, decided.value))
    }

    /// How many votes, proposals and early messages the engine holds.
    pub fn stored_messages(&self) -> usize {
        let current = self
            .current
            .as_ref()
            .map_or(0, |h| h.votes.len() + h.proposals.len());
        current + self.early.len()
    }

    // ---- inputs --------------------------------------------------------------------

    fn start_height(
        &mut self,
        height: Height,
        validators: ValidatorSet,
        history: &[CommittedBlock],
        out: &mut Vec<Output>,
    ) -> Result<()> {
        if let Some(current) = self.height() {
            if height <= current {
                return Err(Error::HeightNotIncreasing { height, current });
            }
        }
        if validators.rule() != self.rule {
            return Err(Error::QuorumRuleMismatch {
                expected: self.rule,
                found: validators.rule(),
            });
        }
        let schedule = ProposerSchedule::new(&validators, height, history)?;
        let early = std::mem::take(&mut self.early);
        self.current = Some(HeightState {
            validators,
            schedule,
            state: RoundState::new(height),
            votes: VoteKeeper::new(height),
            proposals: BTreeMap::new(),
            future_proposals: BTreeMap::new(),
            conflicts_reported: BTreeSet::new(),
            verdicts: BTreeMap::new(),
            requested: BTreeSet::new(),
            awaiting_value: None,
            flags: RoundFlags::default(),
            certified: None,
        });
        self.start_round(Round(0), out);
        if early.height == Some(height) {
            out.extend(early.by_signer.into_values().flatten().map(Output::Requeue));
        }
        Ok(())
    }

    fn check_signature(&self, message: &Message, check: SignatureCheck) -> Result<()> {
        if check == SignatureCheck::Verified {
            return Ok(());
        }
        let (what, result) = match message {
            Message::Proposal(p) => ("proposal", p.verify(&self.chain_id)),
            Message::Vote(v) => ("vote", v.verify(&self.chain_id)),
        };
        result.map_err(|source| Error::InvalidSignature {
            what,
            signer: *message.signer(),
            source,
        })
    }

    /// Keeps a message of the next height until it starts. Only members of the current
    /// set are kept (the next set is not known yet; a newcomer's early messages are
    /// dropped and replaced by its rebroadcasts), at most
    /// [`MAX_EARLY_PER_VALIDATOR`] each.
    fn keep_early(&mut self, message: Message, check: SignatureCheck) -> Result<()> {
        let Some(current) = &self.current else {
            return Err(Error::NotStarted);
        };
        if current.validators.get(message.signer()).is_none() {
            return Ok(());
        }
        let signer = *message.signer();
        let kept = self.early.by_signer.get(&signer);
        if kept.is_some_and(|k| k.len() >= MAX_EARLY_PER_VALIDATOR || k.contains(&message)) {
            return Ok(());
        }
        self.check_signature(&message, check)?;
        if self.early.height != Some(message.height()) {
            self.early = EarlyBuffer {
                height: Some(message.height()),
                by_signer: BTreeMap::new(),
            };
        }
        self.early
            .by_signer
            .entry(signer)
            .or_default()
            .push(message);
        Ok(())
    }

    fn on_proposal(
        &mut self,
        proposal: ConsensusProposal,
        check: SignatureCheck,
        out: &mut Vec<Output>,
    ) -> Result<()> {
        let Some(h) = &self.current else {
            return Err(Error::NotStarted);
        };
        let height = h.state.height;
        if proposal.height != height {
            if Some(proposal.height) == height.checked_next() {
                return self.keep_early(Message::Proposal(proposal), check);
            }
            return Ok(()); // a past height, or too far ahead to keep
        }
        let round = proposal.round;
        if h.validators.get(&proposal.proposer).is_none() {
            return Err(Error::UnknownValidator {
                height,
                signer: proposal.proposer,
            });
        }
        if let Some(valid_round) = proposal.valid_round.filter(|vr| *vr >= round) {
            return Err(Error::InvalidValidRound {
                height,
                round,
                valid_round,
            });
        }
        let expected = h.schedule.proposer(&h.validators, round);
        if expected != Some(proposal.proposer) {
            return Err(Error::WrongProposer {
                height,
                round,
                expected: expected.unwrap_or(proposal.proposer),
                found: proposal.proposer,
            });
        }
        if let Some(existing) = h.proposals.get(&round) {
            if existing == &proposal {
                return Ok(());
            }
            self.check_signature(&Message::Proposal(proposal.clone()), check)?;
            if let Some(h) = &mut self.current {
                if h.conflicts_reported.insert(round) {
                    if let Some(first) = h.proposals.get(&round) {
                        out.push(Output::ConflictingProposals {
                            first: first.clone(),
                            second: proposal,
                        });
                    }
                }
            }
            return Ok(());
        }
        if h.state.step == Step::Commit {
            return Ok(());
        }
        self.check_signature(&Message::Proposal(proposal.clone()), check)?;
        let Some(h) = &mut self.current else {
            return Ok(());
        };
        if round > h.state.round {
            let rounds = h.future_proposals.entry(proposal.proposer).or_default();
            rounds.insert(round);
            if rounds.len() > MAX_FUTURE_ROUNDS {
                match rounds.pop_first() {
                    Some(lowest) if lowest == round => return Ok(()),
                    Some(lowest) => {
                        h.proposals.remove(&lowest);
                    }
                    None => {}
                }
            }
        }
        let hash = proposal.block_hash;
        h.proposals.insert(round, proposal);
        Self::request_validation(h, round, hash, out);
        Ok(())
    }

    fn on_vote(&mut self, vote: Vote, check: SignatureCheck, out: &mut Vec<Output>) -> Result<()> {
        let Some(h) = &self.current else {
            return Err(Error::NotStarted);
        };
        let height = h.state.height;
        if vote.height != height {
            if Some(vote.height) == height.checked_next() {
                return self.keep_early(Message::Vote(vote), check);
            }
            return Ok(());
        }
        let Some(validator) = h.validators.get(&vote.validator) else {
            return Err(Error::UnknownValidator {
                height,
                signer: vote.validator,
            });
        };
        if h.votes.vote(vote.round, vote.vote_type, &vote.validator) == Some(&vote) {
            return Ok(());
        }
        let validator = validator.clone();
        self.check_signature(&Message::Vote(vote.clone()), check)?;
        let Some(h) = &mut self.current else {
            return Ok(());
        };
        let (round, vote_type, value) = (vote.round, vote.vote_type, vote.block_hash);
        let counted = match h.votes.add(vote, &validator, &h.validators) {
            Added::Counted => true,
            Added::Conflicting { evidence, counted } => {
                out.extend(evidence.map(|e| Output::Evidence(*e)));
                counted
            }
            Added::Duplicate | Added::Dropped => false,
        };
        // A polka or a commit quorum for a block we have not seen proposed: L36 and
        // L49 need its validity.
        if let Some(hash) = value.filter(|_| counted) {
            if h.votes
                .is_quorum_for(&h.validators, round, vote_type, value)
            {
                Self::request_validation(h, round, hash, out);
            }
        }
        Ok(())
    }

    fn on_commit(
        &mut self,
        certificate: CommitCertificate,
        check: SignatureCheck,
        out: &mut Vec<Output>,
    ) -> Result<()> {
        let Some(h) = &self.current else {
            return Err(Error::NotStarted);
        };
        if certificate.height != h.state.height
            || h.state.step == Step::Commit
            || h.certified.is_some()
        {
            return Ok(());
        }
        let verified = match check {
            SignatureCheck::Required => certificate.verify(&self.chain_id, &h.validators),
            SignatureCheck::Verified => check_signers(&certificate, &h.validators),
        };
        verified.map_err(|source| Error::InvalidCertificate {
            height: certificate.height,
            source,
        })?;
        let Some(h) = &mut self.current else {
            return Ok(());
        };
        let (round, hash) = (certificate.round, certificate.block_hash);
        h.certified = Some(certificate);
        Self::request_validation(h, round, hash, out);
        Ok(())
    }

    fn on_value(&mut self, height: Height, round: Round, value: Hash, out: &mut Vec<Output>) {
        let Some(h) = &mut self.current else {
            return;
        };
        let expected = h.state.height == height
            && h.state.round == round
            && h.state.step == Step::Propose
            && h.awaiting_value == Some(round);
        if !expected {
            return; // late: the round has moved on
        }
        h.awaiting_value = None;
        // A value we built ourselves needs no validation.
        h.verdicts.insert(value, Validity::Valid);
        self.apply(Event::ProposeValue { value }, out);
    }

    fn on_validity(&mut self, height: Height, block_hash: Hash, verdict: Validity) {
        let Some(h) = &mut self.current else {
            return;
        };
        if h.state.height == height && h.requested.contains(&block_hash) {
            // The first verdict stands.
            h.verdicts.entry(block_hash).or_insert(verdict);
        }
    }

    fn on_timeout(
        &mut self,
        height: Height,
        round: Round,
        step: TimeoutStep,
        out: &mut Vec<Output>,
    ) {
        if self.height() != Some(height) {
            return;
        }
        let event = match step {
            TimeoutStep::Propose => Event::TimeoutPropose { round },
            TimeoutStep::Prevote => Event::TimeoutPrevote { round },
            TimeoutStep::Precommit => Event::TimeoutPrecommit { round },
            TimeoutStep::Rebroadcast => {
                self.rebroadcast(round, out);
                return;
            }
        };
        self.apply(event, out);
    }

    /// A round that makes no progress re-sends what lets every validator catch up with
    /// it: our proposal of the round (with the polka behind it), every vote of the
    /// round (enough, once f + 1 validators are here, for a lagging validator to skip
    /// ahead, L55) and the precommits of the previous round (enough, when they form a
    /// quorum, for a validator still there to time out and move on, L47 and L65). Our
    /// own messages go out as [`Output::Broadcast`], others' as [`Output::Relay`].
    /// Then the timer is re-armed.
    fn rebroadcast(&mut self, round: Round, out: &mut Vec<Output>) {
        let Some(h) = &self.current else {
            return;
        };
        let live = matches!(
            h.state.step,
            Step::Propose | Step::Prevote | Step::Precommit
        );
        if h.state.round != round || !live {
            return;
        }
        let key = self.key.as_ref();
        let own = |signer: &PublicKey, message: Message| send(key, signer, message);
        if let Some(p) = h.proposals.get(&round) {
            out.push(own(&p.proposer, Message::Proposal(p.clone())));
            h.relay_polka(p, key, out);
        }
        for vote_type in [VoteType::Prevote, VoteType::Precommit] {
            out.extend(
                h.votes
                    .votes(round, vote_type)
                    .map(|v| own(&v.validator, Message::Vote(v.clone()))),
            );
        }
        if let Some(previous) = round.get().checked_sub(1).map(Round) {
            out.extend(
                h.votes
                    .votes(previous, VoteType::Precommit)
                    .map(|v| own(&v.validator, Message::Vote(v.clone()))),
            );
        }
        self.schedule(TimeoutStep::Rebroadcast, out);
    }

    // ---- the rules -----------------------------------------------------------------

    /// Applies events until no condition of the paper holds any more.
    fn advance(&mut self, out: &mut Vec<Output>) {
        for _ in 0..MAX_EVENTS_PER_INPUT {
            let Some(event) = self.next_event() else {
                return;
            };
            self.apply(event, out);
        }
    }

    /// The first condition that holds, in the paper's order of precedence: a decision
    /// first, then the current round's rules, then a round skip.
    fn next_event(&mut self) -> Option<Event> {
        let h = self.current.as_mut()?;
        if matches!(h.state.step, Step::Unstarted | Step::Commit) {
            return None;
        }
        let validators = &h.validators;
        let votes = &h.votes;

        // L49: a quorum of precommits for a value known to be valid, in any round.
        // (The paper also asks for the round's proposal, whose only role is to carry `v`;
        // here blocks travel apart from proposals and are checked by hash.)
        let certified = h.certified.as_ref().map(|c| (c.round, c.block_hash));
        let decided = votes
            .commit_quorums(validators)
            .chain(certified)
            .find(|(_, hash)| h.verdicts.get(hash) == Some(&Validity::Valid));
        if let Some((round, value)) = decided {
            return Some(Event::ProposalAndPrecommitValue { round, value });
        }

        let round = h.state.round;
        let step = h.state.step;
        if step == Step::Propose {
            if let Some(p) = h.proposals.get(&round) {
                let value = p.block_hash;
                match (p.valid_round, h.verdicts.get(&value).copied()) {
                    // L22: a fresh proposal, once its validity is known.
                    (None, Some(validity)) => return Some(Event::Proposal { value, validity }),
                    // L28: a re-proposal with a polka for it in its valid round.
                    (Some(valid_round), Some(validity))
                        if votes.is_quorum_for(
                            validators,
                            valid_round,
                            VoteType::Prevote,
                            Some(value),
                        ) =>
                    {
                        return Some(Event::ProposalAndPolkaPrevious {
                            value,
                            valid_round,
                            validity,
                        });
                    }
                    _ => {}
                }
            }
        }
        // L36: a polka for a valid value in this round, for the first time. (As for L49,
        // the value's proposal is not required: the prevotes name it, the node fetches
        // and checks it by hash.)
        if matches!(step, Step::Prevote | Step::Precommit) && !h.flags.polka_current {
            let polka = votes
                .polka_values(validators, round)
                .find(|hash| h.verdicts.get(hash) == Some(&Validity::Valid));
            if let Some(value) = polka {
                h.flags.polka_current = true;
                return Some(Event::ProposalAndPolkaCurrent { value });
            }
        }
        // L44: a polka for nil.
        if step == Step::Prevote && votes.is_quorum_for(validators, round, VoteType::Prevote, None)
        {
            return Some(Event::PolkaNil);
        }
        // L34: a quorum of any prevotes, for the first time.
        if step == Step::Prevote
            && !h.flags.polka_any
            && votes.is_quorum_any(validators, round, VoteType::Prevote)
        {
            h.flags.polka_any = true;
            return Some(Event::PolkaAny);
        }
        // L47: a quorum of any precommits, for the first time.
        if !h.flags.precommit_any && votes.is_quorum_any(validators, round, VoteType::Precommit) {
            h.flags.precommit_any = true;
            return Some(Event::PrecommitAny);
        }
        // L55: f + 1 validators in a later round.
        votes
            .skip_target(validators, round)
            .map(|round| Event::SkipRound { round })
    }

    /// Feeds one event to the state machine and carries out its action.
    fn apply(&mut self, event: Event, out: &mut Vec<Output>) {
        let Some(h) = &mut self.current else {
            return;
        };
        let Some(action) = state_machine::apply(&mut h.state, event) else {
            return;
        };
        let (height, round) = (h.state.height, h.state.round);
        match action {
            Action::Propose { value, valid_round } => {
                let Some(keypair) = self.signing_key() else {
                    return;
                };
                let proposal = ConsensusProposal::sign(
                    keypair,
                    &self.chain_id,
                    height,
                    round,
                    valid_round,
                    value,
                );
                out.push(Output::Broadcast(Message::Proposal(proposal.clone())));
                if let Some(h) = &mut self.current {
                    h.relay_polka(&proposal, self.key.as_ref(), out);
                    // A twin's proposal for this round may already be kept; the first stays.
                    h.proposals.entry(round).or_insert(proposal);
                    h.verdicts.entry(value).or_insert(Validity::Valid);
                }
            }
            Action::GetValue => {
                h.awaiting_value = Some(round);
                out.push(Output::RequestValue { height, round });
            }
            Action::Prevote(value) => self.cast(VoteType::Prevote, value, out),
            Action::Precommit(value) => self.cast(VoteType::Precommit, value, out),
            Action::ScheduleTimeout(step) => self.schedule(step, out),
            Action::Decide { round, value } => {
                let certificate = h.certificate(round, value);
                out.push(Output::Decide(Decision {
                    height,
                    round,
                    block_hash: value,
                    certificate,
                }));
            }
            Action::StartRound(round) => self.start_round(round, out),
        }
    }

    /// L11: enters `round` of the current height.
    fn start_round(&mut self, round: Round, out: &mut Vec<Output>) {
        let key = self.key;
        let Some(h) = &mut self.current else {
            return;
        };
        let proposer = h.schedule.proposer(&h.validators, round);
        let role = if key.is_some() && proposer == key {
            Role::Proposer
        } else {
            Role::Other
        };
        h.votes.set_current_round(round);
        for rounds in h.future_proposals.values_mut() {
            rounds.retain(|r| *r > round);
        }
        h.future_proposals.retain(|_, rounds| !rounds.is_empty());
        h.flags = RoundFlags::default();
        h.awaiting_value = None;
        self.apply(Event::NewRound { round, role }, out);
        if role == Role::Proposer {
            // Not in the paper, which trusts getValue() to return: if the node never
            // supplies a value, the round still moves on.
            self.schedule(TimeoutStep::Propose, out);
        }
        self.schedule(TimeoutStep::Rebroadcast, out);
    }

    /// Signs, counts and broadcasts our vote of the current round.
    fn cast(&mut self, vote_type: VoteType, value: Option<Hash>, out: &mut Vec<Output>) {
        let Some(keypair) = self.signing_key() else {
            return;
        };
        let Some(h) = &self.current else {
            return;
        };
        let vote = Vote::sign(
            keypair,
            &self.chain_id,
            h.state.height,
            h.state.round,
            vote_type,
            value,
        );
        let Some(validator) = h.validators.get(&vote.validator).cloned() else {
            return;
        };
        if let Some(h) = &mut self.current {
            if let Added::Conflicting {
                evidence: Some(evidence),
                ..
            } = h.votes.add(vote.clone(), &validator, &h.validators)
            {
                // A twin signed another vote with our key first.
                out.push(Output::Evidence(*evidence));
            }
        }
        out.push(Output::Broadcast(Message::Vote(vote)));
    }

    /// The key to sign with, if we have one and it is in the current validator set.
    fn signing_key(&self) -> Option<&Keypair> {
        let h = self.current.as_ref()?;
        let keypair = self.keypair.as_ref()?;
        h.validators.get(&keypair.public())?;
        Some(keypair)
    }

    fn schedule(&self, step: TimeoutStep, out: &mut Vec<Output>) {
        let Some(h) = &self.current else {
            return;
        };
        let round = h.state.round;
        out.push(Output::ScheduleTimeout {
            height: h.state.height,
            round,
            step,
            duration_ms: timeout_ms(&self.timeouts, step, round),
        });
    }

    fn request_validation(h: &mut HeightState, round: Round, hash: Hash, out: &mut Vec<Output>) {
        if h.verdicts.contains_key(&hash) || !h.requested.insert(hash) {
            return;
        }
        out.push(Output::RequestValidation {
            height: h.state.height,
            round,
            block_hash: hash,
        });
    }
}

impl HeightState {
    /// The certificate of (`round`, `value`): every precommit for it counted here,
    /// together with those of a certificate received for it.
    fn certificate(&self, round: Round, value: Hash) -> CommitCertificate {
        let mut signatures: BTreeMap<PublicKey, Signature> = self
            .votes
            .votes_for(round, VoteType::Precommit, Some(value))
            .map(|v| (v.validator, v.signature))
            .collect();
        if let Some(c) = self
            .certified
            .as_ref()
            .filter(|c| c.round == round && c.block_hash == value)
        {
            for s in &c.signatures {
                signatures.entry(s.validator).or_insert(s.signature);
            }
        }
        CommitCertificate {
            height: self.state.height,
            round,
            block_hash: value,
            signatures: signatures
                .into_iter()
                .map(|(validator, signature)| CommitSignature {
                    validator,
                    signature,
                })
                .collect(),
        }
    }

    /// Sends along the prevotes of a proposal's valid round for its block (the polka
    /// that justifies it, L28), so that validators that missed them can accept it.
    fn relay_polka(
        &self,
        proposal: &ConsensusProposal,
        key: Option<&PublicKey>,
        out: &mut Vec<Output>,
    ) {
        let Some(valid_round) = proposal.valid_round else {
            return;
        };
        out.extend(
            self.votes
                .votes_for(valid_round, VoteType::Prevote, Some(proposal.block_hash))
                .map(|v| send(key, &v.validator, Message::Vote(v.clone()))),
        );
    }
}

/// Our own message goes out as a broadcast, another validator's as a relay.
fn send(key: Option<&PublicKey>, signer: &PublicKey, message: Message) -> Output {
    if key == Some(signer) {
        Output::Broadcast(message)
    } else {
        Output::Relay(message)
    }
}

/// Checks what [`CommitCertificate::verify`] checks except the signatures: distinct
/// members of `validators` in increasing key order, forming a quorum.
fn check_signers(
    certificate: &CommitCertificate,
    validators: &ValidatorSet,
) -> std::result::Result<(), accord_types::Error> {
    let mut tally = PowerTally::default();
    let mut previous: Option<&PublicKey> = None;
    for s in &certificate.signatures {
        let validator = validators
            .get(&s.validator)
            .ok_or(accord_types::Error::UnknownSigner {
                signer: s.validator,
            })?;
        if previous.is_some_and(|p| p >= &s.validator) {
            return Err(accord_types::Error::Malformed {
                what: "commit certificate",
                reason: "signers are not distinct and in increasing order".into(),
            });
        }
        previous = Some(&s.validator);
        tally.add(validator);
    }
    validators.quorum_shortfall(&tally).map_or(Ok(()), Err)
}

/// How long the timer of `step` lasts in `round`: its base plus its delta per round.
/// The rebroadcast timer lasts as long as the propose timer.
pub fn timeout_ms(timeouts: &TimeoutParams, step: TimeoutStep, round: Round) -> u64 {
    let (base, delta) = match step {
        TimeoutStep::Propose | TimeoutStep::Rebroadcast => {
            (timeouts.propose_ms, timeouts.propose_delta_ms)
        }
        TimeoutStep::Prevote => (timeouts.prevote_ms, timeouts.prevote_delta_ms),
        TimeoutStep::Precommit => (timeouts.precommit_ms, timeouts.precommit_delta_ms),
    };
    base.saturating_add(delta.saturating_mul(u64::from(round.get())))
}
