//! The per-address limits over real sockets: other loopback addresses (127.0.0.2, …)
//! stand for other clients.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use accord_rpc::error::RATE_LIMITED;
use accord_rpc::memory::{http_exchange, HttpAnswer, MemoryNode};
use accord_rpc::{Limits, Options};
use serde_json::Value;

const HEALTH: &str = r#"{"jsonrpc":"2.0","id":1,"method":"system_health","params":[]}"#;

async fn start(
    limits: Limits,
    exempt: Vec<IpAddr>,
) -> (jsonrpsee::server::ServerHandle, SocketAddr) {
    let node = MemoryNode::new(16);
    accord_rpc::start(
        "127.0.0.1:0".parse().unwrap(),
        node.backend(),
        Options {
            limits,
            rate_limit_exempt: exempt,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn post(from: &str, addr: SocketAddr, body: &str) -> HttpAnswer {
    http_exchange(Some(ip(from)), &addr.to_string(), "POST", "/", Some(body))
        .await
        .unwrap()
}

/// The error object of a single call's answer, if it is one.
fn error(answer: &HttpAnswer) -> Option<Value> {
    let value: Value = serde_json::from_str(&answer.body).unwrap();
    value.get("error").cloned()
}

#[tokio::test]
async fn an_address_over_its_rate_is_refused_with_when_to_retry_and_others_are_served() {
    let limits = Limits {
        requests_per_second_per_ip: 2,
        request_burst_per_ip: 4,
        ..Limits::default()
    };
    let (_handle, addr) = start(limits, vec![ip("127.0.0.9")]).await;

    // The burst is served, the call after it is refused with the code and a delay.
    for _ in 0..4 {
        let answer = post("127.0.0.1", addr, HEALTH).await;
        assert_eq!(error(&answer), None, "{}", answer.body);
    }
    let answer = post("127.0.0.1", addr, HEALTH).await;
    let refused = error(&answer).expect("the fifth call is over the burst");
    assert_eq!(refused["code"], RATE_LIMITED, "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(message.contains("2 requests per second"), "{message}");
    let retry_ms = refused["data"]["retry_after_ms"].as_u64().unwrap();
    assert!((1..=500).contains(&retry_ms), "{refused}");

    // Each call of a batch counts: the address is still over, so every call is refused.
    let batch = format!("[{HEALTH},{}]", HEALTH.replace("\"id\":1", "\"id\":2"));
    let answer = post("127.0.0.1", addr, &batch).await;
    let answers: Vec<Value> = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(answers.len(), 2);
    assert!(
        answers.iter().all(|a| a["error"]["code"] == RATE_LIMITED),
        "{answers:?}"
    );

    // The REST routes share the rate: 429 with Retry-After.
    let answer = http_exchange(
        Some(ip("127.0.0.1")),
        &addr.to_string(),
        "GET",
        "/api/devops/pipeline-actions",
        None,
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert!(
        answer
            .header("retry-after")
            .is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)),
        "{}",
        answer.head
    );
    assert!(answer.body.contains("rate_limited"), "{}", answer.body);

    // Another address has its own bucket; an exempt one has none.
    let answer = post("127.0.0.2", addr, HEALTH).await;
    assert_eq!(error(&answer), None, "{}", answer.body);
    for _ in 0..20 {
        let answer = post("127.0.0.9", addr, HEALTH).await;
        assert_eq!(error(&answer), None, "{}", answer.body);
    }

    // After the delay the server named, the address is served again.
    tokio::time::sleep(Duration::from_millis(retry_ms + 50)).await;
    let answer = post("127.0.0.1", addr, HEALTH).await;
    assert_eq!(error(&answer), None, "{}", answer.body);
}

#[tokio::test]
async fn an_address_holding_its_most_connections_is_refused_another() {
    let limits = Limits {
        max_connections_per_ip: 2,
        ..Limits::default()
    };
    let (_handle, addr) = start(limits, Vec::new()).await;
    let connect = |from: &str| {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((ip(from), 0).into()).unwrap();
        socket.connect(addr)
    };
    // Two idle connections from one address.
    let held = [
        connect("127.0.0.3").await.unwrap(),
        connect("127.0.0.3").await.unwrap(),
    ];
    // Accepted in order: a request on a third connection from the same address waits
    // until the server has counted the first two.
    let mut refused = None;
    for _ in 0..50 {
        let answer = post("127.0.0.3", addr, HEALTH).await;
        if answer.status == 429 {
            refused = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = refused.expect("a third connection is refused");
    let refusal = error(&answer).unwrap();
    assert_eq!(refusal["code"], RATE_LIMITED);
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("too many connections"),
        "{refusal}"
    );
    // Another address is served meanwhile.
    let answer = post("127.0.0.4", addr, HEALTH).await;
    assert_eq!(
        (answer.status, error(&answer)),
        (200, None),
        "{}",
        answer.body
    );
    // Closing one frees a slot.
    drop(held);
    let mut served = false;
    for _ in 0..50 {
        let answer = post("127.0.0.3", addr, HEALTH).await;
        if answer.status == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "a slot is freed when a connection closes");
}
