//! Canonical JSON and the deterministic proposal ID.
//!
//! Every organization's agent that derives the same change from the same spec
//! must file the same proposal ID, so the ID is a hash over a canonical encoding
//! of what the change *is* — kind, target, round and payload — and never over
//! who filed it or when. Canonical JSON here means: object keys sorted by their
//! UTF-8 bytes, no insignificant whitespace, strings escaped as `serde_json`
//! escapes them, and integers only (floats are refused at validation, since
//! their text form is not unique).

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{Kind, Target};

/// Deepest nesting accepted in any JSON argument.
pub const MAX_JSON_DEPTH: usize = 32;

/// Checks that a JSON value has only integer numbers and is at most
/// [`MAX_JSON_DEPTH`] deep. `field` names the argument in the error.
pub fn check_json_shape(field: &str, v: &Value) -> Result<(), String> {
    fn walk(v: &Value, depth: usize, path: &mut String) -> Result<(), String> {
        if depth > MAX_JSON_DEPTH {
            return Err(format!(
                "nested deeper than {MAX_JSON_DEPTH} levels at {path}"
            ));
        }
        match v {
            Value::Number(n) if !(n.is_i64() || n.is_u64()) => Err(format!(
                "{path} is a non-integer number ({n}); only integers are allowed"
            )),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item, depth + 1, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let len = path.len();
                    path.push('.');
                    path.push_str(k);
                    walk(item, depth + 1, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    let mut path = field.to_string();
    walk(v, 0, &mut path)
}

/// The canonical text of a JSON value (see the module doc).
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        // Null, Bool and (integer) Number print uniquely.
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(s: &str, out: &mut String) {
    // serde_json's escaping of a plain string is fixed and cannot fail.
    out.push_str(&Value::String(s.to_string()).to_string());
}

/// Rebuilds a value so that its object keys are inserted in canonical order,
/// so that serializing it (with or without serde_json's `preserve_order`)
/// gives the canonical text.
pub fn canonicalize(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), canonicalize(&map[k.as_str()]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonicalize).collect()),
        other => other.clone(),
    }
}

/// The proposal ID: lowercase hex SHA-256 over
/// `"opssc/proposal/v1"`, the kind's name, the canonical target, the round
/// (decimal) and the canonical payload, each field preceded by its length as
/// an 8-byte big-endian integer (so no two field lists encode alike).
///
/// Public so that agents compute the ID of a change before filing it and
/// compare it with what is on chain.
pub fn proposal_id(kind: Kind, target: &Target, round: u32, payload: &Value) -> String {
    let target_json = canonical_json(&target.to_json());
    let round_text = round.to_string();
    let payload_json = canonical_json(payload);
    let fields: [&[u8]; 5] = [
        b"opssc/proposal/v1",
        kind.as_str().as_bytes(),
        target_json.as_bytes(),
        round_text.as_bytes(),
        payload_json.as_bytes(),
    ];
    let mut h = Sha256::new();
    for f in fields {
        h.update((f.len() as u64).to_be_bytes());
        h.update(f);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys_at_every_level() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"z":[{"y":2,"x":1}],"c":"é\n"}}"#).unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":"é\n","z":[{"x":1,"y":2}]},"b":1}"#
        );
        assert_eq!(canonical_json(&canonicalize(&a)), canonical_json(&a));
    }

    #[test]
    fn floats_and_deep_nesting_are_refused() {
        assert!(
            check_json_shape("p", &json!({"a": 1.5}))
                .unwrap_err()
                .contains("p.a")
        );
        assert!(check_json_shape("p", &json!({"a": [1, -2, u64::MAX]})).is_ok());
        let mut deep = json!(1);
        for _ in 0..40 {
            deep = json!([deep]);
        }
        assert!(check_json_shape("p", &deep).unwrap_err().contains("deeper"));
    }

    #[test]
    fn id_ignores_key_order_but_not_content() {
        let t = Target {
            channel: "ch1".into(),
            chaincode: Some("basic".into()),
        };
        let p1: Value = serde_json::from_str(r#"{"name":"basic","sequence":2}"#).unwrap();
        let p2: Value = serde_json::from_str(r#"{"sequence":2,"name":"basic"}"#).unwrap();
        let p3: Value = serde_json::from_str(r#"{"sequence":3,"name":"basic"}"#).unwrap();
        let id1 = proposal_id(Kind::ChaincodeUpgrade, &t, 0, &p1);
        assert_eq!(id1.len(), 64);
        assert_eq!(id1, proposal_id(Kind::ChaincodeUpgrade, &t, 0, &p2));
        assert_ne!(id1, proposal_id(Kind::ChaincodeUpgrade, &t, 0, &p3));
        assert_ne!(id1, proposal_id(Kind::ChaincodeDeploy, &t, 0, &p1));
        assert_ne!(id1, proposal_id(Kind::ChaincodeUpgrade, &t, 1, &p1));
    }
}
