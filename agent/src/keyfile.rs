//! Reads the agent's ed25519 key file, in the format `accord` writes for every key:
//!
//! ```json
//! {"algorithm":"ed25519","public_key":"0x…","secret_key":"0x…"}
//! ```
//!
//! A file that group or other users may access is refused, with the fix in the error,
//! and the public key must belong to the secret key.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use accord_types::codec::hex_decode_array;
use accord_types::{Keypair, PublicKey};
use serde::Deserialize;

use crate::error::{Error, Result};

/// The only algorithm key files hold.
pub const ALGORITHM: &str = "ed25519";

/// Key files are tiny; anything larger is not one, and is not read whole.
const MAX_KEY_FILE_BYTES: u64 = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    algorithm: String,
    public_key: String,
    secret_key: String,
}

/// Reads and checks a key file. Blocking.
pub fn read(path: &Path) -> Result<Keypair> {
    let fail = |reason: String| Error::Key {
        path: path.to_owned(),
        reason,
    };
    let file = File::open(path).map_err(|e| fail(format!("cannot open it: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot read its metadata: {e}")))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(fail(format!(
            "mode {mode:04o} lets other users access it; restrict it with `chmod 600 {}`",
            path.display()
        )));
    }
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(fail(format!(
            "{} bytes, too large to be a key file",
            meta.len()
        )));
    }
    let mut text = String::new();
    file.take(MAX_KEY_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| fail(format!("cannot read it: {e}")))?;
    decode(&text).map_err(fail)
}

/// Parses and checks the JSON text of a key file.
pub fn decode(text: &str) -> Result<Keypair, String> {
    let file: KeyFile = serde_json::from_str(text).map_err(|e| format!("not a key file: {e}"))?;
    if file.algorithm != ALGORITHM {
        return Err(format!(
            "algorithm is {:?}; only {ALGORITHM:?} is supported",
            file.algorithm
        ));
    }
    let secret = hex_decode_array::<32>("secret key", &file.secret_key)
        .map_err(|e| format!("secret_key: {e}"))?;
    let public = PublicKey::from_hex(&file.public_key).map_err(|e| format!("public_key: {e}"))?;
    let keypair = Keypair::from_seed(&secret);
    if keypair.public() != public {
        return Err(format!(
            "public_key {public} does not belong to secret_key (which gives {})",
            keypair.public()
        ));
    }
    Ok(keypair)
}

/// The JSON text of a key file for `keypair` (for tools and tests that write one).
pub fn encode(keypair: &Keypair) -> String {
    serde_json::json!({
        "algorithm": ALGORITHM,
        "public_key": keypair.public().to_string(),
        "secret_key": accord_types::codec::hex_encode(&keypair.secret_bytes()),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::OpenOptionsExt;

    use super::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
        use std::io::Write;
        let path = dir.join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
        path
    }

    #[test]
    fn a_key_file_reads_back_and_bad_ones_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let keypair = Keypair::derive_insecure("agent-key-test");
        let good = write(dir.path(), "good.key", &encode(&keypair), 0o600);
        assert_eq!(read(&good).unwrap().public(), keypair.public());

        let open = write(dir.path(), "open.key", &encode(&keypair), 0o644);
        let error = read(&open).unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");

        let mut other: serde_json::Value = serde_json::from_str(&encode(&keypair)).unwrap();
        other["public_key"] = Keypair::derive_insecure("other")
            .public()
            .to_string()
            .into();
        let mismatched = write(dir.path(), "mismatch.key", &other.to_string(), 0o600);
        let error = read(&mismatched).unwrap_err().to_string();
        assert!(error.contains("does not belong"), "{error}");

        let error = read(&dir.path().join("absent.key"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("absent.key") && error.contains("cannot open"),
            "{error}"
        );
    }
}
