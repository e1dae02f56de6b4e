//! Every method's parameters, by name and position: the server refuses a call with
//! more parameters than the method takes, fewer than it requires, or a named
//! parameter it does not have (the generated code alone would ignore them), and the
//! OpenRPC document is built from the same table. A test holds the table equal to the
//! methods the traits register.

use serde_json::{json, Value};

/// One parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Its name (the trait's argument name).
    pub name: &'static str,
    /// Whether it may be left out.
    pub optional: bool,
    /// What it is, in words.
    pub about: &'static str,
}

/// One method.
#[derive(Debug, Clone, Copy)]
pub struct Method {
    /// The full name.
    pub name: &'static str,
    /// Parameters in order.
    pub params: &'static [Param],
    /// What it does.
    pub summary: &'static str,
}

const fn req(name: &'static str, about: &'static str) -> Param {
    Param {
        name,
        optional: false,
        about,
    }
}

const fn opt(name: &'static str, about: &'static str) -> Param {
    Param {
        name,
        optional: true,
        about,
    }
}

const BLOCK_ID: &str = "a height (integer) or a block hash (0x and 64 hex digits)";

/// Every method the server registers.
pub const METHODS: &[Method] = &[
    Method {
        name: "system_health",
        params: &[],
        summary: "Whether the node is healthy: not syncing, with peers, not halted.",
    },
    Method {
        name: "system_version",
        params: &[],
        summary: "Software version and the chain served.",
    },
    Method {
        name: "system_peers",
        params: &[],
        summary: "Connected peers with validator name, region and reported height.",
    },
    Method {
        name: "system_syncState",
        params: &[],
        summary: "Whether the node is catching up, its head and the best peer height.",
    },
    Method {
        name: "rpc_methods",
        params: &[],
        summary: "The names of every method, sorted.",
    },
    Method {
        name: "rpc.discover",
        params: &[],
        summary: "The OpenRPC document of this API.",
    },
    Method {
        name: "chain_getStatus",
        params: &[],
        summary: "Chain, head, round, peers, syncing.",
    },
    Method {
        name: "chain_getBlock",
        params: &[req("id", BLOCK_ID)],
        summary: "A block by height or hash; null when there is none.",
    },
    Method {
        name: "chain_getBlockRange",
        params: &[
            req("from", "first height"),
            req("to", "last height (at most 100 blocks)"),
        ],
        summary: "Blocks from..=to, stopping at the head.",
    },
    Method {
        name: "chain_getHeader",
        params: &[req("id", BLOCK_ID)],
        summary: "A header by height or hash.",
    },
    Method {
        name: "chain_getCertificate",
        params: &[req("id", BLOCK_ID)],
        summary: "The commit certificate of a block.",
    },
    Method {
        name: "chain_getReceipts",
        params: &[req("id", BLOCK_ID)],
        summary: "Every receipt of a block.",
    },
    Method {
        name: "chain_getTransaction",
        params: &[req("hash", "a transaction hash")],
        summary: "A transaction: finalized with its receipt, pending, dropped or unknown.",
    },
    Method {
        name: "chain_getValidators",
        params: &[opt("height", "the height decided (default: the next)")],
        summary: "The validator set deciding a height, by region.",
    },
    Method {
        name: "chain_subscribeFinalizedBlocks",
        params: &[],
        summary: "Every block finalized from now on.",
    },
    Method {
        name: "chain_unsubscribeFinalizedBlocks",
        params: &[req("subscription", "a subscription id")],
        summary: "Ends a finalized-block subscription.",
    },
    Method {
        name: "gov_submitTransaction",
        params: &[req("transaction", "0x-hex borsh of a signed transaction")],
        summary: "Submits a signed transaction; returns its hash.",
    },
    Method {
        name: "gov_getAccount",
        params: &[req("key", "a 0x-hex public key")],
        summary: "An account's nonces and roles.",
    },
    Method {
        name: "gov_getProposal",
        params: &[req("id", "a proposal id")],
        summary: "A proposal with draft, tallies and executions.",
    },
    Method {
        name: "gov_listProposals",
        params: &[
            opt("filter", "{kind, status, region, proposer}"),
            opt("after", "a proposal id"),
            opt("limit", "1 to 1000, default 100"),
        ],
        summary: "Proposals by id, filtered, paginated.",
    },
    Method {
        name: "gov_getTally",
        params: &[req("id", "a proposal id")],
        summary: "Per-region tally against quorum and thresholds.",
    },
    Method {
        name: "gov_getParams",
        params: &[],
        summary: "Governance parameters in force.",
    },
    Method {
        name: "gov_getEvents",
        params: &[
            opt("filter", "{types, kinds, regions, proposals}"),
            opt("after", "an event cursor height:receipt:event"),
            opt("limit", "1 to 1000, default 100"),
        ],
        summary: "Events after a cursor, filtered.",
    },
    Method {
        name: "gov_getEventProof",
        params: &[req("cursor", "an event cursor height:receipt:event")],
        summary: "An event with its receipt, Merkle path, header and certificate.",
    },
    Method {
        name: "gov_getStateProof",
        params: &[req(
            "target",
            "{record: proposal|account|nonce|params|validators, …}",
        )],
        summary: "A state record with its path to the head's state root.",
    },
    Method {
        name: "gov_getDeliveryMetrics",
        params: &[
            opt(
                "filter",
                "{region, kind, from, to}: from and to are UTC days YYYY-MM-DD, both included, at most 366 days (default: the 30 days ending on the head block's day)",
            ),
            opt("bucket", "day | week | total (default total)"),
        ],
        summary: "Delivery (DORA) metrics by region and kind: deployments, frequency, lead time, change failure rate, time to restore.",
    },
    Method {
        name: "gov_subscribeEvents",
        params: &[
            opt("filter", "{types, kinds, regions, proposals}"),
            opt("after", "an event cursor to resume behind"),
        ],
        summary: "Governance events: stored ones after the cursor, then live.",
    },
    Method {
        name: "gov_unsubscribeEvents",
        params: &[req("subscription", "a subscription id")],
        summary: "Ends an event subscription.",
    },
];

/// The method named `name`.
pub fn find(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

/// Checks the shape of a call's parameters against its method: by position, no more
/// than it takes and no fewer than it requires; by name, only names it has and every
/// required one. `None` when the shape is right (the values are checked by the method).
pub fn check_params(method: &Method, params: Option<&str>) -> Option<String> {
    let value: Value = match params {
        None => Value::Array(Vec::new()),
        Some(text) => match serde_json::from_str(text) {
            Ok(value) => value,
            Err(_) => return None,
        },
    };
    let required = method.params.iter().filter(|p| !p.optional).count();
    let names = || {
        method
            .params
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match value {
        Value::Array(items) => {
            if items.len() > method.params.len() {
                return Some(format!(
                    "{} takes {} parameter(s) ({}), got {}",
                    method.name,
                    method.params.len(),
                    names(),
                    items.len()
                ));
            }
            if items.len() < required {
                let missing: Vec<&str> = method
                    .params
                    .iter()
                    .skip(items.len())
                    .filter(|p| !p.optional)
                    .map(|p| p.name)
                    .collect();
                return Some(format!(
                    "{}: missing parameter {} ({})",
                    method.name,
                    missing.join(", "),
                    method
                        .params
                        .iter()
                        .find(|p| !p.optional && missing.contains(&p.name))
                        .map_or("", |p| p.about)
                ));
            }
            None
        }
        Value::Object(map) => {
            for key in map.keys() {
                if !method.params.iter().any(|p| p.name == key) {
                    return Some(format!(
                        "{} has no parameter {key:?}; its parameters are: {}",
                        method.name,
                        if method.params.is_empty() {
                            "none".to_owned()
                        } else {
                            names()
                        }
                    ));
                }
            }
            for param in method.params.iter().filter(|p| !p.optional) {
                if !map.contains_key(param.name) {
                    return Some(format!(
                        "{}: missing parameter {} ({})",
                        method.name, param.name, param.about
                    ));
                }
            }
            None
        }
        Value::Null if required == 0 => None,
        _ => Some(format!(
            "{}: parameters are an array (by position) or an object (by name)",
            method.name
        )),
    }
}

/// The OpenRPC document (<https://spec.open-rpc.org>) of the API.
pub fn openrpc() -> Value {
    let methods: Vec<Value> = METHODS
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "summary": m.summary,
                "paramStructure": "either",
                "params": m.params.iter().map(|p| json!({
                    "name": p.name,
                    "required": !p.optional,
                    "description": p.about,
                    "schema": {},
                })).collect::<Vec<_>>(),
                "result": { "name": "result", "schema": {} },
            })
        })
        .collect();
    json!({
        "openrpc": "1.2.6",
        "info": {
            "title": "accord JSON-RPC",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The API of an accord node: chain_*, gov_*, system_*. docs/RPC.md has examples.",
        },
        "methods": methods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, params: Option<&str>) -> Option<String> {
        check_params(find(name).unwrap(), params)
    }

    #[test]
    fn shapes_are_checked_by_position_and_by_name() {
        assert_eq!(check("chain_getBlock", Some("[1]")), None);
        assert_eq!(check("chain_getBlock", Some(r#"{"id": 1}"#)), None);
        assert_eq!(check("gov_listProposals", None), None);
        assert_eq!(check("gov_listProposals", Some("[null, 3]")), None);
        assert_eq!(check("system_health", Some("[]")), None);
        for (name, params, words) in [
            (
                "chain_getBlock",
                Some("[1, 2]"),
                "takes 1 parameter(s) (id), got 2",
            ),
            ("chain_getBlock", None, "missing parameter id"),
            ("chain_getBlock", Some("[]"), "missing parameter id"),
            (
                "chain_getBlock",
                Some(r#"{"height": 1}"#),
                "no parameter \"height\"",
            ),
            ("chain_getBlock", Some("{}"), "missing parameter id"),
            ("system_health", Some("[1]"), "takes 0 parameter(s)"),
            (
                "system_health",
                Some(r#"{"x": 1}"#),
                "its parameters are: none",
            ),
            ("chain_getBlockRange", Some("[1]"), "missing parameter to"),
            (
                "chain_getBlock",
                Some("7"),
                "an array (by position) or an object",
            ),
        ] {
            let message = check(name, params).unwrap_or_default();
            assert!(message.contains(words), "{name} {params:?}: {message}");
        }
    }
}
