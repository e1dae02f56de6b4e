//! The server: the API traits implemented over a [`Backend`], the limits that protect
//! the node, and a middleware that refuses parameters a method does not take.
//!
//! ```text
//!   TCP accept loop: connections per address; each request tagged with its RemoteAddr
//!     └─ HTTP / WebSocket (one port): CORS · REST routes (rate per address)
//!         └─ jsonrpsee: body size, connections, batch length, subscriptions per
//!            connection, per-connection message buffer, pings
//!             └─ Strict (middleware): rate per address, method known? parameter shape
//!                right? observer
//!             └─ RpcApi: system_* · rpc_* · chain_* · gov_*   (blocking methods run on
//!                 │                                          tokio's blocking pool)
//!                 └─ Backend: ChainReader · StateReader · TxPool · NodeInfo · Commits
//! ```

mod chain;
mod delivery;
mod gov;
pub(crate) mod limit;
mod middleware;
mod subscriptions;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    serve_with_graceful_shutdown, stop_channel, BatchRequestConfig, HttpBody, HttpRequest,
    HttpResponse, Methods, PingConfig, Server, ServerConfig, ServerHandle, StopHandle,
};
use jsonrpsee::RpcModule;
use tower::Service;

use crate::api::{ChainApiServer, GovApiServer, MetaApiServer, SystemApiServer};
use crate::backend::Backend;
pub use limit::{Limited, PerAddress, RemoteAddr};
pub use middleware::{Observer, Outcome};

/// Limits of the server. The defaults protect a validator exposed to its operators'
/// tools; raise them for a public read node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_request_bytes: u32,
    /// Largest response, bytes.
    pub max_response_bytes: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
    /// Most calls in one batch.
    pub max_batch_len: u32,
    /// Most subscriptions on one WebSocket connection.
    pub max_subscriptions_per_connection: u32,
    /// Messages buffered for one WebSocket connection before it counts as not reading.
    pub message_buffer: u32,
    /// How long a subscription waits for room in a full buffer before it closes with
    /// [`crate::error::LAGGED`].
    pub subscriber_timeout: Duration,
    /// How often a WebSocket connection is pinged.
    pub ws_ping_interval: Duration,
    /// A WebSocket connection that has sent nothing, not even a pong, for this long is
    /// closed: a client that stops reading stops answering pings.
    pub ws_inactive_limit: Duration,
    /// Calls per second one client address may make, JSON-RPC calls (each call of a
    /// batch) and REST requests together; 0 for no limit.
    pub requests_per_second_per_ip: u32,
    /// Calls one address may make at once after a quiet spell (the bucket's size).
    pub request_burst_per_ip: u32,
    /// Open connections one address may hold; 0 for no limit beyond `max_connections`.
    pub max_connections_per_ip: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_bytes: 1024 * 1024,
            max_response_bytes: 32 * 1024 * 1024,
            max_connections: 256,
            max_batch_len: 50,
            max_subscriptions_per_connection: 16,
            message_buffer: 1024,
            subscriber_timeout: Duration::from_secs(10),
            ws_ping_interval: Duration::from_secs(30),
            ws_inactive_limit: Duration::from_secs(40),
            requests_per_second_per_ip: 200,
            request_burst_per_ip: 400,
            max_connections_per_ip: 32,
        }
    }
}

/// The API over a backend.
#[derive(Clone)]
pub struct RpcApi {
    backend: Backend,
    limits: Limits,
    observer: Option<Arc<dyn Observer>>,
}

impl RpcApi {
    /// The API over `backend`.
    pub fn new(backend: Backend, limits: Limits) -> Self {
        Self {
            backend,
            limits,
            observer: None,
        }
    }

    /// The same, telling `observer` of subscriptions.
    pub fn with_observer(mut self, observer: Option<Arc<dyn Observer>>) -> Self {
        self.observer = observer;
        self
    }

    /// Tells the observer a subscription started or ended.
    pub(crate) fn subscription(&self, open: bool) {
        if let Some(observer) = &self.observer {
            observer.subscription(open);
        }
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Whether the node is ready for traffic: synced, not halted, and connected to more
    /// than two thirds of the validators (counting itself when it is one).
    pub fn readiness(&self) -> Result<Readiness, jsonrpsee::types::ErrorObjectOwned> {
        let status = self.backend.node.status();
        let (head, _) = self.backend.chain.head()?;
        let set = self.backend.chain.validator_set(head.saturating_add(1))?;
        let validators = set.as_ref().map_or(0, |s| s.len());
        let me = set
            .as_ref()
            .is_some_and(|s| s.get(&status.validator).is_some());
        let validator_peers = self
            .backend
            .node
            .peers()
            .iter()
            .filter(|p| p.name.is_some())
            .count();
        let reachable = validator_peers + usize::from(me);
        let mut reasons = Vec::new();
        if status.syncing {
            reasons.push("catching up through block sync".to_owned());
        }
        if status.halted {
            reasons.push("halted".to_owned());
        }
        if reachable * 3 <= validators * 2 {
            reasons.push(format!(
                "connected to {reachable} of {validators} validators (counting itself), not more than two thirds"
            ));
        }
        Ok(Readiness {
            ready: reasons.is_empty(),
            height: status.height,
            syncing: status.syncing,
            halted: status.halted,
            validator_peers,
            validators,
            reasons,
        })
    }

    /// Every method, in one module.
    pub fn into_module(self) -> RpcModule<()> {
        let mut module = RpcModule::new(());
        // Names are distinct by construction (one namespace per trait): merging cannot fail.
        for part in [
            SystemApiServer::into_rpc(self.clone()).into(),
            MetaApiServer::into_rpc(self.clone()).into(),
            ChainApiServer::into_rpc(self.clone()).into(),
            GovApiServer::into_rpc(self).into(),
        ] {
            let part: Methods = part;
            if let Err(error) = module.merge(part) {
                tracing::error!(target: "accord::rpc", %error, "duplicate RPC method");
            }
        }
        module
    }
}

/// What `/ready` answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Readiness {
    /// Ready for traffic.
    pub ready: bool,
    /// Head height.
    pub height: accord_types::Height,
    /// Catching up.
    pub syncing: bool,
    /// Stopped deciding.
    pub halted: bool,
    /// Validators connected as peers.
    pub validator_peers: usize,
    /// Validators in the set deciding the next height.
    pub validators: usize,
    /// Why it is not ready (empty when it is).
    pub reasons: Vec<String>,
}

/// Everything the server runs with besides its backend.
#[derive(Clone, Default)]
pub struct Options {
    /// Limits.
    pub limits: Limits,
    /// Told of every call (metrics).
    pub observer: Option<Arc<dyn Observer>>,
    /// The node's metrics for `/metrics`.
    pub metrics: Option<Arc<dyn crate::rest::MetricsSource>>,
    /// Origins browsers may call from (CORS); none by default. `*` allows any.
    pub cors_origins: Vec<String>,
    /// Client addresses the per-address limits never apply to.
    pub rate_limit_exempt: Vec<IpAddr>,
}

fn cors(origins: &[String]) -> Result<tower_http::cors::CorsLayer, std::io::Error> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let layer = CorsLayer::new()
        .allow_methods([http::Method::GET, http::Method::POST])
        .allow_headers([http::header::CONTENT_TYPE]);
    if origins.iter().any(|o| o == "*") {
        return Ok(layer.allow_origin(AllowOrigin::any()));
    }
    let values = origins
        .iter()
        .map(|o| {
            http::HeaderValue::from_str(o).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("CORS origin {o:?} is not a valid header value"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(layer.allow_origin(AllowOrigin::list(values)))
}

/// Starts the server on `listen`; returns its handle and the bound address.
pub async fn start(
    listen: SocketAddr,
    backend: Backend,
    options: Options,
) -> Result<(ServerHandle, SocketAddr), std::io::Error> {
    let Options {
        limits,
        observer,
        metrics,
        cors_origins,
        rate_limit_exempt,
    } = options;
    let config = ServerConfig::builder()
        .max_request_body_size(limits.max_request_bytes)
        .max_response_body_size(limits.max_response_bytes)
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch_len))
        .set_message_buffer_capacity(limits.message_buffer)
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(limits.ws_ping_interval)
                .inactive_limit(limits.ws_inactive_limit)
                .max_failures(1),
        )
        .build();
    let per_address = Arc::new(PerAddress::new(
        limits.requests_per_second_per_ip,
        limits.request_burst_per_ip,
        limits.max_connections_per_ip,
        &rate_limit_exempt,
    ));
    let per_address = per_address.is_active().then_some(per_address);
    let api = RpcApi::new(backend, limits).with_observer(observer.clone());
    let rpc_limits = per_address.clone();
    let rpc_middleware = RpcServiceBuilder::new().layer_fn(move |service| {
        middleware::Strict::new(service, observer.clone(), rpc_limits.clone())
    });
    let http_middleware = tower::ServiceBuilder::new()
        .option_layer(
            (!cors_origins.is_empty())
                .then(|| cors(&cors_origins))
                .transpose()?,
        )
        .layer(crate::rest::RestLayer::new(
            api.clone(),
            metrics,
            per_address.clone(),
        ));
    let services = Server::builder()
        .set_config(config)
        .set_rpc_middleware(rpc_middleware)
        .set_http_middleware(http_middleware)
        .to_service_builder();
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let methods: Methods = api.into_module().into();
    let (stop, handle) = stop_channel();
    tokio::spawn(async move {
        loop {
            let (socket, remote) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, most often: wait rather than spin.
                        tracing::warn!(target: "accord::rpc", %error, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = stop.clone().shutdown() => break,
            };
            let slot = match &per_address {
                Some(limits) => match limits.connect(remote.ip()) {
                    Some(slot) => Some(slot),
                    None => {
                        refuse_connection(socket, remote, limits.max_connections(), stop.clone());
                        continue;
                    }
                },
                None => None,
            };
            if let Err(error) = socket.set_nodelay(true) {
                tracing::debug!(target: "accord::rpc", %error, "cannot set TCP_NODELAY");
            }
            let service = services.clone().build(methods.clone(), stop.clone());
            let tagged =
                tower::service_fn(move |mut request: HttpRequest<hyper::body::Incoming>| {
                    request.extensions_mut().insert(RemoteAddr(remote));
                    service.clone().call(request.map(HttpBody::new))
                });
            // Boxed as `dyn Future + Send` here, where the types are concrete: the
            // compiler cannot prove `Send` for it inside the spawned block otherwise.
            let connection: futures::future::BoxFuture<'static, Result<(), BoxError>> = Box::pin(
                serve_with_graceful_shutdown(socket, tagged, stop.clone().shutdown()),
            );
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(target: "accord::rpc", %remote, %error, "connection ended");
                }
                drop(slot);
            });
        }
    });
    Ok((handle, addr))
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Answers a connection over its address's limit with 429 and closes it, within a few
/// seconds whatever the client does.
fn refuse_connection(
    socket: tokio::net::TcpStream,
    remote: SocketAddr,
    max: u32,
    stop: StopHandle,
) {
    tracing::debug!(target: "accord::rpc", %remote, "refused a connection over the per-address limit");
    let refuse = tower::service_fn(move |_request: HttpRequest<hyper::body::Incoming>| {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": crate::error::RATE_LIMITED,
                "message": format!(
                    "too many connections: {} already holds {max}, the most one address may",
                    remote.ip()
                ),
            }
        });
        let response = HttpResponse::builder()
            .status(http::StatusCode::TOO_MANY_REQUESTS)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CONNECTION, "close")
            .body(HttpBody::from(body.to_string()));
        async move { response }
    });
    let connection = serve_with_graceful_shutdown(socket, refuse, stop.shutdown());
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
    });
}
