//! The serving side of block sync: answers from the database, run on a blocking thread.

use accord_types::Height;
use anyhow::{Context, Result};

use super::SYNC_RANGE;
use crate::p2p::{SyncRequest, SyncResponse};
use crate::storage::Storage;

/// Answers a request for stored blocks: `Blocks` with the longest prefix of the range
/// (at most [`SYNC_RANGE`] blocks, none past `head`) whose blocks and certificates fit
/// in `budget` bytes (the first always goes, whatever its size: the p2p cap holds the
/// largest block with its certificate), `Block` by hash, or the stored head.
pub fn answer(
    storage: &Storage,
    head: Height,
    budget: usize,
    request: &SyncRequest,
) -> Result<SyncResponse> {
    match *request {
        SyncRequest::Status => {
            let head = storage.head()?.context("the database has no head")?;
            Ok(SyncResponse::Status {
                height: head.height,
                hash: head.hash,
            })
        }
        SyncRequest::Blocks { from, to } => {
            let last = to.0.min(from.0.saturating_add(SYNC_RANGE - 1)).min(head.0);
            let mut out = Vec::new();
            let mut bytes = 0usize;
            for h in from.0.max(1)..=last {
                let (Some(block), Some(certificate)) =
                    (storage.block(Height(h))?, storage.certificate(Height(h))?)
                else {
                    break;
                };
                let size = borsh::object_length(&block)
                    .unwrap_or(usize::MAX)
                    .saturating_add(borsh::object_length(&certificate).unwrap_or(usize::MAX));
                bytes = bytes.saturating_add(size);
                if !out.is_empty() && bytes > budget {
                    break;
                }
                out.push((block, certificate));
            }
            Ok(SyncResponse::Blocks(out))
        }
        SyncRequest::BlockByHash(hash) => Ok(SyncResponse::Block(storage.block_by_hash(&hash)?)),
    }
}
