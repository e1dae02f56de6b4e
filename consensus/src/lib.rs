//! A sans-IO Tendermint consensus engine with weighted validators and regional quorums.
//!
//! # Design
//!
//! [`Engine::process`] takes one [`Input`] and returns the [`Output`]s it causes. The
//! engine performs no I/O and reads no clock: time enters as
//! [`Input::TimeoutElapsed`] and leaves as [`Output::ScheduleTimeout`]; blocks are
//! built and checked by the node, which answers [`Output::RequestValue`] and
//! [`Output::RequestValidation`]. Signing happens inside (ed25519 signatures are
//! deterministic), so the engine is a deterministic function of its input sequence:
//! the node writes each input to a write-ahead log before processing it and, after a
//! crash, replays the log into a fresh engine to get the same state and the same
//! outputs, including the same signed votes.
//!
//! ```text
//!                 ┌─────────────────────────── Engine (engine.rs) ───────────────────────────┐
//!  node ─Input──► │ check ──► VoteKeeper, proposals, verdicts ──► which rule holds? ──► apply │──Output──► node
//!   ▲  (WAL)      │            (vote_keeper.rs)                   L49 L22 L28 L36      (state_  │  broadcast, timers,
//!   │             │  early messages of the next height            L44 L34 L47 L55      machine  │  requests, decide,
//!   │             │  (bounded, requeued at StartHeight)                                .rs)     │  evidence
//!   │             └───────────────────────────────────────────────────────────────────────────┘
//!   └── TimeoutElapsed, ProposeValue, Validity, messages from peers, StartHeight(next)
//! ```
//!
//! The round logic ([`state_machine`]) is Algorithm 1 of "The latest gossip on BFT
//! consensus" (Buchman, Kwon, Milosevic, arXiv:1807.04938) as one `match (step, event)`
//! citing the paper's lines. The driver ([`engine`]) counts votes with the
//! [`vote_keeper`], evaluates the paper's `upon` conditions after every input, and
//! carries out the state machine's actions. Proposers come from [`proposer`]: a
//! stateless weighted round-robin whose round 0 skips validators that finalized blocks
//! show to be absent.
//!
//! Choices the paper leaves open, and where the engine departs from it:
//!
//! - **Values are block hashes.** Proposals carry the hash; the block travels apart.
//!   `valid(v)` is the node's [`Validity`] verdict, asked once per block. The rules
//!   that act on a quorum for a value, locking (L36) and deciding (L49), fire on a
//!   quorum of prevotes or precommits for a block known to be valid without waiting
//!   for the proposal message, whose only role in the paper is to carry the value: a
//!   validator that missed the proposal (an equivocating proposer sent it another
//!   one, or the network lost it) asks the node to fetch and check the block by hash.
//!   Safety rests on the quorums alone, so this changes nothing there.
//! - **Certificates.** [`Input::Commit`] hands the engine a commit certificate
//!   obtained out of band (block sync): the engine checks it and decides its block.
//!   A decision's certificate holds every matching precommit received, and keeps
//!   growing during the node's commit pause ([`Engine::certificate`]).
//! - **Timeouts** are `base + delta × round` from `TimeoutParams`. The proposer also
//!   arms the propose timer, in case the node never supplies a value.
//! - **Retransmission.** The paper assumes a gossip layer that eventually delivers
//!   every message a correct validator received. Here every round arms a rebroadcast
//!   timer: a round that makes no progress re-sends our proposal and every vote of the
//!   round, and the precommits of the round before ([`Output::Relay`] for others'),
//!   which replaces messages lost before the network stabilised and lets lagging
//!   validators time out or skip ahead. A proposal with a valid round travels with the
//!   prevotes of that round's polka, so validators that missed them can accept it (L28).
//! - **Equivocators' votes.** A validator's first vote per round and type counts; a
//!   different one is evidence, and also counts for its own value (never twice in an
//!   "any value" tally), so a polka or commit quorum seen elsewhere can be recognised
//!   even when an equivocator sent us another vote first ([`vote_keeper`]).
//! - **Signatures** are verified by the engine ([`SignatureCheck::Required`]) unless
//!   the node has already verified them, for instance in a batch
//!   ([`SignatureCheck::Verified`]).
//! - **Bounded memory.** Per validator, at most [`vote_keeper::MAX_FUTURE_ROUNDS`]
//!   rounds above the current one are kept (a higher round evicts its lowest), the same
//!   for proposals, at most [`vote_keeper::MAX_VALUES_PER_VALIDATOR`] values per round
//!   and type, and at most [`engine::MAX_EARLY_PER_VALIDATOR`] messages of the next
//!   height; anything further ahead is dropped, past heights are ignored.
//! - **Errors, not panics.** A message from outside the validator set, with a bad
//!   signature, from the wrong proposer or with an impossible valid round, or a
//!   certificate that proves nothing, is an [`Error`] and changes nothing
//!   ([`Error::is_peer_fault`]); late or repeated inputs are ignored.
//!
//! # Quorums
//!
//! "2f + 1" (polka, commit, any-quorum) is [`ValidatorSet::is_quorum`]: more than 2/3 of
//! the total power and, when the chain sets `regional_quorum` ([`QuorumRule::Regional`]),
//! more than 2/3 of every region's power. "f + 1" (round skip, L55) is
//! [`ValidatorSet::contains_correct`]: more than 1/3 of the total power or, under the
//! regional rule, of some region's power.
//!
//! # Why it is safe
//!
//! Tendermint's agreement proof uses one fact about quorums: any two intersect in a
//! correct validator. Two global quorums share more than 1/3 of the power, so they do if
//! faulty validators hold less than 1/3 of it. A regional quorum is also a global
//! quorum, so the regional rule keeps that guarantee, and adds one: two regional quorums
//! share more than 1/3 of *each region's* power, so they intersect in a correct
//! validator as soon as *some* region has less than 1/3 of its power faulty, however
//! many faults the other regions hold. With that intersection the paper's argument
//! goes through unchanged: when a correct validator decides `v` in round `r`, more than
//! a third of the power (or of that region's power) locked `v` in `r`, no later polka
//! for another value can form, and no correct validator decides anything else.
//!
//! Proposer selection plays no part in safety (a faulty proposer can send anything), so
//! demoting absent proposers cannot break it; evidence and round skips neither. Counting
//! an equivocator's second vote for its own value changes nothing either: a faulty
//! validator could as well have sent each value to a different correct validator, and
//! the argument above already allows for that.
//!
//! # Why it is live
//!
//! After the global stabilisation time, with faulty validators holding less than 1/3
//! of the power (and, under the regional rule, less than 1/3 of every region's power),
//! correct validators hold a quorum on their own, and a region-aware "f + 1" of a later
//! round always contains a correct validator, so rounds are skipped only towards correct
//! validators. Rebroadcasts replace messages lost before stabilisation, a validator left
//! behind at a height the others decided gets its certificate ([`Input::Commit`], from
//! the node's block sync), timeouts grow until they exceed the message delay, every
//! validator keeps getting proposer turns in rounds above 0, and the first round with a
//! correct proposer in which all correct validators take part decides, as in the paper. Under the regional rule, a region
//! with a third or more of its power faulty or cut off stops the chain: that is the
//! rule's purpose, every finalized block is agreed by every region.
//!
//! # Driving the engine
//!
//! ```text
//!  StartHeight{h, validators, history} ──► RequestValue (if we propose) / ScheduleTimeout
//!  ProposeValue{h, r, hash}            ──► Broadcast(Proposal), Broadcast(Vote)
//!  Proposal / Vote / Commit from peers ──► RequestValidation, Broadcast(Vote), Relay,
//!                                          Evidence, ConflictingProposals
//!  Validity{h, hash, verdict}          ──► Broadcast(Vote), Decide{h, r, hash, certificate}
//!  TimeoutElapsed{h, r, step}          ──► Broadcast(Vote), ScheduleTimeout, ...
//!  (commit pause: late precommits join Engine::certificate(), stored with the block)
//!  StartHeight{h + 1, ...}             ──► ..., Requeue(messages of h + 1 that came early)
//! ```
//!
//! Every [`Output::Broadcast`] is a message signed with the engine's key; the node
//! records the last signed height, round and step before releasing a vote. The node
//! logs every input, requeued ones included, before processing it; it may truncate the
//! log at each `StartHeight`, because the engine's state after that input depends on
//! nothing before it. Replaying a log repeats its outputs, which the node treats as
//! idempotent (a repeated broadcast is harmless, a repeated decision is already stored).
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod engine;
pub mod error;
pub mod input;
pub mod proposer;
pub mod state_machine;
pub mod vote_keeper;

#[cfg(any(test, feature = "test-utils"))]
pub mod sim;

pub use engine::{timeout_ms, Engine, EngineConfig};
pub use error::{Error, Result};
pub use input::{
    CommittedBlock, Decision, Input, Message, Output, SignatureCheck, TimeoutStep, Validity,
};
pub use proposer::{ProposerSchedule, ABSENCE_WINDOW};
pub use state_machine::{RoundState, RoundValue, Step};

#[cfg(doc)]
use accord_types::{QuorumRule, ValidatorSet};
