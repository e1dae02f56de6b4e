//! The server: the API traits implemented over a [`Backend`], the limits that protect
//! the node, and a middleware that refuses parameters a method does not take.
//!
//! ```text
//!   HTTP / WebSocket (one port)
//!     └─ jsonrpsee server: body size, connections, batch length, subscriptions per
//!        connection, per-connection message buffer
//!         └─ Strict (middleware): method known? parameter shape right? observer
//!             └─ RpcApi: system_* · rpc_* · chain_* · gov_*   (blocking methods run on
//!                 │                                          tokio's blocking pool)
//!                 └─ Backend: ChainReader · StateReader · TxPool · NodeInfo · Commits
//! ```

mod chain;
mod gov;
mod middleware;
mod subscriptions;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use jsonrpsee::RpcModule;

use crate::api::{ChainApiServer, GovApiServer, MetaApiServer, SystemApiServer};
use crate::backend::Backend;
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
        }
    }
}

/// The API over a backend.
#[derive(Clone)]
pub struct RpcApi {
    backend: Backend,
    limits: Limits,
}

impl RpcApi {
    /// The API over `backend`.
    pub fn new(backend: Backend, limits: Limits) -> Self {
        Self { backend, limits }
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
            let part: jsonrpsee::Methods = part;
            if let Err(error) = module.merge(part) {
                tracing::error!(target: "accord::rpc", %error, "duplicate RPC method");
            }
        }
        module
    }
}

/// Starts the server on `listen`; returns its handle and the bound address.
pub async fn start(
    listen: SocketAddr,
    limits: Limits,
    backend: Backend,
    observer: Option<Arc<dyn Observer>>,
) -> Result<(ServerHandle, SocketAddr), std::io::Error> {
    let config = ServerConfig::builder()
        .max_request_body_size(limits.max_request_bytes)
        .max_response_body_size(limits.max_response_bytes)
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch_len))
        .set_message_buffer_capacity(limits.message_buffer)
        .build();
    let rpc_middleware = RpcServiceBuilder::new()
        .layer_fn(move |service| middleware::Strict::new(service, observer.clone()));
    let server = Server::builder()
        .set_config(config)
        .set_rpc_middleware(rpc_middleware)
        .build(listen)
        .await?;
    let addr = server.local_addr()?;
    let module = RpcApi::new(backend, limits).into_module();
    Ok((server.start(module), addr))
}
