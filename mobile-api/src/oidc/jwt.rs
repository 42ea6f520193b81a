//! ID token checks (OpenID Connect Core §3.1.3.7): the JWS signature against the issuer's JWKS
//! (RS256 or ES256, verified with ring), then issuer, audience, expiry, issue time and nonce. Pure
//! functions: keys, the expected values and the time are passed in.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::Value;

/// Longest ID token accepted (Entra ID's are a few kilobytes).
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Clock difference tolerated between us and the identity provider.
pub const LEEWAY_SECS: i64 = 60;

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the ID token is malformed: {0}")]
    Malformed(&'static str),
    #[error("the ID token is signed with {0}, not RS256 or ES256")]
    Algorithm(String),
    /// The JWKS has no key with this id: worth fetching the JWKS again once.
    #[error("no key {0:?} in the provider's JWKS")]
    UnknownKey(Option<String>),
    #[error("the ID token's signature is wrong")]
    Signature,
    #[error("the ID token's {0} is wrong")]
    Claim(&'static str),
}

/// One key of a JWKS (RFC 7517), the parts used here.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

/// A JWKS document.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// What the token must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now_secs: i64,
}

fn b64(part: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed("base64url"))
}

/// Verifies `token` and answers its claims.
pub fn verify(token: &str, keys: &Jwks, expected: &Expected<'_>) -> Result<Value, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed("too long"));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not three parts"));
    };
    let header: Header =
        serde_json::from_slice(&b64(header_b64)?).map_err(|_| TokenError::Malformed("header"))?;
    let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    let sig = b64(signature_b64)?;
    let wanted_kty = match header.alg.as_str() {
        "RS256" => "RSA",
        "ES256" => "EC",
        other => return Err(TokenError::Algorithm(other.to_owned())),
    };
    let key = keys
        .keys
        .iter()
        .filter(|k| k.kty == wanted_kty && k.use_.as_deref().is_none_or(|u| u == "sig"))
        .find(|k| header.kid.is_none() || k.kid == header.kid)
        .ok_or_else(|| TokenError::UnknownKey(header.kid.clone()))?;
    check_signature(&header.alg, key, signed, &sig)?;
    let claims: Value =
        serde_json::from_slice(&b64(payload_b64)?).map_err(|_| TokenError::Malformed("payload"))?;
    check_claims(&claims, expected)?;
    Ok(claims)
}

fn check_signature(alg: &str, key: &Jwk, signed: &[u8], sig: &[u8]) -> Result<(), TokenError> {
    let part = |v: &Option<String>| {
        v.as_deref()
            .map(b64)
            .transpose()?
            .ok_or(TokenError::Malformed("key"))
    };
    let ok = if alg == "RS256" {
        let (n, e) = (part(&key.n)?, part(&key.e)?);
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed, sig)
            .is_ok()
    } else {
        if key.crv.as_deref() != Some("P-256") {
            return Err(TokenError::Malformed("EC key not on P-256"));
        }
        let (x, y) = (part(&key.x)?, part(&key.y)?);
        let mut point = Vec::with_capacity(65);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(signed, sig)
            .is_ok()
    };
    if ok {
        Ok(())
    } else {
        Err(TokenError::Signature)
    }
}

fn check_claims(claims: &Value, expected: &Expected<'_>) -> Result<(), TokenError> {
    if claims["iss"].as_str() != Some(expected.issuer) {
        return Err(TokenError::Claim("issuer"));
    }
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => aud == expected.client_id,
        Value::Array(auds) => {
            auds.iter().any(|a| a.as_str() == Some(expected.client_id))
                && (auds.len() == 1 || claims["azp"].as_str() == Some(expected.client_id))
        }
        _ => false,
    };
    if !audience_ok {
        return Err(TokenError::Claim("audience"));
    }
    let exp = claims["exp"].as_i64().ok_or(TokenError::Claim("expiry"))?;
    if exp + LEEWAY_SECS <= expected.now_secs {
        return Err(TokenError::Claim("expiry"));
    }
    let iat = claims["iat"]
        .as_i64()
        .ok_or(TokenError::Claim("issue time"))?;
    if iat > expected.now_secs + LEEWAY_SECS {
        return Err(TokenError::Claim("issue time"));
    }
    if claims["nonce"].as_str() != Some(expected.nonce) {
        return Err(TokenError::Claim("nonce"));
    }
    if claims["sub"].as_str().is_none_or(str::is_empty) {
        return Err(TokenError::Claim("subject"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

    fn es256_key() -> (EcdsaKeyPair, Jwks) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let public = pair.public_key().as_ref();
        let jwks = Jwks {
            keys: vec![Jwk {
                kty: "EC".into(),
                kid: Some("k1".into()),
                use_: Some("sig".into()),
                n: None,
                e: None,
                crv: Some("P-256".into()),
                x: Some(URL_SAFE_NO_PAD.encode(&public[1..33])),
                y: Some(URL_SAFE_NO_PAD.encode(&public[33..65])),
            }],
        };
        (pair, jwks)
    }

    fn sign(pair: &EcdsaKeyPair, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn claims(now: i64) -> Value {
        serde_json::json!({"iss": "https://idp", "aud": "switchboard", "sub": "kari", "nonce": "n1",
                           "exp": now + 300, "iat": now, "preferred_username": "1002"})
    }

    const NOW: i64 = 1_800_000_000;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: "https://idp",
            client_id: "switchboard",
            nonce: "n1",
            now_secs: NOW,
        }
    }

    #[test]
    fn a_good_token_passes_and_each_wrong_part_is_named() {
        let (pair, jwks) = es256_key();
        let header = serde_json::json!({"alg": "ES256", "kid": "k1"});
        let token = sign(&pair, &header, &claims(NOW));
        assert_eq!(
            verify(&token, &jwks, &expected()).unwrap()["preferred_username"],
            "1002"
        );

        for (field, value, why) in [
            ("iss", serde_json::json!("https://evil"), "issuer"),
            ("aud", serde_json::json!("other-client"), "audience"),
            (
                "aud",
                serde_json::json!(["switchboard", "other"]),
                "audience",
            ),
            ("exp", serde_json::json!(NOW - 61), "expiry"),
            ("iat", serde_json::json!(NOW + 3600), "issue time"),
            ("nonce", serde_json::json!("n2"), "nonce"),
        ] {
            let mut c = claims(NOW);
            c[field] = value;
            let token = sign(&pair, &header, &c);
            assert_eq!(
                verify(&token, &jwks, &expected()),
                Err(TokenError::Claim(why)),
                "{field}"
            );
        }
        // A tampered payload, an unknown key, an algorithm we do not take.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(claims(NOW + 1).to_string());
        assert_eq!(
            verify(&parts.join("."), &jwks, &expected()),
            Err(TokenError::Signature)
        );
        let other = sign(
            &pair,
            &serde_json::json!({"alg": "ES256", "kid": "k2"}),
            &claims(NOW),
        );
        assert_eq!(
            verify(&other, &jwks, &expected()),
            Err(TokenError::UnknownKey(Some("k2".into())))
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims(NOW).to_string())
        );
        assert_eq!(
            verify(&none, &jwks, &expected()),
            Err(TokenError::Algorithm("none".into()))
        );
        // A token signed by another key with the same kid.
        let (stranger, _) = es256_key();
        let forged = sign(&stranger, &header, &claims(NOW));
        assert_eq!(
            verify(&forged, &jwks, &expected()),
            Err(TokenError::Signature)
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let (_, jwks) = es256_key();
        for token in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "!!!.???.***",
            &"x".repeat(20_000),
        ] {
            assert!(verify(token, &jwks, &expected()).is_err(), "{token:.20}");
        }
    }
}
