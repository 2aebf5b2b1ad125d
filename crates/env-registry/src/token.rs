//! Environment tokens: `lsenv.<universe>.<environment id>.<random>`.
//!
//! The universe and environment are in the clear so the gateway can open the right
//! catalog and record before verifying anything; only the SHA-256 of the whole token
//! is stored, compared in constant time. The random part is 32 bytes from the OS.

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "lsenv.";
/// Longest token accepted for parsing (a universe id is far shorter).
pub const TOKEN_CHARS_MAX: usize = 512;

/// A freshly minted token: shown once to whoever created the environment.
pub struct EnvironmentToken {
    pub value: SecretString,
    pub sha256: String,
}

impl std::fmt::Debug for EnvironmentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvironmentToken(..)")
    }
}

impl EnvironmentToken {
    /// `None` when the OS has no randomness to give.
    pub fn mint(universe: &str, environment_id: &str) -> Option<Self> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).ok()?;
        let random = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
        let value = format!("{PREFIX}{universe}.{environment_id}.{random}");
        let sha256 = digest(&value);
        Some(Self {
            value: SecretString::from(value),
            sha256,
        })
    }
}

/// A new environment id: 32 lowercase hex characters from the OS.
pub fn new_environment_id() -> Option<String> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).ok()?;
    Some(hex::encode(random))
}

/// The universe and environment id a token names, before anything is verified.
pub fn parse_token(token: &str) -> Option<(String, String)> {
    if token.len() > TOKEN_CHARS_MAX {
        return None;
    }
    let rest = token.strip_prefix(PREFIX)?;
    let mut parts = rest.rsplitn(3, '.');
    let random = parts.next()?;
    let environment = parts.next()?;
    let universe = parts.next()?;
    let hex_id = environment.len() == 32
        && environment
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if universe.is_empty() || random.is_empty() || !hex_id {
        return None;
    }
    Some((universe.to_owned(), environment.to_owned()))
}

/// Whether `token` hashes to `sha256` (hex), compared in constant time.
pub fn verify(token: &SecretString, sha256: &str) -> bool {
    digest(token.expose_secret())
        .as_bytes()
        .ct_eq(sha256.as_bytes())
        .into()
}

fn digest(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_token_names_its_universe_and_environment_and_verifies_against_its_digest() {
        let id = new_environment_id().unwrap();
        let token = EnvironmentToken::mint("u.with.dots", &id).unwrap();
        let (universe, environment) = parse_token(token.value.expose_secret()).unwrap();
        assert_eq!(
            (universe.as_str(), environment.as_str()),
            ("u.with.dots", id.as_str())
        );
        assert!(verify(&token.value, &token.sha256));
        let other = EnvironmentToken::mint("u.with.dots", &id).unwrap();
        assert!(!verify(&other.value, &token.sha256));
        assert!(!format!("{token:?}").contains(token.value.expose_secret()));
    }

    #[test]
    fn malformed_tokens_name_nothing() {
        for bad in [
            "",
            "lsenv.",
            "lsenv.u.notanid.x",
            "other.u.0123456789abcdef0123456789abcdef.x",
            "lsenv..0123456789abcdef0123456789abcdef.x",
            "lsenv.u.0123456789abcdef0123456789abcdef.",
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
        assert!(parse_token(&format!("lsenv.{}", "u".repeat(600))).is_none());
    }
}
