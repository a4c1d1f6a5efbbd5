//! The world-state key layout: simple UTF-8 keys with `~` separators.
//!
//! | key | value |
//! |---|---|
//! | `registry~meta` | [`crate::model::RegistryMeta`] (written once by `found`) |
//! | `registry~channel~<channel>` | [`crate::model::ChannelEntry`] |
//! | `governance` | [`crate::model::Governance`] (absent = defaults) |
//! | `proposal~<id>` | [`crate::model::Proposal`] |
//! | `index~<created_at, 20 digits>~<id>` | empty; lists proposals in filing order |
//! | `open~<created_at, 20 digits>~<id>` | empty; the proposals not yet in a terminal state |
//! | `openby~<msp>~<first hex digit of id>~<id>` | empty; the open proposals an organization filed (for its limit) |
//! | `target~<target key>~<msp>` | the latest proposal ID that organization filed for that target |
//! | `vote~<id>~<msp>` | [`crate::model::Vote`] |
//! | `expiry~<id>~<msp>` | [`crate::model::ExpiryAttestation`] |
//! | `sig~<id>~<msp>` | [`crate::model::SignatureEntry`] |
//! | `task~<id>~<msp>~<task>~<seq, 6 digits>` | [`crate::model::TaskEntry`] |
//! | `founding~<content hash>~<msp>` | [`crate::model::FoundingConfirmation`] |
//!
//! Identifiers that go into keys (MSP IDs, channel, chaincode and task names)
//! are validated never to contain `~` or control characters, so every prefix
//! is unambiguous. Keys are simple (not Fabric composite keys), so prefix scans
//! are range queries; see [`crate::state::prefix_end`].

use crate::model::{Kind, Target};

pub const META: &str = "registry~meta";
pub const CHANNEL_PREFIX: &str = "registry~channel~";
pub const GOVERNANCE: &str = "governance";
pub const PROPOSAL_PREFIX: &str = "proposal~";
pub const INDEX_PREFIX: &str = "index~";
pub const OPEN_PREFIX: &str = "open~";

pub fn open(created_at: i64, id: &str) -> String {
    format!("{OPEN_PREFIX}{:020}~{id}", created_at.max(0))
}

pub fn open_by_prefix(msp: &str) -> String {
    format!("openby~{msp}~")
}

/// The shard of an open proposal in its proposer's open set: the first
/// hex digit of its ID (16 shards), so the limit check of one filing reads
/// only a sixteenth of the set while that shard is small.
pub fn open_by_shard_prefix(msp: &str, id: &str) -> String {
    format!("openby~{msp}~{}~", id.get(..1).unwrap_or("0"))
}

pub fn open_by(msp: &str, id: &str) -> String {
    format!("{}{id}", open_by_shard_prefix(msp, id))
}

/// The latest proposal `msp` filed for the target (see [`target_key`]).
pub fn target_of(kind: Kind, target: &Target, msp: &str) -> String {
    format!("{}~{msp}", target_key(kind, target))
}

pub fn expiry(id: &str, msp: &str) -> String {
    format!("expiry~{id}~{msp}")
}

pub fn expiry_prefix(id: &str) -> String {
    format!("expiry~{id}~")
}

pub fn signature(id: &str, msp: &str) -> String {
    format!("sig~{id}~{msp}")
}

pub fn signature_prefix(id: &str) -> String {
    format!("sig~{id}~")
}

pub fn founding(content: &str, msp: &str) -> String {
    format!("founding~{content}~{msp}")
}

pub fn channel(name: &str) -> String {
    format!("{CHANNEL_PREFIX}{name}")
}

pub fn proposal(id: &str) -> String {
    format!("{PROPOSAL_PREFIX}{id}")
}

pub fn index(created_at: i64, id: &str) -> String {
    format!("{INDEX_PREFIX}{:020}~{id}", created_at.max(0))
}

/// The proposal ID at the end of an index key.
pub fn id_from_index(key: &str) -> Option<&str> {
    key.rsplit('~').next()
}

/// What "the same target" means for superseding: chaincode kinds share the
/// chaincode on its channel; config kinds (create, update, org add/remove)
/// share the channel's config; governance is one target; registry changes
/// are per channel entry.
pub fn target_key(kind: Kind, target: &Target) -> String {
    match kind {
        Kind::ChaincodeDeploy | Kind::ChaincodeUpgrade => format!(
            "target~cc~{}~{}",
            target.channel,
            target.chaincode.as_deref().unwrap_or_default()
        ),
        Kind::ChannelCreate | Kind::ChannelUpdate | Kind::OrgAdd | Kind::OrgRemove => {
            format!("target~config~{}", target.channel)
        }
        Kind::GovernanceChange => "target~governance".to_string(),
        Kind::RegistryChange => format!("target~registry~{}", target.channel),
    }
}

pub fn vote(id: &str, msp: &str) -> String {
    format!("vote~{id}~{msp}")
}

pub fn vote_prefix(id: &str) -> String {
    format!("vote~{id}~")
}

pub fn task(id: &str, msp: &str, task: &str, seq: u32) -> String {
    format!("task~{id}~{msp}~{task}~{seq:06}")
}

pub fn task_prefix(id: &str) -> String {
    format!("task~{id}~")
}

pub fn task_prefix_org(id: &str, msp: &str) -> String {
    format!("task~{id}~{msp}~")
}

pub fn task_prefix_org_task(id: &str, msp: &str, task: &str) -> String {
    format!("task~{id}~{msp}~{task}~")
}
