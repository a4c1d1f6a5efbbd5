//! The contract's data model: what is stored under each key, as JSON.
//!
//! One object per key: a [`Proposal`] (with its state-transition history and
//! execution bookkeeping), one [`Vote`] per organization and proposal, one
//! [`TaskEntry`] per task report, one [`ChannelEntry`] per registered channel,
//! the [`RegistryMeta`] written at founding and the [`Governance`] settings.
//! Lists of organizations are kept sorted, so the stored bytes depend only on
//! the content. The lifecycle of a proposal is [`ProposalState`]; which moves
//! are legal is [`ProposalState::can_move_to`], checked on every transition.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a proposal changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// A chaincode's first definition on a channel.
    ChaincodeDeploy,
    /// A new definition (version, sequence, policy, ...) of a committed chaincode.
    ChaincodeUpgrade,
    /// A new application channel, with its founding members.
    ChannelCreate,
    /// A channel config update (policies, capabilities, batch settings, ...).
    ChannelUpdate,
    /// A channel config update that adds one organization to a channel.
    OrgAdd,
    /// A channel config update that removes one organization from a channel.
    OrgRemove,
    /// New governance settings (meta-governance: all ops-channel members).
    GovernanceChange,
    /// A direct change of the on-chain registry (meta-governance).
    RegistryChange,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::ChaincodeDeploy,
        Kind::ChaincodeUpgrade,
        Kind::ChannelCreate,
        Kind::ChannelUpdate,
        Kind::OrgAdd,
        Kind::OrgRemove,
        Kind::GovernanceChange,
        Kind::RegistryChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ChaincodeDeploy => "ChaincodeDeploy",
            Kind::ChaincodeUpgrade => "ChaincodeUpgrade",
            Kind::ChannelCreate => "ChannelCreate",
            Kind::ChannelUpdate => "ChannelUpdate",
            Kind::OrgAdd => "OrgAdd",
            Kind::OrgRemove => "OrgRemove",
            Kind::GovernanceChange => "GovernanceChange",
            Kind::RegistryChange => "RegistryChange",
        }
    }

    pub fn is_chaincode(self) -> bool {
        matches!(self, Kind::ChaincodeDeploy | Kind::ChaincodeUpgrade)
    }

    /// Kinds whose payload carries a ConfigUpdate that approving voters sign.
    pub fn carries_config_update(self) -> bool {
        matches!(self, Kind::ChannelUpdate | Kind::OrgAdd | Kind::OrgRemove)
    }

    /// Kinds that change only on-chain data: applied by the deciding `tally`,
    /// with no off-chain shared step.
    pub fn is_meta(self) -> bool {
        matches!(self, Kind::GovernanceChange | Kind::RegistryChange)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a proposal's lifecycle stands. States are named for what the
/// proposal waits on; terminal states wait on nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalState {
    /// Waiting for votes (until a tally decides or the deadline passes).
    Proposed,
    /// Decided yes; waiting for the organizations' tasks and the executor's
    /// shared step.
    Approved,
    /// The shared step succeeded and was reported. Terminal.
    Committed,
    /// The executor reported the shared step failed; waiting for a `retry`.
    Failed,
    /// Decided no: approval became impossible. Terminal.
    Rejected,
    /// The deadline passed undecided. Terminal.
    Expired,
    /// Withdrawn by its proposer before a decision. Terminal.
    Withdrawn,
    /// The same organization filed a newer proposal for the same target
    /// before a decision (or after the execution failed). Terminal.
    Superseded,
}

impl ProposalState {
    pub const ALL: [ProposalState; 8] = [
        ProposalState::Proposed,
        ProposalState::Approved,
        ProposalState::Committed,
        ProposalState::Failed,
        ProposalState::Rejected,
        ProposalState::Expired,
        ProposalState::Withdrawn,
        ProposalState::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProposalState::Proposed => "proposed",
            ProposalState::Approved => "approved",
            ProposalState::Committed => "committed",
            ProposalState::Failed => "failed",
            ProposalState::Rejected => "rejected",
            ProposalState::Expired => "expired",
            ProposalState::Withdrawn => "withdrawn",
            ProposalState::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Still open for votes.
    pub fn is_undecided(self) -> bool {
        self == ProposalState::Proposed
    }

    /// Nothing can happen to the proposal any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ProposalState::Committed
                | ProposalState::Rejected
                | ProposalState::Expired
                | ProposalState::Withdrawn
                | ProposalState::Superseded
        )
    }

    /// The transition table. Decisions are final: nothing goes back to
    /// `Proposed`, and only `Failed -> Approved` (a retry) leaves a non-voting
    /// state for an earlier one. A failed proposal is closed when its
    /// proposer files a newer change of the same target (`Failed ->
    /// Superseded`).
    pub fn can_move_to(self, to: ProposalState) -> bool {
        use ProposalState::*;
        matches!(
            (self, to),
            (
                Proposed,
                Approved | Rejected | Expired | Withdrawn | Superseded | Committed
            ) | (Approved, Committed | Failed)
                | (Failed, Approved | Superseded)
        )
    }
}

impl fmt::Display for ProposalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a proposal is about: a channel, and for chaincode kinds the
/// chaincode's name on it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chaincode: Option<String>,
}

impl Target {
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("channel".into(), Value::String(self.channel.clone()));
        if let Some(cc) = &self.chaincode {
            m.insert("chaincode".into(), Value::String(cc.clone()));
        }
        Value::Object(m)
    }
}

/// Where the change came from: the reviewed spec and the chain state it was
/// computed against. Not part of the proposal ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecRef {
    /// The spec repository commit (40 or 64 hex digits).
    pub git_commit: String,
    /// SHA-256 of the spec (64 hex digits).
    pub spec_hash: String,
    /// The channel config sequence the ConfigUpdate was computed against
    /// (required for ChannelUpdate, OrgAdd, OrgRemove).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_config_sequence: Option<u64>,
    /// The chaincode's committed definition sequence when the proposal was
    /// computed, 0 when not committed (required for chaincode kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_chaincode_sequence: Option<u64>,
}

/// An ImplicitMeta rule of a channel policy, as Fabric names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Rule {
    Any,
    #[default]
    Majority,
    All,
}

impl Rule {
    /// How many of `n` members satisfy the rule.
    pub fn required(self, n: u32) -> u32 {
        match self {
            Rule::Any => n.min(1),
            Rule::Majority => n / 2 + 1,
            Rule::All => n,
        }
    }
}

/// The channel policies that set the baseline quorum, as recorded in the
/// registry (mirroring the real channel's `/Channel/Application/Admins` and
/// `LifecycleEndorsement` ImplicitMeta rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ChannelPolicies {
    #[serde(default)]
    pub admins: Rule,
    #[serde(default)]
    pub lifecycle_endorsement: Rule,
}

/// A registered channel: `registry~channel~<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelEntry {
    pub name: String,
    /// Member MSP IDs, sorted, unique.
    pub members: Vec<String>,
    pub policies: ChannelPolicies,
    /// Time of the last change (tx timestamp, Unix seconds).
    pub updated_at: i64,
    /// The proposal that last changed the entry, or `found`.
    pub updated_by: String,
}

/// Written once by `found`: `registry~meta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryMeta {
    pub ops_channel: String,
    /// The founding members (the ops channel's members at founding), sorted.
    pub founders: Vec<String>,
    /// The organization whose transaction founded the registry.
    pub founded_by: String,
    pub founded_at: i64,
    pub tx_id: String,
    /// Admin certificates (SHA-256 fingerprints, hex) by organization, for
    /// MSPs whose admins carry no NodeOU role (see [`crate::sig::is_admin_cert`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub admin_certs: BTreeMap<String, Vec<String>>,
}

/// One founding member's confirmation of a founding content:
/// `founding~<content hash>~<msp>`. The registry takes effect when every
/// member the content lists has confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundingConfirmation {
    /// SHA-256 (hex) of the canonical `found` arguments.
    pub content: String,
    pub org: String,
    pub at: i64,
    pub tx_id: String,
    pub actor: String,
}

/// One organization's statement that a proposal's deadline has passed by
/// its clock: `expiry~<proposal>~<msp>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryAttestation {
    pub proposal_id: String,
    pub org: String,
    pub at: i64,
    pub tx_id: String,
    pub actor: String,
}

/// An approving organization's `ConfigSignature` over an approved proposal's
/// ConfigUpdate: `sig~<proposal>~<msp>`. Written only after approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureEntry {
    pub proposal_id: String,
    pub org: String,
    pub config_signature: ConfigSignatureB64,
    /// SHA-256 (hex) of the signing certificate.
    pub signer: String,
    pub at: i64,
    pub tx_id: String,
}

/// How much of the electorate a kind of change needs, on top of what the
/// channel's own policy requires: the effective quorum is the larger of the
/// two, so a level can raise the quorum but never lower it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum QuorumLevel {
    /// What the channel's policy requires, nothing more.
    #[default]
    Policy,
    /// floor(n/2)+1.
    Majority,
    /// ceil(2n/3): 2f+1 when n = 3f+1.
    TwoThirds,
    /// Every member.
    All,
}

impl QuorumLevel {
    pub fn required(self, n: u32) -> u32 {
        match self {
            QuorumLevel::Policy => 0,
            QuorumLevel::Majority => n / 2 + 1,
            QuorumLevel::TwoThirds => (2 * n).div_ceil(3),
            QuorumLevel::All => n,
        }
    }
}

/// Per-kind quorum levels (meta-governance kinds always need all members).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct QuorumLevels {
    #[serde(default)]
    pub chaincode: QuorumLevel,
    #[serde(default)]
    pub channel_create: QuorumLevel,
    #[serde(default)]
    pub channel_update: QuorumLevel,
    #[serde(default)]
    pub org_add: QuorumLevel,
    #[serde(default)]
    pub org_remove: QuorumLevel,
}

/// The governance settings: `governance`. Absent means [`Governance::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Governance {
    /// Voting period when `propose` gives no deadline.
    pub voting_period_secs: i64,
    /// The latest deadline `propose` may ask for, from the filing time.
    pub max_voting_period_secs: i64,
    /// How long the current executor has before the next one may take over.
    pub executor_timeout_secs: i64,
    #[serde(default)]
    pub quorum: QuorumLevels,
}

impl Default for Governance {
    fn default() -> Self {
        Governance {
            voting_period_secs: 7 * 24 * 3600,
            max_voting_period_secs: 30 * 24 * 3600,
            executor_timeout_secs: 600,
            quorum: QuorumLevels::default(),
        }
    }
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

/// A Fabric `ConfigSignature`, base64 (standard alphabet, padded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSignatureB64 {
    /// The marshaled `common.SignatureHeader` (creator + nonce).
    pub signature_header: String,
    /// DER ECDSA signature over `signature_header || config_update`.
    pub signature: String,
}

/// One organization's vote: `vote~<proposal>~<msp>`. Immutable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub proposal_id: String,
    pub org: String,
    pub decision: Decision,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_signature: Option<ConfigSignatureB64>,
    pub cast_at: i64,
    pub tx_id: String,
    /// SHA-256 (hex) of the submitting identity's certificate.
    pub actor: String,
}

/// How a reported task went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Done,
    Failed,
}

/// One task report: `task~<proposal>~<msp>~<task>~<seq>`. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEntry {
    pub proposal_id: String,
    pub org: String,
    pub task: String,
    pub seq: u32,
    pub status: TaskStatus,
    pub detail: String,
    pub at: i64,
    pub tx_id: String,
    pub actor: String,
}

/// The tally that decided a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionInfo {
    pub at: i64,
    pub tx_id: String,
    /// Approving organizations at the decision, sorted.
    pub approvals: Vec<String>,
    /// Rejecting organizations at the decision, sorted.
    pub rejections: Vec<String>,
}

/// The outcome reported for the shared step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionReport {
    pub by: String,
    pub at: i64,
    pub tx_id: String,
    pub attempt: u32,
    /// The executor's detail (commit) or error (failure).
    pub detail: String,
}

/// Who does the shared step, for the current attempt.
///
/// `order` is the approving organizations sorted by
/// `sha256(proposal_id || msp)`, rotated left by `attempt - 1`, so every
/// node computes the same order and a retry starts with a different executor.
/// At time `t`, the organizations at positions `0..=k` are eligible, where
/// `k = (t - started_at) / timeout_secs`; while a claim is fresh
/// (`claimed_at <= t < claimed_at + timeout_secs`) only the claimer is.
///
/// Times are compared with the caller's own transaction time, and a time
/// recorded by someone else's clock binds the caller only once the caller's
/// clock has reached it: a claim dated after `t` is not a claim yet, and a
/// decision dated after `t` (`t < started_at`) leaves every executor in the
/// order eligible. So a future-dated claim or tally can never freeze an
/// approved proposal for the other executors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    pub attempt: u32,
    pub started_at: i64,
    pub timeout_secs: i64,
    pub order: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<i64>,
    /// Earlier failed attempts, oldest first.
    #[serde(default)]
    pub failures: Vec<ExecutionReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<ExecutionReport>,
}

impl Execution {
    /// The organizations that may claim or report at time `now`.
    pub fn eligible(&self, now: i64) -> Vec<String> {
        if let (Some(by), Some(at)) = (&self.claimed_by, self.claimed_at)
            && at <= now
            && now < at.saturating_add(self.timeout_secs)
        {
            return vec![by.clone()];
        }
        if self.order.is_empty() {
            return Vec::new();
        }
        let upto = if now < self.started_at {
            self.order.len() - 1
        } else {
            let elapsed = now.saturating_sub(self.started_at);
            let k = (elapsed / self.timeout_secs.max(1)) as u64;
            (k.min(self.order.len() as u64 - 1)) as usize
        };
        let mut out: Vec<String> = self.order[..=upto].to_vec();
        if let Some(by) = &self.claimed_by
            && !out.contains(by)
        {
            out.push(by.clone());
        }
        out
    }

    /// The latest time a claim may carry: claims are bounded by the decision
    /// time, not by the claimant's clock (each executor's turn, from
    /// `started_at`, plus one timeout).
    pub fn claim_deadline(&self) -> i64 {
        let turns = (self.order.len() as i64).max(1);
        self.started_at
            .saturating_add(self.timeout_secs.saturating_mul(turns))
    }
}

/// One state transition, kept in the proposal's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub at: i64,
    pub tx_id: String,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ProposalState>,
    pub to: ProposalState,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// A proposal: `proposal~<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: String,
    pub kind: Kind,
    pub target: Target,
    pub round: u32,
    /// The canonical payload (see `propose` in the crate doc).
    pub payload: Value,
    pub spec_ref: SpecRef,
    pub proposer: String,
    pub created_at: i64,
    pub created_tx: String,
    pub deadline: i64,
    pub state: ProposalState,
    /// The organizations that may vote, sorted (snapshot at filing).
    pub electorate: Vec<String>,
    /// Approvals needed (snapshot at filing).
    pub quorum: u32,
    /// How the quorum was derived, for people.
    pub quorum_rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// Other organizations that filed the same change (same ID) while it was
    /// open, sorted: they back it, so its proposer can no longer withdraw it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_filed_by: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<Execution>,
    pub history: Vec<Transition>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_math() {
        assert_eq!(Rule::Majority.required(1), 1);
        assert_eq!(Rule::Majority.required(2), 2);
        assert_eq!(Rule::Majority.required(3), 2);
        assert_eq!(Rule::Majority.required(4), 3);
        assert_eq!(Rule::Majority.required(5), 3);
        assert_eq!(Rule::Any.required(5), 1);
        assert_eq!(Rule::All.required(5), 5);
        // 2f+1 of n = 3f+1
        for f in 0..10u32 {
            assert_eq!(QuorumLevel::TwoThirds.required(3 * f + 1), 2 * f + 1);
        }
        assert_eq!(QuorumLevel::TwoThirds.required(6), 4);
        assert_eq!(QuorumLevel::Policy.required(6), 0);
    }

    #[test]
    fn decisions_are_final_in_the_table() {
        for from in ProposalState::ALL {
            if from != ProposalState::Proposed {
                assert!(
                    !from.can_move_to(ProposalState::Proposed),
                    "{from} -> proposed"
                );
            }
            if from.is_terminal() {
                for to in ProposalState::ALL {
                    assert!(!from.can_move_to(to), "{from} -> {to}");
                }
            }
        }
    }

    #[test]
    fn eligibility_grows_with_time_and_a_claim_is_exclusive() {
        let mut e = Execution {
            attempt: 1,
            started_at: 1000,
            timeout_secs: 60,
            order: vec!["B".into(), "A".into(), "C".into()],
            claimed_by: None,
            claimed_at: None,
            failures: vec![],
            committed: None,
        };
        assert_eq!(e.eligible(1000), vec!["B"]);
        assert_eq!(e.eligible(1059), vec!["B"]);
        assert_eq!(e.eligible(1060), vec!["B", "A"]);
        assert_eq!(e.eligible(5000), vec!["B", "A", "C"]);
        // A decision dated after the caller's time binds nobody to the order.
        assert_eq!(e.eligible(10), vec!["B", "A", "C"]);
        e.claimed_by = Some("A".into());
        e.claimed_at = Some(1070);
        assert_eq!(e.eligible(1100), vec!["A"]);
        assert_eq!(e.eligible(1130), vec!["B", "A", "C"]);
        // A claim dated after the caller's time is not a claim yet.
        e.claimed_by = Some("C".into());
        e.claimed_at = Some(1_000_000_000);
        assert_eq!(e.eligible(1060), vec!["B", "A", "C"]);
        assert_eq!(e.claim_deadline(), 1180);
    }
}
