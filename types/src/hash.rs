//! 32-byte blake3 hashes with domain separation.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::codec::{hex_decode_array, hex_encode};
use crate::Error;

/// A domain tag: what kind of object a hash commits to.
///
/// Hashing writes the tag's length, the tag, then the data, so two objects of
/// different kinds never share a hash even when their bytes coincide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Domain(&'static str);

impl Domain {
    /// A domain tag; tags are ASCII and shorter than 256 bytes by convention.
    pub const fn new(tag: &'static str) -> Self {
        Self(tag)
    }

    /// The tag text.
    pub const fn tag(self) -> &'static str {
        self.0
    }

    /// Transaction hashes.
    pub const TRANSACTION: Self = Self::new("accord/transaction");
    /// What a transaction signature covers.
    pub const TRANSACTION_SIGNING: Self = Self::new("accord/transaction-signing/v1");
    /// Block header hashes (the block hash).
    pub const HEADER: Self = Self::new("accord/header");
    /// What a consensus vote signature covers.
    pub const VOTE_SIGNING: Self = Self::new("accord/vote-signing/v1");
    /// What a consensus proposal signature covers.
    pub const PROPOSAL_SIGNING: Self = Self::new("accord/proposal-signing/v1");
    /// Commit certificate hashes.
    pub const CERTIFICATE: Self = Self::new("accord/commit-certificate");
    /// Validator set hashes.
    pub const VALIDATOR_SET: Self = Self::new("accord/validator-set");
    /// Receipt hashes (leaves of the receipts root).
    pub const RECEIPT: Self = Self::new("accord/receipt");
    /// Evidence hashes (leaves of the evidence root).
    pub const EVIDENCE: Self = Self::new("accord/evidence");
    /// Merkle leaves.
    pub const MERKLE_LEAF: Self = Self::new("accord/merkle-leaf");
    /// Merkle inner nodes.
    pub const MERKLE_NODE: Self = Self::new("accord/merkle-node");
    /// Merkle roots (the item count and the top node).
    pub const MERKLE_ROOT: Self = Self::new("accord/merkle-root");
    /// Genesis (chain spec) hashes.
    pub const GENESIS: Self = Self::new("accord/genesis");
    /// Payload digests of proposals and artifacts, when computed by accord tools.
    pub const PAYLOAD: Self = Self::new("accord/payload");
    /// Idempotency keys of execution requests.
    pub const IDEMPOTENCY: Self = Self::new("accord/idempotency");
    /// Deterministic key derivation for presets and tests.
    pub const KEY_DERIVATION: Self = Self::new("accord/key-derivation");
}

/// A 32-byte blake3 hash. Hex (`0x…`) in JSON and text, raw bytes in borsh.
#[derive(
    Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct Hash([u8; 32]);

impl Hash {
    /// The all-zero hash, used as the parent of the genesis block.
    pub const ZERO: Self = Self([0; 32]);

    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The raw bytes, by value.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// Hashes `data` in `domain`.
    pub fn digest(domain: Domain, data: &[u8]) -> Self {
        Self::digest_parts(domain, &[data])
    }

    /// Hashes the concatenation of `parts` in `domain`.
    pub fn digest_parts(domain: Domain, parts: &[&[u8]]) -> Self {
        let mut hasher = Self::hasher(domain);
        for part in parts {
            hasher.update(part);
        }
        Self(*hasher.finalize().as_bytes())
    }

    /// Hashes the borsh encoding of `value` in `domain`.
    pub fn of_borsh<T: BorshSerialize + ?Sized>(domain: Domain, value: &T) -> Self {
        let mut hasher = HashWriter::new(Self::hasher(domain));
        // Writing into a hasher cannot fail; borsh only fails on writer errors.
        let _ = borsh::to_writer(&mut hasher, value);
        hasher.finish()
    }

    /// A blake3 hasher already primed with `domain`.
    pub fn hasher(domain: Domain) -> blake3::Hasher {
        let tag = domain.tag().as_bytes();
        let mut hasher = blake3::Hasher::new();
        // Tags are short constants; the length byte saturates for absurd tags.
        hasher.update(&[u8::try_from(tag.len()).unwrap_or(u8::MAX)]);
        hasher.update(tag);
        hasher
    }

    /// Parses `0x`-prefixed or bare hex.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        hex_decode_array("hash", text).map(Self)
    }
}

/// Feeds borsh's many small writes to blake3 in chunk-sized pieces (the digest does not
/// depend on how the input is split; the per-call cost of `update` does).
struct HashWriter {
    hasher: blake3::Hasher,
    buf: [u8; HashWriter::BUF],
    len: usize,
}

impl HashWriter {
    /// One blake3 chunk.
    const BUF: usize = 1024;

    fn new(hasher: blake3::Hasher) -> Self {
        Self {
            hasher,
            buf: [0; Self::BUF],
            len: 0,
        }
    }

    fn drain(&mut self) {
        if let Some(pending) = self.buf.get(..self.len) {
            self.hasher.update(pending);
        }
        self.len = 0;
    }

    fn finish(mut self) -> Hash {
        self.drain();
        Hash(*self.hasher.finalize().as_bytes())
    }
}

impl std::io::Write for HashWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let end = self.len.saturating_add(data.len());
        if end > Self::BUF {
            self.drain();
        }
        match self
            .buf
            .get_mut(self.len..self.len.saturating_add(data.len()))
        {
            Some(slot) => {
                slot.copy_from_slice(data);
                self.len = self.len.saturating_add(data.len());
            }
            // Larger than the buffer: straight through.
            None => {
                self.hasher.update(data);
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex_encode(&self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl FromStr for Hash {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_hex(s)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

crate::codec::serde_via_str!(Hash, "a 0x-prefixed 32-byte hex hash");
