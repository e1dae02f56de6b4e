//! `system_*`, `rpc_*` and `chain_*`.

use accord_types::{Block, CommitCertificate, Hash, Height, ReceiptSource, ValidatorSet};
use jsonrpsee::core::{async_trait, RpcResult, SubscriptionResult};
use jsonrpsee::PendingSubscriptionSink;

use super::RpcApi;
use crate::api::{ChainApiServer, MetaApiServer, SystemApiServer};
use crate::error::{invalid, not_found};
use crate::methods;
use crate::types::{
    BlockId, BlockView, HeaderView, Health, NodeStatus, PeerInfo, ReceiptView, RegionValidators,
    SyncState, TransactionStatus, ValidatorView, ValidatorsView, Version, MAX_BLOCK_RANGE, U64,
};

impl RpcApi {
    /// The height a block id names, if such a block exists.
    pub(crate) fn resolve(&self, id: BlockId) -> RpcResult<Option<Height>> {
        match id {
            BlockId::Height(height) => {
                let (head, _) = self.backend.chain.head()?;
                Ok((height.0 >= 1 && height <= head).then_some(height))
            }
            BlockId::Hash(hash) => Ok(self.backend.chain.block_height(&hash)?),
        }
    }

    fn block_view(block: Block) -> BlockView {
        BlockView {
            hash: block.hash(),
            block,
        }
    }
}

impl SystemApiServer for RpcApi {
    fn health(&self) -> RpcResult<Health> {
        let status = self.backend.node.status();
        Ok(Health {
            healthy: !status.syncing && status.peers > 0 && !status.halted,
            syncing: status.syncing,
            peers: status.peers,
            height: status.height,
        })
    }

    fn version(&self) -> RpcResult<Version> {
        let status = self.backend.node.status();
        Ok(Version {
            name: "accord".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            chain_id: status.chain_id,
            genesis_hash: status.genesis_hash,
        })
    }

    fn peers(&self) -> RpcResult<Vec<PeerInfo>> {
        Ok(self.backend.node.peers())
    }

    fn sync_state(&self) -> RpcResult<SyncState> {
        let status = self.backend.node.status();
        let highest = self
            .backend
            .node
            .highest_peer_height()
            .map_or(status.height, |h| h.max(status.height));
        Ok(SyncState {
            syncing: status.syncing,
            current: status.height,
            highest,
        })
    }
}

impl MetaApiServer for RpcApi {
    fn methods(&self) -> RpcResult<Vec<String>> {
        let mut names: Vec<String> = methods::METHODS.iter().map(|m| m.name.to_owned()).collect();
        names.sort();
        Ok(names)
    }

    fn discover(&self) -> RpcResult<serde_json::Value> {
        Ok(methods::openrpc())
    }
}

/// The view of a validator set grouped by region.
pub(crate) fn validators_view(height: Height, set: &ValidatorSet) -> ValidatorsView {
    let mut regions: Vec<RegionValidators> = Vec::new();
    for (region, power) in set.region_power() {
        regions.push(RegionValidators {
            region: region.clone(),
            power: U64(*power),
            validators: set
                .validators()
                .iter()
                .filter(|v| &v.region == region)
                .map(|v| ValidatorView {
                    name: v.name.clone(),
                    key: v.key,
                    power: U64(v.power),
                })
                .collect(),
        });
    }
    ValidatorsView {
        height,
        hash: set.hash(),
        rule: set.rule(),
        total_power: U64(set.total_power()),
        regions,
    }
}

#[async_trait]
impl ChainApiServer for RpcApi {
    fn status(&self) -> RpcResult<NodeStatus> {
        Ok(self.backend.node.status())
    }

    fn block(&self, id: BlockId) -> RpcResult<Option<BlockView>> {
        let Some(height) = self.resolve(id)? else {
            return Ok(None);
        };
        Ok(self.backend.chain.block(height)?.map(Self::block_view))
    }

    fn block_range(&self, from: Height, to: Height) -> RpcResult<Vec<BlockView>> {
        if from.0 == 0 {
            return Err(invalid(
                "heights start at 1 (height 0 is the genesis, which has no block)",
            ));
        }
        if to < from {
            return Err(invalid(format!("the range {from}..={to} is reversed")));
        }
        let count = to.0 - from.0 + 1;
        if count > MAX_BLOCK_RANGE {
            return Err(invalid(format!(
                "the range {from}..={to} holds {count} blocks; at most {MAX_BLOCK_RANGE} at once"
            )));
        }
        let (head, _) = self.backend.chain.head()?;
        let mut blocks = Vec::new();
        for h in from.0..=to.0.min(head.0) {
            match self.backend.chain.block(Height(h))? {
                Some(block) => blocks.push(Self::block_view(block)),
                None => break,
            }
        }
        Ok(blocks)
    }

    fn header(&self, id: BlockId) -> RpcResult<Option<HeaderView>> {
        let Some(height) = self.resolve(id)? else {
            return Ok(None);
        };
        Ok(self.backend.chain.header(height)?.map(|header| HeaderView {
            hash: header.hash(),
            header,
        }))
    }

    fn certificate(&self, id: BlockId) -> RpcResult<Option<CommitCertificate>> {
        let Some(height) = self.resolve(id)? else {
            return Ok(None);
        };
        Ok(self.backend.chain.certificate(height)?)
    }

    fn receipts(&self, id: BlockId) -> RpcResult<Option<Vec<ReceiptView>>> {
        let Some(height) = self.resolve(id)? else {
            return Ok(None);
        };
        let receipts = self.backend.chain.receipts(height)?;
        Ok(Some(
            receipts
                .into_iter()
                .enumerate()
                .map(|(index, receipt)| ReceiptView {
                    height,
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                    receipt,
                })
                .collect(),
        ))
    }

    fn transaction(&self, hash: Hash) -> RpcResult<TransactionStatus> {
        if let Some((height, index)) = self.backend.chain.transaction_location(&hash)? {
            let receipt = self.backend.chain.receipt(height, index)?;
            let transaction = self
                .backend
                .chain
                .block(height)?
                .and_then(|b| b.transactions.into_iter().nth(index as usize));
            if let (Some(receipt), Some(transaction)) = (receipt, transaction) {
                // The index names the transaction's first inclusion; its receipt says so.
                debug_assert!(matches!(receipt.source, ReceiptSource::Transaction { .. }));
                return Ok(TransactionStatus::Finalized {
                    height,
                    index,
                    transaction: Box::new(transaction),
                    receipt: Box::new(receipt),
                });
            }
        }
        Ok(self.backend.pool.status(&hash))
    }

    fn validators(&self, height: Option<Height>) -> RpcResult<ValidatorsView> {
        let (head, _) = self.backend.chain.head()?;
        let height = height.unwrap_or(head.saturating_add(1));
        if height.0 == 0 {
            return Err(invalid("heights start at 1 (height 0 is the genesis)"));
        }
        let set = self.backend.chain.validator_set(height)?.ok_or_else(|| {
            not_found(format!(
                "no validator set is known for height {height} (the head is {head}; sets are \
                 known up to the next height)"
            ))
        })?;
        Ok(validators_view(height, &set))
    }

    async fn subscribe_finalized_blocks(
        &self,
        pending: PendingSubscriptionSink,
    ) -> SubscriptionResult {
        super::subscriptions::finalized_blocks(self.clone(), pending).await
    }
}
