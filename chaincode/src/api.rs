//! The contract's API types: the JSON argument of every function and the
//! typed payload of every kind of proposal.
//!
//! Clients (the `opssc` agent and CLI) build these types and serialize them
//! as the one JSON argument of a call; the contract parses them with unknown
//! fields refused. [`normalize_payload`] turns a raw payload into its canonical
//! form (typed round trip: defaults written out, keys sorted), and
//! [`compute_proposal_id`] gives the ID the contract will assign, so an agent
//! knows a proposal's ID before filing it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canon::{canonical_json, canonicalize, check_json_shape, proposal_id};
use crate::error::ContractError;
use crate::model::{
    ChannelPolicies, ConfigSignatureB64, Decision, Governance, Kind, ProposalState, SpecRef,
    Target, TaskStatus,
};
use crate::validate;

// ---------------------------------------------------------------- arguments

/// A channel in the founding registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    pub name: String,
    pub members: Vec<String>,
    #[serde(default)]
    pub policies: ChannelPolicies,
}

/// `found`: create the registry (only while it is empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoundArgs {
    pub ops_channel: String,
    /// The ops channel's member organizations.
    pub members: Vec<String>,
    #[serde(default)]
    pub ops_policies: ChannelPolicies,
    /// Application channels that already exist, with their members.
    #[serde(default)]
    pub channels: Vec<ChannelInput>,
    #[serde(default)]
    pub governance: Option<Governance>,
    /// Admin certificate fingerprints (SHA-256 hex of the PEM bytes) by
    /// organization, for MSPs whose admin certificates carry no NodeOU role.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub admin_certs: std::collections::BTreeMap<String, Vec<String>>,
}

/// `propose`: file a proposal (idempotent per ID).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposeArgs {
    pub kind: Kind,
    pub target: Target,
    pub payload: Value,
    pub spec_ref: SpecRef,
    /// Unix seconds; default: filing time + governance voting period.
    #[serde(default)]
    pub deadline: Option<i64>,
    /// Part of the ID: raise it to propose again a change whose earlier
    /// proposal ended (rejected, expired, withdrawn, superseded).
    #[serde(default)]
    pub round: u32,
}

/// Functions that only name a proposal: `tally`, `expire`, `claim_execution`,
/// `get`, `votes`, `history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    pub id: String,
}

/// `tally` (`expire` takes [`IdArgs`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TallyArgs {
    pub id: String,
    /// The organizations whose recorded votes the tally counts, one key
    /// each, as [`VoteArgs::counted`]; absent: every vote (a range read,
    /// which a vote ordered before it in the same block invalidates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<Vec<String>>,
}

/// `vote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteArgs {
    pub id: String,
    pub decision: Decision,
    #[serde(default)]
    pub reason: String,
    /// Refused when present: signatures over a ConfigUpdate are given with
    /// `sign` once the proposal is approved (kept so old clients get a clear
    /// refusal instead of an unknown field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_signature: Option<ConfigSignatureB64>,
    /// The organizations whose recorded votes this vote counts with its own
    /// to decide the proposal. Absent: every vote is counted (a range read,
    /// so the vote conflicts with any other vote on the proposal ordered
    /// before it in the same block). Named: only those votes are read, one
    /// key each; votes are immutable, so reading the ones already committed
    /// never conflicts with a concurrent vote. Naming fewer votes can only
    /// leave the proposal undecided, never decide it wrongly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<Vec<String>>,
}

/// `ballots`: several of the caller's filings, votes and signatures, each
/// on another proposal, in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BallotsArgs {
    pub calls: Vec<BallotCall>,
}

/// One call of [`BallotsArgs`]: `{"function": "propose"|"vote"|"sign",
/// "args": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "function", content = "args", rename_all = "snake_case")]
pub enum BallotCall {
    Propose(ProposeArgs),
    Vote(VoteArgs),
    Sign(SignArgs),
}

impl BallotCall {
    /// The proposal the call is about, when its arguments name it (a
    /// filing's is computed from its content).
    pub fn id(&self) -> Option<&str> {
        match self {
            BallotCall::Propose(_) => None,
            BallotCall::Vote(a) => Some(&a.id),
            BallotCall::Sign(a) => Some(&a.id),
        }
    }
}

/// `sign`: an approving organization's ConfigSignature over an approved
/// proposal's stored ConfigUpdate bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignArgs {
    pub id: String,
    pub config_signature: ConfigSignatureB64,
    /// For a proposal not tallied yet: the organizations whose recorded
    /// approvals (with the signer's own) reach the quorum, so it is decided
    /// whatever happens next and the signature may be released. Read one
    /// key each, like a vote's `counted`; the proposal record is not
    /// written, so signatures given together do not conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<Vec<String>>,
}

/// `withdraw` and `retry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonArgs {
    pub id: String,
    #[serde(default)]
    pub reason: String,
}

/// `report_task`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportTaskArgs {
    pub id: String,
    pub task: String,
    pub status: TaskStatus,
    #[serde(default)]
    pub detail: String,
    /// Optional; when given it must be the caller's own MSP.
    #[serde(default)]
    pub org: Option<String>,
    /// More of the caller's tasks on the same proposal, recorded in the
    /// same transaction: an agent reports its install and its approval
    /// together, one ordered round instead of two (and no conflict between
    /// two reports of its own, which read the same task range). Each task
    /// name at most once per call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<TaskLine>,
}

/// One more task of a [`ReportTaskArgs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskLine {
    pub task: String,
    pub status: TaskStatus,
    #[serde(default)]
    pub detail: String,
}

/// `report_committed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportCommittedArgs {
    pub id: String,
    #[serde(default)]
    pub detail: String,
}

/// `report_failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFailedArgs {
    pub id: String,
    pub error: String,
}

/// `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    #[serde(default)]
    pub state: Option<ProposalState>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub kind: Option<Kind>,
    /// Default 50, at most 200.
    #[serde(default)]
    pub page_size: Option<usize>,
    /// The `bookmark` of the previous page.
    #[serde(default)]
    pub bookmark: Option<String>,
    /// Only proposals not yet in a terminal state (proposed, approved,
    /// failed), read from their own index: costs O(open), not O(ever filed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
}

/// `tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TasksArgs {
    pub id: String,
    #[serde(default)]
    pub org: Option<String>,
}

// ---------------------------------------------------------------- payloads

/// Payload of ChaincodeDeploy / ChaincodeUpgrade: the full definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaincodePayload {
    pub name: String,
    pub version: String,
    pub sequence: u64,
    pub package_id: String,
    /// SHA-256 of the package bytes (64 hex digits).
    pub package_hash: String,
    /// The endorsement policy expression or reference; `None`: the channel default.
    #[serde(default)]
    pub endorsement_policy: Option<String>,
    /// Private data collections, as the spec states them (free-form JSON).
    #[serde(default)]
    pub collections: Option<Value>,
    #[serde(default)]
    pub init_required: bool,
    /// Where the package comes from (repository, commit, path, ...; free-form).
    #[serde(default)]
    pub source: Option<Value>,
    /// Human-readable description; not part of the proposal ID.
    #[serde(default)]
    pub summary: Option<Value>,
}

/// Payload of ChannelUpdate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelUpdatePayload {
    /// The marshaled `common.ConfigUpdate`, base64.
    pub config_update: String,
    /// Organizations the update adds to the channel (applied to the registry
    /// when committed).
    #[serde(default)]
    pub add_members: Vec<String>,
    /// Organizations the update removes from the channel.
    #[serde(default)]
    pub remove_members: Vec<String>,
    /// The channel's policy rules after the update, when it changes them.
    #[serde(default)]
    pub policies: Option<ChannelPolicies>,
    #[serde(default)]
    pub summary: Option<Value>,
}

/// Payload of OrgAdd / OrgRemove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgChangePayload {
    pub org: String,
    /// The marshaled `common.ConfigUpdate`, base64.
    pub config_update: String,
    #[serde(default)]
    pub summary: Option<Value>,
}

/// Payload of ChannelCreate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelCreatePayload {
    pub members: Vec<String>,
    #[serde(default)]
    pub policies: ChannelPolicies,
    /// The channel's genesis block, base64, when the proposer computed it.
    #[serde(default)]
    pub genesis_block: Option<String>,
    #[serde(default)]
    pub summary: Option<Value>,
}

/// Payload of GovernanceChange: the complete new settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernancePayload {
    pub governance: Governance,
    #[serde(default)]
    pub summary: Option<Value>,
}

/// What a RegistryChange does to the target channel's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryAction {
    /// Create or replace the entry.
    Set,
    /// Delete the entry (not allowed for the ops channel).
    Remove,
}

/// Payload of RegistryChange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryPayload {
    pub action: RegistryAction,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub policies: ChannelPolicies,
    #[serde(default)]
    pub summary: Option<Value>,
}

/// A payload after parsing, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Chaincode(ChaincodePayload),
    ChannelUpdate(ChannelUpdatePayload),
    OrgChange(OrgChangePayload),
    ChannelCreate(ChannelCreatePayload),
    Governance(GovernancePayload),
    Registry(RegistryPayload),
}

impl Payload {
    /// The ConfigUpdate bytes (base64) of config kinds.
    pub fn config_update_b64(&self) -> Option<&str> {
        match self {
            Payload::ChannelUpdate(p) => Some(&p.config_update),
            Payload::OrgChange(p) => Some(&p.config_update),
            _ => None,
        }
    }

    fn to_value(&self) -> Value {
        let v = match self {
            Payload::Chaincode(p) => serde_json::to_value(p),
            Payload::ChannelUpdate(p) => serde_json::to_value(p),
            Payload::OrgChange(p) => serde_json::to_value(p),
            Payload::ChannelCreate(p) => serde_json::to_value(p),
            Payload::Governance(p) => serde_json::to_value(p),
            Payload::Registry(p) => serde_json::to_value(p),
        };
        // Serializing plain structs of strings, integers and JSON values
        // cannot fail.
        canonicalize(&v.expect("payload types serialize"))
    }
}

fn parse_as<T: serde::de::DeserializeOwned>(kind: Kind, v: &Value) -> Result<T, ContractError> {
    serde_json::from_value(v.clone())
        .map_err(|e| ContractError::bad("payload", format!("is not a valid {kind} payload: {e}")))
}

/// Parses and checks a payload of `kind` (field by field; relations with the
/// registry are checked by `propose`).
pub fn parse_payload(kind: Kind, raw: &Value) -> Result<Payload, ContractError> {
    check_json_shape("payload", raw).map_err(|r| ContractError::bad("payload", r))?;
    if !raw.is_object() {
        return Err(ContractError::bad("payload", "must be a JSON object"));
    }
    let payload = match kind {
        Kind::ChaincodeDeploy | Kind::ChaincodeUpgrade => {
            let p: ChaincodePayload = parse_as(kind, raw)?;
            validate::chaincode_name("payload.name", &p.name)?;
            validate::short("payload.version", &p.version)?;
            if p.sequence == 0 {
                return Err(ContractError::bad("payload.sequence", "must be at least 1"));
            }
            validate::short("payload.package_id", &p.package_id)?;
            validate::hex_digits("payload.package_hash", &p.package_hash, &[64])?;
            if let Some(ep) = &p.endorsement_policy {
                validate::text("payload.endorsement_policy", ep, validate::MAX_TEXT)?;
            }
            Payload::Chaincode(p)
        }
        Kind::ChannelUpdate => {
            let p: ChannelUpdatePayload = parse_as(kind, raw)?;
            validate::base64_bytes("payload.config_update", &p.config_update)?;
            for (field, list) in [
                ("payload.add_members", &p.add_members),
                ("payload.remove_members", &p.remove_members),
            ] {
                if !list.is_empty() {
                    validate::member_list(field, list)?;
                }
            }
            if let Some(m) = p.add_members.iter().find(|m| p.remove_members.contains(m)) {
                return Err(ContractError::bad(
                    "payload.add_members",
                    format!("{m} is both added and removed"),
                ));
            }
            let mut p = p;
            p.add_members.sort();
            p.remove_members.sort();
            Payload::ChannelUpdate(p)
        }
        Kind::OrgAdd | Kind::OrgRemove => {
            let p: OrgChangePayload = parse_as(kind, raw)?;
            validate::msp_id("payload.org", &p.org)?;
            validate::base64_bytes("payload.config_update", &p.config_update)?;
            Payload::OrgChange(p)
        }
        Kind::ChannelCreate => {
            let mut p: ChannelCreatePayload = parse_as(kind, raw)?;
            p.members = validate::member_list("payload.members", &p.members)?;
            if let Some(g) = &p.genesis_block {
                validate::base64_bytes("payload.genesis_block", g)?;
            }
            Payload::ChannelCreate(p)
        }
        Kind::GovernanceChange => {
            let p: GovernancePayload = parse_as(kind, raw)?;
            check_governance("payload.governance", &p.governance)?;
            Payload::Governance(p)
        }
        Kind::RegistryChange => {
            let mut p: RegistryPayload = parse_as(kind, raw)?;
            match p.action {
                RegistryAction::Set => {
                    p.members = validate::member_list("payload.members", &p.members)?;
                }
                RegistryAction::Remove => {
                    if !p.members.is_empty() {
                        return Err(ContractError::bad(
                            "payload.members",
                            "must be empty when the action is remove",
                        ));
                    }
                }
            }
            Payload::Registry(p)
        }
    };
    Ok(payload)
}

/// Checks governance settings: voting period 1 minute – 90 days, maximum at
/// least the default and at most 365 days, executor timeout 10 s – 7 days.
pub fn check_governance(field: &str, g: &Governance) -> Result<(), ContractError> {
    const DAY: i64 = 24 * 3600;
    if !(60..=90 * DAY).contains(&g.voting_period_secs) {
        return Err(ContractError::bad(
            format!("{field}.voting_period_secs"),
            "must be between 60 and 7776000 (90 days)",
        ));
    }
    if g.max_voting_period_secs < g.voting_period_secs || g.max_voting_period_secs > 365 * DAY {
        return Err(ContractError::bad(
            format!("{field}.max_voting_period_secs"),
            "must be at least voting_period_secs and at most 31536000 (365 days)",
        ));
    }
    if !(10..=7 * DAY).contains(&g.executor_timeout_secs) {
        return Err(ContractError::bad(
            format!("{field}.executor_timeout_secs"),
            "must be between 10 and 604800 (7 days)",
        ));
    }
    Ok(())
}

/// The canonical form of a payload: parsed, checked, defaults written out,
/// object keys sorted. This is what the contract stores.
pub fn normalize_payload(kind: Kind, raw: &Value) -> Result<(Payload, Value), ContractError> {
    let parsed = parse_payload(kind, raw)?;
    let value = parsed.to_value();
    let size = canonical_json(&value).len();
    if size > validate::MAX_PAYLOAD_BYTES {
        return Err(ContractError::bad(
            "payload",
            format!(
                "is {size} bytes in canonical form; at most {} are allowed",
                validate::MAX_PAYLOAD_BYTES
            ),
        ));
    }
    Ok((parsed, value))
}

/// The ID of a normalized payload: the `summary` field is left out, so two
/// agents that describe the same change in different words file one proposal.
pub(crate) fn id_of_normalized(
    kind: Kind,
    target: &Target,
    round: u32,
    normalized: &Value,
) -> String {
    let mut hashed = normalized.clone();
    if let Value::Object(m) = &mut hashed {
        m.remove("summary");
    }
    proposal_id(kind, target, round, &hashed)
}

/// The ID `propose` will give this change (see [`crate::canon::proposal_id`]).
pub fn compute_proposal_id(
    kind: Kind,
    target: &Target,
    round: u32,
    payload: &Value,
) -> Result<String, ContractError> {
    let (_, normalized) = normalize_payload(kind, payload)?;
    Ok(id_of_normalized(kind, target, round, &normalized))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cc() -> Value {
        json!({"name": "basic", "version": "1.0", "sequence": 1, "package_id": "basic_1.0:abc",
               "package_hash": "a".repeat(64)})
    }

    #[test]
    fn defaults_are_written_out_so_ids_agree() {
        let t = Target {
            channel: "ch1".into(),
            chaincode: Some("basic".into()),
        };
        let mut explicit = cc();
        explicit["init_required"] = json!(false);
        explicit["endorsement_policy"] = Value::Null;
        let a = compute_proposal_id(Kind::ChaincodeDeploy, &t, 0, &cc()).unwrap();
        let b = compute_proposal_id(Kind::ChaincodeDeploy, &t, 0, &explicit).unwrap();
        assert_eq!(a, b);
        let mut summarized = cc();
        summarized["summary"] = json!("deploy basic 1.0");
        assert_eq!(
            a,
            compute_proposal_id(Kind::ChaincodeDeploy, &t, 0, &summarized).unwrap()
        );
        let mut other = cc();
        other["init_required"] = json!(true);
        assert_ne!(
            a,
            compute_proposal_id(Kind::ChaincodeDeploy, &t, 0, &other).unwrap()
        );
    }

    #[test]
    fn malformed_payloads_are_refused_with_the_field() {
        let mut p = cc();
        p["unexpected"] = json!(1);
        let e = parse_payload(Kind::ChaincodeDeploy, &p).unwrap_err();
        assert!(
            matches!(&e, ContractError::BadArgument { field, reason }
            if field == "payload" && reason.contains("unexpected")),
            "{e}"
        );
        let mut p = cc();
        p["package_hash"] = json!("xyz");
        assert!(matches!(parse_payload(Kind::ChaincodeDeploy, &p),
            Err(ContractError::BadArgument { field, .. }) if field == "payload.package_hash"));
        assert!(parse_payload(Kind::ChannelUpdate, &json!({"config_update": "!!"})).is_err());
        assert!(
            parse_payload(
                Kind::OrgAdd,
                &json!({"org": "Org~X", "config_update": "AQID"})
            )
            .is_err()
        );
        assert!(parse_payload(Kind::ChaincodeDeploy, &json!([1])).is_err());
        let g = Governance {
            voting_period_secs: 1,
            ..Governance::default()
        };
        assert!(parse_payload(Kind::GovernanceChange, &json!({"governance": g})).is_err());
    }
}
