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

/// A node home for validator `us-1` of the local preset in `dir/node`.
pub(crate) fn us1_home(dir: &std::path::Path) -> std::path::PathBuf {
    local_spec(dir);
    let out = run(
        dir,
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
    dir.join("node")
}

#[test]
fn run_refuses_a_config_with_a_typo() {
    let dir = tempfile::tempdir().unwrap();
    let path = us1_home(dir.path()).join("config.toml");
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

fn join(dir: &std::path::Path, name: &str, home: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "init",
        "--spec",
        "spec.json",
        "--validator",
        name,
        "--home",
        home,
        "--join",
        "--region",
        "eu",
        "--p2p-listen",
        "/ip4/127.0.0.1/tcp/30399",
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

#[test]
fn init_join_writes_a_governance_home_and_the_validator_to_propose() {
    let dir = tempfile::tempdir().unwrap();
    local_spec(dir.path());
    let out = join(dir.path(), "eu-3", "n", &["--power", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("n/validator.json"),
        "{}",
        stdout(&out)
    );
    let home = dir.path().join("n");
    assert_eq!(mode(&home.join("keys/consensus.key")), 0o600);
    let config = fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(config.contains("joined_by_governance = true"), "{config}");
    let validator: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(home.join("validator.json")).unwrap()).unwrap();
    assert_eq!(validator["name"], "eu-3");
    assert_eq!(validator["region"], "eu");
    assert_eq!(validator["power"], 7);
    assert_eq!(validator["listen_addr"], "/ip4/127.0.0.1/tcp/30399");
    let shown = run(dir.path(), &["key", "show", "n/keys/consensus.key"]);
    assert_eq!(stdout(&shown).trim(), validator["consensus_key"]);

    // A validator of the spec does not join, and a joiner needs its address.
    let out = join(dir.path(), "eu-1", "m", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("in the chain spec already"),
        "{}",
        stderr(&out)
    );
    let out = run(
        dir.path(),
        &[
            "init",
            "--spec",
            "spec.json",
            "--validator",
            "eu-3",
            "--home",
            "m",
            "--join",
            "--region",
            "eu",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--p2p-listen"), "{}", stderr(&out));
    // Another validator's keys are refused.
    let out = join(dir.path(), "eu-3", "m", &["--keys", "keys"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    fs::copy(
        dir.path().join("keys/eu-1.key"),
        dir.path().join("keys/eu-3.key"),
    )
    .unwrap();
    fs::copy(
        dir.path().join("keys/eu-1.p2p.key"),
        dir.path().join("keys/eu-3.p2p.key"),
    )
    .unwrap();
    let out = join(dir.path(), "eu-3", "m", &["--keys", "keys"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("validator eu-1 of the chain spec holds these keys"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("m").exists());

    // `run` keeps the flag and the spec consistent.
    let mut edited = config.replace("joined_by_governance = true\n", "");
    fs::write(home.join("config.toml"), &edited).unwrap();
    let out = accord()
        .args(["run", "--home"])
        .arg(&home)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("joined_by_governance = true"),
        "{}",
        stderr(&out)
    );
    edited = config.replace("validator = \"eu-3\"", "validator = \"eu-1\"");
    fs::write(home.join("config.toml"), &edited).unwrap();
    let out = accord()
        .args(["run", "--home"])
        .arg(&home)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is in the chain spec"),
        "{}",
        stderr(&out)
    );
}
