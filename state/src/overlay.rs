//! Writes collected on top of a state view, in nested layers, and their commit into a
//! new root and a raw write batch.
//!
//! ```text
//!   nested layer n   ─┐ begin_layer / commit_layer (fold down) / revert_layer (drop)
//!   …                 │ reads look top-down, then in the view
//!   base layer       ─┘ the block's writes
//!   StateView          the stored state
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::{Bound, ControlFlow};

use accord_types::Hash;
use rayon::prelude::*;

use crate::error::{short_hex, Error, Result};
use crate::limits::MAX_VALUE_BYTES;
use crate::state::{check_key, value_key, StateView, ROOT_KEY};
use crate::store::WriteBatch;
use crate::tree::{key_path, value_hash, Leaf, EMPTY_ROOT};
use crate::update::{self, Change, RawOp};

/// Writes of one layer: `Some` puts, `None` deletes.
type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Writes on top of a view; reads see the overlay's own writes. Supports nested layers
/// so a caller can undo one transaction's writes without touching the block's.
pub struct Overlay<'a> {
    view: StateView<'a>,
    /// The writes of the whole overlay, below every nested layer.
    base: Writes,
    /// Open nested layers, innermost last.
    nested: Vec<Writes>,
}

impl fmt::Debug for Overlay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Overlay")
            .field("base_writes", &self.base.len())
            .field("open_layers", &self.nested.len())
            .finish_non_exhaustive()
    }
}

/// The result of committing an overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The new state root.
    pub root: Hash,
    /// Raw operations that turn the store the view read into the new state: values,
    /// tree pages added, changed and removed, and the root.
    pub batch: WriteBatch,
    /// Number of distinct application keys written.
    pub touched: usize,
}

impl<'a> Overlay<'a> {
    /// An overlay with no writes over `view`.
    pub fn new(view: StateView<'a>) -> Self {
        Self {
            view,
            base: Writes::new(),
            nested: Vec::new(),
        }
    }

    /// The view under the overlay.
    pub fn view(&self) -> StateView<'a> {
        self.view
    }

    /// The value under `key`, as written in the overlay or else as stored.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        for layer in self.nested.iter().rev().chain(std::iter::once(&self.base)) {
            if let Some(value) = layer.get(key) {
                return Ok(value.clone());
            }
        }
        self.view.get(key)
    }

    /// Writes `value` under `key` (limits are checked at [`Overlay::commit`]).
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.top().insert(key, Some(value));
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.top().insert(key, None);
    }

    fn top(&mut self) -> &mut Writes {
        self.nested.last_mut().unwrap_or(&mut self.base)
    }

    /// Merged scan: base entries and overlay writes (deletes hide base entries),
    /// ascending key order, until `f` breaks.
    // The visitor type is the store contract's, spelled out for implementors.
    #[allow(clippy::type_complexity)]
    pub fn scan_prefix(
        &self,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<()> {
        let pending = self.writes_under(prefix);
        let mut pending = pending.into_iter().peekable();
        let mut stopped = false;
        self.view.scan_prefix(prefix, &mut |key, stored| {
            while let Some((written, value)) = pending.next_if(|(written, _)| *written < key) {
                if let Some(value) = value {
                    if f(written, value).is_break() {
                        stopped = true;
                        return ControlFlow::Break(());
                    }
                }
            }
            let flow = match pending.next_if(|(written, _)| *written == key) {
                Some((_, Some(value))) => f(key, value),
                Some((_, None)) => ControlFlow::Continue(()),
                None => f(key, stored),
            };
            if flow.is_break() {
                stopped = true;
            }
            flow
        })?;
        if stopped {
            return Ok(());
        }
        for (written, value) in pending {
            if let Some(value) = value {
                if f(written, value).is_break() {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The overlay's writes under `prefix`, newest layer winning, in key order.
    fn writes_under<'s>(&'s self, prefix: &'s [u8]) -> Vec<(&'s [u8], Option<&'s [u8]>)> {
        if self.nested.is_empty() {
            return under(&self.base, prefix).collect();
        }
        let mut merged: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
        for layer in std::iter::once(&self.base).chain(&self.nested) {
            merged.extend(under(layer, prefix));
        }
        merged.into_iter().collect()
    }

    /// Starts a nested layer; `commit_layer` folds it into the one below,
    /// `revert_layer` drops it.
    pub fn begin_layer(&mut self) {
        self.nested.push(Writes::new());
    }

    /// Folds the innermost nested layer into the one below.
    pub fn commit_layer(&mut self) -> Result<()> {
        let layer = self.nested.pop().ok_or(Error::NoOpenLayer {
            operation: "commit",
        })?;
        fold(self.top(), layer);
        Ok(())
    }

    /// Drops the innermost nested layer and its writes.
    pub fn revert_layer(&mut self) -> Result<()> {
        self.nested.pop().ok_or(Error::NoOpenLayer {
            operation: "revert",
        })?;
        Ok(())
    }

    /// Number of nested layers open.
    pub fn open_layers(&self) -> usize {
        self.nested.len()
    }

    /// Number of distinct application keys written so far.
    pub fn touched(&self) -> usize {
        if self.nested.is_empty() {
            return self.base.len();
        }
        let mut keys: BTreeSet<&[u8]> = self.base.keys().map(Vec::as_slice).collect();
        for layer in &self.nested {
            keys.extend(layer.keys().map(Vec::as_slice));
        }
        keys.len()
    }

    /// Folds all layers and computes the new root and the raw batch (application
    /// values, tree pages added, changed and removed, and the root). The work is in
    /// proportion to the keys written times the depth of the tree.
    pub fn commit(mut self) -> Result<Commit> {
        while let Some(layer) = self.nested.pop() {
            fold(self.top(), layer);
        }
        let old_root = self.view.root()?;
        let writes: Vec<(Vec<u8>, Option<Vec<u8>>)> =
            std::mem::take(&mut self.base).into_iter().collect();
        let touched = writes.len();
        for (key, value) in &writes {
            check_key(key)?;
            if let Some(value) = value.as_ref().filter(|v| v.len() > MAX_VALUE_BYTES) {
                return Err(Error::ValueTooLarge {
                    key: short_hex(key),
                    len: value.len(),
                    max: MAX_VALUE_BYTES,
                });
            }
        }
        let change = |(key, value): &(Vec<u8>, Option<Vec<u8>>)| {
            let path = key_path(key);
            match value {
                Some(value) => Change::Put(Leaf::new(path, value_hash(value))),
                None => Change::Delete(path),
            }
        };
        let mut changes: Vec<Change> = if touched >= update::PARALLEL_MIN_CHANGES {
            writes.par_iter().map(change).collect()
        } else {
            writes.iter().map(change).collect()
        };
        let mut ops: Vec<RawOp> = Vec::with_capacity(touched.saturating_mul(2).saturating_add(1));
        ops.extend(
            writes
                .into_iter()
                .map(|(key, value)| (value_key(&key), value)),
        );
        update::sort_by_path(&mut changes);
        if let Some(pair) = changes
            .windows(2)
            .find(|w| matches!(w, [a, b] if a.path() == b.path()))
        {
            let path = pair.first().map(|c| *c.path()).unwrap_or_default();
            return Err(Error::PathCollision { path });
        }
        let root = update::apply(self.view.store(), old_root, &changes, &mut ops)?;
        if root != old_root {
            let stored = (root != EMPTY_ROOT).then(|| root.as_bytes().to_vec());
            ops.push((ROOT_KEY.to_vec(), stored));
        }
        Ok(Commit {
            root,
            batch: ops.into_iter().collect(),
            touched,
        })
    }
}

/// The writes of `layer` under `prefix`, in key order.
fn under<'l>(
    layer: &'l Writes,
    prefix: &'l [u8],
) -> impl Iterator<Item = (&'l [u8], Option<&'l [u8]>)> {
    layer
        .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(move |(key, _)| key.starts_with(prefix))
        .map(|(key, value)| (key.as_slice(), value.as_deref()))
}

/// Folds `upper` (newer) into `lower`: on a shared key `upper`'s write wins.
fn fold(lower: &mut Writes, mut upper: Writes) {
    if upper.len() > lower.len() {
        // Insert the smaller map into the larger one.
        std::mem::swap(lower, &mut upper);
        for (key, value) in upper {
            lower.entry(key).or_insert(value);
        }
    } else {
        lower.extend(upper);
    }
}
