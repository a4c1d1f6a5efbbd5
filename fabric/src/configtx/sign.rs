//! Signing a config update and wrapping it for the orderer.
//!
//! A `ConfigSignature` is an admin's approval: a `SignatureHeader` (the admin's
//! serialized identity and a fresh nonce), encoded, and a signature over
//! `signature_header ‖ config_update`. The signatures of all approving admins
//! go with the `ConfigUpdate` bytes into a `ConfigUpdateEnvelope`, which the
//! submitter sends as the data of a signed `CONFIG_UPDATE` envelope.
//!
//! Key decision: everything here works on the encoded `ConfigUpdate` bytes,
//! never on a re-encoded message, so that every signature covers exactly the
//! bytes the orderer will see; [`encode_update`] is the one place those bytes
//! are made.

use prost::Message;

use crate::identity::Signer;
use crate::protos::common::{
    ConfigSignature, ConfigUpdate, ConfigUpdateEnvelope, Envelope, HeaderType, Payload,
    SignatureHeader,
};
use crate::protos::msp::SerializedIdentity;

use super::Result;
use super::error::ConfigError;

/// The bytes of a config update, to sign and to submit (maps in key order, so
/// every organization encoding the same update gets the same bytes).
pub fn encode_update(update: &ConfigUpdate) -> Vec<u8> {
    update.encode_to_vec()
}

/// Signs `config_update` (encoded) as `signer`, with a fresh random nonce.
pub fn sign_update(signer: &dyn Signer, config_update: &[u8]) -> Result<ConfigSignature> {
    let mut nonce = vec![0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    sign_update_with(
        &signer.serialized_identity(),
        &nonce,
        config_update,
        |msg| {
            signer.sign(msg).map_err(|e| ConfigError::Sign {
                what: "config update".into(),
                signer: signer.msp_id().to_string(),
                source: Box::new(e),
            })
        },
    )
}

/// Signs `config_update` with a signing callback, for callers that hold the
/// key elsewhere (an HSM, a test): `creator` is the encoded
/// `msp.SerializedIdentity`, `sign` signs the message it is given.
pub fn sign_update_with(
    creator: &[u8],
    nonce: &[u8],
    config_update: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>>,
) -> Result<ConfigSignature> {
    let signature_header = SignatureHeader {
        creator: creator.to_vec(),
        nonce: nonce.to_vec(),
    }
    .encode_to_vec();
    let mut message = Vec::with_capacity(signature_header.len() + config_update.len());
    message.extend_from_slice(&signature_header);
    message.extend_from_slice(config_update);
    let signature = sign(&message)?;
    Ok(ConfigSignature {
        signature_header,
        signature,
    })
}

/// The message a `ConfigSignature` signs: `signature_header ‖ config_update`.
pub fn signed_message(signature: &ConfigSignature, config_update: &[u8]) -> Vec<u8> {
    let mut message = signature.signature_header.clone();
    message.extend_from_slice(config_update);
    message
}

/// Who made a `ConfigSignature`: the creator of its signature header.
pub fn signature_creator(signature: &ConfigSignature) -> Result<SerializedIdentity> {
    let header = SignatureHeader::decode(signature.signature_header.as_slice())
        .map_err(|e| ConfigError::decode("the signature header of a config signature", e))?;
    SerializedIdentity::decode(header.creator.as_slice())
        .map_err(|e| ConfigError::decode("the creator of a config signature", e))
}

/// Checks that `signature` is a valid signature by its creator's certificate
/// over `config_update`, and returns the creator. This checks the
/// cryptography only (P-256, low S, as Fabric requires); whether the
/// certificate is an admin of its MSP is the orderer's call.
pub fn verify_signature(
    signature: &ConfigSignature,
    config_update: &[u8],
) -> Result<SerializedIdentity> {
    let creator = signature_creator(signature)?;
    let who = format!("config signature of {}", creator.mspid);
    let key = crate::identity::PublicKey::from_certificate(&creator.id_bytes)
        .map_err(|e| ConfigError::invalid(&who, format!("the creator certificate: {e}")))?;
    if !key.verify(
        &signed_message(signature, config_update),
        &signature.signature,
    ) {
        return Err(ConfigError::invalid(
            &who,
            "the signature does not verify over these config update bytes \
             (signed other bytes, or a high-S signature Fabric would reject)",
        ));
    }
    Ok(creator)
}

/// The `ConfigUpdateEnvelope` carrying `config_update` and its signatures.
pub fn update_envelope(
    config_update: Vec<u8>,
    signatures: Vec<ConfigSignature>,
) -> ConfigUpdateEnvelope {
    ConfigUpdateEnvelope {
        config_update,
        signatures,
    }
}

/// The signed `CONFIG_UPDATE` envelope to broadcast to the orderer: the
/// submitter's own signature is on the envelope, the admins' approvals are
/// the `ConfigSignature`s inside.
pub fn submission(
    submitter: &dyn Signer,
    channel_id: &str,
    envelope: &ConfigUpdateEnvelope,
) -> Result<Envelope> {
    crate::tx::signed_envelope(
        submitter,
        HeaderType::ConfigUpdate,
        channel_id,
        envelope.encode_to_vec(),
    )
    .map_err(|e| ConfigError::Sign {
        what: format!("the config update envelope for channel {channel_id}"),
        signer: submitter.msp_id().to_string(),
        source: Box::new(e),
    })
}

/// Reads the `ConfigUpdateEnvelope` and its `ConfigUpdate` out of a
/// `CONFIG_UPDATE` envelope (a submission, or a config block's `last_update`).
pub fn open_submission(envelope: &Envelope) -> Result<(ConfigUpdateEnvelope, ConfigUpdate)> {
    let payload = Payload::decode(envelope.payload.as_slice())
        .map_err(|e| ConfigError::decode("the payload of a config update envelope", e))?;
    let update_envelope = ConfigUpdateEnvelope::decode(payload.data.as_slice())
        .map_err(|e| ConfigError::decode("a config update envelope", e))?;
    let update = ConfigUpdate::decode(update_envelope.config_update.as_slice())
        .map_err(|e| ConfigError::decode("a config update", e))?;
    Ok((update_envelope, update))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_header_then_update() {
        let creator = SerializedIdentity {
            mspid: "Org1MSP".into(),
            id_bytes: b"-----BEGIN CERTIFICATE-----".to_vec(),
        }
        .encode_to_vec();
        let update = b"update-bytes";
        let mut seen = Vec::new();
        let sig = sign_update_with(&creator, b"nonce", update, |m| {
            seen = m.to_vec();
            Ok(b"sig".to_vec())
        })
        .unwrap();
        assert_eq!(sig.signature, b"sig");
        assert_eq!(seen, signed_message(&sig, update));
        assert!(seen.ends_with(update));
        let header = SignatureHeader::decode(sig.signature_header.as_slice()).unwrap();
        assert_eq!(header.nonce, b"nonce");
        assert_eq!(signature_creator(&sig).unwrap().mspid, "Org1MSP");
    }

    #[test]
    fn signatures_verify_over_exactly_the_signed_bytes() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["admin".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let identity = crate::identity::SigningIdentity::from_pem(
            "Org1MSP",
            cert.pem().as_bytes(),
            key.serialize_pem().as_bytes(),
        )
        .unwrap();
        let update = b"the config update";
        let sig = sign_update(&identity, update).unwrap();
        assert_eq!(verify_signature(&sig, update).unwrap().mspid, "Org1MSP");
        assert!(verify_signature(&sig, b"other bytes").is_err());
        let mut tampered = sig.clone();
        tampered.signature_header.push(0);
        assert!(verify_signature(&tampered, update).is_err());
    }
}
