//! A node that forges what it streams: a proxy in front of an honest server that
//! alters the payload digest of every execution request it forwards. The agent
//! refuses the forged event (the proof shows another event), fails over to the honest
//! endpoint, and executes the request once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use accord_runtime::test_utils;
use accord_types::governance::ProposalStatus;
use accord_types::{Domain, Hash};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::server::{Server, ServerHandle};
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use jsonrpsee::{RpcModule, SubscriptionMessage};
use serde_json::Value;

use crate::{Fixture, Running};

/// The calls the agent makes besides the subscription.
const FORWARDED: [&str; 8] = [
    "chain_getStatus",
    "chain_getTransaction",
    "gov_getAccount",
    "gov_getEventProof",
    "gov_getStateProof",
    "gov_getProposal",
    "gov_getEvents",
    "gov_submitTransaction",
];

struct Upstream {
    client: WsClient,
    forged: AtomicUsize,
}

fn positional(params: &jsonrpsee::types::Params<'_>) -> ArrayParams {
    let mut array = ArrayParams::new();
    let values: Vec<Value> = params
        .as_str()
        .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    for value in values {
        array.insert(value).unwrap();
    }
    array
}

fn upstream_error(error: jsonrpsee::core::client::Error) -> ErrorObjectOwned {
    match error {
        jsonrpsee::core::client::Error::Call(object) => object,
        other => ErrorObject::owned(-32000, other.to_string(), None::<()>),
    }
}

/// Starts the forging proxy in front of `target`.
async fn forging_proxy(target: &str) -> (String, Arc<Upstream>, ServerHandle) {
    let client = WsClientBuilder::default().build(target).await.unwrap();
    let upstream = Arc::new(Upstream {
        client,
        forged: AtomicUsize::new(0),
    });
    let mut module = RpcModule::from_arc(upstream.clone());
    for method in FORWARDED {
        module
            .register_async_method(method, move |params, up, _| async move {
                up.client
                    .request::<Value, _>(method, positional(&params))
                    .await
                    .map_err(upstream_error)
            })
            .unwrap();
    }
    module
        .register_subscription(
            "gov_subscribeEvents",
            "gov_event",
            "gov_unsubscribeEvents",
            |params, pending, up, _| async move {
                let subscribed = up
                    .client
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
                        return Ok(());
                    }
                };
                let sink = pending.accept().await?;
                while let Some(Ok(mut view)) = events.next().await {
                    if view["event"]["type"] == "execution_requested" {
                        let forged = Hash::digest(Domain::PAYLOAD, b"something else");
                        view["event"]["payload_digest"] = Value::String(forged.to_string());
                        up.forged.fetch_add(1, Ordering::SeqCst);
                    }
                    let raw = serde_json::value::to_raw_value(&view)?;
                    if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                        break;
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    (format!("ws://{addr}"), upstream, server.start(module))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_event_is_refused_and_the_honest_endpoint_serves_the_request() {
    let fixture = Fixture::new().await;
    let (proxy, upstream, _proxy_handle) = forging_proxy(&fixture.url()).await;
    fixture.script("deploy.sh", "echo ran >> marker");
    let config = fixture.config(
        &[proxy, fixture.url()],
        "[actions.default]\ncommand = [\"/bin/sh\", \"deploy.sh\"]\n",
    );
    let agent = Running::start(config).await;
    let id = fixture.approve(test_utils::pipeline(&[]), &["eu"]);

    fixture.wait_status(id, ProposalStatus::Succeeded).await;
    assert!(
        upstream.forged.load(Ordering::SeqCst) >= 1,
        "the proxy forged nothing"
    );
    assert!(agent.metrics.refused_count("event_mismatch") >= 1);
    assert_eq!(
        std::fs::read_to_string(fixture.path("marker")).unwrap(),
        "ran\n"
    );
    let health = agent.metrics.health();
    assert_eq!(health.endpoint.as_deref(), Some(fixture.url().as_str()));
    assert!(health
        .last_error
        .unwrap_or_default()
        .contains("differs from the one streamed"));
    agent.stop().await.unwrap();
}
