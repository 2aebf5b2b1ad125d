//! Content addresses: `sha256:` followed by 64 lowercase hex digits.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const PREFIX: &str = "sha256:";
const HEX_LEN: usize = 64;

/// A reference to an immutable blob in the content-addressed store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlobRef(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobRefError {
    #[error("blob ref must start with `sha256:`")]
    MissingPrefix,
    #[error("blob ref digest must be {HEX_LEN} hex digits, found {found}")]
    WrongLength { found: usize },
    #[error("blob ref digest must be lowercase hex, found {found:?}")]
    InvalidDigit { found: char },
}

impl BlobRef {
    /// Parses and validates a ref.
    pub fn parse(value: &str) -> Result<Self, BlobRefError> {
        let digest = value
            .strip_prefix(PREFIX)
            .ok_or(BlobRefError::MissingPrefix)?;
        if digest.len() != HEX_LEN {
            return Err(BlobRefError::WrongLength {
                found: digest.len(),
            });
        }
        if let Some(found) = digest.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(BlobRefError::InvalidDigit { found });
        }
        Ok(Self(value.to_owned()))
    }

    /// The ref of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self::from_digest(&Sha256::digest(bytes))
    }

    pub(crate) fn from_digest(digest: &[u8]) -> Self {
        Self(format!("{PREFIX}{}", hex::encode(digest)))
    }

    /// The 64 hex digits without the `sha256:` prefix.
    pub fn hex_digest(&self) -> &str {
        &self.0[PREFIX.len()..]
    }

    /// The raw 32-byte digest.
    pub fn digest_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        // The constructor guarantees 64 lowercase hex digits.
        hex::decode_to_slice(self.hex_digest(), &mut out)
            .unwrap_or_else(|_| unreachable!("BlobRef holds validated hex"));
        out
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `bytes` hash to this ref.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Self::of_bytes(bytes) == *self
    }
}

impl TryFrom<String> for BlobRef {
    type Error = BlobRefError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl std::str::FromStr for BlobRef {
    type Err = BlobRefError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl From<BlobRef> for String {
    fn from(r: BlobRef) -> String {
        r.0
    }
}

impl fmt::Display for BlobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_known_vector() {
        let r = BlobRef::of_bytes(b"abc");
        assert_eq!(
            r.as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(r.matches(b"abc"));
        assert!(!r.matches(b"abd"));
        assert_eq!(BlobRef::from_digest(&r.digest_bytes()), r);
    }

    #[test]
    fn parse_validates() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert!(BlobRef::parse(&good).is_ok());
        assert_eq!(BlobRef::parse("md5:00"), Err(BlobRefError::MissingPrefix));
        assert_eq!(
            BlobRef::parse("sha256:abc"),
            Err(BlobRefError::WrongLength { found: 3 })
        );
        let upper = format!("sha256:{}", "A".repeat(64));
        assert_eq!(
            BlobRef::parse(&upper),
            Err(BlobRefError::InvalidDigit { found: 'A' })
        );
        assert!(serde_json::from_str::<BlobRef>("\"sha256:zz\"").is_err());
    }
}
