//! The Operations Smart Contract (OpsSC).
//!
//! Proposals and votes for chaincode and channel operations live on the ops
//! channel, so no single administrator decides and no organization needs
//! another organization's keys. The contract logic ([`invoke`]) is a pure
//! function of (state reads through [`StateRead`], the creator's MSP and
//! certificate, the function and its JSON argument, the transaction time and
//! ID) to (writes, at most one event, a JSON response) — an [`Outcome`] — or a
//! [`ContractError`] with nothing written. The chaincode-as-a-service main
//! that serves it through the shim is a thin shell that applies the writes
//! and sets the event. Key decision: votes are conflict-free (each writes
//! only its own key and reads no other vote), so the decision is a separate,
//! idempotent `tally` call.
//!
//! # Calling convention
//!
//! Chaincode input: `[function, arg]` where `arg` is one JSON object (or
//! absent for `registry`). Unknown fields are refused. Every response is a
//! JSON object. A refused call returns a chaincode error whose message is
//! `<class>: <text>`, class one of `bad_argument`, `forbidden`, `not_found`,
//! `conflict`, `unknown_function`, `state`, `corrupt` ([`ContractError::class`]).
//! Time is the transaction timestamp (Unix seconds), never the peer's clock,
//! so every endorser computes the same result.
//!
//! # Functions that change state (submit)
//!
//! | function | argument | who | effect |
//! |---|---|---|---|
//! | `found` | `{ops_channel, members: [msp], ops_policies?, channels?: [{name, members, policies?}], governance?}` | any listed member, only while the registry is empty | writes the registry and governance; event `RegistryFounded` |
//! | `propose` | `{kind, target: {channel, chaincode?}, payload, spec_ref: {git_commit, spec_hash, base_config_sequence?, committed_chaincode_sequence?}, deadline?, round?}` | the electorate of the target | files the proposal, or returns the existing one (`outcome: exists`, no write); supersedes an undecided proposal for the same target; event `ProposalFiled` |
//! | `vote` | `{id, decision: approve\|reject, reason?, config_signature?: {signature_header, signature}}` | the proposal's electorate, once | writes `vote~<id>~<msp>`; event `VoteCast` |
//! | `tally` | `{id}` | anyone | decides when the votes decide (or expires past the deadline); otherwise `outcome: pending`, no write |
//! | `expire` | `{id}` | anyone, after the deadline | settles the proposal (votes cast in time still count) |
//! | `withdraw` | `{id, reason?}` | the proposer, before a decision | → `withdrawn` |
//! | `report_task` | `{id, task, status: done\|failed, detail?, org?}` | each org for itself (electorate, or an org the proposal adds), once approved | appends `task~<id>~<msp>~<task>~<seq>`; event `TaskReported` |
//! | `claim_execution` | `{id}` | the eligible executor | takes the shared step for `executor_timeout_secs`; event `ExecutionClaimed` |
//! | `report_committed` | `{id, detail?}` | the eligible executor | → `committed`, applies registry changes; event `ProposalCommitted` |
//! | `report_failed` | `{id, error}` | the eligible executor | → `failed` with the error recorded; event `ProposalFailed` |
//! | `retry` | `{id, reason?}` | the electorate | `failed` → `approved`, attempt + 1, next executor first; event `ExecutionRetried` |
//!
//! Lazy deadline: once the deadline has passed, `vote` and `withdraw` on an
//! undecided proposal settle it first (decided by the votes cast in time, or
//! `expired`) and answer `outcome: not_applied` — the transaction commits the
//! settlement, not the requested action; `propose` of that change settles it
//! and answers `outcome: exists`.
//!
//! # Queries (evaluate)
//!
//! | function | argument | response |
//! |---|---|---|
//! | `get` | `{id}` | `{proposal, stored_state, tally: {approvals, rejections, not_voted, quorum, electorate}, eligible_executors}` |
//! | `list` | `{state?, channel?, kind?, page_size? (1..=200, default 50), bookmark?}` | `{items: [{id, kind, target, state, proposer, created_at, deadline, quorum, electorate}], bookmark}`, in filing order; `bookmark` is null on the last page |
//! | `votes` | `{id}` | `{id, votes: [Vote]}` |
//! | `tasks` | `{id, org?}` | `{id, tasks: [TaskEntry]}` |
//! | `history` | `{id}` | `{id, state, history: [{type: transition\|vote\|task, at, tx_id, actor, ...}]}` |
//! | `registry` | none | `{meta, channels: [ChannelEntry], governance}` |
//!
//! Queries show the state at the transaction time: a proposal past its
//! deadline appears settled even before a transaction records it.
//!
//! # Proposals
//!
//! Kinds ([`model::Kind`]) and payloads ([`api`]): `ChaincodeDeploy` /
//! `ChaincodeUpgrade` carry the full definition (`name, version, sequence,
//! package_id, package_hash, endorsement_policy, collections, init_required,
//! source`); `ChannelUpdate` the exact `ConfigUpdate` bytes (base64) plus the
//! membership and policy changes it makes; `OrgAdd` / `OrgRemove` the org and
//! the `ConfigUpdate`; `ChannelCreate` the members and policies;
//! `GovernanceChange` the complete new [`model::Governance`]; `RegistryChange`
//! a `set` or `remove` of a channel entry. Every payload may carry a free-form
//! `summary`.
//!
//! The ID is `sha256` over the kind, the canonical target, the round and the
//! canonical payload without `summary` ([`canon::proposal_id`],
//! [`compute_proposal_id`]): never the proposer or the time, so every agent
//! that derives the same change files the same proposal.
//!
//! States ([`model::ProposalState`]): `proposed` → `approved` → `committed`,
//! or `approved` → `failed` → (`retry`) `approved`; `proposed` → `rejected` |
//! `expired` | `withdrawn` | `superseded`. Meta-governance kinds go from
//! `proposed` straight to `committed`: the deciding tally applies them.
//!
//! # Electorate and quorum
//!
//! The electorate is the target channel's members in the on-chain registry
//! (for `ChannelCreate`, the new channel's members; for meta-governance, the
//! ops channel's members), snapshotted at filing. The quorum is the channel's
//! own rule — `Admins` for config changes, `LifecycleEndorsement` for chaincode
//! definitions, as ImplicitMeta `ANY | MAJORITY | ALL` recorded in the registry
//! (default MAJORITY = floor(n/2)+1) — raised, never lowered, by the
//! governance level for that kind (`policy`, `majority`, `twoThirds` =
//! ceil(2n/3), `all`). Meta-governance (GovernanceChange, RegistryChange)
//! always needs every ops-channel member. A proposal is rejected as soon as
//! rejections exceed n − quorum.
//!
//! Approve votes on `ChannelUpdate`, `OrgAdd` and `OrgRemove` must carry the
//! voter's `ConfigSignature`; [`sig`] checks that its signer is an identity of
//! the voter's MSP and that the low-S P-256 signature verifies over
//! `signature_header || config_update`. The executor collects them with the
//! `votes` query.
//!
//! # Execution
//!
//! After approval each org reports its own tasks (`install`, `approve`,
//! `join`, ...). The shared step is done by one executor: the approving orgs
//! sorted by `sha256(proposal_id || msp)` ([`contract::executor_order`]),
//! rotated by `attempt − 1`. The first is eligible at approval; every
//! `executor_timeout_secs` (governance, default 600) the next one becomes
//! eligible too; a fresh `claim_execution` makes the claimer the only
//! eligible one until its timeout. See [`model::Execution::eligible`].
//!
//! # Registry and founding (trust assumption)
//!
//! The registry (which channels exist and who is on them) starts with `found`,
//! accepted once, from any organization it lists, while the registry is empty.
//! The contract cannot read the channel configuration, so it trusts the
//! founder to record the real membership. The ops channel's members approved
//! the deployment of this chaincode moments before, and `found` is visible to
//! all (event and `registry` query): members check it right after, and a wrong
//! founding is fixed by a RegistryChange that every member approves. After
//! founding, the registry changes only through committed OrgAdd, OrgRemove,
//! ChannelCreate, ChannelUpdate (with membership or policy changes) and
//! RegistryChange proposals.
//!
//! # Events
//!
//! One chaincode event per transaction (Fabric keeps one). Names:
//! `RegistryFounded`, `ProposalFiled`, `VoteCast`, `ProposalApproved`,
//! `ProposalRejected`, `ProposalExpired`, `ProposalWithdrawn`,
//! `ProposalCommitted`, `ProposalFailed`, `TaskReported`, `ExecutionClaimed`,
//! `ExecutionRetried`. Payload (JSON): `{event, tx_id, actor, at, proposal_id,
//! kind, channel, chaincode, state, transitions: [{proposal_id, from, to}],
//! detail}`; `transitions` lists every proposal that changed state in the
//! transaction (e.g. a filing and the proposal it superseded).
//!
//! # State keys
//!
//! See [`keys`]. Limits (see [`validate`]): argument ≤ 1.5 MiB, canonical
//! payload ≤ 1 MiB, identifiers ≤ 256 characters, free text ≤ 4096, JSON depth
//! ≤ 32, integers only, ≤ 256 organizations per list.
//!
//! # Clock trust
//!
//! The transaction timestamp is chosen by the submitting client (Fabric does
//! not bound it). Deadlines and executor timeouts are therefore as honest as
//! the submitter's clock: an organization can at most misdate its own calls.

pub mod api;
pub mod canon;
pub mod ccaas;
pub mod contract;
pub mod error;
pub mod keys;
pub mod model;
pub mod shell;
pub mod sig;
pub mod state;
pub mod validate;

pub use api::compute_proposal_id;
pub use contract::{Event, INVOKE_FUNCTIONS, Outcome, QUERY_FUNCTIONS, TxContext, invoke};
pub use error::ContractError;
pub use state::{MemState, StateRead, Write};
