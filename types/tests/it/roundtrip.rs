//! Encodings: every public data type round-trips through borsh and JSON, strict
//! decoding refuses trailing bytes and truncations, and no decoder panics on any
//! input.
//!
//! The values come from the `Arbitrary` derives the `test-utils` feature turns on
//! (see the self dev-dependency in `types/Cargo.toml`).

use std::fmt::Debug;

use accord_types::codec::{
    self, MAX_BLOCK_BYTES, MAX_CERTIFICATE_BYTES, MAX_CONSENSUS_MESSAGE_BYTES, MAX_RECEIPT_BYTES,
    MAX_TRANSACTION_BYTES,
};
use accord_types::governance::*;
use accord_types::merkle::Proof;
use accord_types::params::*;
use accord_types::validator::{QuorumRule, Validator, ValidatorSet};
use accord_types::*;
use borsh::{BorshDeserialize, BorshSerialize};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::strategies;

/// Cap used when decoding validator sets in these tests.
const MAX_VALIDATOR_SET_BYTES: usize = 1 << 20;

/// Prefix lengths to try: all of them for encodings up to 4 KiB, otherwise the
/// first and last 1,024 and 1,024 evenly spaced in between (keeps the check linear).
fn prefix_lengths(len: usize) -> Vec<usize> {
    if len <= 4096 {
        return (0..len).collect();
    }
    let mut out: Vec<usize> = (0..1024).chain(len - 1024..len).collect();
    out.extend((0..1024).map(|i| 1024 + i * (len - 2048) / 1024));
    out.sort_unstable();
    out.dedup();
    out
}

/// The properties every encodable type must have.
fn check_round_trips<T>(value: &T) -> Result<(), TestCaseError>
where
    T: BorshSerialize + BorshDeserialize + Serialize + DeserializeOwned + PartialEq + Debug,
{
    // borsh, through the strict decoder.
    let bytes = codec::encode(value);
    let back: T = codec::decode("value", &bytes, usize::MAX)
        .map_err(|e| TestCaseError::fail(format!("decode of own encoding: {e}")))?;
    prop_assert_eq!(&back, value);
    prop_assert_eq!(codec::encode(&back), bytes.as_slice());

    // One trailing byte is refused.
    let mut longer = bytes.clone();
    longer.push(0);
    let trailing = codec::decode::<T>("value", &longer, usize::MAX);
    prop_assert!(
        matches!(trailing, Err(Error::Malformed { .. })),
        "trailing byte accepted"
    );

    // Every strict prefix is refused (and nothing panics).
    for len in prefix_lengths(bytes.len()) {
        let result = codec::decode::<T>("value", &bytes[..len], usize::MAX);
        prop_assert!(
            matches!(result, Err(Error::Malformed { .. })),
            "prefix of {} of {} bytes decoded",
            len,
            bytes.len()
        );
    }

    // The cap applies before decoding.
    if !bytes.is_empty() {
        let capped = codec::decode::<T>("value", &bytes, bytes.len() - 1);
        prop_assert!(matches!(capped, Err(Error::TooLarge { .. })), "cap ignored");
    }

    // JSON.
    let json =
        serde_json::to_string(value).map_err(|e| TestCaseError::fail(format!("to JSON: {e}")))?;
    let back: T = serde_json::from_str(&json)
        .map_err(|e| TestCaseError::fail(format!("from JSON {json}: {e}")))?;
    prop_assert_eq!(&back, value);
    Ok(())
}

macro_rules! round_trip_tests {
    ($cases:expr; $($name:ident: $ty:ty),* $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases($cases))]
            $(
                #[test]
                fn $name(value in any::<$ty>()) {
                    check_round_trips(&value)?;
                }
            )*
        }
    };
}

// Small, flat types: more cases.
round_trip_tests! { 256;
    hash: Hash,
    public_key: PublicKey,
    signature: Signature,
    height: Height,
    round: Round,
    proposal_id: ProposalId,
    nonce: Nonce,
    timestamp: Timestamp,
    region_id: RegionId,
    chain_id: ChainId,
    fraction: Fraction,
    risk_level: RiskLevel,
    execution_mode: ExecutionMode,
    pipeline_action_kind: PipelineActionKind,
    rollout_phase: RolloutPhase,
    infrastructure_change_kind: InfrastructureChangeKind,
    document_kind: DocumentKind,
    roadmap_change_kind: RoadmapChangeKind,
    role: Role,
    proposal_kind: ProposalKind,
    vote_choice: VoteChoice,
    check_status: CheckStatus,
    check_result: CheckResult,
    execution_outcome: ExecutionOutcome,
    proposal_status: ProposalStatus,
    tier_params: TierParams,
    tier_thresholds: TierThresholds,
    kind_floors: KindFloors,
    execution_params: ExecutionParams,
    timeout_params: TimeoutParams,
    consensus_params: ConsensusParams,
    vote_type: VoteType,
    vote: Vote,
    consensus_proposal: ConsensusProposal,
    commit_signature: CommitSignature,
    evidence: Evidence,
    error_code: ErrorCode,
    outcome: Outcome,
    receipt_source: ReceiptSource,
    validator: Validator,
    quorum_rule: QuorumRule,
    header: Header,
    urgency: Urgency,
    impact_assessment: ImpactAssessment,
    validator_spec: ValidatorSpec,
    validator_change: ValidatorChange,
    documentation_change: DocumentationChange,
    roadmap_change: RoadmapChange,
}

// Types with collections inside: fewer cases.
round_trip_tests! { 64;
    tier_table: TierTable,
    risk_rules: RiskRules,
    pipeline_action: PipelineAction,
    commit_certificate: CommitCertificate,
    validator_set: ValidatorSet,
    merkle_proof: Proof,
}

/// The same properties for the types whose collections nest, from size-bounded
/// strategies (see `strategies.rs`).
macro_rules! bounded_round_trip_tests {
    ($cases:expr; $($name:ident: $strategy:expr),* $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases($cases))]
            $(
                #[test]
                fn $name(value in $strategy) {
                    check_round_trips(&value)?;
                }
            )*
        }
    };
}

bounded_round_trip_tests! { 64;
    freeze_window: strategies::freeze_window(),
    governance_change: strategies::governance_change(),
    governance_params: strategies::governance_params(),
    infrastructure_change: strategies::infrastructure_change(),
    proposal_body: strategies::proposal_body(),
    proposal_draft: strategies::proposal_draft(),
    execution_report: strategies::execution_report(),
    payload: strategies::payload(),
    transaction: strategies::transaction(),
    event: strategies::event(),
    receipt: strategies::receipt(),
}

bounded_round_trip_tests! { 32;
    block: strategies::block(),
}

/// Every strict decoder on `bytes`: none may panic. Returns which ones accepted.
fn decode_all(bytes: &[u8]) -> Vec<&'static str> {
    let mut accepted = Vec::new();
    if let Ok(tx) = Transaction::decode(bytes) {
        assert_eq!(tx.encode(), bytes, "transaction re-encodes to its input");
        accepted.push("transaction");
    }
    if let Ok(block) = Block::decode(bytes, MAX_BLOCK_BYTES) {
        assert_eq!(block.encode(), bytes, "block re-encodes to its input");
        accepted.push("block");
    }
    if let Ok(vote) = Vote::decode(bytes) {
        assert_eq!(codec::encode(&vote), bytes, "vote re-encodes to its input");
        accepted.push("vote");
    }
    if let Ok(p) = ConsensusProposal::decode(bytes) {
        assert_eq!(codec::encode(&p), bytes, "proposal re-encodes to its input");
        accepted.push("consensus proposal");
    }
    if let Ok(c) = CommitCertificate::decode(bytes) {
        assert_eq!(
            codec::encode(&c),
            bytes,
            "certificate re-encodes to its input"
        );
        accepted.push("commit certificate");
    }
    if let Ok(e) = Evidence::decode(bytes) {
        assert_eq!(codec::encode(&e), bytes, "evidence re-encodes to its input");
        accepted.push("evidence");
    }
    if let Ok(r) = Receipt::decode(bytes) {
        assert_eq!(codec::encode(&r), bytes, "receipt re-encodes to its input");
        accepted.push("receipt");
    }
    if let Ok(set) = codec::decode::<ValidatorSet>("validator set", bytes, MAX_VALIDATOR_SET_BYTES)
    {
        assert_eq!(
            codec::encode(&set),
            bytes,
            "validator set re-encodes to its input"
        );
        accepted.push("validator set");
    }
    accepted
}

/// An edit to a valid encoding: flip a byte, drop one, insert one, or overwrite a run.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Remove(prop::sample::Index),
    Insert(prop::sample::Index, u8),
    Overwrite(prop::sample::Index, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<prop::sample::Index>().prop_map(Mutation::Remove),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (
            any::<prop::sample::Index>(),
            proptest::collection::vec(any::<u8>(), 1..9)
        )
            .prop_map(|(i, run)| Mutation::Overwrite(i, run)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match m {
        Mutation::Flip(i, x) => {
            let i = i.index(bytes.len());
            bytes[i] ^= x;
        }
        Mutation::Remove(i) => {
            bytes.remove(i.index(bytes.len()));
        }
        Mutation::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
        Mutation::Overwrite(i, run) => {
            let start = i.index(bytes.len());
            for (slot, b) in bytes[start..].iter_mut().zip(run) {
                *slot = *b;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        decode_all(&bytes);
    }

    /// Mutated valid encodings reach much deeper into the decoders than random bytes.
    #[test]
    fn mutated_encodings_never_panic_and_stay_canonical(
        tx in strategies::transaction(),
        vote in any::<Vote>(),
        evidence in any::<Evidence>(),
        cert in any::<CommitCertificate>(),
        set in any::<ValidatorSet>(),
        receipt in strategies::receipt(),
        edits in proptest::collection::vec(mutation(), 1..4),
    ) {
        let header = Header {
            chain_id: tx.chain_id.clone(),
            height: vote.height,
            parent_hash: Hash::ZERO,
            timestamp: Timestamp(0),
            proposer: vote.validator,
            transactions_root: Hash::ZERO,
            evidence_root: Hash::ZERO,
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            validator_set_hash: set.hash(),
            last_commit_hash: cert.hash(),
        };
        let block = Block {
            header,
            transactions: vec![tx.clone()],
            evidence: vec![evidence.clone()],
            last_commit: Some(cert.clone()),
        };
        for mut bytes in [
            tx.encode(),
            codec::encode(&vote),
            codec::encode(&evidence),
            codec::encode(&cert),
            codec::encode(&set),
            codec::encode(&receipt),
            block.encode(),
        ] {
            for edit in &edits {
                apply(&mut bytes, edit);
            }
            decode_all(&bytes);
        }
    }
}

#[test]
fn own_encodings_decode_with_their_own_decoder() {
    let kp = Keypair::derive_insecure("roundtrip");
    let chain = ChainId::new("roundtrip").unwrap();
    let tx = Transaction::sign(
        &kp,
        chain.clone(),
        Nonce(0),
        Payload::Execute {
            proposal: ProposalId(1),
        },
    );
    assert!(decode_all(&tx.encode()).contains(&"transaction"));
    let vote = Vote::sign(&kp, &chain, Height(1), Round(0), VoteType::Prevote, None);
    assert!(decode_all(&codec::encode(&vote)).contains(&"vote"));
}

#[test]
fn oversize_input_is_refused_before_decoding() {
    fn too_large<T: Debug>(result: Result<T, Error>, expected_len: usize, expected_max: usize) {
        match result {
            Err(Error::TooLarge { len, max, .. }) => {
                assert_eq!((len, max), (expected_len, expected_max));
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }
    let over = |max: usize| vec![0u8; max + 1];
    too_large(
        Transaction::decode(&over(MAX_TRANSACTION_BYTES)),
        MAX_TRANSACTION_BYTES + 1,
        MAX_TRANSACTION_BYTES,
    );
    too_large(
        Vote::decode(&over(MAX_CONSENSUS_MESSAGE_BYTES)),
        MAX_CONSENSUS_MESSAGE_BYTES + 1,
        MAX_CONSENSUS_MESSAGE_BYTES,
    );
    too_large(
        ConsensusProposal::decode(&over(MAX_CONSENSUS_MESSAGE_BYTES)),
        MAX_CONSENSUS_MESSAGE_BYTES + 1,
        MAX_CONSENSUS_MESSAGE_BYTES,
    );
    too_large(
        Evidence::decode(&over(MAX_CONSENSUS_MESSAGE_BYTES)),
        MAX_CONSENSUS_MESSAGE_BYTES + 1,
        MAX_CONSENSUS_MESSAGE_BYTES,
    );
    too_large(
        CommitCertificate::decode(&over(MAX_CERTIFICATE_BYTES)),
        MAX_CERTIFICATE_BYTES + 1,
        MAX_CERTIFICATE_BYTES,
    );
    too_large(
        Receipt::decode(&over(MAX_RECEIPT_BYTES)),
        MAX_RECEIPT_BYTES + 1,
        MAX_RECEIPT_BYTES,
    );
    too_large(
        codec::decode::<ValidatorSet>(
            "validator set",
            &over(MAX_VALIDATOR_SET_BYTES),
            MAX_VALIDATOR_SET_BYTES,
        ),
        MAX_VALIDATOR_SET_BYTES + 1,
        MAX_VALIDATOR_SET_BYTES,
    );
    // A block is capped by the chain's limit, and never above MAX_BLOCK_BYTES.
    too_large(Block::decode(&over(1024), 1024), 1025, 1024);
    too_large(
        Block::decode(&over(MAX_BLOCK_BYTES), usize::MAX),
        MAX_BLOCK_BYTES + 1,
        MAX_BLOCK_BYTES,
    );
    // Exactly at the cap is decoded (and refused only for its content).
    assert!(matches!(
        Transaction::decode(&vec![0u8; MAX_TRANSACTION_BYTES]),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn a_huge_length_prefix_does_not_allocate_or_panic() {
    // A certificate claiming u32::MAX signatures, followed by almost nothing.
    let mut bytes = codec::encode(&(Height(1), Round(0), Hash::ZERO));
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 100]);
    assert!(matches!(
        CommitCertificate::decode(&bytes),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn invalid_identifiers_and_sets_are_refused_by_both_encodings() {
    // A region that breaks the label rules, in borsh and in JSON.
    let bad_region = codec::encode(&"EU".to_string());
    assert!(codec::decode::<RegionId>("region", &bad_region, 64).is_err());
    assert!(serde_json::from_str::<RegionId>("\"EU\"").is_err());
    let too_long = ChainId::MAX_LEN + 1;
    assert!(serde_json::from_str::<ChainId>(&format!("\"{}\"", "a".repeat(too_long))).is_err());
    assert!(serde_json::from_str::<ChainId>(&format!("\"{}\"", "a".repeat(too_long - 1))).is_ok());

    // A validator set out of key order has a second encoding: borsh refuses it.
    let kps = test_utils::keypairs("roundtrip-set", 2);
    let set = test_utils::validator_set(
        &[(&kps[0], "eu", 1), (&kps[1], "us", 1)],
        QuorumRule::Global,
    )
    .unwrap();
    let mut validators = set.validators().to_vec();
    validators.reverse();
    let unsorted = codec::encode(&(validators.clone(), QuorumRule::Global));
    assert!(codec::decode::<ValidatorSet>("set", &unsorted, 1 << 16).is_err());
    // Duplicates and zero power are refused in both encodings.
    let dup = vec![validators[0].clone(), validators[0].clone()];
    assert!(codec::decode::<ValidatorSet>(
        "set",
        &codec::encode(&(dup.clone(), QuorumRule::Global)),
        1 << 16
    )
    .is_err());
    let json = serde_json::json!({ "validators": dup, "rule": "global" });
    assert!(serde_json::from_value::<ValidatorSet>(json).is_err());
    let mut zero = validators[0].clone();
    zero.power = 0;
    let json = serde_json::json!({ "validators": [zero], "rule": "global" });
    assert!(serde_json::from_value::<ValidatorSet>(json).is_err());
    // An empty set.
    let empty = codec::encode(&(Vec::<Validator>::new(), QuorumRule::Global));
    assert!(codec::decode::<ValidatorSet>("set", &empty, 1 << 16).is_err());

    // Fractions are decimal strings in JSON.
    let f: Fraction = serde_json::from_str("\"0.6667\"").unwrap();
    assert_eq!(f.bps(), 6667);
    assert_eq!(serde_json::to_string(&f).unwrap(), "\"0.6667\"");
    assert!(serde_json::from_str::<Fraction>("0.6667").is_err());
}
