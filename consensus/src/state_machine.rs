//! The round logic of Tendermint, "The latest gossip on BFT consensus"
//! (Buchman, Kwon, Milosevic, arXiv:1807.04938), Algorithm 1, as one
//! `match (step, event)`. Comments cite the paper's line numbers.
//!
//! The state machine knows nothing of votes, signatures or validator sets: the driver
//! ([`crate::engine`]) counts votes, decides which of the paper's `upon` conditions
//! hold, and feeds them here as [`Event`]s, one at a time; each event yields at most
//! one [`Action`] for the driver to carry out.

use accord_types::{Hash, Height, Round};
use borsh::{BorshDeserialize, BorshSerialize};

use crate::input::{TimeoutStep, Validity};

/// Where a validator is within a height (`step_p`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Step {
    /// The height has not started.
    Unstarted,
    /// Waiting for the round's proposal.
    Propose,
    /// Prevoted; waiting for prevotes.
    Prevote,
    /// Precommitted; waiting for precommits.
    Precommit,
    /// Decided; nothing more happens at this height.
    Commit,
}

/// A value together with the round it is attached to (`lockedValue_p`/`lockedRound_p`,
/// `validValue_p`/`validRound_p`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct RoundValue {
    /// The round.
    pub round: Round,
    /// The block hash.
    pub value: Hash,
}

/// The state of one validator within a height. `None` stands for the paper's
/// `nil` value and `−1` round.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct RoundState {
    /// `h_p`.
    pub height: Height,
    /// `round_p`.
    pub round: Round,
    /// `step_p`.
    pub step: Step,
    /// `lockedValue_p`, `lockedRound_p`.
    pub locked: Option<RoundValue>,
    /// `validValue_p`, `validRound_p`.
    pub valid: Option<RoundValue>,
    /// `decision_p[h_p]`, with the round it was decided in.
    pub decision: Option<RoundValue>,
}

impl RoundState {
    /// The state before round 0 of `height` starts (L2–L9, L53).
    pub fn new(height: Height) -> Self {
        Self {
            height,
            round: Round(0),
            step: Step::Unstarted,
            locked: None,
            valid: None,
            decision: None,
        }
    }
}

/// Whether this validator proposes in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `proposer(h_p, round_p) = p`.
    Proposer,
    /// Someone else proposes.
    Other,
}

/// A condition of the paper that the driver found to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `StartRound(round)` (L11), with this validator's role in it.
    NewRound {
        /// The round to start.
        round: Round,
        /// Whether we propose.
        role: Role,
    },
    /// `getValue()` returned (L18).
    ProposeValue {
        /// The block to propose.
        value: Hash,
    },
    /// L22: `⟨PROPOSAL, h_p, round_p, v, −1⟩` from the proposer, with `valid(v)` known.
    Proposal {
        /// `v`.
        value: Hash,
        /// `valid(v)`.
        validity: Validity,
    },
    /// L28: `⟨PROPOSAL, h_p, round_p, v, vr⟩` from the proposer and 2f + 1
    /// `⟨PREVOTE, h_p, vr, id(v)⟩`, with `0 ≤ vr < round_p`.
    ProposalAndPolkaPrevious {
        /// `v`.
        value: Hash,
        /// `vr`.
        valid_round: Round,
        /// `valid(v)`.
        validity: Validity,
    },
    /// L34: 2f + 1 `⟨PREVOTE, h_p, round_p, ∗⟩`, for the first time.
    PolkaAny,
    /// L36: 2f + 1 `⟨PREVOTE, h_p, round_p, id(v)⟩` with `valid(v)`, for the first
    /// time. (The paper also matches the round's proposal of `v`; here the prevotes
    /// name the block, which the node checks by hash.)
    ProposalAndPolkaCurrent {
        /// `v`.
        value: Hash,
    },
    /// L44: 2f + 1 `⟨PREVOTE, h_p, round_p, nil⟩`.
    PolkaNil,
    /// L47: 2f + 1 `⟨PRECOMMIT, h_p, round_p, ∗⟩`, for the first time.
    PrecommitAny,
    /// L49: `v` (known valid) and 2f + 1 `⟨PRECOMMIT, h_p, r, id(v)⟩` for some round `r`.
    ProposalAndPrecommitValue {
        /// `r`.
        round: Round,
        /// `v`.
        value: Hash,
    },
    /// L55: f + 1 messages of a round above `round_p`.
    SkipRound {
        /// That round.
        round: Round,
    },
    /// L57: `OnTimeoutPropose(h_p, round)`.
    TimeoutPropose {
        /// The timer's round.
        round: Round,
    },
    /// L61: `OnTimeoutPrevote(h_p, round)`.
    TimeoutPrevote {
        /// The timer's round.
        round: Round,
    },
    /// L65: `OnTimeoutPrecommit(h_p, round)`.
    TimeoutPrecommit {
        /// The timer's round.
        round: Round,
    },
}

/// What the driver must do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Broadcast `⟨PROPOSAL, h_p, round_p, value, valid_round⟩` (L19).
    Propose {
        /// The block.
        value: Hash,
        /// `validRound_p`, `None` for −1.
        valid_round: Option<Round>,
    },
    /// Ask for a block to propose (`getValue()`, L18).
    GetValue,
    /// Broadcast `⟨PREVOTE, h_p, round_p, value⟩`.
    Prevote(Option<Hash>),
    /// Broadcast `⟨PRECOMMIT, h_p, round_p, value⟩`.
    Precommit(Option<Hash>),
    /// Schedule a timer of the current round (L21, L35, L48).
    ScheduleTimeout(TimeoutStep),
    /// `decision_p[h_p] = value` (L51).
    Decide {
        /// The round of the deciding precommits.
        round: Round,
        /// The decided block.
        value: Hash,
    },
    /// `StartRound(round)` (L56, L67): the driver works out our role and feeds
    /// [`Event::NewRound`].
    StartRound(Round),
}

/// Applies `event` to `state` (which it updates) and returns what to do.
pub fn apply(state: &mut RoundState, event: Event) -> Option<Action> {
    match (state.step, event) {
        // Nothing changes a decided height (L49: `while decision_p[h_p] = nil`).
        (Step::Commit, _) => None,

        // L11–L21: StartRound(round).
        (Step::Unstarted, Event::NewRound { round, role }) => start_round(state, round, role),
        (_, Event::NewRound { round, role }) if round > state.round => {
            start_round(state, round, role)
        }

        // L18–L19: getValue() returned; propose it (validRound_p is −1 here).
        (Step::Propose, Event::ProposeValue { value }) => Some(Action::Propose {
            value,
            valid_round: None,
        }),

        // L22–L27: a fresh proposal.
        (Step::Propose, Event::Proposal { value, validity }) => {
            state.step = Step::Prevote; // L27
                                        // L23: valid(v) ∧ (lockedRound_p = −1 ∨ lockedValue_p = v).
            let acceptable = state.locked.is_none_or(|l| l.value == value);
            if validity.is_valid() && acceptable {
                Some(Action::Prevote(Some(value))) // L24
            } else {
                Some(Action::Prevote(None)) // L26
            }
        }

        // L28–L33: a re-proposal backed by a polka of an earlier round.
        (
            Step::Propose,
            Event::ProposalAndPolkaPrevious {
                value,
                valid_round,
                validity,
            },
        ) => {
            state.step = Step::Prevote; // L33
                                        // L29: valid(v) ∧ (lockedRound_p ≤ vr ∨ lockedValue_p = v).
            let acceptable = state
                .locked
                .is_none_or(|l| l.round <= valid_round || l.value == value);
            if validity.is_valid() && acceptable {
                Some(Action::Prevote(Some(value))) // L30
            } else {
                Some(Action::Prevote(None)) // L32
            }
        }

        // L34–L35: a quorum of prevotes of any kind; wait a little for a polka.
        (Step::Prevote, Event::PolkaAny) => Some(Action::ScheduleTimeout(TimeoutStep::Prevote)),

        // L36–L41: a polka for the round's valid proposal while prevoting: lock it and precommit.
        (Step::Prevote, Event::ProposalAndPolkaCurrent { value }) => {
            let locked = RoundValue {
                round: state.round,
                value,
            };
            state.locked = Some(locked); // L38–L39
            state.valid = Some(locked); // L42–L43
            state.step = Step::Precommit; // L41
            Some(Action::Precommit(Some(value))) // L40
        }
        // L42–L43: the same polka seen after precommitting only updates the valid value.
        (Step::Precommit, Event::ProposalAndPolkaCurrent { value }) => {
            state.valid = Some(RoundValue {
                round: state.round,
                value,
            });
            None
        }

        // L44–L46: a polka for nil.
        (Step::Prevote, Event::PolkaNil) => {
            state.step = Step::Precommit;
            Some(Action::Precommit(None))
        }

        // L47–L48: a quorum of precommits of any kind, at any step of the round.
        (Step::Propose | Step::Prevote | Step::Precommit, Event::PrecommitAny) => {
            Some(Action::ScheduleTimeout(TimeoutStep::Precommit))
        }

        // L49–L54: decide. Resetting the locks for the next height (L53) is the next
        // height's fresh state; the driver starts it when the node says so.
        (_, Event::ProposalAndPrecommitValue { round, value }) => {
            let decided = RoundValue { round, value };
            state.decision = Some(decided);
            state.step = Step::Commit;
            Some(Action::Decide { round, value })
        }

        // L55–L56: f + 1 validators are in a later round; join them.
        (_, Event::SkipRound { round }) if round > state.round => Some(Action::StartRound(round)),

        // L57–L60: no acceptable proposal in time.
        (Step::Propose, Event::TimeoutPropose { round }) if round == state.round => {
            state.step = Step::Prevote;
            Some(Action::Prevote(None))
        }

        // L61–L64: no polka in time.
        (Step::Prevote, Event::TimeoutPrevote { round }) if round == state.round => {
            state.step = Step::Precommit;
            Some(Action::Precommit(None))
        }

        // L65–L67: no decision in time; next round.
        (_, Event::TimeoutPrecommit { round }) if round == state.round => {
            state.round.checked_next().map(Action::StartRound)
        }

        // Every other combination is a condition that does not apply at this step.
        _ => None,
    }
}

/// L11–L21.
fn start_round(state: &mut RoundState, round: Round, role: Role) -> Option<Action> {
    state.round = round; // L12
    state.step = Step::Propose; // L13
    match role {
        // L14–L19: propose validValue_p if there is one, else a new value.
        Role::Proposer => match state.valid {
            Some(valid) => Some(Action::Propose {
                value: valid.value,
                valid_round: Some(valid.round),
            }),
            None => Some(Action::GetValue),
        },
        // L21.
        Role::Other => Some(Action::ScheduleTimeout(TimeoutStep::Propose)),
    }
}
