//! The test certificates, generated at test time with rcgen: CAs and the leaves they issue,
//! and the two-CA PKI the TLS tests share. The keystore tests' files and the simulator's PEM
//! files are written from these.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use smppd::transport::keystore::Keystore;
use smppd::transport::KeystoreFile;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A certificate with its key, in DER and PEM.
pub struct Leaf {
    pub cert: CertificateDer<'static>,
    pub cert_pem: String,
    pub key_der: Vec<u8>,
    pub key_pem: String,
}

impl Leaf {
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

/// A CA that can issue leaves.
pub struct Ca {
    pub cert: CertificateDer<'static>,
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("CA cert");
        Ca {
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Signs a new key's certificate with `params`.
    fn sign(&self, params: CertificateParams) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf cert");
        Leaf {
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            key_der: key.serialize_der(),
            key_pem: key.serialize_pem(),
        }
    }

    fn issue(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose, expired: bool) -> Leaf {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, "smppd test leaf");
        params.extended_key_usages = vec![purpose];
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        self.sign(params)
    }

    /// A server certificate for these names.
    pub fn server(&self, names: &[&str]) -> Leaf {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth, false)
    }

    /// A server certificate that expired in 2001.
    pub fn expired_server(&self, names: &[&str]) -> Leaf {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth, true)
    }

    /// A client certificate.
    pub fn client(&self) -> Leaf {
        self.issue(&["esme.test"], ExtendedKeyUsagePurpose::ClientAuth, false)
    }

    /// A certificate named only by its subject `CN=common_name` (no alternative name, no
    /// extended key usage), valid from now for `days`.
    pub fn named(&self, common_name: &str, days: u64) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
        params.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch;
        params.not_after = params.not_before + Duration::from_secs(days * 86_400);
        self.sign(params)
    }
}

/// The whole PKI the TLS tests need.
pub struct Pki {
    pub ca: Ca,
    pub other_ca: Ca,
    /// For localhost and 127.0.0.1, by `ca`.
    pub server: Leaf,
    /// For `smsc.example` only, by `ca`: the wrong host name for 127.0.0.1.
    pub named_server: Leaf,
    /// Expired, by `ca`.
    pub expired_server: Leaf,
    /// By `other_ca`: unknown issuer for us.
    pub foreign_server: Leaf,
    /// Our certificate, by `ca`.
    pub client: Leaf,
    /// Our certificate by `other_ca`: the SMSC does not trust it.
    pub foreign_client: Leaf,
}

impl Pki {
    pub fn new() -> Pki {
        let ca = Ca::new("smppd test CA");
        let other_ca = Ca::new("some other CA");
        Pki {
            server: ca.server(&["localhost", "127.0.0.1"]),
            named_server: ca.server(&["smsc.example"]),
            expired_server: ca.expired_server(&["localhost", "127.0.0.1"]),
            foreign_server: other_ca.server(&["localhost", "127.0.0.1"]),
            client: ca.client(),
            foreign_client: other_ca.client(),
            ca,
            other_ca,
        }
    }

    /// A keystore that trusts `ca` and holds no identity (single mode).
    pub fn trust_store(&self) -> KeystoreFile {
        KeystoreFile {
            path: "test-trust.p12".into(),
            contents: Keystore {
                chain: Vec::new(),
                key: None,
                trusted: vec![self.ca.cert.clone()],
            },
        }
    }

    /// A keystore that trusts `ca` and presents `leaf` (mutual mode).
    pub fn identity(&self, leaf: &Leaf) -> KeystoreFile {
        KeystoreFile {
            path: "test-identity.p12".into(),
            contents: Keystore {
                chain: vec![leaf.cert.clone()],
                key: Some(leaf.key()),
                trusted: vec![self.ca.cert.clone()],
            },
        }
    }
}
