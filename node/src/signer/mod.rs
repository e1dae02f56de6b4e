//! The signer guard: the node never releases two different signed messages for one
//! height, round and step, even across crashes and restarts.
//!
//! # Design
//!
//! The consensus engine signs its own proposals and votes. Before the node lets a
//! signed message leave, it asks [`SignerGuard::approve`] with the message's height,
//! round, step and hash; the guard answers from a record kept in a state file:
//!
//! ```text
//!   approve(h, r, step, hash)
//!     h <  recorded height                          ─► Err(DoubleSign)   never go back
//!     h == recorded height, (r, step) signed
//!          with the same hash                       ─► Ok(Repeat)        re-broadcast, no write
//!          with another hash                        ─► Err(DoubleSign)   equivocation
//!     h == recorded height, (r, step) new           ─► record, sync ─► Ok(Signed)
//!     h >  recorded height (or no record)           ─► new record for h, sync ─► Ok(Signed)
//! ```
//!
//! `Signed` is returned only after the new record is durable, so a message that left
//! the node is always in the record, whatever crashes later. The record holds the
//! latest height signed and every (round, step, message hash) signed at it; lower
//! heights are no longer needed because nothing below the recorded height is ever
//! approved.
//!
//! The state file is JSON, readable by an operator, with a checksum:
//!
//! ```json
//! {
//!   "version": 1,
//!   "height": 12,
//!   "signed": [{ "round": 0, "step": "prevote", "message_hash": "0x…" }],
//!   "checksum": "0x…"
//! }
//! ```
//!
//! `checksum` is `H("accord/signer-state", borsh(version, height, signed))`. The file is
//! replaced, never edited in place: the new record is written into a spare file beside
//! it (`.<name>.spare`, mode 0600) and synced, the two are swapped atomically, and the
//! directory synced ([`Exchanger`]), so a crash leaves the old record or the new one. A missing file is a fresh guard; a file that does not parse,
//! fails its checksum, is of another version, or that group or other users may access
//! is refused (the key-file rule of [`crate::keyfile`]), because a guard that forgot
//! what it signed could equivocate.

mod error;
#[cfg(test)]
mod tests;

pub use error::{Conflict, Result, SignerError};

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use accord_types::{Domain, Hash, Height, Round, VoteType};
use borsh::BorshSerialize;
use serde::{Deserialize, Serialize};

use crate::durable::Exchanger;
use crate::keyfile::KEY_FILE_MODE;

/// Format version of the state file.
pub const STATE_VERSION: u32 = 1;
/// Largest state file read (a height with thousands of rounds stays far below it).
pub const MAX_STATE_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Domain of the state file's checksum.
const CHECKSUM_DOMAIN: Domain = Domain::new("accord/signer-state");

/// The three kinds of signed consensus message.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, BorshSerialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// A block proposal.
    Proposal,
    /// A prevote.
    Prevote,
    /// A precommit.
    Precommit,
}

impl From<VoteType> for Step {
    fn from(vote_type: VoteType) -> Self {
        match vote_type {
            VoteType::Prevote => Self::Prevote,
            VoteType::Precommit => Self::Precommit,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Proposal => "proposal",
            Self::Prevote => "prevote",
            Self::Precommit => "precommit",
        })
    }
}

/// The guard's answer when a message may leave the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Newly signed; the record was synced before this answer.
    Signed,
    /// The very message was approved before: re-broadcasting it is safe.
    Repeat,
}

/// One message signed at the recorded height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, BorshSerialize)]
#[serde(deny_unknown_fields)]
pub struct SignedMessage {
    /// Its round.
    pub round: Round,
    /// Its step.
    pub step: Step,
    /// Its hash.
    pub message_hash: Hash,
}

/// What the guard has recorded: the latest height signed and what was signed at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastSigned {
    /// The latest height at which a message was signed.
    pub height: Height,
    /// Every message signed at that height, ordered by round and step.
    pub signed: Vec<SignedMessage>,
}

/// The state file's JSON form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    height: Height,
    signed: Vec<SignedMessage>,
    checksum: Hash,
}

fn checksum(version: u32, height: Height, signed: &[SignedMessage]) -> Hash {
    Hash::of_borsh(CHECKSUM_DOMAIN, &(version, height, signed))
}

/// Approves signed consensus messages against a durable record of what was signed.
#[derive(Debug)]
pub struct SignerGuard {
    path: PathBuf,
    last: Option<LastSigned>,
    /// Replaces the state file.
    exchanger: Exchanger,
}

impl SignerGuard {
    /// Opens the guard whose record is the file at `path`; a missing file is a fresh
    /// guard (created on the first approval). A file that is corrupt, of an unknown
    /// version, or accessible to group or other users is refused.
    pub fn open(path: &Path) -> Result<Self> {
        let io_error = |operation, source| SignerError::Io {
            path: path.to_path_buf(),
            operation,
            source,
        };
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let dir = crate::durable::parent_dir(path);
                if !dir.is_dir() {
                    let missing = io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("directory {} does not exist", dir.display()),
                    );
                    return Err(io_error("create", missing));
                }
                return Ok(Self {
                    path: path.to_path_buf(),
                    last: None,
                    exchanger: Exchanger::new(path, KEY_FILE_MODE)
                        .map_err(|e| io_error("open the directory of", e))?,
                });
            }
            Err(e) => return Err(io_error("open", e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| io_error("read the metadata of", e))?;
        let corrupt = |reason: String| SignerError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        if !meta.is_file() {
            return Err(corrupt("it is not a regular file".to_owned()));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SignerError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        if meta.len() > MAX_STATE_FILE_BYTES {
            return Err(corrupt(format!(
                "it is {} bytes, more than the {MAX_STATE_FILE_BYTES} a state file can be",
                meta.len()
            )));
        }
        let mut text = String::new();
        file.take(MAX_STATE_FILE_BYTES)
            .read_to_string(&mut text)
            .map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData => corrupt("it is not UTF-8 text".to_owned()),
                _ => io_error("read", e),
            })?;
        let last = decode(&text).map_err(corrupt)?;
        Ok(Self {
            path: path.to_path_buf(),
            last: Some(last),
            exchanger: Exchanger::new(path, KEY_FILE_MODE)
                .map_err(|e| io_error("open the directory of", e))?,
        })
    }

    /// Decides whether the message `message_hash` for (`height`, `round`, `step`) may
    /// leave the node; see the module documentation for the rules. A new signature is
    /// recorded and synced before `Ok(Approval::Signed)` is returned. On any error the
    /// message must not be released.
    pub fn approve(
        &mut self,
        height: Height,
        round: Round,
        step: Step,
        message_hash: Hash,
    ) -> Result<Approval> {
        let refuse = |conflict| SignerError::DoubleSign {
            height,
            round,
            step,
            message_hash,
            conflict,
        };
        let message = SignedMessage {
            round,
            step,
            message_hash,
        };
        let next = match &self.last {
            Some(last) if height < last.height => {
                return Err(refuse(Conflict::BelowSignedHeight {
                    signed_height: last.height,
                }));
            }
            Some(last) if height == last.height => {
                let same_slot = |m: &&SignedMessage| m.round == round && m.step == step;
                if let Some(signed) = last.signed.iter().find(same_slot) {
                    if signed.message_hash == message_hash {
                        return Ok(Approval::Repeat);
                    }
                    return Err(refuse(Conflict::OtherMessage {
                        signed: signed.message_hash,
                    }));
                }
                let mut signed = last.signed.clone();
                let at = signed.partition_point(|m| (m.round, m.step) < (round, step));
                signed.insert(at, message);
                LastSigned { height, signed }
            }
            _ => LastSigned {
                height,
                signed: vec![message],
            },
        };
        self.persist(&next)?;
        self.last = Some(next);
        Ok(Approval::Signed)
    }

    /// What the guard has recorded; `None` before the first signature.
    pub fn last_signed(&self) -> Option<&LastSigned> {
        self.last.as_ref()
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the state file with `record`, durably.
    fn persist(&mut self, record: &LastSigned) -> Result<()> {
        let file = StateFile {
            version: STATE_VERSION,
            height: record.height,
            signed: record.signed.clone(),
            checksum: checksum(STATE_VERSION, record.height, &record.signed),
        };
        let mut text = serde_json::to_string_pretty(&file).map_err(|e| SignerError::Io {
            path: self.path.clone(),
            operation: "encode",
            source: io::Error::other(e),
        })?;
        text.push('\n');
        self.exchanger
            .replace(text.as_bytes())
            .map(drop)
            .map_err(|source| SignerError::Io {
                path: self.path.clone(),
                operation: "write",
                source,
            })
    }
}

/// Parses and checks the text of a state file.
fn decode(text: &str) -> std::result::Result<LastSigned, String> {
    let file: StateFile =
        serde_json::from_str(text).map_err(|e| format!("it is not a signer state file: {e}"))?;
    if file.version != STATE_VERSION {
        return Err(format!(
            "it has format version {}, but this node reads version {STATE_VERSION}",
            file.version
        ));
    }
    let computed = checksum(file.version, file.height, &file.signed);
    if computed != file.checksum {
        return Err(format!(
            "its checksum is {} but its contents hash to {computed}; it was changed or \
             damaged after it was written",
            file.checksum
        ));
    }
    let ordered = file
        .signed
        .windows(2)
        .all(|pair| matches!(pair, [a, b] if (a.round, a.step) < (b.round, b.step)));
    if !ordered {
        return Err(
            "its signed messages are not in strictly increasing (round, step) order".to_owned(),
        );
    }
    Ok(LastSigned {
        height: file.height,
        signed: file.signed,
    })
}
