//! ed25519 keys and signatures with one acceptance rule (ZIP-215) for single and batch verification.
//!
//! # Why ZIP-215
//!
//! Nodes must agree on which signatures are valid, whether a signature was checked
//! alone (a vote as it arrives) or in a batch (a block's transactions). ed25519-dalek's
//! `verify_strict` and its `verify_batch` disagree on signatures with small-order
//! components; ZIP-215 defines one rule — cofactored verification, `s` must be
//! canonical, point encodings may be non-canonical — which `ed25519-zebra`
//! implements for both paths (on curve25519-dalek 4, which uses AVX2 where the CPU
//! has it). [`verify_batch`] goes further: a batch failure is
//! resolved by checking each signature alone, so its verdict per item is by
//! construction the verdict of [`PublicKey::verify`].

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use rand_core::{CryptoRng, RngCore, SeedableRng};
use rayon::prelude::*;

use crate::codec::{hex_decode_array, hex_encode};
use crate::hash::{Domain, Hash};
use crate::Error;

/// An ed25519 public key as its 32 encoded bytes; it is checked when used.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct PublicKey([u8; 32]);

/// An ed25519 signature as its 64 bytes (`R ‖ s`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct Signature([u8; 64]);

/// An ed25519 signing key and its public key.
#[derive(Clone)]
pub struct Keypair {
    signing: ed25519_dalek::SigningKey,
}

impl PublicKey {
    /// Wraps encoded bytes without checking them.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The encoded bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses `0x`-prefixed or bare hex.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        hex_decode_array("public key", text).map(Self)
    }

    /// Whether the bytes decode to a curve point (non-canonical encodings are accepted, as in ZIP-215).
    pub fn is_valid_point(&self) -> bool {
        ed25519_zebra::VerificationKey::try_from(self.0).is_ok()
    }

    /// Whether the key is a point of small order (a "weak" key). Under ZIP-215's
    /// cofactored equation `[8]sB = [8]R + [8]kA`, such a key verifies the signature
    /// `(R = identity, s = 0)` on every message, so anyone could sign as it. For any
    /// other key that probe fails (barring a hash equal to zero modulo the group
    /// order). Keys given roles or validator seats must not be weak.
    pub fn is_small_order(&self) -> bool {
        let mut probe = [0u8; 64];
        probe[0] = 1; // the encoding of the identity point; s stays zero
        self.verify(b"accord/small-order-probe", &Signature(probe))
            .is_ok()
    }

    /// Verifies `signature` over `message` under the ZIP-215 rules.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), Error> {
        let key = ed25519_zebra::VerificationKey::try_from(self.0)
            .map_err(|_| Error::InvalidPublicKey { key: *self })?;
        key.verify(&ed25519_zebra::Signature::from(signature.0), message)
            .map_err(|_| Error::InvalidSignature { signer: *self })
    }
}

impl Signature {
    /// Wraps the 64 signature bytes.
    pub const fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    /// The signature bytes.
    pub const fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// Parses `0x`-prefixed or bare hex.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        hex_decode_array("signature", text).map(Self)
    }
}

impl Keypair {
    /// The key whose secret is `seed` (the 32-byte ed25519 secret key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// A fresh key from a cryptographic random number generator.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::from_seed(&seed)
    }

    /// A key derived deterministically from a label, for presets and tests only.
    pub fn derive_insecure(label: &str) -> Self {
        Self::from_seed(Hash::digest(Domain::KEY_DERIVATION, label.as_bytes()).as_bytes())
    }

    /// The 32-byte secret, for writing a key file.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer;
        Signature(self.signing.sign(message).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

/// One item of a batch: who signed, what, and the signature.
#[derive(Debug, Clone, Copy)]
pub struct SignedMessage<'a> {
    /// The claimed signer.
    pub signer: &'a PublicKey,
    /// The signed bytes.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a Signature,
}

/// Items per batch job; each job runs on one rayon worker.
const BATCH_CHUNK: usize = 256;
/// Below this many items a batch is not worth setting up.
const MIN_BATCH: usize = 4;

/// Verifies many signatures at once, spreading the work over rayon.
///
/// Accepts exactly the signatures that [`PublicKey::verify`] accepts. On failure the
/// error lists every failing index, so a caller can drop just those items.
pub fn verify_batch(items: &[SignedMessage<'_>]) -> Result<(), Error> {
    let mut invalid: Vec<usize> = items
        .par_chunks(BATCH_CHUNK)
        .enumerate()
        .flat_map_iter(|(chunk_index, chunk)| {
            let offset = chunk_index.saturating_mul(BATCH_CHUNK);
            verify_chunk(chunk)
                .into_iter()
                .map(move |i| offset.saturating_add(i))
        })
        .collect();
    if invalid.is_empty() {
        return Ok(());
    }
    invalid.sort_unstable();
    Err(Error::BatchInvalid {
        invalid,
        total: items.len(),
    })
}

/// Indices (within the chunk) of items that fail single verification.
fn verify_chunk(chunk: &[SignedMessage<'_>]) -> Vec<usize> {
    if chunk.len() >= MIN_BATCH {
        let mut verifier = ed25519_zebra::batch::Verifier::new();
        for item in chunk {
            let key = ed25519_zebra::VerificationKeyBytes::from(*item.signer.as_bytes());
            verifier.queue((
                key,
                ed25519_zebra::Signature::from(item.signature.0),
                &item.message,
            ));
        }
        if verifier.verify(batch_rng(chunk)).is_ok() {
            return Vec::new();
        }
    }
    // Either a small chunk or a failed batch: the single rule decides each item.
    chunk
        .iter()
        .enumerate()
        .filter(|(_, item)| item.signer.verify(item.message, item.signature).is_err())
        .map(|(i, _)| i)
        .collect()
}

/// The batch coefficients' random source is seeded from a hash of the whole chunk (a
/// Fiat–Shamir transcript): unpredictable to whoever chose the signatures, and free
/// of ambient randomness. The coefficients themselves may still differ between runs,
/// because `ed25519-zebra` groups items by key in a `HashMap`; that cannot change a
/// verdict, since a chunk of valid signatures always passes and a failing chunk is
/// re-checked one signature at a time.
fn batch_rng(chunk: &[SignedMessage<'_>]) -> rand_chacha::ChaCha20Rng {
    let mut hasher = Hash::hasher(Domain::new("accord/batch-verification"));
    for item in chunk {
        hasher.update(item.signer.as_bytes());
        hasher.update(item.signature.as_bytes());
        hasher.update(&(item.message.len() as u64).to_le_bytes());
        hasher.update(item.message);
    }
    rand_chacha::ChaCha20Rng::from_seed(*hasher.finalize().as_bytes())
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex_encode(&self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_hex(s)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex_encode(&self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl FromStr for Signature {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_hex(s)
    }
}

crate::codec::serde_via_str!(PublicKey, "a 0x-prefixed 32-byte hex ed25519 public key");
crate::codec::serde_via_str!(Signature, "a 0x-prefixed 64-byte hex ed25519 signature");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_order_keys_are_detected() {
        // Encodings of points of order 1, 2, 4 and 8 (canonical and not).
        let small = [
            "0x0100000000000000000000000000000000000000000000000000000000000000",
            "0xecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "0x0000000000000000000000000000000000000000000000000000000000000000",
            "0x0000000000000000000000000000000000000000000000000000000000000080",
            "0x26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
            "0xc7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            "0xeeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ];
        for hex in small {
            let key = PublicKey::from_hex(hex).unwrap();
            assert!(key.is_valid_point(), "{hex}");
            assert!(key.is_small_order(), "{hex}");
        }
        for label in ["a", "b", "c"] {
            assert!(!Keypair::derive_insecure(label).public().is_small_order());
        }
    }
}
