//! Sealing credentials at rest: AES-256-GCM under a ring of deployment keys.
//!
//! `LIGHTSPEED_SECRET_KEYS` is `kid:base64(32 bytes)[,kid:base64(32 bytes)…]`. The
//! first key seals; every key opens, so a key is rotated by putting a new one first
//! and keeping the old one until nothing sealed under it remains. Each seal draws a
//! fresh 96-bit nonce from the OS. The associated data binds the universe, the
//! purpose and the record's name, so a ciphertext copied to another universe, record
//! or field fails to open instead of decrypting as someone else's credential.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret as _, SecretBox};
use zeroize::Zeroizing;

/// AES-GCM's standard nonce: 96 bits.
pub const NONCE_BYTES: usize = 12;
/// AES-256: 32-byte keys.
pub const KEY_BYTES: usize = 32;
/// Longest key id: ids are stored beside every sealed value.
pub const KEY_ID_BYTES_MAX: usize = 32;
/// Most keys one ring holds: rotation needs two or three, never hundreds.
pub const KEYS_MAX: usize = 16;
/// Version tag of [`Sealed::to_bytes`] and of the associated data.
const FORMAT_V1: u8 = 1;
const AAD_DOMAIN: &[u8] = b"lightspeed/auth-registry/v1";

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The key list is malformed; the reason never quotes key material.
    #[error("invalid secret keys: {reason}")]
    InvalidKeys { reason: String },
    #[error("a value was sealed with key {key_id}, which the keyring does not hold")]
    UnknownKey { key_id: String },
    /// Wrong key, wrong universe/purpose/name, or tampered bytes: AES-GCM cannot tell
    /// which, and neither do we.
    #[error("a sealed value failed to open")]
    OpenFailed,
    #[error("sealing failed")]
    SealFailed,
    #[error("the operating system's random source failed")]
    Random,
    #[error("sealed bytes are malformed: {reason}")]
    Malformed { reason: &'static str },
    #[error("key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl KeyringError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidKeys { .. } => "keyring.invalidKeys",
            Self::UnknownKey { .. } => "keyring.unknownKey",
            Self::OpenFailed => "keyring.openFailed",
            Self::SealFailed => "keyring.sealFailed",
            Self::Random => "keyring.random",
            Self::Malformed { .. } => "keyring.malformed",
            Self::KeyFile { .. } => "keyring.keyFile",
        }
    }
}

/// What a sealed value is for; part of its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A secret stored by name.
    Secret,
    /// A grant's OAuth access token.
    AccessToken,
    /// A grant's OAuth refresh token.
    RefreshToken,
    /// An OAuth client secret carried by a grant or flow.
    ClientSecret,
    /// A flow's PKCE code verifier.
    PkceVerifier,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::AccessToken => "accessToken",
            Self::RefreshToken => "refreshToken",
            Self::ClientSecret => "clientSecret",
            Self::PkceVerifier => "pkceVerifier",
        }
    }
}

/// Where a sealed value belongs: the associated data of its seal.
#[derive(Debug, Clone, Copy)]
pub struct SealContext<'a> {
    pub universe: &'a str,
    pub purpose: Purpose,
    /// The record's name or id (secret name, grant id, flow id).
    pub name: &'a str,
}

impl SealContext<'_> {
    /// Length-prefixed fields after a domain tag: no two contexts encode alike, even
    /// when one field's text ends where another begins.
    fn associated_data(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(64 + self.universe.len() + self.name.len());
        aad.extend_from_slice(AAD_DOMAIN);
        aad.push(FORMAT_V1);
        for field in [self.universe, self.purpose.as_str(), self.name] {
            // Fields are bounded far below 4 GiB (names and ids are validated).
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            aad.extend_from_slice(&len.to_be_bytes());
            aad.extend_from_slice(field.as_bytes());
        }
        aad
    }
}

/// A sealed value: which key, the nonce, and ciphertext with its tag.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: [u8; NONCE_BYTES],
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("ciphertext_bytes", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl Sealed {
    /// One self-describing byte string (version, key id length and id, nonce,
    /// ciphertext): how Postgres stores a sealed part in one `bytea`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(2 + self.key_id.len() + NONCE_BYTES + self.ciphertext.len());
        out.push(FORMAT_V1);
        // Key ids are at most KEY_ID_BYTES_MAX bytes (checked on parse and on read).
        out.push(u8::try_from(self.key_id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(self.key_id.as_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyringError> {
        let malformed = |reason| KeyringError::Malformed { reason };
        let [version, id_len, rest @ ..] = bytes else {
            return Err(malformed("too short"));
        };
        if *version != FORMAT_V1 {
            return Err(malformed("unknown version"));
        }
        let id_len = usize::from(*id_len);
        if id_len == 0 || id_len > KEY_ID_BYTES_MAX || rest.len() < id_len + NONCE_BYTES {
            return Err(malformed("bad key id length"));
        }
        let (key_id, rest) = rest.split_at(id_len);
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let key_id = std::str::from_utf8(key_id).map_err(|_| malformed("key id is not UTF-8"))?;
        let mut fixed = [0u8; NONCE_BYTES];
        fixed.copy_from_slice(nonce);
        Ok(Self {
            key_id: key_id.to_owned(),
            nonce: fixed,
            ciphertext: ciphertext.to_vec(),
        })
    }
}

/// JSON records (store-fs) carry a sealed value as base64 of [`Sealed::to_bytes`].
impl serde::Serialize for Sealed {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(self.to_bytes()))
    }
}

impl<'de> serde::Deserialize<'de> for Sealed {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = STANDARD.decode(text).map_err(serde::de::Error::custom)?;
        Sealed::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
}

/// The deployment's keys. Debug shows key ids only.
pub struct Keyring {
    /// Never empty; the first seals.
    keys: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|key| key.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

impl Keyring {
    /// Parses `kid:base64(32 bytes)` entries separated by commas (the value of
    /// `LIGHTSPEED_SECRET_KEYS`). Errors name the entry's position, never its bytes.
    pub fn parse(value: &str) -> Result<Self, KeyringError> {
        let invalid = |reason: String| KeyringError::InvalidKeys { reason };
        let mut keys: Vec<Key> = Vec::new();
        for (index, entry) in value.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            if keys.len() == KEYS_MAX {
                return Err(invalid(format!("more than {KEYS_MAX} keys")));
            }
            let Some((id, encoded)) = entry.split_once(':') else {
                return Err(invalid(format!("entry {index} is not kid:base64")));
            };
            let id = id.trim();
            if !valid_key_id(id) {
                return Err(invalid(format!(
                    "entry {index}: a key id is 1-{KEY_ID_BYTES_MAX} of [A-Za-z0-9_-]"
                )));
            }
            if keys.iter().any(|key| key.id == id) {
                return Err(invalid(format!("key id {id} appears twice")));
            }
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| invalid(format!("key {id} is not base64")))?,
            );
            let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| {
                invalid(format!(
                    "key {id} is {} bytes, not {KEY_BYTES}",
                    bytes.len()
                ))
            })?;
            keys.push(Key {
                id: id.to_owned(),
                cipher,
            });
        }
        if keys.is_empty() {
            return Err(invalid("no keys".into()));
        }
        Ok(Self { keys })
    }

    /// The keyring in `path`, or a new one-key ring written there (mode 0600) when the
    /// file does not exist: the embedded dev server's keys, kept across restarts.
    pub fn load_or_create_file(path: &Path) -> Result<Self, KeyringError> {
        let key_file = |source| KeyringError::KeyFile {
            path: path.to_owned(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => return Self::parse(&Zeroizing::new(text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(key_file(err)),
        }
        let key = Zeroizing::new(random_bytes::<KEY_BYTES>()?);
        let line = Zeroizing::new(format!("dev1:{}\n", STANDARD.encode(*key)));
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(key_file)?;
        }
        // Written whole to a file of this process's own, then linked into place: a
        // hard link is created atomically and only if the name is free, so starters
        // racing never overwrite each other's key, and none reads a half-written file
        // (a plain create-then-write would show a racer an empty one).
        let suffix: [u8; 8] = random_bytes::<8>()?;
        let temporary = path.with_extension(format!("tmp-{}", hex_of(&suffix)));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&temporary).and_then(|mut file| {
            file.write_all(line.as_bytes())?;
            file.sync_all()
        });
        if let Err(err) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(key_file(err));
        }
        let linked = std::fs::hard_link(&temporary, path);
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => Self::parse(&line),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = Zeroizing::new(std::fs::read_to_string(path).map_err(key_file)?);
                Self::parse(&text)
            }
            Err(err) => Err(key_file(err)),
        }
    }

    /// The id of the key new seals use.
    pub fn sealing_key_id(&self) -> &str {
        self.keys.first().map_or("", |key| key.id.as_str())
    }

    pub fn seal(&self, context: SealContext<'_>, plaintext: &[u8]) -> Result<Sealed, KeyringError> {
        let key = self.keys.first().ok_or(KeyringError::SealFailed)?;
        let nonce = random_bytes::<NONCE_BYTES>()?;
        let aad = context.associated_data();
        let ciphertext = key
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyringError::SealFailed)?;
        Ok(Sealed {
            key_id: key.id.clone(),
            nonce,
            ciphertext,
        })
    }

    /// Seals a string secret.
    pub fn seal_str(
        &self,
        context: SealContext<'_>,
        plaintext: &secrecy::SecretString,
    ) -> Result<Sealed, KeyringError> {
        self.seal(context, plaintext.expose_secret().as_bytes())
    }

    pub fn open(
        &self,
        context: SealContext<'_>,
        sealed: &Sealed,
    ) -> Result<SecretBox<Vec<u8>>, KeyringError> {
        let key = self
            .keys
            .iter()
            .find(|key| key.id == sealed.key_id)
            .ok_or_else(|| KeyringError::UnknownKey {
                key_id: sealed.key_id.clone(),
            })?;
        let aad = context.associated_data();
        let plaintext = key
            .cipher
            .decrypt(
                &Nonce::from(sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyringError::OpenFailed)?;
        Ok(SecretBox::new(Box::new(plaintext)))
    }

    /// Opens a value sealed from a string; bytes that are not UTF-8 fail like any
    /// other value that does not open.
    pub fn open_string(
        &self,
        context: SealContext<'_>,
        sealed: &Sealed,
    ) -> Result<secrecy::SecretString, KeyringError> {
        let bytes = self.open(context, sealed)?;
        let text =
            std::str::from_utf8(bytes.expose_secret()).map_err(|_| KeyringError::OpenFailed)?;
        Ok(secrecy::SecretString::from(text))
    }
}

/// `N` bytes from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], KeyringError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| KeyringError::Random)?;
    Ok(bytes)
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= KEY_ID_BYTES_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Lower-case hex, for unique temporary file names.
fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; KEY_BYTES])
    }

    fn ctx<'a>(universe: &'a str, purpose: Purpose, name: &'a str) -> SealContext<'a> {
        SealContext {
            universe,
            purpose,
            name,
        }
    }

    #[test]
    fn equal_plaintexts_seal_differently_and_open_back() {
        let ring = Keyring::parse(&format!("k1:{}", key(7))).unwrap();
        let c = ctx("u1", Purpose::Secret, "github");
        let a = ring.seal(c, b"hunter2").unwrap();
        let b = ring.seal(c, b"hunter2").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_eq!(ring.open(c, &a).unwrap().expose_secret(), b"hunter2");
        assert_eq!(ring.open(c, &b).unwrap().expose_secret(), b"hunter2");
    }

    #[test]
    fn another_universe_name_or_purpose_does_not_open() {
        let ring = Keyring::parse(&format!("k1:{}", key(7))).unwrap();
        let sealed = ring
            .seal(ctx("u1", Purpose::Secret, "github"), b"v")
            .unwrap();
        for wrong in [
            ctx("u2", Purpose::Secret, "github"),
            ctx("u1", Purpose::Secret, "gitlab"),
            ctx("u1", Purpose::AccessToken, "github"),
            // Shifting bytes between fields must not collide (length prefixes).
            ctx("u1g", Purpose::Secret, "ithub"),
        ] {
            assert!(matches!(
                ring.open(wrong, &sealed),
                Err(KeyringError::OpenFailed)
            ));
        }
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(
            ring.open(ctx("u1", Purpose::Secret, "github"), &tampered)
                .is_err()
        );
    }

    #[test]
    fn rotation_opens_values_sealed_under_an_older_key() {
        let old = Keyring::parse(&format!("old:{}", key(1))).unwrap();
        let c = ctx("u", Purpose::RefreshToken, "grant_x");
        let sealed = old.seal(c, b"refresh").unwrap();
        let rotated = Keyring::parse(&format!("new:{},old:{}", key(2), key(1))).unwrap();
        assert_eq!(rotated.sealing_key_id(), "new");
        assert_eq!(
            rotated.open(c, &sealed).unwrap().expose_secret(),
            b"refresh"
        );
        assert_eq!(rotated.seal(c, b"x").unwrap().key_id, "new");
        let dropped = Keyring::parse(&format!("new:{}", key(2))).unwrap();
        assert_eq!(
            dropped.open(c, &sealed).unwrap_err().code(),
            "keyring.unknownKey"
        );
    }

    #[test]
    fn debug_and_errors_never_show_values_or_keys() {
        let encoded = key(9);
        let ring = Keyring::parse(&format!("k1:{encoded}")).unwrap();
        let sealed = ring
            .seal(ctx("u", Purpose::Secret, "n"), b"plain-value")
            .unwrap();
        let shown = format!("{ring:?} {sealed:?}");
        assert!(
            !shown.contains(&encoded) && !shown.contains("plain-value"),
            "{shown}"
        );
        let value = secrecy::SecretString::from("plain-value");
        assert!(!format!("{value:?}").contains("plain-value"));
        let err = Keyring::parse(&format!("k1:{}", STANDARD.encode([3u8; 31]))).unwrap_err();
        assert!(!err.to_string().contains(&STANDARD.encode([3u8; 31])));
        assert_eq!(err.code(), "keyring.invalidKeys");
    }

    #[test]
    fn sealed_bytes_round_trip() {
        let ring = Keyring::parse(&format!("k1:{}", key(4))).unwrap();
        let sealed = ring.seal(ctx("u", Purpose::Secret, "n"), b"v").unwrap();
        assert_eq!(Sealed::from_bytes(&sealed.to_bytes()).unwrap(), sealed);
        let json = serde_json::to_string(&sealed).unwrap();
        assert_eq!(serde_json::from_str::<Sealed>(&json).unwrap(), sealed);
        assert!(Sealed::from_bytes(&[1, 0]).is_err());
    }

    #[test]
    fn a_missing_key_file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/secret-keys");
        let first = Keyring::load_or_create_file(&path).unwrap();
        let sealed = first.seal(ctx("u", Purpose::Secret, "n"), b"v").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = Keyring::load_or_create_file(&path).unwrap();
        assert_eq!(
            again
                .open(ctx("u", Purpose::Secret, "n"), &sealed)
                .unwrap()
                .expose_secret(),
            b"v"
        );
    }

    /// Starters racing on a missing key file (a worker and a gateway started at once)
    /// all get the same, whole key: none reads a file another is still writing.
    #[test]
    fn racing_starters_share_one_whole_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret-keys");
        let rings: Vec<Keyring> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|_| scope.spawn(|| Keyring::load_or_create_file(&path).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let sealed = rings[0].seal(ctx("u", Purpose::Secret, "n"), b"v").unwrap();
        for ring in &rings {
            assert_eq!(
                ring.open(ctx("u", Purpose::Secret, "n"), &sealed)
                    .unwrap()
                    .expose_secret(),
                b"v"
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [std::ffi::OsString::from("secret-keys")]);
    }
}
