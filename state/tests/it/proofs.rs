//! Every proof the state gives verifies, and no tampered proof or claim does.

use accord_state::{ProofError, StateProof, StateView, Terminal, MAX_PROOF_BYTES};
use accord_types::Hash;
use proptest::prelude::*;

use crate::common::{key, model, store_of, Model};

fn flip(hash: &Hash, byte: usize) -> Hash {
    let mut bytes = hash.to_bytes();
    bytes[byte % 32] ^= 0x01;
    Hash::from_bytes(bytes)
}

/// Checks one key's proof, then every tampering of it.
fn check_key(
    view: &StateView<'_>,
    model: &Model,
    key: &[u8],
    salt: usize,
) -> Result<(), TestCaseError> {
    let root = view.root().unwrap();
    let value = model.get(key).map(Vec::as_slice);
    let proof = view.prove(key).unwrap();
    prop_assert_eq!(proof.key(), key);
    prop_assert_eq!(proof.value(), value);
    prop_assert_eq!(proof.verify(&root, key, value), Ok(()));

    // Another value, or presence for absence and the reverse.
    let other_value = [value.unwrap_or_default(), b"x"].concat();
    prop_assert!(
        matches!(
            proof.verify(&root, key, Some(&other_value)),
            Err(ProofError::ValueMismatch { .. })
        ),
        "another value"
    );
    if value.is_some() {
        prop_assert!(
            matches!(
                proof.verify(&root, key, None),
                Err(ProofError::ValueMismatch { .. })
            ),
            "absence claimed"
        );
    }
    // Another key.
    let other_key = [key, b"x"].concat();
    prop_assert!(proof.verify(&root, &other_key, value).is_err());
    // Another root.
    prop_assert!(
        matches!(
            proof.verify(&flip(&root, salt), key, value),
            Err(ProofError::RootMismatch { .. })
        ),
        "another root"
    );
    // Any sibling changed, removed or added.
    for i in 0..proof.siblings.len() {
        let mut tampered = proof.clone();
        tampered.siblings[i] = flip(&tampered.siblings[i], salt + i);
        prop_assert!(
            tampered.verify(&root, key, value).is_err(),
            "sibling {} tampered",
            i
        );
    }
    let mut shorter = proof.clone();
    if shorter.siblings.pop().is_some() {
        prop_assert!(shorter.verify(&root, key, value).is_err());
    }
    let mut longer = proof.clone();
    longer.siblings.push(accord_state::EMPTY_ROOT);
    prop_assert!(longer.verify(&root, key, value).is_err());
    // The value inside the proof changed, with the claim changed to match.
    let mut tampered = proof.clone();
    match &mut tampered.terminal {
        Terminal::Value { value } => value.push(0),
        Terminal::OtherLeaf { value_hash, .. } => *value_hash = flip(value_hash, salt),
        Terminal::Empty => {
            tampered.terminal = Terminal::Value {
                value: b"forged".to_vec(),
            };
        }
    }
    let claimed = tampered.value().map(<[u8]>::to_vec);
    prop_assert!(tampered.verify(&root, key, claimed.as_deref()).is_err());
    // An absence proof turned into another (an empty subtree where a leaf is, or the
    // key's own path posing as another key's).
    if value.is_none() {
        let mut forged = proof.clone();
        forged.terminal = match &proof.terminal {
            Terminal::OtherLeaf { .. } => Terminal::Empty,
            _ => Terminal::OtherLeaf {
                key_path: accord_state::tree::key_path(key),
                value_hash: Hash::ZERO,
            },
        };
        prop_assert!(forged.verify(&root, key, None).is_err());
    }

    // Encodings round-trip.
    let bytes = borsh::to_vec(&proof).unwrap();
    let decoded: StateProof =
        accord_types::codec::decode("state proof", &bytes, MAX_PROOF_BYTES).unwrap();
    prop_assert_eq!(&decoded, &proof);
    let json = serde_json::to_string(&proof).unwrap();
    let decoded: StateProof = serde_json::from_str(&json).unwrap();
    prop_assert_eq!(&decoded, &proof);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn proofs_verify_and_tampering_fails(
        state in model(80),
        absent in proptest::collection::vec(key(), 0..12),
        salt in 0usize..1000,
    ) {
        let store = store_of(&state);
        let view = StateView::new(&store);
        for (i, key) in state.keys().chain(&absent).enumerate() {
            check_key(&view, &state, key, salt + i)?;
        }
    }
}

/// Both kinds of absence proof occur, at depth, in a larger state.
#[test]
fn absence_proofs_of_both_kinds_in_a_large_state() {
    let state: Model = (0u32..3000)
        .map(|i| (i.to_be_bytes().to_vec(), i.to_le_bytes().to_vec()))
        .collect();
    let store = store_of(&state);
    let view = StateView::new(&store);
    let root = view.root().unwrap();
    let (mut empty, mut other, mut deepest) = (0, 0, 0);
    for i in 3000u32..3400 {
        let key = i.to_be_bytes();
        let proof = view.prove(&key).unwrap();
        proof.verify(&root, &key, None).unwrap();
        match proof.terminal {
            Terminal::Empty => empty += 1,
            Terminal::OtherLeaf { .. } => other += 1,
            Terminal::Value { .. } => panic!("absent key proved present"),
        }
        deepest = deepest.max(proof.siblings.len());
    }
    assert!(
        empty > 0 && other > 0,
        "{empty} empty, {other} other-leaf proofs"
    );
    assert!(deepest >= 11, "deepest proof has {deepest} siblings");
    for (key, value) in state.iter().step_by(7) {
        view.prove(key)
            .unwrap()
            .verify(&root, key, Some(value))
            .unwrap();
    }
}

#[test]
fn proofs_of_the_empty_state_and_of_one_key() {
    let store = store_of(&Model::new());
    let view = StateView::new(&store);
    let proof = view.prove(b"anything").unwrap();
    assert!(proof.siblings.is_empty());
    assert_eq!(proof.terminal, Terminal::Empty);
    proof
        .verify(&accord_state::EMPTY_ROOT, b"anything", None)
        .unwrap();

    let store = store_of(&Model::from([(b"k".to_vec(), b"v".to_vec())]));
    let view = StateView::new(&store);
    let root = view.root().unwrap();
    let proof = view.prove(b"k").unwrap();
    assert!(proof.siblings.is_empty());
    proof.verify(&root, b"k", Some(b"v")).unwrap();
    let absent = view.prove(b"j").unwrap();
    assert!(matches!(absent.terminal, Terminal::OtherLeaf { .. }));
    absent.verify(&root, b"j", None).unwrap();
}

#[test]
fn oversized_proofs_are_refused() {
    let proof = StateProof {
        key: b"k".to_vec(),
        siblings: vec![Hash::ZERO; 257],
        terminal: Terminal::Empty,
    };
    assert!(matches!(
        proof.verify(&Hash::ZERO, b"k", None),
        Err(ProofError::TooDeep { depth: 257, .. })
    ));
}
