//! The harness of accord's multi-process and end-to-end tests: real `accord` (and
//! `accord-agent`) binaries as child processes, RocksDB on disk, libp2p and JSON-RPC on
//! loopback.
//!
//! - [`net::Net`]: a local validator network written by `accord localnet`'s code, one
//!   `accord run` process per validator, started, stopped, killed and read one by one.
//! - [`localnet::Localnet`]: `accord localnet` itself as a child process.
//! - [`ports`]: blocks of loopback ports claimed across concurrent test processes.
//! - [`agent::AgentProc`]: an `accord-agent` process of one region, with its scripts.
//! - [`byzantine::Byzantine`]: a validator in the test process that says what the test
//!   tells it on the nodes' own protocol.
//! - [`binary`]: the workspace's binaries of the same build.
//!
//! The tests themselves are in `tests/it/`; their multi-process modules are named
//! `slow` and run one at a time (nextest group `multi-process`).

pub mod agent;
pub mod byzantine;
pub mod localnet;
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

/// An external tool the deploy checks or the browser test run: from the tools' virtual
/// environment that `scripts/install-deps.sh` fills (`ACCORD_TOOLS_VENV`, by default
/// `tools-venv` in the target directory), else from `PATH`.
///
/// # Panics
/// When it is in neither, saying how to install it.
pub fn tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("ACCORD_TOOLS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("tools-venv"));
    let in_venv = venv.join("bin").join(name);
    if in_venv.exists() {
        return in_venv;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "{name} is not installed (neither in {} nor on PATH): run scripts/install-deps.sh",
            venv.display()
        )
    })
}

/// The target directory of the running test's build (`target/<profile>/deps/<test>`
/// three levels up).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    exe.ancestors()
        .nth(3)
        .expect("the test runs from target/<profile>/deps")
        .to_path_buf()
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

/// The body of `GET path` from `addr` over plain HTTP/1.1.
pub fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default())
}

/// The value of one series (name and labels, as Prometheus prints them) of the
/// `/metrics` served at `addr`; 0 when it is absent or the scrape fails.
pub fn metric(addr: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    http_get(addr, "/metrics")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}
