//! The same writes give the same root and byte-identical batches, however they were
//! ordered or layered.

use accord_state::{MemStore, Overlay, StateStore, StateView};
use proptest::prelude::*;

use crate::common::{model, store_of, write, Write};

fn batch_bytes(commit: &accord_state::Commit) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in commit.batch.iter() {
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key);
        match value {
            Some(value) => {
                out.push(1);
                out.extend_from_slice(&(value.len() as u32).to_le_bytes());
                out.extend_from_slice(value);
            }
            None => out.push(0),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn same_writes_same_commit(
        initial in model(40),
        writes in proptest::collection::vec(write(), 0..60),
        split in 0usize..60,
    ) {
        let store_a = store_of(&initial);
        let store_b: MemStore = store_of(&initial);

        // Straight into the base layer.
        let mut a = Overlay::new(StateView::new(&store_a));
        for w in &writes {
            w.apply_to(&mut a);
        }
        let a = a.commit().unwrap();

        // Through nested layers, one reverted layer of junk in the middle, and the
        // last layer left open.
        let mut b = Overlay::new(StateView::new(&store_b));
        let (first, second) = writes.split_at(split.min(writes.len()));
        b.begin_layer();
        for w in first {
            w.apply_to(&mut b);
        }
        b.commit_layer().unwrap();
        b.begin_layer();
        b.put(b"junk".to_vec(), b"junk".to_vec());
        b.delete(vec![0, 0]);
        b.revert_layer().unwrap();
        b.begin_layer();
        for w in second {
            w.apply_to(&mut b);
        }
        let b = b.commit().unwrap();

        prop_assert_eq!(a.root, b.root);
        prop_assert_eq!(batch_bytes(&a), batch_bytes(&b));
        prop_assert_eq!(&a, &b);
    }
}

#[test]
fn repeated_runs_give_identical_batches() {
    let run = || {
        let mut store = MemStore::new();
        let mut commits = Vec::new();
        for block in 0u32..4 {
            let mut overlay = Overlay::new(StateView::new(&store));
            // Above the size where commits work on the thread pool.
            for i in 0u32..3000 {
                let key = (i * 7 + block * 131) % 5000;
                if (i + block) % 5 == 0 {
                    Write::Delete(key.to_be_bytes().to_vec()).apply_to(&mut overlay);
                } else {
                    overlay.put(
                        key.to_be_bytes().to_vec(),
                        (i ^ block).to_le_bytes().to_vec(),
                    );
                }
            }
            let commit = overlay.commit().unwrap();
            store.write(&commit.batch).unwrap();
            commits.push((commit.root, batch_bytes(&commit)));
        }
        commits
    };
    assert_eq!(run(), run());
}
