//! The loop: connect, subscribe from the cursor, and handle each event to the end
//! (verify, check the payload, claim, run, report, wait until final) before the next.
//! `execution.rs` holds what one execution request or rollback request goes through.

mod execution;

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_chain_spec::ChainSpec;
use accord_rpc::types::{event_type, EventFilter, EventView, StateTarget};
use accord_rpc::verify::Record;
use accord_types::governance::Role;
use accord_types::{Event, EventCursor, Keypair, PublicKey};

use crate::config::Config;
use crate::durable;
use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::node::Node;
use crate::trust::Trust;

pub use execution::RESTART_REASON;

/// Largest chain spec read.
const MAX_SPEC_BYTES: u64 = 16 * 1024 * 1024;
/// How often the head is read while the stream is idle.
const STATUS_INTERVAL: Duration = Duration::from_secs(5);
/// A session that lasted this long resets the reconnect backoff.
const HEALTHY_SESSION: Duration = Duration::from_secs(60);

/// Event types the agent subscribes to (change events carry no region, so the region
/// filter lets them through).
pub const EVENT_TYPES: [&str; 3] = [
    "execution_requested",
    "rollback_requested",
    "validator_set_change_scheduled",
];

/// Why a session ended without an error.
enum End {
    Shutdown,
    Closed(String),
}

/// The deploy agent.
pub struct Agent {
    config: Config,
    keypair: Keypair,
    me: PublicKey,
    trust: Trust,
    journal: Journal,
    metrics: Arc<Metrics>,
    /// The last event handled.
    position: Option<EventCursor>,
    /// Events handled in the current session.
    handled: usize,
    /// Events handled since the last status tick.
    recent: usize,
    role_checked: bool,
}

impl Agent {
    /// Reads the key, the chain spec, the trust store and the journal.
    pub async fn new(config: Config) -> Result<Self> {
        tokio::task::spawn_blocking(move || Self::load(config))
            .await
            .map_err(|e| Error::Trust {
                reason: format!("the start-up task failed: {e}"),
            })?
    }

    fn load(config: Config) -> Result<Self> {
        let keypair = crate::keyfile::read(&config.key)?;
        let spec_error = |reason: String| Error::Spec {
            path: config.chain_spec.clone(),
            reason,
        };
        let bytes = durable::read_blocking(&config.chain_spec, MAX_SPEC_BYTES)
            .map_err(|e| spec_error(e.to_string()))?
            .ok_or_else(|| spec_error("no such file".into()))?;
        let text = String::from_utf8(bytes).map_err(|_| spec_error("not UTF-8 text".into()))?;
        let spec = ChainSpec::from_json(&text).map_err(|e| spec_error(e.to_string()))?;
        if !spec.regions().contains(&config.region) {
            tracing::warn!(
                target: "accord::agent",
                region = %config.region,
                "the region is not in the chain spec; it can only join through a validator-set change"
            );
        }
        let genesis = spec
            .validator_set()
            .map_err(|e| spec_error(e.to_string()))?;
        let (trust_path, journal) = if config.dry_run {
            (None, Journal::read_only(&config.state_dir)?)
        } else {
            let journal = Journal::open(&config.state_dir)?;
            (Some(config.state_dir.join("trust.json")), journal)
        };
        let trust = Trust::open(spec.chain_id().clone(), genesis, trust_path)?;
        let metrics = Metrics::new(config.region.as_str(), config.dry_run);
        let position = journal.cursor();
        if let Some(cursor) = position {
            metrics.set_cursor(cursor);
        }
        for warning in &config.warnings {
            tracing::warn!(target: "accord::agent", "{warning}");
        }
        Ok(Self {
            me: keypair.public(),
            keypair,
            config,
            trust,
            journal,
            metrics,
            position,
            handled: 0,
            recent: 0,
            role_checked: false,
        })
    }

    /// The metrics, for [`crate::metrics::serve`].
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The agent's account.
    pub fn public_key(&self) -> PublicKey {
        self.me
    }

    /// Runs until `shutdown` completes (between events: an event being handled is
    /// handled to the end first) or a fatal error.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let mut shutdown = pin!(shutdown);
        let endpoints = self.config.rpc.clone();
        let mut index = 0usize;
        let mut failures: u32 = 0;
        loop {
            let Some(url) = endpoints.get(index % endpoints.len().max(1)).cloned() else {
                return Err(Error::Config(crate::config::ConfigError::Missing {
                    field: "rpc",
                    flag: "--rpc",
                    env: "ACCORD_AGENT_RPC",
                }));
            };
            self.handled = 0;
            let started = Instant::now();
            let ended = self.session(&url, shutdown.as_mut()).await;
            match ended {
                Ok(End::Shutdown) => {
                    self.metrics.disconnected(None);
                    tracing::info!(target: "accord::agent", "stopped");
                    return Ok(());
                }
                Ok(End::Closed(why)) => {
                    tracing::warn!(target: "accord::agent", endpoint = %url, why, "the subscription ended; resuming from the cursor");
                    self.metrics.disconnected(Some(why));
                }
                Err(error) if error.is_fatal() => {
                    self.metrics.disconnected(Some(error.to_string()));
                    return Err(error);
                }
                Err(error) => {
                    if let Some(refusal) = error.refusal() {
                        self.metrics.refused(refusal.label());
                        tracing::error!(target: "accord::agent", endpoint = %url, %error, "refused what the node sent; trying the next endpoint");
                    } else {
                        tracing::warn!(target: "accord::agent", endpoint = %url, %error, "session failed; trying the next endpoint");
                    }
                    self.metrics.disconnected(Some(error.to_string()));
                }
            }
            if self.handled > 0 || started.elapsed() >= HEALTHY_SESSION {
                failures = 0;
            }
            failures = failures.saturating_add(1);
            index = index.wrapping_add(1);
            let delay = backoff(
                self.config.backoff_initial,
                self.config.backoff_max,
                failures,
            );
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shutdown.as_mut() => return Ok(()),
            }
        }
    }

    async fn session<F: Future<Output = ()>>(
        &mut self,
        url: &str,
        mut shutdown: Pin<&mut F>,
    ) -> Result<End> {
        let node = Node::connect(url, &self.config).await?;
        let status = node.status().await?;
        if &status.chain_id != self.trust.chain_id() {
            return Err(Error::WrongChain {
                endpoint: url.to_owned(),
                expected: self.trust.chain_id().clone(),
                found: status.chain_id,
            });
        }
        self.metrics.set_head(status.height);
        self.check_role(&node).await?;
        let filter = EventFilter {
            types: Some(EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect()),
            regions: Some(vec![self.config.region.clone()]),
            ..EventFilter::default()
        };
        let mut subscription = node.subscribe(filter, self.position).await?;
        self.metrics.connected(url);
        tracing::info!(
            target: "accord::agent",
            endpoint = url,
            after = ?self.position.map(|c| c.to_string()),
            head = status.height.0,
            "subscribed"
        );
        let mut ticker = tokio::time::interval(STATUS_INTERVAL);
        loop {
            tokio::select! {
                () = shutdown.as_mut() => return Ok(End::Shutdown),
                item = subscription.next() => match item {
                    None => {
                        let why = match subscription.close_reason() {
                            Some(jsonrpsee::core::client::SubscriptionCloseReason::Lagged) => "the agent fell behind the subscription",
                            _ => "the node closed the subscription or the connection",
                        };
                        return Ok(End::Closed(why.to_owned()));
                    }
                    Some(Err(e)) => {
                        return Err(Error::Rpc {
                            endpoint: url.to_owned(),
                            method: "gov_subscribeEvents",
                            code: None,
                            message: format!("an event does not decode: {e}"),
                        })
                    }
                    Some(Ok(view)) => {
                        self.handle(&node, view).await?;
                        self.handled += 1;
                        self.recent += 1;
                    }
                },
                _ = ticker.tick() => {
                    if let Ok(status) = node.status().await {
                        self.metrics.set_head(status.height);
                    }
                    if self.recent == 0 {
                        self.metrics.set_lag(0);
                    }
                    self.recent = 0;
                }
            }
        }
    }

    /// Checks once, by proof, that the key holds the agent role of the region; warns if not.
    async fn check_role(&mut self, node: &Node) -> Result<()> {
        if self.role_checked {
            return Ok(());
        }
        let target = StateTarget::Account { key: self.me };
        match self.trust.verify_state(node, target).await {
            Ok((Record::Account(record), _)) => {
                let held = record
                    .is_some_and(|r| r.roles.contains(&Role::Agent(self.config.region.clone())));
                self.metrics.set_agent_role(held);
                if !held {
                    tracing::warn!(
                        target: "accord::agent",
                        key = %self.me,
                        region = %self.config.region,
                        "this key does not hold the agent role of the region: its claims will be refused"
                    );
                }
                self.role_checked = true;
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(error @ Error::Refused { .. }) => Err(error),
            Err(error) => {
                tracing::debug!(target: "accord::agent", %error, "the agent role could not be checked yet");
                Ok(())
            }
        }
    }

    async fn handle(&mut self, node: &Node, view: EventView) -> Result<()> {
        self.metrics.event_seen(event_type(&view.event));
        if self.position.is_some_and(|p| view.cursor <= p) {
            return Ok(());
        }
        if let Some(head) = self.metrics.health().head {
            self.metrics
                .set_lag(head.0.saturating_sub(view.cursor.height.0));
        }
        match &view.event {
            Event::ExecutionRequested { region, .. } if region == &self.config.region => {
                self.on_request(node, &view).await?;
            }
            Event::RollbackRequested { region, .. } if region == &self.config.region => {
                self.on_rollback(node, &view).await?;
            }
            Event::ValidatorSetChangeScheduled {
                proposal,
                effective_height,
            } => {
                self.trust
                    .verify_event(node, view.cursor, &view.event)
                    .await?;
                self.trust
                    .adopt_change(node, view.cursor, *proposal, *effective_height)
                    .await?;
            }
            _ => {}
        }
        self.advance(view.cursor).await
    }

    async fn advance(&mut self, cursor: EventCursor) -> Result<()> {
        self.journal.advance(cursor).await?;
        self.trust.note_scanned(cursor);
        self.position = Some(cursor);
        self.metrics.set_cursor(cursor);
        Ok(())
    }
}

/// The delay before the `failures`-th reconnect: `initial`, doubling, at most `max`.
pub fn backoff(initial: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1).min(31))
        .unwrap_or(u32::MAX);
    initial.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let ms = Duration::from_millis;
        let delays: Vec<Duration> = (1..=7).map(|n| backoff(ms(100), ms(1_000), n)).collect();
        assert_eq!(
            delays,
            vec![
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1000),
                ms(1000),
                ms(1000)
            ]
        );
        assert_eq!(backoff(ms(100), ms(1_000), u32::MAX), ms(1_000));
    }
}
