use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;

/// Three records of different sizes, the middle one large enough to span buffers.
fn three_records() -> Vec<Vec<u8>> {
    vec![
        b"first input".to_vec(),
        (0..70_000u32).map(|i| (i % 251) as u8 + 1).collect(),
        b"third".to_vec(),
    ]
}

/// Writes `records` to a new log at `path` and syncs it; returns the file's bytes.
fn write_log(path: &Path, records: &[Vec<u8>]) -> Vec<u8> {
    let (mut wal, recovered) = Wal::open(path).unwrap();
    assert_eq!(recovered, Recovered::default());
    for record in records {
        wal.append(record).unwrap();
    }
    wal.sync().unwrap();
    drop(wal);
    fs::read(path).unwrap()
}

/// Offsets at which each record starts, and the end of the last.
fn record_offsets(records: &[Vec<u8>]) -> Vec<usize> {
    let mut offsets = vec![HEADER_LEN];
    for record in records {
        let last = *offsets.last().unwrap();
        offsets.push(last + RECORD_HEADER_LEN + record.len());
    }
    offsets
}

fn no_temp_files(dir: &Path) {
    let names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.contains(".tmp-"))
        .collect();
    assert!(names.is_empty(), "temporary files left: {names:?}");
}

#[test]
fn records_round_trip_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consensus.wal");
    let records = three_records();
    let bytes = write_log(&path, &records);
    assert_eq!(bytes.len(), *record_offsets(&records).last().unwrap());
    assert_eq!(&bytes[..8], b"ACCRDWAL");
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        WAL_FILE_MODE
    );

    let (mut wal, recovered) = Wal::open(&path).unwrap();
    assert_eq!(recovered.records, records);
    assert_eq!(recovered.torn_bytes, 0);
    assert_eq!(wal.len(), 3);
    wal.append(b"fourth").unwrap();
    wal.sync().unwrap();
    assert_eq!(wal.len(), 4);
    drop(wal);

    let (wal, recovered) = Wal::open(&path).unwrap();
    let mut expected = records;
    expected.push(b"fourth".to_vec());
    assert_eq!(recovered.records, expected);
    assert_eq!(wal.len(), 4);
    no_temp_files(dir.path());
}

#[test]
fn every_truncation_point_recovers_a_prefix_of_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let full_path = dir.path().join("full.wal");
    // Small records keep the loop over every length fast; sizes still differ.
    let records = vec![b"a".to_vec(), vec![7u8; 300], b"the third record".to_vec()];
    let full = write_log(&full_path, &records);
    let offsets = record_offsets(&records);
    let path = dir.path().join("cut.wal");
    for len in 0..=full.len() {
        fs::write(&path, &full[..len]).unwrap();
        let (mut wal, recovered) = Wal::open(&path).unwrap_or_else(|e| panic!("length {len}: {e}"));
        let intact = offsets[1..].iter().filter(|&&end| end <= len).count();
        assert_eq!(recovered.records, records[..intact], "length {len}");
        let good_end = if len < HEADER_LEN { 0 } else { offsets[intact] };
        assert_eq!(
            recovered.torn_bytes,
            (len - good_end) as u64,
            "length {len}"
        );
        assert_eq!(wal.len(), intact, "length {len}");
        let on_disk = fs::metadata(&path).unwrap().len() as usize;
        assert_eq!(on_disk, offsets[intact], "length {len}: file not truncated");

        // The recovered log takes new records after the intact ones.
        wal.append(b"after recovery").unwrap();
        wal.sync().unwrap();
        drop(wal);
        let (_, again) = Wal::open(&path).unwrap();
        let mut expected = records[..intact].to_vec();
        expected.push(b"after recovery".to_vec());
        assert_eq!(again.records, expected, "length {len}");
        assert_eq!(again.torn_bytes, 0, "length {len}");
    }
}

#[test]
fn damage_in_a_middle_record_is_corruption_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consensus.wal");
    let records = three_records();
    let original = write_log(&path, &records);
    let offsets = record_offsets(&records);
    let middle = offsets[1];

    // A flipped payload byte: bad checksum with a record after it.
    let mut bytes = original.clone();
    bytes[middle + RECORD_HEADER_LEN + 1000] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
    let err = Wal::open(&path).unwrap_err();
    match &err {
        WalError::Corrupt { offset, reason, .. } => {
            assert_eq!(*offset, middle as u64);
            assert!(reason.contains("checksum mismatch"), "{reason}");
        }
        other => panic!("expected corruption, got {other}"),
    }
    assert!(err.is_corruption());
    let message = err.to_string();
    assert!(message.contains(&format!("at byte {middle}")), "{message}");
    assert!(message.contains("will not start"), "{message}");
    assert!(message.contains("move the file aside"), "{message}");
    assert!(message.contains("signer state"), "{message}");
    // Nothing was truncated: the evidence stays for the operator.
    assert_eq!(fs::read(&path).unwrap(), bytes);

    // A flipped high byte of the length: a length no writer produces.
    let mut bytes = original.clone();
    bytes[middle + 3] ^= 0x80;
    fs::write(&path, &bytes).unwrap();
    match Wal::open(&path).unwrap_err() {
        WalError::Corrupt { offset, reason, .. } => {
            assert_eq!(offset, middle as u64);
            assert!(reason.contains("record length"), "{reason}");
        }
        other => panic!("expected corruption, got {other}"),
    }

    // A flipped checksum byte of the first record.
    let mut bytes = original;
    bytes[HEADER_LEN + 5] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    match Wal::open(&path).unwrap_err() {
        WalError::Corrupt { offset, .. } => assert_eq!(offset, HEADER_LEN as u64),
        other => panic!("expected corruption, got {other}"),
    }
}

#[test]
fn damage_in_the_last_record_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consensus.wal");
    let records = three_records();
    let mut bytes = write_log(&path, &records);
    let offsets = record_offsets(&records);
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&path, &bytes).unwrap();

    let (wal, recovered) = Wal::open(&path).unwrap();
    assert_eq!(recovered.records, records[..2]);
    assert_eq!(
        recovered.torn_bytes,
        (RECORD_HEADER_LEN + records[2].len()) as u64
    );
    assert_eq!(wal.len(), 2);
    assert_eq!(fs::metadata(&path).unwrap().len() as usize, offsets[2]);
}

#[test]
fn zero_filled_tails_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consensus.wal");
    let records = three_records();
    let clean = write_log(&path, &records);

    // Zeros after the last record, as left by a file extended without its data.
    let mut bytes = clean.clone();
    bytes.extend_from_slice(&[0u8; 4096]);
    fs::write(&path, &bytes).unwrap();
    let (_, recovered) = Wal::open(&path).unwrap();
    assert_eq!(recovered.records, records);
    assert_eq!(recovered.torn_bytes, 4096);
    assert_eq!(fs::read(&path).unwrap(), clean);

    // A record whose payload never reached the disk, then zeros.
    let mut bytes = clean.clone();
    bytes.extend_from_slice(&100u32.to_le_bytes());
    bytes.extend_from_slice(&0xdead_beef_u32.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 500]);
    fs::write(&path, &bytes).unwrap();
    let (_, recovered) = Wal::open(&path).unwrap();
    assert_eq!(recovered.records, records);
    assert_eq!(recovered.torn_bytes, 508);

    // A zero length followed by data is not a tail.
    let mut bytes = clean;
    bytes.extend_from_slice(&[0u8; 8]);
    bytes.push(1);
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        Wal::open(&path),
        Err(WalError::Corrupt { offset, .. }) if offset == record_offsets(&records)[3] as u64
    ));
}

#[test]
fn reset_replaces_the_log_with_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consensus.wal");
    let (mut wal, _) = Wal::open(&path).unwrap();
    for record in three_records() {
        wal.append(&record).unwrap();
    }
    wal.sync().unwrap();
    wal.append(b"buffered, never synced").unwrap();
    wal.reset(b"start height 8").unwrap();
    assert_eq!(wal.len(), 1);
    wal.append(b"proposal").unwrap();
    wal.sync().unwrap();
    drop(wal);

    let (wal, recovered) = Wal::open(&path).unwrap();
    assert_eq!(
        recovered.records,
        vec![b"start height 8".to_vec(), b"proposal".to_vec()]
    );
    assert_eq!(recovered.torn_bytes, 0);
    assert_eq!(wal.len(), 2);
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        WAL_FILE_MODE
    );
    no_temp_files(dir.path());
}

#[test]
fn resets_swap_two_files_and_recover_only_the_current_height() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consensus.wal");
    let (mut wal, _) = Wal::open(&path).unwrap();
    let mut inodes = std::collections::BTreeSet::new();
    for height in 1..=6 {
        wal.append(format!("vote at {}", height - 1).as_bytes())
            .unwrap();
        wal.sync().unwrap();
        wal.append(b"buffered, never synced").unwrap();
        wal.reset(format!("start height {height}").as_bytes())
            .unwrap();
        wal.append(format!("proposal at {height}").as_bytes())
            .unwrap();
        wal.sync().unwrap();
        inodes.insert(fs::metadata(&path).unwrap().ino());
        let (_, recovered) = Wal::open(&path).unwrap();
        assert_eq!(
            recovered.records,
            vec![
                format!("start height {height}").into_bytes(),
                format!("proposal at {height}").into_bytes()
            ]
        );
    }
    // The log and its spare take turns: no file is created per height.
    assert_eq!(inodes.len(), 2, "{inodes:?}");
    let spare = dir.path().join(".consensus.wal.spare");
    assert_eq!(
        fs::metadata(&spare).unwrap().permissions().mode() & 0o777,
        WAL_FILE_MODE
    );
    no_temp_files(dir.path());
}

#[test]
fn bad_records_and_foreign_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consensus.wal");
    let (mut wal, _) = Wal::open(&path).unwrap();
    assert!(matches!(wal.append(b""), Err(WalError::EmptyRecord)));
    assert!(matches!(
        wal.append(&vec![1u8; MAX_RECORD_BYTES + 1]),
        Err(WalError::RecordTooLarge { len, max }) if len == MAX_RECORD_BYTES + 1 && max == MAX_RECORD_BYTES
    ));
    assert!(matches!(wal.reset(b""), Err(WalError::EmptyRecord)));
    wal.append(&vec![1u8; MAX_RECORD_BYTES]).unwrap();
    wal.sync().unwrap();
    drop(wal);
    let (_, recovered) = Wal::open(&path).unwrap();
    assert_eq!(recovered.records.len(), 1);

    let other = dir.path().join("not-a-log");
    fs::write(&other, b"# some configuration file\n").unwrap();
    let err = Wal::open(&other).unwrap_err();
    assert!(
        matches!(&err, WalError::Corrupt { offset: 0, reason, .. } if reason.contains("magic")),
        "{err}"
    );
    fs::write(&other, b"short").unwrap();
    assert!(matches!(
        Wal::open(&other),
        Err(WalError::Corrupt { offset: 0, .. })
    ));

    let mut future = MAGIC.to_vec();
    future.extend_from_slice(&2u32.to_le_bytes());
    fs::write(&other, &future).unwrap();
    let err = Wal::open(&other).unwrap_err();
    assert!(
        matches!(
            err,
            WalError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
}
