//! The JSON Web Tokens the push providers want (RFC 7519, compact form): RS256 for Google's OAuth2
//! token exchange, ES256 for APNs' provider tokens. Signed with ring; keys read from PKCS#8 PEM files
//! (a Firebase service account's `private_key`, an APNs `.p8` key).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};

use super::PushError;

/// The DER inside a `-----BEGIN PRIVATE KEY-----` PEM block (PKCS#8).
pub fn pkcs8_der(pem: &str) -> Result<Vec<u8>, PushError> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let start = pem
        .find(BEGIN)
        .ok_or_else(|| PushError::Key("no PKCS#8 PRIVATE KEY block".into()))?;
    let rest = &pem[start + BEGIN.len()..];
    let end = rest
        .find(END)
        .ok_or_else(|| PushError::Key("unterminated PRIVATE KEY block".into()))?;
    let body: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(body)
        .map_err(|e| PushError::Key(format!("PRIVATE KEY block: {e}")))
}

/// `base64url(header).base64url(claims)`: what a JWS signs.
fn signing_input(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    let part = |json: &serde_json::Value| URL_SAFE_NO_PAD.encode(json.to_string());
    format!("{}.{}", part(header), part(claims))
}

/// Signs with an RSA key (RS256).
pub struct Rs256(RsaKeyPair);

impl Rs256 {
    pub fn from_pem(pem: &str) -> Result<Rs256, PushError> {
        let der = pkcs8_der(pem)?;
        RsaKeyPair::from_pkcs8(&der)
            .map(Rs256)
            .map_err(|e| PushError::Key(format!("RSA key: {e}")))
    }

    pub fn sign(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<String, PushError> {
        let input = signing_input(header, claims);
        let mut signature = vec![0u8; self.0.public().modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| PushError::Key("RSA signing failed".into()))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// Signs with a P-256 key (ES256: the signature is r‖s, 64 bytes, as JWS wants).
pub struct Es256(EcdsaKeyPair);

impl Es256 {
    pub fn from_pem(pem: &str) -> Result<Es256, PushError> {
        let der = pkcs8_der(pem)?;
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
            .map(Es256)
            .map_err(|e| PushError::Key(format!("P-256 key: {e}")))
    }

    pub fn sign(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<String, PushError> {
        let input = signing_input(header, claims);
        let signature = self
            .0
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| PushError::Key("ECDSA signing failed".into()))?;
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    #[test]
    fn an_es256_token_verifies_with_the_public_key() {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("generate");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        let signer = Es256::from_pem(&pem).expect("key");
        let token = signer
            .sign(
                &serde_json::json!({"alg": "ES256", "kid": "K"}),
                &serde_json::json!({"iss": "T", "iat": 1}),
            )
            .expect("sign");
        let (input, signature) = token.rsplit_once('.').expect("three parts");
        let public = signer.0.public_key().as_ref().to_vec();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
            .verify(
                input.as_bytes(),
                &URL_SAFE_NO_PAD.decode(signature).expect("b64"),
            )
            .expect("the signature verifies");
        let claims = input.split('.').nth(1).expect("claims");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("b64")).expect("json");
        assert_eq!(claims["iss"], "T");
    }

    #[test]
    fn malformed_keys_are_errors() {
        assert!(Rs256::from_pem("nothing here").is_err());
        assert!(
            Es256::from_pem("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----").is_err()
        );
        assert!(
            Rs256::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
    }
}
