//! One node, over the typed WebSocket client of `accord-rpc`: bounded answers, calls
//! with a time limit, transactions signed with the account's next nonce and followed
//! until they are finalized.

use std::time::{Duration, Instant};

use accord_rpc::types::{
    AccountView, EventFilter, EventPage, EventProof, EventView, NodeStatus, StateProofView,
    StateTarget, TransactionStatus,
};
use accord_rpc::{ChainApiClient, GovApiClient};
use accord_runtime::ProposalView;
use accord_types::codec::hex_encode;
use accord_types::{
    ChainId, EventCursor, Hash, Height, Keypair, Nonce, Payload, ProposalId, Receipt, Transaction,
};
use jsonrpsee::core::client::{Error as ClientError, Subscription};
use jsonrpsee::ws_client::{PingConfig, WsClient, WsClientBuilder};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::trust::ProofSource;

/// Largest request the agent sends (its transactions are far smaller).
const MAX_REQUEST_BYTES: u32 = 4 * 1024 * 1024;
/// Notifications buffered per subscription before the client closes it as lagging.
const SUBSCRIPTION_BUFFER: usize = 1024;
/// Submissions retried after a nonce race.
const NONCE_RETRIES: usize = 3;

/// A connection to one node.
pub struct Node {
    url: String,
    client: WsClient,
}

/// A transaction in a finalized block.
#[derive(Debug, Clone)]
pub struct Included {
    /// The block.
    pub height: Height,
    /// The receipt's index in the block.
    pub index: u32,
    /// The receipt (not proven: callers prove the events they rely on).
    pub receipt: Receipt,
}

impl Included {
    /// The cursor of the receipt's event at `event`.
    pub fn cursor(&self, event: usize) -> EventCursor {
        EventCursor {
            height: self.height,
            receipt: self.index,
            event: u32::try_from(event).unwrap_or(u32::MAX),
        }
    }
}

impl Node {
    /// Connects to `url` with the configuration's limits.
    pub async fn connect(url: &str, config: &Config) -> Result<Self> {
        let client = WsClientBuilder::default()
            .max_response_size(config.max_response_bytes)
            .max_request_size(MAX_REQUEST_BYTES)
            .request_timeout(config.request_timeout)
            .connection_timeout(config.request_timeout)
            .max_buffer_capacity_per_subscription(SUBSCRIPTION_BUFFER)
            .enable_ws_ping(
                PingConfig::new()
                    .ping_interval(Duration::from_secs(15))
                    .inactive_limit(Duration::from_secs(45)),
            )
            .build(url)
            .await
            .map_err(|e| Error::Rpc {
                endpoint: url.to_owned(),
                method: "connect",
                code: None,
                message: e.to_string(),
            })?;
        Ok(Self {
            url: url.to_owned(),
            client,
        })
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the connection is still up.
    pub fn is_connected(&self) -> bool {
        self.client.is_connected()
    }

    fn error(&self, method: &'static str, error: &ClientError) -> Error {
        let code = match error {
            ClientError::Call(object) => Some(object.code()),
            _ => None,
        };
        Error::Rpc {
            endpoint: self.url.clone(),
            method,
            code,
            message: error.to_string(),
        }
    }

    /// `chain_getStatus`.
    pub async fn status(&self) -> Result<NodeStatus> {
        ChainApiClient::status(&self.client)
            .await
            .map_err(|e| self.error("chain_getStatus", &e))
    }

    /// `gov_getAccount`.
    pub async fn account(&self, key: accord_types::PublicKey) -> Result<AccountView> {
        self.client
            .account(key)
            .await
            .map_err(|e| self.error("gov_getAccount", &e))
    }

    /// `gov_subscribeEvents` from `after`.
    pub async fn subscribe(
        &self,
        filter: EventFilter,
        after: Option<EventCursor>,
    ) -> Result<Subscription<EventView>> {
        self.client
            .subscribe_events(Some(filter), after)
            .await
            .map_err(|e| self.error("gov_subscribeEvents", &e))
    }

    /// Signs `payload` with the account's next nonce (counting its pending transactions)
    /// and submits it; a refusal for the nonce (another transaction of the account won
    /// the race) is retried with a fresh nonce. Returns the transaction's hash.
    pub async fn submit(
        &self,
        keypair: &Keypair,
        chain_id: &ChainId,
        payload: Payload,
    ) -> Result<Hash> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let account = self.account(keypair.public()).await?;
            let tx = Transaction::sign(
                keypair,
                chain_id.clone(),
                Nonce(account.pending_nonce),
                payload.clone(),
            );
            match self
                .client
                .submit_transaction(hex_encode(&tx.encode()))
                .await
            {
                Ok(hash) => return Ok(hash),
                Err(ClientError::Call(object))
                    if object.code() == accord_rpc::error::TX_REFUSED =>
                {
                    let code = object
                        .data()
                        .and_then(|d| serde_json::from_str::<serde_json::Value>(d.get()).ok())
                        .and_then(|d| d.get("code").and_then(|c| c.as_str()).map(str::to_owned))
                        .unwrap_or_else(|| "unknown".to_owned());
                    if code == "bad_nonce" && attempt < NONCE_RETRIES {
                        continue;
                    }
                    return Err(Error::TxRefused {
                        endpoint: self.url.clone(),
                        code,
                        message: object.message().to_owned(),
                    });
                }
                Err(e) => return Err(self.error("gov_submitTransaction", &e)),
            }
        }
    }

    /// Polls `chain_getTransaction` until the transaction is in a finalized block.
    pub async fn wait_finalized(
        &self,
        hash: Hash,
        timeout: Duration,
        poll: Duration,
    ) -> Result<Included> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.transaction(hash).await? {
                TransactionStatus::Finalized {
                    height,
                    index,
                    transaction,
                    receipt,
                } => {
                    if transaction.hash() != hash {
                        return Err(Error::Rpc {
                            endpoint: self.url.clone(),
                            method: "chain_getTransaction",
                            code: None,
                            message: format!(
                                "asked for {hash}, answered with a transaction hashing to {}",
                                transaction.hash()
                            ),
                        });
                    }
                    return Ok(Included {
                        height,
                        index,
                        receipt: *receipt,
                    });
                }
                TransactionStatus::Dropped { message, .. } => {
                    return Err(Error::NotFinalized {
                        hash,
                        reason: format!("dropped from the pool: {message}"),
                    })
                }
                TransactionStatus::Pending | TransactionStatus::Unknown => {}
            }
            if Instant::now() >= deadline {
                return Err(Error::NotFinalized {
                    hash,
                    reason: format!("not in a finalized block after {} s", timeout.as_secs()),
                });
            }
            tokio::time::sleep(poll).await;
        }
    }
}

impl ProofSource for Node {
    fn endpoint(&self) -> &str {
        &self.url
    }

    async fn event_proof(&self, cursor: EventCursor) -> Result<EventProof> {
        self.client
            .event_proof(cursor)
            .await
            .map_err(|e| self.error("gov_getEventProof", &e))
    }

    async fn state_proof(&self, target: StateTarget) -> Result<StateProofView> {
        self.client
            .state_proof(target)
            .await
            .map_err(|e| self.error("gov_getStateProof", &e))
    }

    async fn events(
        &self,
        filter: EventFilter,
        after: Option<EventCursor>,
        limit: u32,
    ) -> Result<EventPage> {
        self.client
            .events(Some(filter), after, Some(limit))
            .await
            .map_err(|e| self.error("gov_getEvents", &e))
    }

    async fn transaction(&self, hash: Hash) -> Result<TransactionStatus> {
        ChainApiClient::transaction(&self.client, hash)
            .await
            .map_err(|e| self.error("chain_getTransaction", &e))
    }

    async fn proposal(&self, id: ProposalId) -> Result<Option<ProposalView>> {
        self.client
            .proposal(id)
            .await
            .map_err(|e| self.error("gov_getProposal", &e))
    }
}
