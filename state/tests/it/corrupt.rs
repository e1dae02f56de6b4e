//! A store whose tree pages or root are missing or garbled gives errors, never panics,
//! and never a proof that does not hold.

use accord_state::{
    Error, MemStore, Overlay, StateStore, StateView, WriteBatch, ROOT_KEY, TREE_PREFIX,
};
use proptest::prelude::*;

use crate::common::{store_of, Model};

fn state() -> Model {
    (0u32..400)
        .map(|i| (i.to_be_bytes().to_vec(), vec![i as u8; 3]))
        .collect()
}

fn pages(store: &MemStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    store
        .iter()
        .filter(|(k, _)| k.first() == Some(&TREE_PREFIX))
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

fn replace(store: &mut MemStore, key: Vec<u8>, value: Option<Vec<u8>>) {
    let mut batch = WriteBatch::new();
    match value {
        Some(value) => batch.put(key, value),
        None => batch.delete(key),
    }
    store.write(&batch).unwrap();
}

/// Proves every key and commits a rewrite of every key; returns how many proofs failed
/// and whether the commit failed. Checks that each failure is a corruption and each
/// proof given holds with the true value under the stored root.
fn exercise(store: &MemStore, model: &Model) -> (usize, bool) {
    let view = StateView::new(store);
    let Ok(root) = view.root() else {
        return (model.len(), true);
    };
    let mut failed = 0;
    for (key, value) in model {
        match view.prove(key) {
            Ok(proof) => assert_eq!(proof.verify(&root, key, Some(value)), Ok(())),
            Err(error) => {
                assert!(error.is_corruption(), "{error}");
                failed += 1;
            }
        }
    }
    let mut overlay = Overlay::new(view);
    for (key, value) in model {
        overlay.put(key.clone(), [value.as_slice(), b"!"].concat());
    }
    let commit_failed = match overlay.commit() {
        Ok(_) => false,
        Err(error) => {
            assert!(error.is_corruption(), "{error}");
            true
        }
    };
    (failed, commit_failed)
}

#[test]
fn every_missing_page_is_reported() {
    let model = state();
    let clean = store_of(&model);
    assert_eq!(exercise(&clean, &model), (0, false));
    for (key, _) in pages(&clean) {
        let mut store = clean.clone();
        replace(&mut store, key.clone(), None);
        let (failed, commit_failed) = exercise(&store, &model);
        assert!(
            failed > 0,
            "page {key:?} deleted, yet every proof succeeded"
        );
        assert!(
            commit_failed,
            "page {key:?} deleted, yet the commit succeeded"
        );
    }
}

#[test]
fn truncated_and_extended_pages_are_reported() {
    let model = state();
    let clean = store_of(&model);
    for (key, value) in pages(&clean) {
        for garbled in [
            value[..value.len() - 1].to_vec(),
            [value.as_slice(), &[0]].concat(),
            Vec::new(),
            value[..3].to_vec(),
        ] {
            let mut store = clean.clone();
            replace(&mut store, key.clone(), Some(garbled));
            let (failed, commit_failed) = exercise(&store, &model);
            assert!(failed > 0 && commit_failed);
        }
    }
}

#[test]
fn a_bad_root_record_is_reported() {
    let model = state();
    let mut store = store_of(&model);
    replace(&mut store, ROOT_KEY.to_vec(), Some(vec![1, 2, 3]));
    assert!(matches!(
        StateView::new(&store).root(),
        Err(Error::Corrupt { .. })
    ));
    assert_eq!(exercise(&store, &model), (model.len(), true));

    // A root that is not the tree's: every proof fails its self-check.
    let mut store = store_of(&model);
    replace(&mut store, ROOT_KEY.to_vec(), Some(vec![9; 32]));
    let (failed, _) = exercise(&store, &model);
    assert_eq!(failed, model.len());

    // A root with no tree under it.
    let mut store = MemStore::new();
    replace(&mut store, ROOT_KEY.to_vec(), Some(vec![9; 32]));
    assert!(StateView::new(&store)
        .prove(b"k")
        .unwrap_err()
        .is_corruption());
}

#[test]
fn values_that_disagree_with_the_tree_are_reported() {
    let model = state();
    let key = 7u32.to_be_bytes();
    let mut store = store_of(&model);
    replace(
        &mut store,
        accord_state::value_key(&key),
        Some(b"other".to_vec()),
    );
    assert!(StateView::new(&store)
        .prove(&key)
        .unwrap_err()
        .is_corruption());
    replace(&mut store, accord_state::value_key(&key), None);
    assert!(StateView::new(&store)
        .prove(&key)
        .unwrap_err()
        .is_corruption());
    let absent = 9999u32.to_be_bytes();
    replace(
        &mut store,
        accord_state::value_key(&absent),
        Some(b"stray".to_vec()),
    );
    assert!(StateView::new(&store)
        .prove(&absent)
        .unwrap_err()
        .is_corruption());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random bytes written over a random page, or a random byte flipped in it.
    #[test]
    fn garbled_pages_never_panic_nor_mislead(
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
        noise in proptest::collection::vec(any::<u8>(), 0..300),
        use_noise in any::<bool>(),
    ) {
        let model = state();
        let clean = store_of(&model);
        let all = pages(&clean);
        let (key, value) = all[which.index(all.len())].clone();
        let garbled = if use_noise {
            noise
        } else {
            let mut v = value;
            let i = at.index(v.len());
            v[i] ^= xor;
            v
        };
        let mut store = clean;
        replace(&mut store, key, Some(garbled));
        exercise(&store, &model);
    }
}
