//! Identifier newtypes: heights, rounds, regions, proposals, nonces, chain ids, timestamps.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::Error;

macro_rules! number_newtype {
    ($(#[$meta:meta])* $name:ident($inner:ty)) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash,
            BorshSerialize, BorshDeserialize, Serialize, Deserialize,
        )]
        #[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The raw number.
            pub const fn get(self) -> $inner {
                self.0
            }

            /// The next value, or `None` at the maximum.
            pub fn checked_next(self) -> Option<Self> {
                self.0.checked_add(1).map(Self)
            }

            /// The next value, staying at the maximum.
            pub fn saturating_next(self) -> Self {
                Self(self.0.saturating_add(1))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<$inner> for $name {
            fn from(value: $inner) -> Self {
                Self(value)
            }
        }
    };
}

number_newtype!(
    /// A block height; genesis state is height 0 and the first block is height 1.
    Height(u64)
);
number_newtype!(
    /// A consensus round within a height, starting at 0.
    Round(u32)
);
number_newtype!(
    /// A governance proposal id, assigned in order of submission starting at 1.
    ProposalId(u64)
);
number_newtype!(
    /// A per-account transaction counter; the next valid nonce is the count of executed transactions.
    Nonce(u64)
);
number_newtype!(
    /// Milliseconds since the Unix epoch, as written in block headers.
    Timestamp(u64)
);

impl Height {
    /// The height below this one, or `None` at zero.
    pub fn checked_prev(self) -> Option<Self> {
        self.0.checked_sub(1).map(Self)
    }

    /// This height plus `blocks`, staying at the maximum.
    pub fn saturating_add(self, blocks: u64) -> Self {
        Self(self.0.saturating_add(blocks))
    }
}

/// Checks a lower-case label: a letter first, then letters, digits, `-` or `_`.
fn check_label(what: &'static str, value: &str, max: usize) -> Result<(), Error> {
    let invalid = |reason| Error::InvalidIdentifier {
        what,
        value: value.chars().take(64).collect(),
        reason,
    };
    let mut chars = value.chars();
    match chars.next() {
        None => return Err(invalid("must not be empty")),
        Some(c) if !c.is_ascii_lowercase() => {
            return Err(invalid("must start with a lower-case letter"))
        }
        Some(_) => {}
    }
    if value.len() > max {
        return Err(invalid("is too long"));
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        return Err(invalid("may contain only a-z, 0-9, '-' and '_'"));
    }
    Ok(())
}

macro_rules! label_newtype {
    ($(#[$meta:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize)]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Validates and wraps `value`.
            pub fn new(value: impl Into<String>) -> Result<Self, Error> {
                let value = value.into();
                check_label($what, &value, Self::MAX_LEN)?;
                Ok(Self(value))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl BorshDeserialize for $name {
            fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
                let value = String::deserialize_reader(reader)?;
                Self::new(value).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
            }
        }

        crate::codec::serde_via_str!($name, concat!("a ", $what));
    };
}

label_newtype!(
    /// A region name such as `eu` or `us-east`: lower-case letters, digits, `-`, `_`.
    RegionId,
    "region id",
    32
);
label_newtype!(
    /// The chain's id, part of everything that is signed so signatures cannot cross
    /// chains: a name and, for a chain made from a spec, its genesis hash's first half
    /// (see the chain spec's `chain_id`).
    ChainId,
    "chain id",
    100
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_validated_everywhere() {
        assert!(RegionId::new("eu-west_1").is_ok());
        for bad in ["", "EU", "1eu", "eu west", "é", &"a".repeat(33)] {
            assert!(RegionId::new(bad).is_err(), "{bad:?} accepted");
        }
        let encoded = borsh::to_vec(&"EU".to_string()).unwrap();
        assert!(borsh::from_slice::<RegionId>(&encoded).is_err());
        assert!(serde_json::from_str::<RegionId>("\"EU\"").is_err());
        let eu: RegionId = serde_json::from_str("\"eu\"").unwrap();
        assert_eq!(eu.as_str(), "eu");
    }

    #[test]
    fn numbers_saturate_and_check() {
        assert_eq!(Height(u64::MAX).checked_next(), None);
        assert_eq!(Height(u64::MAX).saturating_next(), Height(u64::MAX));
        assert_eq!(Height(0).checked_prev(), None);
        assert_eq!(Round(1).checked_next(), Some(Round(2)));
    }
}
