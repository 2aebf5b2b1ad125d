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

    /// The ref of a raw 32-byte digest (as a catalog stores it).
    pub fn from_digest_bytes(digest: &[u8; 32]) -> Self {
        Self::from_digest(digest)
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

/// Every well-formed ref written out in `bytes` (`sha256:` and 64 lowercase hex
/// digits not followed by another hex digit), in order, repeats included.
///
/// This is how storage finds what a record or a blob refers to without knowing its
/// format (garbage collection marks by it): refs are written the same way in every
/// encoding the product stores (canonical JSON, JSONL, jsonb text), so a scan of the
/// bytes finds each one. Text that merely looks like a ref is found too, which can
/// only keep a blob alive, never lose one.
pub fn refs_in(bytes: &[u8]) -> impl Iterator<Item = BlobRef> + '_ {
    let prefix = PREFIX.as_bytes();
    let is_hex = |b: &u8| matches!(b, b'0'..=b'9' | b'a'..=b'f');
    let mut at = 0;
    std::iter::from_fn(move || {
        while at + prefix.len() + HEX_LEN <= bytes.len() {
            // Jump to the next possible start: refs are rare in most bytes.
            let Some(offset) = bytes[at..].iter().position(|&b| b == b's') else {
                at = bytes.len();
                return None;
            };
            let start = at + offset;
            at = start + 1;
            let digits = start + prefix.len();
            let end = digits + HEX_LEN;
            if end > bytes.len() || &bytes[start..digits] != prefix {
                continue;
            }
            if !bytes[digits..end].iter().all(is_hex) || bytes.get(end).is_some_and(is_hex) {
                continue;
            }
            at = end;
            // Validated above: the prefix and 64 lowercase hex digits, all ASCII.
            let text = String::from_utf8_lossy(&bytes[start..end]).into_owned();
            return Some(BlobRef(text));
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_found_in_any_bytes() {
        let a = BlobRef::of_bytes(b"a");
        let b = BlobRef::of_bytes(b"b");
        let text = format!(
            "{{\"x\":\"{a}\",\"y\":[\"{b}\"]}} sha256:{} {a}0 sha:{} {b}",
            "A".repeat(64),
            "0".repeat(64)
        );
        let found: Vec<_> = refs_in(text.as_bytes()).collect();
        // The upper-case digest, the one followed by a 65th digit and the bare hex are
        // not refs; the repeat at the end is reported again.
        assert_eq!(found, vec![a, b.clone(), b]);
        let tail = format!("sha256:{}", "f".repeat(63));
        assert_eq!(refs_in(tail.as_bytes()).count(), 0);
        assert_eq!(refs_in(b"").count(), 0);
    }

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
