//! Durable storage of the node: blocks, certificates, state, receipts, the transaction
//! index and the event log, in one RocksDB database.
//!
//! # Design
//!
//! One database, one column family per kind of record. Heights and indexes in keys are
//! big-endian, so byte order is numeric order and a scan walks heights in order.
//!
//! ```text
//!   column family   key                                   value (borsh)
//!   headers         height                                Header
//!   blocks          height                                Block
//!   block_hashes    block hash                            height (8 bytes, BE)
//!   certificates    height                                CommitCertificate
//!   state           raw state key (accord_state layout)   raw value
//!   receipts        height ‖ receipt index (u32)          Receipt
//!   tx_index        transaction hash                      (Height, u32)
//!   events          height ‖ receipt index ‖ event index  Event
//!   meta            "chain_id" | "genesis_hash" | "head"  ChainId | 32 bytes | Head
//!   validator_sets  first height decided                  ValidatorSet
//!   delivery        accord_runtime::delivery keys          day and all-time buckets,
//!                                                         tracked proposals, open
//!                                                         failures, counted height
//! ```
//!
//! `delivery` holds the delivery (DORA) metrics aggregated from each block's events
//! (`accord_runtime::delivery`). They are written in the block's batch, so they always
//! count exactly the blocks up to the head; a database written before they were kept
//! is brought up to the head by [`Storage::check_consistency`], once.
//!
//! `validator_sets` keeps every set the chain has had, keyed by the first height it
//! decides (the genesis set at 1, each change at its effective height), so a client can
//! verify the certificate of any height against the set that signed it.
//!
//! The hash → height index has a column family of its own (`block_hashes`) rather than
//! sharing `meta`, which holds only the chain's few singletons.
//!
//! **One synced batch per block.** [`Storage::commit_block`] checks that the block
//! extends the head (height head + 1, parent = head hash), that its certificate decides
//! it and that the execution outcome produced its roots, then writes the header, the
//! block, the hash index, the certificate, the state writes, the receipts, the
//! transaction index, the events and the new head in one RocksDB `WriteBatch` with
//! `sync = true`. After a crash at any instant the database holds either everything of
//! the block or nothing of it, and the head always names the last complete block.
//! [`Storage::init_genesis`] writes the genesis state and the chain's identity the same
//! way; the head of a new chain is height 0, whose hash is the genesis hash and whose
//! state root is the genesis root, so block 1's parent hash is the genesis hash.
//!
//! ```text
//!   open ──► check_chain(chain id, genesis hash) ──► check_consistency() ──► Head
//!              (refuses another chain's data)          head ⇔ header ⇔ certificate
//!                                                      ⇔ stored root ⇔ root of the values
//!   runtime ──reads──► RocksState (state column family)
//!   consensus decides ──► execute_block ──► commit_block(block, certificate, outcome)
//!   RPC ──► head, header, block, block_by_hash, certificate, receipts, transaction,
//!           events_after(cursor, limit)
//! ```
//!
//! **Reads never panic.** Stored values are decoded strictly (size caps, no trailing
//! bytes); a value that does not decode is [`StorageError::Corrupt`] naming its column
//! family and key.
//!
//! **Start-up check.** [`Storage::check_consistency`] proves the stored head, its
//! header, block and certificate, the state's stored root and the root recomputed from
//! every state value all agree, and says exactly what disagrees otherwise. Recomputing
//! the root reads the whole state once (see [`recompute_root`]); tree pages are not
//! re-verified there, they are checked as they are read.
//!
//! **Transactions** are indexed where they first appear: a transaction included again
//! later (refused for its nonce) keeps its first location.

mod delivery;
mod error;
mod keys;
mod state;
#[cfg(test)]
mod tests;

pub use accord_types::receipt::EventCursor;
pub use error::{ChainIdentity, Result, StorageError};
pub use keys::COLUMN_FAMILIES;
pub use state::{recompute_root, RocksState, StateSnapshot};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use accord_runtime::BlockOutcome;
use accord_state::{StateView, WriteBatch, EMPTY_ROOT, ROOT_KEY};
use accord_types::codec::{
    self, hex_encode, MAX_BLOCK_BYTES, MAX_CERTIFICATE_BYTES, MAX_RECEIPT_BYTES,
};
use accord_types::{
    Block, ChainId, CommitCertificate, Event, Hash, Header, Height, Receipt, ValidatorSet,
};
use borsh::{BorshDeserialize, BorshSerialize};
use parking_lot::Mutex;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Options,
    PrefixRange, ReadOptions, WriteOptions, DB,
};
use serde::{Deserialize, Serialize};

/// Largest encoded header read back (headers are a few hundred bytes).
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest encoded validator set read back.
const MAX_VALIDATOR_SET_BYTES: usize = 1024 * 1024;
/// Largest encoded head, chain id or transaction location read back.
const MAX_META_BYTES: usize = 1024;

/// The last committed block: its height, hash and the state root after it. At height 0
/// (genesis) the hash is the genesis hash and the root the genesis state root.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Head {
    /// Height of the last committed block (0 = genesis).
    pub height: Height,
    /// Its hash (the genesis hash at height 0).
    pub hash: Hash,
    /// The state root after it.
    pub state_root: Hash,
}

/// What the database holds and uses, by column family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Each column family.
    pub column_families: Vec<ColumnFamilyUsage>,
    /// Bytes held by the block cache the column families share.
    pub block_cache_bytes: u64,
}

/// One column family's share of the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnFamilyUsage {
    /// Its name.
    pub name: &'static str,
    /// Bytes of its live table files on disk.
    pub sst_bytes: u64,
    /// Bytes of its memtables (active and immutable) in memory.
    pub memtable_bytes: u64,
    /// RocksDB's estimate of its number of keys.
    pub keys: u64,
}

/// The node's database. Reads may run concurrently from many threads; commits are
/// serialised.
pub struct Storage {
    db: Arc<DB>,
    path: PathBuf,
    /// The block cache every column family shares (its usage is reported).
    cache: Cache,
    /// Held while a commit checks the head and writes, so two commits cannot both
    /// extend the same head.
    commit_lock: Mutex<()>,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Memory the memtables of every column family may hold together before RocksDB
/// flushes them (by default each of the ten may hold two of 64 MiB).
const MEMTABLE_BUDGET: usize = 64 << 20;
/// One column family's memtable, at most.
const MEMTABLE_BYTES: usize = 16 << 20;
/// Write-ahead log RocksDB keeps before it flushes the column families that hold its
/// oldest writes. A log file is deleted only once every column family has flushed what
/// it holds of it, and the small ones (headers, certificates, meta) fill their memtables
/// slowly: by default (four times the memtables' total) the log held most of a node's
/// disk.
const MAX_WAL_BYTES: u64 = 64 << 20;
/// Bits per key of the tables' Bloom filters (about 1 % false positives).
const BLOOM_BITS_PER_KEY: f64 = 10.0;
/// Blocks read from disk, index and filter blocks included, cached for every column
/// family together (by default each has a cache of its own and the index and filter
/// blocks of every table stay in memory apart from it).
const BLOCK_CACHE_BYTES: usize = 64 << 20;

/// The options of the database and of each column family: one memory budget for the
/// whole database, so a node's memory levels off as its data grows.
fn db_options(cache: &Cache) -> Options {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    options.set_compression_type(DBCompressionType::Lz4);
    options.set_write_buffer_size(MEMTABLE_BYTES);
    options.set_db_write_buffer_size(MEMTABLE_BUDGET);
    options.set_max_total_wal_size(MAX_WAL_BYTES);
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    // A point read of a key that is absent (a block's every transaction is looked up in
    // `tx_index` before it is indexed) skips the tables whose filter rules the key out,
    // instead of searching every level; the newest tables' filters stay in the cache.
    table.set_bloom_filter(BLOOM_BITS_PER_KEY, false);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    options.set_block_based_table_factory(&table);
    options
}

impl Storage {
    /// Opens (or creates) the database in `dir`, creating missing column families. A
    /// database locked by a running node, or that RocksDB cannot open, is an error that
    /// names the directory and what to do.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| StorageError::Open {
            path: dir.to_path_buf(),
            reason: format!("cannot create the directory: {e}"),
        })?;
        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let options = db_options(&cache);
        // Column families created by a later version are opened too (RocksDB refuses to
        // open a database without all of them).
        let mut names: BTreeSet<String> = COLUMN_FAMILIES.iter().map(|&n| n.to_owned()).collect();
        if let Ok(existing) = DB::list_cf(&options, dir) {
            names.extend(existing);
        }
        let descriptors = names
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, db_options(&cache)));
        let db = DB::open_cf_descriptors(&options, dir, descriptors).map_err(|e| {
            let reason = e.into_string();
            // RocksDB: "IO error: While lock file: <dir>/LOCK: Resource temporarily unavailable".
            if reason.contains("lock file") || reason.contains("LOCK:") {
                StorageError::Locked {
                    path: dir.to_path_buf(),
                    reason,
                }
            } else {
                StorageError::Open {
                    path: dir.to_path_buf(),
                    reason,
                }
            }
        })?;
        Ok(Self {
            db: Arc::new(db),
            path: dir.to_path_buf(),
            cache,
            commit_lock: Mutex::new(()),
        })
    }

    /// Writes a consistent copy of the database, as it is now, into `dir` (which must not
    /// exist yet): a RocksDB checkpoint, whose table files are hard links when `dir` is
    /// on the same file system and copies otherwise. Every block's commit is one atomic
    /// write, so the copy holds whole blocks only. It can be opened as a database of its
    /// own (`accord restore` puts it in a node's data directory).
    pub fn checkpoint(&self, dir: &Path) -> Result<()> {
        let failed = |reason: String| StorageError::Database {
            operation: format!("checkpoint into {}", dir.display()),
            reason,
        };
        let checkpoint =
            rocksdb::checkpoint::Checkpoint::new(&self.db).map_err(|e| failed(e.into_string()))?;
        checkpoint
            .create_checkpoint(dir)
            .map_err(|e| failed(e.into_string()))
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What each column family holds (as RocksDB estimates it) and the shared block
    /// cache's usage: for `/metrics`.
    pub fn usage(&self) -> Usage {
        let property = |cf: &ColumnFamily, name: &rocksdb::properties::PropName| {
            self.db
                .property_int_value_cf(cf, name)
                .ok()
                .flatten()
                .unwrap_or(0)
        };
        let column_families = COLUMN_FAMILIES
            .iter()
            .filter_map(|&name| {
                let cf = self.db.cf_handle(name)?;
                Some(ColumnFamilyUsage {
                    name,
                    sst_bytes: property(cf, rocksdb::properties::LIVE_SST_FILES_SIZE),
                    memtable_bytes: property(cf, rocksdb::properties::CUR_SIZE_ALL_MEM_TABLES),
                    keys: property(cf, rocksdb::properties::ESTIMATE_NUM_KEYS),
                })
            })
            .collect();
        Usage {
            column_families,
            block_cache_bytes: self.cache.get_usage() as u64,
        }
    }

    /// Writes the genesis: the state (`state`, raw keys and values as returned by
    /// `accord_runtime::Genesis::build`, whose root is `state_root`), the chain id, the
    /// genesis hash and the head at height 0, in one synced batch. Refused if the
    /// database already holds a chain or any state, or if the batch's root is not
    /// `state_root`.
    pub fn init_genesis(
        &self,
        chain_id: &ChainId,
        genesis_hash: Hash,
        state: &WriteBatch,
        state_root: Hash,
    ) -> Result<()> {
        let _commit = self.commit_lock.lock();
        if let Some(stored) = self.chain()? {
            return Err(StorageError::AlreadyInitialised {
                path: self.path.clone(),
                stored,
            });
        }
        let invalid = |reason: String| StorageError::InvalidGenesis { reason };
        let batch_root = match state.get(ROOT_KEY) {
            Some(Some(bytes)) => <[u8; 32]>::try_from(bytes)
                .map(Hash::from_bytes)
                .map_err(|_| invalid(format!("the state root entry is {} bytes", bytes.len())))?,
            Some(None) | None => EMPTY_ROOT,
        };
        if batch_root != state_root {
            return Err(invalid(format!(
                "the genesis state batch has root {batch_root}, not the given {state_root}"
            )));
        }
        let mut state_cf = self.db.raw_iterator_cf(self.cf(keys::STATE)?);
        state_cf.seek_to_first();
        if state_cf.valid() {
            return Err(invalid(format!(
                "the state column family of {} already holds data; use an empty data \
                 directory",
                self.path.display()
            )));
        }
        state_cf
            .status()
            .map_err(|e| StorageError::database("scan of state", &e))?;
        drop(state_cf);

        let mut batch = rocksdb::WriteBatch::default();
        let state_handle = self.cf(keys::STATE)?;
        for (key, value) in state.iter() {
            if let Some(value) = value {
                batch.put_cf(state_handle, key, value);
            }
        }
        let meta = self.cf(keys::META)?;
        batch.put_cf(meta, keys::META_CHAIN_ID, codec::encode(chain_id));
        batch.put_cf(meta, keys::META_GENESIS_HASH, genesis_hash.as_bytes());
        let head = Head {
            height: Height(0),
            hash: genesis_hash,
            state_root,
        };
        batch.put_cf(meta, keys::META_HEAD, codec::encode(&head));
        let mut genesis_state = accord_state::MemStore::new();
        accord_state::StateStore::write(&mut genesis_state, state)
            .map_err(|e| invalid(format!("the genesis state does not load: {e}")))?;
        let validators = accord_runtime::Query::new(&genesis_state)
            .validators()
            .map_err(|e| invalid(format!("the genesis has no validator set: {e}")))
            .and_then(|record| {
                crate::chain::validator_set(&record)
                    .map_err(|e| invalid(format!("the genesis validator set is invalid: {e}")))
            })?;
        batch.put_cf(
            self.cf(keys::VALIDATOR_SETS)?,
            keys::height(Height(1)),
            codec::encode(&validators),
        );
        self.write_synced(batch, "write of the genesis")
    }

    /// The chain the database holds (chain id and genesis hash); `None` before genesis.
    pub fn chain(&self) -> Result<Option<ChainIdentity>> {
        let chain_id = self.read(keys::META, keys::META_CHAIN_ID, MAX_META_BYTES)?;
        let genesis = self.get(keys::META, keys::META_GENESIS_HASH)?;
        match (chain_id, genesis) {
            (None, None) => Ok(None),
            (Some(chain_id), Some(genesis)) => {
                let genesis = <[u8; 32]>::try_from(genesis.as_slice()).map_err(|_| {
                    corrupt(
                        keys::META,
                        keys::META_GENESIS_HASH,
                        format!("{} bytes, expected 32", genesis.len()),
                    )
                })?;
                Ok(Some(ChainIdentity {
                    chain_id,
                    genesis_hash: Hash::from_bytes(genesis),
                }))
            }
            (Some(_), None) => Err(corrupt(
                keys::META,
                keys::META_GENESIS_HASH,
                "missing while the chain id is stored",
            )),
            (None, Some(_)) => Err(corrupt(
                keys::META,
                keys::META_CHAIN_ID,
                "missing while the genesis hash is stored",
            )),
        }
    }

    /// Checks that the database holds the chain `chain_id` with genesis `genesis_hash`;
    /// the node calls this on start, before anything else touches the data.
    pub fn check_chain(&self, chain_id: &ChainId, genesis_hash: Hash) -> Result<()> {
        let stored = self.chain()?.ok_or_else(|| StorageError::NotInitialised {
            path: self.path.clone(),
        })?;
        if &stored.chain_id != chain_id || stored.genesis_hash != genesis_hash {
            return Err(StorageError::WrongChain {
                path: self.path.clone(),
                stored: Box::new(stored),
                expected: Box::new(ChainIdentity {
                    chain_id: chain_id.clone(),
                    genesis_hash,
                }),
            });
        }
        Ok(())
    }

    /// Commits a decided block with its certificate and execution outcome in one synced
    /// batch, and makes it the head. Refused, with nothing written, unless the block's
    /// height is head + 1, its parent is the head, it is of the stored chain, the
    /// certificate is for this block and height, and the outcome's state root, receipts
    /// root and receipt count are the block's. The certificate's signatures are not
    /// checked here: the caller has verified them.
    pub fn commit_block(
        &self,
        block: &Block,
        certificate: &CommitCertificate,
        outcome: &BlockOutcome,
    ) -> Result<()> {
        let _commit = self.commit_lock.lock();
        let head = self.head()?.ok_or_else(|| StorageError::NotInitialised {
            path: self.path.clone(),
        })?;
        let header = &block.header;
        let height = header.height;
        let next = head.height.saturating_next();
        if height != next || next == head.height {
            return Err(StorageError::WrongHeight {
                expected: next,
                found: height,
            });
        }
        if header.parent_hash != head.hash {
            return Err(StorageError::WrongParent {
                height,
                expected: head.hash,
                found: header.parent_hash,
            });
        }
        let hash = block.hash();
        let mismatch = |what, expected: String, found: String| StorageError::Mismatch {
            height,
            what,
            expected,
            found,
        };
        if let Some(stored) = self.chain()? {
            if header.chain_id != stored.chain_id {
                return Err(mismatch(
                    "the block's chain id",
                    stored.chain_id.to_string(),
                    header.chain_id.to_string(),
                ));
            }
        }
        if certificate.height != height {
            return Err(mismatch(
                "the certificate's height",
                height.to_string(),
                certificate.height.to_string(),
            ));
        }
        if certificate.block_hash != hash {
            return Err(mismatch(
                "the certificate's block hash",
                hash.to_string(),
                certificate.block_hash.to_string(),
            ));
        }
        if outcome.state_root != header.state_root {
            return Err(mismatch(
                "the executed state root",
                header.state_root.to_string(),
                outcome.state_root.to_string(),
            ));
        }
        if outcome.receipts_root != header.receipts_root {
            return Err(mismatch(
                "the executed receipts root",
                header.receipts_root.to_string(),
                outcome.receipts_root.to_string(),
            ));
        }
        let expected_receipts = block.transactions.len().saturating_add(1);
        if outcome.receipts.len() != expected_receipts {
            return Err(mismatch(
                "the number of receipts",
                expected_receipts.to_string(),
                outcome.receipts.len().to_string(),
            ));
        }

        let height_key = keys::height(height);
        let mut batch = rocksdb::WriteBatch::default();
        batch.put_cf(self.cf(keys::HEADERS)?, height_key, codec::encode(header));
        batch.put_cf(self.cf(keys::BLOCKS)?, height_key, codec::encode(block));
        batch.put_cf(self.cf(keys::BLOCK_HASHES)?, hash.as_bytes(), height_key);
        batch.put_cf(
            self.cf(keys::CERTIFICATES)?,
            height_key,
            codec::encode(certificate),
        );
        let state = self.cf(keys::STATE)?;
        for (key, value) in outcome.batch.iter() {
            match value {
                Some(value) => batch.put_cf(state, key, value),
                None => batch.delete_cf(state, key),
            }
        }
        if let Some(update) = &outcome.validator_update {
            batch.put_cf(
                self.cf(keys::VALIDATOR_SETS)?,
                keys::height(update.effective_height),
                codec::encode(&update.validators),
            );
        }
        let receipts = self.cf(keys::RECEIPTS)?;
        let events = self.cf(keys::EVENTS)?;
        for (index, receipt) in outcome.receipts.iter().enumerate() {
            let index = index_u32(height, "receipt index", index)?;
            // The events are stored once, in `events`; reads put them back.
            let stored = Receipt {
                source: receipt.source.clone(),
                outcome: receipt.outcome.clone(),
                events: Vec::new(),
            };
            batch.put_cf(
                receipts,
                keys::receipt(height, index),
                codec::encode(&stored),
            );
            for (event_index, event) in receipt.events.iter().enumerate() {
                let event_index = index_u32(height, "event index", event_index)?;
                let key = keys::event(height, index, event_index);
                batch.put_cf(events, key, codec::encode(event));
            }
        }
        // Each transaction is indexed where it first appeared: the first time in this
        // block, if no earlier block holds it (one batched read for the block's hashes,
        // in key order).
        let tx_index = self.cf(keys::TX_INDEX)?;
        let mut first: BTreeMap<Hash, usize> = BTreeMap::new();
        for (index, tx) in block.transactions.iter().enumerate() {
            first.entry(tx.hash()).or_insert(index);
        }
        let found =
            self.db
                .batched_multi_get_cf(tx_index, first.keys().map(|hash| hash.as_bytes()), true);
        for ((tx_hash, index), found) in first.iter().zip(found) {
            let earlier = found.map_err(|e| StorageError::database("read of tx_index", &e))?;
            if earlier.is_some() {
                continue;
            }
            let index = index_u32(height, "transaction index", *index)?;
            batch.put_cf(
                tx_index,
                tx_hash.as_bytes(),
                codec::encode(&(height, index)),
            );
        }
        // The delivery metrics count this block in the same batch (after the blocks
        // they may lag behind, on a database written before they were kept).
        self.count_delivery(
            &mut batch,
            head.height,
            height,
            header.timestamp,
            &block.transactions,
            &outcome.receipts,
        )?;
        let new_head = Head {
            height,
            hash,
            state_root: header.state_root,
        };
        batch.put_cf(
            self.cf(keys::META)?,
            keys::META_HEAD,
            codec::encode(&new_head),
        );
        self.write_synced(batch, format!("write of block {height}"))
    }

    /// The last committed block; `None` before genesis.
    pub fn head(&self) -> Result<Option<Head>> {
        self.read(keys::META, keys::META_HEAD, MAX_META_BYTES)
    }

    /// The header at `height`.
    pub fn header(&self, height: Height) -> Result<Option<Header>> {
        self.read(keys::HEADERS, &keys::height(height), MAX_HEADER_BYTES)
    }

    /// The block at `height`.
    pub fn block(&self, height: Height) -> Result<Option<Block>> {
        self.read(keys::BLOCKS, &keys::height(height), MAX_BLOCK_BYTES)
    }

    /// The height of the block with hash `hash`.
    pub fn block_height(&self, hash: &Hash) -> Result<Option<Height>> {
        match self.get(keys::BLOCK_HASHES, hash.as_bytes())? {
            None => Ok(None),
            Some(bytes) => keys::parse_height(&bytes).map(Some).ok_or_else(|| {
                corrupt(
                    keys::BLOCK_HASHES,
                    hash.as_bytes(),
                    format!("{} bytes, expected an 8-byte height", bytes.len()),
                )
            }),
        }
    }

    /// The block with hash `hash`.
    pub fn block_by_hash(&self, hash: &Hash) -> Result<Option<Block>> {
        let Some(height) = self.block_height(hash)? else {
            return Ok(None);
        };
        let block = self.block(height)?.ok_or_else(|| {
            corrupt(
                keys::BLOCK_HASHES,
                hash.as_bytes(),
                format!("points at height {height}, where no block is stored"),
            )
        })?;
        if &block.hash() != hash {
            return Err(corrupt(
                keys::BLOCK_HASHES,
                hash.as_bytes(),
                format!("points at height {height}, whose block is {}", block.hash()),
            ));
        }
        Ok(Some(block))
    }

    /// The commit certificate of the block at `height`.
    pub fn certificate(&self, height: Height) -> Result<Option<CommitCertificate>> {
        self.read(
            keys::CERTIFICATES,
            &keys::height(height),
            MAX_CERTIFICATE_BYTES,
        )
    }

    /// The receipts of the block at `height`, in order (one per transaction, then the
    /// end-of-block receipt); empty for a height not stored.
    pub fn receipts(&self, height: Height) -> Result<Vec<Receipt>> {
        let prefix = keys::height(height);
        let cf = self.cf(keys::RECEIPTS)?;
        let mut options = ReadOptions::default();
        options.set_iterate_range(PrefixRange(&prefix[..]));
        let mut iter = self.db.raw_iterator_cf_opt(cf, options);
        iter.seek(prefix);
        let mut receipts = Vec::new();
        while let Some((key, value)) = iter.item() {
            let expected = u32::try_from(receipts.len()).ok();
            match keys::parse_receipt(key) {
                Some((h, index)) if h == height && Some(index) == expected => {}
                _ => {
                    return Err(corrupt(
                        keys::RECEIPTS,
                        key,
                        format!(
                            "expected the key of receipt {} of height {height}",
                            receipts.len()
                        ),
                    ))
                }
            }
            receipts.push(decode(keys::RECEIPTS, key, value, MAX_RECEIPT_BYTES)?);
            iter.next();
        }
        iter.status()
            .map_err(|e| StorageError::database("scan of receipts", &e))?;
        if !receipts.is_empty() {
            let events = self.events_with_prefix(&prefix)?;
            restore_events(&mut receipts, 0, events)?;
        }
        Ok(receipts)
    }

    /// One receipt of the block at `height`, by a point read.
    pub fn receipt(&self, height: Height, index: u32) -> Result<Option<Receipt>> {
        let key = keys::receipt(height, index);
        let Some(receipt) = self.read(keys::RECEIPTS, &key, MAX_RECEIPT_BYTES)? else {
            return Ok(None);
        };
        let mut receipts = [receipt];
        restore_events(&mut receipts, index, self.events_with_prefix(&key)?)?;
        let [receipt] = receipts;
        Ok(Some(receipt))
    }

    /// The events whose keys start with `prefix` (a height, or a height and a receipt
    /// index), in order, each with its cursor.
    fn events_with_prefix(&self, prefix: &[u8]) -> Result<Vec<(EventCursor, Event)>> {
        let mut options = ReadOptions::default();
        options.set_iterate_range(PrefixRange(prefix));
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(keys::EVENTS)?, options);
        iter.seek(prefix);
        let mut events = Vec::new();
        while let Some((key, value)) = iter.item() {
            events.push(decode_event(key, value)?);
            iter.next();
        }
        iter.status()
            .map_err(|e| StorageError::database("scan of events", &e))?;
        Ok(events)
    }

    /// The validator set that decides `height` as recorded when it took effect: the
    /// latest entry at or below `height`. `None` for height 0, and for heights whose
    /// set is not decided yet (beyond the scheduled changes the chain knows).
    pub fn validator_set(&self, height: Height) -> Result<Option<ValidatorSet>> {
        if height.0 == 0 {
            return Ok(None);
        }
        let mut iter = self.db.raw_iterator_cf(self.cf(keys::VALIDATOR_SETS)?);
        iter.seek_for_prev(keys::height(height));
        let found = match iter.item() {
            Some((key, value)) => Some(decode(
                keys::VALIDATOR_SETS,
                key,
                value,
                MAX_VALIDATOR_SET_BYTES,
            )?),
            None => None,
        };
        iter.status()
            .map_err(|e| StorageError::database("scan of validator sets", &e))?;
        Ok(found)
    }

    /// Where the transaction with hash `hash` was first included: block height and index
    /// in the block (which is also its receipt's index).
    pub fn transaction(&self, hash: &Hash) -> Result<Option<(Height, u32)>> {
        self.read(keys::TX_INDEX, hash.as_bytes(), MAX_META_BYTES)
    }

    /// Up to `limit` events after `cursor` (from the first event when `None`), in chain
    /// order, each with its cursor; pass the last cursor back to continue.
    pub fn events_after(
        &self,
        cursor: Option<EventCursor>,
        limit: usize,
    ) -> Result<Vec<(EventCursor, Event)>> {
        let mut events = Vec::new();
        if limit == 0 {
            return Ok(events);
        }
        let start = cursor.map(|c| keys::event(c.height, c.receipt, c.event));
        let mut iter = self.db.raw_iterator_cf(self.cf(keys::EVENTS)?);
        match &start {
            Some(start) => iter.seek(start),
            None => iter.seek_to_first(),
        }
        while let Some((key, value)) = iter.item() {
            if events.len() >= limit {
                break;
            }
            if start.is_some_and(|s| s.as_slice() == key) {
                iter.next();
                continue;
            }
            events.push(decode_event(key, value)?);
            iter.next();
        }
        iter.status()
            .map_err(|e| StorageError::database("scan of events", &e))?;
        Ok(events)
    }

    /// The runtime's state store over the `state` column family.
    pub fn state_store(&self) -> RocksState {
        RocksState::new(Arc::clone(&self.db))
    }

    /// A read-only view of the state as committed now, unchanged by later commits.
    pub fn state_snapshot(&self) -> StateSnapshot<'_> {
        StateSnapshot::new(&self.db)
    }

    /// Checks, on start, that the stored head, its header, block and certificate (except
    /// at height 0), the state's stored root and the root recomputed from every state
    /// value agree, and that nothing is stored above the head. Returns the head, or
    /// [`StorageError::Inconsistent`] saying exactly what disagrees. Then counts, in
    /// the delivery metrics, the stored blocks they have not counted (only on a
    /// database written before they were kept).
    pub fn check_consistency(&self) -> Result<Head> {
        let head = self.head()?.ok_or_else(|| StorageError::NotInitialised {
            path: self.path.clone(),
        })?;
        let inconsistent = |detail: String| StorageError::Inconsistent {
            path: self.path.clone(),
            detail,
        };
        let Head {
            height,
            hash,
            state_root,
        } = head;
        let genesis_hash = self.chain()?.map(|c| c.genesis_hash).ok_or_else(|| {
            inconsistent(format!(
                "a head (height {height}) is stored but no chain id or genesis hash"
            ))
        })?;
        if height == Height(0) {
            if hash != genesis_hash {
                return Err(inconsistent(format!(
                    "the head at height 0 is {hash}, but the genesis hash is {genesis_hash}"
                )));
            }
        } else {
            self.check_head_block(&head).map_err(inconsistent)?;
        }
        let above = height.saturating_next();
        if above != height && self.header(above)?.is_some() {
            return Err(inconsistent(format!(
                "a header is stored at height {above}, above the head at height {height}"
            )));
        }

        let store = self.state_store();
        let stored_root = StateView::new(&store).root().map_err(state_error)?;
        if stored_root != state_root {
            return Err(inconsistent(format!(
                "the state's stored root is {stored_root}, but the head (height {height}, \
                 block {hash}) records state root {state_root}"
            )));
        }
        let computed = recompute_root(&store).map_err(state_error)?;
        if computed != state_root {
            return Err(inconsistent(format!(
                "the stored state values hash to root {computed}, but the head (height \
                 {height}, block {hash}) and the state's stored root are {state_root}: a \
                 state entry was changed or lost"
            )));
        }
        // The delivery metrics of a database written before they were kept.
        let _commit = self.commit_lock.lock();
        self.catch_up_delivery(height)?;
        Ok(head)
    }

    /// The head block's header, block and certificate agree with the head.
    fn check_head_block(&self, head: &Head) -> std::result::Result<(), String> {
        let Head {
            height,
            hash,
            state_root,
        } = *head;
        let header = self
            .header(height)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "the head is block {hash} at height {height}, but no header is stored there"
                )
            })?;
        let header_hash = header.hash();
        if header.height != height || header_hash != hash {
            return Err(format!(
                "the header stored at height {height} is block {header_hash} of height {}, \
                 but the head is block {hash} at height {height}",
                header.height
            ));
        }
        if header.state_root != state_root {
            return Err(format!(
                "the header at height {height} has state root {}, but the head records {state_root}",
                header.state_root
            ));
        }
        let block = self
            .block(height)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no block is stored at height {height}, the head"))?;
        if block.hash() != hash {
            return Err(format!(
                "the block stored at height {height} is {}, but the head is {hash}",
                block.hash()
            ));
        }
        let certificate = self
            .certificate(height)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "no commit certificate is stored for the head block {hash} at height {height}"
                )
            })?;
        if certificate.height != height || certificate.block_hash != hash {
            return Err(format!(
                "the certificate stored at height {height} decides block {} at height {}, \
                 but the head is block {hash} at height {height}",
                certificate.block_hash, certificate.height
            ));
        }
        Ok(())
    }

    fn cf(&self, name: &'static str) -> Result<&ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StorageError::Database {
                operation: format!("open of column family {name}"),
                reason: "the column family is missing".to_owned(),
            })
    }

    fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db
            .get_pinned_cf(self.cf(cf)?, key)
            .map(|value| value.map(|v| v.to_vec()))
            .map_err(|e| StorageError::database(format!("read of {cf}"), &e))
    }

    fn read<T: BorshDeserialize>(
        &self,
        cf: &'static str,
        key: &[u8],
        max: usize,
    ) -> Result<Option<T>> {
        let value = self
            .db
            .get_pinned_cf(self.cf(cf)?, key)
            .map_err(|e| StorageError::database(format!("read of {cf}"), &e))?;
        value.map(|bytes| decode(cf, key, &bytes, max)).transpose()
    }

    fn write_synced(&self, batch: rocksdb::WriteBatch, operation: impl Into<String>) -> Result<()> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db
            .write_opt(batch, &options)
            .map_err(|e| StorageError::database(operation, &e))
    }

    /// Writes raw bytes under a key, bypassing every check: for tests that damage the
    /// database on purpose.
    #[cfg(test)]
    pub(crate) fn put_raw(&self, cf: &'static str, key: &[u8], value: Option<&[u8]>) {
        let handle = self.cf(cf).unwrap();
        match value {
            Some(value) => self.db.put_cf(handle, key, value).unwrap(),
            None => self.db.delete_cf(handle, key).unwrap(),
        }
    }

    /// Every entry of every column family, for tests that compare whole databases.
    #[cfg(test)]
    pub(crate) fn dump(&self) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
        let mut entries = Vec::new();
        for cf in COLUMN_FAMILIES {
            let mut iter = self.db.raw_iterator_cf(self.cf(cf).unwrap());
            iter.seek_to_first();
            while let Some((key, value)) = iter.item() {
                entries.push((cf, key.to_vec(), value.to_vec()));
                iter.next();
            }
            iter.status().unwrap();
        }
        entries
    }
}

/// Decodes a stored value strictly; failure names the column family and key.
fn decode<T: BorshDeserialize>(
    cf: &'static str,
    key: &[u8],
    bytes: &[u8],
    max: usize,
) -> Result<T> {
    codec::decode(cf, bytes, max).map_err(|e| corrupt(cf, key, e.to_string()))
}

fn corrupt(cf: &'static str, key: &[u8], reason: impl Into<String>) -> StorageError {
    StorageError::Corrupt {
        cf,
        key: hex_encode(key),
        reason: reason.into(),
    }
}

fn state_error(error: accord_state::Error) -> StorageError {
    match error {
        accord_state::Error::Corrupt { what, key, reason } => StorageError::Corrupt {
            cf: keys::STATE,
            key,
            reason: format!("{what}: {reason}"),
        },
        other => StorageError::Database {
            operation: "read of state".to_owned(),
            reason: other.to_string(),
        },
    }
}

/// An entry of `events`: its cursor (from the key) and the event.
fn decode_event(key: &[u8], value: &[u8]) -> Result<(EventCursor, Event)> {
    let (height, receipt, event) = keys::parse_event(key)
        .ok_or_else(|| corrupt(keys::EVENTS, key, "the key is not height ‖ receipt ‖ event"))?;
    let decoded = decode(keys::EVENTS, key, value, MAX_RECEIPT_BYTES)?;
    Ok((
        EventCursor {
            height,
            receipt,
            event,
        },
        decoded,
    ))
}

/// Puts the events stored apart back into their receipts: `receipts` are consecutive
/// receipts from index `first`, `events` those of their keys, in key order. A receipt
/// stored with its events inside (as databases written before they were stored apart
/// hold them) keeps them. Each receipt's events must be numbered 0, 1, 2… and belong to
/// one of `receipts`.
fn restore_events(
    receipts: &mut [Receipt],
    first: u32,
    events: Vec<(EventCursor, Event)>,
) -> Result<()> {
    let stored_inside: Vec<bool> = receipts.iter().map(|r| !r.events.is_empty()).collect();
    for (cursor, decoded) in events {
        let EventCursor {
            height,
            receipt,
            event,
        } = cursor;
        let key = keys::event(height, receipt, event);
        let slot = receipt
            .checked_sub(first)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < receipts.len());
        let Some(slot) = slot else {
            return Err(corrupt(
                keys::EVENTS,
                &key,
                format!("an event of receipt {receipt}, which is not stored"),
            ));
        };
        if stored_inside[slot] {
            continue;
        }
        let target = &mut receipts[slot].events;
        if usize::try_from(event).ok() != Some(target.len()) {
            return Err(corrupt(
                keys::EVENTS,
                &key,
                format!(
                    "event {event} of receipt {receipt} follows {} events",
                    target.len()
                ),
            ));
        }
        target.push(decoded);
    }
    Ok(())
}

fn index_u32(height: Height, what: &'static str, index: usize) -> Result<u32> {
    u32::try_from(index).map_err(|_| StorageError::Mismatch {
        height,
        what,
        expected: format!("at most {}", u32::MAX),
        found: index.to_string(),
    })
}
