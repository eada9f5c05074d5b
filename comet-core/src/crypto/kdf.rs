//! Argon2id password hashing for key slots.
//!
//! The parameters travel with each key slot. Before running the KDF on a slot read from a vault
//! they are checked against a floor (so nobody can plant a weak slot that we would then accept
//! and re-use as a template) and a ceiling (so a planted slot cannot make us allocate gigabytes
//! or spin for hours).

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// Default for new key slots: RFC 9106's second recommendation (t=3, m=64 MiB, p=4), the
    /// same as borg2. About a quarter second on one core here.
    pub const DEFAULT: Self = Self { memory_kib: 64 * 1024, iterations: 3, parallelism: 4 };

    /// Lowest cost accepted: OWASP's minimum for Argon2id (m=19 MiB, t=2, p=1). Tests and
    /// small devices may use it; nothing weaker is ever run.
    pub const FLOOR: Self = Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 };

    /// Highest cost accepted: 2 GiB (RFC 9106's first recommendation), 16 passes, 16 lanes.
    pub const CEILING: Self = Self { memory_kib: 2 * 1024 * 1024, iterations: 16, parallelism: 16 };

    /// Checks the parameters against [`Self::FLOOR`] and [`Self::CEILING`].
    pub fn check(&self) -> Result<(), String> {
        let fields = [
            ("memory_kib", self.memory_kib, Self::FLOOR.memory_kib, Self::CEILING.memory_kib),
            ("iterations", self.iterations, Self::FLOOR.iterations, Self::CEILING.iterations),
            ("parallelism", self.parallelism, Self::FLOOR.parallelism, Self::CEILING.parallelism),
        ];
        for (name, value, low, high) in fields {
            if value < low {
                return Err(format!("{name} = {value} is below the floor {low}"));
            }
            if value > high {
                return Err(format!("{name} = {value} is above the ceiling {high}"));
            }
        }
        // Argon2 needs at least 8 KiB per lane.
        if self.memory_kib < 8 * self.parallelism {
            return Err("memory_kib must be at least 8 per lane".into());
        }
        Ok(())
    }

    /// Derives a 32-byte key from `password` and `salt`. Checks the bounds first.
    pub fn derive(&self, password: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, String> {
        self.check()?;
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| e.to_string())?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon.hash_password_into(password, salt, out.as_mut()).map_err(|e| e.to_string())?;
        Ok(out)
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked_before_running() {
        assert!(KdfParams::DEFAULT.check().is_ok());
        assert!(KdfParams::FLOOR.check().is_ok());
        let weak = KdfParams { memory_kib: 1024, ..KdfParams::FLOOR };
        assert!(weak.derive(b"pw", &[0; 16]).unwrap_err().contains("below the floor"));
        // A memory bomb is refused instantly, without allocating 4 TiB.
        let bomb = KdfParams { memory_kib: u32::MAX, ..KdfParams::DEFAULT };
        assert!(bomb.derive(b"pw", &[0; 16]).unwrap_err().contains("above the ceiling"));
        let slow = KdfParams { iterations: 1000, ..KdfParams::DEFAULT };
        assert!(slow.check().is_err());
    }

    #[test]
    fn derivation_is_deterministic_and_salted() {
        let p = KdfParams::FLOOR;
        let a = p.derive(b"pw", &[1; 16]).unwrap();
        assert_eq!(*a, *p.derive(b"pw", &[1; 16]).unwrap());
        assert_ne!(*a, *p.derive(b"pw", &[2; 16]).unwrap());
        assert_ne!(*a, *p.derive(b"pw2", &[1; 16]).unwrap());
    }
}
