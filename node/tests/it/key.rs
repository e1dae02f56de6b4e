//! `accord key generate` and `accord key show`, and the key file rules.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::{mode, run, stderr, stdout};

#[test]
fn generate_writes_an_owner_only_file_that_show_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["key", "generate", "--out", "validator.key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let public = stdout(&out).trim().to_owned();
    assert!(public.starts_with("0x") && public.len() == 66, "{public}");
    assert_eq!(mode(&dir.path().join("validator.key")), 0o600);

    let file: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("validator.key")).unwrap())
            .unwrap();
    assert_eq!(file["algorithm"], "ed25519");
    assert_eq!(file["public_key"], public.as_str());
    assert_eq!(file["secret_key"].as_str().unwrap().len(), 66);

    let show = run(dir.path(), &["key", "show", "validator.key"]);
    assert!(show.status.success(), "{}", stderr(&show));
    assert_eq!(stdout(&show).trim(), public);
}

#[test]
fn two_generated_keys_differ() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), &["key", "generate", "--out", "a.key"]);
    let b = run(dir.path(), &["key", "generate", "--out", "b.key"]);
    assert_ne!(stdout(&a), stdout(&b));
}

#[test]
fn generate_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.key");
    let first = run(dir.path(), &["key", "generate", "--out", "k.key"]);
    assert!(first.status.success());
    let before = fs::read(&path).unwrap();

    let second = run(dir.path(), &["key", "generate", "--out", "k.key"]);
    assert_eq!(second.status.code(), Some(2));
    assert!(stderr(&second).contains("--force"), "{}", stderr(&second));
    assert_eq!(fs::read(&path).unwrap(), before, "the key was changed");

    let forced = run(
        dir.path(),
        &["key", "generate", "--out", "k.key", "--force"],
    );
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_ne!(stdout(&forced), stdout(&first));
    assert_eq!(mode(&path), 0o600);
    let show = run(dir.path(), &["key", "show", "k.key"]);
    assert_eq!(stdout(&show), stdout(&forced));
    // No temporary file is left beside it.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_key_file_readable_by_others_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.key");
    assert!(run(dir.path(), &["key", "generate", "--out", "k.key"])
        .status
        .success());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

    let out = run(dir.path(), &["key", "show", "k.key"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("mode 0644"), "{err}");
    assert!(err.contains("chmod 600 k.key"), "{err}");
    assert!(stdout(&out).is_empty());

    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(run(dir.path(), &["key", "show", "k.key"]).status.success());
}

#[test]
fn a_key_file_whose_public_key_does_not_match_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["key", "generate", "--out", "a.key"])
        .status
        .success());
    let other = run(dir.path(), &["key", "generate", "--out", "b.key"]);
    let path = dir.path().join("a.key");
    let mut file: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    file["public_key"] = stdout(&other).trim().into();
    fs::write(&path, file.to_string()).unwrap();

    let out = run(dir.path(), &["key", "show", "a.key"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("does not belong to secret_key"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn malformed_key_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("not json", "line 1 column 2"),
        (
            r#"{"algorithm":"ed25519","public_key":"0x00","secret_key":"0x00"}"#,
            "expected 32 bytes, found 1",
        ),
        (
            r#"{"algorithm":"ed25519","public_key":"0x00"}"#,
            "missing field `secret_key`",
        ),
    ];
    for (i, (content, expected)) in cases.iter().enumerate() {
        let name = format!("bad{i}.key");
        let path = dir.path().join(&name);
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let out = run(dir.path(), &["key", "show", &name]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = stderr(&out);
        assert!(err.contains(&format!("invalid key file {name}")), "{err}");
        assert!(err.contains(expected), "{name}: {err}");
    }
    let missing = run(dir.path(), &["key", "show", "absent.key"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot open key file absent.key"));
}
