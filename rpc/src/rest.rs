//! The original governance API as REST, and the operations endpoints, on the JSON-RPC
//! port.
//!
//! ```text
//!   GET  /api/devops/{kind}            list (?status=&region=&proposer=&after=&limit=)
//!   POST /api/devops/{kind}            {"transaction": "0x…"}: a signed SubmitProposal of that kind
//!   GET  /api/devops/{kind}/{id}       one proposal
//!   POST /api/devops/pipeline-actions/{id}/execute   {"transaction": "0x…"}: a signed Execute
//!   GET  /health   the process is up        GET /ready   synced, peers, not halted
//!   GET  /metrics  Prometheus text format
//!   GET  /explorer, /explorer/{file}   the explorer page (explorer.rs)
//!   kind: pipeline-actions | infrastructure-changes | documentation-changes | roadmap-changes
//! ```
//!
//! Every route runs the same code as the JSON-RPC method it stands for, so the two
//! answer alike; JSON-RPC errors become statuses: 400 malformed, 404 unknown id, 409 a
//! proposal in the wrong state, 422 refused by the runtime, 503 not ready. Error bodies
//! are `{"error": {"status", "code", "message"}}`.
//!
//! The routes share the port (and its connection and body limits) with JSON-RPC: one
//! address for operators and tools, one place to put TLS or CORS in front.

use std::sync::Arc;
use std::task::{Context, Poll};

use accord_types::codec::hex_decode;
use accord_types::governance::ProposalKind;
use accord_types::{Payload, ProposalId, PublicKey, RegionId, Transaction};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::future::BoxFuture;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use jsonrpsee::types::ErrorObjectOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tower::{Layer, Service, ServiceExt};

use crate::api::GovApiServer;
use crate::error::{INVALID_PARAMS, NODE_ERROR, NOT_FOUND, TX_REFUSED};
use crate::server::{Limited, PerAddress, RpcApi};
use crate::types::ProposalFilter;

/// Produces the Prometheus text exposition of the node's metrics.
pub trait MetricsSource: Send + Sync + 'static {
    /// The metrics now, in the text format.
    fn encode(&self) -> String;
}

/// An error answer.
#[derive(Debug)]
pub struct RestError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl RestError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", message)
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": { "status": self.status.as_u16(), "code": self.code, "message": self.message }
        });
        (self.status, Json(body)).into_response()
    }
}

impl From<ErrorObjectOwned> for RestError {
    fn from(error: ErrorObjectOwned) -> Self {
        let message = error.message().to_owned();
        match error.code() {
            INVALID_PARAMS => Self::bad_request(message),
            NOT_FOUND => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            TX_REFUSED => {
                let code: Option<String> = error
                    .data()
                    .and_then(|d| serde_json::from_str::<Value>(d.get()).ok())
                    .and_then(|d| d.get("code").and_then(Value::as_str).map(str::to_owned));
                match code.as_deref() {
                    Some("unknown_proposal") => {
                        Self::new(StatusCode::NOT_FOUND, "unknown_proposal", message)
                    }
                    Some("invalid_status") => {
                        Self::new(StatusCode::CONFLICT, "invalid_status", message)
                    }
                    Some("invalid_payload") => {
                        Self::new(StatusCode::BAD_REQUEST, "invalid_payload", message)
                    }
                    _ => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", message),
                }
            }
            NODE_ERROR => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "node_error", message),
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "error", message),
        }
    }
}

type Result<T> = std::result::Result<T, RestError>;

/// The kind a route segment names.
fn kind_of(segment: &str) -> Result<ProposalKind> {
    match segment {
        "pipeline-actions" => Ok(ProposalKind::PipelineAction),
        "infrastructure-changes" => Ok(ProposalKind::InfrastructureChange),
        "documentation-changes" => Ok(ProposalKind::DocumentationChange),
        "roadmap-changes" => Ok(ProposalKind::RoadmapChange),
        other => Err(RestError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no such collection {other:?}; the collections are pipeline-actions, \
                 infrastructure-changes, documentation-changes and roadmap-changes"
            ),
        )),
    }
}

fn parse_id(text: &str) -> Result<ProposalId> {
    text.parse::<u64>().map(ProposalId).map_err(|_| {
        RestError::bad_request(format!(
            "{text:?} is not a proposal id (a non-negative integer)"
        ))
    })
}

#[derive(Clone)]
struct Rest {
    api: RpcApi,
    metrics: Option<Arc<dyn MetricsSource>>,
}

impl Rest {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(RpcApi) -> std::result::Result<T, ErrorObjectOwned> + Send + 'static,
    ) -> Result<T> {
        let api = self.api.clone();
        tokio::task::spawn_blocking(move || f(api))
            .await
            .map_err(|e| {
                RestError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "node_error",
                    e.to_string(),
                )
            })?
            .map_err(RestError::from)
    }

    /// Refuses writes while the node cannot take part (syncing or halted).
    fn ready_for_writes(&self) -> Result<()> {
        let status = self.api.backend().node.status();
        if status.syncing || status.halted {
            return Err(RestError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                if status.halted {
                    "the node has halted; send the transaction to another node"
                } else {
                    "the node is catching up; retry shortly or send to another node"
                },
            ));
        }
        Ok(())
    }
}

/// Query of the list routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    region: Option<String>,
    proposer: Option<String>,
    after: Option<u64>,
    limit: Option<u32>,
}

/// Body of the POST routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedBody {
    /// 0x-hex borsh of the signed transaction.
    transaction: String,
}

fn decode_body(
    body: std::result::Result<Json<SignedBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(String, Transaction)> {
    let Json(body) = body.map_err(|e| {
        RestError::bad_request(format!(
            "the body is not {{\"transaction\": \"0x…\"}}: {}",
            e.body_text()
        ))
    })?;
    let bytes = hex_decode("transaction", &body.transaction)
        .map_err(|e| RestError::bad_request(format!("the transaction is not 0x-hex: {e}")))?;
    let tx = Transaction::decode(&bytes)
        .map_err(|e| RestError::bad_request(format!("the transaction does not decode: {e}")))?;
    Ok((body.transaction, tx))
}

async fn list(
    State(rest): State<Rest>,
    Path(collection): Path<String>,
    query: std::result::Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>> {
    let kind = kind_of(&collection)?;
    let Query(query) = query.map_err(|e| RestError::bad_request(e.body_text()))?;
    let region = query
        .region
        .map(|r| RegionId::new(&r).map_err(|e| RestError::bad_request(e.to_string())))
        .transpose()?;
    let proposer = query
        .proposer
        .map(|p| PublicKey::from_hex(&p).map_err(|e| RestError::bad_request(e.to_string())))
        .transpose()?;
    let filter = ProposalFilter {
        kind: Some(kind),
        status: query.status,
        region,
        proposer,
    };
    let after = query.after.map(ProposalId);
    let page = rest
        .blocking(move |api| api.list_proposals(Some(filter), after, query.limit))
        .await?;
    Ok(Json(serde_json::to_value(page).unwrap_or(Value::Null)))
}

async fn one(
    State(rest): State<Rest>,
    Path((collection, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let kind = kind_of(&collection)?;
    let id = parse_id(&id)?;
    let view = rest.blocking(move |api| api.proposal(id)).await?;
    match view {
        Some(view) if view.state.kind == kind => {
            Ok(Json(serde_json::to_value(view).unwrap_or(Value::Null)))
        }
        Some(view) => Err(RestError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "proposal {} is a {:?}, not in {collection}",
                id.0, view.state.kind
            ),
        )),
        None => Err(RestError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no proposal {}", id.0),
        )),
    }
}

async fn create(
    State(rest): State<Rest>,
    Path(collection): Path<String>,
    body: std::result::Result<Json<SignedBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response> {
    let kind = kind_of(&collection)?;
    let (hex, tx) = decode_body(body)?;
    match &tx.payload {
        Payload::SubmitProposal { draft } if draft.body.kind() == kind => {}
        Payload::SubmitProposal { draft } => {
            return Err(RestError::bad_request(format!(
                "{collection} takes proposals of that kind; the transaction proposes a {:?}",
                draft.body.kind()
            )))
        }
        _ => {
            return Err(RestError::bad_request(
                "the transaction does not submit a proposal",
            ))
        }
    }
    rest.ready_for_writes()?;
    let hash = rest
        .blocking(move |api| api.submit_transaction(hex))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "transaction": hash }))).into_response())
}

async fn execute(
    State(rest): State<Rest>,
    Path(id): Path<String>,
    body: std::result::Result<Json<SignedBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response> {
    let id = parse_id(&id)?;
    let (hex, tx) = decode_body(body)?;
    match tx.payload {
        Payload::Execute { proposal } if proposal == id => {}
        _ => {
            return Err(RestError::bad_request(format!(
                "the transaction must be an execute of proposal {}",
                id.0
            )))
        }
    }
    let view = rest.blocking(move |api| api.proposal(id)).await?;
    match view {
        None => {
            return Err(RestError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no proposal {}", id.0),
            ))
        }
        Some(view) if view.state.kind != ProposalKind::PipelineAction => {
            return Err(RestError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("proposal {} is not a pipeline action", id.0),
            ))
        }
        Some(_) => {}
    }
    rest.ready_for_writes()?;
    let hash = rest
        .blocking(move |api| api.submit_transaction(hex))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "transaction": hash }))).into_response())
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(rest): State<Rest>) -> Response {
    let readiness = rest.blocking(|api| api.readiness()).await;
    match readiness {
        Ok(r) if r.ready => (
            StatusCode::OK,
            Json(serde_json::to_value(r).unwrap_or(Value::Null)),
        )
            .into_response(),
        Ok(r) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::to_value(r).unwrap_or(Value::Null)),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn metrics(State(rest): State<Rest>) -> Response {
    match rest.metrics.clone() {
        // The node's metrics read its database and pool: off the async workers.
        Some(source) => match tokio::task::spawn_blocking(move || source.encode()).await {
            Ok(text) => (
                StatusCode::OK,
                [(
                    http::header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                text,
            )
                .into_response(),
            Err(e) => RestError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "node_error",
                e.to_string(),
            )
            .into_response(),
        },
        None => RestError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this server exports no metrics",
        )
        .into_response(),
    }
}

async fn unknown(uri: http::Uri) -> RestError {
    RestError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route {}", uri.path()),
    )
}

/// The REST router.
fn router(rest: Rest) -> Router {
    Router::new()
        .route("/api/devops/pipeline-actions/{id}/execute", post(execute))
        .route("/api/devops/{collection}", get(list).post(create))
        .route("/api/devops/{collection}/{id}", get(one))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .merge(crate::explorer::routes())
        .fallback(unknown)
        .with_state(rest)
}

/// Whether a path is served by the REST router rather than JSON-RPC.
fn is_rest(path: &str) -> bool {
    path.starts_with("/api/")
        || matches!(path, "/health" | "/ready" | "/metrics")
        || crate::explorer::is_explorer(path)
}

/// The HTTP layer that sends REST paths to the router and everything else to JSON-RPC.
#[derive(Clone)]
pub struct RestLayer {
    router: Router,
    limits: Option<Arc<PerAddress>>,
}

impl RestLayer {
    /// Over `api`, with the node's metrics when it has them; REST requests count
    /// against `limits` (JSON-RPC calls are counted by the RPC middleware).
    pub fn new(
        api: RpcApi,
        metrics: Option<Arc<dyn MetricsSource>>,
        limits: Option<Arc<PerAddress>>,
    ) -> Self {
        Self {
            router: router(Rest { api, metrics }),
            limits,
        }
    }
}

impl<S> Layer<S> for RestLayer {
    type Service = RestService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RestService {
            inner,
            router: self.router.clone(),
            limits: self.limits.clone(),
        }
    }
}

/// See [`RestLayer`].
#[derive(Clone)]
pub struct RestService<S> {
    inner: S,
    router: Router,
    limits: Option<Arc<PerAddress>>,
}

/// 429 with `Retry-After` (whole seconds, rounded up) and the usual error body.
fn too_many(limited: &Limited) -> Response {
    let retry = limited.retry_after.as_secs() + u64::from(limited.retry_after.subsec_nanos() > 0);
    let mut response = RestError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        limited.error().message().to_owned(),
    )
    .into_response();
    response.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from(retry.max(1)),
    );
    response
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl<S> Service<HttpRequest<HttpBody>> for RestService<S>
where
    S: Service<HttpRequest<HttpBody>, Response = HttpResponse<HttpBody>>,
    S::Error: Into<BoxError> + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse<HttpBody>;
    type Error = BoxError;
    type Future = BoxFuture<'static, std::result::Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: HttpRequest<HttpBody>) -> Self::Future {
        if is_rest(request.uri().path()) {
            if let Some(Err(limited)) = self
                .limits
                .as_ref()
                .map(|l| l.check_extensions(request.extensions()))
            {
                let response = too_many(&limited).map(HttpBody::new);
                return Box::pin(async move { Ok(response) });
            }
            let router = self.router.clone();
            Box::pin(async move {
                let request = request.map(axum::body::Body::new);
                let Ok(response) = router.oneshot(request).await;
                Ok(response.map(HttpBody::new))
            })
        } else {
            let future = self.inner.call(request);
            Box::pin(async move { future.await.map_err(Into::into) })
        }
    }
}
