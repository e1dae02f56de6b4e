//! Commit certificates against validator sets with regional quorums, and
//! equivocation evidence.

use accord_types::test_utils::{keypairs, validator_set};
use accord_types::validator::{QuorumRule, ValidatorSet};
use accord_types::*;
use proptest::prelude::*;

fn chain() -> ChainId {
    ChainId::new("accord-test").unwrap()
}

fn block_hash(label: &str) -> Hash {
    Hash::digest(Domain::HEADER, label.as_bytes())
}

/// Four validators of power 1: two in `eu`, two in `us`.
fn four(rule: QuorumRule) -> (Vec<Keypair>, ValidatorSet) {
    let keys = keypairs("cert", 4);
    let set = validator_set(
        &[
            (&keys[0], "eu", 1),
            (&keys[1], "eu", 1),
            (&keys[2], "us", 1),
            (&keys[3], "us", 1),
        ],
        rule,
    )
    .unwrap();
    (keys, set)
}

fn precommits(signers: &[&Keypair], height: Height, round: Round, hash: Hash) -> Vec<Vote> {
    signers
        .iter()
        .map(|k| Vote::sign(k, &chain(), height, round, VoteType::Precommit, Some(hash)))
        .collect()
}

fn certificate(
    signers: &[&Keypair],
    height: Height,
    round: Round,
    hash: Hash,
) -> CommitCertificate {
    CommitCertificate::from_precommits(
        height,
        round,
        hash,
        &precommits(signers, height, round, hash),
    )
}

#[test]
fn a_full_certificate_verifies() {
    let (keys, set) = four(QuorumRule::Regional);
    let all: Vec<&Keypair> = keys.iter().collect();
    let hash = block_hash("b5");
    let cert = certificate(&all, Height(5), Round(0), hash);
    assert_eq!(cert.signatures.len(), 4);
    assert_eq!(cert.verify(&chain(), &set), Ok(()));
    assert_eq!(cert.verify_commit(&chain(), &set, Height(5), &hash), Ok(()));
    // Signatures are sorted by validator, whatever order the votes came in.
    let mut reversed = all.clone();
    reversed.reverse();
    assert_eq!(certificate(&reversed, Height(5), Round(0), hash), cert);
}

#[test]
fn three_of_four_is_a_global_quorum_but_not_a_regional_one() {
    let hash = block_hash("b");
    let (keys, global) = four(QuorumRule::Global);
    let cert = certificate(&[&keys[0], &keys[1], &keys[2]], Height(1), Round(0), hash);
    assert_eq!(cert.verify(&chain(), &global), Ok(()));
    let (_, regional) = four(QuorumRule::Regional);
    assert_eq!(
        cert.verify(&chain(), &regional),
        Err(Error::RegionWithoutQuorum {
            region: RegionId::new("us").unwrap(),
            signed: 1,
            total: 2,
        })
    );
}

#[test]
fn two_of_four_is_too_little_power() {
    let (keys, set) = four(QuorumRule::Global);
    let cert = certificate(&[&keys[0], &keys[2]], Height(1), Round(0), block_hash("b"));
    assert_eq!(
        cert.verify(&chain(), &set),
        Err(Error::InsufficientPower {
            signed: 2,
            total: 4
        })
    );
    let empty = certificate(&[], Height(1), Round(0), block_hash("b"));
    assert_eq!(
        empty.verify(&chain(), &set),
        Err(Error::InsufficientPower {
            signed: 0,
            total: 4
        })
    );
}

#[test]
fn a_region_short_of_quorum_fails_only_under_the_regional_rule() {
    // Three validators in eu, two in us; three eu and one us sign: 4/5 overall,
    // but 1/2 of us.
    let keys = keypairs("regional", 5);
    let members = [
        (&keys[0], "eu", 1),
        (&keys[1], "eu", 1),
        (&keys[2], "eu", 1),
        (&keys[3], "us", 1),
        (&keys[4], "us", 1),
    ];
    let regional = validator_set(&members, QuorumRule::Regional).unwrap();
    let global = validator_set(&members, QuorumRule::Global).unwrap();
    let hash = block_hash("b9");
    let cert = certificate(
        &[&keys[0], &keys[1], &keys[2], &keys[3]],
        Height(9),
        Round(3),
        hash,
    );
    assert_eq!(
        cert.verify(&chain(), &regional),
        Err(Error::RegionWithoutQuorum {
            region: RegionId::new("us").unwrap(),
            signed: 1,
            total: 2,
        })
    );
    assert_eq!(cert.verify(&chain(), &global), Ok(()));
    // With the second us validator the regional rule is met too.
    let cert = certificate(&keys.iter().collect::<Vec<_>>(), Height(9), Round(3), hash);
    assert_eq!(cert.verify(&chain(), &regional), Ok(()));
    // Two of three in eu is exactly 2/3, not more: not a regional quorum.
    let cert = certificate(
        &[&keys[0], &keys[1], &keys[3], &keys[4]],
        Height(9),
        Round(3),
        hash,
    );
    assert_eq!(
        cert.verify(&chain(), &regional),
        Err(Error::RegionWithoutQuorum {
            region: RegionId::new("eu").unwrap(),
            signed: 2,
            total: 3,
        })
    );
}

#[test]
fn a_duplicate_signer_is_refused_and_does_not_count_twice() {
    let (keys, set) = four(QuorumRule::Global);
    let hash = block_hash("b");
    // Two distinct signers plus a copy: the copy would make 3 of 4.
    let mut cert = certificate(&[&keys[0], &keys[1]], Height(1), Round(0), hash);
    let copy = cert.signatures[0].clone();
    cert.signatures.push(copy.clone());
    assert_eq!(
        cert.verify(&chain(), &set),
        Err(Error::DuplicateSigner {
            signer: copy.validator
        })
    );
    // from_precommits drops the duplicate vote itself.
    let votes = precommits(&[&keys[0], &keys[0], &keys[1]], Height(1), Round(0), hash);
    let built = CommitCertificate::from_precommits(Height(1), Round(0), hash, &votes);
    assert_eq!(built.signatures.len(), 2);
}

#[test]
fn a_signer_outside_the_set_is_refused() {
    let (keys, set) = four(QuorumRule::Global);
    let outsider = Keypair::derive_insecure("outsider");
    let hash = block_hash("b");
    let cert = certificate(
        &[&keys[0], &keys[1], &keys[2], &outsider],
        Height(1),
        Round(0),
        hash,
    );
    assert_eq!(
        cert.verify(&chain(), &set),
        Err(Error::UnknownSigner {
            signer: outsider.public()
        })
    );
}

/// A certificate for (5, 2, hash) on `chain()` where `keys[1]`'s signature was made
/// for something else; the other three alone would be a quorum.
fn with_one_wrong_signature(bad: &Vote) -> (CommitCertificate, ValidatorSet, PublicKey) {
    let (keys, set) = four(QuorumRule::Global);
    let hash = block_hash("right");
    let mut cert = certificate(&[&keys[0], &keys[2], &keys[3]], Height(5), Round(2), hash);
    cert.signatures.push(CommitSignature {
        validator: bad.validator,
        signature: bad.signature,
    });
    cert.signatures.sort_by_key(|s| s.validator);
    (cert, set, keys[1].public())
}

#[test]
fn a_signature_over_anything_else_is_refused() {
    let keys = keypairs("cert", 4);
    let right = block_hash("right");
    let other_chain = ChainId::new("other-chain").unwrap();
    let wrong = [
        (
            "height",
            Vote::sign(
                &keys[1],
                &chain(),
                Height(6),
                Round(2),
                VoteType::Precommit,
                Some(right),
            ),
        ),
        (
            "round",
            Vote::sign(
                &keys[1],
                &chain(),
                Height(5),
                Round(1),
                VoteType::Precommit,
                Some(right),
            ),
        ),
        (
            "block hash",
            Vote::sign(
                &keys[1],
                &chain(),
                Height(5),
                Round(2),
                VoteType::Precommit,
                Some(block_hash("wrong")),
            ),
        ),
        (
            "nil",
            Vote::sign(
                &keys[1],
                &chain(),
                Height(5),
                Round(2),
                VoteType::Precommit,
                None,
            ),
        ),
        (
            "vote type",
            Vote::sign(
                &keys[1],
                &chain(),
                Height(5),
                Round(2),
                VoteType::Prevote,
                Some(right),
            ),
        ),
        (
            "chain id",
            Vote::sign(
                &keys[1],
                &other_chain,
                Height(5),
                Round(2),
                VoteType::Precommit,
                Some(right),
            ),
        ),
    ];
    for (what, vote) in wrong {
        let (cert, set, signer) = with_one_wrong_signature(&vote);
        assert_eq!(
            cert.verify(&chain(), &set),
            Err(Error::InvalidSignature { signer }),
            "signature over the wrong {what}"
        );
    }
    // The control: the right vote makes the same certificate verify.
    let good = Vote::sign(
        &keys[1],
        &chain(),
        Height(5),
        Round(2),
        VoteType::Precommit,
        Some(right),
    );
    let (cert, set, _) = with_one_wrong_signature(&good);
    assert_eq!(cert.verify(&chain(), &set), Ok(()));
    // And the whole certificate is bound to its chain id.
    assert!(cert.verify(&other_chain, &set).is_err());
}

#[test]
fn verify_commit_checks_height_and_hash() {
    let (keys, set) = four(QuorumRule::Global);
    let all: Vec<&Keypair> = keys.iter().collect();
    let hash = block_hash("b5");
    let cert = certificate(&all, Height(5), Round(0), hash);
    assert!(matches!(
        cert.verify_commit(&chain(), &set, Height(6), &hash),
        Err(Error::Mismatch { what: "height", .. })
    ));
    assert!(matches!(
        cert.verify_commit(&chain(), &set, Height(5), &block_hash("other")),
        Err(Error::Mismatch {
            what: "block hash",
            ..
        })
    ));
    // Changing the claimed height or hash inside the certificate breaks every signature.
    let mut moved = cert.clone();
    moved.height = Height(6);
    assert!(matches!(
        moved.verify_commit(&chain(), &set, Height(6), &hash),
        Err(Error::InvalidSignature { .. })
    ));
    let mut rehashed = cert;
    rehashed.block_hash = block_hash("other");
    assert!(matches!(
        rehashed.verify_commit(&chain(), &set, Height(5), &block_hash("other")),
        Err(Error::InvalidSignature { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A certificate verifies exactly when its signers hold more than 2/3 of the
    /// power (and of each region's power under the regional rule).
    #[test]
    fn verification_matches_the_quorum_arithmetic(
        members in proptest::collection::vec((0usize..3, 1u64..100, any::<bool>()), 1..8),
        regional in any::<bool>(),
    ) {
        let regions = ["eu", "us", "ap"];
        let keys = keypairs("quorum-prop", members.len());
        let spec: Vec<(&Keypair, &str, u64)> = members
            .iter()
            .zip(&keys)
            .map(|((region, power, _), key)| (key, regions[*region], *power))
            .collect();
        let rule = if regional { QuorumRule::Regional } else { QuorumRule::Global };
        let set = validator_set(&spec, rule).unwrap();
        let signers: Vec<&Keypair> = members
            .iter()
            .zip(&keys)
            .filter(|((_, _, signs), _)| *signs)
            .map(|(_, key)| key)
            .collect();

        let more_than_two_thirds = |part: u64, whole: u64| 3 * part > 2 * whole;
        let total: u64 = members.iter().map(|m| m.1).sum();
        let signed: u64 = members.iter().filter(|m| m.2).map(|m| m.1).sum();
        let mut expected = more_than_two_thirds(signed, total);
        if regional {
            for r in 0..3 {
                let region_total: u64 = members.iter().filter(|m| m.0 == r).map(|m| m.1).sum();
                let region_signed: u64 =
                    members.iter().filter(|m| m.0 == r && m.2).map(|m| m.1).sum();
                if region_total > 0 && !more_than_two_thirds(region_signed, region_total) {
                    expected = false;
                }
            }
        }
        let cert = certificate(&signers, Height(3), Round(0), block_hash("prop"));
        let verdict = cert.verify(&chain(), &set);
        prop_assert_eq!(verdict.is_ok(), expected, "{:?}", verdict);
    }
}

// ---------------------------------------------------------------- evidence

fn vote(key: &Keypair, height: u64, round: u32, vote_type: VoteType, hash: Option<Hash>) -> Vote {
    Vote::sign(key, &chain(), Height(height), Round(round), vote_type, hash)
}

#[test]
fn two_conflicting_votes_are_evidence() {
    let (keys, set) = four(QuorumRule::Regional);
    for vote_type in [VoteType::Prevote, VoteType::Precommit] {
        let a = vote(&keys[0], 4, 1, vote_type, Some(block_hash("a")));
        let b = vote(&keys[0], 4, 1, vote_type, Some(block_hash("b")));
        let nil = vote(&keys[0], 4, 1, vote_type, None);
        for (x, y) in [(&a, &b), (&a, &nil), (&nil, &b)] {
            let evidence = Evidence::duplicate_vote(x.clone(), y.clone()).unwrap();
            assert_eq!(evidence.verify(&chain(), &set), Ok(()));
            assert_eq!(evidence.offender(), &keys[0].public());
            assert_eq!(evidence.height(), Height(4));
            // Canonical: the argument order does not matter.
            assert_eq!(
                Evidence::duplicate_vote(y.clone(), x.clone()),
                Some(evidence)
            );
        }
    }
}

#[test]
fn evidence_orders_its_votes_canonically() {
    let (keys, set) = four(QuorumRule::Global);
    let a = vote(&keys[2], 4, 1, VoteType::Prevote, Some(block_hash("a")));
    let b = vote(&keys[2], 4, 1, VoteType::Prevote, Some(block_hash("b")));
    let Some(Evidence::DuplicateVote { first, second }) =
        Evidence::duplicate_vote(a.clone(), b.clone())
    else {
        panic!("conflicting votes are evidence");
    };
    assert!([&a, &b].contains(&&first) && [&a, &b].contains(&&second));
    assert_ne!(first, second);
    // The swapped order is refused, so one offence has one encoding and one hash.
    let swapped = Evidence::DuplicateVote {
        first: second.clone(),
        second: first.clone(),
    };
    assert!(matches!(
        swapped.verify(&chain(), &set),
        Err(Error::InvalidEvidence { reason, .. }) if reason.contains("canonical")
    ));
    let canonical = Evidence::DuplicateVote { first, second };
    assert_eq!(canonical.verify(&chain(), &set), Ok(()));
    assert_ne!(canonical.hash(), swapped.hash());
}

#[test]
fn votes_that_do_not_conflict_are_not_evidence() {
    let (keys, set) = four(QuorumRule::Global);
    let hash = Some(block_hash("a"));
    let other = Some(block_hash("b"));
    let base = vote(&keys[0], 4, 1, VoteType::Prevote, hash);
    let cases = [
        ("same block", vote(&keys[0], 4, 1, VoteType::Prevote, hash)),
        (
            "different validators",
            vote(&keys[1], 4, 1, VoteType::Prevote, other),
        ),
        (
            "different rounds",
            vote(&keys[0], 4, 2, VoteType::Prevote, other),
        ),
        (
            "different heights",
            vote(&keys[0], 5, 1, VoteType::Prevote, other),
        ),
        (
            "different steps",
            vote(&keys[0], 4, 1, VoteType::Precommit, other),
        ),
    ];
    for (what, other_vote) in cases {
        assert_eq!(
            Evidence::duplicate_vote(base.clone(), other_vote.clone()),
            None,
            "{what}"
        );
        // Forged into evidence by hand, in either order, it is refused.
        for (first, second) in [
            (base.clone(), other_vote.clone()),
            (other_vote, base.clone()),
        ] {
            let forged = Evidence::DuplicateVote { first, second };
            assert!(
                matches!(
                    forged.verify(&chain(), &set),
                    Err(Error::InvalidEvidence { .. })
                ),
                "{what}"
            );
        }
    }
}

#[test]
fn evidence_against_an_outsider_or_with_a_bad_signature_is_refused() {
    let (keys, set) = four(QuorumRule::Global);
    let outsider = Keypair::derive_insecure("evidence-outsider");
    let evidence = Evidence::duplicate_vote(
        vote(&outsider, 4, 1, VoteType::Prevote, Some(block_hash("a"))),
        vote(&outsider, 4, 1, VoteType::Prevote, Some(block_hash("b"))),
    )
    .unwrap();
    assert_eq!(
        evidence.verify(&chain(), &set),
        Err(Error::UnknownSigner {
            signer: outsider.public()
        })
    );

    // One vote's signature tampered with (re-canonicalised so only the signature fails).
    let a = vote(&keys[0], 4, 1, VoteType::Prevote, Some(block_hash("a")));
    let mut b = vote(&keys[0], 4, 1, VoteType::Prevote, Some(block_hash("b")));
    let mut bytes = *b.signature.as_bytes();
    bytes[10] ^= 1;
    b.signature = Signature::from_bytes(bytes);
    let evidence = Evidence::duplicate_vote(a.clone(), b).unwrap();
    assert_eq!(
        evidence.verify(&chain(), &set),
        Err(Error::InvalidSignature {
            signer: keys[0].public()
        })
    );

    // Votes signed for another chain are not evidence on this one.
    let other = ChainId::new("elsewhere").unwrap();
    let evidence = Evidence::duplicate_vote(
        Vote::sign(
            &keys[0],
            &other,
            Height(4),
            Round(1),
            VoteType::Prevote,
            Some(block_hash("a")),
        ),
        Vote::sign(
            &keys[0],
            &other,
            Height(4),
            Round(1),
            VoteType::Prevote,
            Some(block_hash("b")),
        ),
    )
    .unwrap();
    assert_eq!(evidence.verify(&other, &set), Ok(()));
    assert!(matches!(
        evidence.verify(&chain(), &set),
        Err(Error::InvalidSignature { .. })
    ));

    // A vote whose claimed validator is changed: signature by someone else.
    let mut stolen = vote(&keys[1], 4, 1, VoteType::Prevote, Some(block_hash("b")));
    stolen.validator = keys[0].public();
    let evidence = Evidence::duplicate_vote(a, stolen).unwrap();
    assert!(matches!(
        evidence.verify(&chain(), &set),
        Err(Error::InvalidSignature { .. })
    ));
}

#[test]
fn signatures_out_of_signer_order_are_refused() {
    let (keys, set) = four(QuorumRule::Global);
    let all: Vec<&Keypair> = keys.iter().collect();
    let hash = block_hash("ordered");
    let mut cert = certificate(&all, Height(3), Round(0), hash);
    assert_eq!(cert.verify(&chain(), &set), Ok(()));
    // The same signatures reversed: same decision, another encoding — refused, so a
    // decision has exactly one certificate hash.
    cert.signatures.reverse();
    assert!(matches!(
        cert.verify(&chain(), &set),
        Err(Error::Malformed {
            what: "commit certificate",
            ..
        })
    ));
}

#[test]
fn a_small_order_validator_key_is_refused() {
    // The identity point: under ZIP-215 it "verifies" (R = identity, s = 0) on any message.
    let weak =
        PublicKey::from_hex("0x0100000000000000000000000000000000000000000000000000000000000000")
            .unwrap();
    assert!(weak.is_small_order());
    let honest = Keypair::derive_insecure("honest").public();
    let validator = |key, name: &str| Validator {
        name: name.into(),
        region: RegionId::new("eu").unwrap(),
        key,
        power: 1,
    };
    let err = ValidatorSet::new(
        vec![validator(honest, "a"), validator(weak, "b")],
        QuorumRule::Global,
    )
    .unwrap_err();
    assert!(err.to_string().contains("small-order"), "{err}");
    assert!(ValidatorSet::new(vec![validator(honest, "a")], QuorumRule::Global).is_ok());
}
