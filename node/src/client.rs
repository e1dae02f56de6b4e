//! The RPC client side of the command line: `accord tx …` and `accord status`.

use std::path::Path;
use std::time::{Duration, Instant};

use accord_rpc::types::{NodeStatus, TransactionStatus};
use accord_rpc::{ChainApiClient, GovApiClient};
use accord_types::codec::hex_encode;
use accord_types::governance::{ProposalDraft, VoteChoice};
use accord_types::{Nonce, Payload, ProposalId, RegionId, Transaction};
use anyhow::{bail, Context, Result};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::Value;

use crate::cli::say;

use crate::keyfile;

/// An RPC connection to a node: the typed client of `accord-rpc` over HTTP.
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

    /// The typed client, for every method of the API.
    pub fn api(&self) -> &HttpClient {
        &self.http
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The node's status.
    pub async fn status(&self) -> Result<NodeStatus> {
        self.http
            .status()
            .await
            .with_context(|| format!("chain_getStatus at {}", self.url))
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
    let account = client
        .api()
        .account(keypair.public())
        .await
        .with_context(|| format!("gov_getAccount at {rpc}"))?;
    let tx = Transaction::sign(
        &keypair,
        status.chain_id,
        Nonce(account.pending_nonce),
        payload,
    );
    let hash = client
        .api()
        .submit_transaction(hex_encode(&tx.encode()))
        .await
        .with_context(|| format!("gov_submitTransaction at {rpc}"))?;
    say(hash)?;
    if !wait {
        return Ok(true);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = client
            .api()
            .transaction(hash)
            .await
            .with_context(|| format!("chain_getTransaction at {rpc}"))?;
        match answer {
            TransactionStatus::Finalized {
                height, receipt, ..
            } => {
                let outcome = serde_json::to_value(&receipt.outcome).unwrap_or(Value::Null);
                say(format_args!("finalized at height {height}: {outcome}"))?;
                for event in &receipt.events {
                    say(format_args!(
                        "  {}",
                        serde_json::to_value(event).unwrap_or(Value::Null)
                    ))?;
                }
                return Ok(matches!(receipt.outcome, accord_types::Outcome::Success));
            }
            TransactionStatus::Dropped { code, message, .. } => {
                say(format_args!(
                    "dropped: {message} ({})",
                    serde_json::to_value(code).unwrap_or(Value::Null)
                ))?;
                return Ok(false);
            }
            other if Instant::now() >= deadline => {
                bail!(
                    "transaction {hash} not finalized after 60 s; it is still {}",
                    serde_json::to_value(&other).unwrap_or(Value::Null)
                )
            }
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}
