//! Folding a block's changes into the tree: the new root and the page writes.
//!
//! The changes, sorted by path, are split among the slots of the root page, then of
//! each page below, so every page on the way to a changed key is read, rebuilt and
//! written once however many of the changed keys lie under it. Untouched subtrees are
//! neither read nor hashed beyond the page that names them. A page that ends up with
//! one key is deleted and its leaf rises into the slot above; a slot that gains a
//! second key becomes a new page.
//!
//! Page writes come out in pre-order, which the page keys make ascending key order, so
//! the batch is built from an already sorted list.

use accord_types::Hash;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::store::StateStore;
use crate::tree::{nibble, page_key, Leaf, Page, Subtree, EMPTY_ROOT, MAX_PAGE_DEPTH, PAGE_SLOTS};

/// Commits of at least this many keys hash them, and update the slots of any page
/// with at least this many changes under it, on the rayon thread pool. The result does
/// not depend on it: writes are gathered in slot order either way.
pub(crate) const PARALLEL_MIN_CHANGES: usize = 512;

/// One key's change, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// The key holds this leaf afterwards.
    Put(Leaf),
    /// The key with this path is absent afterwards.
    Delete(Hash),
}

impl Change {
    pub(crate) fn path(&self) -> &Hash {
        match self {
            Self::Put(leaf) => &leaf.path,
            Self::Delete(path) => path,
        }
    }
}

/// A raw store operation: `Some` puts, `None` deletes.
pub(crate) type RawOp = (Vec<u8>, Option<Vec<u8>>);

/// Applies `changes` (sorted by path, paths distinct) to the tree with root `old_root`
/// in `store`; appends the page writes to `ops` in ascending key order and returns the
/// new root.
pub(crate) fn apply(
    store: &dyn StateStore,
    old_root: Hash,
    changes: &[Change],
    ops: &mut Vec<RawOp>,
) -> Result<Hash> {
    let Some(first) = changes.first() else {
        return Ok(old_root);
    };
    let mut updater = Updater {
        store,
        ops: Vec::new(),
    };
    let (existing, current) = if old_root == EMPTY_ROOT {
        (None, Subtree::Empty)
    } else {
        (
            Some(read_page(store, 0, first.path())?),
            Subtree::Node(old_root),
        )
    };
    let root = updater.update_page(0, existing, current, changes)?.hash();
    ops.extend(updater.ops.into_iter().flatten());
    Ok(root)
}

/// Sorts changes by path.
pub(crate) fn sort_by_path(changes: &mut [Change]) {
    if changes.len() >= PARALLEL_MIN_CHANGES {
        changes.par_sort_unstable_by_key(|change| path_words(change.path()));
    } else {
        changes.sort_unstable_by_key(|change| path_words(change.path()));
    }
}

/// A path as two big-endian words: the same order as its bytes, compared faster.
fn path_words(path: &Hash) -> (u128, u128) {
    let bytes = path.as_bytes();
    let high = bytes.first_chunk::<16>().copied().unwrap_or_default();
    let low = bytes.last_chunk::<16>().copied().unwrap_or_default();
    (u128::from_be_bytes(high), u128::from_be_bytes(low))
}

/// Reads and decodes the page at nibble `depth` on `path`; a missing page is corruption.
pub(crate) fn read_page(store: &dyn StateStore, depth: u8, path: &Hash) -> Result<Page> {
    let key = page_key(depth, path);
    let bytes = store
        .get(&key)?
        .ok_or_else(|| Error::corrupt("tree page", &key, "missing under a non-empty slot"))?;
    Page::decode(depth, path, &bytes).map_err(|reason| Error::corrupt("tree page", &key, reason))
}

struct Updater<'s> {
    store: &'s dyn StateStore,
    /// Page writes in pre-order, which is ascending key order: a page reserves its
    /// entry before the pages below it write theirs, and fills it (or not) after.
    ops: Vec<Option<RawOp>>,
}

impl Updater<'_> {
    /// Applies `changes` (non-empty, all under this page) to the page at nibble `depth`,
    /// `existing` if it is stored, whose subtree is `current` before the changes.
    fn update_page(
        &mut self,
        depth: u8,
        existing: Option<Page>,
        current: Subtree,
        changes: &[Change],
    ) -> Result<Subtree> {
        let Some(first) = changes.first() else {
            return Ok(current);
        };
        let path = *first.path();
        if depth > MAX_PAGE_DEPTH {
            return Err(Error::corrupt(
                "tree page",
                &page_key(depth, &path),
                "two paths do not separate within 256 bits",
            ));
        }
        let stored = existing.is_some();
        let mut page = existing.unwrap_or(Page::EMPTY);
        let entry = self.ops.len();
        self.ops.push(None);
        let groups = slot_groups(depth, changes);
        let mut changed = false;
        if changes.len() >= PARALLEL_MIN_CHANGES {
            // Slots are independent subtrees: update them on the thread pool, each with
            // its own list of writes, then take the writes in slot order (pre-order).
            let store = self.store;
            let slots = page.slots;
            let results: Vec<Result<(Subtree, Vec<Option<RawOp>>)>> = groups
                .par_iter()
                .map(|&(index, group)| {
                    let mut updater = Updater {
                        store,
                        ops: Vec::new(),
                    };
                    let old = slots.get(index).copied().unwrap_or(Subtree::Empty);
                    let new = updater.update_slot(depth, old, group)?;
                    Ok((new, updater.ops))
                })
                .collect();
            for (&(index, _), result) in groups.iter().zip(results) {
                let (new, ops) = result?;
                self.ops.extend(ops);
                if let Some(slot) = page.slots.get_mut(index) {
                    if new != *slot {
                        *slot = new;
                        changed = true;
                    }
                }
            }
        } else {
            for &(index, group) in &groups {
                let Some(slot) = page.slots.get_mut(index) else {
                    continue;
                };
                let new = self.update_slot(depth, *slot, group)?;
                if new != *slot {
                    *slot = new;
                    changed = true;
                }
            }
        }
        if !changed {
            return Ok(current);
        }
        let top = page.top();
        // Below the root a page with one key is not stored: the leaf rises.
        let keep = match top {
            Subtree::Empty => false,
            Subtree::Leaf(_) => depth == 0,
            Subtree::Node(_) => true,
        };
        let op = if keep {
            Some((page_key(depth, &path), Some(page.encode())))
        } else {
            stored.then(|| (page_key(depth, &path), None))
        };
        if let Some(slot) = self.ops.get_mut(entry) {
            *slot = op;
        }
        Ok(top)
    }

    /// The subtree of one slot of the page at nibble `depth` after `group` (non-empty,
    /// all under the slot).
    fn update_slot(&mut self, depth: u8, slot: Subtree, group: &[Change]) -> Result<Subtree> {
        match slot {
            Subtree::Empty => self.build(depth + 1, group),
            Subtree::Node(_) => {
                let Some(first) = group.first() else {
                    return Ok(slot);
                };
                let child = read_page(self.store, depth + 1, first.path())?;
                self.update_page(depth + 1, Some(child), slot, group)
            }
            Subtree::Leaf(leaf) => {
                if let [only] = group {
                    if *only.path() == leaf.path {
                        return Ok(match only {
                            Change::Put(new) => Subtree::Leaf(*new),
                            Change::Delete(_) => Subtree::Empty,
                        });
                    }
                }
                match group.binary_search_by(|c| c.path().cmp(&leaf.path)) {
                    // The group rewrites the slot's key along with others.
                    Ok(_) => self.build(depth + 1, group),
                    Err(_) if group.iter().all(|c| matches!(c, Change::Delete(_))) => Ok(slot),
                    Err(at) => {
                        let (before, after) = split(group, at);
                        let mut merged = Vec::with_capacity(group.len() + 1);
                        merged.extend_from_slice(before);
                        merged.push(Change::Put(leaf));
                        merged.extend_from_slice(after);
                        self.build(depth + 1, &merged)
                    }
                }
            }
        }
    }

    /// The subtree at nibble `depth` holding exactly the puts of `changes`, where
    /// nothing was before.
    fn build(&mut self, depth: u8, changes: &[Change]) -> Result<Subtree> {
        let mut puts = changes.iter().filter_map(|c| match c {
            Change::Put(leaf) => Some(leaf),
            Change::Delete(_) => None,
        });
        match (puts.next(), puts.next()) {
            (None, _) => Ok(Subtree::Empty),
            (Some(leaf), None) => Ok(Subtree::Leaf(*leaf)),
            _ => self.update_page(depth, None, Subtree::Empty, changes),
        }
    }
}

/// `changes` (sorted by path) cut into runs by their slot in the page at nibble `depth`.
fn slot_groups(depth: u8, changes: &[Change]) -> Vec<(usize, &[Change])> {
    let mut groups = Vec::with_capacity(PAGE_SLOTS.min(changes.len()));
    let mut rest = changes;
    while let Some(head) = rest.first() {
        let slot = nibble(head.path(), depth);
        let count = rest
            .iter()
            .position(|c| nibble(c.path(), depth) != slot)
            .unwrap_or(rest.len());
        let (group, tail) = split(rest, count);
        groups.push((usize::from(slot), group));
        rest = tail;
    }
    groups
}

fn split(changes: &[Change], at: usize) -> (&[Change], &[Change]) {
    changes.split_at_checked(at).unwrap_or((changes, &[]))
}
