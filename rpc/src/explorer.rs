//! The explorer: a page served at `/explorer` on the RPC port, its files compiled into
//! the binary (`rpc/explorer/`). It calls the API of the same origin (JSON-RPC over HTTP,
//! subscriptions over WebSocket) and verifies event proofs in the browser.
//!
//! ```text
//!   GET /explorer, /explorer/      index.html
//!   GET /explorer/{file}           the page's scripts, style sheet and icon; 404 otherwise
//! ```
//!
//! Every answer carries a restrictive `Content-Security-Policy` (same origin only; no
//! inline script or style), `X-Content-Type-Options: nosniff`, and an `ETag` with
//! `Cache-Control: no-cache`: browsers revalidate, and a node upgrade is seen at once.

use std::sync::OnceLock;

use accord_types::hash::{Domain, Hash};
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The policy of every explorer answer: scripts, styles, images and connections of the
/// same origin only (WebSocket included), no plugins, no framing, no forms.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self' ws: wss:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// A file of the page.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../explorer/index.html"),
    },
    Asset {
        name: "explorer.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../explorer/explorer.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../explorer/app.js"),
    },
    Asset {
        name: "rpc.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../explorer/rpc.js"),
    },
    Asset {
        name: "verify.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../explorer/verify.js"),
    },
    Asset {
        name: "blake3.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../explorer/blake3.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../explorer/favicon.svg"),
    },
];

/// The names of the files served under `/explorer/`.
pub fn assets() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|a| a.name)
}

/// Each file's entity tag: a hash of its content, computed once.
fn etag(index: usize) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let hash = Hash::digest(Domain::new("accord/explorer"), a.body.as_bytes());
                format!("\"{}\"", hash.to_string().get(2..18).unwrap_or_default())
            })
            .collect()
    })
    .get(index)
    .map_or("", String::as_str)
}

fn with_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.name == name) else {
        return with_headers(
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("no explorer file {name:?}\n"),
            )
                .into_response(),
        );
    };
    let asset = &ASSETS[index];
    let tag = etag(index);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let headers = [
        (header::CONTENT_TYPE, asset.content_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::ETAG, tag),
    ];
    let response = if fresh {
        (StatusCode::NOT_MODIFIED, headers).into_response()
    } else {
        (StatusCode::OK, headers, asset.body).into_response()
    };
    with_headers(response)
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

/// Whether a path is the explorer's.
pub(crate) fn is_explorer(path: &str) -> bool {
    path == "/explorer" || path.starts_with("/explorer/")
}

/// The explorer's routes, for the REST router.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/explorer", get(index))
        .route("/explorer/", get(index))
        .route("/explorer/{file}", get(file))
}
