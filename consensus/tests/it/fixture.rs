//! A four-validator chain for unit-level tests of the engine.

use accord_consensus::{
    timeout_ms, Engine, EngineConfig, Input, Message, Output, RoundState, RoundValue,
    SignatureCheck, Step, TimeoutStep, Validity,
};
use accord_types::params::{ConsensusParams, TimeoutParams};
use accord_types::test_utils::{keypairs, validator_set};
use accord_types::{
    ChainId, ConsensusProposal, Domain, Hash, Height, Keypair, QuorumRule, Round, ValidatorSet,
    Vote, VoteType,
};

/// Validators of power 1, keys sorted so that index `i` is the `i`-th validator of the
/// set; with equal powers the proposer of height `h`, round `r` is `(h + r) mod n`.
pub struct Fixture {
    pub chain: ChainId,
    pub params: ConsensusParams,
    pub keys: Vec<Keypair>,
    pub validators: ValidatorSet,
}

impl Fixture {
    pub fn new(n: usize) -> Self {
        Self::with_regions(&vec!["eu"; n], QuorumRule::Global)
    }

    pub fn with_regions(regions: &[&str], rule: QuorumRule) -> Self {
        let mut keys = keypairs("consensus-tests", regions.len());
        keys.sort_by_key(|k| k.public());
        let members: Vec<(&Keypair, &str, u64)> =
            keys.iter().zip(regions).map(|(k, r)| (k, *r, 1)).collect();
        let validators = validator_set(&members, rule).unwrap();
        Self {
            chain: ChainId::new("consensus-tests").unwrap(),
            params: ConsensusParams {
                timeouts: TimeoutParams {
                    propose_ms: 3_000,
                    propose_delta_ms: 500,
                    prevote_ms: 1_000,
                    prevote_delta_ms: 500,
                    precommit_ms: 1_000,
                    precommit_delta_ms: 500,
                    commit_ms: 1_000,
                },
                max_block_bytes: 1 << 20,
                max_block_txs: 1_000,
                regional_quorum: rule == QuorumRule::Regional,
            },
            keys,
            validators,
        }
    }

    pub fn engine(&self, me: usize) -> Engine {
        Engine::new(EngineConfig {
            chain_id: self.chain.clone(),
            params: self.params.clone(),
            keypair: Some(self.keys[me].clone()),
        })
    }

    pub fn observer(&self) -> Engine {
        Engine::new(EngineConfig {
            chain_id: self.chain.clone(),
            params: self.params.clone(),
            keypair: None,
        })
    }

    pub fn start(&self, height: u64) -> Input {
        Input::StartHeight {
            height: Height(height),
            validators: self.validators.clone(),
            history: Vec::new(),
        }
    }

    pub fn vote(&self, i: usize, h: u64, r: u32, t: VoteType, v: Option<Hash>) -> Vote {
        Vote::sign(&self.keys[i], &self.chain, Height(h), Round(r), t, v)
    }

    pub fn prevote(&self, i: usize, h: u64, r: u32, v: Option<Hash>) -> Vote {
        self.vote(i, h, r, VoteType::Prevote, v)
    }

    pub fn precommit(&self, i: usize, h: u64, r: u32, v: Option<Hash>) -> Vote {
        self.vote(i, h, r, VoteType::Precommit, v)
    }

    pub fn proposal(
        &self,
        i: usize,
        h: u64,
        r: u32,
        vr: Option<u32>,
        v: Hash,
    ) -> ConsensusProposal {
        ConsensusProposal::sign(
            &self.keys[i],
            &self.chain,
            Height(h),
            Round(r),
            vr.map(Round),
            v,
        )
    }

    /// Input: a vote from the network, signature checked by the engine.
    pub fn vote_in(&self, vote: Vote) -> Input {
        Input::Vote {
            vote,
            check: SignatureCheck::Required,
        }
    }

    pub fn prevote_in(&self, i: usize, h: u64, r: u32, v: Option<Hash>) -> Input {
        self.vote_in(self.prevote(i, h, r, v))
    }

    pub fn precommit_in(&self, i: usize, h: u64, r: u32, v: Option<Hash>) -> Input {
        self.vote_in(self.precommit(i, h, r, v))
    }

    pub fn proposal_in(&self, i: usize, h: u64, r: u32, vr: Option<u32>, v: Hash) -> Input {
        Input::Proposal {
            proposal: self.proposal(i, h, r, vr, v),
            check: SignatureCheck::Required,
        }
    }

    pub fn valid(&self, h: u64, v: Hash) -> Input {
        Input::Validity {
            height: Height(h),
            block_hash: v,
            verdict: Validity::Valid,
        }
    }

    pub fn invalid(&self, h: u64, v: Hash) -> Input {
        Input::Validity {
            height: Height(h),
            block_hash: v,
            verdict: Validity::Invalid,
        }
    }

    pub fn timeout_in(&self, h: u64, r: u32, step: TimeoutStep) -> Input {
        Input::TimeoutElapsed {
            height: Height(h),
            round: Round(r),
            step,
        }
    }

    pub fn schedule(&self, h: u64, r: u32, step: TimeoutStep) -> Output {
        Output::ScheduleTimeout {
            height: Height(h),
            round: Round(r),
            step,
            duration_ms: timeout_ms(&self.params.timeouts, step, Round(r)),
        }
    }

    /// What starting round `r` as a non-proposer outputs.
    pub fn round_start(&self, h: u64, r: u32) -> Vec<Output> {
        vec![
            self.schedule(h, r, TimeoutStep::Propose),
            self.schedule(h, r, TimeoutStep::Rebroadcast),
        ]
    }

    pub fn send_prevote(&self, i: usize, h: u64, r: u32, v: Option<Hash>) -> Output {
        Output::Broadcast(Message::Vote(self.prevote(i, h, r, v)))
    }

    pub fn send_precommit(&self, i: usize, h: u64, r: u32, v: Option<Hash>) -> Output {
        Output::Broadcast(Message::Vote(self.precommit(i, h, r, v)))
    }

    pub fn request_validation(&self, h: u64, r: u32, v: Hash) -> Output {
        Output::RequestValidation {
            height: Height(h),
            round: Round(r),
            block_hash: v,
        }
    }
}

/// A block hash for tests.
pub fn block(name: &str) -> Hash {
    Hash::digest(Domain::new("consensus-tests/block"), name.as_bytes())
}

/// A round state, for expected values.
pub fn state(
    h: u64,
    r: u32,
    step: Step,
    locked: Option<(u32, Hash)>,
    valid: Option<(u32, Hash)>,
    decision: Option<(u32, Hash)>,
) -> RoundState {
    let rv = |x: Option<(u32, Hash)>| {
        x.map(|(round, value)| RoundValue {
            round: Round(round),
            value,
        })
    };
    RoundState {
        height: Height(h),
        round: Round(r),
        step,
        locked: rv(locked),
        valid: rv(valid),
        decision: rv(decision),
    }
}
