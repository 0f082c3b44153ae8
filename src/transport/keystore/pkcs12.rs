//! Reading a PKCS#12 (PFX, RFC 7292) file in three steps, so each password is used only where
//! it belongs:
//!
//! 1. `Container::parse`: the outer structure, no password needed;
//! 2. `Container::open`: the file password verifies the MAC and decrypts the
//!    `encryptedData` sections (where OpenSSL and Java put the certificates);
//! 3. `Bags::decrypt_keys`: the key password decrypts each `pkcs8ShroudedKeyBag`.
//!
//! This is how Java treats a keystore's store password and key-entry password, and what the
//! driver's `x-smpp-tls-certificate-file-password` / `x-smpp-tls-certificate-password` pair
//! means. p12-keystore takes one password for all three steps, so it cannot do this.

use cms::content_info::ContentInfo;
use cms::encrypted_data::EncryptedData;
use der::asn1::{AnyRef, OctetString};
use der::{Decode, Encode};
use hmac::{KeyInit, Mac};
use pkcs12::kdf::{derive_key_utf8, Pkcs12KeyType};
use pkcs12::pbe_params::EncryptedPrivateKeyInfo;
use pkcs12::pfx::Pfx;
use pkcs12::safe_bag::SafeBag;
use pkcs12::{AuthenticatedSafe, CertBag, MacData};
use std::path::Path;

use super::oid;
use super::pbe::{self, PbeError};
use super::KeystoreError;
use crate::secret::Secret;

/// Nested `safeContentsBag`s deeper than this are refused rather than followed.
const MAX_NESTING: usize = 4;

/// A PKCS#12 file parsed down to its sections, nothing decrypted yet.
#[derive(Debug)]
pub(crate) struct Container {
    mac: Option<MacData>,
    /// The bytes the MAC covers: the content of the outer `data` ContentInfo.
    authenticated: Vec<u8>,
    sections: Vec<ContentInfo>,
}

/// A section of the file, as `keystore inspect` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionKind {
    /// Stored in clear (OpenSSL and Java put the key bag here; it is encrypted on its own).
    Plain,
    /// Encrypted with the file password, with this algorithm (dotted OID).
    Encrypted(String),
    /// A content type PKCS#12 does not use for bags (enveloped data, signed data...).
    Other(String),
}

impl std::fmt::Display for SectionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SectionKind::Plain => f.write_str("clear (key bags inside are encrypted on their own)"),
            SectionKind::Encrypted(o) => write!(f, "encrypted with {} ({o})", scheme_name(o)),
            SectionKind::Other(o) => write!(f, "content type {o}, skipped"),
        }
    }
}

/// A readable name for the encryption schemes `inspect` shows.
fn scheme_name(dotted: &str) -> &'static str {
    match dotted.parse::<der::asn1::ObjectIdentifier>() {
        Ok(oid::PBES2) => "PBES2",
        Ok(oid::PBE_SHA1_3DES) => "pbeWithSHAAnd3-KeyTripleDES-CBC",
        Ok(oid::PBE_SHA1_2DES) => "pbeWithSHAAnd2-KeyTripleDES-CBC",
        Ok(oid::PBE_SHA1_RC2_128) => "pbeWithSHAAnd128BitRC2-CBC",
        Ok(oid::PBE_SHA1_RC2_40) => "pbeWithSHAAnd40BitRC2-CBC",
        _ => "an unknown scheme",
    }
}

/// A certificate bag's content and attributes.
#[derive(Debug, Clone)]
pub(crate) struct CertEntry {
    pub(crate) der: Vec<u8>,
    pub(crate) local_key_id: Option<Vec<u8>>,
    pub(crate) friendly_name: Option<String>,
}

/// A key bag still encrypted with the key password (or a clear one).
#[derive(Debug, Clone)]
pub(crate) struct KeyEntry {
    pub(crate) sealed: SealedKey,
    pub(crate) local_key_id: Option<Vec<u8>>,
}

/// How a key bag stores its key.
#[derive(Debug, Clone)]
pub(crate) enum SealedKey {
    /// keyBag: PKCS#8 in clear.
    Clear(Vec<u8>),
    /// pkcs8ShroudedKeyBag.
    Shrouded(EncryptedPrivateKeyInfo),
}

/// A decrypted key with the attribute that pairs it with a certificate.
#[derive(Debug, Clone)]
pub(crate) struct OpenKey {
    pub(crate) pkcs8: Vec<u8>,
    pub(crate) local_key_id: Option<Vec<u8>>,
}

/// The bags of every section the file password opened.
#[derive(Debug, Default)]
pub(crate) struct Bags {
    pub(crate) certs: Vec<CertEntry>,
    pub(crate) keys: Vec<KeyEntry>,
}

impl Container {
    /// Parses the outer structure. `path` only names the file in errors.
    pub(crate) fn parse(data: &[u8], path: &Path) -> Result<Container, KeystoreError> {
        let not = |detail: String| KeystoreError::NotPkcs12 {
            path: path.to_path_buf(),
            detail,
        };
        let pfx = Pfx::from_der(data).map_err(|e| not(format!("PFX structure: {e}")))?;
        if pfx.auth_safe.content_type != oid::DATA {
            // Public-key integrity mode (signedData) is allowed by RFC 7292 but used by no
            // keystore producer we know of.
            return Err(KeystoreError::UnsupportedAlgorithm {
                what: "PKCS#12 integrity mode",
                oid: pfx.auth_safe.content_type.to_string(),
            });
        }
        let authenticated = octets(&pfx.auth_safe).map_err(|e| not(format!("authSafe: {e}")))?;
        let sections = AuthenticatedSafe::from_der(&authenticated)
            .map_err(|e| not(format!("AuthenticatedSafe: {e}")))?;
        Ok(Container {
            mac: pfx.mac_data,
            authenticated,
            sections,
        })
    }

    /// The MAC's digest and iteration count, if the file has a MAC.
    pub(crate) fn mac_summary(&self) -> Option<(String, i32)> {
        self.mac
            .as_ref()
            .map(|m| (digest_name(&m.mac.algorithm.oid), m.iterations))
    }

    /// How each section is stored.
    pub(crate) fn section_kinds(&self) -> Vec<SectionKind> {
        self.sections
            .iter()
            .map(|s| match s.content_type {
                oid::DATA => SectionKind::Plain,
                oid::ENCRYPTED_DATA => match EncryptedData::from_der(&any_der(s)) {
                    Ok(e) => {
                        SectionKind::Encrypted(e.enc_content_info.content_enc_alg.oid.to_string())
                    }
                    Err(_) => SectionKind::Encrypted("unreadable".into()),
                },
                other => SectionKind::Other(other.to_string()),
            })
            .collect()
    }

    /// Verifies the MAC with the file password, then decrypts every section and collects its
    /// bags. Key bags stay encrypted.
    pub(crate) fn open(&self, file_password: &Secret, path: &Path) -> Result<Bags, KeystoreError> {
        let has_mac = match &self.mac {
            Some(mac) => {
                verify_mac(mac, &self.authenticated, file_password.expose())?;
                true
            }
            None => false,
        };
        let damaged = |detail: String| KeystoreError::Damaged {
            path: path.to_path_buf(),
            detail,
        };
        let mut bags = Bags::default();
        for section in &self.sections {
            let contents = match section.content_type {
                oid::DATA => octets(section).map_err(|e| damaged(format!("clear section: {e}")))?,
                oid::ENCRYPTED_DATA => {
                    let enc = EncryptedData::from_der(&any_der(section))
                        .map_err(|e| damaged(format!("encrypted section: {e}")))?;
                    let info = enc.enc_content_info;
                    let Some(ciphertext) = info.encrypted_content else {
                        continue;
                    };
                    match pbe::decrypt(
                        &info.content_enc_alg,
                        ciphertext.as_bytes(),
                        file_password.expose(),
                    ) {
                        Ok(plain) => plain,
                        // Without a MAC, failing to decrypt is the only sign of a wrong password.
                        Err(PbeError::BadPadding) if !has_mac => {
                            return Err(KeystoreError::WrongFilePassword)
                        }
                        Err(e) => return Err(pbe_error(e, "certificate section encryption", path)),
                    }
                }
                // Sections encrypted to a recipient's public key cannot be opened by password.
                _ => continue,
            };
            // A clear-looking section that fails to parse after a failed-padding-free decrypt
            // means a wrong password in a MAC-less file, or damage.
            match SafeContentsDer::parse(&contents) {
                Ok(list) => collect(list, &mut bags, 0, path)?,
                Err(_) if !has_mac && section.content_type == oid::ENCRYPTED_DATA => {
                    return Err(KeystoreError::WrongFilePassword)
                }
                Err(e) => return Err(damaged(format!("SafeContents: {e}"))),
            }
        }
        Ok(bags)
    }
}

/// `SafeContents ::= SEQUENCE OF SafeBag`.
struct SafeContentsDer;

impl SafeContentsDer {
    fn parse(der: &[u8]) -> der::Result<Vec<SafeBag>> {
        Vec::<SafeBag>::from_der(der)
    }
}

impl Bags {
    /// Decrypts every key bag with the key password and checks each is PKCS#8.
    pub(crate) fn decrypt_keys(
        &self,
        key_password: &Secret,
        path: &Path,
    ) -> Result<Vec<OpenKey>, KeystoreError> {
        self.keys
            .iter()
            .map(|k| {
                let pkcs8 = match &k.sealed {
                    SealedKey::Clear(der) => der.clone(),
                    SealedKey::Shrouded(info) => {
                        let plain = pbe::decrypt(
                            &info.encryption_algorithm,
                            info.encrypted_data.as_bytes(),
                            key_password.expose(),
                        )
                        .map_err(|e| match e {
                            // Java's wording for the same failure, which operators search for.
                            PbeError::BadPadding => KeystoreError::WrongKeyPassword {
                                cause: "Given final block not properly padded".into(),
                            },
                            other => pbe_error(other, "key bag encryption", path),
                        })?;
                        if !is_pkcs8(&plain) {
                            return Err(KeystoreError::WrongKeyPassword {
                                cause: "the decrypted key is not a PKCS#8 private key".into(),
                            });
                        }
                        plain
                    }
                };
                Ok(OpenKey {
                    pkcs8,
                    local_key_id: k.local_key_id.clone(),
                })
            })
            .collect()
    }
}

/// Sorts bags into certificates and keys, following nested `safeContentsBag`s.
fn collect(
    list: Vec<SafeBag>,
    bags: &mut Bags,
    depth: usize,
    path: &Path,
) -> Result<(), KeystoreError> {
    let damaged = |detail: String| KeystoreError::Damaged {
        path: path.to_path_buf(),
        detail,
    };
    for bag in list {
        // `bag_value` is the explicit [0] wrapper; its content is the bag itself.
        let inner = AnyRef::from_der(&bag.bag_value)
            .map_err(|e| damaged(format!("bag value: {e}")))?
            .value()
            .to_vec();
        let local_key_id = attribute(&bag, oid::LOCAL_KEY_ID)
            .and_then(|v| OctetString::from_der(&v).ok())
            .map(|o| o.as_bytes().to_vec());
        match bag.bag_id {
            oid::CERT_BAG => {
                let cert =
                    CertBag::from_der(&inner).map_err(|e| damaged(format!("certBag: {e}")))?;
                // SDSI certificates cannot be used by TLS; skip rather than fail.
                if cert.cert_id == oid::X509_CERTIFICATE {
                    bags.certs.push(CertEntry {
                        der: cert.cert_value.as_bytes().to_vec(),
                        local_key_id,
                        friendly_name: attribute(&bag, oid::FRIENDLY_NAME)
                            .and_then(|v| der::asn1::BmpString::from_der(&v).ok())
                            .map(|s| s.to_string()),
                    });
                }
            }
            oid::KEY_BAG => bags.keys.push(KeyEntry {
                sealed: SealedKey::Clear(inner),
                local_key_id,
            }),
            oid::SHROUDED_KEY_BAG => {
                let info = EncryptedPrivateKeyInfo::from_der(&inner)
                    .map_err(|e| damaged(format!("pkcs8ShroudedKeyBag: {e}")))?;
                bags.keys.push(KeyEntry {
                    sealed: SealedKey::Shrouded(info),
                    local_key_id,
                });
            }
            oid::SAFE_CONTENTS_BAG if depth < MAX_NESTING => {
                let nested = SafeContentsDer::parse(&inner)
                    .map_err(|e| damaged(format!("safeContentsBag: {e}")))?;
                collect(nested, bags, depth + 1, path)?;
            }
            oid::SAFE_CONTENTS_BAG => {
                return Err(damaged("safeContentsBag nested too deeply".into()))
            }
            // CRL and secret bags carry nothing TLS needs.
            _ => {}
        }
    }
    Ok(())
}

/// HMAC over `data` with the PKCS#12-derived MAC key, compared in constant time. A macro
/// rather than a generic function: the digest trait bounds of the RustCrypto crates change
/// between pre-releases, the concrete types do not.
macro_rules! hmac_matches {
    ($digest:ty, $password:expr, $salt:expr, $iterations:expr, $data:expr, $expected:expr) => {{
        let len = <$digest as hmac::digest::Digest>::output_size();
        match derive_key_utf8::<$digest>($password, $salt, Pkcs12KeyType::Mac, $iterations, len) {
            Err(_) => false,
            Ok(key) => match <hmac::Hmac<$digest> as KeyInit>::new_from_slice(&key) {
                Err(_) => false,
                Ok(mut mac) => {
                    mac.update($data);
                    mac.verify_slice($expected).is_ok()
                }
            },
        }
    }};
}
/// Checks the MAC (RFC 7292 appendix B key derivation, HMAC over the authenticated safe).
fn verify_mac(mac: &MacData, data: &[u8], password: &str) -> Result<(), KeystoreError> {
    let iterations = pbe::checked_iterations(mac.iterations).map_err(|e| match e {
        PbeError::BadParameters(d) => KeystoreError::UnsupportedAlgorithm {
            what: "MAC",
            oid: format!("{} ({d})", mac.mac.algorithm.oid),
        },
        _ => KeystoreError::WrongFilePassword,
    })?;
    let salt = mac.mac_salt.as_bytes();
    let expected = mac.mac.digest.as_bytes();
    let ok = match mac.mac.algorithm.oid {
        oid::SHA1 => hmac_matches!(sha1::Sha1, password, salt, iterations, data, expected),
        oid::SHA224 => hmac_matches!(sha2::Sha224, password, salt, iterations, data, expected),
        oid::SHA256 => hmac_matches!(sha2::Sha256, password, salt, iterations, data, expected),
        oid::SHA384 => hmac_matches!(sha2::Sha384, password, salt, iterations, data, expected),
        oid::SHA512 => hmac_matches!(sha2::Sha512, password, salt, iterations, data, expected),
        other => {
            return Err(KeystoreError::UnsupportedAlgorithm {
                what: "MAC digest",
                oid: other.to_string(),
            })
        }
    };
    if ok {
        Ok(())
    } else {
        Err(KeystoreError::WrongFilePassword)
    }
}

/// Whether `der` is a PKCS#8 PrivateKeyInfo (v1) or OneAsymmetricKey (v2).
fn is_pkcs8(der: &[u8]) -> bool {
    pkcs8::PrivateKeyInfoRef::from_der(der).is_ok()
}

/// The octets of a `data` ContentInfo.
fn octets(info: &ContentInfo) -> der::Result<Vec<u8>> {
    Ok(OctetString::from_der(&any_der(info))?
        .into_bytes()
        .into_vec())
}

/// The DER of a ContentInfo's content (re-encoding an `Any` only fails on absurd lengths).
fn any_der(info: &ContentInfo) -> Vec<u8> {
    info.content.to_der().unwrap_or_default()
}

/// The first value of a bag attribute, as DER.
fn attribute(bag: &SafeBag, wanted: der::asn1::ObjectIdentifier) -> Option<Vec<u8>> {
    bag.bag_attributes
        .as_ref()?
        .iter()
        .find(|a| a.oid == wanted)?
        .values
        .iter()
        .next()?
        .to_der()
        .ok()
}

fn digest_name(o: &der::asn1::ObjectIdentifier) -> String {
    match *o {
        oid::SHA1 => "SHA-1".into(),
        oid::SHA224 => "SHA-224".into(),
        oid::SHA256 => "SHA-256".into(),
        oid::SHA384 => "SHA-384".into(),
        oid::SHA512 => "SHA-512".into(),
        other => other.to_string(),
    }
}

/// Maps a decryption failure that is not a password problem.
fn pbe_error(e: PbeError, what: &'static str, path: &Path) -> KeystoreError {
    match e {
        PbeError::Unsupported(o) => KeystoreError::UnsupportedAlgorithm {
            what,
            oid: o.to_string(),
        },
        PbeError::BadParameters(detail) => KeystoreError::Damaged {
            path: path.to_path_buf(),
            detail: format!("{what}: {detail}"),
        },
        PbeError::BadPadding => KeystoreError::Damaged {
            path: path.to_path_buf(),
            detail: format!(
                "{what}: the file password verified the MAC but does not decrypt this section"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY: &[u8] = include_bytes!("../../../certs/dev/client-legacy.p12");
    const MODERN: &[u8] = include_bytes!("../../../certs/dev/client.p12");
    const TWO: &[u8] = include_bytes!("../../../certs/dev/client-two-passwords.p12");

    fn path() -> &'static Path {
        Path::new("t.p12")
    }

    #[test]
    fn structure_is_visible_without_a_password() {
        let legacy = Container::parse(LEGACY, path()).unwrap();
        assert_eq!(legacy.mac_summary().map(|m| m.0), Some("SHA-1".into()));
        assert_eq!(
            legacy.section_kinds(),
            vec![
                SectionKind::Encrypted(oid::PBE_SHA1_RC2_40.to_string()),
                SectionKind::Plain
            ]
        );
        let modern = Container::parse(MODERN, path()).unwrap();
        assert_eq!(modern.mac_summary().map(|m| m.0), Some("SHA-256".into()));
        assert_eq!(
            modern.section_kinds().first(),
            Some(&SectionKind::Encrypted(oid::PBES2.to_string()))
        );
    }

    #[test]
    fn each_password_opens_only_its_part() {
        let c = Container::parse(TWO, path()).unwrap();
        assert!(matches!(
            c.open(&Secret::new("keypass"), path()),
            Err(KeystoreError::WrongFilePassword)
        ));
        let bags = c.open(&Secret::new("filepass"), path()).unwrap();
        assert_eq!((bags.certs.len(), bags.keys.len()), (2, 1));
        assert!(matches!(
            bags.decrypt_keys(&Secret::new("filepass"), path()),
            Err(KeystoreError::WrongKeyPassword { .. })
        ));
        let keys = bags.decrypt_keys(&Secret::new("keypass"), path()).unwrap();
        assert!(is_pkcs8(&keys[0].pkcs8));
        assert_eq!(keys[0].local_key_id, bags.certs[0].local_key_id);
    }

    #[test]
    fn junk_is_not_pkcs12() {
        for junk in [
            &b""[..],
            b"\x30\x00",
            b"\x30\x03\x02\x01\x03",
            b"-----BEGIN",
        ] {
            assert!(matches!(
                Container::parse(junk, path()),
                Err(KeystoreError::NotPkcs12 { .. })
            ));
        }
    }

    #[test]
    fn pkcs8_check_refuses_garbage() {
        assert!(!is_pkcs8(b"\x30\x03\x02\x01\x00"));
        assert!(!is_pkcs8(&[0u8; 32]));
    }
}
