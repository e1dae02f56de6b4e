//! The mempool's limits.

use accord_types::codec::MAX_TRANSACTION_BYTES;
use serde::{Deserialize, Serialize};

use super::error::ConfigError;

/// How much the mempool holds.
///
/// In the node's TOML file this is the `[mempool]` table; every field is optional and
/// defaults to the value of [`MempoolConfig::default`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MempoolConfig {
    /// Most transactions held at once.
    pub max_txs: usize,
    /// Most bytes (sum of the transactions' encoded sizes) held at once.
    pub max_bytes: usize,
    /// Largest encoded transaction accepted; at most the codec's cap
    /// ([`MAX_TRANSACTION_BYTES`]).
    pub max_tx_bytes: usize,
    /// Most transactions held for one signing account. It is also the nonce window: a
    /// transaction's nonce may be at most `max_per_account - 1` ahead of the account's
    /// next nonce in state.
    pub max_per_account: usize,
    /// Blocks a transaction may wait in the pool; then it is dropped with a reason (a
    /// nonce gap: `bad_nonce`; otherwise `limit_exceeded`), so every accepted
    /// transaction gets an answer.
    pub max_pending_blocks: u64,
    /// Blocks after which a pooled transaction is gossiped again (it may have been
    /// accepted while the node had no peers, or its first copies lost).
    pub regossip_blocks: u64,
}

impl MempoolConfig {
    /// Default for [`MempoolConfig::max_txs`].
    pub const DEFAULT_MAX_TXS: usize = 10_000;
    /// Default for [`MempoolConfig::max_bytes`]: 32 MiB.
    pub const DEFAULT_MAX_BYTES: usize = 32 * 1024 * 1024;
    /// Default for [`MempoolConfig::max_per_account`].
    pub const DEFAULT_MAX_PER_ACCOUNT: usize = 64;
    /// Default for [`MempoolConfig::max_pending_blocks`].
    pub const DEFAULT_MAX_PENDING_BLOCKS: u64 = 1_000;
    /// Default for [`MempoolConfig::regossip_blocks`].
    pub const DEFAULT_REGOSSIP_BLOCKS: u64 = 10;

    /// Checks that the limits are usable together; every problem is reported with the
    /// field's name.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.max_txs == 0 {
            problems.push("max_txs must be at least 1".to_owned());
        }
        if self.max_per_account == 0 {
            problems.push("max_per_account must be at least 1".to_owned());
        }
        if self.max_pending_blocks == 0 {
            problems.push("max_pending_blocks must be at least 1".to_owned());
        }
        if self.regossip_blocks == 0 {
            problems.push("regossip_blocks must be at least 1".to_owned());
        }
        if self.max_tx_bytes == 0 {
            problems.push("max_tx_bytes must be at least 1".to_owned());
        }
        if self.max_tx_bytes > MAX_TRANSACTION_BYTES {
            problems.push(format!(
                "max_tx_bytes is {}, more than the largest transaction the codec accepts ({MAX_TRANSACTION_BYTES})",
                self.max_tx_bytes
            ));
        }
        if self.max_bytes < self.max_tx_bytes {
            problems.push(format!(
                "max_bytes ({}) is smaller than max_tx_bytes ({}): the largest transaction could never fit",
                self.max_bytes, self.max_tx_bytes
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            max_txs: Self::DEFAULT_MAX_TXS,
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_tx_bytes: MAX_TRANSACTION_BYTES,
            max_per_account: Self::DEFAULT_MAX_PER_ACCOUNT,
            max_pending_blocks: Self::DEFAULT_MAX_PENDING_BLOCKS,
            regossip_blocks: Self::DEFAULT_REGOSSIP_BLOCKS,
        }
    }
}
