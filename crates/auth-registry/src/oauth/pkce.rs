//! PKCE S256 (RFC 7636) and the `state` parameter.
//!
//! `state` is `<universe>.<flow_id>.<random>`: the callback arrives without an API
//! key, so the state alone must say which universe's flow it completes; the random
//! part (256 bits) proves the caller saw the authorization URL. The flow keeps only
//! the random part's SHA-256, compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::records::FlowId;

/// Random bytes behind a verifier or a state: 256 bits.
const RANDOM_BYTES: usize = 32;
/// Longest state accepted back from a callback.
pub const STATE_BYTES_MAX: usize = 512;

fn random_b64() -> Option<String> {
    let bytes = zeroize::Zeroizing::new(crate::keyring::random_bytes::<RANDOM_BYTES>().ok()?);
    Some(URL_SAFE_NO_PAD.encode(*bytes))
}

/// A PKCE pair: the verifier stays sealed in the flow, the challenge goes out.
pub struct Pkce {
    pub verifier: SecretString,
    pub challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

impl Pkce {
    /// `None` when the OS random source fails.
    pub fn generate() -> Option<Self> {
        // 43 characters of the unreserved set: within RFC 7636's 43..=128.
        let verifier = random_b64()?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Some(Self {
            verifier: SecretString::from(verifier),
            challenge,
        })
    }
}

/// A fresh `state` and the digest its flow keeps.
pub struct StateToken {
    pub value: SecretString,
    /// Hex SHA-256 of the random part.
    pub digest: String,
}

impl std::fmt::Debug for StateToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateToken(..)")
    }
}

impl StateToken {
    pub fn generate(universe: &str, flow: &FlowId) -> Option<Self> {
        let random = random_b64()?;
        let digest = hex_digest(&random);
        Some(Self {
            value: SecretString::from(format!("{universe}.{flow}.{random}")),
            digest,
        })
    }
}

fn hex_digest(random: &str) -> String {
    Sha256::digest(random.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Splits a state into universe, flow and random part. Flow ids and the random part
/// hold no '.', so splitting from the right is unambiguous whatever the universe id.
fn split(state: &str) -> Option<(&str, FlowId, &str)> {
    if state.len() > STATE_BYTES_MAX {
        return None;
    }
    let mut parts = state.rsplitn(3, '.');
    let random = parts.next()?;
    let flow = FlowId::new(parts.next()?).ok()?;
    let universe = parts.next()?;
    if universe.is_empty() || random.is_empty() || !flow.as_str().starts_with("flow_") {
        return None;
    }
    Some((universe, flow, random))
}

/// Which universe and flow a callback's `state` names, before anything is verified:
/// the callback host uses it to open that universe's registry.
pub fn parse_state(state: &str) -> Option<(String, FlowId)> {
    split(state).map(|(universe, flow, _)| (universe.to_owned(), flow))
}

/// Whether `state` names `universe` and `flow` and its random part hashes to
/// `digest`, compared in constant time.
pub(crate) fn state_matches(
    state: &SecretString,
    universe: &str,
    flow: &FlowId,
    digest: &str,
) -> bool {
    let Some((u, f, random)) = split(state.expose_secret()) else {
        return false;
    };
    let same_digest: bool = hex_digest(random)
        .as_bytes()
        .ct_eq(digest.as_bytes())
        .into();
    u == universe && &f == flow && same_digest
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pkce_challenge_is_the_s256_of_the_verifier() {
        let pkce = Pkce::generate().unwrap();
        let verifier = pkce.verifier.expose_secret();
        assert_eq!(verifier.len(), 43);
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        assert_eq!(pkce.challenge, expected);
        assert!(!format!("{pkce:?}").contains(verifier));
    }

    #[test]
    fn state_names_universe_and_flow_and_verifies_its_random_part() {
        let flow = FlowId::generate();
        let token = StateToken::generate("uni.with.dots", &flow).unwrap();
        let (universe, parsed) = parse_state(token.value.expose_secret()).unwrap();
        assert_eq!((universe.as_str(), &parsed), ("uni.with.dots", &flow));
        assert!(state_matches(
            &token.value,
            "uni.with.dots",
            &flow,
            &token.digest
        ));
        let forged = SecretString::from(format!("uni.with.dots.{flow}.AAAA"));
        assert!(!state_matches(
            &forged,
            "uni.with.dots",
            &flow,
            &token.digest
        ));
        assert!(!state_matches(&token.value, "other", &flow, &token.digest));
        for bad in ["", "a.b", "u.notaflow.x", "u.flow_x.", &"u.".repeat(400)] {
            assert!(parse_state(bad).is_none(), "{bad}");
        }
    }
}
