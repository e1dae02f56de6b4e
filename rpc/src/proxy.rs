//! A lying node for tests: a JSON-RPC server in front of an honest one that forwards
//! what clients ask and tells one kind of lie about execution requests. Clients that
//! check proofs (the deploy agent) must refuse every lie and go on elsewhere.
//!
//! - [`Lie::AlterDigest`]: every streamed `execution_requested` carries another payload
//!   digest; proofs are the honest node's, so they show the real event.
//! - [`Lie::ForgeApproval`]: a proposal that was only submitted is streamed as approved:
//!   an `execution_requested` at the cursor of its `proposal_submitted` event, with a
//!   proof whose receipt was edited to hold it (the receipt no longer matches the
//!   signed header's receipts root).
//! - [`Lie::Replay`]: an event of another chain, with that chain's own valid proof,
//!   streamed first on every subscription (its signatures are good, its chain is not).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use accord_types::{Domain, Event, EventCursor, Hash, ProposalId, RegionId};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::server::{Server, ServerHandle};
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, Params};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage, SubscriptionSink};
use parking_lot::Mutex;
use serde_json::Value;

use crate::types::{EventFilter, EventProof, EventView};
use crate::GovApiClient;

/// The calls forwarded unchanged (besides `gov_getEventProof`, which a lie may answer).
const FORWARDED: [&str; 11] = [
    "chain_getStatus",
    "chain_getBlock",
    "chain_getTransaction",
    "gov_getAccount",
    "gov_getStateProof",
    "gov_getProposal",
    "gov_listProposals",
    "gov_getEvents",
    "gov_submitTransaction",
    "system_health",
    "rpc_methods",
];

/// Why the proxy did not start.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How often [`Lie::ForgeApproval`] looks for the proposal's submission.
const POLL: Duration = Duration::from_millis(100);

/// The lie a [`LyingProxy`] tells.
#[derive(Debug, Clone)]
pub enum Lie {
    /// Alters the payload digest of every streamed execution request.
    AlterDigest,
    /// Streams an execution request of `proposal` in `region` as soon as the proposal
    /// is submitted, with a proof edited to hold it.
    ForgeApproval {
        /// The proposal presented as approved.
        proposal: ProposalId,
        /// The region asked to execute it.
        region: RegionId,
    },
    /// Streams another chain's event, with its proof, first on every subscription.
    Replay {
        /// The event as that chain streamed it.
        view: Box<EventView>,
        /// That chain's proof of it.
        proof: Box<EventProof>,
    },
}

struct Shared {
    upstream: WsClient,
    lie: Lie,
    /// Proofs the proxy answers itself, by cursor.
    forged: Mutex<HashMap<EventCursor, EventProof>>,
    told: AtomicUsize,
}

/// A running lying proxy; stops when dropped.
pub struct LyingProxy {
    url: String,
    shared: Arc<Shared>,
    handle: ServerHandle,
}

impl Drop for LyingProxy {
    fn drop(&mut self) {
        let _ = self.handle.stop();
    }
}

impl LyingProxy {
    /// Starts a proxy on a free loopback port in front of the node at `upstream` (a
    /// `ws://` URL).
    pub async fn start(upstream: &str, lie: Lie) -> Result<Self, BoxError> {
        let upstream = WsClientBuilder::default().build(upstream).await?;
        let shared = Arc::new(Shared {
            upstream,
            lie,
            forged: Mutex::new(HashMap::new()),
            told: AtomicUsize::new(0),
        });
        let mut module = RpcModule::from_arc(shared.clone());
        for method in FORWARDED {
            module.register_async_method(method, move |params, shared, _| async move {
                shared.forward(method, &params).await
            })?;
        }
        module.register_async_method("gov_getEventProof", |params, shared, _| async move {
            let cursor: Option<EventCursor> = params.one().ok();
            let forged = cursor.and_then(|c| shared.forged.lock().get(&c).cloned());
            match forged {
                Some(proof) => serde_json::to_value(proof)
                    .map_err(|e| ErrorObject::owned(-32603, e.to_string(), None::<()>)),
                None => shared.forward("gov_getEventProof", &params).await,
            }
        })?;
        module.register_subscription(
            "gov_subscribeEvents",
            "gov_event",
            "gov_unsubscribeEvents",
            |params, pending, shared, _| async move {
                shared.stream(params.into_owned(), pending).await;
            },
        )?;
        let server = Server::builder().build("127.0.0.1:0").await?;
        let url = format!("ws://{}", server.local_addr()?);
        let handle = server.start(module);
        Ok(Self {
            url,
            shared,
            handle,
        })
    }

    /// Where clients reach it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many lies it has told (events altered, forged or replayed).
    pub fn told(&self) -> usize {
        self.shared.told.load(Ordering::SeqCst)
    }
}

impl Shared {
    async fn forward(&self, method: &str, params: &Params<'_>) -> Result<Value, ErrorObjectOwned> {
        self.upstream
            .request::<Value, _>(method, positional(params))
            .await
            .map_err(upstream_error)
    }

    async fn stream(&self, params: Params<'static>, pending: PendingSubscriptionSink) {
        let subscribed = self
            .upstream
            .subscribe::<Value, _>(
                "gov_subscribeEvents",
                positional(&params),
                "gov_unsubscribeEvents",
            )
            .await;
        let mut events = match subscribed {
            Ok(events) => events,
            Err(error) => {
                pending.reject(upstream_error(error)).await;
                return;
            }
        };
        let Ok(sink) = pending.accept().await else {
            return;
        };
        if let Lie::Replay { view, proof } = &self.lie {
            self.forged.lock().insert(view.cursor, (**proof).clone());
            if !self.send(&sink, view).await {
                return;
            }
        }
        let mut forged = false;
        let mut poll = tokio::time::interval(POLL);
        loop {
            tokio::select! {
                item = events.next() => {
                    let Some(Ok(raw)) = item else { return };
                    let Ok(mut view) = serde_json::from_value::<EventView>(raw) else { return };
                    if let (Lie::AlterDigest, Event::ExecutionRequested { payload_digest, .. }) =
                        (&self.lie, &mut view.event)
                    {
                        *payload_digest = Hash::digest(Domain::PAYLOAD, b"something else");
                    }
                    if !self.send(&sink, &view).await {
                        return;
                    }
                }
                _ = poll.tick(), if !forged => {
                    let Lie::ForgeApproval { proposal, region } = &self.lie else {
                        forged = true;
                        continue;
                    };
                    if let Some(view) = self.forge(*proposal, region).await {
                        forged = true;
                        if !self.send(&sink, &view).await {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// An execution request of `proposal` at its submission's cursor, and the edited
    /// proof of it; `None` until the proposal is submitted.
    async fn forge(&self, proposal: ProposalId, region: &RegionId) -> Option<EventView> {
        let filter = EventFilter {
            types: Some(vec!["proposal_submitted".into()]),
            proposals: Some(vec![proposal]),
            ..EventFilter::default()
        };
        let page = self
            .upstream
            .events(Some(filter), None, Some(1))
            .await
            .ok()?;
        let submitted = page.events.into_iter().next()?;
        let mut proof = self.upstream.event_proof(submitted.cursor).await.ok()?;
        let digest = self
            .upstream
            .proposal(proposal)
            .await
            .ok()
            .flatten()
            .map_or_else(
                || Hash::digest(Domain::PAYLOAD, b"forged"),
                |v| v.state.payload_digest,
            );
        let event = Event::ExecutionRequested {
            proposal,
            region: region.clone(),
            phase: 0,
            payload_digest: digest,
            idempotency_key: Hash::digest(Domain::PAYLOAD, b"forged approval"),
        };
        let slot = proof
            .receipt
            .events
            .get_mut(usize::try_from(submitted.cursor.event).ok()?)?;
        *slot = event.clone();
        self.forged.lock().insert(submitted.cursor, proof);
        Some(EventView {
            cursor: submitted.cursor,
            transaction: submitted.transaction,
            event,
        })
    }

    /// Sends one event and counts it as a lie when it is not what the node streamed;
    /// whether the client is still there.
    async fn send(&self, sink: &SubscriptionSink, view: &EventView) -> bool {
        let lie = match (&self.lie, &view.event) {
            (Lie::AlterDigest, Event::ExecutionRequested { .. }) => true,
            (Lie::ForgeApproval { .. } | Lie::Replay { .. }, _) => {
                self.forged.lock().contains_key(&view.cursor)
            }
            _ => false,
        };
        let Ok(raw) = serde_json::value::to_raw_value(view) else {
            return false;
        };
        if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
            return false;
        }
        if lie {
            self.told.fetch_add(1, Ordering::SeqCst);
        }
        true
    }
}

fn positional(params: &Params<'_>) -> ArrayParams {
    let mut array = ArrayParams::new();
    let values = params
        .as_str()
        .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    for value in values {
        // Inserting an already-parsed JSON value cannot fail.
        let _ = array.insert(value);
    }
    array
}

fn upstream_error(error: jsonrpsee::core::client::Error) -> ErrorObjectOwned {
    match error {
        jsonrpsee::core::client::Error::Call(object) => object,
        other => ErrorObject::owned(-32000, other.to_string(), None::<()>),
    }
}
