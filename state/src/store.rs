//! The raw ordered key-value store under the state, the batches written to it, and an
//! in-memory store.

use std::collections::btree_map;
use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};

use crate::error::Result;

/// A raw ordered key-value store (in-memory here; RocksDB in the node).
pub trait StateStore: Send + Sync {
    /// The value stored under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Visits every entry whose key starts with `prefix`, in ascending key order, until
    /// `f` returns `ControlFlow::Break(())`.
    // The visitor type is the store contract's, spelled out for implementors.
    #[allow(clippy::type_complexity)]
    fn scan_prefix(
        &self,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<()>;

    /// Applies every operation of the batch atomically.
    fn write(&mut self, batch: &WriteBatch) -> Result<()>;
}

/// Raw store operations, ordered by key (last write to a key wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// `Some` puts the value, `None` deletes the key.
    ops: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `value` under `key`.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.insert(key, Some(value));
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.ops.insert(key, None);
    }

    /// The operations in ascending key order: `Some(value)` for a put, `None` for a delete.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.ops
            .iter()
            .map(|(key, value)| (key.as_slice(), value.as_deref()))
    }

    /// The operation on `key`, if the batch has one: `Some(None)` is a delete.
    pub fn get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.ops.get(key).map(Option::as_deref)
    }

    /// Number of operations (distinct keys).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Total bytes of keys and values, a measure of what writing the batch costs.
    pub fn size_bytes(&self) -> usize {
        self.ops.iter().fold(0usize, |sum, (key, value)| {
            sum.saturating_add(key.len())
                .saturating_add(value.as_ref().map_or(0, Vec::len))
        })
    }

    /// Appends the operations of `other`; on a shared key, `other`'s operation wins.
    pub fn extend(&mut self, other: Self) {
        self.ops.extend(other.ops);
    }
}

impl FromIterator<(Vec<u8>, Option<Vec<u8>>)> for WriteBatch {
    /// A batch of the operations in order: on a repeated key the last one wins.
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>>(iter: I) -> Self {
        // `BTreeMap::from_iter` sorts stably and keeps the last value of a repeated key,
        // and builds the map in one pass: much cheaper than inserting one at a time.
        Self {
            ops: iter.into_iter().collect(),
        }
    }
}

impl IntoIterator for WriteBatch {
    type Item = (Vec<u8>, Option<Vec<u8>>);
    type IntoIter = btree_map::IntoIter<Vec<u8>, Option<Vec<u8>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.ops.into_iter()
    }
}

/// In-memory `StateStore` (BTreeMap), for tests, tools and genesis.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemStore {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of raw entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every raw entry in ascending key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_slice(), value.as_slice()))
    }
}

impl StateStore for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.entries.get(key).cloned())
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<()> {
        let range = self
            .entries
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded));
        for (key, value) in range {
            if !key.starts_with(prefix) || f(key, value).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn write(&mut self, batch: &WriteBatch) -> Result<()> {
        for (key, value) in batch.iter() {
            match value {
                Some(value) => {
                    self.entries.insert(key.to_vec(), value.to_vec());
                }
                None => {
                    self.entries.remove(key);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_keeps_the_last_write_to_a_key() {
        let batch: WriteBatch = vec![
            (b"b".to_vec(), Some(b"1".to_vec())),
            (b"a".to_vec(), None),
            (b"b".to_vec(), None),
            (b"a".to_vec(), Some(b"2".to_vec())),
            (b"b".to_vec(), Some(b"3".to_vec())),
        ]
        .into_iter()
        .collect();
        let ops: Vec<_> = batch.iter().collect();
        assert_eq!(
            ops,
            vec![(&b"a"[..], Some(&b"2"[..])), (&b"b"[..], Some(&b"3"[..]))]
        );

        let mut batch = WriteBatch::new();
        batch.put(b"k".to_vec(), b"v".to_vec());
        batch.delete(b"k".to_vec());
        assert_eq!(batch.get(b"k"), Some(None));
        assert_eq!(batch.len(), 1);
    }

    #[test]
    fn mem_store_scans_in_order_and_stops() {
        let mut store = MemStore::new();
        let mut batch = WriteBatch::new();
        for key in [&b"a"[..], b"ab", b"abc", b"abd", b"b", b"\xff"] {
            batch.put(key.to_vec(), key.to_vec());
        }
        store.write(&batch).unwrap();
        let mut seen = Vec::new();
        store
            .scan_prefix(b"ab", &mut |k, _| {
                seen.push(k.to_vec());
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(seen, vec![b"ab".to_vec(), b"abc".to_vec(), b"abd".to_vec()]);

        let mut seen = Vec::new();
        store
            .scan_prefix(b"", &mut |k, _| {
                seen.push(k.to_vec());
                if seen.len() == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert_eq!(seen, vec![b"a".to_vec(), b"ab".to_vec()]);

        let mut batch = WriteBatch::new();
        batch.delete(b"ab".to_vec());
        store.write(&batch).unwrap();
        assert_eq!(store.get(b"ab").unwrap(), None);
        assert_eq!(store.len(), 5);
    }
}
