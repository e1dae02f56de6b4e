//! The safety and liveness checker.
//!
//! Safety is checked as the simulation goes, at the step where the fact appears:
//!
//! - **agreement**: no two honest-code nodes (honest, crash-restart, twins) decide
//!   different blocks at one height, and no node decides twice differently;
//! - **validity**: a decided block was proposed by someone;
//! - **certificates**: a decision's certificate is for its height, round and block,
//!   signed by members of the validator set forming a quorum (and, when asked,
//!   cryptographically valid);
//! - **evidence**: when a node that holds a validator's vote (or a proposer's
//!   proposal) receives a different one for the same height, round and type, the node
//!   has reported it;
//! - **replay**: a restarted node's replayed log gives the outputs it gave the first time.
//!
//! Liveness is checked at the end: every node required to be live (honest, or
//! restarted after a crash) decided the target height, and every height that all of
//! them started after GST was decided by one round after the second round whose
//! proposer is honest. (The first such round can be lost to the skew between the
//! nodes' start times that losses before GST left behind; after it, timeouts have
//! grown and the nodes are in step.)

use std::collections::BTreeMap;
use std::fmt;

use accord_types::validator::PowerTally;
use accord_types::{ChainId, Hash, Height, PublicKey, Round, ValidatorSet};

use crate::input::Decision;

/// Violations kept per run; a broken run can produce many.
const MAX_VIOLATIONS: usize = 32;

/// Something the checker found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Two nodes decided different blocks at one height.
    Fork {
        /// The height.
        height: Height,
        /// The first decision: node and block.
        first: (usize, Hash),
        /// The conflicting one.
        second: (usize, Hash),
    },
    /// A node decided a block nobody proposed.
    Unproposed {
        /// The node.
        node: usize,
        /// The height.
        height: Height,
        /// The block.
        block_hash: Hash,
    },
    /// A decision's certificate does not prove it.
    BadCertificate {
        /// The node.
        node: usize,
        /// The height.
        height: Height,
        /// What is wrong.
        reason: String,
    },
    /// A node saw an equivocation and reported nothing.
    MissingEvidence {
        /// The node.
        node: usize,
        /// The equivocating validator.
        validator: PublicKey,
        /// Height of the messages.
        height: Height,
        /// Round of the messages.
        round: Round,
        /// `"prevote"`, `"precommit"` or `"proposal"`.
        kind: &'static str,
    },
    /// Replaying a node's log gave different outputs.
    ReplayMismatch {
        /// The node.
        node: usize,
        /// Index of the first differing input in the replayed log.
        index: usize,
    },
    /// A node required to be live did not reach the target height in time.
    Stalled {
        /// The node.
        node: usize,
        /// The last height it decided.
        decided: u64,
    },
    /// A height started after GST took more rounds than the bound.
    SlowHeight {
        /// The height.
        height: Height,
        /// The round it was decided in.
        round: Round,
        /// The bound.
        bound: Round,
    },
}

impl Violation {
    /// Whether this is a safety violation (as opposed to a liveness one).
    pub fn is_safety(&self) -> bool {
        !matches!(self, Self::Stalled { .. } | Self::SlowHeight { .. })
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fork {
                height,
                first,
                second,
            } => write!(
                f,
                "fork at height {height}: node {} decided {}, node {} decided {}",
                first.0, first.1, second.0, second.1
            ),
            Self::Unproposed {
                node,
                height,
                block_hash,
            } => write!(f, "node {node} decided unproposed block {block_hash} at height {height}"),
            Self::BadCertificate {
                node,
                height,
                reason,
            } => write!(f, "node {node} decided height {height} with a bad certificate: {reason}"),
            Self::MissingEvidence {
                node,
                validator,
                height,
                round,
                kind,
            } => write!(
                f,
                "node {node} saw {validator} equivocate ({kind}, height {height}, round {round}) and reported nothing"
            ),
            Self::ReplayMismatch { node, index } => {
                write!(f, "node {node}: replaying its log differs at input {index}")
            }
            Self::Stalled { node, decided } => {
                write!(f, "node {node} stalled after deciding height {decided}")
            }
            Self::SlowHeight {
                height,
                round,
                bound,
            } => write!(
                f,
                "height {height} started after GST was decided in round {round}, above the bound {bound}"
            ),
        }
    }
}

/// Collects violations.
#[derive(Debug, Clone, Default)]
pub struct Checker {
    decisions: BTreeMap<Height, (usize, Hash)>,
    violations: Vec<Violation>,
}

impl Checker {
    /// Records a violation (the first 32 are kept).
    pub fn report(&mut self, violation: Violation) {
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(violation);
        }
    }

    /// Checks a decision by an honest-code node.
    pub fn decision(
        &mut self,
        node: usize,
        decision: &Decision,
        proposed: bool,
        validators: &ValidatorSet,
        verify_signatures: Option<&ChainId>,
    ) {
        let height = decision.height;
        match self.decisions.get(&height) {
            Some(&(first_node, first_hash)) if first_hash != decision.block_hash => {
                self.report(Violation::Fork {
                    height,
                    first: (first_node, first_hash),
                    second: (node, decision.block_hash),
                });
            }
            Some(_) => {}
            None => {
                self.decisions.insert(height, (node, decision.block_hash));
            }
        }
        if !proposed {
            self.report(Violation::Unproposed {
                node,
                height,
                block_hash: decision.block_hash,
            });
        }
        if let Err(reason) = check_certificate(decision, validators, verify_signatures) {
            self.report(Violation::BadCertificate {
                node,
                height,
                reason,
            });
        }
    }

    /// The violations found so far.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Takes the violations.
    pub fn into_violations(self) -> Vec<Violation> {
        self.violations
    }
}

/// The certificate is for the decision, its signers are distinct members in key
/// order forming a quorum, and (with a chain id) its signatures verify.
fn check_certificate(
    decision: &Decision,
    validators: &ValidatorSet,
    verify_signatures: Option<&ChainId>,
) -> Result<(), String> {
    let c = &decision.certificate;
    if c.height != decision.height
        || c.round != decision.round
        || c.block_hash != decision.block_hash
    {
        return Err("certificate is for another decision".into());
    }
    if let Some(chain_id) = verify_signatures {
        return c.verify(chain_id, validators).map_err(|e| e.to_string());
    }
    let mut tally = PowerTally::default();
    let mut previous: Option<&PublicKey> = None;
    for s in &c.signatures {
        let Some(v) = validators.get(&s.validator) else {
            return Err(format!("signer {} is not a validator", s.validator));
        };
        if previous.is_some_and(|p| p >= &s.validator) {
            return Err("signers are not in strictly increasing order".into());
        }
        previous = Some(&s.validator);
        tally.add(v);
    }
    match validators.quorum_shortfall(&tally) {
        Some(e) => Err(e.to_string()),
        None => Ok(()),
    }
}
