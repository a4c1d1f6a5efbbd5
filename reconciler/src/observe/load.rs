//! Reading and writing a state snapshot as JSON, with the checks that let the
//! planner trust it: every policy parses, every chaincode key is
//! `<channel>/<name>`.

use std::path::{Path, PathBuf};

use opssc_schema::policy::parse_policy;

use super::Observed;

/// Why a state snapshot cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "state {origin} is not a valid opssc state snapshot (line {line}, column {column}): {message}"
    )]
    Syntax {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("state {origin}: {what} is invalid: {message} (fix the snapshot or observe again)")]
    Invalid {
        origin: String,
        what: String,
        message: String,
    },
}

/// Parses and checks a snapshot; `origin` names it in errors (a path or "stdin").
pub fn from_json(origin: &str, text: &str) -> Result<Observed, StateError> {
    let observed: Observed = serde_json::from_str(text).map_err(|e| StateError::Syntax {
        origin: origin.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    check(origin, &observed)?;
    Ok(observed)
}

/// Reads and checks a snapshot file.
pub fn load_file(path: &Path) -> Result<Observed, StateError> {
    let text = std::fs::read_to_string(path).map_err(|source| StateError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    from_json(&path.display().to_string(), &text)
}

/// The snapshot as pretty JSON (keys in a fixed order, newline-terminated).
pub fn to_json(observed: &Observed) -> String {
    let mut s = serde_json::to_string_pretty(observed).expect("Observed serializes");
    s.push('\n');
    s
}

fn check(origin: &str, o: &Observed) -> Result<(), StateError> {
    let invalid = |what: String, message: String| StateError::Invalid {
        origin: origin.to_string(),
        what,
        message,
    };
    if o.observed_by.trim().is_empty() {
        return Err(invalid(
            "observed_by".into(),
            "is empty; it must be the observing organization's MSP ID".into(),
        ));
    }
    for (name, ch) in &o.channels {
        let groups = [
            ("policies", &ch.policies),
            ("orderer_policies", &ch.orderer_policies),
            ("channel_policies", &ch.channel_policies),
        ];
        for (field, map) in groups {
            for (pname, text) in map {
                parse_policy(text, false).map_err(|e| {
                    invalid(
                        format!("channels.{name}.{field}.{pname}"),
                        format!("{text:?}: {} (at character {})", e.message, e.offset),
                    )
                })?;
            }
        }
    }
    for (key, def) in &o.chaincodes {
        let parts: Vec<&str> = key.split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(invalid(
                format!("chaincodes.{key:?}"),
                "the key must be \"<channel>/<chaincode>\"".into(),
            ));
        }
        parse_policy(&def.endorsement_policy, true).map_err(|e| {
            invalid(
                format!("chaincodes.{key}.endorsement_policy"),
                format!(
                    "{:?}: {} (at character {})",
                    def.endorsement_policy, e.message, e.offset
                ),
            )
        })?;
        for c in &def.collections {
            parse_policy(&c.policy, false).map_err(|e| {
                invalid(
                    format!("chaincodes.{key}.collections.{}.policy", c.name),
                    format!("{:?}: {}", c.policy, e.message),
                )
            })?;
        }
    }
    for key in o.local.approved.keys() {
        if key.split('/').count() != 2 {
            return Err(invalid(
                format!("local.approved.{key:?}"),
                "the key must be \"<channel>/<chaincode>\"".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_policies_and_keys_with_the_field() {
        let base = r#"{"observed_by":"Org1MSP","taken_at":"t","channels":{"c":{
            "config_sequence":1,"last_config_block":0,"members":{},
            "policies":{"Admins":"MAJORITY"},
            "capabilities":{"channel":"V2_0","orderer":"V2_0","application":"V2_5"},
            "batch":{"timeout_ms":1,"max_message_count":1,"absolute_max_bytes":1,"preferred_max_bytes":1},
            "consenters":[]}}}"#;
        let e = from_json("s.json", base).unwrap_err().to_string();
        assert!(e.contains("channels.c.policies.Admins"), "{e}");
        let e = from_json(
            "s.json",
            r#"{"observed_by":"Org1MSP","taken_at":"t","chaincodes":{"kv":{"sequence":1,"version":"1","endorsement_policy":"/Channel/Application/Endorsement"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("<channel>/<chaincode>"), "{e}");
        let e = from_json(
            "s.json",
            r#"{"observed_by":"Org1MSP","taken_at":"t","extra":1}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 1") && e.contains("extra"), "{e}");
    }
}
