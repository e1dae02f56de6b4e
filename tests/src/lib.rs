//! The harness of accord's multi-process and end-to-end tests: real `accord` (and
//! `accord-agent`) binaries as child processes, RocksDB on disk, libp2p and JSON-RPC on
//! loopback.
//!
//! - [`net::Net`]: a local validator network written by `accord localnet`'s code, one
//!   `accord run` process per validator, started, stopped, killed and read one by one.
//! - [`ports`]: blocks of loopback ports claimed across concurrent test processes.
//! - [`agent::AgentProc`]: an `accord-agent` process of one region, with its scripts.
//! - [`binary`]: the workspace's binaries of the same build.
//!
//! The tests themselves are in `tests/it/`; their multi-process modules are named
//! `slow` and run one at a time (nextest group `multi-process`).

pub mod agent;
pub mod net;
pub mod ports;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A binary of the workspace from the same build as the running test:
/// `target/<profile>/<name>`, beside the `deps/` directory that holds the test.
///
/// # Panics
/// When it is not built, saying how to build it.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (`cargo build --workspace --bins`, or run \
         the tests with `cargo nextest run --workspace`)",
        path.display()
    );
    path
}

/// The `accord` binary, ready for arguments.
pub fn accord() -> Command {
    Command::new(binary("accord"))
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
