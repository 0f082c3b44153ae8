//! Password-based decryption of PKCS#12 contents: the legacy PKCS#12 PBE schemes (RFC 7292
//! appendix B/C, used by `openssl pkcs12 -legacy` and old Java) and PBES2 (RFC 8018, the
//! OpenSSL 3 and JDK 17 default).
//!
//! Everything here treats its input as hostile: iteration counts are capped before any key
//! derivation runs, and every failure is a value, never a panic.

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipherDecrypt, BlockModeDecrypt, KeyInit, KeyIvInit};
use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use pkcs12::kdf::{derive_key_utf8, Pkcs12KeyType};
use pkcs12::pbe_params::Pkcs12PbeParams;
use sha1::Sha1;
use spki_alg::AlgorithmIdentifierOwned;

use super::oid;

// `cms` re-exports the `spki` version that `pkcs12` uses; naming it here keeps the two in step.
use cms::cert::x509::spki as spki_alg;

/// The most key-derivation iterations we run. Real files use 2 048 (OpenSSL) to 10 000 (Java);
/// a crafted file asking for billions would otherwise hang the channel's start-up.
pub(crate) const MAX_ITERATIONS: u64 = 1_000_000;

/// Why decryption failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PbeError {
    /// The scheme, its key derivation or its cipher is not one we implement.
    Unsupported(ObjectIdentifier),
    /// The algorithm parameters are malformed or out of bounds.
    BadParameters(String),
    /// The plaintext did not end in valid padding: in practice, the password is wrong.
    BadPadding,
}

/// Decrypts `data` encrypted under `alg` with `password`.
pub(crate) fn decrypt(
    alg: &AlgorithmIdentifierOwned,
    data: &[u8],
    password: &str,
) -> Result<Vec<u8>, PbeError> {
    let params = alg
        .parameters
        .as_ref()
        .ok_or_else(|| PbeError::BadParameters(format!("{} has no parameters", alg.oid)))?
        .to_der()
        .map_err(|e| PbeError::BadParameters(e.to_string()))?;
    match alg.oid {
        oid::PBES2 => pbes2(&params, data, password),
        oid::PBE_SHA1_3DES => pkcs12_pbe::<des::TdesEde3>(&params, data, password, 24),
        oid::PBE_SHA1_2DES => pkcs12_pbe::<des::TdesEde2>(&params, data, password, 16),
        oid::PBE_SHA1_RC2_128 => pkcs12_pbe::<rc2::Rc2>(&params, data, password, 16),
        oid::PBE_SHA1_RC2_40 => pkcs12_pbe::<rc2::Rc2>(&params, data, password, 5),
        other => Err(PbeError::Unsupported(other)),
    }
}

/// PBES2: PBKDF2 (or scrypt) then a block cipher, both named inside the parameters.
fn pbes2(params: &[u8], data: &[u8], password: &str) -> Result<Vec<u8>, PbeError> {
    let params = pkcs5::pbes2::Parameters::from_der(params)
        .map_err(|e| PbeError::BadParameters(format!("PBES2 parameters: {e}")))?;
    match &params.kdf {
        pkcs5::pbes2::Kdf::Pbkdf2(p) if u64::from(p.iteration_count) > MAX_ITERATIONS => {
            return Err(too_many(u64::from(p.iteration_count)));
        }
        pkcs5::pbes2::Kdf::Pbkdf2(_) => {}
        // scrypt can demand gigabytes of memory; no PKCS#12 producer we know of uses it.
        other => return Err(PbeError::Unsupported(other.oid())),
    }
    params
        .decrypt(password.as_bytes(), data)
        .map_err(|e| match e {
            pkcs5::Error::DecryptFailed => PbeError::BadPadding,
            pkcs5::Error::UnsupportedAlgorithm { oid } => PbeError::Unsupported(oid),
            other => PbeError::BadParameters(other.to_string()),
        })
}

/// The PKCS#12 PBE schemes: SHA-1 based key and IV derivation (RFC 7292 appendix B), CBC.
fn pkcs12_pbe<C>(
    params: &[u8],
    data: &[u8],
    password: &str,
    key_len: usize,
) -> Result<Vec<u8>, PbeError>
where
    C: BlockCipherDecrypt + KeyInit,
{
    let params = Pkcs12PbeParams::from_der(params)
        .map_err(|e| PbeError::BadParameters(format!("PKCS#12 PBE parameters: {e}")))?;
    let iterations = checked_iterations(params.iterations)?;
    let salt = params.salt.as_bytes();
    let derive = |kind, len| {
        derive_key_utf8::<Sha1>(password, salt, kind, iterations, len)
            .map_err(|e| PbeError::BadParameters(format!("password encoding: {e}")))
    };
    let key = derive(Pkcs12KeyType::EncryptionKey, key_len)?;
    let iv = derive(Pkcs12KeyType::Iv, 8)?;
    let cipher = cbc::Decryptor::<C>::new_from_slices(&key, &iv)
        .map_err(|_| PbeError::BadParameters("cipher key or IV length".into()))?;
    cipher
        .decrypt_padded_vec::<Pkcs7>(data)
        .map_err(|_| PbeError::BadPadding)
}

/// Accepts an iteration count from the file only when it is positive and within our limit.
pub(crate) fn checked_iterations(iterations: i32) -> Result<i32, PbeError> {
    match u64::try_from(iterations) {
        Ok(0) | Err(_) => Err(PbeError::BadParameters(format!(
            "iteration count {iterations} is not positive"
        ))),
        Ok(n) if n > MAX_ITERATIONS => Err(too_many(n)),
        Ok(_) => Ok(iterations),
    }
}

fn too_many(n: u64) -> PbeError {
    PbeError::BadParameters(format!(
        "iteration count {n} exceeds the limit of {MAX_ITERATIONS}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Any;

    fn alg(oid: ObjectIdentifier, params: &[u8]) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid,
            parameters: Some(Any::from_der(params).unwrap()),
        }
    }

    fn pbe_params(iterations: i32) -> Vec<u8> {
        Pkcs12PbeParams {
            salt: der::asn1::OctetString::new(vec![1u8; 8]).unwrap(),
            iterations,
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn unknown_scheme_is_unsupported_by_oid() {
        let oid = ObjectIdentifier::new_unwrap("1.2.3.4");
        let got = decrypt(&alg(oid, &pbe_params(1)), &[0; 16], "pw");
        assert_eq!(got, Err(PbeError::Unsupported(oid)));
    }

    #[test]
    fn huge_or_negative_iteration_counts_are_refused_before_deriving() {
        for n in [-1, 0, 2_000_000_000] {
            let got = decrypt(&alg(oid::PBE_SHA1_3DES, &pbe_params(n)), &[0; 16], "pw");
            assert!(
                matches!(got, Err(PbeError::BadParameters(_))),
                "{n}: {got:?}"
            );
        }
    }

    #[test]
    fn garbage_ciphertext_fails_as_bad_padding_or_length() {
        // 15 bytes is not a whole number of blocks, 16 random bytes almost never unpad.
        for data in [&[7u8; 15][..], &[0x5a; 16][..]] {
            let got = decrypt(&alg(oid::PBE_SHA1_3DES, &pbe_params(2)), data, "pw");
            assert_eq!(got, Err(PbeError::BadPadding));
        }
    }

    #[test]
    fn missing_parameters_are_reported() {
        let a = AlgorithmIdentifierOwned {
            oid: oid::PBES2,
            parameters: None,
        };
        assert!(matches!(
            decrypt(&a, &[0; 16], "pw"),
            Err(PbeError::BadParameters(_))
        ));
    }
}
