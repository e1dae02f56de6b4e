//! The aggregate in memory.

use std::collections::BTreeMap;

use accord_types::{Height, Receipt, Timestamp, Transaction};

use super::{
    apply_block, day_range, decode_day, decode_total, read_meta, total_range, DayEntry,
    DeliveryError, DeliveryStore, Meta, TotalEntry,
};

/// The aggregate in memory: for tests and in-memory backends.
#[derive(Debug, Clone, Default)]
pub struct MemDelivery {
    pub(super) entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl DeliveryStore for MemDelivery {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DeliveryError> {
        Ok(self.entries.get(key).cloned())
    }
}

impl MemDelivery {
    /// Counts a block and applies its writes.
    pub fn apply(
        &mut self,
        height: Height,
        timestamp: Timestamp,
        transactions: &[Transaction],
        receipts: &[Receipt],
    ) -> Result<(), DeliveryError> {
        for (key, value) in apply_block(self, height, timestamp, transactions, receipts)? {
            match value {
                Some(value) => self.entries.insert(key, value),
                None => self.entries.remove(&key),
            };
        }
        Ok(())
    }

    /// The day buckets of days `from..=to`, in key order.
    pub fn days(&self, from: u32, to: u32) -> Result<Vec<DayEntry>, DeliveryError> {
        let (start, end) = day_range(from, to);
        self.entries
            .range(start..end)
            .map(|(k, v)| decode_day(k, v))
            .collect()
    }

    /// The all-time buckets.
    pub fn totals(&self) -> Result<Vec<TotalEntry>, DeliveryError> {
        let (start, end) = total_range();
        self.entries
            .range(start..end)
            .map(|(k, v)| decode_total(k, v))
            .collect()
    }

    /// The meta record.
    pub fn meta(&self) -> Result<Meta, DeliveryError> {
        read_meta(self)
    }

    /// Entries held, by table letter: for bound checks in tests.
    pub fn count(&self, table: u8) -> usize {
        self.entries
            .keys()
            .filter(|k| k.first() == Some(&table))
            .count()
    }
}
