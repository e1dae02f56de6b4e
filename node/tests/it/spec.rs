//! `accord spec build` and `accord spec validate`.

use std::fs;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{accord, mode, run, run_with_stdin, stderr, stdout};

fn build(preset: &str) -> String {
    let out = accord()
        .args(["spec", "build", "--preset", preset])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn build_local_piped_into_validate_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    // A real pipe between two processes: build's stdout is validate's stdin.
    let mut build = accord()
        .args(["spec", "build", "--preset", "local"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let validate = Command::new(env!("CARGO_BIN_EXE_accord"))
        .current_dir(dir.path())
        .args(["spec", "validate", "-"])
        .stdin(build.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(build.wait().unwrap().success());
    assert!(validate.status.success(), "{}", stderr(&validate));
    let line = stdout(&validate);
    assert!(
        line.starts_with("ok: chain accord-local, genesis 0x"),
        "{line}"
    );
    assert!(
        line.trim_end()
            .ends_with(", 4 validators in 2 regions, 8 accounts"),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1);
}

#[test]
fn build_dev_to_a_file_validates() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["spec", "build", "--preset", "dev", "--out", "dev.json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let out = run(dir.path(), &["spec", "validate", "dev.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ok: chain accord-dev,"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn three_planted_mistakes_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec: Value = serde_json::from_str(&build("local")).unwrap();
    spec["validators"][2]["power"] = 0.into();
    spec["validators"][1]["region"] = "asia".into();
    spec["accounts"][3]["key"] = "0x1234".into();
    fs::write(dir.path().join("bad.json"), spec.to_string()).unwrap();

    let out = run(dir.path(), &["spec", "validate", "bad.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    let problems: Vec<&str> = err.lines().filter(|l| l.starts_with("$.")).collect();
    assert_eq!(problems.len(), 3, "{err}");
    for path in [
        "$.validators[2].power: ",
        "$.validators[1].region: ",
        "$.accounts[3].key: ",
    ] {
        assert!(
            problems.iter().any(|l| l.starts_with(path)),
            "{path} missing from {err}"
        );
    }
    assert!(err.contains("3 problems in chain spec bad.json"), "{err}");
}

#[test]
fn a_typo_in_a_field_name_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let typo = build("local").replacen("\"listen_addr\"", "\"listen_adr\"", 1);
    let out = run_with_stdin(dir.path(), &["spec", "validate", "-"], typo.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("$.validators[0].listen_adr"), "{err}");
    assert!(err.contains("unknown field `listen_adr`"), "{err}");
}

#[test]
fn bad_json_gives_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "{\n  \"chain_id\": \"accord-local\",\n  \"regions\": [\"eu\",]\n}\n";
    fs::write(dir.path().join("broken.json"), broken).unwrap();
    let out = run(dir.path(), &["spec", "validate", "broken.json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("line 3, column 20"), "{err}");
}

#[test]
fn a_missing_spec_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["spec", "validate", "absent.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("absent.json"), "{}", stderr(&out));
}

#[test]
fn keys_out_writes_every_key_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "spec",
            "build",
            "--preset",
            "local",
            "--keys-out",
            "keys/local",
            "--out",
            "spec.json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let keys = dir.path().join("keys/local");
    assert_eq!(mode(&keys), 0o700);

    let mut expected: Vec<String> = Vec::new();
    for v in ["eu-1", "eu-2", "us-1", "us-2"] {
        expected.push(format!("{v}.key"));
        expected.push(format!("{v}.p2p.key"));
    }
    for a in [
        "author",
        "guardian",
        "eu-voter-1",
        "eu-voter-2",
        "us-voter-1",
        "us-voter-2",
        "eu-agent",
        "us-agent",
    ] {
        expected.push(format!("{a}.key"));
    }
    expected.sort();
    let mut found: Vec<String> = fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    found.sort();
    assert_eq!(found, expected);
    for name in &found {
        assert_eq!(mode(&keys.join(name)), 0o600, "{name}");
    }

    // The files hold the keys the spec names.
    let spec: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("spec.json")).unwrap()).unwrap();
    let show = |file: &str| {
        let out = run(dir.path(), &["key", "show", &format!("keys/local/{file}")]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_owned()
    };
    assert_eq!(show("eu-2.key"), spec["validators"][1]["consensus_key"]);
    assert_eq!(show("us-1.p2p.key"), spec["validators"][2]["p2p_key"]);
    assert_eq!(show("author.key"), spec["accounts"][0]["key"]);

    // A second run never overwrites, and writes nothing.
    let again = run(
        dir.path(),
        &[
            "spec",
            "build",
            "--preset",
            "local",
            "--keys-out",
            "keys/local",
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("never overwritten"),
        "{}",
        stderr(&again)
    );
}

/// A reader that went away (`accord spec build | head -c0`, `… | true`): the command
/// stops quietly and successfully instead of panicking on the broken pipe.
#[test]
fn a_closed_standard_output_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    fs::write(&spec, build("local")).unwrap();
    for args in [
        vec!["spec", "build", "--preset", "local"],
        vec!["spec", "validate", spec.to_str().unwrap()],
    ] {
        // The pipe's only reader is closed before the command starts.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = accord()
            .args(&args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}
