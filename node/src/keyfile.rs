//! ed25519 key files: JSON, readable by the owner only.
//!
//! ```json
//! {"algorithm":"ed25519","public_key":"0x…","secret_key":"0x…"}
//! ```
//!
//! Files are created with mode 0600 and never overwritten in place; a file whose mode
//! lets group or other users read or change it is refused, with the fix in the error.

use std::fs::{self, DirBuilder, File};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use accord_chain_spec::{KeyPurpose, NamedKey};
use accord_types::codec::{hex_decode_array, hex_encode};
use accord_types::{Keypair, PublicKey};
use anyhow::{bail, ensure, Context, Result};

use crate::durable;
use serde::{Deserialize, Serialize};

/// The only algorithm key files hold.
pub const ALGORITHM: &str = "ed25519";

/// Mode of every key file: read and write for the owner only.
pub const KEY_FILE_MODE: u32 = 0o600;

/// Key files are tiny; anything larger is not one, and is not read whole.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// The file's JSON form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    algorithm: String,
    public_key: String,
    secret_key: String,
}

fn encode(keypair: &Keypair) -> String {
    let file = KeyFile {
        algorithm: ALGORITHM.into(),
        public_key: keypair.public().to_string(),
        secret_key: hex_encode(&keypair.secret_bytes()),
    };
    // Three string fields always serialise.
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes `keypair` to a new file at `path` with mode 0600; refuses if `path` exists.
pub fn write(path: &Path, keypair: &Keypair) -> Result<()> {
    if let Err(e) = durable::write_new(path, encode(keypair).as_bytes(), KEY_FILE_MODE) {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            return Err(e).with_context(|| format!("cannot create key file {}", path.display()));
        }
        // Leave no half-written key behind.
        let _ = fs::remove_file(path);
        return Err(e).with_context(|| format!("cannot write key file {}", path.display()));
    }
    durable::sync_dir(&durable::parent_dir(path))
        .with_context(|| format!("cannot sync the directory of {}", path.display()))
}

fn key_file_name(key: &NamedKey) -> String {
    match key.purpose {
        KeyPurpose::Consensus | KeyPurpose::Account => format!("{}.key", key.name),
        KeyPurpose::P2p => format!("{}.p2p.key", key.name),
    }
}

/// Writes preset keys into a new directory (mode 0700), one file each; never overwrites.
pub fn write_all(dir: &Path, keys: &[NamedKey]) -> Result<()> {
    let shown = dir.display();
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create key directory {shown}"))?;
    let meta = fs::metadata(dir).with_context(|| format!("cannot inspect {shown}"))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "key directory {shown} has mode {mode:04o}, which lets other users into it; \
             use a new directory or run `chmod 700 {shown}`"
        );
    }
    // Check every target first, so that a clash writes nothing.
    let paths: Vec<PathBuf> = keys.iter().map(|k| dir.join(key_file_name(k))).collect();
    if let Some(existing) = paths.iter().find(|p| p.exists()) {
        bail!(
            "{} already exists; key files are never overwritten, use an empty directory",
            existing.display()
        );
    }
    for (key, path) in keys.iter().zip(&paths) {
        write(path, &key.keypair)?;
    }
    Ok(())
}

/// Writes `keypair` to `path`, replacing any file there atomically: the new key is
/// written to a fresh 0600 file beside it, then renamed over it.
pub fn replace(path: &Path, keypair: &Keypair) -> Result<()> {
    durable::replace_file(path, encode(keypair).as_bytes(), KEY_FILE_MODE)
        .with_context(|| format!("cannot replace key file {}", path.display()))
}

/// Reads a key file: refuses one that group or other users may access, and checks
/// that its public key belongs to its secret key.
pub fn read(path: &Path) -> Result<Keypair> {
    let shown = path.display();
    let file = File::open(path).with_context(|| format!("cannot open key file {shown}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read metadata of key file {shown}"))?;
    ensure!(meta.is_file(), "key file {shown} is not a regular file");
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "key file {shown} has mode {mode:04o}, which lets other users access it; \
             restrict it with `chmod 600 {shown}`"
        );
    }
    ensure!(
        meta.len() <= MAX_KEY_FILE_BYTES,
        "key file {shown} is {} bytes, too large to be a key file",
        meta.len()
    );
    let mut text = String::new();
    file.take(MAX_KEY_FILE_BYTES)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read key file {shown}"))?;
    decode(&text).with_context(|| format!("invalid key file {shown}"))
}

/// Parses and checks the JSON text of a key file.
fn decode(text: &str) -> Result<Keypair> {
    let file: KeyFile = serde_json::from_str(text).context("not a key file")?;
    ensure!(
        file.algorithm == ALGORITHM,
        "algorithm is {:?}; only {ALGORITHM:?} is supported",
        file.algorithm
    );
    let secret = hex_decode_array::<32>("secret key", &file.secret_key).context("secret_key")?;
    let public = PublicKey::from_hex(&file.public_key).context("public_key")?;
    let keypair = Keypair::from_seed(&secret);
    ensure!(
        keypair.public() == public,
        "public_key {public} does not belong to secret_key (which gives {})",
        keypair.public()
    );
    Ok(keypair)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_is_the_same_key() {
        let keypair = Keypair::derive_insecure("keyfile-test");
        let decoded = decode(&encode(&keypair)).unwrap();
        assert_eq!(decoded.public(), keypair.public());
        assert_eq!(decoded.secret_bytes(), keypair.secret_bytes());
    }

    #[test]
    fn decode_names_what_is_wrong() {
        let good: serde_json::Value =
            serde_json::from_str(&encode(&Keypair::derive_insecure("k"))).unwrap();
        let other = Keypair::derive_insecure("other").public().to_string();
        let cases = [
            ("algorithm", "sr25519".to_owned(), "only \"ed25519\""),
            (
                "secret_key",
                "0x1234".to_owned(),
                "expected 32 bytes, found 2",
            ),
            ("public_key", "0xzz".to_owned(), "public_key"),
            ("public_key", other, "does not belong"),
        ];
        for (field, value, expected) in cases {
            let mut bad = good.clone();
            bad[field] = value.into();
            let err = format!("{:#}", decode(&bad.to_string()).unwrap_err());
            assert!(err.contains(expected), "{field}: {err}");
        }
        let err = format!("{:#}", decode("{\"algorithm\":").unwrap_err());
        assert!(err.contains("line 1 column 13"), "{err}");
    }
}
