//! The root is a function of the key/value set: history independence, agreement with
//! the reference computation, and a store layout that does not depend on history.

use accord_state::{MemStore, Overlay, StateView, EMPTY_ROOT};
use proptest::prelude::*;

use crate::common::{
    commit_writes, model, reference_root, store_of, stored_values, write, Model, Rng, Write,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any sequence of commits ends at the root of the final map, computed fresh in one
    /// commit and by the reference, and the store itself is the one a fresh build gives.
    #[test]
    fn root_depends_only_on_the_final_map(
        initial in model(40),
        blocks in proptest::collection::vec(proptest::collection::vec(write(), 0..40), 1..5),
    ) {
        let mut store = store_of(&initial);
        let mut model = initial;
        prop_assert_eq!(StateView::new(&store).root().unwrap(), reference_root(&model));
        for block in &blocks {
            let commit = commit_writes(&mut store, block);
            for write in block {
                write.apply_to_model(&mut model);
            }
            prop_assert_eq!(commit.root, reference_root(&model));
            prop_assert_eq!(stored_values(&store), model.clone());
        }
        let fresh = store_of(&model);
        prop_assert_eq!(StateView::new(&fresh).root().unwrap(), reference_root(&model));
        prop_assert!(store == fresh, "the store differs from a fresh build of the same map");
    }

    /// Deleting everything returns the store to empty and the root to `EMPTY_ROOT`.
    #[test]
    fn deleting_everything_empties_the_store(initial in model(60)) {
        let mut store = store_of(&initial);
        let deletes: Vec<Write> = initial.keys().map(|k| Write::Delete(k.clone())).collect();
        let commit = commit_writes(&mut store, &deletes);
        prop_assert_eq!(commit.root, EMPTY_ROOT);
        prop_assert!(store.is_empty());
    }
}

#[test]
fn empty_state_has_the_empty_root() {
    let store = MemStore::new();
    assert_eq!(StateView::new(&store).root().unwrap(), EMPTY_ROOT);
    assert_eq!(reference_root(&Model::new()), EMPTY_ROOT);
    let commit = Overlay::new(StateView::new(&store)).commit().unwrap();
    assert_eq!(commit.root, EMPTY_ROOT);
    assert!(commit.batch.is_empty());
    assert_eq!(commit.touched, 0);
}

#[test]
fn one_key_roots_at_its_leaf_and_deletes_of_absent_keys_change_nothing() {
    let mut store = MemStore::new();
    let commit = commit_writes(&mut store, &[Write::Put(b"k".to_vec(), b"v".to_vec())]);
    let model = Model::from([(b"k".to_vec(), b"v".to_vec())]);
    assert_eq!(commit.root, reference_root(&model));
    let before = store.clone();
    let commit = commit_writes(&mut store, &[Write::Delete(b"absent".to_vec())]);
    assert_eq!(commit.root, reference_root(&model));
    assert_eq!(commit.touched, 1);
    // Only the (no-op) delete of the value: no page and no root is rewritten.
    assert_eq!(commit.batch.len(), 1);
    assert_eq!(store, before);
}

/// Thousands of keys over several commits: deep pages, leaves pushed down into new
/// pages and pages collapsing back into leaves.
#[test]
fn large_states_agree_with_the_reference_over_many_commits() {
    let mut rng = Rng(7);
    let mut model = Model::new();
    let mut store = MemStore::new();
    for (block, size) in [(0, 4000), (1, 1500), (2, 3000), (3, 500), (4, 2500)] {
        let mut writes = Vec::new();
        for _ in 0..size {
            let key = rng.below(6000).to_be_bytes().to_vec();
            // Early blocks mostly insert, later ones mostly delete.
            if rng.below(5) < 4 - block.min(3) {
                writes.push(Write::Put(key, rng.next().to_le_bytes().to_vec()));
            } else {
                writes.push(Write::Delete(key));
            }
        }
        let commit = commit_writes(&mut store, &writes);
        for write in &writes {
            write.apply_to_model(&mut model);
        }
        assert_eq!(commit.root, reference_root(&model), "block {block}");
    }
    assert_eq!(stored_values(&store), model);
    assert!(store == store_of(&model));
}

/// Keys up to the limit and values up to the limit are accepted; longer ones are
/// refused at commit (and at reads, for keys).
#[test]
fn limits_are_enforced() {
    use accord_state::{Error, MAX_KEY_BYTES, MAX_VALUE_BYTES};
    let mut store = MemStore::new();
    let long_key = vec![1u8; MAX_KEY_BYTES];
    let big_value = vec![2u8; MAX_VALUE_BYTES];
    let commit = commit_writes(
        &mut store,
        &[Write::Put(long_key.clone(), big_value.clone())],
    );
    assert_eq!(
        commit.root,
        reference_root(&Model::from([(long_key, big_value)]))
    );

    let view = StateView::new(&store);
    let too_long = vec![1u8; MAX_KEY_BYTES + 1];
    assert!(matches!(
        view.get(&too_long),
        Err(Error::KeyTooLarge { .. })
    ));
    assert!(matches!(
        view.prove(&too_long),
        Err(Error::KeyTooLarge { .. })
    ));

    let mut overlay = Overlay::new(view);
    overlay.put(too_long.clone(), Vec::new());
    assert!(matches!(
        overlay.get(&too_long),
        Err(Error::KeyTooLarge { .. })
    ));
    assert!(matches!(overlay.commit(), Err(Error::KeyTooLarge { .. })));

    let mut overlay = Overlay::new(view);
    overlay.put(b"k".to_vec(), vec![0u8; MAX_VALUE_BYTES + 1]);
    assert!(matches!(overlay.commit(), Err(Error::ValueTooLarge { .. })));
}
