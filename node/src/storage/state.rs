//! The runtime's state store over the `state` column family, and a full recomputation
//! of the state root from the stored values.

use std::fmt;
use std::ops::ControlFlow;
use std::sync::Arc;

use accord_state::tree::{key_path, leaf_hash, node_hash, path_bit, value_hash, TREE_DEPTH};
use accord_state::{StateStore, WriteBatch, EMPTY_ROOT, VALUE_PREFIX};
use accord_types::Hash;
use rocksdb::{
    ColumnFamily, DBRawIteratorWithThreadMode, PrefixRange, ReadOptions, Snapshot, WriteOptions, DB,
};

use super::keys;

/// [`accord_state::StateStore`] over the `state` column family of the node's database.
///
/// Reads see the latest committed state. [`StateStore::write`] applies a batch
/// atomically and synced, but on its own: the node commits state only through
/// [`super::Storage::commit_block`], which writes it with its block and moves the head;
/// a write here alone leaves the state ahead of the head, which
/// [`super::Storage::check_consistency`] reports.
#[derive(Clone)]
pub struct RocksState {
    db: Arc<DB>,
}

impl fmt::Debug for RocksState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksState")
            .field("path", &self.db.path())
            .finish_non_exhaustive()
    }
}

fn store_error(operation: &'static str, reason: impl fmt::Display) -> accord_state::Error {
    accord_state::Error::Store {
        operation,
        reason: reason.to_string(),
    }
}

fn state_cf(db: &DB) -> accord_state::Result<&ColumnFamily> {
    db.cf_handle(keys::STATE)
        .ok_or_else(|| store_error("open", "the state column family is missing"))
}

/// Bounds on an iterator, so RocksDB stops at the end of the prefix instead of reading
/// the next key beyond it.
fn prefix_bounds(prefix: &[u8]) -> ReadOptions {
    let mut options = ReadOptions::default();
    options.set_iterate_range(PrefixRange(prefix));
    options
}

/// The visitor of [`StateStore::scan_prefix`].
type Visitor<'f> = dyn FnMut(&[u8], &[u8]) -> ControlFlow<()> + 'f;

/// Visits the entries of `prefix` from `iter` until `f` breaks.
fn scan(
    mut iter: DBRawIteratorWithThreadMode<'_, DB>,
    prefix: &[u8],
    f: &mut Visitor<'_>,
) -> accord_state::Result<()> {
    iter.seek(prefix);
    while let Some((key, value)) = iter.item() {
        if !key.starts_with(prefix) || f(key, value).is_break() {
            break;
        }
        iter.next();
    }
    iter.status().map_err(|e| store_error("scan", e))
}

impl RocksState {
    pub(crate) fn new(db: Arc<DB>) -> Self {
        Self { db }
    }

    fn cf(&self) -> accord_state::Result<&ColumnFamily> {
        state_cf(&self.db)
    }
}

impl StateStore for RocksState {
    fn get(&self, key: &[u8]) -> accord_state::Result<Option<Vec<u8>>> {
        self.db
            .get_pinned_cf(self.cf()?, key)
            .map(|value| value.map(|v| v.to_vec()))
            .map_err(|e| store_error("read", e))
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> accord_state::Result<()> {
        let iter = self
            .db
            .raw_iterator_cf_opt(self.cf()?, prefix_bounds(prefix));
        scan(iter, prefix, f)
    }

    fn write(&mut self, batch: &WriteBatch) -> accord_state::Result<()> {
        let cf = self.cf()?;
        let mut rocks = rocksdb::WriteBatch::default();
        for (key, value) in batch.iter() {
            match value {
                Some(value) => rocks.put_cf(cf, key, value),
                None => rocks.delete_cf(cf, key),
            }
        }
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db
            .write_opt(rocks, &options)
            .map_err(|e| store_error("write", e))
    }
}

/// A read-only view of the `state` column family as it was at one moment: every read
/// through it sees the same committed block's state, however many blocks commit
/// meanwhile. Readers that look at several keys (an RPC answer built from a proposal,
/// its tallies and its executions) use one so that the answer is never half of one
/// block and half of the next.
pub struct StateSnapshot<'a> {
    db: &'a DB,
    snapshot: Snapshot<'a>,
}

impl fmt::Debug for StateSnapshot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateSnapshot")
            .field("path", &self.db.path())
            .field("sequence", &self.snapshot.sequence_number())
            .finish_non_exhaustive()
    }
}

impl<'a> StateSnapshot<'a> {
    pub(crate) fn new(db: &'a DB) -> Self {
        Self {
            db,
            snapshot: db.snapshot(),
        }
    }

    fn cf(&self) -> accord_state::Result<&'a ColumnFamily> {
        state_cf(self.db)
    }

    /// The head as of this snapshot: the block whose post-state the snapshot holds.
    pub fn head(&self) -> accord_state::Result<Option<super::Head>> {
        let meta = self
            .db
            .cf_handle(keys::META)
            .ok_or_else(|| store_error("open", "the meta column family is missing"))?;
        let Some(bytes) = self
            .snapshot
            .get_pinned_cf(meta, keys::META_HEAD)
            .map_err(|e| store_error("read", e))?
        else {
            return Ok(None);
        };
        accord_types::codec::decode("head", &bytes, 1024)
            .map(Some)
            .map_err(|e| store_error("read", e))
    }
}

impl StateStore for StateSnapshot<'_> {
    fn get(&self, key: &[u8]) -> accord_state::Result<Option<Vec<u8>>> {
        self.snapshot
            .get_pinned_cf(self.cf()?, key)
            .map(|value| value.map(|v| v.to_vec()))
            .map_err(|e| store_error("read", e))
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> accord_state::Result<()> {
        let iter = self
            .snapshot
            .raw_iterator_cf_opt(self.cf()?, prefix_bounds(prefix));
        scan(iter, prefix, f)
    }

    fn write(&mut self, _: &WriteBatch) -> accord_state::Result<()> {
        Err(store_error("write", "a state snapshot is read-only"))
    }
}

/// The state root recomputed from every application value in `store`, independently of
/// the tree pages and the stored root: the root of the sparse Merkle tree of
/// `accord_state::tree` over the key/value set.
///
/// This reads the whole state and holds 64 bytes per key in memory; the node runs it
/// once at start-up to prove that the stored values are the ones the head commits to.
pub fn recompute_root(store: &dyn StateStore) -> accord_state::Result<Hash> {
    let mut leaves: Vec<(Hash, Hash)> = Vec::new();
    store.scan_prefix(&[VALUE_PREFIX], &mut |raw, value| {
        if let Some(key) = raw.get(1..) {
            leaves.push((key_path(key), value_hash(value)));
        }
        ControlFlow::Continue(())
    })?;
    leaves.sort_unstable_by_key(|(path, _)| *path);
    subtree_root(&leaves, 0)
}

/// Root of the subtree at binary `depth` holding `leaves` (sorted by path, all sharing
/// their first `depth` bits): empty, a lone leaf, or the node of its two halves.
fn subtree_root(leaves: &[(Hash, Hash)], depth: usize) -> accord_state::Result<Hash> {
    match leaves {
        [] => Ok(EMPTY_ROOT),
        [(path, value)] => Ok(leaf_hash(path, value)),
        [(path, _), ..] => {
            if depth >= TREE_DEPTH {
                return Err(accord_state::Error::PathCollision { path: *path });
            }
            let split = leaves.partition_point(|(p, _)| !path_bit(p, depth));
            let (left, right) = leaves.split_at(split);
            Ok(node_hash(
                &subtree_root(left, depth + 1)?,
                &subtree_root(right, depth + 1)?,
            ))
        }
    }
}
