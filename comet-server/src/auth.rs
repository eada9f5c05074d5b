//! Authentication: Argon2id password hashes, session keys, and login rate limiting.
//!
//! Session keys are 32 random bytes (hex); the database keeps only their BLAKE3 hash, so a
//! copy of the database does not let anybody in. Failed logins are counted per account and per
//! client address over a sliding window; past the limit, logins are refused before any password
//! is checked (the check itself costs an Argon2id run).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::SecurityConfig;

/// Hashes and verifies passwords with the configured Argon2id cost.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    params: Params,
}

impl PasswordHasher {
    /// A hasher with the cost of `[security]` (validated when the config was read).
    pub fn new(config: &SecurityConfig) -> Self {
        let params = Params::new(config.argon2_memory_kib, config.argon2_iterations, config.argon2_parallelism, None)
            .expect("argon2 parameters are validated with the configuration");
        Self { params }
    }

    /// The PHC string of `password` with a new random salt.
    pub fn hash(&self, password: &[u8]) -> String {
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut salt).expect("the OS random generator works");
        let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
            .hash_password(password, &salt)
            .expect("hashing with valid parameters")
            .to_string()
    }

    /// Whether `password` matches the PHC string `phc` (with the cost recorded in it).
    pub fn verify(phc: &str, password: &[u8]) -> bool {
        PasswordHash::new(phc).is_ok_and(|hash| Argon2::default().verify_password(password, &hash).is_ok())
    }
}

/// `bytes` random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).expect("the OS random generator works");
    hex::encode(buf)
}

/// A random password of 20 characters from an unambiguous alphabet (~113 bits).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut buf = [0u8; 20];
    getrandom::getrandom(&mut buf).expect("the OS random generator works");
    // 256 % 57 leaves a small bias; irrelevant at this length.
    buf.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

/// What the database stores for a session key.
pub fn key_hash(key: &str) -> String {
    blake3::hash(key.as_bytes()).to_hex().to_string()
}

/// Counts failed logins per account and per address over a sliding window.
#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    per_account: u32,
    per_address: u32,
    accounts: Mutex<HashMap<String, VecDeque<Instant>>>,
    addresses: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

fn prune(queue: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while queue.front().is_some_and(|t| now.duration_since(*t) >= window) {
        queue.pop_front();
    }
}

impl LoginLimiter {
    /// A limiter with the limits of `[security]`.
    pub fn new(config: &SecurityConfig) -> Self {
        Self {
            window: Duration::from_secs(u64::from(config.login_failure_window_seconds)),
            per_account: config.login_failures_per_account,
            per_address: config.login_failures_per_address,
            accounts: Mutex::default(),
            addresses: Mutex::default(),
        }
    }

    /// `Err(retry after)` when `account` or `address` has failed too often within the window.
    pub fn check(&self, account: &str, address: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let over = |queue: Option<&mut VecDeque<Instant>>, limit: u32| {
            let queue = queue?;
            prune(queue, now, self.window);
            (queue.len() >= limit as usize).then(|| self.window.saturating_sub(now.duration_since(queue[0])))
        };
        let mut accounts = self.accounts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(wait) = over(accounts.get_mut(account), self.per_account) {
            return Err(wait);
        }
        drop(accounts);
        let mut addresses = self.addresses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(wait) = over(addresses.get_mut(&address), self.per_address) {
            return Err(wait);
        }
        Ok(())
    }

    /// Records a failed login.
    pub fn failed(&self, account: &str, address: IpAddr) {
        let now = Instant::now();
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(account.to_owned())
            .or_default()
            .push_back(now);
        self.addresses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(address)
            .or_default()
            .push_back(now);
    }

    /// Forgets old failures of every account and address (called now and then).
    pub fn tidy(&self) {
        let now = Instant::now();
        let mut accounts = self.accounts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        accounts.retain(|_, q| {
            prune(q, now, self.window);
            !q.is_empty()
        });
        drop(accounts);
        self.addresses.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|_, q| {
            prune(q, now, self.window);
            !q.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let hasher = PasswordHasher::new(&SecurityConfig { argon2_memory_kib: 8192, ..SecurityConfig::default() });
        let a = hasher.hash(b"secret");
        assert!(a.starts_with("$argon2id$v=19$m=8192,t=2,p=1$"), "{a}");
        assert!(PasswordHasher::verify(&a, b"secret"));
        assert!(!PasswordHasher::verify(&a, b"Secret"));
        assert!(!PasswordHasher::verify("not a hash", b"secret"));
        assert_ne!(a, hasher.hash(b"secret"), "salted");
        assert_eq!(random_hex(32).len(), 64);
        assert_eq!(random_password().len(), 20);
        assert_ne!(random_password(), random_password());
    }

    #[test]
    fn failures_are_limited_per_account_and_per_address() {
        let limiter = LoginLimiter::new(&SecurityConfig {
            login_failures_per_account: 3,
            login_failures_per_address: 5,
            ..SecurityConfig::default()
        });
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(limiter.check("alice", a).is_ok());
            limiter.failed("alice", a);
        }
        assert!(limiter.check("alice", b).is_err(), "the account is locked from every address");
        assert!(limiter.check("bob", a).is_ok());
        limiter.failed("bob", a);
        limiter.failed("carol", a);
        assert!(limiter.check("dave", a).is_err(), "the address is locked for every account");
        assert!(limiter.check("dave", b).is_ok());
        limiter.tidy();
        assert!(limiter.check("alice", b).is_err(), "within the window nothing is forgotten");
    }
}
