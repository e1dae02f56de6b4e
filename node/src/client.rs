//! The RPC client side of the command line: `accord tx …` and `accord status`.

use std::path::Path;
use std::time::{Duration, Instant};

use accord_types::codec::hex_encode;
use accord_types::governance::{ProposalDraft, VoteChoice};
use accord_types::{ChainId, Nonce, Payload, ProposalId, RegionId, Transaction};
use anyhow::{bail, Context, Result};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::Value;

use crate::keyfile;

/// An RPC connection to a node.
pub struct Client {
    url: String,
    http: HttpClient,
}

impl Client {
    /// A client for the node at `url` (`http://127.0.0.1:9944`).
    pub fn new(url: &str) -> Result<Self> {
        let http = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(30))
            .build(url)
            .with_context(|| format!("{url} is not a usable RPC URL"))?;
        Ok(Self {
            url: url.to_owned(),
            http,
        })
    }

    /// Calls a method.
    pub async fn call(
        &self,
        method: &str,
        params: jsonrpsee::core::params::ArrayParams,
    ) -> Result<Value> {
        self.http
            .request(method, params)
            .await
            .with_context(|| format!("{method} at {}", self.url))
    }

    /// The node's status.
    pub async fn status(&self) -> Result<Value> {
        self.call("chain_getStatus", rpc_params![]).await
    }
}

/// What `accord tx` sends.
#[derive(Debug, Clone)]
pub enum TxAction {
    /// Submit a proposal from a JSON draft file.
    Propose {
        /// The draft file.
        draft: std::path::PathBuf,
    },
    /// Vote on a proposal for a region.
    Vote {
        /// The proposal.
        proposal: u64,
        /// The region voted for.
        region: String,
        /// The choice.
        choice: VoteChoice,
    },
    /// Cancel a proposal.
    Cancel {
        /// The proposal.
        proposal: u64,
        /// Why.
        reason: String,
    },
    /// Execute an approved manual-mode proposal.
    Execute {
        /// The proposal.
        proposal: u64,
    },
}

fn payload(action: &TxAction) -> Result<Payload> {
    Ok(match action {
        TxAction::Propose { draft } => {
            let text = std::fs::read_to_string(draft)
                .with_context(|| format!("cannot read draft {}", draft.display()))?;
            let shown = draft.display();
            let mut value: Value = serde_json::from_str(&text)
                .with_context(|| format!("draft {shown} is not JSON"))?;
            // The digest is of the body: computed here when the draft leaves it out.
            let digest = match value.get("payload_digest") {
                Some(_) => None,
                None => {
                    let body = value
                        .get("body")
                        .cloned()
                        .with_context(|| format!("draft {shown} has no \"body\""))?;
                    let body: accord_types::governance::ProposalBody = serde_json::from_value(body)
                        .with_context(|| format!("draft {shown}: body"))?;
                    Some(accord_runtime::payload_digest(&body))
                }
            };
            if let (Some(digest), Some(object)) = (digest, value.as_object_mut()) {
                object.insert("payload_digest".into(), Value::String(digest.to_string()));
            }
            let draft: ProposalDraft = serde_json::from_value(value)
                .with_context(|| format!("draft {shown} is not a proposal draft"))?;
            Payload::SubmitProposal {
                draft: Box::new(draft),
            }
        }
        TxAction::Vote {
            proposal,
            region,
            choice,
        } => Payload::Vote {
            proposal: ProposalId(*proposal),
            region: RegionId::new(region).with_context(|| format!("region {region:?}"))?,
            choice: *choice,
        },
        TxAction::Cancel { proposal, reason } => Payload::Cancel {
            proposal: ProposalId(*proposal),
            reason: reason.clone(),
        },
        TxAction::Execute { proposal } => Payload::Execute {
            proposal: ProposalId(*proposal),
        },
    })
}

/// Builds, signs and submits a transaction; with `wait`, waits for its receipt.
/// Returns whether it succeeded (or was accepted, without `wait`).
pub async fn send(rpc: &str, key: &Path, action: &TxAction, wait: bool) -> Result<bool> {
    let keypair = keyfile::read(key)?;
    let payload = payload(action)?;
    let client = Client::new(rpc)?;
    let status = client.status().await?;
    let chain_id = status
        .get("chain_id")
        .and_then(Value::as_str)
        .context("the node's status has no chain id")?;
    let chain_id = ChainId::new(chain_id).context("the node reports an invalid chain id")?;
    let account = client
        .call("gov_getAccount", rpc_params![keypair.public().to_string()])
        .await?;
    let nonce = account
        .get("pending_nonce")
        .and_then(Value::as_u64)
        .context("the node's account answer has no pending_nonce")?;
    let tx = Transaction::sign(&keypair, chain_id, Nonce(nonce), payload);
    let hash = client
        .call(
            "gov_submitTransaction",
            rpc_params![hex_encode(&tx.encode())],
        )
        .await?;
    let hash = hash
        .as_str()
        .context("the node answered without a hash")?
        .to_owned();
    println!("{hash}");
    if !wait {
        return Ok(true);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = client
            .call("gov_getTransaction", rpc_params![hash.clone()])
            .await?;
        match answer.get("status").and_then(Value::as_str) {
            Some("finalized") => {
                let receipt = answer.get("receipt").cloned().unwrap_or(Value::Null);
                let height = answer.get("height").and_then(Value::as_u64).unwrap_or(0);
                let outcome = receipt.get("outcome").cloned().unwrap_or(Value::Null);
                println!("finalized at height {height}: {outcome}");
                if let Some(events) = receipt.get("events").and_then(Value::as_array) {
                    for event in events {
                        println!("  {event}");
                    }
                }
                return Ok(outcome.get("result").and_then(Value::as_str) == Some("success"));
            }
            Some("dropped") => {
                println!(
                    "dropped: {} ({})",
                    answer.get("message").and_then(Value::as_str).unwrap_or(""),
                    answer.get("code").cloned().unwrap_or(Value::Null)
                );
                return Ok(false);
            }
            _ if Instant::now() >= deadline => {
                bail!("transaction {hash} not finalized after 60 s; it is still {answer}")
            }
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}
