//! Bad input at the boundaries of one `accord` process gets a clear error: the command line
//! and the configuration. The boundaries of a running network (JSON-RPC, REST, admission,
//! p2p) are tested in `tests/tests/it/boundaries.rs`.

use std::fs;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::{accord, run, stderr, stdout};

/// The README's example draft.
const EXAMPLE_DRAFT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../docs/examples/draft-documentation.json"
);

/// A TCP port of 127.0.0.1 where nothing listens (it was free a moment ago).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `accord args…` in `dir`, killed (and the test failed) if it runs longer than `limit`.
fn run_within(dir: &Path, args: &[&str], limit: Duration) -> Output {
    let child = accord()
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    match output.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            let out = output.recv().unwrap().unwrap();
            panic!(
                "accord {args:?} still ran after {limit:?}:\n{}",
                stderr(&out)
            );
        }
    }
}

/// Asserts a failed run whose standard error names every one of `words`.
#[track_caller]
fn fails_saying(out: &Output, words: &[&str]) {
    let err = stderr(out);
    assert!(!out.status.success(), "succeeded:\n{}{err}", stdout(out));
    for word in words {
        assert!(err.contains(word), "{word:?} not in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// `accord tx propose --draft DRAFT --key author.key --rpc RPC` in `dir`.
fn propose(dir: &Path, draft: &str, rpc: &str) -> Output {
    let args = [
        "tx",
        "propose",
        "--draft",
        draft,
        "--key",
        "author.key",
        "--rpc",
        rpc,
    ];
    run_within(dir, &args, Duration::from_secs(30))
}

#[test]
fn tx_propose_refuses_a_draft_that_is_not_json_naming_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["key", "generate", "--out", "author.key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The draft is read before the node is asked anything: no node is needed.
    let rpc = format!("http://127.0.0.1:{}", closed_port());
    let draft = dir.path().join("draft.json");

    fs::write(&draft, "{\"title\": \"half\",\n \"regions\": [\n").unwrap();
    let out = propose(dir.path(), "draft.json", &rpc);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    fails_saying(&out, &["draft draft.json is not JSON", "line 3"]);

    // JSON, but not a draft: the field at fault is named.
    let example: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(EXAMPLE_DRAFT).unwrap()).unwrap();
    let mut no_description = example.clone();
    no_description
        .as_object_mut()
        .unwrap()
        .remove("description");
    fs::write(&draft, no_description.to_string()).unwrap();
    fails_saying(
        &propose(dir.path(), "draft.json", &rpc),
        &[
            "draft draft.json is not a proposal draft",
            "missing field `description`",
        ],
    );
    let mut bad_regions = example.clone();
    bad_regions["regions"] = serde_json::json!("eu");
    fs::write(&draft, bad_regions.to_string()).unwrap();
    fails_saying(
        &propose(dir.path(), "draft.json", &rpc),
        &["draft draft.json is not a proposal draft", "invalid type"],
    );
    // Without a body the message says the body is missing.
    let mut no_body = example;
    no_body.as_object_mut().unwrap().remove("body");
    fs::write(&draft, no_body.to_string()).unwrap();
    fails_saying(
        &propose(dir.path(), "draft.json", &rpc),
        &["draft draft.json has no \"body\""],
    );

    fails_saying(
        &propose(dir.path(), "nowhere.json", &rpc),
        &["cannot read draft nowhere.json"],
    );
}

#[test]
fn tx_names_the_rpc_address_it_cannot_reach() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["key", "generate", "--out", "author.key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rpc = format!("http://127.0.0.1:{}", closed_port());
    fails_saying(
        &propose(dir.path(), EXAMPLE_DRAFT, &rpc),
        &[&rpc, "onnection refused"],
    );
    fails_saying(
        &propose(dir.path(), EXAMPLE_DRAFT, "127.0.0.1 port 9944"),
        &["127.0.0.1 port 9944", "not a usable RPC URL"],
    );
}

/// `accord run` of `home` with `extra` flags; it must stop by itself.
fn run_home(home: &Path, extra: &[&str]) -> Output {
    let home = home.to_str().unwrap();
    let mut args = vec!["run", "--home", home];
    args.extend_from_slice(extra);
    run_within(Path::new("/"), &args, Duration::from_secs(30))
}

#[test]
fn run_refuses_configs_with_a_wrong_type_an_unknown_section_or_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let home = crate::init::us1_home(dir.path());
    let path = home.join("config.toml");
    let good = fs::read_to_string(&path).unwrap();

    // A string where a number belongs.
    fs::write(&path, good.replace("max_txs = 10000", "max_txs = \"many\"")).unwrap();
    fails_saying(
        &run_home(&home, &[]),
        &["config.toml", "max_txs", "invalid type: string \"many\""],
    );

    // A section the node does not know.
    fs::write(&path, format!("{good}\n[consensus]\ntimeout_ms = 5\n")).unwrap();
    fails_saying(
        &run_home(&home, &[]),
        &["config.toml", "unknown field `consensus`"],
    );

    // A number out of its type's range.
    fs::write(
        &path,
        good.replace(
            "max_request_bytes = 4194304",
            "max_request_bytes = 5000000000",
        ),
    )
    .unwrap();
    fails_saying(
        &run_home(&home, &[]),
        &[
            "config.toml",
            "max_request_bytes",
            "invalid value: integer `5000000000`, expected u32",
        ],
    );

    // A missing key file is named.
    fs::write(&path, &good).unwrap();
    fs::rename(home.join("keys/p2p.key"), home.join("keys/p2p.key.bak")).unwrap();
    fails_saying(
        &run_home(&home, &[]),
        &["cannot open key file", "keys/p2p.key"],
    );
    fs::rename(home.join("keys/p2p.key.bak"), home.join("keys/p2p.key")).unwrap();

    // A missing chain spec is named.
    fs::write(
        &path,
        good.replace("chain_spec = \"spec.json\"", "chain_spec = \"gone.json\""),
    )
    .unwrap();
    fails_saying(
        &run_home(&home, &[]),
        &["cannot read chain spec", "gone.json"],
    );
    fs::write(&path, &good).unwrap();
    assert_eq!(
        fs::read_dir(home.join("data")).unwrap().count(),
        0,
        "a refused configuration wrote into the data directory"
    );
}

#[test]
fn run_names_a_port_already_taken_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let home = crate::init::us1_home(dir.path());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();

    let rpc = format!("127.0.0.1:{port}");
    let out = run_home(
        &home,
        &["--rpc-listen", &rpc, "--p2p-listen", "/ip4/127.0.0.1/tcp/0"],
    );
    fails_saying(&out, &[&format!("cannot listen for RPC on {rpc}")]);

    let p2p = format!("/ip4/127.0.0.1/tcp/{port}");
    let out = run_home(
        &home,
        &["--p2p-listen", &p2p, "--rpc-listen", "127.0.0.1:0"],
    );
    fails_saying(
        &out,
        &[
            &format!("cannot listen on {p2p}"),
            "Address already in use",
            "the port is free",
        ],
    );
    drop(taken);
}
