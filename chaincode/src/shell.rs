//! The seam between the chaincode shim and the pure contract.
//!
//! The shim hands over what Fabric puts in a transaction: the creator
//! (a marshaled `SerializedIdentity`), the transaction ID, the channel
//! header's timestamp and the chaincode input arguments (function name
//! first). [`handle`] turns those into a [`TxContext`], runs [`invoke`] and
//! renders a refusal as the one-line message the shim returns as the
//! chaincode ERROR response (`<class>: <text>`). Applying the writes and the
//! event is left to the caller, which owns the stub.

use crate::contract::{Outcome, TxContext, invoke};
use crate::error::ContractError;
use crate::sig;
use crate::state::StateRead;

/// Builds the transaction context from the shim's raw values.
pub fn context(
    creator: &[u8],
    tx_id: &str,
    timestamp_secs: i64,
) -> Result<TxContext, ContractError> {
    let id = sig::parse_serialized_identity(creator)
        .map_err(|e| ContractError::bad("creator", format!("the transaction creator is {e}")))?;
    Ok(TxContext {
        creator_msp: id.mspid,
        creator_cert: id.id_bytes,
        tx_id: tx_id.to_string(),
        timestamp: timestamp_secs,
    })
}

/// Runs one chaincode invocation: `args[0]` is the function name, the rest
/// its arguments. The error is the message for the chaincode ERROR response.
pub fn handle(
    state: &dyn StateRead,
    creator: &[u8],
    tx_id: &str,
    timestamp_secs: i64,
    args: &[Vec<u8>],
) -> Result<Outcome, String> {
    let run = || -> Result<Outcome, ContractError> {
        let ctx = context(creator, tx_id, timestamp_secs)?;
        let Some((function, rest)) = args.split_first() else {
            return Err(ContractError::bad("function", "no function name given"));
        };
        let function = std::str::from_utf8(function)
            .map_err(|_| ContractError::bad("function", "the function name is not UTF-8"))?;
        invoke(state, &ctx, function, rest)
    };
    run().map_err(|e| format!("{}: {e}", e.class()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sig::SerializedIdentity;
    use crate::state::MemState;
    use prost::Message;

    fn creator(msp: &str) -> Vec<u8> {
        SerializedIdentity {
            mspid: msp.into(),
            id_bytes: b"-----BEGIN CERTIFICATE-----".to_vec(),
        }
        .encode_to_vec()
    }

    #[test]
    fn runs_a_call_from_raw_shim_values() {
        let s = MemState::new();
        // The test certificate carries no NodeOU role: list it as the admin.
        let fp = sig::fingerprint(b"-----BEGIN CERTIFICATE-----");
        let args = vec![
            b"found".to_vec(),
            format!(r#"{{"ops_channel":"ops","members":["Org1MSP"],"admin_certs":{{"Org1MSP":["{fp}"]}}}}"#)
                .into_bytes(),
        ];
        let out = handle(&s, &creator("Org1MSP"), "tx1", 1_700_000_000, &args).unwrap();
        assert_eq!(out.event.unwrap().name, "RegistryFounded");
        assert!(out.writes.iter().any(|w| w.key() == "registry~meta"));
    }

    #[test]
    fn refusals_render_with_their_class() {
        let s = MemState::new();
        let e = handle(&s, &creator("Org1MSP"), "tx1", 1, &[b"nope".to_vec()]).unwrap_err();
        assert!(
            e.starts_with("unknown_function: unknown function `nope`"),
            "{e}"
        );
        let e = handle(&s, &creator("Org1MSP"), "tx1", 1, &[]).unwrap_err();
        assert!(
            e.starts_with("bad_argument: invalid argument `function`"),
            "{e}"
        );
        let e = handle(&s, b"\xff\xff", "tx1", 1, &[b"registry".to_vec()]).unwrap_err();
        assert!(
            e.starts_with("bad_argument: invalid argument `creator`"),
            "{e}"
        );
        let e = handle(&s, &creator("Org1MSP"), "tx1", 0, &[b"registry".to_vec()]).unwrap_err();
        assert!(e.contains("timestamp"), "{e}");
    }
}
