//! MSP identities: load an admin's or user's MSP directory, sign as that identity.
//!
//! The main type is [`SigningIdentity`] (MSP ID, PEM certificate, private
//! key), used through the [`Signer`] trait by every client and by the
//! channel-config code. Key decision: signatures are what Fabric's MSP
//! verifies. An ECDSA P-256 identity signs SHA-256 of the message, DER
//! encoded, with S normalised to the lower half of the curve order (Fabric
//! rejects high-S signatures and RustCrypto does not normalise). An Ed25519
//! identity (Fabric 3 accepts them) signs the message itself, as Go's
//! `ed25519` does. [`PublicKey`] verifies either the same way.
//!
//! Also here: the [`TxContext`] of a transaction (nonce, creator, transaction
//! ID = hex(SHA-256(nonce ‖ creator))).

use std::path::{Path, PathBuf};

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePrivateKey;
use prost::Message;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::protos::msp::SerializedIdentity;

/// Something that signs as a Fabric identity.
///
/// Implementations must produce DER-encoded ECDSA signatures with low S (or
/// whatever the identity's MSP verifies); [`SigningIdentity`] is the in-memory
/// P-256 implementation.
pub trait Signer: Send + Sync {
    /// The MSP ID the identity belongs to, e.g. `Org1MSP`.
    fn msp_id(&self) -> &str;
    /// The identity's X.509 certificate, PEM.
    fn certificate_pem(&self) -> &[u8];
    /// Signs `message` (hashing it with SHA-256 first).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;

    /// The encoded `msp.SerializedIdentity`: the `creator` of every message
    /// this identity signs.
    fn serialized_identity(&self) -> Vec<u8> {
        SerializedIdentity {
            mspid: self.msp_id().to_string(),
            id_bytes: self.certificate_pem().to_vec(),
        }
        .encode_to_vec()
    }
}

/// An identity with its private key in memory.
#[derive(Clone)]
pub struct SigningIdentity {
    msp_id: String,
    cert_pem: Vec<u8>,
    key: PrivateKey,
}

/// The private key of an identity, in one of the algorithms Fabric's MSP
/// accepts.
#[derive(Clone)]
enum PrivateKey {
    P256(SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl PrivateKey {
    fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            PrivateKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }
}

/// A certificate's public key: ECDSA P-256 or Ed25519.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    P256(VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// The OID of Ed25519 keys in a certificate (RFC 8410).
const ED25519_OID: &str = "1.3.101.112";

impl PublicKey {
    /// The key of the first certificate in `pem`.
    pub fn from_certificate(pem: &[u8]) -> Result<PublicKey> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem)
            .map_err(|e| Error::invalid("certificate", format!("not PEM: {e}")))?;
        let cert = pem
            .parse_x509()
            .map_err(|e| Error::invalid("certificate", format!("not X.509: {e}")))?;
        let spki = cert.public_key();
        let data = &spki.subject_public_key.data;
        if spki.algorithm.algorithm.to_id_string() == ED25519_OID {
            let bytes: [u8; 32] = data.as_ref().try_into().map_err(|_| {
                Error::invalid("certificate", "its Ed25519 public key is not 32 bytes")
            })?;
            return ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map(PublicKey::Ed25519)
                .map_err(|_| Error::invalid("certificate", "its Ed25519 public key is invalid"));
        }
        VerifyingKey::from_sec1_bytes(data)
            .map(PublicKey::P256)
            .map_err(|_| {
                Error::invalid(
                    "certificate",
                    "its public key is neither P-256 nor Ed25519 (the algorithms Fabric's MSP accepts here)",
                )
            })
    }

    /// Whether `signature` is this key's over `message`, as Fabric's MSP
    /// checks it: DER ECDSA over SHA-256 with low S, or Ed25519 over the
    /// message itself.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::P256(key) => verify(key, message, signature),
            PublicKey::Ed25519(key) => {
                ed25519_dalek::Signature::from_slice(signature).is_ok_and(|sig| {
                    use ed25519_dalek::Verifier as _;
                    key.verify(message, &sig).is_ok()
                })
            }
        }
    }
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("SigningIdentity")
            .field("msp_id", &self.msp_id)
            .finish_non_exhaustive()
    }
}

impl SigningIdentity {
    /// Builds an identity from a PEM certificate and a PEM private key
    /// (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`), checking that the key
    /// belongs to the certificate.
    pub fn from_pem(msp_id: &str, cert_pem: &[u8], key_pem: &[u8]) -> Result<SigningIdentity> {
        let key = parse_private_key(key_pem)?;
        let cert_key = PublicKey::from_certificate(cert_pem)?;
        if cert_key != key.public_key() {
            return Err(Error::invalid(
                "identity",
                "the private key does not belong to the certificate (their public keys differ)",
            ));
        }
        Ok(SigningIdentity {
            msp_id: msp_id.to_string(),
            cert_pem: cert_pem.to_vec(),
            key,
        })
    }

    /// Loads an MSP directory as cryptogen or Fabric CA lay it out:
    /// `signcerts/*.pem` (one certificate) and `keystore/*_sk` or
    /// `keystore/priv_sk`. When the keystore holds several keys, the one
    /// matching the certificate is used.
    pub fn from_msp_dir(msp_id: &str, dir: &Path) -> Result<SigningIdentity> {
        let msp_err = |problem: String| Error::Msp {
            dir: dir.to_path_buf(),
            problem,
        };
        let signcerts = dir.join("signcerts");
        let certs = list_files(&signcerts, |name| name.ends_with(".pem"))?;
        let cert_path = match certs.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(msp_err(
                    "signcerts/ has no .pem certificate; point at the identity's msp directory \
                     (users/Admin@<domain>/msp)"
                        .into(),
                ));
            }
            many => {
                return Err(msp_err(format!(
                    "signcerts/ has {} certificates; keep exactly one",
                    many.len()
                )));
            }
        };
        let cert_pem = read(&cert_path)?;
        let keystore = dir.join("keystore");
        let keys = list_files(&keystore, |name| name.ends_with("_sk"))?;
        if keys.is_empty() {
            return Err(msp_err(
                "keystore/ has no private key (expected priv_sk or <hash>_sk)".into(),
            ));
        }
        let cert_key = PublicKey::from_certificate(&cert_pem)
            .map_err(|e| msp_err(format!("{}: {e}", cert_path.display())))?;
        for key_path in &keys {
            let key = parse_private_key(&read(key_path)?)
                .map_err(|e| msp_err(format!("{}: {e}", key_path.display())))?;
            if key.public_key() == cert_key {
                return Ok(SigningIdentity {
                    msp_id: msp_id.to_string(),
                    cert_pem,
                    key,
                });
            }
        }
        Err(msp_err(format!(
            "no key in keystore/ matches the certificate {}",
            cert_path.display()
        )))
    }

    /// The public key, to verify this identity's signatures.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }
}

impl Signer for SigningIdentity {
    fn msp_id(&self) -> &str {
        &self.msp_id
    }

    fn certificate_pem(&self) -> &[u8] {
        &self.cert_pem
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.key {
            PrivateKey::P256(key) => {
                let sig: Signature = key.sign(message);
                // Fabric only accepts S in the lower half of the order.
                let sig = sig.normalize_s().unwrap_or(sig);
                Ok(sig.to_der().as_bytes().to_vec())
            }
            PrivateKey::Ed25519(key) => {
                use ed25519_dalek::Signer as _;
                Ok(key.sign(message).to_bytes().to_vec())
            }
        }
    }
}

/// Verifies a DER signature made by [`Signer::sign`], requiring low S as Fabric does.
pub fn verify(key: &VerifyingKey, message: &[u8], der: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier as _;
    let Ok(sig) = Signature::from_der(der) else {
        return false;
    };
    sig.normalize_s().is_none() && key.verify(message, &sig).is_ok()
}

/// The creator, nonce and transaction ID of one transaction or request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxContext {
    /// Encoded `msp.SerializedIdentity` of the signer.
    pub creator: Vec<u8>,
    /// 24 random bytes.
    pub nonce: Vec<u8>,
    /// hex(SHA-256(nonce ‖ creator)).
    pub tx_id: String,
}

impl TxContext {
    /// A fresh context with a random nonce for `signer`.
    pub fn new(signer: &dyn Signer) -> TxContext {
        let mut nonce = vec![0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        TxContext::with_nonce(signer.serialized_identity(), nonce)
    }

    /// A context with a given nonce (tests, or replaying a known transaction).
    pub fn with_nonce(creator: Vec<u8>, nonce: Vec<u8>) -> TxContext {
        let tx_id = compute_tx_id(&nonce, &creator);
        TxContext {
            creator,
            nonce,
            tx_id,
        }
    }
}

/// Fabric's transaction ID: lowercase hex of SHA-256(nonce ‖ creator).
pub fn compute_tx_id(nonce: &[u8], creator: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(nonce);
    h.update(creator);
    hex::encode(h.finalize())
}

/// Decodes a `msp.SerializedIdentity`.
pub fn decode_serialized_identity(bytes: &[u8]) -> Result<SerializedIdentity> {
    SerializedIdentity::decode(bytes)
        .map_err(|e| Error::invalid("serialized identity", e.to_string()))
}

fn parse_private_key(pem: &[u8]) -> Result<PrivateKey> {
    let text =
        std::str::from_utf8(pem).map_err(|_| Error::invalid("private key", "not PEM text"))?;
    if let Ok(key) = SigningKey::from_pkcs8_pem(text) {
        return Ok(PrivateKey::P256(key));
    }
    if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(text) {
        return Ok(PrivateKey::Ed25519(key));
    }
    match p256::SecretKey::from_sec1_pem(text) {
        Ok(secret) => Ok(PrivateKey::P256(SigningKey::from(secret))),
        Err(_) => Err(Error::invalid(
            "private key",
            "not a P-256 key (PKCS#8 PRIVATE KEY or SEC1 EC PRIVATE KEY PEM) nor an Ed25519 key (PKCS#8 PRIVATE KEY PEM)",
        )),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
}

fn list_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        action: "list",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            action: "list",
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let name = entry.file_name();
        if path.is_file() && keep(&name.to_string_lossy()) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_and_key() -> (String, String) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["admin".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn identity() -> SigningIdentity {
        let (cert, key) = cert_and_key();
        SigningIdentity::from_pem("Org1MSP", cert.as_bytes(), key.as_bytes()).unwrap()
    }

    #[test]
    fn signatures_are_low_s_and_verify() {
        let id = identity();
        let PublicKey::P256(vk) = id.public_key() else {
            panic!("a P-256 identity")
        };
        let half_order =
            hex::decode("7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8")
                .unwrap();
        // About 4 in 10 raw signatures are high-S: 64 signatures would all but
        // certainly include some if normalisation were missing.
        for i in 0..64u32 {
            let msg = format!("message {i}");
            let der = id.sign(msg.as_bytes()).unwrap();
            assert!(
                verify(&vk, msg.as_bytes(), &der),
                "signature {i} does not verify"
            );
            let sig = Signature::from_der(&der).unwrap();
            let s = sig.s().to_bytes();
            assert!(
                s.as_slice() <= half_order.as_slice(),
                "signature {i} is high-S"
            );
            assert!(!verify(&vk, b"another message", &der));
        }
    }

    #[test]
    fn verify_refuses_high_s() {
        let id = identity();
        let PublicKey::P256(vk) = id.public_key() else {
            panic!("a P-256 identity")
        };
        let der = id.sign(b"m").unwrap();
        let sig = Signature::from_der(&der).unwrap();
        // Flip S to n - S: the same signature mathematically, high-S form.
        let (r, s) = sig.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        assert!(high.normalize_s().is_some());
        assert!(!verify(&vk, b"m", high.to_der().as_bytes()));
    }

    /// An Ed25519 identity (Fabric 3 MSPs accept them) loads from PKCS#8
    /// PEM, signs the message itself (64 bytes, as Go's ed25519 does) and
    /// verifies through its certificate; a P-256 key does not pass for it.
    #[test]
    fn ed25519_identities_sign_the_message_itself() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["admin".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let id = SigningIdentity::from_pem(
            "Org1MSP",
            cert.pem().as_bytes(),
            key.serialize_pem().as_bytes(),
        )
        .unwrap();
        let from_cert = PublicKey::from_certificate(cert.pem().as_bytes()).unwrap();
        assert!(matches!(from_cert, PublicKey::Ed25519(_)));
        assert_eq!(from_cert, id.public_key());
        let sig = id.sign(b"the message").unwrap();
        assert_eq!(sig.len(), 64);
        assert!(from_cert.verify(b"the message", &sig));
        assert!(!from_cert.verify(b"another message", &sig));
        // Go's ed25519.Sign over the message: same bytes (Ed25519 is deterministic).
        let dalek = ed25519_dalek::SigningKey::from_pkcs8_pem(&key.serialize_pem()).unwrap();
        use ed25519_dalek::Signer as _;
        assert_eq!(
            dalek.sign(b"the message").to_bytes().as_slice(),
            sig.as_slice()
        );
        // The certificate's key must be the private key's.
        let (p256_cert, p256_key) = cert_and_key();
        assert!(
            SigningIdentity::from_pem(
                "Org1MSP",
                p256_cert.as_bytes(),
                key.serialize_pem().as_bytes()
            )
            .is_err()
        );
        assert!(
            SigningIdentity::from_pem("Org1MSP", cert.pem().as_bytes(), p256_key.as_bytes())
                .is_err()
        );
    }

    #[test]
    fn tx_id_is_sha256_of_nonce_then_creator() {
        let ctx = TxContext::with_nonce(b"creator".to_vec(), b"nonce".to_vec());
        // Computed independently: `printf noncecreator | sha256sum`.
        assert_eq!(
            ctx.tx_id,
            "709184f9d24f6ade8fcd4d6521a6eef295fef6c2e67216c58b68ac15e8946492"
        );
        let id = identity();
        let a = TxContext::new(&id);
        let b = TxContext::new(&id);
        assert_eq!(a.nonce.len(), 24);
        assert_ne!(a.nonce, b.nonce);
        assert_eq!(a.tx_id, compute_tx_id(&a.nonce, &id.serialized_identity()));
    }

    #[test]
    fn serialized_identity_round_trips() {
        let id = identity();
        let decoded = decode_serialized_identity(&id.serialized_identity()).unwrap();
        assert_eq!(decoded.mspid, "Org1MSP");
        assert_eq!(decoded.id_bytes, id.certificate_pem());
    }

    #[test]
    fn loads_cryptogen_and_fabric_ca_layouts() {
        let (cert, key) = cert_and_key();
        let (_other_cert, other_key) = cert_and_key();
        // cryptogen: signcerts/<name>-cert.pem, keystore/priv_sk.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("signcerts")).unwrap();
        std::fs::create_dir_all(dir.path().join("keystore")).unwrap();
        std::fs::write(
            dir.path().join("signcerts/Admin@org1.example.com-cert.pem"),
            &cert,
        )
        .unwrap();
        std::fs::write(dir.path().join("keystore/priv_sk"), &key).unwrap();
        let id = SigningIdentity::from_msp_dir("Org1MSP", dir.path()).unwrap();
        assert_eq!(id.certificate_pem(), cert.as_bytes());
        assert!(id.public_key().verify(b"x", &id.sign(b"x").unwrap()));

        // Fabric CA: signcerts/cert.pem, keystore/<hash>_sk, possibly stale keys beside it.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("signcerts")).unwrap();
        std::fs::create_dir_all(dir.path().join("keystore")).unwrap();
        std::fs::write(dir.path().join("signcerts/cert.pem"), &cert).unwrap();
        std::fs::write(dir.path().join("keystore/0a1b_sk"), &other_key).unwrap();
        std::fs::write(dir.path().join("keystore/ffee_sk"), &key).unwrap();
        let id = SigningIdentity::from_msp_dir("Org1MSP", dir.path()).unwrap();
        assert_eq!(id.msp_id(), "Org1MSP");
        assert!(id.public_key().verify(b"x", &id.sign(b"x").unwrap()));
    }

    #[test]
    fn msp_dir_errors_say_what_is_wrong() {
        let (cert, _) = cert_and_key();
        let (_, other_key) = cert_and_key();
        let dir = tempfile::tempdir().unwrap();
        let err = SigningIdentity::from_msp_dir("Org1MSP", dir.path()).unwrap_err();
        assert!(matches!(err, Error::Io { action: "list", .. }), "{err}");

        std::fs::create_dir_all(dir.path().join("signcerts")).unwrap();
        std::fs::create_dir_all(dir.path().join("keystore")).unwrap();
        let err = SigningIdentity::from_msp_dir("Org1MSP", dir.path()).unwrap_err();
        assert!(err.to_string().contains("signcerts/ has no .pem"), "{err}");

        std::fs::write(dir.path().join("signcerts/cert.pem"), &cert).unwrap();
        let err = SigningIdentity::from_msp_dir("Org1MSP", dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("keystore/ has no private key"),
            "{err}"
        );

        std::fs::write(dir.path().join("keystore/priv_sk"), &other_key).unwrap();
        let err = SigningIdentity::from_msp_dir("Org1MSP", dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("no key in keystore/ matches"),
            "{err}"
        );

        let err = SigningIdentity::from_pem("Org1MSP", cert.as_bytes(), other_key.as_bytes())
            .unwrap_err();
        assert!(err.to_string().contains("does not belong"), "{err}");
    }
}
