//! The API against an in-memory chain executed by the real runtime: every method over
//! HTTP and WebSocket, proofs verified by the client alone (and refused once tampered
//! with), resumable event subscriptions, and a subscriber that stops reading.

mod api;
mod docs;
mod explorer;
mod limits;
mod proofs;
mod rest;
mod subscriptions;

use std::net::SocketAddr;
use std::sync::Arc;

use accord_rpc::memory::MemoryNode;
use accord_rpc::Limits;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::server::ServerHandle;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};

/// A server over a fresh in-memory chain.
pub struct Fixture {
    /// The chain behind the server.
    pub node: Arc<MemoryNode>,
    /// Where the server listens.
    pub addr: SocketAddr,
    _handle: ServerHandle,
}

impl Fixture {
    /// With the default limits.
    pub async fn new() -> Self {
        Self::with_limits(Limits::default(), 256).await
    }

    /// With `limits` and a commit announcement channel of `commit_channel` blocks.
    pub async fn with_limits(limits: Limits, commit_channel: usize) -> Self {
        let node = MemoryNode::new(commit_channel);
        let (handle, addr) = accord_rpc::start(
            "127.0.0.1:0".parse().unwrap(),
            node.backend(),
            accord_rpc::Options {
                limits,
                // The tests' own clients, all on 127.0.0.1; the per-address limits
                // have tests of their own.
                rate_limit_exempt: vec![[127, 0, 0, 1].into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        Self {
            node,
            addr,
            _handle: handle,
        }
    }

    /// A typed HTTP client.
    pub fn http(&self) -> HttpClient {
        HttpClientBuilder::default()
            .build(format!("http://{}", self.addr))
            .unwrap()
    }

    /// A typed WebSocket client.
    pub async fn ws(&self) -> WsClient {
        WsClientBuilder::default()
            .max_buffer_capacity_per_subscription(100_000)
            .build(format!("ws://{}", self.addr))
            .await
            .unwrap()
    }
}

/// A raw JSON-RPC call over HTTP: the result, or the error object.
pub async fn raw(
    addr: SocketAddr,
    method: &str,
    params: Option<&str>,
) -> Result<serde_json::Value, serde_json::Value> {
    let request = match params {
        Some(params) => {
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#)
        }
        None => format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}"}}"#),
    };
    let answer = http_post(addr, &request).await;
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    match answer.get("error") {
        Some(error) => Err(error.clone()),
        None => Ok(answer["result"].clone()),
    }
}

/// POSTs a JSON body over a plain TCP connection; returns the response body.
pub async fn http_post(addr: SocketAddr, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    body.to_owned()
}
