//! Binary Merkle trees over ordered lists of hashes (transactions, receipts, evidence).
//!
//! ```text
//!      root = H("accord/merkle-root", count ‖ top)
//!                              │
//!                top = node(n01, l2)          leaf(x) = H("accord/merkle-leaf", x)
//!                 /            \              node(l, r) = H("accord/merkle-node", l ‖ r)
//!        n01 = node(l0, l1)    l2 (promoted)  top of an empty tree = 32 zero bytes
//!         /      \
//!       l0        l1
//! ```
//!
//! Leaves and inner nodes hash in different domains, so an inner node can never pass
//! for a leaf. A level with an odd count promotes its last node unchanged rather than
//! duplicating it, so two different lists never share a root. The root commits to the
//! item count, so a proof cannot lie about the size of the list.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::hash::{Domain, Hash};

/// Most leaves a proof may claim; deeper trees are refused before any work.
const MAX_PROOF_DEPTH: usize = 64;

fn leaf(item: &Hash) -> Hash {
    Hash::digest(Domain::MERKLE_LEAF, item.as_bytes())
}

fn node(left: &Hash, right: &Hash) -> Hash {
    Hash::digest_parts(Domain::MERKLE_NODE, &[left.as_bytes(), right.as_bytes()])
}

fn finalize(count: u64, top: &Hash) -> Hash {
    Hash::digest_parts(Domain::MERKLE_ROOT, &[&count.to_le_bytes(), top.as_bytes()])
}

/// The root of the empty list.
pub fn empty_root() -> Hash {
    finalize(0, &Hash::ZERO)
}

/// The Merkle root of `items`, in order.
pub fn root(items: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = items.iter().map(leaf).collect();
    while level.len() > 1 {
        level = next_level(&level);
    }
    finalize(items.len() as u64, level.first().unwrap_or(&Hash::ZERO))
}

fn next_level(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => node(left, right),
            [single] => *single,
            _ => Hash::ZERO,
        })
        .collect()
}

/// Proof that an item sits at `index` in a list of `leaf_count` items with a given root.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
pub struct Proof {
    /// Position of the item.
    pub index: u64,
    /// Number of items in the list.
    pub leaf_count: u64,
    /// Sibling hashes from the leaf level upwards (promoted levels have none).
    pub siblings: Vec<Hash>,
}

/// A proof for the item at `index`, or `None` if out of range. To prove many items
/// of one list, build a [`Tree`] once.
pub fn prove(items: &[Hash], index: usize) -> Option<Proof> {
    Tree::new(items).prove(index)
}

/// A Merkle tree kept in memory with all its levels, to prove many items of one list
/// (every receipt of a block, say) in time linear in the list.
#[derive(Debug, Clone)]
pub struct Tree {
    /// `levels[0]` are the leaves; the last level holds the top node.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// Builds the tree of `items`.
    pub fn new(items: &[Hash]) -> Self {
        let mut levels = vec![items.iter().map(leaf).collect::<Vec<_>>()];
        while let Some(level) = levels.last().filter(|l| l.len() > 1) {
            let next = next_level(level);
            levels.push(next);
        }
        Self { levels }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root, equal to [`root`] of the same items.
    pub fn root(&self) -> Hash {
        let top = self
            .levels
            .last()
            .and_then(|l| l.first())
            .unwrap_or(&Hash::ZERO);
        finalize(self.len() as u64, top)
    }

    /// A proof for the item at `index`, or `None` if out of range.
    pub fn prove(&self, index: usize) -> Option<Proof> {
        if index >= self.len() {
            return None;
        }
        let mut position = index;
        let mut siblings = Vec::new();
        for level in self.levels.iter().filter(|l| l.len() > 1) {
            let sibling = if position % 2 == 1 {
                position.checked_sub(1)
            } else {
                position.checked_add(1)
            };
            if let Some(hash) = sibling.and_then(|s| level.get(s)) {
                siblings.push(*hash);
            }
            position /= 2;
        }
        Some(Proof {
            index: index as u64,
            leaf_count: self.len() as u64,
            siblings,
        })
    }
}

impl Proof {
    /// Whether `item` is at this proof's index under `root`.
    pub fn verify(&self, root: &Hash, item: &Hash) -> bool {
        if self.index >= self.leaf_count || self.siblings.len() > MAX_PROOF_DEPTH {
            return false;
        }
        let mut hash = leaf(item);
        let mut position = self.index;
        let mut width = self.leaf_count;
        let mut siblings = self.siblings.iter();
        while width > 1 {
            if position % 2 == 1 {
                let Some(left) = siblings.next() else {
                    return false;
                };
                hash = node(left, &hash);
            } else if position.saturating_add(1) < width {
                let Some(right) = siblings.next() else {
                    return false;
                };
                hash = node(&hash, right);
            }
            // Otherwise this is the promoted last node of an odd level.
            position /= 2;
            width = width.div_ceil(2);
        }
        siblings.next().is_none() && &finalize(self.leaf_count, &hash) == root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn items(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| Hash::digest(Domain::new("test"), &(i as u64).to_le_bytes()))
            .collect()
    }

    #[test]
    fn distinct_lists_have_distinct_roots() {
        let three = items(3);
        let mut duplicated_last = three.clone();
        duplicated_last.push(three[2]);
        assert_ne!(root(&three), root(&duplicated_last));
        assert_ne!(root(&[]), root(&items(1)));
        // An inner node cannot pass as a leaf.
        let two = items(2);
        assert_ne!(root(&two), root(&[node(&leaf(&two[0]), &leaf(&two[1]))]));
    }

    proptest! {
        #[test]
        fn every_proof_verifies_and_tampering_fails(n in 1usize..70, pick in any::<prop::sample::Index>(), flip in 0usize..32) {
            let list = items(n);
            let i = pick.index(n);
            let r = root(&list);
            let proof = prove(&list, i).unwrap();
            prop_assert!(proof.verify(&r, &list[i]));
            // Another item at the same index fails.
            let other = Hash::digest(Domain::new("other"), &[1]);
            prop_assert!(!proof.verify(&r, &other));
            // A changed sibling fails.
            if !proof.siblings.is_empty() {
                let mut bad = proof.clone();
                let mut bytes = bad.siblings[0].to_bytes();
                bytes[flip] ^= 1;
                bad.siblings[0] = Hash::from_bytes(bytes);
                prop_assert!(!bad.verify(&r, &list[i]));
            }
            // A moved index or a changed count fails (unless the list has one item).
            let mut moved = proof.clone();
            moved.index = (moved.index + 1) % n as u64;
            prop_assert!(n == 1 || !moved.verify(&r, &list[i]));
            let mut recounted = proof.clone();
            recounted.leaf_count += 1;
            prop_assert!(!recounted.verify(&r, &list[i]));
            // An extra sibling fails.
            let mut longer = proof;
            longer.siblings.push(other);
            prop_assert!(!longer.verify(&r, &list[i]));
        }
    }

    #[test]
    fn a_tree_proves_like_the_list() {
        for n in [0, 1, 2, 3, 7, 64, 65] {
            let list = items(n);
            let tree = Tree::new(&list);
            assert_eq!(tree.root(), root(&list), "{n}");
            assert_eq!(tree.len(), n);
            for (i, item) in list.iter().enumerate() {
                let proof = tree.prove(i).unwrap();
                assert!(proof.verify(&tree.root(), item), "{n} {i}");
            }
            assert!(tree.prove(n).is_none());
        }
    }

    #[test]
    fn out_of_range_is_refused() {
        assert!(prove(&items(3), 3).is_none());
        let proof = Proof {
            index: 5,
            leaf_count: 5,
            siblings: vec![],
        };
        assert!(!proof.verify(&root(&items(5)), &items(5)[0]));
    }
}
