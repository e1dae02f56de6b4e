//! The JSON-RPC server (first part of the API), on 127.0.0.1 by default.
//!
//! | method | params | result |
//! |---|---|---|
//! | `system_health` | — | `{healthy, syncing, peers, height}` |
//! | `chain_getStatus` | — | chain id, height, hash, timestamp, syncing, peers, round, validator |
//! | `chain_getBlock` | height (number) or hash (`0x…`) | `{hash, block}` or `null` |
//! | `gov_submitTransaction` | `0x…` borsh of a signed transaction | its hash, or an error saying why it was refused |
//! | `gov_getTransaction` | hash | `{status: "finalized", height, index, receipt}`, `{status: "pending"}`, `{status: "dropped", code, message}` or `{status: "unknown"}` |
//! | `gov_getAccount` | public key | `{nonce, pending_nonce, roles}` |
//! | `gov_getProposal` | id | the proposal with its draft, tallies and executions, or `null` |
//!
//! Malformed parameters get error -32602 with what was expected; a transaction the
//! node refuses gets [`TX_REFUSED`] with the reason and, in `data`, the error code a
//! client can act on. Request bodies and connections are capped (configuration `rpc`).
//! Each answer built from several state keys reads them from one RocksDB snapshot, so
//! it shows one committed block's state even while the next one commits.

use std::net::SocketAddr;
use std::sync::Arc;

use accord_runtime::{CheckContext, Query};
use accord_types::codec::hex_decode;
use accord_types::{ChainId, Hash, Height, ProposalId, PublicKey, Transaction};
use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, Params};
use jsonrpsee::{Extensions, RpcModule};
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};

use crate::driver::{DroppedLog, SharedStatus};
use crate::mempool::Mempool;
use crate::p2p::{P2pHandle, Topic};
use crate::storage::Storage;

/// JSON-RPC error code: invalid method parameters.
pub const INVALID_PARAMS: i32 = -32602;
/// JSON-RPC error code: the node failed (its database); the request may be retried.
pub const NODE_ERROR: i32 = -32000;
/// JSON-RPC error code: the transaction was refused; `data.code` says why.
pub const TX_REFUSED: i32 = -32010;

/// What the RPC methods read and write.
pub struct RpcContext {
    /// The chain.
    pub chain_id: ChainId,
    /// The database.
    pub storage: Arc<Storage>,
    /// The transaction pool.
    pub mempool: Arc<Mutex<Mempool>>,
    /// The network, to gossip submitted transactions.
    pub p2p: P2pHandle,
    /// The node's status.
    pub status: SharedStatus,
    /// Answers for dropped transactions.
    pub dropped: Arc<RwLock<DroppedLog>>,
}

/// Limits of the server.
#[derive(Debug, Clone, Copy)]
pub struct RpcLimits {
    /// Largest request body.
    pub max_request_bytes: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
}

/// Starts the server; returns its handle and the address it listens on.
pub async fn start(
    listen: SocketAddr,
    limits: RpcLimits,
    context: RpcContext,
) -> anyhow::Result<(ServerHandle, SocketAddr)> {
    let config = ServerConfig::builder()
        .max_request_body_size(limits.max_request_bytes)
        .max_response_body_size(32 * 1024 * 1024)
        .max_connections(limits.max_connections)
        .build();
    let server = Server::builder()
        .set_config(config)
        .build(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for RPC on {listen}: {e}"))?;
    let addr = server.local_addr()?;
    let module = module(context)?;
    Ok((server.start(module), addr))
}

fn invalid(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(INVALID_PARAMS, message, None::<()>)
}

fn node_error(error: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObject::owned(NODE_ERROR, format!("node error: {error}"), None::<()>)
}

/// The only parameter of a method, given by position (`"params": [value]`). A missing
/// parameter, extra ones, named ones and a value of the wrong type each get an
/// [`INVALID_PARAMS`] error that names what was expected.
fn one<T: serde::de::DeserializeOwned>(
    params: &Params<'_>,
    what: &str,
) -> Result<T, ErrorObjectOwned> {
    let text = params.as_str().unwrap_or("[]");
    let values: Vec<Value> = serde_json::from_str(text).map_err(|_| {
        invalid(format!(
            "parameters go by position in an array: expected [{what}]"
        ))
    })?;
    let count = values.len();
    let mut values = values.into_iter();
    match (values.next(), count) {
        (None, _) => Err(invalid(format!("missing parameter: expected {what}"))),
        (Some(value), 1) => {
            serde_json::from_value(value).map_err(|e| invalid(format!("expected {what}: {e}")))
        }
        (Some(_), _) => Err(invalid(format!(
            "expected one parameter ({what}), got {count}"
        ))),
    }
}

fn parse_hash(text: &str) -> Result<Hash, ErrorObjectOwned> {
    Hash::from_hex(text)
        .map_err(|e| invalid(format!("not a hash ({e}); expected 0x and 64 hex digits")))
}

type Ctx = Arc<RpcContext>;

/// The RPC methods over `context`.
pub fn module(context: RpcContext) -> anyhow::Result<RpcModule<RpcContext>> {
    let mut module = RpcModule::new(context);
    module.register_method("system_health", |_, ctx: &RpcContext, _: &Extensions| {
        let status = ctx.status.read();
        json!({
            "healthy": !status.syncing && status.peers > 0,
            "syncing": status.syncing,
            "peers": status.peers,
            "height": status.height.0,
        })
    })?;
    module.register_method("chain_getStatus", |_, ctx: &RpcContext, _: &Extensions| {
        serde_json::to_value(&*ctx.status.read()).unwrap_or(Value::Null)
    })?;
    module.register_blocking_method("chain_getBlock", |params, ctx: Ctx, _| {
        let id: Value = one(&params, "a height or a block hash")?;
        let block = match &id {
            Value::Number(n) => {
                let height = n.as_u64().ok_or_else(|| {
                    invalid(format!("a height is a non-negative integer, not {n}"))
                })?;
                ctx.storage.block(Height(height)).map_err(node_error)?
            }
            Value::String(s) => ctx
                .storage
                .block_by_hash(&parse_hash(s)?)
                .map_err(node_error)?,
            _ => {
                return Err(invalid(
                    "expected a height (number) or a block hash (0x… string)",
                ))
            }
        };
        Ok::<Value, ErrorObjectOwned>(match block {
            Some(block) => json!({ "hash": block.hash(), "block": block }),
            None => Value::Null,
        })
    })?;
    module.register_async_method("gov_submitTransaction", |params, ctx: Ctx, _| async move {
        let text: String = one(&params, "a 0x-hex borsh transaction")?;
        let bytes = hex_decode("transaction", &text)
            .map_err(|e| invalid(format!("the transaction is not 0x-hex: {e}")))?;
        let hash = submit(&ctx, &bytes)?;
        if let Err(error) = ctx.p2p.publish(Topic::Transactions, bytes).await {
            tracing::debug!(%error, "submitted transaction not gossiped yet");
        }
        Ok::<String, ErrorObjectOwned>(hash.to_string())
    })?;
    module.register_blocking_method("gov_getTransaction", |params, ctx: Ctx, _| {
        let text: String = one(&params, "a transaction hash")?;
        let hash = parse_hash(&text)?;
        if let Some((height, index)) = ctx.storage.transaction(&hash).map_err(node_error)? {
            let receipt = ctx
                .storage
                .receipts(height)
                .map_err(node_error)?
                .into_iter()
                .nth(index as usize);
            return Ok::<Value, ErrorObjectOwned>(json!({
                "status": "finalized",
                "height": height.0,
                "index": index,
                "receipt": receipt,
            }));
        }
        if ctx.mempool.lock().contains(&hash) {
            return Ok(json!({ "status": "pending" }));
        }
        if let Some(dropped) = ctx.dropped.read().get(&hash) {
            return Ok(json!({
                "status": "dropped",
                "code": dropped.code,
                "message": dropped.message,
                "height": dropped.height.0,
            }));
        }
        Ok(json!({ "status": "unknown" }))
    })?;
    module.register_blocking_method("gov_getAccount", |params, ctx: Ctx, _| {
        let text: String = one(&params, "a public key")?;
        let key =
            PublicKey::from_hex(&text).map_err(|e| invalid(format!("not a public key ({e})")))?;
        let store = ctx.storage.state_snapshot();
        let account = Query::new(&store).account(&key).map_err(node_error)?;
        let pending = ctx
            .mempool
            .lock()
            .pending_nonce(&store, &key)
            .map_err(node_error)?;
        Ok::<Value, ErrorObjectOwned>(json!({
            "nonce": account.nonce,
            "pending_nonce": pending.0.max(account.nonce),
            "roles": account.roles,
        }))
    })?;
    module.register_blocking_method("gov_getProposal", |params, ctx: Ctx, _| {
        let id: u64 = one(&params, "a proposal id")?;
        let store = ctx.storage.state_snapshot();
        let view = Query::new(&store)
            .proposal(ProposalId(id))
            .map_err(node_error)?;
        Ok::<Value, ErrorObjectOwned>(serde_json::to_value(view).unwrap_or(Value::Null))
    })?;
    Ok(module)
}

/// Admits a transaction to the pool.
fn submit(ctx: &RpcContext, bytes: &[u8]) -> Result<Hash, ErrorObjectOwned> {
    let store = ctx.storage.state_store();
    let status = ctx.status.read().clone();
    let check = CheckContext {
        chain_id: ctx.chain_id.clone(),
        height: status.height.saturating_add(1),
        timestamp: status.timestamp,
    };
    let result = ctx.mempool.lock().add_raw(&store, &check, &[bytes]).pop();
    match result {
        Some(Ok(hash)) => Ok(hash),
        Some(Err(error)) => Err(ErrorObject::owned(
            TX_REFUSED,
            error.to_string(),
            Some(json!({ "code": error.code() })),
        )),
        None => Err(node_error("the pool answered nothing")),
    }
}

/// Decodes a transaction given as 0x-hex, for tools.
pub fn decode_transaction(text: &str) -> anyhow::Result<Transaction> {
    let bytes = hex_decode("transaction", text)?;
    Ok(Transaction::decode(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of(json: Option<&str>) -> Result<u64, String> {
        one::<u64>(&Params::new(json), "a proposal id").map_err(|e| e.message().to_owned())
    }

    #[test]
    fn the_only_parameter_is_read_and_every_other_shape_is_named() {
        assert_eq!(one_of(Some("[7]")), Ok(7));
        assert_eq!(one_of(Some(" [ 7 ] ")), Ok(7));
        for (params, words) in [
            (None, &["missing parameter", "a proposal id"][..]),
            (Some("[]"), &["missing parameter", "a proposal id"]),
            (Some("[7, 8]"), &["one parameter", "a proposal id", "got 2"]),
            (Some(r#"{"id": 7}"#), &["by position", "[a proposal id]"]),
            (
                Some(r#"["7"]"#),
                &["expected a proposal id", "invalid type: string"],
            ),
            (
                Some("[-1]"),
                &["expected a proposal id", "invalid value: integer `-1`"],
            ),
            (
                Some("[1.5]"),
                &["expected a proposal id", "invalid type: floating point"],
            ),
        ] {
            let message = one_of(params).unwrap_err();
            for word in words {
                assert!(message.contains(word), "{params:?}: {message}");
            }
        }
    }
}
