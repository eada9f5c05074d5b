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

    fn hex_of(bytes: &[u8]) -> Vec<u8> {
        hex::encode(bytes).into_bytes()
    }
}
