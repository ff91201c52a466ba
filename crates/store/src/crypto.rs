//! Encryption of secrets at rest (hidden parameter values, resource data) with AES-256-GCM.
//!
//! Each value gets a fresh random 96-bit nonce; the row id and column are bound in as
//! associated data, so a ciphertext copied into another row or column fails to decrypt.

use crate::error::{Result, StoreError};
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use std::fmt;

const PREFIX: &str = "ember-aes256gcm:";
const NONCE_LEN: usize = 12;

/// The 32-byte key secrets are encrypted with (Heat's `auth_encryption_key` is the same size).
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    /// Exactly 32 bytes, e.g. a 32-character configured string.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            StoreError::Config(format!(
                "the encryption key must be 32 bytes long, not {}",
                bytes.len()
            ))
        })?;
        Ok(EncryptionKey(key))
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(******)")
    }
}

#[derive(Clone)]
pub(crate) struct Cipher(Aes256Gcm);

impl Cipher {
    pub(crate) fn new(key: &EncryptionKey) -> Self {
        Cipher(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.0)))
    }

    /// `context` names the row and column the value belongs to.
    pub(crate) fn encrypt(&self, context: &str, plaintext: &[u8]) -> Result<String> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .0
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Corrupt(format!("cannot encrypt {context}")))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", BASE64.encode(out)))
    }

    pub(crate) fn decrypt(&self, context: &str, stored: &str) -> Result<Vec<u8>> {
        let fail = || {
            StoreError::Corrupt(format!(
                "cannot decrypt {context} (wrong key or altered data)"
            ))
        };
        let encoded = stored.strip_prefix(PREFIX).ok_or_else(fail)?;
        let raw = BASE64.decode(encoded).map_err(|_| fail())?;
        if raw.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        self.0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| fail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(byte: u8) -> Cipher {
        Cipher::new(&EncryptionKey::from_bytes(&[byte; 32]).unwrap())
    }

    #[test]
    fn round_trip_and_context_binding() {
        let c = cipher(7);
        let sealed = c.encrypt("stacks.hidden:1", b"s3cret").unwrap();
        assert!(!sealed.contains("s3cret"));
        assert_eq!(c.decrypt("stacks.hidden:1", &sealed).unwrap(), b"s3cret");
        assert!(matches!(
            c.decrypt("stacks.hidden:2", &sealed),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            cipher(8).decrypt("stacks.hidden:1", &sealed),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            c.decrypt("x", "garbage"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            c.decrypt("x", &format!("{PREFIX}AAAA")),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn same_plaintext_encrypts_differently() {
        let c = cipher(1);
        assert_ne!(c.encrypt("a", b"v").unwrap(), c.encrypt("a", b"v").unwrap());
    }

    #[test]
    fn key_length_is_checked() {
        assert!(matches!(
            EncryptionKey::from_bytes(b"short"),
            Err(StoreError::Config(_))
        ));
        assert!(!format!("{:?}", EncryptionKey::from_bytes(&[9; 32]).unwrap()).contains('9'));
    }
}
