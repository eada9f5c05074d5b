//! The two secrets an account password gives (the Comet zero-knowledge model).
//!
//! `Argon2id(password, salt = BLAKE3("comet account v1" ‖ username)[..16])` gives 64 bytes: the
//! first 32 are the **login secret**, sent to the server as the user's password (the server
//! keeps only a hash of it); the last 32 are the **wrapping key**, which never leaves the device
//! and wraps the vault secrets stored in the profile. Whoever knows only the login secret (the
//! server) cannot compute the wrapping key: the two halves are independent outputs of the KDF.
//!
//! The cost is fixed by the protocol (64 MiB, 3 passes, 4 lanes): every device of the user must
//! derive the same secrets.

use argon2::{Algorithm, Argon2, Params, Version};
#[cfg(feature = "wrap")]
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
#[cfg(feature = "wrap")]
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroize;

/// Argon2id memory in KiB.
const MEMORY_KIB: u32 = 64 * 1024;
/// Argon2id passes.
const ITERATIONS: u32 = 3;
/// Argon2id lanes.
const LANES: u32 = 4;

/// The secrets derived from an account password.
#[derive(Clone)]
pub struct AccountSecrets {
    /// Sent to the server as the password (hex, 64 characters).
    pub login_secret: String,
    /// Wraps vault secrets; never sent anywhere.
    pub wrapping_key: [u8; 32],
}

impl Drop for AccountSecrets {
    fn drop(&mut self) {
        self.login_secret.zeroize();
        self.wrapping_key.zeroize();
    }
}

impl std::fmt::Debug for AccountSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountSecrets(<redacted>)")
    }
}

impl AccountSecrets {
    /// Derives the secrets of `username` with `password`.
    pub fn derive(username: &str, password: &[u8]) -> Self {
        let mut salt_input = b"comet account v1".to_vec();
        salt_input.extend_from_slice(username.as_bytes());
        let digest = blake3::hash(&salt_input);
        let salt = &digest.as_bytes()[..16];
        let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, Some(64)).expect("fixed, valid parameters");
        let mut out = [0u8; 64];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(password, salt, &mut out)
            .expect("fixed, valid parameters");
        let mut wrapping_key = [0u8; 32];
        wrapping_key.copy_from_slice(&out[32..]);
        let login_secret = hex::encode(&out[..32]);
        out.fill(0);
        Self { login_secret, wrapping_key }
    }
}

#[cfg(feature = "wrap")]
/// Prefix of wrapped secrets (format version 1).
const WRAPPED_PREFIX: &str = "w1.";

#[cfg(feature = "wrap")]
/// Why a wrapped secret does not open.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnwrapError {
    /// Not a wrapped secret of a known format.
    #[error("not a wrapped secret")]
    Format,
    /// The wrapping key is not the one it was wrapped with (the password changed or was reset
    /// by an administrator), or the text was altered or moved to another vault.
    #[error(
        "the secret does not open with this account's key: the password was changed or reset since it was \
         stored, or it was altered"
    )]
    WrongKey,
}

#[cfg(feature = "wrap")]
impl AccountSecrets {
    /// Wraps `secret` for the place `context` names (a vault id and field), so that it opens
    /// only with this account's wrapping key and only in that place: `w1.` ‖ hex(nonce ‖
    /// XChaCha20-Poly1305 ciphertext), with `context` as associated data.
    pub fn wrap(&self, context: &str, secret: &[u8]) -> String {
        wrap_with(&self.wrapping_key, context, secret)
    }

    /// Opens what [`wrap`](Self::wrap) gave for the same `context`.
    pub fn unwrap(&self, context: &str, wrapped: &str) -> Result<Vec<u8>, UnwrapError> {
        unwrap_with(&self.wrapping_key, context, wrapped)
    }
}

#[cfg(feature = "wrap")]
fn aad(context: &str) -> Vec<u8> {
    let mut aad = b"comet wrap v1\0".to_vec();
    aad.extend_from_slice(context.as_bytes());
    aad
}

#[cfg(feature = "wrap")]
/// [`AccountSecrets::wrap`] with a bare wrapping key.
pub fn wrap_with(wrapping_key: &[u8; 32], context: &str, secret: &[u8]) -> String {
    let mut nonce = [0u8; 24];
    getrandom::getrandom(&mut nonce).expect("the OS random source works");
    let cipher = XChaCha20Poly1305::new(wrapping_key.into());
    let sealed = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret, aad: &aad(context) })
        .expect("encryption of a small buffer cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    format!("{WRAPPED_PREFIX}{}", hex::encode(out))
}

#[cfg(feature = "wrap")]
/// [`AccountSecrets::unwrap`] with a bare wrapping key.
pub fn unwrap_with(wrapping_key: &[u8; 32], context: &str, wrapped: &str) -> Result<Vec<u8>, UnwrapError> {
    let bytes = wrapped
        .strip_prefix(WRAPPED_PREFIX)
        .and_then(|h| hex::decode(h).ok())
        .filter(|b| b.len() >= 24 + 16)
        .ok_or(UnwrapError::Format)?;
    let cipher = XChaCha20Poly1305::new(wrapping_key.into());
    cipher
        .decrypt(XNonce::from_slice(&bytes[..24]), Payload { msg: &bytes[24..], aad: &aad(context) })
        .map_err(|_| UnwrapError::WrongKey)
}

/// An install token: lets one device join an account once, without typing the password.
///
/// Text form: `CT1.<server part: 32 hex>.<wrapping key: 64 hex>`. The device sends only the
/// server part (the server keeps its hash and marks it used); the wrapping key stays on the
/// device, so vault secrets open there as after a password login.
#[derive(Clone, PartialEq, Eq)]
pub struct InstallToken {
    /// Sent to the server.
    pub server_part: String,
    /// Kept by the device.
    pub wrapping_key: [u8; 32],
}

impl Drop for InstallToken {
    fn drop(&mut self) {
        self.wrapping_key.zeroize();
    }
}

impl std::fmt::Debug for InstallToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstallToken(<redacted>)")
    }
}

impl InstallToken {
    /// A new token for the account whose secrets are `secrets`.
    pub fn new(secrets: &AccountSecrets) -> Self {
        let mut server_part = [0u8; 16];
        getrandom::getrandom(&mut server_part).expect("the OS random source works");
        Self { server_part: hex::encode(server_part), wrapping_key: secrets.wrapping_key }
    }

    /// The text given to the administrator.
    pub fn to_text(&self) -> String {
        format!("CT1.{}.{}", self.server_part, hex::encode(self.wrapping_key))
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let (Some("CT1"), Some(server_part), Some(key), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let is_hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hex(server_part, 32) || !is_hex(key, 64) {
            return None;
        }
        let mut wrapping_key = [0u8; 32];
        hex::decode_to_slice(key, &mut wrapping_key).ok()?;
        Some(Self { server_part: server_part.to_ascii_lowercase(), wrapping_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_independent_and_per_user() {
        let a = AccountSecrets::derive("alice", b"correct horse");
        let again = AccountSecrets::derive("alice", b"correct horse");
        assert_eq!(a.login_secret, again.login_secret);
        assert_eq!(a.wrapping_key, again.wrapping_key);
        assert_eq!(a.login_secret.len(), 64);
        assert_ne!(a.login_secret.as_bytes()[..32], hex_of(&a.wrapping_key)[..32], "halves differ");
        let b = AccountSecrets::derive("bob", b"correct horse");
        assert_ne!(a.login_secret, b.login_secret, "the user name salts the KDF");
        let c = AccountSecrets::derive("alice", b"correct horsf");
        assert_ne!(a.wrapping_key, c.wrapping_key);
        assert_eq!(format!("{a:?}"), "AccountSecrets(<redacted>)");
    }

    /// The derivation is a format: the web interface computes it in the browser (hash-wasm's
    /// Argon2id and BLAKE3, `comet-server/web/js/crypto.js`), so it must never drift.
    #[test]
    fn the_login_secret_is_stable_and_matches_the_browsers() {
        let secrets = AccountSecrets::derive("alice", b"correct horse");
        assert_eq!(secrets.login_secret, "4c8165e094de6e31fa7c1554ba21e20df93eb9c89311176004a4ec37329f3f8c");
    }

    #[cfg(feature = "wrap")]
    #[test]
    fn wrapped_secrets_open_only_with_the_key_and_in_their_place() {
        let a = AccountSecrets::derive("alice", b"pw one two");
        let w = a.wrap("vault1/secret", b"the vault secret");
        assert!(w.starts_with("w1.") && !w.contains("the vault secret"));
        assert_eq!(a.unwrap("vault1/secret", &w).unwrap(), b"the vault secret");
        assert_ne!(a.wrap("vault1/secret", b"x"), a.wrap("vault1/secret", b"x"), "fresh nonce each time");
        assert_eq!(a.unwrap("vault2/secret", &w), Err(UnwrapError::WrongKey), "moved to another vault");
        let other = AccountSecrets::derive("alice", b"pw one three");
        assert_eq!(other.unwrap("vault1/secret", &w), Err(UnwrapError::WrongKey), "after a reset");
        let mut bad = w.clone();
        bad.pop();
        bad.push(if w.ends_with('0') { '1' } else { '0' });
        assert_eq!(a.unwrap("vault1/secret", &bad), Err(UnwrapError::WrongKey));
        for junk in ["", "w1.", "w1.zz", "w2.00", "plain"] {
            assert_eq!(a.unwrap("vault1/secret", junk), Err(UnwrapError::Format), "{junk}");
        }
    }

    #[test]
    fn install_tokens_round_trip_and_carry_the_wrapping_key() {
        let a = AccountSecrets::derive("alice", b"pw one two");
        let t = InstallToken::new(&a);
        let parsed = InstallToken::parse(&t.to_text()).unwrap();
        assert_eq!(parsed, t);
        assert_eq!(parsed.wrapping_key, a.wrapping_key);
        assert_ne!(InstallToken::new(&a).server_part, t.server_part);
        for bad in ["", "CT1", "CT1.00.11", "CT2.0123456789abcdef0123456789abcdef.00", &format!("{}.x", t.to_text())] {
            assert!(InstallToken::parse(bad).is_none(), "{bad}");
        }
        assert!(!format!("{t:?}").contains(&t.server_part));
    }

    fn hex_of(bytes: &[u8]) -> Vec<u8> {
        hex::encode(bytes).into_bytes()
    }
}
