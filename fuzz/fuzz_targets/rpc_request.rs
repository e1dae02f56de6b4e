#![no_main]

//! Raw JSON-RPC requests (UTF-8 input, a single call or a batch) through every method
//! of accord-rpc over an in-memory chain (`src/rpc.rs`). Each call goes the way the
//! server sends it: jsonrpsee parses it, the strict middleware's shape check
//! (`methods::check_params`) refuses wrong parameter shapes, and the rest run through
//! `RpcModule::raw_json_request`. Whatever the request, nothing may panic and the
//! answer must be a JSON-RPC 2.0 response object to that request's id with exactly one
//! of `result` and `error`.

use std::sync::{Arc, Mutex, OnceLock};

use accord_fuzz::rpc::{self, MAX_REQUEST_BYTES};
use accord_rpc::backend::TxPool;
use accord_rpc::memory::MemoryNode;
use accord_rpc::methods::{check_params, find};
use accord_rpc::Limits;
use jsonrpsee::types::Request;
use jsonrpsee::RpcModule;
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::runtime::Runtime;

/// The chain and every method over it.
struct Server {
    node: Arc<MemoryNode>,
    module: RpcModule<()>,
}

impl Server {
    fn new() -> Self {
        let node = rpc::node();
        let module = rpc::module(&node);
        Self { node, module }
    }
}

/// Built once: a current-thread runtime (the blocking methods still run on its
/// blocking pool) and the server, rebuilt when an input left a transaction in the pool
/// so that every input meets the same chain.
struct Harness {
    runtime: Runtime,
    server: Mutex<Server>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| Harness {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime"),
        server: Mutex::new(Server::new()),
    })
}

/// The middleware's shape check on anything that looks like a call, even one jsonrpsee
/// would not parse: it must answer, not panic. `params: null` reaches the middleware as
/// no parameters.
fn check_shape(call: &Value) {
    let Some(method) = call.get("method").and_then(Value::as_str).and_then(find) else {
        return;
    };
    let params = match call.get("params") {
        None | Some(Value::Null) => None,
        Some(params) => Some(params.to_string()),
    };
    let _ = check_params(method, params.as_deref());
}

/// One call, as the server runs it; asserts the answer's shape.
fn call(runtime: &Runtime, module: &RpcModule<()>, text: &str) {
    // What jsonrpsee cannot parse as a call, it answers itself (parse error, invalid
    // request) without running accord code.
    let Ok(request) = serde_json::from_str::<Request<'_>>(text) else {
        return;
    };
    // The middleware answers a wrong shape before the method runs; unknown methods go
    // on to jsonrpsee (-32601).
    if let Some(method) = find(request.method_name()) {
        let params = request.params.as_ref().map(|p| p.get());
        if check_params(method, params).is_some() {
            return;
        }
    }
    let (answer, notifications) = runtime
        .block_on(module.raw_json_request(text, 1))
        .unwrap_or_else(|e| panic!("a request jsonrpsee parsed does not parse again: {e}"));
    // A subscription's notifications are not read: its task sees the receiver gone.
    drop(notifications);
    let answer = answer.get();
    let value: Value = serde_json::from_str(answer)
        .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {answer}"));
    let Value::Object(response) = &value else {
        panic!("the answer is not an object: {answer}");
    };
    assert_eq!(
        response.get("jsonrpc").and_then(Value::as_str),
        Some("2.0"),
        "no jsonrpc 2.0 in {answer}"
    );
    assert!(
        response.contains_key("result") != response.contains_key("error"),
        "not exactly one of result and error in {answer}"
    );
    let id = serde_json::to_value(&request.id).expect("an id serialises");
    assert_eq!(response.get("id"), Some(&id), "wrong id in {answer}");
    if let Some(error) = response.get("error") {
        assert!(
            error.get("code").is_some_and(Value::is_i64)
                && error.get("message").is_some_and(Value::is_string),
            "an error without an integer code and a message: {answer}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_REQUEST_BYTES {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(calls)) => calls.iter().for_each(check_shape),
        Ok(call) => check_shape(&call),
        Err(_) => return,
    }
    // A batch is its calls one by one (the middleware checks each entry); the server
    // answers an empty or over-long batch with one error and runs none of it.
    let calls: Vec<&str> = match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(batch) => {
            let max = Limits::default().max_batch_len as usize;
            if batch.is_empty() || batch.len() > max {
                return;
            }
            batch.iter().map(|c| c.get()).collect()
        }
        Err(_) => vec![text],
    };
    let harness = harness();
    let mut server = harness.server.lock().unwrap_or_else(|e| e.into_inner());
    for text in calls {
        call(&harness.runtime, &server.module, text);
    }
    // Let the tasks of subscriptions whose receivers are gone see it and end.
    harness.runtime.block_on(async {
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    });
    // An accepted gov_submitTransaction leaves its transaction pending: start over.
    if server.node.size().0 > 0 {
        *server = Server::new();
    }
});
