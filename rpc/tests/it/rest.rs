//! The REST routes with their status codes, and the operations endpoints.

use std::net::SocketAddr;
use std::sync::Arc;

use accord_rpc::rest::MetricsSource;
use accord_rpc::Options;
use accord_runtime::test_utils::{self, draft, key, pipeline};
use accord_types::codec::hex_encode;
use accord_types::governance::ExecutionMode;
use accord_types::{Nonce, Payload, ProposalId, Transaction};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api::history;
use crate::Fixture;

/// An HTTP request; the status and the body as JSON (or text).
async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let (status, body) = accord_rpc::memory::http_request(&addr.to_string(), method, path, body)
        .await
        .unwrap();
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, value)
}

fn signed(fixture: &Fixture, signer: &str, payload: Payload) -> String {
    let tx = fixture.node.tx(signer, payload);
    json!({ "transaction": hex_encode(&tx.encode()) }).to_string()
}

#[tokio::test]
async fn the_devops_routes_answer_with_their_status_codes() {
    let fixture = Fixture::new().await;
    history(&fixture);
    let addr = fixture.addr;

    // Lists and single proposals, by kind.
    let (status, page) = http(addr, "GET", "/api/devops/documentation-changes", None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["proposals"].as_array().unwrap().len(), 2);
    let (status, page) = http(
        addr,
        "GET",
        "/api/devops/documentation-changes?region=ap&limit=5",
        None,
    )
    .await;
    assert_eq!(
        (status, page["proposals"].as_array().unwrap().len()),
        (200, 1)
    );
    let (status, page) = http(addr, "GET", "/api/devops/pipeline-actions", None).await;
    assert_eq!(
        (status, page["proposals"].as_array().unwrap().len()),
        (200, 0)
    );
    let (status, one) = http(addr, "GET", "/api/devops/documentation-changes/1", None).await;
    assert_eq!(status, 200);
    assert_eq!(one["state"]["id"], 1);
    for (path, expected) in [
        ("/api/devops/documentation-changes/99", 404),
        ("/api/devops/pipeline-actions/1", 404),
        ("/api/devops/documentation-changes/x", 400),
        ("/api/devops/documentation-changes/-1", 400),
        ("/api/devops/widgets", 404),
        ("/api/devops/documentation-changes?colour=red", 400),
        ("/api/devops/documentation-changes?status=sleeping", 400),
        ("/api/devops/documentation-changes?limit=0", 400),
        ("/api/devops/documentation-changes?region=EU", 400),
        ("/api/nothing", 404),
    ] {
        let (status, body) = http(addr, "GET", path, None).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert_eq!(body["error"]["status"], expected, "{path}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }

    // Submissions.
    let pipeline_draft = {
        let mut d = draft(&["eu"], pipeline(&[100]));
        d.execution_mode = ExecutionMode::ManualExecute;
        test_utils::with_digest(d)
    };
    let body = signed(
        &fixture,
        "author",
        Payload::SubmitProposal {
            draft: Box::new(pipeline_draft),
        },
    );
    let (status, answer) = http(addr, "POST", "/api/devops/pipeline-actions", Some(&body)).await;
    assert_eq!(status, 202, "{answer}");
    assert!(answer["transaction"].as_str().unwrap().starts_with("0x"));
    fixture.node.commit(&[]);
    let (status, _) = http(addr, "GET", "/api/devops/pipeline-actions/3", None).await;
    assert_eq!(status, 200);

    let doc = Payload::SubmitProposal {
        draft: Box::new(draft(&["eu"], test_utils::documentation("/x.md"))),
    };
    let wrong_kind = signed(&fixture, "author", doc);
    let (status, answer) = http(
        addr,
        "POST",
        "/api/devops/roadmap-changes",
        Some(&wrong_kind),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("DocumentationChange"));
    for body in [
        "not json",
        r#"{"transaction": "0xzz"}"#,
        r#"{"transaction": "0x00"}"#,
        r#"{"tx": "0x00"}"#,
    ] {
        let (status, answer) = http(addr, "POST", "/api/devops/pipeline-actions", Some(body)).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
    // Refused by the runtime: a voter may not propose.
    let voter_proposes = signed(
        &fixture,
        "eu-voter-3",
        Payload::SubmitProposal {
            draft: Box::new(test_utils::with_digest(draft(&["eu"], pipeline(&[100])))),
        },
    );
    let (status, answer) = http(
        addr,
        "POST",
        "/api/devops/pipeline-actions",
        Some(&voter_proposes),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "refused");

    // Execute: unknown id, wrong state, wrong transaction.
    let execute = |id: u64| {
        let tx = Transaction::sign(
            &key("author"),
            fixture.node.chain_id(),
            Nonce(50),
            Payload::Execute {
                proposal: ProposalId(id),
            },
        );
        json!({ "transaction": hex_encode(&tx.encode()) }).to_string()
    };
    let (status, answer) = http(
        addr,
        "POST",
        "/api/devops/pipeline-actions/77/execute",
        Some(&execute(77)),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = http(
        addr,
        "POST",
        "/api/devops/pipeline-actions/3/execute",
        Some(&execute(4)),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let author_nonce = fixture.node.tx(
        "author",
        Payload::Execute {
            proposal: ProposalId(3),
        },
    );
    let body = json!({ "transaction": hex_encode(&author_nonce.encode()) }).to_string();
    let (status, answer) = http(
        addr,
        "POST",
        "/api/devops/pipeline-actions/3/execute",
        Some(&body),
    )
    .await;
    assert_eq!(status, 409, "still voting: {answer}");
    assert_eq!(answer["error"]["code"], "invalid_status");
}

struct Fixed;

impl MetricsSource for Fixed {
    fn encode(&self) -> String {
        "# TYPE accord_test gauge\naccord_test 1\n# EOF\n".to_owned()
    }
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let node = accord_rpc::memory::MemoryNode::new(16);
    let (_handle, addr) = accord_rpc::start(
        "127.0.0.1:0".parse().unwrap(),
        node.backend(),
        Options {
            metrics: Some(Arc::new(Fixed)),
            cors_origins: vec!["https://explorer.example".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (status, body) = http(addr, "GET", "/health", None).await;
    assert_eq!((status, body), (200, json!({ "status": "ok" })));
    // The in-memory node has no peers: one validator of four is not a quorum.
    let (status, body) = http(addr, "GET", "/ready", None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    assert!(
        body["reasons"][0]
            .as_str()
            .unwrap()
            .contains("1 of 4 validators"),
        "{body}"
    );
    let (status, body) = http(addr, "GET", "/metrics", None).await;
    assert_eq!(status, 200);
    assert!(body.as_str().unwrap().contains("accord_test 1"));

    // CORS: the configured origin is allowed, another is not.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let preflight = format!(
        "OPTIONS / HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://explorer.example\r\n\
         Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(preflight.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    assert!(
        raw.to_ascii_lowercase()
            .contains("access-control-allow-origin: https://explorer.example"),
        "{raw}"
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let other = preflight.replace("explorer.example", "elsewhere.example");
    stream.write_all(other.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    assert!(
        !raw.to_ascii_lowercase()
            .contains("access-control-allow-origin"),
        "{raw}"
    );
}
