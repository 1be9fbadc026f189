//! HTTP digest authentication as SIP uses it (RFC 2617, RFC 7616, RFC 8760): the response
//! computation, the `Authorization` parameters a registrar reads, and stateless nonces.
//!
//! The *client* side (answering 401/407 to our INVITEs and REGISTERs) is rsipstack's; the tests
//! below check rsipstack's computation against this one for MD5 and SHA-256, and this one against
//! the RFC examples. The *server* side (ivory's registrar) uses this module: rsipstack's verifier
//! formats `nc` as a decimal number and ignores `-sess`, so it is not used.
//!
//! Nonces carry their own issue time and a keyed hash of it (`<seconds-hex>.<hash>`), so a
//! registrar needs no nonce table: [`check_nonce`] tells a nonce it issued from a forged one and a
//! fresh one from a stale one. Time is a parameter (`unix_seconds`). Nonce-count replay is not
//! tracked: a captured REGISTER can be replayed while its nonce is fresh (5 minutes), which only
//! re-registers the same binding.

use md5::{Digest, Md5};
use sha2::Sha256;

/// How long a nonce is accepted after it was issued.
pub const NONCE_LIFETIME_SECONDS: u64 = 300;

/// The digest algorithms ivory computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Md5,
    Md5Session,
    Sha256,
    Sha256Session,
}

impl DigestAlgorithm {
    /// Reads the `algorithm` parameter (case-insensitive); `None` for an unknown one.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim_matches('"').to_ascii_uppercase().as_str() {
            "MD5" => Some(Self::Md5),
            "MD5-SESS" => Some(Self::Md5Session),
            "SHA-256" => Some(Self::Sha256),
            "SHA-256-SESS" => Some(Self::Sha256Session),
            _ => None,
        }
    }

    /// The parameter value as written in a challenge.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Session => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Session => "SHA-256-sess",
        }
    }

    fn hash(self, text: &str) -> String {
        match self {
            Self::Md5 | Self::Md5Session => hex(&Md5::digest(text.as_bytes())),
            Self::Sha256 | Self::Sha256Session => hex(&Sha256::digest(text.as_bytes())),
        }
    }

    fn is_session(self) -> bool {
        matches!(self, Self::Md5Session | Self::Sha256Session)
    }
}

/// Everything the response is computed from. `nc` is written exactly as sent (8 hex digits).
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    pub algorithm: DigestAlgorithm,
    pub username: &'a str,
    pub realm: &'a str,
    pub password: &'a str,
    pub method: &'a str,
    pub uri: &'a str,
    pub nonce: &'a str,
    /// `Some((nc, cnonce))` with `qop=auth`; `None` for the RFC 2069 form without qop.
    pub qop_auth: Option<(&'a str, &'a str)>,
}

/// The `response` value (lower-case hex).
pub fn digest_response(input: &DigestInput<'_>) -> String {
    let algorithm = input.algorithm;
    let mut ha1 = algorithm.hash(&format!(
        "{}:{}:{}",
        input.username, input.realm, input.password
    ));
    if algorithm.is_session() {
        let cnonce = input.qop_auth.map(|(_, cnonce)| cnonce).unwrap_or_default();
        ha1 = algorithm.hash(&format!("{ha1}:{}:{cnonce}", input.nonce));
    }
    let ha2 = algorithm.hash(&format!("{}:{}", input.method, input.uri));
    match input.qop_auth {
        Some((nc, cnonce)) => {
            algorithm.hash(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", input.nonce))
        }
        None => algorithm.hash(&format!("{ha1}:{}:{ha2}", input.nonce)),
    }
}

/// Why an `Authorization` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("not a Digest credential")]
    NotDigest,
    #[error("malformed parameter list")]
    Malformed,
    #[error("missing parameter {0}")]
    Missing(&'static str),
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    #[error("unsupported qop")]
    UnsupportedQop,
}

/// The parameters of an `Authorization: Digest ...` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: DigestAlgorithm,
    /// `Some((nc, cnonce))` when `qop=auth`.
    pub qop_auth: Option<(String, String)>,
    pub opaque: Option<String>,
}

impl DigestCredentials {
    /// Parses an `Authorization` (or `Proxy-Authorization`) header value.
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        let value = value.trim();
        let (scheme, rest) = value
            .split_once([' ', '\t'])
            .ok_or(DigestError::NotDigest)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::NotDigest);
        }
        let params = parse_parameters(rest)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        };
        let required = |name: &'static str| get(name).ok_or(DigestError::Missing(name));
        let algorithm = match get("algorithm") {
            None => DigestAlgorithm::Md5,
            Some(text) => DigestAlgorithm::parse(&text).ok_or(DigestError::UnsupportedAlgorithm)?,
        };
        let qop_auth = match get("qop") {
            None => None,
            Some(qop) if qop.eq_ignore_ascii_case("auth") => {
                Some((required("nc")?, required("cnonce")?))
            }
            Some(_) => return Err(DigestError::UnsupportedQop),
        };
        Ok(Self {
            username: required("username")?,
            realm: required("realm")?,
            nonce: required("nonce")?,
            uri: required("uri")?,
            response: required("response")?,
            algorithm,
            qop_auth,
            opaque: get("opaque"),
        })
    }

    /// Whether `password` produces this credential's response for `method`; compared in
    /// constant time so the response does not leak through timing.
    pub fn verify(&self, password: &str, method: &str) -> bool {
        let expected = digest_response(&DigestInput {
            algorithm: self.algorithm,
            username: &self.username,
            realm: &self.realm,
            password,
            method,
            uri: &self.uri,
            nonce: &self.nonce,
            qop_auth: self
                .qop_auth
                .as_ref()
                .map(|(nc, cnonce)| (nc.as_str(), cnonce.as_str())),
        });
        constant_time_equal(
            expected.as_bytes(),
            self.response.to_ascii_lowercase().as_bytes(),
        )
    }
}

/// `name=value` or `name="quoted value"` pairs separated by commas.
fn parse_parameters(text: &str) -> Result<Vec<(String, String)>, DigestError> {
    let mut params = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        if chars.peek().is_none() {
            return Ok(params);
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ',') {
            name.push(c);
        }
        if chars.next() != Some('=') || name.trim().is_empty() {
            return Err(DigestError::Malformed);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.push(chars.next().ok_or(DigestError::Malformed)?),
                    Some(c) => value.push(c),
                    None => return Err(DigestError::Malformed),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                value.push(c);
            }
        }
        params.push((name.trim().to_string(), value.trim().to_string()));
    }
}

/// A nonce for `unix_seconds`, keyed with `secret`.
pub fn make_nonce(secret: &[u8], unix_seconds: u64) -> String {
    format!("{unix_seconds:x}.{}", nonce_tag(secret, unix_seconds))
}

/// What a nonce presented back to us is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    /// Issued by us less than [`NONCE_LIFETIME_SECONDS`] ago.
    Fresh,
    /// Issued by us, but too long ago (answer with `stale=true`).
    Stale,
    /// Not one of ours.
    Invalid,
}

/// Checks a nonce made by [`make_nonce`] with the same `secret`.
pub fn check_nonce(secret: &[u8], nonce: &str, unix_seconds: u64) -> NonceStatus {
    let Some((time_hex, tag)) = nonce.split_once('.') else {
        return NonceStatus::Invalid;
    };
    let Ok(issued) = u64::from_str_radix(time_hex, 16) else {
        return NonceStatus::Invalid;
    };
    if !constant_time_equal(tag.as_bytes(), nonce_tag(secret, issued).as_bytes()) {
        return NonceStatus::Invalid;
    }
    // A nonce from the future (clock stepped back) is treated like a stale one.
    match unix_seconds.checked_sub(issued) {
        Some(age) if age <= NONCE_LIFETIME_SECONDS => NonceStatus::Fresh,
        _ => NonceStatus::Stale,
    }
}

fn nonce_tag(secret: &[u8], unix_seconds: u64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(secret);
    hasher.update(b":");
    hasher.update(unix_seconds.to_be_bytes());
    let digest = hasher.finalize();
    hex(&digest[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_input(algorithm: DigestAlgorithm) -> DigestInput<'static> {
        // RFC 7616 §3.9.1.
        DigestInput {
            algorithm,
            username: "Mufasa",
            realm: "http-auth@example.org",
            password: "Circle of Life",
            method: "GET",
            uri: "/dir/index.html",
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            qop_auth: Some(("00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")),
        }
    }

    #[test]
    fn rfc2617_md5_example() {
        let input = DigestInput {
            algorithm: DigestAlgorithm::Md5,
            username: "Mufasa",
            realm: "testrealm@host.com",
            password: "Circle Of Life",
            method: "GET",
            uri: "/dir/index.html",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop_auth: Some(("00000001", "0a4f113b")),
        };
        assert_eq!(digest_response(&input), "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_md5_and_sha256_examples() {
        assert_eq!(
            digest_response(&rfc_input(DigestAlgorithm::Md5)),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
        assert_eq!(
            digest_response(&rfc_input(DigestAlgorithm::Sha256)),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn rsipstack_client_digest_matches_ours() {
        use rsipstack::sip::headers::auth::{Algorithm, AuthQop};
        use rsipstack::sip::{DigestGenerator, Method, Uri};
        let uri = Uri::try_from("sip:bob@example.com").expect("uri");
        let uri_text = uri.to_string();
        for (theirs, ours) in [
            (Algorithm::Md5, DigestAlgorithm::Md5),
            (Algorithm::Sha256, DigestAlgorithm::Sha256),
        ] {
            for qop in [
                None,
                Some(AuthQop::Auth {
                    cnonce: "c0ffee".into(),
                    nc: 1,
                }),
            ] {
                let generated = DigestGenerator {
                    username: "alice",
                    password: "wonderland",
                    nonce: "abc.123",
                    uri: &uri,
                    realm: "ivory",
                    method: &Method::Invite,
                    qop: qop.as_ref(),
                    algorithm: theirs,
                }
                .compute();
                let expected = digest_response(&DigestInput {
                    algorithm: ours,
                    username: "alice",
                    realm: "ivory",
                    password: "wonderland",
                    method: "INVITE",
                    uri: &uri_text,
                    nonce: "abc.123",
                    qop_auth: qop.as_ref().map(|_| ("00000001", "c0ffee")),
                });
                assert_eq!(generated, expected, "{ours:?} qop={}", qop.is_some());
            }
        }
    }

    #[test]
    fn session_variant_mixes_nonce_and_cnonce_into_ha1() {
        let plain = digest_response(&rfc_input(DigestAlgorithm::Sha256));
        let session = digest_response(&rfc_input(DigestAlgorithm::Sha256Session));
        assert_ne!(plain, session);
        assert_eq!(session.len(), 64);
    }

    #[test]
    fn authorization_values_parse_and_verify() {
        let value = r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let credentials = DigestCredentials::parse(value).expect("parses");
        assert_eq!(credentials.username, "Mufasa");
        assert_eq!(
            credentials.qop_auth,
            Some(("00000001".into(), "0a4f113b".into()))
        );
        assert_eq!(
            credentials.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert!(credentials.verify("Circle Of Life", "GET"));
        assert!(!credentials.verify("Circle of Life", "GET"));
        assert!(!credentials.verify("Circle Of Life", "POST"));
    }

    #[test]
    fn malformed_authorization_values_are_errors() {
        assert_eq!(
            DigestCredentials::parse("Basic QWxhZGRpbjpvcGVu"),
            Err(DigestError::NotDigest)
        );
        assert_eq!(
            DigestCredentials::parse(r#"Digest username="a"#),
            Err(DigestError::Malformed)
        );
        assert_eq!(
            DigestCredentials::parse(r#"Digest username="a", realm=r"#),
            Err(DigestError::Missing("nonce"))
        );
        assert_eq!(
            DigestCredentials::parse(
                r#"Digest username=a, realm=r, nonce=n, uri=u, response=x, algorithm=SHA-512"#
            ),
            Err(DigestError::UnsupportedAlgorithm)
        );
        assert_eq!(
            DigestCredentials::parse(
                r#"Digest username=a, realm=r, nonce=n, uri=u, response=x, qop=auth-int, nc=1, cnonce=c"#
            ),
            Err(DigestError::UnsupportedQop)
        );
        assert!(DigestCredentials::parse("Digest").is_err());
        assert!(DigestCredentials::parse("Digest =x").is_err());
    }

    #[test]
    fn nonces_expire_and_cannot_be_forged() {
        let secret = b"secret";
        let nonce = make_nonce(secret, 1_000);
        assert_eq!(check_nonce(secret, &nonce, 1_000), NonceStatus::Fresh);
        assert_eq!(
            check_nonce(secret, &nonce, 1_000 + NONCE_LIFETIME_SECONDS),
            NonceStatus::Fresh
        );
        assert_eq!(
            check_nonce(secret, &nonce, 1_001 + NONCE_LIFETIME_SECONDS),
            NonceStatus::Stale
        );
        assert_eq!(check_nonce(secret, &nonce, 999), NonceStatus::Stale);
        assert_eq!(check_nonce(b"other", &nonce, 1_000), NonceStatus::Invalid);
        let forged = nonce.replacen("3e8", "3e9", 1);
        assert_eq!(check_nonce(secret, &forged, 1_001), NonceStatus::Invalid);
        assert_eq!(check_nonce(secret, "garbage", 1_000), NonceStatus::Invalid);
        assert_eq!(check_nonce(secret, "zz.zz", 1_000), NonceStatus::Invalid);
    }
}
