//! Proofs that a key holds a value, or is absent, under a state root.

use accord_types::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::error::{short_hex, ProofError};
use crate::limits::{MAX_KEY_BYTES, MAX_VALUE_BYTES};
use crate::tree::{
    key_path, leaf_hash, node_hash, path_bit, shares_prefix, value_hash, EMPTY_ROOT, TREE_DEPTH,
};

/// Largest borsh encoding of a [`StateProof`] of a key and value within the limits:
/// decode proofs from outside with
/// `accord_types::codec::decode::<StateProof>("state proof", bytes, MAX_PROOF_BYTES)`.
pub const MAX_PROOF_BYTES: usize =
    4 + MAX_KEY_BYTES + 4 + TREE_DEPTH * 32 + 1 + 4 + MAX_VALUE_BYTES;

/// A proof of the value under a key, or of its absence, against a state root.
///
/// The path of the key is walked from the root; `siblings` are the hashes beside it at
/// each level, and `terminal` is what the path ends in after `siblings.len()` levels:
/// the key's own leaf, an empty subtree, or the leaf of another key that shares the
/// path so far (which, as leaves sit where they are alone, shows the key is absent).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct StateProof {
    /// The key proved (`0x`-hex in JSON).
    #[serde(with = "hex_bytes")]
    pub key: Vec<u8>,
    /// Sibling hashes along the key's path, from the root down.
    pub siblings: Vec<Hash>,
    /// Where the path ends.
    pub terminal: Terminal,
}

/// Where a key's path ends in a [`StateProof`].
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Terminal {
    /// The key's own leaf: the key holds `value`.
    Value {
        /// The value (`0x`-hex in JSON).
        #[serde(with = "hex_bytes")]
        value: Vec<u8>,
    },
    /// An empty subtree: the key is absent.
    Empty,
    /// The leaf of another key, whose path shares the key's path down to this leaf:
    /// the key is absent.
    OtherLeaf {
        /// The other key's path.
        key_path: Hash,
        /// The hash of the other key's value.
        value_hash: Hash,
    },
}

impl StateProof {
    /// The value this proof shows (None = absent).
    pub fn value(&self) -> Option<&[u8]> {
        match &self.terminal {
            Terminal::Value { value } => Some(value),
            Terminal::Empty | Terminal::OtherLeaf { .. } => None,
        }
    }

    /// The key this proof is about.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Checks the proof against a root, for this key and expected value (None = absence).
    pub fn verify(&self, root: &Hash, key: &[u8], value: Option<&[u8]>) -> Result<(), ProofError> {
        if self.key != key {
            return Err(ProofError::KeyMismatch {
                expected: short_hex(key),
                found: short_hex(&self.key),
            });
        }
        if self.value() != value {
            return Err(ProofError::ValueMismatch {
                expected: value.map(value_hash),
                found: self.value().map(value_hash),
            });
        }
        let computed = self.computed_root()?;
        if computed != *root {
            return Err(ProofError::RootMismatch {
                expected: *root,
                computed,
            });
        }
        Ok(())
    }

    /// The root this proof leads to, if it is well formed.
    pub fn computed_root(&self) -> Result<Hash, ProofError> {
        let depth = self.siblings.len();
        if depth > TREE_DEPTH {
            return Err(ProofError::TooDeep {
                depth,
                max: TREE_DEPTH,
            });
        }
        let path = key_path(&self.key);
        let mut hash = match &self.terminal {
            Terminal::Value { value } => leaf_hash(&path, &value_hash(value)),
            Terminal::Empty => EMPTY_ROOT,
            Terminal::OtherLeaf {
                key_path: other,
                value_hash,
            } => {
                if *other == path {
                    return Err(ProofError::Malformed {
                        reason: "the other leaf has the key's own path",
                    });
                }
                if !shares_prefix(other, &path, depth) {
                    return Err(ProofError::Malformed {
                        reason: "the other leaf does not lie on the key's path",
                    });
                }
                leaf_hash(other, value_hash)
            }
        };
        for (level, sibling) in self.siblings.iter().enumerate().rev() {
            hash = if path_bit(&path, level) {
                node_hash(sibling, &hash)
            } else {
                node_hash(&hash, sibling)
            };
        }
        Ok(hash)
    }
}

/// Byte strings as `0x`-hex text in serde formats.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&accord_types::codec::hex_encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        accord_types::codec::hex_decode("bytes", &text).map_err(serde::de::Error::custom)
    }
}
