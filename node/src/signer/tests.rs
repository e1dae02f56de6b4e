use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;

fn hash(label: &str) -> Hash {
    Hash::digest(Domain::new("signer-test"), label.as_bytes())
}

fn fresh() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signer.json");
    (dir, path)
}

/// Approves and expects an approval.
fn approved(guard: &mut SignerGuard, h: u64, r: u32, step: Step, message: Hash) -> Approval {
    guard
        .approve(Height(h), Round(r), step, message)
        .unwrap_or_else(|e| panic!("refused: {e}"))
}

/// Approves and expects a double-sign refusal; returns its conflict.
fn refused(guard: &mut SignerGuard, h: u64, r: u32, step: Step, message: Hash) -> Conflict {
    match guard.approve(Height(h), Round(r), step, message) {
        Err(SignerError::DoubleSign {
            height,
            round,
            step: refused_step,
            message_hash,
            conflict,
        }) => {
            assert_eq!(
                (height, round, refused_step, message_hash),
                (Height(h), Round(r), step, message)
            );
            conflict
        }
        other => panic!("expected a double-sign refusal, got {other:?}"),
    }
}

#[test]
fn signs_repeats_and_refuses_conflicts() {
    let (dir, path) = fresh();
    let mut guard = SignerGuard::open(&path).unwrap();
    assert_eq!(guard.last_signed(), None);
    assert!(
        !path.exists(),
        "a fresh guard writes nothing until it signs"
    );

    // A new message is signed and recorded before the answer.
    let a = hash("prevote A");
    assert_eq!(
        approved(&mut guard, 5, 0, Step::Prevote, a),
        Approval::Signed
    );
    let recorded = fs::read(&path).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The same message again is a repeat and writes nothing.
    assert_eq!(
        approved(&mut guard, 5, 0, Step::Prevote, a),
        Approval::Repeat
    );
    assert_eq!(fs::read(&path).unwrap(), recorded);

    // Another message for the same height, round and step is refused.
    let b = hash("prevote B");
    let conflict = refused(&mut guard, 5, 0, Step::Prevote, b);
    assert_eq!(conflict, Conflict::OtherMessage { signed: a });
    assert_eq!(
        fs::read(&path).unwrap(),
        recorded,
        "a refusal writes nothing"
    );

    // Other steps and rounds of the height are new.
    assert_eq!(
        approved(&mut guard, 5, 0, Step::Precommit, b),
        Approval::Signed
    );
    assert_eq!(
        approved(&mut guard, 5, 1, Step::Proposal, a),
        Approval::Signed
    );
    assert_eq!(
        approved(&mut guard, 5, 0, Step::Proposal, b),
        Approval::Signed
    );
    let last = guard.last_signed().unwrap();
    assert_eq!(last.height, Height(5));
    let slots: Vec<_> = last.signed.iter().map(|m| (m.round.0, m.step)).collect();
    assert_eq!(
        slots,
        vec![
            (0, Step::Proposal),
            (0, Step::Prevote),
            (0, Step::Precommit),
            (1, Step::Proposal)
        ]
    );

    // A higher height starts a new record; the lower one is refused from then on,
    // even for a message signed there before.
    assert_eq!(
        approved(&mut guard, 6, 0, Step::Prevote, b),
        Approval::Signed
    );
    assert_eq!(guard.last_signed().unwrap().signed.len(), 1);
    let conflict = refused(&mut guard, 5, 0, Step::Prevote, a);
    assert_eq!(
        conflict,
        Conflict::BelowSignedHeight {
            signed_height: Height(6)
        }
    );
    let message = guard
        .approve(Height(4), Round(9), Step::Precommit, a)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("precommit for height 4, round 9")
            && message.contains("height 6 was already signed"),
        "{message}"
    );

    // The record and the spare it is swapped with; no temporary file left behind.
    let mut names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![".signer.json.spare".to_owned(), "signer.json".to_owned()],
        "temporary files left"
    );
}

#[test]
fn the_record_survives_a_restart() {
    let (_dir, path) = fresh();
    let a = hash("precommit A");
    let mut guard = SignerGuard::open(&path).unwrap();
    assert_eq!(
        approved(&mut guard, 9, 2, Step::Precommit, a),
        Approval::Signed
    );
    assert_eq!(
        approved(&mut guard, 9, 3, Step::Prevote, a),
        Approval::Signed
    );
    drop(guard);

    let mut restarted = SignerGuard::open(&path).unwrap();
    let last = restarted.last_signed().unwrap();
    assert_eq!(last.height, Height(9));
    assert_eq!(last.signed.len(), 2);
    let conflict = refused(&mut restarted, 9, 2, Step::Precommit, hash("precommit B"));
    assert_eq!(conflict, Conflict::OtherMessage { signed: a });
    assert_eq!(
        approved(&mut restarted, 9, 2, Step::Precommit, a),
        Approval::Repeat
    );
    let conflict = refused(&mut restarted, 8, 0, Step::Prevote, a);
    assert_eq!(
        conflict,
        Conflict::BelowSignedHeight {
            signed_height: Height(9)
        }
    );
}

#[test]
fn untrustworthy_files_are_refused() {
    let (dir, path) = fresh();
    let mut guard = SignerGuard::open(&path).unwrap();
    approved(&mut guard, 3, 0, Step::Prevote, hash("x"));
    drop(guard);
    let good = fs::read_to_string(&path).unwrap();

    let corrupt_reason = |text: &str| {
        fs::write(&path, text).unwrap();
        match SignerGuard::open(&path) {
            Err(SignerError::Corrupt { reason, .. }) => reason,
            other => panic!("expected a corrupt file error, got {other:?}"),
        }
    };

    // Valid JSON whose height was edited: the checksum catches it.
    let edited = good.replace("\"height\": 3", "\"height\": 2");
    assert_ne!(edited, good);
    let reason = corrupt_reason(&edited);
    assert!(reason.contains("checksum"), "{reason}");

    // Truncated, garbage, unknown fields, another version.
    let reason = corrupt_reason(&good[..good.len() / 2]);
    assert!(reason.contains("not a signer state file"), "{reason}");
    assert!(corrupt_reason("\u{0}\u{1}garbage").contains("not a signer state file"));
    let extra = good.replacen('{', "{\n  \"extra\": 1,", 1);
    assert!(corrupt_reason(&extra).contains("unknown field"));
    let future = good.replace("\"version\": 1", "\"version\": 2");
    assert!(corrupt_reason(&future).contains("format version 2"));

    // The whole message says what to do.
    fs::write(&path, "{}").unwrap();
    let message = SignerGuard::open(&path).unwrap_err().to_string();
    assert!(
        message.contains("will not sign") && message.contains("restore the file"),
        "{message}"
    );

    // A file other users may read is refused with the fix.
    fs::write(&path, &good).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let err = SignerGuard::open(&path).unwrap_err();
    assert!(
        matches!(err, SignerError::Permissions { mode: 0o644, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(SignerGuard::open(&path).is_ok());

    // A directory where the file should be, and a missing directory.
    let not_a_file = dir.path().join("dir.json");
    fs::create_dir(&not_a_file).unwrap();
    fs::set_permissions(&not_a_file, fs::Permissions::from_mode(0o700)).unwrap();
    assert!(matches!(
        SignerGuard::open(&not_a_file),
        Err(SignerError::Corrupt { .. })
    ));
    let nowhere = dir.path().join("missing").join("signer.json");
    assert!(matches!(
        SignerGuard::open(&nowhere),
        Err(SignerError::Io { .. })
    ));
}
