//! Login passwords: argon2id (RFC 9106) with OWASP's recommended cost (19 MiB, two passes, one lane —
//! the argon2 crate's defaults), stored as PHC strings so the cost can be raised later without
//! invalidating old hashes. Hashing runs on tokio's blocking pool: it takes tens of milliseconds on
//! purpose and must not stall the API's other requests.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::ApiError;

/// Shortest and longest password accepted (NIST SP 800-63B: at least 8, allow at least 64).
pub const MIN_CHARS: usize = 10;
pub const MAX_CHARS: usize = 256;

/// Checks a new password's length; answers the 400 to send otherwise.
pub fn check_new(field: &str, password: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if !(MIN_CHARS..=MAX_CHARS).contains(&chars) {
        return Err(ApiError::Validation {
            field: field.to_owned(),
            message: format!("must be {MIN_CHARS} to {MAX_CHARS} characters"),
        });
    }
    Ok(())
}

/// The argon2id PHC string of `password` with a fresh random salt.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("password hashing task failed: {e}")))?
}

/// A hash of a password nobody knows, checked when the username is unknown so that the answer takes
/// as long as for a known one and timing does not tell which usernames exist.
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c3dpdGNoYm9hcmQtZGVjb3k$3BQWlpEPjkNTeKxzGcGxjFcS27lmaYS2XLEPrtJ6tXo";

/// Whether `password` matches the PHC string `stored` (`None`: check against a decoy, answer false).
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let (text, real) = match &stored {
            Some(s) => (s.as_str(), true),
            None => (DECOY_HASH, false),
        };
        let Ok(parsed) = PasswordHash::new(text) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && real
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery".into()).await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery".into(), Some(stored.clone())).await);
        assert!(!verify("correct horse batterx".into(), Some(stored)).await);
        assert!(!verify("anything".into(), None).await);
        assert!(!verify("x".into(), Some("not a phc string".into())).await);
    }

    #[test]
    fn the_decoy_is_a_valid_phc_string_of_the_same_cost() {
        let parsed = PasswordHash::new(DECOY_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
    }
}
