//! Secret-key checks: the plain key of GatewayWorker (PHP-compatible mode) and the HMAC
//! challenge of native mode, where the key never crosses the network.
//!
//! ```text
//!  native:  client ──challenge──► server ──nonce──► client ──HMAC-SHA256(key, purpose:nonce)──► server
//!  php:     client ──{"secret_key":"<key>"}──► server   (compared in constant time, never logged)
//! ```

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// How a secret key is proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// HMAC challenge (servers refuse the plain key). The default.
    #[default]
    Native,
    /// The plain key, as GatewayWorker 4 and GatewayClient send it. Servers in this mode accept
    /// the plain key and the HMAC answer; clients send the plain key.
    PhpCompatible,
}

/// A fresh random nonce, 32 hex characters.
pub fn nonce() -> String {
    let mut b = [0u8; 16];
    // SystemRandom reads the OS generator; failure leaves zeros, which only weakens replay
    // protection for this one challenge.
    let _ = SystemRandom::new().fill(&mut b);
    hex(&b)
}

/// The answer to a challenge: hex HMAC-SHA256 of `purpose:nonce` under `key`.
///
/// ```
/// let a = workerman_gateway::auth::answer("k", "register", "00ff");
/// assert_eq!(a.len(), 64);
/// assert!(workerman_gateway::auth::verify("k", "register", "00ff", &a));
/// assert!(!workerman_gateway::auth::verify("k", "gateway", "00ff", &a));
/// ```
pub fn answer(key: &str, purpose: &str, nonce: &str) -> String {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    hex(hmac::sign(&k, format!("{purpose}:{nonce}").as_bytes()).as_ref())
}

/// Checks an answer in constant time.
pub fn verify(key: &str, purpose: &str, nonce: &str, given_hex: &str) -> bool {
    let Some(given) = unhex(given_hex) else { return false };
    let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    hmac::verify(&k, format!("{purpose}:{nonce}").as_bytes(), &given).is_ok()
}

/// Compares a plain key in constant time (for equal lengths).
pub fn keys_equal(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
