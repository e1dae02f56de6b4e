//! Transaction signatures: what they cover, and what breaks them.

use accord_types::governance::VoteChoice;
use accord_types::*;
use proptest::prelude::*;

use crate::strategies;

fn chain() -> ChainId {
    ChainId::new("accord-test").unwrap()
}

fn vote_payload(proposal: u64) -> Payload {
    Payload::Vote {
        proposal: ProposalId(proposal),
        region: RegionId::new("eu").unwrap(),
        choice: VoteChoice::Yes,
    }
}

#[test]
fn a_signed_transaction_verifies_and_survives_encoding() {
    let kp = Keypair::derive_insecure("alice");
    let tx = Transaction::sign(&kp, chain(), Nonce(7), vote_payload(1));
    assert_eq!(tx.signer, kp.public());
    assert_eq!(tx.verify_signature(), Ok(()));
    let decoded = Transaction::decode(&tx.encode()).unwrap();
    assert_eq!(decoded, tx);
    assert_eq!(decoded.verify_signature(), Ok(()));
    assert_eq!(decoded.hash(), tx.hash());
    // The signature covers a domain-separated message.
    assert!(tx
        .signing_bytes()
        .starts_with(Domain::TRANSACTION_SIGNING.tag().as_bytes()));
}

#[test]
fn changing_what_was_signed_breaks_the_signature() {
    let kp = Keypair::derive_insecure("alice");
    let tx = Transaction::sign(&kp, chain(), Nonce(7), vote_payload(1));
    let broken = |mutate: &dyn Fn(&mut Transaction)| {
        let mut t = tx.clone();
        mutate(&mut t);
        t.verify_signature()
    };
    let other_chain = ChainId::new("accord-other").unwrap();
    let other_key = Keypair::derive_insecure("mallory").public();
    for (what, result) in [
        ("chain id", broken(&|t| t.chain_id = other_chain.clone())),
        ("nonce", broken(&|t| t.nonce = Nonce(8))),
        ("payload", broken(&|t| t.payload = vote_payload(2))),
        (
            "payload field",
            broken(&|t| {
                t.payload = Payload::Vote {
                    proposal: ProposalId(1),
                    region: RegionId::new("eu").unwrap(),
                    choice: VoteChoice::No,
                }
            }),
        ),
        ("signer", broken(&|t| t.signer = other_key)),
    ] {
        assert!(
            matches!(result, Err(Error::InvalidSignature { .. })),
            "changing the {what} kept the signature valid: {result:?}"
        );
    }
}

#[test]
fn the_hash_covers_the_signature() {
    let kp = Keypair::derive_insecure("alice");
    let tx = Transaction::sign(&kp, chain(), Nonce(7), vote_payload(1));
    let mut resigned = tx.clone();
    let mut bytes = *resigned.signature.as_bytes();
    bytes[0] ^= 1;
    resigned.signature = Signature::from_bytes(bytes);
    assert_ne!(resigned.hash(), tx.hash());
    assert_eq!(resigned.signing_bytes(), tx.signing_bytes());
    // Different content, different hash.
    let next = Transaction::sign(&kp, chain(), Nonce(8), vote_payload(1));
    assert_ne!(next.hash(), tx.hash());
    // Same content, same signature (ed25519 is deterministic), same hash.
    assert_eq!(
        Transaction::sign(&kp, chain(), Nonce(7), vote_payload(1)).hash(),
        tx.hash()
    );
}

#[test]
fn a_vote_signature_is_not_a_transaction_signature() {
    let kp = Keypair::derive_insecure("validator");
    let vote = Vote::sign(&kp, &chain(), Height(1), Round(0), VoteType::Prevote, None);
    let tx = Transaction::sign(&kp, chain(), Nonce(0), vote_payload(1));
    let mut forged = tx.clone();
    forged.signature = vote.signature;
    assert!(forged.verify_signature().is_err());
    assert_ne!(vote.signing_bytes(&chain()), tx.signing_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any payload, signed by anyone at any nonce, verifies; and any single changed
    /// byte of the signature breaks it.
    #[test]
    fn any_signed_payload_verifies(
        payload in strategies::payload(),
        seed in any::<[u8; 32]>(),
        nonce in any::<u64>(),
        chain_id in any::<ChainId>(),
        flip in 0usize..64,
    ) {
        let kp = Keypair::from_seed(&seed);
        let tx = Transaction::sign(&kp, chain_id, Nonce(nonce), payload);
        prop_assert_eq!(tx.verify_signature(), Ok(()));
        let encoded = tx.encode();
        if encoded.len() <= codec::MAX_TRANSACTION_BYTES {
            let decoded = Transaction::decode(&encoded).unwrap();
            prop_assert_eq!(decoded.verify_signature(), Ok(()));
        }
        let mut bad = tx;
        let mut bytes = *bad.signature.as_bytes();
        bytes[flip] ^= 0x40;
        bad.signature = Signature::from_bytes(bytes);
        prop_assert!(bad.verify_signature().is_err());
    }
}
