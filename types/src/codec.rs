//! Strict decoding of bytes that arrive from the network or disk, and hex text helpers.
//!
//! Every decoder checks a size cap before it reads, refuses trailing bytes, and
//! reports failures as [`Error`] values; none panics on any input.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::Error;

/// Largest encoded transaction accepted anywhere.
pub const MAX_TRANSACTION_BYTES: usize = 64 * 1024;
/// Largest encoded block accepted anywhere (the chain spec may set a lower limit).
pub const MAX_BLOCK_BYTES: usize = 16 * 1024 * 1024;
/// Largest encoded consensus message (vote, proposal header, evidence).
pub const MAX_CONSENSUS_MESSAGE_BYTES: usize = 64 * 1024;
/// Largest encoded commit certificate (about 1,000 signers).
pub const MAX_CERTIFICATE_BYTES: usize = 128 * 1024;
/// Largest encoded receipt.
pub const MAX_RECEIPT_BYTES: usize = 1024 * 1024;

/// Encodes a value with borsh.
pub fn encode<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    // Exactly sized (borsh's own `to_vec` reserves a kilobyte for every value).
    // Serialising into a Vec only fails on writer errors, which a Vec never returns.
    let mut out = Vec::with_capacity(borsh::object_length(value).unwrap_or(0));
    let _ = value.serialize(&mut out);
    out
}

/// Decodes exactly one `T` from `bytes`: at most `max` bytes, no trailing bytes.
pub fn decode<T: BorshDeserialize>(
    what: &'static str,
    bytes: &[u8],
    max: usize,
) -> Result<T, Error> {
    if bytes.len() > max {
        return Err(Error::TooLarge {
            what,
            len: bytes.len(),
            max,
        });
    }
    let mut rest = bytes;
    let value = T::deserialize(&mut rest).map_err(|e| Error::Malformed {
        what,
        reason: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(Error::Malformed {
            what,
            reason: format!("{} trailing bytes after the value", rest.len()),
        });
    }
    Ok(value)
}

/// Lower-case hex with a `0x` prefix.
pub fn hex_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().saturating_mul(2).saturating_add(2));
    out.push_str("0x");
    out.push_str(&hex::encode(bytes));
    out
}

/// Parses `0x`-prefixed or bare hex of any length.
pub fn hex_decode(what: &'static str, text: &str) -> Result<Vec<u8>, Error> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    hex::decode(digits).map_err(|e| Error::InvalidHex {
        what,
        reason: e.to_string(),
    })
}

/// Parses `0x`-prefixed or bare hex of exactly `N` bytes.
pub fn hex_decode_array<const N: usize>(what: &'static str, text: &str) -> Result<[u8; N], Error> {
    let bytes = hex_decode(what, text)?;
    let len = bytes.len();
    <[u8; N]>::try_from(bytes).map_err(|_| Error::InvalidHex {
        what,
        reason: format!("expected {N} bytes, found {len}"),
    })
}

/// Implements serde for a type through its `Display` and `FromStr`.
macro_rules! serde_via_str {
    ($ty:ty, $expecting:expr) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(Visitor)
            }
        }
    };
}
pub(crate) use serde_via_str;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_trailing_bytes_and_oversize() {
        let bytes = encode(&7u32);
        assert_eq!(decode::<u32>("n", &bytes, 16), Ok(7));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            decode::<u32>("n", &longer, 16),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            decode::<u32>("n", &bytes, 3),
            Err(Error::TooLarge { len: 4, max: 3, .. })
        ));
        assert!(matches!(
            decode::<u32>("n", &bytes[..2], 16),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn hex_accepts_prefix_and_checks_length() {
        assert_eq!(hex_decode_array::<2>("x", "0xabcd"), Ok([0xab, 0xcd]));
        assert_eq!(hex_decode_array::<2>("x", "ABCD"), Ok([0xab, 0xcd]));
        assert!(hex_decode_array::<2>("x", "0xabcdef").is_err());
        assert!(hex_decode_array::<2>("x", "0xzz").is_err());
        assert_eq!(hex_encode(&[1, 2]), "0x0102");
    }
}
