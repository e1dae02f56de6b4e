//! Every boundary of a running network refuses bad input and the network keeps finalizing:
//! RPC and REST requests, p2p messages from a process that holds a validator's key,
//! and oversized or malformed payloads.

/// Multi-process: one network of four validators takes bad input at every boundary.
mod slow {
    use std::time::{Duration, Instant};

    use accord_node::p2p::{P2pConfig, P2pHandle, Topic};
    use accord_types::codec::hex_encode;
    use accord_types::{ChainId, Keypair, Nonce, Payload, Transaction};
    use serde_json::{json, Value};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use accord_tests::net::{tail, Net};

    /// An HTTP answer.
    struct Http {
        status: u16,
        body: String,
    }

    impl Http {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap_or_else(|e| {
                panic!("HTTP {} body is not JSON ({e}): {}", self.status, self.body)
            })
        }
    }

    /// Sends `head` and `body` on one connection and reads the answer until the server
    /// closes it. The body is written while the answer is read, since a server may
    /// answer (and close) before it has read a body it refuses.
    async fn http(addr: &str, head: String, body: Vec<u8>) -> Http {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let sending = tokio::spawn(async move {
            let _ = writer.write_all(head.as_bytes()).await;
            let _ = writer.write_all(&body).await;
            // Kept open: a half-closed connection may be taken for a client gone away.
            writer
        });
        let mut raw = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let read = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => raw.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        sending.abort();
        assert!(read.is_ok(), "no complete answer from {addr} within 30 s");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (headers, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
        let status = headers
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {headers:?}"));
        let body = if headers
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Http { status, body }
    }

    /// The payload of a chunked HTTP body.
    fn dechunk(mut rest: &str) -> String {
        let mut out = String::new();
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 || after.len() < size {
                break;
            }
            out.push_str(&after[..size]);
            rest = after[size..].trim_start_matches("\r\n");
        }
        out
    }

    /// A POST of `body` as `content_type`, with `Content-Length`.
    async fn post(addr: &str, content_type: &str, body: Vec<u8>) -> Http {
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        http(addr, head, body).await
    }

    /// A JSON-RPC call with any `params` (array, object, absent); the result or the
    /// error object.
    async fn call(addr: &str, method: &str, params: Option<Value>) -> Result<Value, Value> {
        let mut request = json!({ "jsonrpc": "2.0", "id": 1, "method": method });
        if let Some(params) = params {
            request["params"] = params;
        }
        let answer = post(addr, "application/json", request.to_string().into_bytes()).await;
        assert_eq!(answer.status, 200, "{method}: {}", answer.body);
        let answer = answer.json();
        match answer.get("error") {
            Some(error) => Err(error.clone()),
            None => Ok(answer["result"].clone()),
        }
    }

    /// A JSON-RPC call whose params are given as JSON text (numbers JSON cannot
    /// hold in a u64, for one).
    async fn call_raw(addr: &str, method: &str, params: &str) -> Result<Value, Value> {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
        let answer = post(addr, "application/json", body.into_bytes()).await;
        assert_eq!(answer.status, 200, "{method}: {}", answer.body);
        let answer = answer.json();
        match answer.get("error") {
            Some(error) => Err(error.clone()),
            None => Ok(answer["result"].clone()),
        }
    }

    /// Collects every boundary whose answer is not the expected one, so that one run
    /// reports them all; every answer is printed (shown when the test fails).
    #[derive(Default)]
    struct Boundaries {
        checked: usize,
        bad: Vec<String>,
    }

    impl Boundaries {
        /// Expects a JSON-RPC error with `code` whose message holds every one of `words`;
        /// returns the error object.
        fn error(
            &mut self,
            boundary: &str,
            answer: Result<Value, Value>,
            code: i64,
            words: &[&str],
        ) -> Value {
            self.checked += 1;
            eprintln!("{boundary}: {answer:?}");
            let error = match answer {
                Ok(result) => {
                    self.bad
                        .push(format!("{boundary}: accepted, result {result}"));
                    return Value::Null;
                }
                Err(error) => error,
            };
            if error["code"] != json!(code) {
                self.bad.push(format!(
                    "{boundary}: code {} instead of {code}",
                    error["code"]
                ));
            }
            let message = error["message"].as_str().unwrap_or_default();
            let missing: Vec<&&str> = words.iter().filter(|w| !message.contains(**w)).collect();
            if !missing.is_empty() {
                self.bad.push(format!(
                    "{boundary}: message {message:?} does not say {missing:?}"
                ));
            }
            error
        }

        /// Expects the transaction to be refused ([`accord_node::rpc::TX_REFUSED`]) with
        /// `data.code` = `kind` (`None`: no code) and every one of `words` in the message.
        fn refused(
            &mut self,
            boundary: &str,
            answer: Result<Value, Value>,
            kind: Option<&str>,
            words: &[&str],
        ) {
            let error = self.error(boundary, answer, accord_node::rpc::TX_REFUSED.into(), words);
            if !error.is_null() && error["data"]["code"] != json!(kind) {
                self.bad.push(format!(
                    "{boundary}: data.code {} instead of {kind:?}",
                    error["data"]["code"]
                ));
            }
        }

        /// Expects invalid parameters ([`accord_node::rpc::INVALID_PARAMS`]).
        fn invalid(&mut self, boundary: &str, answer: Result<Value, Value>, words: &[&str]) {
            self.error(
                boundary,
                answer,
                accord_node::rpc::INVALID_PARAMS.into(),
                words,
            );
        }

        /// Expects `ok`; `what` says what was expected.
        fn check(&mut self, boundary: &str, ok: bool, what: impl std::fmt::Display) {
            self.checked += 1;
            eprintln!("{boundary}: {what}");
            if !ok {
                self.bad.push(format!("{boundary}: {what}"));
            }
        }
    }

    /// A proposal about the document at `path`, with `description`.
    fn proposal(path: &str, description: String) -> Payload {
        let body = accord_runtime::test_utils::documentation(path);
        let mut draft = accord_runtime::test_utils::draft(&["eu", "us"], body);
        draft.description = description;
        Payload::SubmitProposal {
            draft: Box::new(draft),
        }
    }

    fn hex(tx: &Transaction) -> String {
        hex_encode(&tx.encode())
    }

    /// The RPC server's boundaries: methods, parameters and HTTP bodies.
    async fn rpc_boundary(boundaries: &mut Boundaries, addr: &str) {
        boundaries.error(
            "unknown method",
            call(addr, "chain_frobnicate", Some(json!([]))).await,
            -32601,
            &["not found"],
        );
        let block = |params| call(addr, "chain_getBlock", Some(params));
        boundaries.invalid(
            "chain_getBlock -1",
            block(json!([-1])).await,
            &["non-negative integer", "-1"],
        );
        boundaries.invalid(
            "chain_getBlock 1.5",
            block(json!([1.5])).await,
            &["non-negative integer", "1.5"],
        );
        boundaries.invalid(
            "chain_getBlock 1e30",
            block(json!([1e30])).await,
            &["non-negative integer"],
        );
        boundaries.invalid(
            "chain_getBlock true",
            block(json!([true])).await,
            &["a height", "block hash"],
        );
        boundaries.invalid(
            "chain_getBlock garbage",
            block(json!(["garbage"])).await,
            &["not a block hash", "64 hex digits"],
        );
        boundaries.invalid(
            "chain_getBlock short hash",
            block(json!(["0x1234"])).await,
            &["not a block hash", "64 hex digits"],
        );
        boundaries.invalid(
            "chain_getBlock no param",
            block(json!([])).await,
            &["missing parameter id", "block hash"],
        );
        boundaries.invalid(
            "chain_getBlock no params at all",
            call(addr, "chain_getBlock", None).await,
            &["missing parameter id", "block hash"],
        );
        boundaries.invalid(
            "chain_getBlock two params",
            block(json!([1, 2])).await,
            &["takes 1 parameter", "got 2"],
        );
        boundaries.invalid(
            "chain_getBlock named param",
            block(json!({ "height": 1 })).await,
            &["no parameter \"height\"", "its parameters are: id"],
        );
        let unknown = block(json!([u64::MAX])).await;
        boundaries.check(
            "chain_getBlock beyond the head",
            unknown == Ok(Value::Null),
            format!("null expected, got {unknown:?}"),
        );

        let account = |params| call(addr, "gov_getAccount", Some(params));
        boundaries.invalid(
            "gov_getAccount not a key",
            account(json!(["0x12"])).await,
            &["gov_getAccount", "public key"],
        );
        boundaries.invalid(
            "gov_getAccount a number",
            account(json!([42])).await,
            &["gov_getAccount", "public key", "invalid type: integer"],
        );
        boundaries.invalid(
            "chain_getTransaction not a hash",
            call(addr, "chain_getTransaction", Some(json!(["xyz"]))).await,
            &["chain_getTransaction", "hash"],
        );
        boundaries.invalid(
            "gov_getProposal a string",
            call(addr, "gov_getProposal", Some(json!(["one"]))).await,
            &["gov_getProposal", "invalid type: string"],
        );
        boundaries.invalid(
            "gov_getProposal -1",
            call(addr, "gov_getProposal", Some(json!([-1]))).await,
            &["gov_getProposal", "invalid value"],
        );
        boundaries.invalid(
            "gov_submitTransaction a number",
            call(addr, "gov_submitTransaction", Some(json!([42]))).await,
            &["gov_submitTransaction", "invalid type: integer"],
        );

        // The rest of the API: (method, params as JSON text, code, words of the message).
        let far = "\"999999:0:0\"";
        let cases: Vec<(&str, String, i64, Vec<&str>)> = vec![
            (
                "chain_getBlock",
                "[18446744073709551616]".into(),
                -32602,
                vec!["chain_getBlock"],
            ),
            (
                "chain_getHeader",
                "[-3]".into(),
                -32602,
                vec!["non-negative"],
            ),
            (
                "chain_getHeader",
                "[1, 2]".into(),
                -32602,
                vec!["takes 1 parameter"],
            ),
            (
                "chain_getCertificate",
                "[\"0x12\"]".into(),
                -32602,
                vec!["not a block hash"],
            ),
            (
                "chain_getCertificate",
                "{\"block\": 1}".into(),
                -32602,
                vec!["no parameter \"block\""],
            ),
            (
                "chain_getReceipts",
                "[true]".into(),
                -32602,
                vec!["block hash"],
            ),
            (
                "chain_getReceipts",
                "[]".into(),
                -32602,
                vec!["missing parameter id"],
            ),
            (
                "chain_getBlockRange",
                "[5, 2]".into(),
                -32602,
                vec!["reversed"],
            ),
            (
                "chain_getBlockRange",
                "[1, 101]".into(),
                -32602,
                vec!["at most 100"],
            ),
            (
                "chain_getBlockRange",
                "[0, 3]".into(),
                -32602,
                vec!["start at 1"],
            ),
            (
                "chain_getBlockRange",
                "[1]".into(),
                -32602,
                vec!["missing parameter to"],
            ),
            (
                "chain_getBlockRange",
                "[1.5, 2]".into(),
                -32602,
                vec!["chain_getBlockRange"],
            ),
            (
                "chain_getBlockRange",
                "[-1, 2]".into(),
                -32602,
                vec!["chain_getBlockRange"],
            ),
            (
                "chain_getTransaction",
                "[42]".into(),
                -32602,
                vec!["chain_getTransaction"],
            ),
            (
                "chain_getValidators",
                "[0]".into(),
                -32602,
                vec!["start at 1"],
            ),
            (
                "chain_getValidators",
                "[99999]".into(),
                -32021,
                vec!["no validator set"],
            ),
            (
                "chain_getValidators",
                "[\"one\"]".into(),
                -32602,
                vec!["chain_getValidators"],
            ),
            (
                "chain_getStatus",
                "[1]".into(),
                -32602,
                vec!["takes 0 parameter"],
            ),
            (
                "gov_listProposals",
                "[{\"status\": \"sleeping\"}]".into(),
                -32602,
                vec!["unknown status"],
            ),
            (
                "gov_listProposals",
                "[{\"colour\": \"red\"}]".into(),
                -32602,
                vec!["colour"],
            ),
            (
                "gov_listProposals",
                "[{\"kind\": \"party\"}]".into(),
                -32602,
                vec!["gov_listProposals"],
            ),
            (
                "gov_listProposals",
                "[{\"region\": \"EU\"}]".into(),
                -32602,
                vec!["gov_listProposals"],
            ),
            (
                "gov_listProposals",
                "[null, null, 0]".into(),
                -32602,
                vec!["between 1 and 1000"],
            ),
            (
                "gov_listProposals",
                "[null, null, 1001]".into(),
                -32602,
                vec!["between 1 and 1000"],
            ),
            (
                "gov_listProposals",
                "[null, -1]".into(),
                -32602,
                vec!["gov_listProposals"],
            ),
            (
                "gov_listProposals",
                "[null, null, 5, 6]".into(),
                -32602,
                vec!["takes 3 parameter"],
            ),
            (
                "gov_getTally",
                "[\"x\"]".into(),
                -32602,
                vec!["gov_getTally"],
            ),
            (
                "gov_getParams",
                "{\"height\": 1}".into(),
                -32602,
                vec!["its parameters are: none"],
            ),
            (
                "gov_getEvents",
                "[{\"types\": [\"exploded\"]}]".into(),
                -32602,
                vec!["unknown event type"],
            ),
            (
                "gov_getEvents",
                "[{\"kinds\": [\"party\"]}]".into(),
                -32602,
                vec!["gov_getEvents"],
            ),
            (
                "gov_getEvents",
                "[null, \"12\"]".into(),
                -32602,
                vec!["cursor"],
            ),
            (
                "gov_getEvents",
                "[null, \"a:b:c\"]".into(),
                -32602,
                vec!["cursor"],
            ),
            (
                "gov_getEvents",
                "[null, \"1:2:3:4\"]".into(),
                -32602,
                vec!["cursor"],
            ),
            (
                "gov_getEvents",
                "[null, \"99999999999999999999:0:0\"]".into(),
                -32602,
                vec!["overflows"],
            ),
            (
                "gov_getEvents",
                format!("[null, {far}]"),
                -32021,
                vec!["beyond the chain"],
            ),
            (
                "gov_getEvents",
                "[null, null, 0]".into(),
                -32602,
                vec!["between 1 and 1000"],
            ),
            (
                "gov_getEventProof",
                "[\"1:0:9\"]".into(),
                -32021,
                vec!["no event at cursor"],
            ),
            (
                "gov_getEventProof",
                "[\"1:700:0\"]".into(),
                -32021,
                vec!["no event at cursor"],
            ),
            (
                "gov_getEventProof",
                format!("[{far}]"),
                -32021,
                vec!["beyond the chain"],
            ),
            (
                "gov_getEventProof",
                "[]".into(),
                -32602,
                vec!["missing parameter cursor"],
            ),
            (
                "gov_getStateProof",
                "[{\"record\": \"treasure\"}]".into(),
                -32602,
                vec!["gov_getStateProof"],
            ),
            (
                "gov_getStateProof",
                "[{\"record\": \"proposal\"}]".into(),
                -32602,
                vec!["gov_getStateProof"],
            ),
            (
                "gov_getStateProof",
                "[{\"record\": \"account\", \"key\": \"0x12\"}]".into(),
                -32602,
                vec!["gov_getStateProof"],
            ),
            (
                "gov_subscribeEvents",
                "[]".into(),
                -32602,
                vec!["needs a WebSocket"],
            ),
            (
                "chain_subscribeFinalizedBlocks",
                "[]".into(),
                -32602,
                vec!["needs a WebSocket"],
            ),
            (
                "rpc_methods",
                "[1]".into(),
                -32602,
                vec!["takes 0 parameter"],
            ),
        ];
        for (method, params, code, words) in &cases {
            let answer = call_raw(addr, method, params).await;
            boundaries.error(&format!("{method} {params}"), answer, *code, words);
        }
        // A batch longer than the limit, and one within it.
        let batch: Vec<Value> = (0..51)
            .map(|i| json!({ "jsonrpc": "2.0", "id": i, "method": "system_health" }))
            .collect();
        let answer = post(
            addr,
            "application/json",
            Value::Array(batch).to_string().into_bytes(),
        )
        .await;
        boundaries.error(
            "a batch of 51 calls",
            Err(answer.json()["error"].clone()),
            -32010,
            &["batch"],
        );
        let batch: Vec<Value> = (0..3)
            .map(|i| json!({ "jsonrpc": "2.0", "id": i, "method": "chain_getBlock", "params": [i, 9] }))
            .collect();
        let answer = post(
            addr,
            "application/json",
            Value::Array(batch).to_string().into_bytes(),
        )
        .await;
        let answers = answer.json();
        boundaries.check(
            "each call of a batch is checked for its shape",
            answers.as_array().is_some_and(|a| {
                a.len() == 3 && a.iter().all(|x| x["error"]["code"] == json!(-32602))
            }),
            format!("three -32602 answers expected: {answers}"),
        );
        // A subscription flood on one WebSocket: the 17th is refused.
        let ws = jsonrpsee::ws_client::WsClientBuilder::default()
            .build(format!("ws://{addr}"))
            .await
            .unwrap();
        let mut open = Vec::new();
        for _ in 0..16 {
            open.push(
                accord_rpc::ChainApiClient::subscribe_finalized_blocks(&ws)
                    .await
                    .unwrap(),
            );
        }
        let flood = accord_rpc::ChainApiClient::subscribe_finalized_blocks(&ws).await;
        // A subscription refused before it starts says why, over the WebSocket too.
        let bad_filter = accord_rpc::types::EventFilter {
            types: Some(vec!["exploded".into()]),
            ..Default::default()
        };
        let ws2 = jsonrpsee::ws_client::WsClientBuilder::default()
            .build(format!("ws://{addr}"))
            .await
            .unwrap();
        for (boundary, result, words) in [
            (
                "gov_subscribeEvents with an unknown event type",
                accord_rpc::GovApiClient::subscribe_events(&ws2, Some(bad_filter), None)
                    .await
                    .err(),
                "unknown event type",
            ),
            (
                "gov_subscribeEvents after a cursor beyond the chain",
                accord_rpc::GovApiClient::subscribe_events(
                    &ws2,
                    None,
                    Some("999999:0:0".parse().unwrap()),
                )
                .await
                .err(),
                "beyond the chain",
            ),
        ] {
            boundaries.check(
                boundary,
                result
                    .as_ref()
                    .is_some_and(|e| e.to_string().contains(words)),
                format!("refused saying {words:?}, got {result:?}"),
            );
        }
        boundaries.check(
            "a 17th subscription on one connection",
            flood
                .as_ref()
                .err()
                .is_some_and(|e| e.to_string().contains("subscriptions")),
            format!(
                "refused for too many subscriptions, got {:?}",
                flood.as_ref().err()
            ),
        );
        drop(open);

        // Bodies. The default cap of rpc.max_request_bytes is 4 MiB.
        let cap = 4 * 1024 * 1024;
        let padding = "0".repeat(cap);
        let huge = json!({
            "jsonrpc": "2.0", "id": 1, "method": "gov_submitTransaction", "params": [padding]
        });
        let answer = post(addr, "application/json", huge.to_string().into_bytes()).await;
        eprintln!("oversized body: {} {}", answer.status, answer.body);
        boundaries.check(
            "oversized body status",
            answer.status == 413,
            format!("HTTP 413 expected, got {}", answer.status),
        );
        let error =
            serde_json::from_str::<Value>(&answer.body).unwrap_or_default()["error"].clone();
        boundaries.error("oversized body", Err(error.clone()), -32007, &["too big"]);
        boundaries.check(
            "oversized body names the cap",
            error["data"].to_string().contains(&cap.to_string()),
            format!("the cap {cap} in {error}"),
        );

        let answer = post(
            addr,
            "application/json",
            b"{\"jsonrpc\": \"2.0\", \"method\": ".to_vec(),
        )
        .await;
        eprintln!("truncated JSON: {} {}", answer.status, answer.body);
        boundaries.check(
            "truncated JSON status",
            [200, 400].contains(&answer.status),
            format!("HTTP 200 or 400 expected, got {}", answer.status),
        );
        boundaries.error(
            "truncated JSON",
            Err(answer.json()["error"].clone()),
            -32700,
            &["Parse error"],
        );

        let answer = post(addr, "application/json", vec![0xff, 0xfe, 0x00, 0x80, 0x7b]).await;
        eprintln!("binary body: {} {}", answer.status, answer.body);
        boundaries.check(
            "binary body status",
            [200, 400].contains(&answer.status),
            format!("HTTP 200 or 400 expected, got {}", answer.status),
        );
        boundaries.error(
            "binary body",
            Err(answer.json()["error"].clone()),
            -32700,
            &["Parse error"],
        );

        let answer = post(
            addr,
            "application/json",
            b"{\"jsonrpc\": \"2.0\", \"id\": 1}".to_vec(),
        )
        .await;
        eprintln!(
            "request without a method: {} {}",
            answer.status, answer.body
        );
        boundaries.error(
            "request without a method",
            Err(answer.json()["error"].clone()),
            -32600,
            &["Invalid request"],
        );

        let answer = post(addr, "text/plain", b"chain_getStatus".to_vec()).await;
        eprintln!("text/plain body: {} {}", answer.status, answer.body);
        boundaries.check(
            "text/plain body",
            answer.status == 415 && answer.body.contains("application/json is required"),
            format!(
                "HTTP 415 naming application/json expected, got {} {:?}",
                answer.status, answer.body
            ),
        );

        let head = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let answer = http(addr, head, Vec::new()).await;
        boundaries.check(
            "GET",
            answer.status == 405 && answer.body.contains("POST is required"),
            format!(
                "HTTP 405 naming POST expected, got {} {:?}",
                answer.status, answer.body
            ),
        );
    }

    /// Transaction admission through `gov_submitTransaction`.
    async fn transaction_boundary(boundaries: &mut Boundaries, net: &Net, chain_id: &ChainId) {
        let addr = net.nodes[0]
            .node
            .rpc
            .trim_start_matches("http://")
            .to_owned();
        let addr = addr.as_str();
        let submit = |text: String| call(addr, "gov_submitTransaction", Some(json!([text])));
        let author = accord_node::keyfile::read(&net.key("author")).unwrap();
        let voter = accord_node::keyfile::read(&net.key("eu-voter-1")).unwrap();
        let sign = |key: &Keypair, nonce: u64, payload: Payload| {
            Transaction::sign(key, chain_id.clone(), Nonce(nonce), payload)
        };
        let next_nonce = || async {
            let account = call(
                addr,
                "gov_getAccount",
                Some(json!([author.public().to_string()])),
            )
            .await
            .unwrap();
            account["nonce"].as_u64().unwrap()
        };

        boundaries.invalid("not hex", submit("0xnothex".into()).await, &["not 0x-hex"]);
        boundaries.refused(
            "empty",
            submit("0x".into()).await,
            Some("invalid_payload"),
            &["does not decode"],
        );
        boundaries.refused(
            "garbage borsh",
            submit("0xdeadbeef".into()).await,
            Some("invalid_payload"),
            &["does not decode"],
        );

        let nonce = next_nonce().await;
        let tx = sign(
            &author,
            nonce,
            proposal("boundaries/first.md", "first".into()),
        );
        let mut trailing = tx.encode();
        trailing.push(0);
        boundaries.refused(
            "trailing byte",
            submit(hex_encode(&trailing)).await,
            Some("invalid_payload"),
            &["does not decode", "1 trailing bytes"],
        );
        let bytes = tx.encode();
        boundaries.refused(
            "truncated",
            submit(hex_encode(&bytes[..bytes.len() - 1])).await,
            Some("invalid_payload"),
            &["does not decode"],
        );
        let other = ChainId::new("otherchain").unwrap();
        let foreign = Transaction::sign(
            &author,
            other,
            Nonce(nonce),
            proposal("boundaries/other.md", String::new()),
        );
        boundaries.refused(
            "another chain",
            submit(hex(&foreign)).await,
            Some("wrong_chain"),
            &[
                "for chain otherchain",
                &format!("this node runs chain {chain_id}"),
            ],
        );
        let mut flipped = tx.encode();
        *flipped.last_mut().unwrap() ^= 1;
        let author_key = author.public().to_string();
        boundaries.refused(
            "flipped signature byte",
            submit(hex_encode(&flipped)).await,
            Some("bad_signature"),
            &["signature does not verify", &author_key],
        );
        let mut forged = sign(
            &voter,
            nonce,
            proposal("boundaries/forged.md", String::new()),
        );
        forged.signer = author.public();
        boundaries.refused(
            "signed by another key",
            submit(hex(&forged)).await,
            Some("bad_signature"),
            &["signature does not verify", &author_key],
        );
        let voter_key = voter.public().to_string();
        boundaries.refused(
            "a voter proposes",
            submit(hex(&sign(
                &voter,
                0,
                proposal("boundaries/voter.md", String::new()),
            )))
            .await,
            Some("unauthorized"),
            &[&voter_key, "does not hold the role", "proposer"],
        );
        boundaries.refused(
            "description over the draft cap",
            submit(hex(&sign(
                &author,
                nonce,
                proposal("boundaries/long.md", "x".repeat(20_000)),
            )))
            .await,
            Some("limit_exceeded"),
            &["description", "20000", "16384"],
        );
        let huge = sign(
            &author,
            nonce,
            proposal("boundaries/huge.md", "x".repeat(70_000)),
        );
        let size = huge.encode().len().to_string();
        boundaries.refused(
            "transaction over the size cap",
            submit(hex(&huge)).await,
            Some("limit_exceeded"),
            &[&size, "more than the limit of 65536 bytes per transaction"],
        );

        // A valid transaction is admitted, finalized, and refused when replayed.
        let answer = submit(hex(&tx)).await;
        boundaries.check(
            "a valid transaction",
            answer == Ok(json!(tx.hash().to_string())),
            format!("its hash expected, got {answer:?}"),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = call(
                addr,
                "chain_getTransaction",
                Some(json!([tx.hash().to_string()])),
            )
            .await
            .unwrap();
            if status["status"] == "finalized" {
                boundaries.check(
                    "the valid transaction succeeds",
                    status["receipt"]["outcome"]["result"] == "success",
                    format!("success expected: {status}"),
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not finalized within 60 s: {status}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        boundaries.refused(
            "replayed after finalization",
            submit(hex(&tx)).await,
            Some("bad_nonce"),
            &[&format!(
                "nonce {nonce} but the account's next nonce is {}",
                nonce + 1
            )],
        );

        // Nonces ahead of the account: held within the window, refused beyond it.
        let next = nonce + 1;
        let held = sign(
            &author,
            next + 3,
            proposal("boundaries/held.md", String::new()),
        );
        let answer = submit(hex(&held)).await;
        boundaries.check(
            "a nonce ahead within the window",
            answer.is_ok(),
            format!("admitted (held back) expected, got {answer:?}"),
        );
        boundaries.refused(
            "resubmitted while pooled",
            submit(hex(&held)).await,
            None,
            &[&held.hash().to_string(), "already in the mempool"],
        );
        boundaries.refused(
            "a second transaction for a pooled nonce",
            submit(hex(&sign(
                &author,
                next + 3,
                proposal("boundaries/again.md", String::new()),
            )))
            .await,
            Some("bad_nonce"),
            &[&format!("with nonce {}", next + 3), "not replaced"],
        );
        boundaries.refused(
            "a nonce beyond the window",
            submit(hex(&sign(
                &author,
                next + 64,
                proposal("boundaries/far.md", String::new()),
            )))
            .await,
            Some("bad_nonce"),
            &[
                &format!("nonce {} is too far ahead", next + 64),
                "max_per_account = 64",
            ],
        );
    }

    /// Connects to `port`, writes `bytes`, and returns how long the node took to close
    /// the connection, or `None` if it was still open after `limit`.
    async fn poke(port: u16, bytes: Vec<u8>, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let _ = stream.write_all(&bytes).await;
        let mut buf = vec![0u8; 4096];
        tokio::time::timeout(limit, async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .ok()
        .map(|()| start.elapsed())
    }

    /// A multistream-select message: varint length, then the text.
    fn multistream(text: &str) -> Vec<u8> {
        let mut out = vec![u8::try_from(text.len()).unwrap()];
        out.extend_from_slice(text.as_bytes());
        out
    }

    /// Raw TCP to a node's p2p port: garbage, a huge length prefix, a garbage Noise
    /// handshake. Each connection is closed by the node at once.
    async fn raw_p2p_boundary(boundaries: &mut Boundaries, port: u16) {
        let garbage: Vec<u8> = (0..64 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut huge_prefix = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
        huge_prefix.extend_from_slice(&[b'x'; 64]);
        let mut noise = multistream("/multistream/1.0.0\n");
        noise.extend(multistream("/noise\n"));
        noise.extend_from_slice(&[0xff, 0xff]);
        noise.extend_from_slice(&[0xa5; 0xffff]);
        for (boundary, bytes) in [
            ("p2p garbage", garbage),
            ("p2p huge length prefix", huge_prefix),
            ("p2p garbage Noise handshake", noise),
        ] {
            let closed = poke(port, bytes, Duration::from_secs(5)).await;
            boundaries.check(
                boundary,
                closed.is_some(),
                format!("connection closed by the node within 5 s: {closed:?}"),
            );
        }
    }

    /// A p2p peer in this test process with node 3's identity (which the chain spec
    /// allows), free to send messages up to 1 MiB over the nodes' gossip cap `cap`.
    /// Returns its handle and the task that drains its events.
    fn peer_as_node_3(net: &Net, cap: usize) -> (P2pHandle, tokio::task::JoinHandle<()>) {
        let (spec, _) = accord_node::init::read_spec(&net.home.join("spec.json")).unwrap();
        let key = accord_node::keyfile::read(&net.nodes[3].node.home.join("keys/p2p.key")).unwrap();
        let listen = "/ip4/127.0.0.1/tcp/0".parse().unwrap();
        let mut config = P2pConfig::from_chain_spec(&spec, key, listen).unwrap();
        config.max_message_bytes = cap + 1024 * 1024;
        let (peer, mut events) = accord_node::p2p::spawn(config).unwrap();
        let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
        (peer, drain)
    }

    /// Waits up to 60 s for `done`; panics naming `what` after that.
    async fn wait_for(done: impl Fn() -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "waited 60 s for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `peer` has the three running nodes in its mesh on both topics, so
    /// that what it publishes reaches each of them directly (refused messages are not
    /// forwarded).
    async fn wait_for_mesh(peer: &P2pHandle) {
        let deadline = Instant::now() + Duration::from_secs(60);
        for topic in Topic::ALL {
            while peer.mesh_peers(topic).await.len() < 3 {
                assert!(
                    Instant::now() < deadline,
                    "the peer's {topic:?} mesh: {:?}",
                    peer.mesh_peers(topic).await
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Publishes `data` on `topic`, waiting up to 30 s for subscribed peers.
    async fn publish(peer: &P2pHandle, topic: Topic, data: Vec<u8>) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match peer.publish(topic, data.clone()).await {
                Ok(_) => return Ok(()),
                Err(error) if Instant::now() < deadline && error.is_benign() => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => return Err(error.to_string()),
            }
        }
    }

    /// A peer with a valid identity (node 3's p2p key, node 3 stopped) gossips garbage
    /// and oversized messages on both topics, then reconnects and is heard again.
    /// Returns the peer, still connected, and the task that drains its events.
    async fn gossip_boundary(
        boundaries: &mut Boundaries,
        net: &Net,
    ) -> (P2pHandle, tokio::task::JoinHandle<()>) {
        let (spec, _) = accord_node::init::read_spec(&net.home.join("spec.json")).unwrap();
        // The nodes' gossip cap: the largest block and room for its proposal.
        let cap = usize::try_from(spec.consensus().max_block_bytes).unwrap() + 64 * 1024;
        let (peer, drain) = peer_as_node_3(net, cap);
        wait_for_mesh(&peer).await;
        let messages = [
            (
                "gossip garbage consensus message",
                Topic::Consensus,
                b"not a consensus message".to_vec(),
            ),
            (
                "gossip garbage transaction",
                Topic::Transactions,
                vec![0xde, 0xad, 0xbe, 0xef],
            ),
            (
                "gossip one byte over the cap",
                Topic::Transactions,
                vec![7; cap + 1],
            ),
            (
                "gossip far over the cap",
                Topic::Consensus,
                vec![9; cap + 512 * 1024],
            ),
        ];
        for (boundary, topic, data) in messages {
            let sent = publish(&peer, topic, data).await;
            boundaries.check(
                boundary,
                sent.is_ok(),
                format!("sent to the nodes: {sent:?}"),
            );
        }
        // The garbage transaction reached node 0 and was refused there (so not forwarded).
        let rejected_txs = || {
            net.metric(
                0,
                "accord_p2p_gossip_messages_total{topic=\"transactions\",verdict=\"rejected\"}",
            )
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while rejected_txs() < 1.0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        boundaries.check(
            "gossip garbage transaction is refused by the node",
            rejected_txs() >= 1.0,
            format!("node 0 counts {} rejected transactions", rejected_txs()),
        );
        // The driver names what it refused (at debug level, which the test nodes log).
        let refused = || net.log(0).matches("undecodable consensus message").count();
        let deadline = Instant::now() + Duration::from_secs(60);
        while refused() < 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        boundaries.check(
            "gossip garbage is refused and logged",
            refused() == 1,
            format!(
                "node 0 logs \"undecodable consensus message\" once: {}",
                refused()
            ),
        );
        // A frame over gossipsub's limit makes the node close that gossip stream, and
        // what the peer sends after it on that connection is lost. The same peer,
        // connected anew, is heard again.
        let key = peer.local_key().to_string();
        let events = |what: &str| {
            net.log(0)
                .lines()
                .filter(|l| l.contains(what) && l.contains(&key))
                .count()
        };
        let (ups, downs) = (events("peer up"), events("peer down"));
        peer.shutdown().await;
        drain.abort();
        wait_for(|| events("peer down") > downs, "node 0 to see the peer go").await;
        let (peer, drain) = peer_as_node_3(net, cap);
        wait_for(|| events("peer up") > ups, "node 0 to see the peer again").await;
        wait_for_mesh(&peer).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut sent = Vec::new();
        while refused() < 2 && Instant::now() < deadline {
            let data = format!("still not a consensus message ({})", sent.len()).into_bytes();
            sent.push(publish(&peer, Topic::Consensus, data).await);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        boundaries.check(
            "gossip from the same peer reconnected",
            refused() >= 2,
            format!(
                "node 0 logs a second undecodable message: {} (sent {sent:?})",
                refused()
            ),
        );
        (peer, drain)
    }

    /// Waits until nodes `nodes` have all finalized `more` heights past the highest
    /// height any of them reports now.
    async fn advances(net: &Net, nodes: std::ops::Range<usize>, more: u64) {
        let mut now = 0;
        for i in nodes.clone() {
            now = now.max(
                net.height(i)
                    .await
                    .unwrap_or_else(|| panic!("node {i} does not answer")),
            );
        }
        for i in nodes {
            net.wait_height(i, now + more, Duration::from_secs(120))
                .await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_boundary_refuses_bad_input_and_the_network_keeps_finalizing() {
        let started = Instant::now();
        let mut net = Net::new(4, 2);
        net.start_all();
        for i in 0..4 {
            net.wait_height(i, 2, Duration::from_secs(120)).await;
        }
        let status = net.client(0).status().await.unwrap();
        let chain_id = status.chain_id;
        let addr = net.nodes[0]
            .node
            .rpc
            .trim_start_matches("http://")
            .to_owned();
        let mut boundaries = Boundaries::default();
        // A connection to the p2p port that never says anything, open meanwhile.
        let port = net.p2p_port(0);
        let silent = tokio::spawn(poke(port, Vec::new(), Duration::from_secs(60)));

        rpc_boundary(&mut boundaries, &addr).await;
        transaction_boundary(&mut boundaries, &net, &chain_id).await;
        // After the RPC and transaction boundaries every node still answers and finalizes.
        advances(&net, 0..4, 3).await;

        raw_p2p_boundary(&mut boundaries, port).await;
        let closed = silent.await.unwrap();
        boundaries.check(
            "p2p silent connection",
            closed.is_some_and(|after| {
                after >= Duration::from_secs(9) && after < Duration::from_secs(15)
            }),
            format!("closed by the node after its 10 s handshake timeout: {closed:?}"),
        );
        assert!(net.stop(3).success(), "{}", tail(&net.log(3), 30));
        let (peer, drain) = gossip_boundary(&mut boundaries, &net).await;
        // The three others keep finalizing without validator 3 (a quorum of three), with
        // the misbehaving peer connected.
        advances(&net, 0..3, 3).await;
        peer.shutdown().await;
        drain.abort();

        for i in 0..4 {
            let log = net.log(i);
            boundaries.check(
                &format!("node {i} log"),
                !log.contains("panicked"),
                "no panic",
            );
        }
        eprintln!(
            "{} boundaries in {:?}",
            boundaries.checked,
            started.elapsed()
        );
        assert!(
            boundaries.bad.is_empty(),
            "{} of {} boundaries answered badly:\n  {}",
            boundaries.bad.len(),
            boundaries.checked,
            boundaries.bad.join("\n  ")
        );
    }
}
