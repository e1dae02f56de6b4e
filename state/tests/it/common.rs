//! A reference computation of the state root, written from the documented scheme
//! alone, and helpers that drive a `MemStore` through commits.

use std::collections::BTreeMap;

use accord_state::{Commit, MemStore, Overlay, StateStore, StateView};
use accord_types::{Domain, Hash};
use proptest::prelude::*;

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

const KEY: Domain = Domain::new("accord/state-key");
const VALUE: Domain = Domain::new("accord/state-value");
const LEAF: Domain = Domain::new("accord/state-leaf");
const NODE: Domain = Domain::new("accord/state-node");
const EMPTY: Domain = Domain::new("accord/state-empty");

fn bit(path: &Hash, index: usize) -> bool {
    path.as_bytes()[index / 8] & (0x80 >> (index % 8)) != 0
}

/// The root of `model` by the naive recursive definition: empty subtree → H(empty),
/// one key → its leaf, otherwise the node of the two halves split on the next bit.
pub fn reference_root(model: &Model) -> Hash {
    let mut leaves: Vec<(Hash, Hash)> = model
        .iter()
        .map(|(key, value)| {
            let path = Hash::digest(KEY, key);
            let value_hash = Hash::digest(VALUE, value);
            let leaf = Hash::digest_parts(LEAF, &[path.as_bytes(), value_hash.as_bytes()]);
            (path, leaf)
        })
        .collect();
    leaves.sort();
    subtree(&leaves, 0)
}

fn subtree(leaves: &[(Hash, Hash)], depth: usize) -> Hash {
    match leaves {
        [] => Hash::digest(EMPTY, b""),
        [(_, leaf)] => *leaf,
        _ => {
            let split = leaves.partition_point(|(path, _)| !bit(path, depth));
            let (left, right) = leaves.split_at(split);
            let left = subtree(left, depth + 1);
            let right = subtree(right, depth + 1);
            Hash::digest_parts(NODE, &[left.as_bytes(), right.as_bytes()])
        }
    }
}

/// One write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

impl Write {
    pub fn apply_to(&self, overlay: &mut Overlay<'_>) {
        match self {
            Self::Put(key, value) => overlay.put(key.clone(), value.clone()),
            Self::Delete(key) => overlay.delete(key.clone()),
        }
    }

    pub fn apply_to_model(&self, model: &mut Model) {
        match self {
            Self::Put(key, value) => {
                model.insert(key.clone(), value.clone());
            }
            Self::Delete(key) => {
                model.remove(key);
            }
        }
    }
}

/// Commits `writes` on top of `store`, writes the batch, and checks that the stored
/// root is the committed one.
pub fn commit_writes(store: &mut MemStore, writes: &[Write]) -> Commit {
    let mut overlay = Overlay::new(StateView::new(store));
    for write in writes {
        write.apply_to(&mut overlay);
    }
    let commit = overlay.commit().unwrap();
    store.write(&commit.batch).unwrap();
    assert_eq!(StateView::new(store).root().unwrap(), commit.root);
    commit
}

/// A store holding exactly `model`, built in one commit.
pub fn store_of(model: &Model) -> MemStore {
    let mut store = MemStore::new();
    let writes: Vec<Write> = model
        .iter()
        .map(|(k, v)| Write::Put(k.clone(), v.clone()))
        .collect();
    commit_writes(&mut store, &writes);
    store
}

/// The application entries of a store, through a full scan.
pub fn stored_values(store: &MemStore) -> Model {
    let mut out = Model::new();
    StateView::new(store)
        .scan_prefix(b"", &mut |k, v| {
            out.insert(k.to_vec(), v.to_vec());
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    out
}

/// Keys from a small space (so writes collide and prefixes are shared), plus some
/// arbitrary ones.
pub fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (0u8..48).prop_map(|i| vec![i % 3, i]),
        1 => (0u8..3).prop_map(|i| vec![i]),
        1 => Just(Vec::new()),
        2 => proptest::collection::vec(any::<u8>(), 0..6),
    ]
}

pub fn value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..8)
}

pub fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        3 => (key(), value()).prop_map(|(k, v)| Write::Put(k, v)),
        2 => key().prop_map(Write::Delete),
    ]
}

pub fn model(max: usize) -> impl Strategy<Value = Model> {
    proptest::collection::btree_map(key(), value(), 0..max)
}

/// A deterministic pseudo-random sequence (splitmix64) for the larger tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
