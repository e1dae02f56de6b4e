//! Integration tests that run the real `accord` binary, one process at a time, in
//! temporary directories. Tests of running networks are in the `accord-tests` crate
//! (`tests/`).

mod boundaries;
mod init;
mod key;
mod spec;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub fn accord() -> Command {
    Command::new(env!("CARGO_BIN_EXE_accord"))
}

/// Runs `accord args…` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    accord().current_dir(dir).args(args).output().unwrap()
}

/// Runs `accord args…` in `dir` with `input` on standard input.
pub fn run_with_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = accord()
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Mode bits of a file.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn version_is_printed() {
    let out = accord().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        stdout(&out).trim(),
        format!("accord {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_with_two() {
    let out = accord().args(["spec", "frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = accord()
        .args(["spec", "build", "--preset", "mainnet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("dev, local"), "{}", stderr(&out));
}
