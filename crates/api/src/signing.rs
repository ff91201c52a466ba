//! Pre-signed URLs for the CFN-style endpoints: a wait condition handle's URL (`PUT
//! /v1/waitcondition/{arn}`), a resource's signal URL (`POST /v1/signal/{arn}`) and a server's
//! metadata URL (`GET /v1/metadata/{arn}`, polled by os-collect-config).
//!
//! A URL is bound to one method, one resource of one stack, and an expiry time, by an
//! HMAC-SHA256 over those three; anyone holding it can signal that resource with plain curl
//! until it expires, and nothing else. A wait condition handle's `token` is made the same way
//! ([`sign_token`]): it authorises the native signal of that one resource. The engine mints
//! both through [`crate::UrlSigner`], which implements its `SignalUrls`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Characters kept as they are in the ARN path segment (RFC 3986 unreserved).
const ARN_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The secret the server signs with.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    pub fn new(secret: &[u8]) -> Self {
        SigningKey(secret.to_vec())
    }

    /// A key of 256 random bits, for a server started without a configured key.
    pub fn random() -> Self {
        let mut bytes = Vec::with_capacity(32);
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        SigningKey(bytes)
    }

    fn mac(&self, message: &str) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        mac.update(message.as_bytes());
        mac
    }
}

/// Which endpoint a URL is for; each takes one HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// `PUT /v1/waitcondition/{arn}` with `{"Status","Reason","UniqueId","Data"}`.
    WaitCondition,
    /// `POST /v1/signal/{arn}` with any JSON body (scaling policies' `alarm_url`).
    Signal,
    /// `GET /v1/metadata/{arn}`: a server's metadata, polled by os-collect-config.
    Metadata,
}

impl SignalKind {
    pub fn method(self) -> &'static str {
        match self {
            SignalKind::WaitCondition => "PUT",
            SignalKind::Signal => "POST",
            SignalKind::Metadata => "GET",
        }
    }

    pub fn path_segment(self) -> &'static str {
        match self {
            SignalKind::WaitCondition => "waitcondition",
            SignalKind::Signal => "signal",
            SignalKind::Metadata => "metadata",
        }
    }
}

/// The resource a URL signals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTarget {
    pub kind: SignalKind,
    pub tenant: String,
    pub stack_name: String,
    pub stack_id: String,
    pub resource_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Invalid resource ARN: {0}")]
    BadArn(String),
    #[error("Signature missing or malformed")]
    Malformed,
    #[error("Signature expired")]
    Expired,
    #[error("Signature does not match")]
    Mismatch,
}

impl SignedTarget {
    /// Heat's resource ARN: `arn:openstack:heat::{tenant}:stacks/{name}/{id}/resources/{res}`.
    pub fn arn(&self) -> String {
        format!(
            "arn:openstack:heat::{}:stacks/{}/{}/resources/{}",
            self.tenant, self.stack_name, self.stack_id, self.resource_name
        )
    }

    pub fn from_arn(kind: SignalKind, arn: &str) -> Result<Self, SignatureError> {
        let bad = || SignatureError::BadArn(arn.to_string());
        let rest = arn.strip_prefix("arn:openstack:heat::").ok_or_else(bad)?;
        let (tenant, path) = rest.split_once(':').ok_or_else(bad)?;
        let path = path.strip_prefix("stacks/").ok_or_else(bad)?;
        let mut parts = path.splitn(4, '/');
        let (stack_name, stack_id, resources, resource_name) =
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(n), Some(i), Some(r), Some(res)) => (n, i, r, res),
                _ => return Err(bad()),
            };
        if resources != "resources"
            || [tenant, stack_name, stack_id, resource_name]
                .iter()
                .any(|s| s.is_empty())
        {
            return Err(bad());
        }
        Ok(SignedTarget {
            kind,
            tenant: tenant.to_string(),
            stack_name: stack_name.to_string(),
            stack_id: stack_id.to_string(),
            resource_name: resource_name.to_string(),
        })
    }

    fn from_engine(kind: SignalKind, target: &ember_engine::nested::SignalTarget) -> Self {
        SignedTarget {
            kind,
            tenant: target.tenant.clone(),
            stack_name: target.stack_name.clone(),
            stack_id: target.stack_id.clone(),
            resource_name: target.resource_name.clone(),
        }
    }

    fn signed_message(&self, expires: i64) -> String {
        format!("{}\n{}\n{}", self.kind.method(), self.arn(), expires)
    }
}

/// The pre-signed URL for `target`, valid until `expires` (Unix seconds). `base_url` is the
/// API's public root, e.g. `http://127.0.0.1:8004`.
pub fn sign_url(key: &SigningKey, target: &SignedTarget, base_url: &str, expires: i64) -> String {
    let signature = URL_SAFE_NO_PAD.encode(
        key.mac(&target.signed_message(expires))
            .finalize()
            .into_bytes(),
    );
    format!(
        "{}/v1/{}/{}?Expires={}&SignatureMethod=HmacSHA256&Signature={}",
        base_url.trim_end_matches('/'),
        target.kind.path_segment(),
        utf8_percent_encode(&target.arn(), ARN_SEGMENT),
        expires,
        signature
    )
}

/// A signing secret derived from another key (HMAC-SHA256 of `purpose` under it): a server
/// without a configured signing key keeps the same one across restarts (its URLs stay valid)
/// without using the other key itself.
pub fn derive_secret(key: &[u8], purpose: &str) -> String {
    URL_SAFE_NO_PAD.encode(SigningKey::new(key).mac(purpose).finalize().into_bytes())
}

/// A token for the native signal of one resource (a wait condition handle's `token`):
/// `{expires}.{signature}`, the HMAC over a message of its own form, so it is neither a URL
/// signature nor valid for another resource.
pub fn sign_token(key: &SigningKey, target: &SignedTarget, expires: i64) -> String {
    let signature = URL_SAFE_NO_PAD.encode(
        key.mac(&token_message(target, expires))
            .finalize()
            .into_bytes(),
    );
    format!("{expires}.{signature}")
}

fn token_message(target: &SignedTarget, expires: i64) -> String {
    format!("TOKEN\n{}\n{}", target.arn(), expires)
}

/// Checks a token made by [`sign_token`] for `target` (whose `kind` does not matter).
pub fn verify_token(
    key: &SigningKey,
    target: &SignedTarget,
    token: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let (expires, signature) = token.split_once('.').ok_or(SignatureError::Malformed)?;
    let expires: i64 = expires.parse().map_err(|_| SignatureError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| SignatureError::Malformed)?;
    key.mac(&token_message(target, expires))
        .verify_slice(&signature)
        .map_err(|_| SignatureError::Mismatch)?;
    if now > expires {
        return Err(SignatureError::Expired);
    }
    Ok(())
}

impl crate::UrlSigner {
    /// The expiry of a URL or token minted now.
    pub(crate) fn expiry(&self) -> i64 {
        chrono::Utc::now()
            .timestamp()
            .saturating_add(self.lifetime_seconds)
    }
}

/// The engine's resources get their URLs and tokens from the server's signer (`ember serve`
/// sets it as `EngineConfig::signal_urls`).
impl ember_engine::nested::SignalUrls for crate::UrlSigner {
    fn url(&self, target: &ember_engine::nested::SignalTarget) -> String {
        use ember_engine::nested::SignalUrlKind;
        let signed = |kind| SignedTarget::from_engine(kind, target);
        match target.kind {
            SignalUrlKind::Native => {
                let segment = |s: &str| utf8_percent_encode(s, ARN_SEGMENT).to_string();
                format!(
                    "{}/v1/{}/stacks/{}/{}/resources/{}/signal",
                    self.base_url.trim_end_matches('/'),
                    segment(&target.tenant),
                    segment(&target.stack_name),
                    segment(&target.stack_id),
                    segment(&target.resource_name)
                )
            }
            SignalUrlKind::PresignedSignal => self.url(&signed(SignalKind::Signal)),
            SignalUrlKind::PresignedWaitCondition => self.url(&signed(SignalKind::WaitCondition)),
            SignalUrlKind::PresignedMetadata => self.url(&signed(SignalKind::Metadata)),
        }
    }

    fn token(&self, target: &ember_engine::nested::SignalTarget) -> String {
        let target = SignedTarget::from_engine(SignalKind::Signal, target);
        sign_token(&self.key, &target, self.expiry())
    }
}

/// Checks a request to a signed endpoint: `arn` is the decoded path after the kind segment,
/// `expires` and `signature` the query values, `now` the current Unix time.
pub fn verify(
    key: &SigningKey,
    kind: SignalKind,
    arn: &str,
    expires: Option<&str>,
    signature: Option<&str>,
    now: i64,
) -> Result<SignedTarget, SignatureError> {
    let target = SignedTarget::from_arn(kind, arn)?;
    let expires: i64 = expires
        .and_then(|e| e.parse().ok())
        .ok_or(SignatureError::Malformed)?;
    let signature = signature
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .ok_or(SignatureError::Malformed)?;
    key.mac(&target.signed_message(expires))
        .verify_slice(&signature)
        .map_err(|_| SignatureError::Mismatch)?;
    if now > expires {
        return Err(SignatureError::Expired);
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn target(kind: SignalKind) -> SignedTarget {
        SignedTarget {
            kind,
            tenant: "t1".into(),
            stack_name: "web".into(),
            stack_id: "0d6a2c3e-1".into(),
            resource_name: "handle".into(),
        }
    }

    fn query(url: &str, key: &str) -> Option<String> {
        url.split_once('?')?
            .1
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_string))
    }

    #[test]
    fn minted_url_verifies_until_it_expires() {
        let key = SigningKey::new(b"k");
        let t = target(SignalKind::WaitCondition);
        let url = sign_url(&key, &t, "http://h:8004/", 1000);
        assert!(url.starts_with(
            "http://h:8004/v1/waitcondition/arn%3Aopenstack%3Aheat%3A%3At1%3Astacks%2Fweb%2F0d6a2c3e-1%2Fresources%2Fhandle?Expires=1000&"
        ));
        let sig = query(&url, "Signature");
        let ok = verify(
            &key,
            SignalKind::WaitCondition,
            &t.arn(),
            Some("1000"),
            sig.as_deref(),
            999,
        );
        assert_eq!(ok, Ok(t.clone()));
        let late = verify(
            &key,
            SignalKind::WaitCondition,
            &t.arn(),
            Some("1000"),
            sig.as_deref(),
            1001,
        );
        assert_eq!(late, Err(SignatureError::Expired));
    }

    #[test]
    fn signature_is_bound_to_resource_kind_expiry_and_key() {
        let key = SigningKey::new(b"k");
        let t = target(SignalKind::Signal);
        let url = sign_url(&key, &t, "http://h", 1000);
        let sig = query(&url, "Signature");
        let other = SignedTarget {
            resource_name: "other".into(),
            ..t.clone()
        };
        let check = |k: &SigningKey, kind, arn: &str, exp| {
            verify(k, kind, arn, Some(exp), sig.as_deref(), 0)
        };
        assert_eq!(
            check(&key, SignalKind::Signal, &other.arn(), "1000"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&key, SignalKind::WaitCondition, &t.arn(), "1000"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&key, SignalKind::Signal, &t.arn(), "2000"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&SigningKey::new(b"x"), SignalKind::Signal, &t.arn(), "1000"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&key, SignalKind::Signal, &t.arn(), None, sig.as_deref(), 0),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn tokens_are_bound_to_their_resource_and_expiry() {
        let key = SigningKey::new(b"k");
        let t = target(SignalKind::Signal);
        let token = sign_token(&key, &t, 1000);
        assert_eq!(verify_token(&key, &t, &token, 999), Ok(()));
        assert_eq!(
            verify_token(&key, &t, &token, 1001),
            Err(SignatureError::Expired)
        );
        let other = SignedTarget {
            resource_name: "other".into(),
            ..t.clone()
        };
        assert_eq!(
            verify_token(&key, &other, &token, 0),
            Err(SignatureError::Mismatch)
        );
        let (_, signature) = token.split_once('.').unwrap();
        assert_eq!(
            verify_token(&key, &t, &format!("2000.{signature}"), 0),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_token(&key, &t, "gAAAAABk-keystone", 0),
            Err(SignatureError::Malformed)
        );
        // A URL signature for the same resource is not a token.
        let url = sign_url(&key, &t, "http://h", 1000);
        let url_signature = query(&url, "Signature").unwrap();
        assert_eq!(
            verify_token(&key, &t, &format!("1000.{url_signature}"), 0),
            Err(SignatureError::Mismatch)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_arns_and_signatures_never_panic(arn in ".{0,80}", exp in ".{0,12}", sig in ".{0,60}") {
            let _ = verify(&SigningKey::new(b"k"), SignalKind::Signal, &arn, Some(&exp), Some(&sig), 0);
        }

        #[test]
        fn arn_round_trips(name in "[a-zA-Z][a-zA-Z0-9_.-]{0,20}", res in "[a-zA-Z0-9_-]{1,20}") {
            let t = SignedTarget { stack_name: name, resource_name: res, ..target(SignalKind::Signal) };
            prop_assert_eq!(SignedTarget::from_arn(SignalKind::Signal, &t.arn()), Ok(t));
        }
    }
}
