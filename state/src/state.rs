//! The authenticated layer over a raw store: where values, tree pages and the root live
//! in the raw keyspace, and read access to them.
//!
//! ```text
//!   0x01 ‖ key                     application value
//!   0x02 ‖ path nibbles            tree page, one byte per nibble of its prefix (see `tree`)
//!   0x03 ‖ "root"                  state root (absent for the empty state)
//! ```

use std::fmt;
use std::ops::ControlFlow;

use accord_types::Hash;

use crate::error::{Error, Result};
pub use crate::limits::{MAX_KEY_BYTES, MAX_VALUE_BYTES};
use crate::proof::{StateProof, Terminal};
use crate::store::StateStore;
use crate::tree::{key_path, nibble, value_hash, Subtree, EMPTY_ROOT, MAX_PAGE_DEPTH, PAGE_LEVELS};
use crate::update::read_page;

/// Raw key prefix of application values: `0x01 ‖ key`.
pub const VALUE_PREFIX: u8 = 0x01;
/// Raw key prefix of tree pages: `0x02` then the page's path prefix, one byte per nibble.
pub const TREE_PREFIX: u8 = crate::tree::TREE_PREFIX;
/// Raw key prefix of metadata.
pub const META_PREFIX: u8 = 0x03;
/// Raw key of the state root (32 bytes; absent for the empty state).
pub const ROOT_KEY: &[u8] = b"\x03root";

/// The raw key of an application key's value.
pub fn value_key(key: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(key.len() + 1);
    raw.push(VALUE_PREFIX);
    raw.extend_from_slice(key);
    raw
}

pub(crate) fn check_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::KeyTooLarge {
            len: key.len(),
            max: MAX_KEY_BYTES,
        });
    }
    Ok(())
}

/// Read access to the authenticated state kept in a raw store. Application keys and
/// the tree's own nodes live in separate namespaces of the raw keyspace: first byte
/// 0x01 = application values, 0x02 = tree pages, 0x03 = metadata such as the root.
#[derive(Clone, Copy)]
pub struct StateView<'a> {
    store: &'a dyn StateStore,
}

impl fmt::Debug for StateView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateView").finish_non_exhaustive()
    }
}

impl<'a> StateView<'a> {
    /// A view of the state in `store`.
    pub fn new(store: &'a dyn StateStore) -> Self {
        Self { store }
    }

    /// The raw store under the view.
    pub fn store(&self) -> &'a dyn StateStore {
        self.store
    }

    /// The value under an application key.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        self.store.get(&value_key(key))
    }

    /// Visits every application key starting with `prefix` (without the namespace
    /// byte) and its value, in ascending key order, until `f` breaks.
    // The visitor type is the store contract's, spelled out for implementors.
    #[allow(clippy::type_complexity)]
    pub fn scan_prefix(
        &self,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<()> {
        self.store
            .scan_prefix(&value_key(prefix), &mut |raw, value| match raw.get(1..) {
                Some(key) => f(key, value),
                None => ControlFlow::Continue(()),
            })
    }

    /// The state root; [`crate::EMPTY_ROOT`] for the empty state.
    pub fn root(&self) -> Result<Hash> {
        match self.store.get(ROOT_KEY)? {
            None => Ok(EMPTY_ROOT),
            Some(bytes) => <[u8; 32]>::try_from(bytes.as_slice())
                .map(Hash::from_bytes)
                .map_err(|_| {
                    Error::corrupt(
                        "state root",
                        ROOT_KEY,
                        format!("{} bytes, expected 32", bytes.len()),
                    )
                }),
        }
    }

    /// A proof of the value under `key`, or of its absence, against [`StateView::root`].
    ///
    /// The proof is checked before it is returned: a tree that does not lead to the
    /// stored root, or disagrees with the stored value, is reported as corruption.
    pub fn prove(&self, key: &[u8]) -> Result<StateProof> {
        check_key(key)?;
        let root = self.root()?;
        let path = key_path(key);
        let mut siblings = Vec::new();
        let end = if root == EMPTY_ROOT {
            Subtree::Empty
        } else {
            self.walk(&path, &mut siblings)?
        };
        let value = self.get(key)?;
        let terminal = match (end, value) {
            (Subtree::Leaf(leaf), Some(value)) if leaf.path == path => {
                if value_hash(&value) != leaf.value_hash {
                    return Err(Error::corrupt(
                        "value",
                        &value_key(key),
                        "the value does not match its leaf in the tree",
                    ));
                }
                Terminal::Value { value }
            }
            (Subtree::Leaf(leaf), None) if leaf.path == path => {
                return Err(Error::corrupt(
                    "value",
                    &value_key(key),
                    "the tree has a leaf for the key but no value is stored",
                ));
            }
            (_, Some(_)) => {
                return Err(Error::corrupt(
                    "value",
                    &value_key(key),
                    "a value is stored but the tree has no leaf for the key",
                ));
            }
            (Subtree::Leaf(leaf), None) => Terminal::OtherLeaf {
                key_path: leaf.path,
                value_hash: leaf.value_hash,
            },
            (Subtree::Empty | Subtree::Node(_), None) => Terminal::Empty,
        };
        let proof = StateProof {
            key: key.to_vec(),
            siblings,
            terminal,
        };
        match proof.computed_root() {
            Ok(computed) if computed == root => Ok(proof),
            Ok(computed) => Err(Error::corrupt(
                "tree page",
                ROOT_KEY,
                format!(
                    "the tree on the key's path leads to {computed}, not the stored root {root}"
                ),
            )),
            Err(error) => Err(Error::corrupt(
                "tree page",
                ROOT_KEY,
                format!("the tree on the key's path gives a malformed proof: {error}"),
            )),
        }
    }

    /// Walks `path` down from the root page, collecting siblings, to the empty
    /// subtree or the leaf where it ends.
    fn walk(&self, path: &Hash, siblings: &mut Vec<Hash>) -> Result<Subtree> {
        for depth in 0..=MAX_PAGE_DEPTH {
            let levels = read_page(self.store, depth, path)?.levels();
            let slot = nibble(path, depth);
            for level in 0..PAGE_LEVELS {
                let index = usize::from(slot >> (PAGE_LEVELS - level));
                match levels.level(level).get(index) {
                    Some(Subtree::Node(_)) => {
                        let child = usize::from(slot >> (PAGE_LEVELS - level - 1));
                        let sibling = levels.level(level + 1).get(child ^ 1);
                        siblings.push(sibling.map_or(EMPTY_ROOT, Subtree::hash));
                    }
                    Some(end) => return Ok(*end),
                    None => return Ok(Subtree::Empty),
                }
            }
            match levels.level(PAGE_LEVELS).get(usize::from(slot)) {
                Some(Subtree::Node(_)) => {}
                Some(end) => return Ok(*end),
                None => return Ok(Subtree::Empty),
            }
        }
        Err(Error::corrupt(
            "tree page",
            ROOT_KEY,
            "the key's path runs deeper than 256 bits",
        ))
    }
}
