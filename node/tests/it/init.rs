//! `accord init` and the configuration errors of `accord run`.

use std::fs;

use crate::{accord, mode, run, stderr, stdout};

/// Writes the local preset's spec and keys into `dir`.
pub(crate) fn local_spec(dir: &std::path::Path) {
    let out = run(
        dir,
        &[
            "spec",
            "build",
            "--preset",
            "local",
            "--out",
            "spec.json",
            "--keys-out",
            "keys",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn init_writes_a_home_with_private_keys() {
    let dir = tempfile::tempdir().unwrap();
    local_spec(dir.path());
    let out = run(
        dir.path(),
        &[
            "init",
            "--spec",
            "spec.json",
            "--validator",
            "eu-2",
            "--home",
            "node",
            "--keys",
            "keys",
            "--rpc-listen",
            "127.0.0.1:19999",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("accord run --home node"),
        "{}",
        stdout(&out)
    );
    let home = dir.path().join("node");
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&home.join("keys/consensus.key")), 0o600);
    assert_eq!(mode(&home.join("keys/p2p.key")), 0o600);
    assert_eq!(
        fs::read(home.join("spec.json")).unwrap(),
        fs::read(dir.path().join("spec.json")).unwrap()
    );
    let config = fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(config.contains("validator = \"eu-2\""), "{config}");
    assert!(config.contains("127.0.0.1:19999"), "{config}");
    assert!(config.contains("/ip4/127.0.0.1/tcp/30302"), "{config}");

    // A second init into the same home is refused and changes nothing.
    let again = run(
        dir.path(),
        &[
            "init",
            "--spec",
            "spec.json",
            "--validator",
            "eu-1",
            "--home",
            "node",
            "--keys",
            "keys",
        ],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("never overwrites"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        fs::read_to_string(home.join("config.toml")).unwrap(),
        config
    );
}

#[test]
fn init_refuses_unknown_validators_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    local_spec(dir.path());
    let out = run(
        dir.path(),
        &[
            "init",
            "--spec",
            "spec.json",
            "--validator",
            "eu-9",
            "--home",
            "a",
            "--keys",
            "keys",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("eu-1, eu-2, us-1, us-2"),
        "{}",
        stderr(&out)
    );

    // eu-1's consensus key offered for eu-2.
    let out = run(
        dir.path(),
        &[
            "init",
            "--spec",
            "spec.json",
            "--validator",
            "eu-2",
            "--home",
            "b",
            "--consensus-key",
            "keys/eu-1.key",
            "--p2p-key",
            "keys/eu-2.p2p.key",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("as the consensus key of eu-2"),
        "{}",
        stderr(&out)
    );
    assert!(
        !dir.path().join("b").exists(),
        "nothing is written on refusal"
    );
}

#[test]
fn run_refuses_a_config_with_a_typo() {
    let dir = tempfile::tempdir().unwrap();
    local_spec(dir.path());
    let out = run(
        dir.path(),
        &[
            "init",
            "--spec",
            "spec.json",
            "--validator",
            "us-1",
            "--home",
            "node",
            "--keys",
            "keys",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let path = dir.path().join("node/config.toml");
    let config = fs::read_to_string(&path).unwrap();
    fs::write(&path, config.replace("max_txs", "max_tx")).unwrap();
    let out = accord()
        .args(["run", "--home"])
        .arg(dir.path().join("node"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("config.toml") && err.contains("max_tx"),
        "{err}"
    );
}
