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
//! and sets the event. Key decisions: the vote that reaches the quorum (or
//! makes it unreachable) decides in its own transaction, through the same
//! code as the idempotent `tally` (which stays for votes that arrived
//! together and for expiry); a vote may name the votes it counts, one key
//! each, so concurrent votes do not conflict (votes are immutable, and
//! reading committed ones never clashes with a new one, while a range read
//! of all votes would); and the contract holds against a hostile member
//! (see "Against a hostile member" below).
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
//! Every one of them must be submitted by an **admin identity** of the
//! caller's organization: a certificate whose subject carries the NodeOU
//! role `OU=admin`, or one whose SHA-256 fingerprint the registry lists in
//! `admin_certs` for that organization ([`sig::is_admin_cert`]). A client
//! certificate (a stolen one included) can read, never act.
//!
//! | function | argument | who | effect |
//! |---|---|---|---|
//! | `found` | `{ops_channel, members: [msp], ops_policies?, channels?: [{name, members, policies?}], governance?, admin_certs?: {msp: [sha256 hex]}}` | each listed member, while the registry is empty | records the caller's confirmation of this content (`outcome: confirmed`, `waiting_for`; event `FoundingConfirmed`); the last member to confirm the same content writes the registry (`outcome: founded`; event `RegistryFounded`) |
//! | `propose` | `{kind, target: {channel, chaincode?}, payload, spec_ref: {git_commit, spec_hash, base_config_sequence?, committed_chaincode_sequence?}, deadline?, round?}` | the electorate of the target | files the proposal (event `ProposalFiled`), or returns the existing one (`outcome: exists`); an organization other than the proposer filing an open one is recorded in `also_filed_by` (event `ProposalBacked`); supersedes the caller's own undecided proposal for the same target unless its votes already decide it |
//! | `vote` | `{id, decision: approve\|reject, reason?, counted?: [msp]}` | the proposal's electorate, once, before the deadline | writes `vote~<id>~<msp>`; event `VoteCast`, or, when the votes counted (every vote, or only the `counted` organizations' and the caller's) decide, the decision exactly as `tally` takes it (`decided: true`, event `ProposalApproved`/`ProposalRejected`/`ProposalCommitted`). A `config_signature` is refused. Past the deadline (caller's clock) the vote counts as the caller's expiry attestation (`outcome: not_applied`) |
//! | `sign` | `{id, config_signature: {signature_header, signature}}` | an organization whose recorded vote approves it, once it is `approved` | stores its admin's ConfigSignature over the stored ConfigUpdate bytes in `sig~<id>~<msp>` (replacing its earlier one); event `UpdateSigned` |
//! | `ballots` | `{calls: [{function: propose\|vote\|sign, args: {...}}]}` (1 to 32, each on another proposal) | as each call | the caller's filings, votes and signatures on several proposals in one transaction, each checked and applied exactly as alone (`results`: each call's answer; an organization's filings count against its open-proposal bound together); one event `BallotsCast` whose `detail.events` lists the calls' own; any call refused refuses the whole |
//! | `tally` | `{id, counted?: [msp]}` | any admin | decides when the votes decide (every vote, or only the `counted` organizations' and the caller's, as for `vote`); otherwise `outcome: pending`, no write |
//! | `expire` | `{id}` | the electorate, once the caller's clock is past the deadline | records the caller's expiry attestation (`outcome: attested`, event `ExpiryAttested`); the proposal expires when `n − quorum + 1` members attested and the votes do not decide it |
//! | `withdraw` | `{id, reason?}` | the proposer, before a decision, while no other organization backs it (filed it too or approved it) | → `withdrawn` |
//! | `report_task` | `{id, task, status: done\|failed, detail?, org?, more?: [{task, status, detail?}]}` | each org for itself (electorate, or an org the proposal adds), once approved | appends `task~<id>~<msp>~<task>~<seq>` for the task and each of `more` (each task once per call; at most 100 per task, 1000 per org and proposal); one event `TaskReported` (the others in `detail.more`) |
//! | `claim_execution` | `{id}` | the eligible executor, until the claim window closes | takes the shared step for `executor_timeout_secs`; event `ExecutionClaimed` |
//! | `report_committed` | `{id, detail?}` | the eligible executor | → `committed`, applies registry changes; event `ProposalCommitted` |
//! | `report_failed` | `{id, error}` | the eligible executor | → `failed` with the error recorded; event `ProposalFailed` |
//! | `retry` | `{id, reason?}` | the electorate | `failed` → `approved`, attempt + 1, next executor first; event `ExecutionRetried` |
//!
//! # Queries (evaluate)
//!
//! Any identity of the channel may query.
//!
//! | function | argument | response |
//! |---|---|---|
//! | `get` | `{id}` | `{proposal, stored_state, tally: {approvals, rejections, not_voted, quorum, electorate}, eligible_executors, deadline_passed, expiry_attested_by}` |
//! | `list` | `{state?, channel?, kind?, open?, page_size? (1..=200, default 50), bookmark?}` | `{items: [{id, kind, target, state, proposer, created_at, deadline, quorum, electorate}], bookmark}`, in filing order; `bookmark` is null on the last page. `open: true` reads only the proposals not yet terminal (proposed, approved, failed) from their own index: what the agents' pass needs, at O(open) cost |
//! | `overview` | as `list` | `{items, bookmark}` as `list` answers, `registry` as `registry` answers, and `open: {id: {get, votes, tasks, signatures}}` for each listed proposal still proposed or approved (`tasks` once approved, `signatures` for a config proposal, else empty): an agent's observation in one call per page |
//! | `votes` | `{id}` | `{id, votes: [Vote]}` |
//! | `signatures` | `{id}` | `{id, state, signatures: [{org, config_signature, signer, at, tx_id}]}`: what the executor puts in the config update envelope |
//! | `tasks` | `{id, org?}` | `{id, tasks: [TaskEntry]}` |
//! | `history` | `{id}` | `{id, state, history: [{type: transition\|vote\|task, at, tx_id, actor, ...}]}` |
//! | `registry` | none | `{meta, channels: [ChannelEntry], governance}` (`meta` null until founded) |
//!
//! Queries show the stored state; `get` says whether the deadline has passed
//! at the query's time and who attested it.
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
//! [`compute_proposal_id`]): never the proposer, the deadline, the summary
//! or the time, so every agent that derives the same change files the same
//! proposal, and a copy filed first with another summary or deadline is the
//! same proposal (the first filing's summary is shown; it is informational
//! only, nobody signs or executes it).
//!
//! States ([`model::ProposalState`]): `proposed` → `approved` → `committed`,
//! or `approved` → `failed` → (`retry`) `approved`; `proposed` → `rejected` |
//! `expired` | `withdrawn` | `superseded`. Meta-governance kinds go from
//! `proposed` straight to `committed`: the deciding vote or tally applies
//! them.
//!
//! # Against a hostile member: what is compared
//!
//! Any member (or anyone holding one of its admin keys) can call the
//! contract directly with any arguments and any transaction timestamp. The
//! rules below make sure that **no filing can supersede, expire or freeze
//! another organization's change**, and that no single member decides
//! anything for the others (docs/guide/security.md lists each attack with
//! its test in `tests/hostile.rs`):
//!
//! - **Who**: only admin identities act (above); the electorate is fixed at
//!   filing from the registry.
//! - **Supersession** compares the *proposer's organization* and the
//!   *votes*: a filing supersedes only an undecided proposal that the same
//!   organization filed for the same target (`target~<target>~<msp>`), and
//!   only after counting its votes: one that already has its quorum (or
//!   enough rejections) is decided instead. Another organization's open
//!   proposal for the target stays open; honest agents vote reject on what
//!   their plan does not contain.
//! - **Deadline**: an explicit deadline must leave at least the minimum
//!   voting period ([`contract::MIN_VOTING_PERIOD_SECS`], or the governance
//!   voting period when shorter) and at most `max_voting_period_secs`.
//! - **Withdrawal**: only by the proposer's organization, and only while no
//!   other organization backs the proposal (filed the same ID too, or voted
//!   approve): a member that files the agents' exact change first cannot
//!   then kill it.
//! - **Expiry** compares *clocks of the electorate*, not one caller's clock:
//!   `expire` (or a vote past the deadline) is one organization's
//!   attestation that its clock passed the deadline; the proposal expires
//!   when `n − quorum + 1` members attested, the same number a rejection
//!   needs, so expiring gives no coalition more power than voting reject.
//!   A future-dated `expire` by one member does nothing.
//! - **Execution** compares times *recorded on the ledger* with the caller's
//!   own time, never trusting another party's clock over the caller's: a
//!   claim dated after the caller's time is not yet a claim, a decision dated
//!   after it leaves every executor eligible, and a claim is accepted only up
//!   to `started_at + len(order) × executor_timeout_secs` (the executors'
//!   turns after the decision, [`model::Execution::claim_deadline`]). The
//!   decision time is the tally's time but never before the latest counted
//!   vote. So a claim or tally dated decades ahead cannot freeze an approved
//!   proposal; the next executor takes over after the timeout.
//! - **Signatures** are released only after the decision (see below).
//! - **Founding** needs every founding member's confirmation of the same
//!   content; a wrong ops-channel entry is repaired by the ops channel's own
//!   majority (see below).
//! - **Cost**: a limit on open (non-terminal) proposals per proposing
//!   organization ([`contract::MAX_OPEN_PER_ORG`], checked so that one
//!   organization's concurrent filings rarely conflict; never more than
//!   [`contract::MAX_OPEN_PER_ORG_BOUND`]); closed proposals leave the open
//!   index; every range read passes its limit down to the state (see
//!   [`state::StateRead::range`] and `ccaas`), and update transactions read
//!   only ranges bounded by construction (votes, attestations and signatures
//!   are one per electorate member; tasks are capped).
//!
//! What the contract cannot check: a `report_committed` is the executor's
//! claim; agents verify the chain (config sequence, committed definition)
//! rather than trusting it.
//!
//! # Electorate and quorum
//!
//! The electorate is the target channel's members in the on-chain registry
//! (for `ChannelCreate` and meta-governance, the ops channel's members),
//! snapshotted at filing. `ChannelCreate` takes its electorate from the ops
//! channel, never from its own payload, so no organization can file, approve
//! and squat a channel name alone. The quorum is the channel's own rule —
//! `Admins` for config changes (the ops channel's for `ChannelCreate`),
//! `LifecycleEndorsement` for chaincode definitions, as ImplicitMeta
//! `ANY | MAJORITY | ALL` recorded in the registry (default MAJORITY =
//! floor(n/2)+1) — raised, never lowered, by the governance level for that
//! kind (`policy`, `majority`, `twoThirds` = ceil(2n/3), `all`).
//! `GovernanceChange` and a `RegistryChange` of an application channel need
//! every ops-channel member. A `RegistryChange` of the ops channel's own
//! entry (the repair) has as electorate the registered ops members plus the
//! members it names, and needs a majority of them. A proposal is rejected
//! as soon as rejections exceed n − quorum.
//!
//! # Signatures over a config update
//!
//! Decision: the OpsSC quorum is enforced by not releasing signatures
//! before it is met, not by the channel's policy (the channel's `Admins`
//! policy is usually a majority, often lower than the governance level, and
//! knows nothing about withdrawals or expiry). Every transaction is public
//! to the channel's members as soon as it is in a block, so a signature in
//! a vote would be usable before the decision. Therefore votes carry no
//! `ConfigSignature`; once a `ChannelUpdate`, `OrgAdd` or `OrgRemove` is
//! `approved`, each approving organization calls `sign`: [`sig`] checks that
//! the signer is an admin of the caller's own MSP (same MSP as the caller,
//! NodeOU admin or listed), that its certificate is valid at the
//! transaction time and that the low-S P-256 signature verifies over
//! `signature_header || config_update` (the stored bytes). The executor
//! reads them with the `signatures` query.
//!
//! # Execution
//!
//! After approval each org reports its own tasks (`install`, `approve`,
//! `join`, ...). The shared step is done by one executor: the approving orgs
//! sorted by `sha256(proposal_id || msp)` ([`contract::executor_order`]),
//! rotated by `attempt − 1`. The first is eligible at approval; every
//! `executor_timeout_secs` (governance, default 600) the next one becomes
//! eligible too; a fresh `claim_execution` makes the claimer the only
//! eligible one until its timeout. See [`model::Execution::eligible`] for how
//! times recorded by other clocks are compared.
//!
//! # Registry and founding (trust assumption)
//!
//! The registry (which channels exist and who is on them) takes effect only
//! when **every founding member confirmed the same content**: each calls
//! `found` with identical arguments (compared in canonical form: lists
//! sorted, defaults written out, hashed); the last confirmation writes it.
//! The contract cannot read the channel configuration, but it knows this:
//! Fabric accepts a transaction only from an identity of an organization on
//! the ops channel, so every caller is a real member. A registry that
//! disagrees with the ops channel's configuration (e.g. a member founded one
//! that lists only itself) is repaired by a `RegistryChange` `set` of the ops
//! channel, decided by a majority of the registered and named members: the
//! real members out-vote a capture, and no single member can rewrite the
//! entry. After founding, the registry changes only through committed
//! OrgAdd, OrgRemove, ChannelCreate, ChannelUpdate (with membership or policy
//! changes) and RegistryChange proposals.
//!
//! # Events
//!
//! One chaincode event per transaction (Fabric keeps one). Names:
//! `FoundingConfirmed`, `RegistryFounded`, `ProposalFiled`, `ProposalBacked`,
//! `VoteCast`, `ExpiryAttested`, `UpdateSigned`, `ProposalApproved`,
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
//! The transaction timestamp is chosen by the submitting client and Fabric
//! 2.5 does not bound it. The contract therefore never lets one
//! organization's clock act on another organization's change: deadlines
//! end a proposal only by attestations of enough of the electorate, and
//! execution times recorded by others bind a caller only once its own clock
//! has reached them (above). An organization can at most misdate its own
//! calls.

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
pub mod update_rules;
pub mod validate;

pub use api::compute_proposal_id;
pub use contract::{Event, INVOKE_FUNCTIONS, Outcome, QUERY_FUNCTIONS, TxContext, invoke};
pub use error::ContractError;
pub use state::{MemState, StateRead, Write};
