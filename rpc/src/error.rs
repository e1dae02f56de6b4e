//! Error codes of the API and the helpers that build error objects.
//!
//! Codes of our own sit in -32020…-32029, clear of those jsonrpsee uses (-32000…-32011).
//!
//! | code | meaning |
//! |---|---|
//! | -32700 | the request is not JSON |
//! | -32600 | not a JSON-RPC request (or a batch over the limit) |
//! | -32601 | no such method |
//! | -32602 | [`INVALID_PARAMS`]: a parameter is missing, extra, of the wrong type or out of range |
//! | -32000 | [`NODE_ERROR`]: the node failed (its database); retry |
//! | -32020 | [`TX_REFUSED`]: the transaction was refused; `data.code` says why |
//! | -32021 | [`NOT_FOUND`]: what the parameters name does not exist (a cursor, an event, a height's set) |
//! | -32022 | [`LAGGED`]: a subscriber did not keep up; `data.cursor` is the last it was sent |
//! | -32023 | [`RATE_LIMITED`]: over the per-address request rate; `data.retry_after_ms` says when to retry |

use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use serde_json::json;

use crate::backend::BackendError;

/// Invalid method parameters.
pub const INVALID_PARAMS: i32 = -32602;
/// The node failed (its database); the request may be retried.
pub const NODE_ERROR: i32 = -32000;
/// The transaction was refused; `data.code` says why.
pub const TX_REFUSED: i32 = -32020;
/// What the parameters name does not exist.
pub const NOT_FOUND: i32 = -32021;
/// A subscription closed because its subscriber did not keep up.
pub const LAGGED: i32 = -32022;
/// The client sent more requests than its address may; `data.retry_after_ms` says
/// when to retry.
pub const RATE_LIMITED: i32 = -32023;

/// An invalid-parameters error saying what was wrong.
pub fn invalid(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(INVALID_PARAMS, message, None::<()>)
}

/// A not-found error.
pub fn not_found(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(NOT_FOUND, message, None::<()>)
}

/// A node error.
pub fn node_error(error: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObject::owned(NODE_ERROR, format!("node error: {error}"), None::<()>)
}

/// A refused transaction, with the code a client acts on.
pub fn refused(code: Option<&str>, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(TX_REFUSED, message, Some(json!({ "code": code })))
}

impl From<BackendError> for ErrorObjectOwned {
    fn from(error: BackendError) -> Self {
        node_error(error)
    }
}
