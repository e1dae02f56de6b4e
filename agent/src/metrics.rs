//! The agent's Prometheus metrics and its `/metrics` and `/health` endpoints.
//!
//! | metric | what |
//! |---|---|
//! | `accord_agent_events_seen_total{type}` | events received from the subscription |
//! | `accord_agent_events_refused_total{reason}` | answers refused by verification (the check that failed) |
//! | `accord_agent_executions_total{kind,outcome}` | executions and rollbacks finished, by action kind (`model_deployment`, `documentation`, …) and how they ended: `succeeded`, `failed`, `rolled_back` (reported); `unreported` (refused, or interrupted and not this agent's any more); `not_claimed`, `not_wanted` (another agent or no longer requested); `no_action`, `no_rollback` (nothing configured); `rollback_failed` |
//! | `accord_agent_head_height` | the connected node's head |
//! | `accord_agent_cursor_height` | height of the last event handled |
//! | `accord_agent_lag_heights` | head minus the height of the event being handled; 0 while the stream is idle |
//! | `accord_agent_request_to_final_seconds` | from the requesting block's timestamp to the report being final |
//! | `accord_agent_connected` | 1 while subscribed to a node |
//! | `accord_agent_reconnects_total` | sessions ended and retried |

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use accord_types::{EventCursor, Height};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde::Serialize;

type Labels = Vec<(String, String)>;

/// What `/health` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Whether a subscription is open.
    pub connected: bool,
    /// The node it is open to.
    pub endpoint: Option<String>,
    /// The agent's region.
    pub region: String,
    /// The last event handled.
    pub cursor: Option<EventCursor>,
    /// The node's head, when known.
    pub head: Option<Height>,
    /// Whether the agent only prints.
    pub dry_run: bool,
    /// The last error that ended a session.
    pub last_error: Option<String>,
    /// Whether the agent's key holds the agent role of its region (`None`: not checked yet).
    pub agent_role: Option<bool>,
}

/// Every metric of the agent.
pub struct Metrics {
    registry: Registry,
    events_seen: Family<Labels, Counter>,
    events_refused: Family<Labels, Counter>,
    executions: Family<Labels, Counter>,
    head: Gauge,
    cursor: Gauge,
    lag: Gauge,
    connected: Gauge,
    reconnects: Counter,
    request_to_final: Histogram,
    health: Mutex<Health>,
}

fn gauge_value(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Metrics {
    /// Every metric, registered.
    pub fn new(region: &str, dry_run: bool) -> Arc<Self> {
        let mut registry = Registry::with_prefix("accord_agent");
        let m = Self {
            events_seen: Family::default(),
            events_refused: Family::default(),
            executions: Family::default(),
            head: Gauge::default(),
            cursor: Gauge::default(),
            lag: Gauge::default(),
            connected: Gauge::default(),
            reconnects: Counter::default(),
            request_to_final: Histogram::new(exponential_buckets(0.5, 2.0, 14)),
            health: Mutex::new(Health {
                region: region.to_owned(),
                dry_run,
                ..Health::default()
            }),
            registry: Registry::default(),
        };
        registry.register(
            "events_seen",
            "Events received from the subscription",
            m.events_seen.clone(),
        );
        registry.register(
            "events_refused",
            "Answers refused by verification, by the check that failed",
            m.events_refused.clone(),
        );
        registry.register(
            "executions",
            "Executions and rollbacks finished, by action kind and outcome",
            m.executions.clone(),
        );
        registry.register("head_height", "The connected node's head", m.head.clone());
        registry.register(
            "cursor_height",
            "Height of the last event handled",
            m.cursor.clone(),
        );
        registry.register(
            "lag_heights",
            "Head minus the height of the event being handled; 0 while idle",
            m.lag.clone(),
        );
        registry.register(
            "connected",
            "1 while subscribed to a node",
            m.connected.clone(),
        );
        registry.register(
            "reconnects",
            "Sessions ended and retried",
            m.reconnects.clone(),
        );
        registry.register(
            "request_to_final_seconds",
            "From the requesting block's timestamp to the report being final",
            m.request_to_final.clone(),
        );
        Arc::new(Self { registry, ..m })
    }

    fn health_mut(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An event arrived.
    pub fn event_seen(&self, event_type: &str) {
        self.events_seen
            .get_or_create(&vec![("type".to_owned(), event_type.to_owned())])
            .inc();
    }

    /// Something was refused by verification.
    pub fn refused(&self, reason: &str) {
        self.events_refused
            .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
            .inc();
    }

    /// How many answers were refused for `reason`.
    pub fn refused_count(&self, reason: &str) -> u64 {
        self.events_refused
            .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
            .get()
    }

    fn execution_labels(kind: &str, outcome: &str) -> Labels {
        vec![
            ("kind".to_owned(), kind.to_owned()),
            ("outcome".to_owned(), outcome.to_owned()),
        ]
    }

    /// An execution or rollback ended.
    pub fn execution(&self, kind: &str, outcome: &str) {
        self.executions
            .get_or_create(&Self::execution_labels(kind, outcome))
            .inc();
    }

    /// How many executions of `kind` ended with `outcome`.
    pub fn execution_count(&self, kind: &str, outcome: &str) -> u64 {
        self.executions
            .get_or_create(&Self::execution_labels(kind, outcome))
            .get()
    }

    /// The node's head.
    pub fn set_head(&self, height: Height) {
        self.head.set(gauge_value(height.0));
        self.health_mut().head = Some(height);
    }

    /// The last event handled.
    pub fn set_cursor(&self, cursor: EventCursor) {
        self.cursor.set(gauge_value(cursor.height.0));
        self.health_mut().cursor = Some(cursor);
    }

    /// Heights between the head and the event being handled.
    pub fn set_lag(&self, heights: u64) {
        self.lag.set(gauge_value(heights));
    }

    /// A report became final `seconds` after its request's block.
    pub fn request_to_final(&self, seconds: f64) {
        self.request_to_final.observe(seconds);
    }

    /// A subscription opened to `endpoint`.
    pub fn connected(&self, endpoint: &str) {
        self.connected.set(1);
        let mut health = self.health_mut();
        health.connected = true;
        health.endpoint = Some(endpoint.to_owned());
    }

    /// The session ended, with `error` when it failed.
    pub fn disconnected(&self, error: Option<String>) {
        self.connected.set(0);
        self.reconnects.inc();
        let mut health = self.health_mut();
        health.connected = false;
        if error.is_some() {
            health.last_error = error;
        }
    }

    /// Whether the key holds the agent role of its region.
    pub fn set_agent_role(&self, held: bool) {
        self.health_mut().agent_role = Some(held);
    }

    /// The health summary.
    pub fn health(&self) -> Health {
        self.health_mut().clone()
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

async fn metrics(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
}

async fn health(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    let health = m.health();
    let status = if health.connected {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health))
}

/// Serves `/metrics` and `/health` on `listen`; returns the bound address and the task.
pub async fn serve(
    listen: SocketAddr,
    metrics_: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .with_state(metrics_);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(target: "accord::agent", %error, "the metrics server stopped");
        }
    });
    Ok((addr, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn metrics_and_health_are_served() {
        let m = Metrics::new("eu", false);
        m.event_seen("execution_requested");
        m.refused("event_mismatch");
        m.execution("model_deployment", "succeeded");
        m.set_head(Height(42));
        let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), m.clone())
            .await
            .unwrap();
        let (status, body) =
            accord_rpc::memory::http_request(&addr.to_string(), "GET", "/metrics", None)
                .await
                .unwrap();
        assert_eq!(status, 200);
        assert!(
            body.contains("accord_agent_events_refused_total{reason=\"event_mismatch\"} 1"),
            "{body}"
        );
        assert!(
            body.contains(
                "accord_agent_executions_total{kind=\"model_deployment\",outcome=\"succeeded\"} 1"
            ),
            "{body}"
        );
        assert!(body.contains("accord_agent_head_height 42"), "{body}");
        let (status, body) =
            accord_rpc::memory::http_request(&addr.to_string(), "GET", "/health", None)
                .await
                .unwrap();
        assert_eq!(status, 503, "not connected yet: {body}");
        m.connected("ws://node:9944");
        let (status, body) =
            accord_rpc::memory::http_request(&addr.to_string(), "GET", "/health", None)
                .await
                .unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("\"endpoint\":\"ws://node:9944\""), "{body}");
        task.abort();
    }
}
