//! Consensus messages: votes, proposals, commit certificates and equivocation evidence.

use std::collections::BTreeSet;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::{self, MAX_CERTIFICATE_BYTES, MAX_CONSENSUS_MESSAGE_BYTES};
use crate::crypto::{verify_batch, SignedMessage};
use crate::hash::{Domain, Hash};
use crate::validator::{PowerTally, ValidatorSet};
use crate::{ChainId, Error, Height, Keypair, PublicKey, Round, Signature};

/// The two kinds of vote.
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
pub enum VoteType {
    /// First voting step.
    Prevote,
    /// Second voting step; a quorum of these for one block decides it.
    Precommit,
}

/// A signed prevote or precommit for a block hash, or for nil.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
pub struct Vote {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// The block voted for; `None` is a nil vote.
    pub block_hash: Option<Hash>,
    /// The voting validator's key.
    pub validator: PublicKey,
    /// Signature over [`Vote::signing_bytes`].
    pub signature: Signature,
}

impl Vote {
    /// Builds and signs a vote.
    pub fn sign(
        keypair: &Keypair,
        chain_id: &ChainId,
        height: Height,
        round: Round,
        vote_type: VoteType,
        block_hash: Option<Hash>,
    ) -> Self {
        let message = vote_signing_bytes(chain_id, height, round, vote_type, block_hash.as_ref());
        Self {
            height,
            round,
            vote_type,
            block_hash,
            validator: keypair.public(),
            signature: keypair.sign(&message),
        }
    }

    /// What the signature covers: domain tag, chain id, height, round, type and block hash.
    pub fn signing_bytes(&self, chain_id: &ChainId) -> Vec<u8> {
        vote_signing_bytes(
            chain_id,
            self.height,
            self.round,
            self.vote_type,
            self.block_hash.as_ref(),
        )
    }

    /// Checks the signature.
    pub fn verify(&self, chain_id: &ChainId) -> Result<(), Error> {
        self.validator
            .verify(&self.signing_bytes(chain_id), &self.signature)
    }

    /// Decodes one vote strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        codec::decode("vote", bytes, MAX_CONSENSUS_MESSAGE_BYTES)
    }
}

fn vote_signing_bytes(
    chain_id: &ChainId,
    height: Height,
    round: Round,
    vote_type: VoteType,
    block_hash: Option<&Hash>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(Domain::VOTE_SIGNING.tag().as_bytes());
    out.extend_from_slice(&codec::encode(&(
        chain_id, height, round, vote_type, block_hash,
    )));
    out
}

/// A signed proposal of a block for a height and round; the block travels beside it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
pub struct ConsensusProposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The round in which the proposer saw a polka for this block (`validRound`), if any.
    pub valid_round: Option<Round>,
    /// The proposed block's hash.
    pub block_hash: Hash,
    /// The proposer's key.
    pub proposer: PublicKey,
    /// Signature over [`ConsensusProposal::signing_bytes`].
    pub signature: Signature,
}

impl ConsensusProposal {
    /// Builds and signs a proposal.
    pub fn sign(
        keypair: &Keypair,
        chain_id: &ChainId,
        height: Height,
        round: Round,
        valid_round: Option<Round>,
        block_hash: Hash,
    ) -> Self {
        let message = proposal_signing_bytes(chain_id, height, round, valid_round, &block_hash);
        Self {
            height,
            round,
            valid_round,
            block_hash,
            proposer: keypair.public(),
            signature: keypair.sign(&message),
        }
    }

    /// What the signature covers.
    pub fn signing_bytes(&self, chain_id: &ChainId) -> Vec<u8> {
        proposal_signing_bytes(
            chain_id,
            self.height,
            self.round,
            self.valid_round,
            &self.block_hash,
        )
    }

    /// Checks the signature.
    pub fn verify(&self, chain_id: &ChainId) -> Result<(), Error> {
        self.proposer
            .verify(&self.signing_bytes(chain_id), &self.signature)
    }

    /// Decodes one proposal strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        codec::decode("consensus proposal", bytes, MAX_CONSENSUS_MESSAGE_BYTES)
    }
}

fn proposal_signing_bytes(
    chain_id: &ChainId,
    height: Height,
    round: Round,
    valid_round: Option<Round>,
    block_hash: &Hash,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(Domain::PROPOSAL_SIGNING.tag().as_bytes());
    out.extend_from_slice(&codec::encode(&(
        chain_id,
        height,
        round,
        valid_round,
        block_hash,
    )));
    out
}

/// One precommit signature inside a certificate.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
pub struct CommitSignature {
    /// The validator.
    pub validator: PublicKey,
    /// Its precommit signature for the certificate's height, round and block.
    pub signature: Signature,
}

/// Proof that a block was decided: precommits for (height, round, block hash) from
/// a quorum of the validator set.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
pub struct CommitCertificate {
    /// Height of the decided block.
    pub height: Height,
    /// Round in which it was decided.
    pub round: Round,
    /// The decided block's hash.
    pub block_hash: Hash,
    /// The precommit signatures.
    pub signatures: Vec<CommitSignature>,
}

impl CommitCertificate {
    /// Builds a certificate from precommits, which must all be for the same height,
    /// round and block (others are skipped). Signatures are not checked here.
    pub fn from_precommits<'a>(
        height: Height,
        round: Round,
        block_hash: Hash,
        precommits: impl IntoIterator<Item = &'a Vote>,
    ) -> Self {
        let mut signatures: Vec<CommitSignature> = precommits
            .into_iter()
            .filter(|v| {
                v.vote_type == VoteType::Precommit
                    && v.height == height
                    && v.round == round
                    && v.block_hash == Some(block_hash)
            })
            .map(|v| CommitSignature {
                validator: v.validator,
                signature: v.signature,
            })
            .collect();
        signatures.sort_by_key(|s| s.validator);
        signatures.dedup_by(|a, b| a.validator == b.validator);
        Self {
            height,
            round,
            block_hash,
            signatures,
        }
    }

    /// Verifies the certificate against `validators`: every signer is in the set and
    /// appears once, signatures are in increasing signer order (so one decision has
    /// one encoding and one hash), every signature is a valid precommit for this
    /// certificate's height, round and block on `chain_id`, and the signers form a
    /// quorum under the set's rule.
    pub fn verify(&self, chain_id: &ChainId, validators: &ValidatorSet) -> Result<(), Error> {
        let mut seen = BTreeSet::new();
        let mut tally = PowerTally::default();
        let mut previous: Option<&PublicKey> = None;
        for sig in &self.signatures {
            let validator = validators.get(&sig.validator).ok_or(Error::UnknownSigner {
                signer: sig.validator,
            })?;
            if !seen.insert(sig.validator) {
                return Err(Error::DuplicateSigner {
                    signer: sig.validator,
                });
            }
            if previous.is_some_and(|p| p > &sig.validator) {
                return Err(Error::Malformed {
                    what: "commit certificate",
                    reason: "signatures are not in increasing signer order".into(),
                });
            }
            previous = Some(&sig.validator);
            tally.add(validator);
        }
        if let Some(shortfall) = validators.quorum_shortfall(&tally) {
            return Err(shortfall);
        }
        let message = vote_signing_bytes(
            chain_id,
            self.height,
            self.round,
            VoteType::Precommit,
            Some(&self.block_hash),
        );
        let items: Vec<SignedMessage<'_>> = self
            .signatures
            .iter()
            .map(|s| SignedMessage {
                signer: &s.validator,
                message: &message,
                signature: &s.signature,
            })
            .collect();
        verify_batch(&items).map_err(|e| match e {
            Error::BatchInvalid { invalid, .. } => {
                let signer = invalid
                    .first()
                    .and_then(|&i| self.signatures.get(i))
                    .map(|s| s.validator)
                    .unwrap_or(PublicKey::from_bytes([0; 32]));
                Error::InvalidSignature { signer }
            }
            other => other,
        })
    }

    /// Verifies the certificate and that it decides `block_hash` at `height`.
    pub fn verify_commit(
        &self,
        chain_id: &ChainId,
        validators: &ValidatorSet,
        height: Height,
        block_hash: &Hash,
    ) -> Result<(), Error> {
        if self.height != height {
            return Err(Error::Mismatch {
                what: "height",
                expected: height.to_string(),
                found: self.height.to_string(),
            });
        }
        if &self.block_hash != block_hash {
            return Err(Error::Mismatch {
                what: "block hash",
                expected: block_hash.to_string(),
                found: self.block_hash.to_string(),
            });
        }
        self.verify(chain_id, validators)
    }

    /// The certificate's hash, as referenced by the next block's header.
    pub fn hash(&self) -> Hash {
        Hash::of_borsh(Domain::CERTIFICATE, self)
    }

    /// Decodes one certificate strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        codec::decode("commit certificate", bytes, MAX_CERTIFICATE_BYTES)
    }
}

/// Proof that a validator misbehaved.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Evidence {
    /// Two different signed votes of one type by one validator at one height and round.
    DuplicateVote {
        /// The first vote (the lower hash of the two, so evidence is canonical).
        first: Vote,
        /// The second vote.
        second: Vote,
    },
}

impl Evidence {
    /// Evidence from two conflicting votes, in canonical order; `None` if they do not conflict.
    pub fn duplicate_vote(a: Vote, b: Vote) -> Option<Self> {
        let conflicting = a.validator == b.validator
            && a.height == b.height
            && a.round == b.round
            && a.vote_type == b.vote_type
            && a.block_hash != b.block_hash;
        if !conflicting {
            return None;
        }
        let (first, second) = if vote_hash(&a) <= vote_hash(&b) {
            (a, b)
        } else {
            (b, a)
        };
        Some(Self::DuplicateVote { first, second })
    }

    /// The validator the evidence accuses.
    pub fn offender(&self) -> &PublicKey {
        match self {
            Self::DuplicateVote { first, .. } => &first.validator,
        }
    }

    /// The height of the offence.
    pub fn height(&self) -> Height {
        match self {
            Self::DuplicateVote { first, .. } => first.height,
        }
    }

    /// Checks that the evidence proves equivocation by a member of `validators`.
    pub fn verify(&self, chain_id: &ChainId, validators: &ValidatorSet) -> Result<(), Error> {
        let Self::DuplicateVote { first, second } = self;
        let invalid = |reason| Error::InvalidEvidence {
            height: first.height,
            round: first.round,
            reason,
        };
        if first.validator != second.validator {
            return Err(invalid("the votes are by different validators"));
        }
        if first.height != second.height
            || first.round != second.round
            || first.vote_type != second.vote_type
        {
            return Err(invalid(
                "the votes are for different heights, rounds or steps",
            ));
        }
        if first.block_hash == second.block_hash {
            return Err(invalid("the votes are for the same block"));
        }
        if vote_hash(first) > vote_hash(second) {
            return Err(invalid("the votes are not in canonical order"));
        }
        if validators.get(&first.validator).is_none() {
            return Err(Error::UnknownSigner {
                signer: first.validator,
            });
        }
        first.verify(chain_id)?;
        second.verify(chain_id)
    }

    /// The evidence hash (leaf of a block's evidence root).
    pub fn hash(&self) -> Hash {
        Hash::of_borsh(Domain::EVIDENCE, self)
    }

    /// Decodes one piece of evidence strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        codec::decode("evidence", bytes, MAX_CONSENSUS_MESSAGE_BYTES)
    }
}

fn vote_hash(vote: &Vote) -> Hash {
    Hash::of_borsh(Domain::new("accord/vote"), vote)
}
