//! The two subscriptions.
//!
//! **Events, resumable.** The subscription listens for commits *before* it reads the
//! stored log, so every block is either already in the log when it is read or
//! announced afterwards; it remembers the cursor of the last event it examined and
//! skips announced events at or before it. Replay and live delivery therefore join
//! with no gap and no duplicate, whatever commits during the switch. A subscription
//! that falls behind the commit announcements (they are a bounded channel) reads
//! what it missed from the log again: the node never drops an event on its side.
//!
//! **A subscriber that does not read** fills its connection's buffer; a send that
//! finds no room for [`super::Limits::subscriber_timeout`] closes the subscription
//! with [`crate::error::LAGGED`] and, in the error's `data.cursor`, the cursor of the
//! last event it was sent: resuming with `after` = that cursor loses nothing.

use accord_types::EventCursor;
use jsonrpsee::core::server::SubscriptionMessage;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{PendingSubscriptionSink, SubscriptionSink};
use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::gov::Matcher;
use super::RpcApi;
use crate::backend::Committed;
use crate::error::{node_error, LAGGED};
use crate::types::{EventFilter, EventView, FinalizedBlock};

/// Events read from the log per step of a replay.
const REPLAY_PAGE: usize = 256;

/// Why a subscription ended early.
enum End {
    /// The subscriber went away or unsubscribed.
    Gone,
    /// It did not read for too long.
    Lagged,
    /// The node failed.
    Failed(ErrorObjectOwned),
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ErrorObjectOwned> + Send + 'static,
) -> Result<T, ErrorObjectOwned> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(node_error(format!("a read task failed: {e}"))))
}

async fn send(api: &RpcApi, sink: &SubscriptionSink, item: &impl Serialize) -> Result<(), End> {
    let raw = serde_json::value::to_raw_value(item).map_err(|e| End::Failed(node_error(e)))?;
    let message = SubscriptionMessage::from(raw);
    match sink
        .send_timeout(message, api.limits.subscriber_timeout)
        .await
    {
        Ok(()) => Ok(()),
        Err(jsonrpsee::core::server::SendTimeoutError::Timeout(_)) => Err(End::Lagged),
        Err(jsonrpsee::core::server::SendTimeoutError::Closed(_)) => Err(End::Gone),
    }
}

fn close(end: End, cursor: Option<EventCursor>) -> SubscriptionResult {
    match end {
        End::Gone => Ok(()),
        End::Lagged => {
            let error = json!({
                "code": LAGGED,
                "message": "the subscriber did not keep up and was closed; resume with after = data.cursor",
                "data": { "cursor": cursor },
            });
            let raw = serde_json::value::to_raw_value(&error)?;
            Err(jsonrpsee::core::SubscriptionError::from_json(raw))
        }
        End::Failed(error) => Err(error.message().into()),
    }
}

/// Counts an open subscription for as long as it lives.
struct Open(RpcApi);

impl Open {
    fn new(api: &RpcApi) -> Self {
        api.subscription(true);
        Self(api.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.subscription(false);
    }
}

/// State of one event subscription.
struct EventStream {
    api: RpcApi,
    matcher: Option<Matcher>,
    /// The last event examined (sent or filtered out).
    examined: Option<EventCursor>,
    /// The last event sent.
    sent: Option<EventCursor>,
}

impl EventStream {
    /// Sends every stored event after `examined`.
    async fn replay(&mut self, sink: &SubscriptionSink) -> Result<(), End> {
        loop {
            let api = self.api.clone();
            let mut matcher = self
                .matcher
                .take()
                .unwrap_or_else(|| Matcher::new(EventFilter::default()));
            let after = self.examined;
            let (matcher, page) = blocking(move || {
                let page = api.event_page(&mut matcher, after, REPLAY_PAGE);
                page.map(|p| (matcher, p))
            })
            .await
            .map_err(End::Failed)?;
            self.matcher = Some(matcher);
            for event in &page.events {
                send(&self.api, sink, event).await?;
                self.sent = Some(event.cursor);
            }
            if page.next.is_some() {
                self.examined = page.next;
            }
            if page.complete {
                return Ok(());
            }
        }
    }

    /// Sends the events of an announced block that come after `examined`.
    async fn live(&mut self, sink: &SubscriptionSink, block: Committed) -> Result<(), End> {
        let api = self.api.clone();
        let mut matcher = self
            .matcher
            .take()
            .unwrap_or_else(|| Matcher::new(EventFilter::default()));
        let examined = self.examined;
        let (matcher, views, last) = blocking(move || {
            let state = api.backend.state.state().ok();
            let mut views = Vec::new();
            let mut last = examined;
            for (cursor, transaction, event) in block.events() {
                if examined.is_some_and(|e| cursor <= e) {
                    continue;
                }
                last = Some(cursor);
                if matcher.matches(event, state.as_ref().map(|s| &*s.store)) {
                    views.push(EventView {
                        cursor,
                        transaction,
                        event: event.clone(),
                    });
                }
            }
            Ok((matcher, views, last))
        })
        .await
        .map_err(End::Failed)?;
        self.matcher = Some(matcher);
        for view in &views {
            send(&self.api, sink, view).await?;
            self.sent = Some(view.cursor);
        }
        self.examined = last;
        Ok(())
    }
}

/// `gov_subscribeEvents`.
pub(crate) async fn events(
    api: RpcApi,
    pending: PendingSubscriptionSink,
    filter: EventFilter,
    after: Option<EventCursor>,
) -> SubscriptionResult {
    if let Err(error) = filter.check() {
        pending.reject(error).await;
        return Ok(());
    }
    if let Some(cursor) = after {
        let check = api.clone();
        if let Err(error) = blocking(move || check.check_cursor(cursor)).await {
            pending.reject(error).await;
            return Ok(());
        }
    }
    // Listen before reading the log: nothing committed from here on can be missed.
    let mut commits = api.backend.commits.subscribe();
    let sink = pending.accept().await?;
    let _open = Open::new(&api);
    let mut stream = EventStream {
        api,
        matcher: Some(Matcher::new(filter)),
        examined: after,
        sent: after,
    };
    let result = async {
        stream.replay(&sink).await?;
        loop {
            tokio::select! {
                () = sink.closed() => return Err(End::Gone),
                message = commits.recv() => match message {
                    Ok(block) => stream.live(&sink, block).await?,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(target: "accord::rpc", missed, "event subscription behind the commits; reading the log");
                        stream.replay(&sink).await?;
                    }
                    Err(RecvError::Closed) => {
                        return Err(End::Failed(node_error("the node is shutting down")))
                    }
                },
            }
        }
    }
    .await;
    match result {
        Ok(()) => Ok(()),
        Err(end) => close(end, stream.sent),
    }
}

fn finalized(block: &Committed) -> FinalizedBlock {
    FinalizedBlock {
        hash: block.block.hash(),
        header: block.block.header.clone(),
        round: block.certificate.round,
        certificate_hash: block.certificate.hash(),
        signers: block
            .certificate
            .signatures
            .iter()
            .map(|s| s.validator)
            .collect(),
        transactions: u32::try_from(block.block.transactions.len()).unwrap_or(u32::MAX),
        events: u32::try_from(block.events().count()).unwrap_or(u32::MAX),
    }
}

/// `chain_subscribeFinalizedBlocks`: live; blocks missed behind the announcements are
/// read from the chain, so every height is delivered once, in order.
pub(crate) async fn finalized_blocks(
    api: RpcApi,
    pending: PendingSubscriptionSink,
) -> SubscriptionResult {
    let mut commits = api.backend.commits.subscribe();
    // Every block above the head as of now is delivered, announced or read back.
    let reader = api.clone();
    let head = match blocking(move || Ok(reader.backend.chain.head()?.0)).await {
        Ok(head) => head,
        Err(error) => {
            pending.reject(error).await;
            return Ok(());
        }
    };
    let sink = pending.accept().await?;
    let _open = Open::new(&api);
    let mut last = Some(head);
    let result: Result<(), End> = async {
        loop {
            tokio::select! {
                () = sink.closed() => return Err(End::Gone),
                message = commits.recv() => match message {
                    Ok(block) => {
                        if last.is_some_and(|h| block.height() <= h) {
                            continue;
                        }
                        send(&api, &sink, &finalized(&block)).await?;
                        last = Some(block.height());
                    }
                    Err(RecvError::Lagged(_)) => {
                        let reader = api.clone();
                        let from = last;
                        let missed = blocking(move || {
                            let (head, _) = reader.backend.chain.head()?;
                            let start = from.map_or(head.0, |h| h.0.saturating_add(1));
                            let mut blocks = Vec::new();
                            for h in start..=head.0 {
                                let height = accord_types::Height(h);
                                let (Some(block), Some(certificate)) = (reader.backend.chain.block(height)?, reader.backend.chain.certificate(height)?) else { break };
                                let receipts = reader.backend.chain.receipts(height)?;
                                blocks.push(Committed { block: block.into(), certificate, receipts: receipts.into() });
                            }
                            Ok(blocks)
                        }).await.map_err(End::Failed)?;
                        for block in missed {
                            send(&api, &sink, &finalized(&block)).await?;
                            last = Some(block.height());
                        }
                    }
                    Err(RecvError::Closed) => return Err(End::Failed(node_error("the node is shutting down"))),
                },
            }
        }
    }
    .await;
    match result {
        Ok(()) => Ok(()),
        Err(end) => close(end, None),
    }
}
