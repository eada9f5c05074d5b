//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits, the
//! parameters every authenticator app uses), recovery codes, and the QR code of an enrolment.
//!
//! HOTP is a dozen lines over the RustCrypto `hmac` and `sha1` crates (already in the tree for
//! TLS); a code is accepted one step early or late (clock drift) and only once (the last
//! accepted step is stored). Recovery codes carry 80 random bits, so their BLAKE3 hash is as safe
//! to store as a session key's.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
const DIGITS: u32 = 6;
/// Recovery codes given at enrolment.
pub const RECOVERY_CODES: usize = 10;

/// A new random 160-bit secret, base32 without padding (what authenticator apps read).
pub fn new_secret() -> String {
    let mut secret = [0u8; 20];
    getrandom::getrandom(&mut secret).expect("the OS random generator works");
    data_encoding::BASE32_NOPAD.encode(&secret)
}

/// The HOTP value of `secret` (raw bytes) at `counter` (RFC 4226).
fn hotp(secret: &[u8], counter: u64) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    value % 10u32.pow(DIGITS)
}

/// The step that `now` (seconds since the epoch) falls in.
pub fn step_of(now: i64) -> i64 {
    now.div_euclid(STEP_SECONDS)
}

/// The step whose code `code` is, among the current step and its neighbours, if it is one and
/// is later than `last_step` (each code works once). `secret` is base32.
pub fn check(secret: &str, code: &str, now: i64, last_step: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let key = data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).ok()?;
    let current = step_of(now);
    [current - 1, current, current + 1].into_iter().find(|&step| {
        step > last_step && u64::try_from(step).is_ok_and(|counter| constant_time_eq(hotp(&key, counter), wanted))
    })
}

fn constant_time_eq(a: u32, b: u32) -> bool {
    use subtle::ConstantTimeEq as _;
    a.ct_eq(&b).into()
}

/// The `otpauth://` URL of an enrolment, as authenticator apps scan it.
pub fn otpauth_url(issuer: &str, account: &str, secret: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

/// A QR code of `text` as an SVG `data:` URI (for an `<img>`; the page's policy allows `data:`
/// images and nothing else from outside).
pub fn qr_data_uri(text: &str) -> String {
    use base64::Engine as _;
    let svg = match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build(),
        // An otpauth URL is far below QR capacity; keep the enrolment usable by its text.
        Err(_) => String::new(),
    };
    format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg))
}

/// New recovery codes: `xxxx-xxxx-xxxx-xxxx` from an unambiguous 32-letter alphabet (80 bits).
pub fn new_recovery_codes() -> Vec<String> {
    // No i, l, o or 1: nothing to misread.
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz023456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 16];
            getrandom::getrandom(&mut bytes).expect("the OS random generator works");
            let letters: Vec<char> = bytes.iter().map(|b| char::from(ALPHABET[usize::from(b & 31)])).collect();
            letters.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
        })
        .collect()
}

/// The stored form of a recovery code (case and dashes do not matter when typed).
pub fn recovery_code_hash(code: &str) -> String {
    let normal: String = code.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    blake3::hash(format!("comet recovery code v1:{normal}").as_bytes()).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B (SHA-1): the 8-digit values, of which a 6-digit code is the last six.
    #[test]
    fn rfc_6238_vectors() {
        let key = b"12345678901234567890";
        for (time, eight_digits) in [
            (59u64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(key, time / 30), eight_digits % 1_000_000, "t = {time}");
        }
    }

    #[test]
    fn codes_are_accepted_once_and_near_their_time_only() {
        let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        let now = 1_111_111_111;
        let code = format!("{:06}", 14_050_471 % 1_000_000);
        let step = check(&secret, &code, now, 0).expect("the current code");
        assert_eq!(step, step_of(now));
        assert_eq!(check(&secret, &code, now, step), None, "a code works once");
        assert_eq!(check(&secret, &code, now + 30, 0), Some(step), "one step late is drift");
        assert_eq!(check(&secret, &code, now + 90, 0), None, "three steps late is not");
        for bad in ["", "12345", "1234567", "abcdef", "14050 471"] {
            assert_eq!(check(&secret, bad, now, 0), None, "{bad:?}");
        }
        assert_eq!(check("not base32!", &code, now, 0), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_forgiving_to_type() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| c.len() == 19 && c.matches('-').count() == 3));
        let typed = codes[0].to_uppercase().replace('-', " ");
        assert_eq!(recovery_code_hash(&typed), recovery_code_hash(&codes[0]));
    }

    #[test]
    fn enrolment_url_and_qr_code() {
        let url = otpauth_url("Comet", "alice@example.com", "ABC");
        assert_eq!(
            url,
            "otpauth://totp/Comet:alice%40example.com?secret=ABC&issuer=Comet&algorithm=SHA1&digits=6&period=30"
        );
        let uri = qr_data_uri(&url);
        assert!(uri.starts_with("data:image/svg+xml;base64,") && uri.len() > 1000, "{}", &uri[..40]);
    }
}
