//! The explorer's routes: the page and its files with their types and headers, caching
//! by entity tag, and 404 for what it does not have.

use accord_rpc::memory::{http_exchange, HttpAnswer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Fixture;

async fn get(fixture: &Fixture, path: &str) -> HttpAnswer {
    http_exchange(None, &fixture.addr.to_string(), "GET", path, None)
        .await
        .unwrap()
}

/// The status line and headers of a GET carrying `If-None-Match: tag`.
async fn revalidate(fixture: &Fixture, path: &str, tag: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(fixture.addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nIf-None-Match: {tag}\r\nConnection: close\r\n\r\n",
        fixture.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    String::from_utf8_lossy(&raw).into_owned()
}

fn assert_protected(answer: &HttpAnswer, what: &str) {
    let policy = answer
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy in {}", answer.head));
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self' ws: wss:",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{what}: {policy}");
    }
    assert!(!policy.contains("unsafe"), "{what}: {policy}");
    assert_eq!(
        answer.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
}

#[tokio::test]
async fn the_page_and_its_files_are_served_with_their_types_and_policy() {
    let fixture = Fixture::new().await;
    let index = get(&fixture, "/explorer").await;
    assert_eq!(index.status, 200, "{}", index.head);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert_protected(&index, "/explorer");
    assert_eq!(get(&fixture, "/explorer/").await.body, index.body);

    // The index names every file, which is served with its type.
    let types = [
        ("explorer.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("rpc.js", "text/javascript; charset=utf-8"),
        ("verify.js", "text/javascript; charset=utf-8"),
        ("blake3.js", "text/javascript; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ];
    let served: Vec<&str> = accord_rpc::explorer::assets()
        .filter(|name| *name != "index.html")
        .collect();
    assert_eq!(served, types.map(|(name, _)| name));
    for (name, content_type) in types {
        let path = format!("/explorer/{name}");
        assert!(index.body.contains(&path), "the index does not load {path}");
        let answer = get(&fixture, &path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.header("content-type"), Some(content_type), "{path}");
        assert!(!answer.body.is_empty(), "{path}");
        assert_protected(&answer, &path);
        // Unchanged since the tag: 304 without a body.
        let tag = answer.header("etag").expect("an ETag").to_owned();
        let again = revalidate(&fixture, &path, &tag).await;
        assert!(again.starts_with("HTTP/1.1 304"), "{path}: {again}");
        let stale = revalidate(&fixture, &path, "\"0000\"").await;
        assert!(stale.starts_with("HTTP/1.1 200"), "{path}: {stale}");
    }
    // The scripts are modules of the same origin: nothing loaded from elsewhere (the
    // SVG namespace is a name, not an address).
    for name in ["index.html", "app.js", "rpc.js", "verify.js"] {
        let body = get(
            &fixture,
            &format!("/explorer/{name}").replace("/index.html", ""),
        )
        .await
        .body
        .replace("'http://www.w3.org/2000/svg'", "");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{name} names another origin"
        );
        // No inline style either (`style-src 'self'`): classes and SVG attributes.
        assert!(
            !body.contains("style=") && !body.contains("'style'"),
            "{name} sets an inline style"
        );
    }
    // The navigation reaches every view the page routes.
    for view in ["#/", "#/proposals", "#/delivery"] {
        assert!(
            index.body.contains(&format!("href=\"{view}\"")),
            "the index has no link to {view}"
        );
    }

    // Unknown files are 404, with the same policy; other methods are refused.
    for path in [
        "/explorer/nothing.js",
        "/explorer/app.js.map",
        "/explorer/../Cargo.toml",
        "/explorer/a/b",
    ] {
        let answer = get(&fixture, path).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
    }
    assert_protected(&get(&fixture, "/explorer/nothing.js").await, "a 404");
    let post = http_exchange(
        None,
        &fixture.addr.to_string(),
        "POST",
        "/explorer",
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(post.status, 405, "{}", post.head);

    // JSON-RPC on the same port is untouched.
    let health = crate::raw(fixture.addr, "system_health", None)
        .await
        .unwrap();
    assert!(health["height"].is_u64(), "{health}");
}
