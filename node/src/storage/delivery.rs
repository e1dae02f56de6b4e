//! The `delivery` column family: the delivery (DORA) metrics of
//! [`accord_runtime::delivery`], counted in each block's commit batch and read back by
//! day or for all time.

use accord_runtime::delivery::{self, DayEntry, DeliveryError, DeliveryStore, Meta, TotalEntry};
use accord_types::{Height, Receipt, Timestamp, Transaction};
use rocksdb::ReadOptions;

use super::{corrupt, decode, keys, Result, Storage, StorageError, MAX_META_BYTES};

impl Storage {
    /// Adds the delivery metrics' writes for block `height` to `batch`, first counting
    /// (in batches of their own) the stored blocks up to `head` they lag behind, on a
    /// database written before they were kept.
    pub(super) fn count_delivery(
        &self,
        batch: &mut rocksdb::WriteBatch,
        head: Height,
        height: Height,
        timestamp: Timestamp,
        transactions: &[Transaction],
        receipts: &[Receipt],
    ) -> Result<()> {
        let counted = delivery::read_meta(&DeliveryReader(self))
            .map_err(delivery_error)?
            .height;
        if counted < head {
            self.catch_up_delivery(head)?;
        }
        self.delivery_writes(batch, height, timestamp, transactions, receipts)
    }

    /// Puts the writes that count one block into `batch`.
    fn delivery_writes(
        &self,
        batch: &mut rocksdb::WriteBatch,
        height: Height,
        timestamp: Timestamp,
        transactions: &[Transaction],
        receipts: &[Receipt],
    ) -> Result<()> {
        let cf = self.cf(keys::DELIVERY)?;
        let writes = delivery::apply_block(
            &DeliveryReader(self),
            height,
            timestamp,
            transactions,
            receipts,
        )
        .map_err(delivery_error)?;
        for (key, value) in writes {
            match value {
                Some(value) => batch.put_cf(cf, key, value),
                None => batch.delete_cf(cf, key),
            }
        }
        Ok(())
    }

    /// Counts the stored blocks the delivery metrics have not counted, up to `head`,
    /// one synced batch per block (a database written before they were kept).
    pub(super) fn catch_up_delivery(&self, head: Height) -> Result<()> {
        let mut counted = delivery::read_meta(&DeliveryReader(self))
            .map_err(delivery_error)?
            .height;
        while counted < head {
            let height = counted.saturating_next();
            let block = self.block(height)?.ok_or_else(|| {
                corrupt(
                    keys::BLOCKS,
                    &keys::height(height),
                    "missing below the head while counting delivery metrics",
                )
            })?;
            let receipts = self.receipts(height)?;
            let mut batch = rocksdb::WriteBatch::default();
            self.delivery_writes(
                &mut batch,
                height,
                block.header.timestamp,
                &block.transactions,
                &receipts,
            )?;
            self.write_synced(
                batch,
                format!("write of delivery metrics of block {height}"),
            )?;
            counted = height;
        }
        Ok(())
    }

    /// The delivery metrics' day buckets of UTC days `from..=to` (a range scan of those
    /// days only) and the height they count up to, read from one snapshot.
    pub fn delivery_days(&self, from: u32, to: u32) -> Result<(Height, Vec<DayEntry>)> {
        let (start, end) = delivery::day_range(from, to);
        self.delivery_scan(&start, &end, delivery::decode_day)
    }

    /// The delivery metrics' all-time buckets and the height they count up to.
    pub fn delivery_totals(&self) -> Result<(Height, Vec<TotalEntry>)> {
        let (start, end) = delivery::total_range();
        self.delivery_scan(&start, &end, delivery::decode_total)
    }

    fn delivery_scan<T>(
        &self,
        start: &[u8],
        end: &[u8],
        decode_entry: fn(&[u8], &[u8]) -> std::result::Result<T, DeliveryError>,
    ) -> Result<(Height, Vec<T>)> {
        let snapshot = self.db.snapshot();
        let cf = self.cf(keys::DELIVERY)?;
        let height = match snapshot
            .get_cf(cf, delivery::meta_key())
            .map_err(|e| StorageError::database("read of delivery", &e))?
        {
            Some(bytes) => {
                decode::<Meta>(keys::DELIVERY, delivery::meta_key(), &bytes, MAX_META_BYTES)?.height
            }
            None => Height(0),
        };
        let mut options = ReadOptions::default();
        options.set_iterate_range(start.to_vec()..end.to_vec());
        let mut iter = snapshot.raw_iterator_cf_opt(cf, options);
        iter.seek(start);
        let mut entries = Vec::new();
        while let Some((key, value)) = iter.item() {
            entries.push(decode_entry(key, value).map_err(delivery_error)?);
            iter.next();
        }
        iter.status()
            .map_err(|e| StorageError::database("scan of delivery", &e))?;
        Ok((height, entries))
    }
}

/// Point reads of the `delivery` column family for the aggregator.
pub(super) struct DeliveryReader<'a>(pub(super) &'a Storage);

impl DeliveryStore for DeliveryReader<'_> {
    fn get(&self, key: &[u8]) -> std::result::Result<Option<Vec<u8>>, DeliveryError> {
        self.0
            .get(keys::DELIVERY, key)
            .map_err(|e| DeliveryError::Store(e.to_string()))
    }
}

fn delivery_error(error: DeliveryError) -> StorageError {
    match error {
        DeliveryError::Corrupt { key, reason } => StorageError::Corrupt {
            cf: keys::DELIVERY,
            key,
            reason,
        },
        DeliveryError::Store(reason) => StorageError::Database {
            operation: "read of delivery".to_owned(),
            reason,
        },
    }
}
