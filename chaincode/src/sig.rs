//! Checking a voter's `ConfigSignature` inside the contract.
//!
//! An approve vote on a channel config change carries the voter's
//! `ConfigSignature`, which the executor later puts into the config update
//! envelope. The contract checks it when the vote is cast, so a bad signature
//! is refused at once instead of making the orderer reject the whole update
//! later: the signature header's creator must be an identity of the voter's
//! own MSP (`SerializedIdentity.mspid`), its certificate must hold a P-256
//! or Ed25519 key and be valid at the transaction time, and the signature
//! (low-S ECDSA over SHA-256, or Ed25519 over the message itself, as Fabric
//! 3's MSP verifies it) must verify over `signature_header || config_update`
//! (what Fabric's configtx checks), and the signer must be an admin of that organization
//! ([`is_admin_cert`]). Verification is pure and deterministic, so every
//! endorser reaches the same answer. Chain validation against the MSP's CA
//! is left to the orderer, which is the authority on it.
//!
//! Admin identities: Fabric has already validated the transaction creator
//! against its MSP before the contract runs, so the contract only decides
//! the role. A certificate is an admin's when its subject carries the NodeOU
//! role `OU=admin` (what `cryptogen` and Fabric CA issue with NodeOUs on; the
//! MSP's CA alone can put it there), or when the registry lists its SHA-256
//! fingerprint as that organization's admin (for MSPs without NodeOUs).

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use prost::Message;
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

/// `common.SignatureHeader` (field numbers from Fabric's common.proto).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignatureHeader {
    #[prost(bytes = "vec", tag = "1")]
    pub creator: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub nonce: Vec<u8>,
}

/// `msp.SerializedIdentity` (field numbers from Fabric's identities.proto).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SerializedIdentity {
    #[prost(string, tag = "1")]
    pub mspid: String,
    #[prost(bytes = "vec", tag = "2")]
    pub id_bytes: Vec<u8>,
}

/// Decodes a `SerializedIdentity` (the transaction creator, or a signature
/// header's creator) into its MSP ID and certificate bytes (PEM).
pub fn parse_serialized_identity(bytes: &[u8]) -> Result<SerializedIdentity, String> {
    SerializedIdentity::decode(bytes)
        .map_err(|e| format!("not a protobuf SerializedIdentity ({e})"))
}

/// Lowercase hex SHA-256 of a certificate's bytes: how actors are recorded.
pub fn fingerprint(cert: &[u8]) -> String {
    hex::encode(Sha256::digest(cert))
}

/// The NodeOU role an admin certificate carries in its subject.
pub const ADMIN_OU: &str = "admin";

/// Whether `cert_pem` is an admin certificate: NodeOU `OU=admin` in its
/// subject, or its fingerprint among `listed` (the registry's admin
/// certificates of the organization). Unparseable bytes are not an admin's.
pub fn is_admin_cert(cert_pem: &[u8], listed: &[String]) -> bool {
    let fp = fingerprint(cert_pem);
    if listed.iter().any(|l| l.eq_ignore_ascii_case(&fp)) {
        return true;
    }
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(cert_pem) else {
        return false;
    };
    let Ok(cert) = pem.parse_x509() else {
        return false;
    };
    cert.subject()
        .iter_organizational_unit()
        .any(|ou| ou.as_str().is_ok_and(|s| s == ADMIN_OU))
}

/// Who signed a verified `ConfigSignature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub mspid: String,
    /// SHA-256 of the signer's certificate (PEM bytes as carried).
    pub fingerprint: String,
}

/// The OID of Ed25519 keys in a certificate (RFC 8410).
const ED25519_OID: &str = "1.3.101.112";

/// Verifies a `ConfigSignature` by an admin of `voter_msp` over
/// `config_update` at Unix time `now`; `listed_admins` are the registry's
/// admin certificate fingerprints of `voter_msp`. The error says what is
/// wrong, for the voter to fix.
pub fn verify_config_signature(
    voter_msp: &str,
    listed_admins: &[String],
    signature_header: &[u8],
    signature: &[u8],
    config_update: &[u8],
    now: i64,
) -> Result<Signer, String> {
    let header = SignatureHeader::decode(signature_header)
        .map_err(|e| format!("signature_header is not a protobuf SignatureHeader ({e})"))?;
    if header.creator.is_empty() {
        return Err("signature_header has no creator".into());
    }
    if header.nonce.is_empty() {
        return Err("signature_header has no nonce".into());
    }
    let creator = parse_serialized_identity(&header.creator)
        .map_err(|e| format!("signature_header.creator is {e}"))?;
    if creator.mspid != voter_msp {
        return Err(format!(
            "the signature is by an identity of {:?}, not of the voting organization {voter_msp}; \
             sign with one of {voter_msp}'s admin identities",
            creator.mspid
        ));
    }
    let (_, pem) = x509_parser::pem::parse_x509_pem(&creator.id_bytes)
        .map_err(|e| format!("the signer's certificate is not PEM ({e})"))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| format!("the signer's certificate is not valid X.509 ({e})"))?;
    let at = ASN1Time::from_timestamp(now).map_err(|e| format!("bad transaction time ({e})"))?;
    if !cert.validity().is_valid_at(at) {
        return Err(format!(
            "the signer's certificate is not valid at the transaction time (valid {} to {})",
            cert.validity().not_before,
            cert.validity().not_after
        ));
    }
    if !is_admin_cert(&creator.id_bytes, listed_admins) {
        return Err(format!(
            "the signer is not an admin of {voter_msp} (its certificate has no OU={ADMIN_OU} \
             and the registry does not list it); sign with one of {voter_msp}'s admin identities"
        ));
    }
    let mut msg = Vec::with_capacity(signature_header.len() + config_update.len());
    msg.extend_from_slice(signature_header);
    msg.extend_from_slice(config_update);
    let spki = cert.public_key();
    let verified = if spki.algorithm.algorithm.to_id_string() == ED25519_OID {
        // Fabric 3's MSP: Ed25519 over the message itself, 64 bytes.
        let key: [u8; 32] = spki
            .subject_public_key
            .data
            .as_ref()
            .try_into()
            .map_err(|_| "the signer's Ed25519 key is not 32 bytes".to_string())?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&key)
            .map_err(|_| "the signer's Ed25519 key is invalid".to_string())?;
        let sig = ed25519_dalek::Signature::from_slice(signature)
            .map_err(|_| "signature is not a 64-byte Ed25519 signature".to_string())?;
        key.verify(&msg, &sig).is_ok()
    } else {
        let key = VerifyingKey::from_sec1_bytes(&spki.subject_public_key.data).map_err(|_| {
            "the signer's certificate holds neither an ECDSA P-256 nor an Ed25519 key".to_string()
        })?;
        let sig = Signature::from_der(signature)
            .map_err(|e| format!("signature is not a DER ECDSA signature ({e})"))?;
        if sig.normalize_s().is_some() {
            return Err(
                "signature has a high S value, which Fabric rejects; normalize it to low-S".into(),
            );
        }
        key.verify(&msg, &sig).is_ok()
    };
    if !verified {
        return Err(
            "signature does not verify over signature_header || config_update; \
             sign the ConfigUpdate bytes stored in the proposal"
                .to_string(),
        );
    }
    Ok(Signer {
        mspid: creator.mspid,
        fingerprint: fingerprint(&creator.id_bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ed25519 admin (Fabric 3 MSPs accept them) signs a ConfigUpdate
    /// the contract accepts; other bytes, a P-256-shaped signature and a
    /// non-admin are refused.
    #[test]
    fn ed25519_admins_sign_config_updates() {
        use ed25519_dalek::Signer as _;
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = |ou: &str| {
            let mut params = rcgen::CertificateParams::new(vec!["admin".to_string()]).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::OrganizationalUnitName, ou);
            params.self_signed(&key).unwrap().pem().into_bytes()
        };
        let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(&key.serialize_pem()).unwrap();
        let sign = |cert: Vec<u8>, update: &[u8]| {
            let header = SignatureHeader {
                creator: SerializedIdentity {
                    mspid: "Org1MSP".into(),
                    id_bytes: cert,
                }
                .encode_to_vec(),
                nonce: vec![7; 24],
            }
            .encode_to_vec();
            let mut msg = header.clone();
            msg.extend_from_slice(update);
            (header, signing.sign(&msg).to_bytes().to_vec())
        };
        let now = 1_800_000_000;
        let (header, sig) = sign(cert("admin"), b"update");
        let signer =
            verify_config_signature("Org1MSP", &[], &header, &sig, b"update", now).unwrap();
        assert_eq!(signer.mspid, "Org1MSP");
        let err =
            verify_config_signature("Org1MSP", &[], &header, &sig, b"other", now).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        let err = verify_config_signature("Org1MSP", &[], &header, &sig[..63], b"update", now)
            .unwrap_err();
        assert!(err.contains("Ed25519"), "{err}");
        let (header, sig) = sign(cert("client"), b"update");
        let err =
            verify_config_signature("Org1MSP", &[], &header, &sig, b"update", now).unwrap_err();
        assert!(err.contains("not an admin"), "{err}");
    }
}
