//! Steps: the plan as the ordered list of actions one organization's agent
//! takes in one pass, and why every other action is blocked.
//!
//! [`steps`] is pure: it reads the spec, the observation (which already holds
//! every open proposal's payload, votes, tasks, eligible executors and commit
//! readiness) and a [`PlanInput`] with what only I/O can tell (whether the
//! own peer has caught up with the orderer, which proposals this
//! organization's admin consented to). It decides everything an agent used
//! to work out between Fabric calls: the vote verdict and its reason, whether
//! the vote itself decides the proposal or a tally is still needed
//! ([`tally_decides`]), the commit's endorsers
//! and whether the channel's real `LifecycleEndorsement` is met, when an
//! uncompilable package makes a proposal fail, which own installs and
//! approvals remain. The executor ([`crate::agent::execute`]) runs the steps
//! in order, one Fabric call each; given no steps it does nothing.
//!
//! Key decision: the steps of one pass are planned from one observation, so
//! a step planned after another one counts on its effect (an approval
//! planned before the commit counts as given). If an earlier step of the
//! same subject fails, the executor skips the later ones and the next pass
//! plans again from a fresh observation.
//!
//! Fewer dependent ordered rounds (issue 19). A step the plan marks
//! [`Step::together`] is sent with the step before it, in the same ordered
//! round: an organization that votes approve on a chaincode change it
//! computed itself approves its own definition in that round
//! ([`early_approval_keeps_consent`] says when: only where Fabric's
//! `LifecycleEndorsement` cannot be met by fewer organizations than the
//! OpsSC quorum, so no definition can be committed before a quorum of
//! organizations consented; the executor still commits only once the OpsSC
//! decided); the executor commits as soon as the decision and the approvals
//! are there, its install and approval reports riding along (one
//! transaction for both, sent with the commit); a member catching up
//! approves every committed chaincode at once. The OrgAdds of every channel
//! a new organization joins are filed, voted and signed together; only an
//! application channel's update waits for the ops channel's config to list
//! the organization.

use std::collections::{BTreeMap, BTreeSet};

use opssc_chaincode::api::normalize_payload;
use opssc_chaincode::model::{Decision, Kind, ProposalState, Target, TaskStatus};
use opssc_schema::local::VotePolicy;
use opssc_schema::{Chaincode, PackageSource, Spec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::approval::ChannelView;
use super::proposal::{chaincode_payload, round_of};
use super::{Plan, PlannedProposal, short_id};
use crate::observe::{Observed, OpenDetail, ProposalSummary, Task};

/// What the planner cannot compute from the spec and the observation: data
/// gathered by I/O before planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInput {
    /// The spec commit this pass plans from (recorded in filed proposals).
    pub spec_commit: String,
    /// How this organization votes on proposals that match its plan.
    pub vote_policy: VotePolicy,
    /// The proposals this organization's admin consented to. `None`: no
    /// consent rule is configured, the vote policy alone decides (`auto`
    /// approves a payload identical to this organization's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consented: Option<BTreeSet<String>>,
    /// For proposals not in `consented`, by the same IDs: whose consent is
    /// missing and what to run ([`crate::consent::consent_to_plan`]), so a
    /// waiting vote says it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub consent_missing: BTreeMap<String, String>,
    /// Per channel: whether this organization's main peer has every block
    /// the orderer has (a peer that just joined must not plan chaincodes
    /// from a partial ledger). A channel not listed counts as caught up.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub caught_up: BTreeMap<String, bool>,
    /// Spec commits this organization knows besides `spec_commit` (its
    /// trusted commits and their history). A proposal the plan does not contain
    /// that was filed from one of these, or from `spec_commit`, is rejected;
    /// one filed from a commit this organization has not seen waits a pass
    /// (its spec source may not have fetched an honest member's newer commit
    /// yet).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub seen_commits: BTreeSet<String>,
    /// Per spec channel that lists this organization and that an own peer
    /// has not joined: what the orderer says (a channel not listed was not
    /// asked; nothing is planned for it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub admission: BTreeMap<String, Admission>,
    /// The config updates this organization computed, by the planned
    /// proposal's `intent_id`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config_updates: BTreeMap<String, ConfigUpdateInput>,
    /// `channelChanges: voteOnly`: never file a config proposal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vote_only: bool,
    /// The OpsSC package a member added after founding installs and
    /// approves, when its agent configuration names a server for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_package: Option<OpsPackage>,
    /// Per turn key ([`Steps::deferred`]): how long (ms) this organization
    /// has left a step that every planning organization would take alike
    /// to the organizations before it in the turn order ([`turn_order`]),
    /// or held its approvals for a replay ([`APPROVALS_HOLD_MS`]).
    /// The agent measures it between passes; absent is 0.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub waited_ms: BTreeMap<String, u64>,
    /// How long each organization in the turn order gets before the next
    /// one takes the step itself (a silent or crashed organization delays a
    /// change by this much, once).
    #[serde(default = "default_turn_grace_ms")]
    pub turn_grace_ms: u64,
}

/// [`PlanInput::turn_grace_ms`] by default (the agent configuration's
/// `turnGraceMs`): a few ordered rounds, so an honest filer's transaction
/// is seen before the next organization files.
pub const DEFAULT_TURN_GRACE_MS: u64 = opssc_schema::local::DEFAULT_TURN_GRACE_MS;

fn default_turn_grace_ms() -> u64 {
    DEFAULT_TURN_GRACE_MS
}

/// The order in which the organizations `orgs` take turns at a step every
/// one of them would take alike for `key` (filing proposal `key`, tallying
/// it): sorted by `sha256(key || msp)`, the contract's executor order, so
/// every agent computes the same order without talking to the others.
pub fn turn_order(key: &str, orgs: &[String]) -> Vec<String> {
    let mut orgs = orgs.to_vec();
    orgs.sort();
    orgs.dedup();
    opssc_chaincode::contract::executor_order(key, &orgs)
}

/// How much longer (ms) `me` waits before taking its turn: 0 for the first
/// organization of `order`, `rank × grace` minus what it `waited` for the
/// others; an organization outside `order` comes after all of them.
pub fn turn_wait_ms(order: &[String], me: &str, waited: u64, grace: u64) -> u64 {
    let rank = order.iter().position(|m| m == me).unwrap_or(order.len()) as u64;
    rank.saturating_mul(grace).saturating_sub(waited)
}

/// What this organization computed for one planned config proposal from
/// the channel's config block (I/O the planner cannot do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigUpdateInput {
    /// The ConfigUpdate bytes, base64.
    pub config_update: String,
    /// The proposal payload, as filed.
    pub payload: Value,
    /// The payload in the contract's canonical form (what votes compare).
    pub canonical: Value,
    /// The config sequence the update was computed against.
    pub base_sequence: u64,
    /// For an approved proposal of exactly these bytes: whether the
    /// approvals' signatures satisfy what the orderer will check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submit: Option<SubmitCheck>,
}

/// The policies the orderer checks for an update, against the signatures
/// on the chain (`configtx::required_signatures`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SubmitCheck {
    /// The approvals' signatures satisfy every policy: submit.
    Ready {
        signatures: BTreeMap<String, opssc_chaincode::model::ConfigSignatureB64>,
    },
    /// Not yet: more approvals must sign.
    Unsigned {
        signed: Vec<String>,
        policies: Vec<String>,
    },
    /// For an organization that does not vote on it (the orderer
    /// organization): the voters' signatures and its own satisfy every
    /// policy, so it adds its own and submits.
    SignAndSubmit {
        signatures: BTreeMap<String, opssc_chaincode::model::ConfigSignatureB64>,
    },
    /// Even every voter's signature would not do: a policy names an
    /// organization that does not vote on the OpsSC (the orderer
    /// organization, for orderer settings).
    OutsideElectorate {
        outside: Vec<String>,
        policies: Vec<String>,
    },
}

/// This organization's package of the OpsSC chaincode itself, for the
/// committed version on the ops channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpsPackage {
    /// The OpsSC chaincode's name on the ops channel.
    pub name: String,
    pub label: String,
    pub package_id: String,
}

/// Whether the ordering service admits this organization to a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Admission {
    /// The channel's latest config lists this organization: join.
    Listed,
    /// The config does not list it yet.
    NotListed { config_sequence: u64 },
    /// The orderer does not serve the channel to this organization.
    Unavailable { why: String },
    /// The agent configuration lists no orderer to ask.
    NoOrderer,
}

impl PlanInput {
    /// Whether `o` was filed from a spec commit this organization knows.
    pub fn has_seen(&self, o: &ProposalSummary) -> bool {
        let commit = o.spec_commit.as_deref().unwrap_or("");
        commit == self.spec_commit || self.seen_commits.contains(commit)
    }

    /// Automatic votes, every peer caught up: what `opssc plan` assumes.
    pub fn auto(spec_commit: &str) -> PlanInput {
        PlanInput {
            spec_commit: spec_commit.to_string(),
            vote_policy: VotePolicy::Auto,
            consented: None,
            consent_missing: BTreeMap::new(),
            caught_up: BTreeMap::new(),
            seen_commits: BTreeSet::new(),
            admission: BTreeMap::new(),
            config_updates: BTreeMap::new(),
            vote_only: false,
            ops_package: None,
            waited_ms: BTreeMap::new(),
            turn_grace_ms: DEFAULT_TURN_GRACE_MS,
        }
    }
}

/// One action of the agent: one Fabric call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Join an own peer to a channel whose config lists this organization,
    /// from the channel's block 0 (fetched from the orderer).
    Join {
        what: String,
        peer: String,
        channel: String,
    },
    /// File a proposal on the OpsSC chaincode.
    File {
        what: String,
        kind: Kind,
        target: Target,
        payload: Value,
        round: u32,
        /// The ID the contract will give it.
        proposal_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        committed_chaincode_sequence: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_config_sequence: Option<u64>,
    },
    /// Submit an approved config update to the orderer, signed by the
    /// approvals' ConfigSignatures, and wait for its config block. An update
    /// the orderer refuses is recorded as the proposal's failure.
    Submit {
        what: String,
        proposal_id: String,
        channel: String,
        config_update: String,
        signatures: BTreeMap<String, opssc_chaincode::model::ConfigSignatureB64>,
        /// Sent together with the step before it: the tally of the votes
        /// that decide the proposal ([`Step::together`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        together: bool,
    },
    /// The orderer organization's step (it votes on no proposal): add its
    /// own ConfigSignature to the voters' over an approved update whose
    /// bytes it computed itself from a spec it consented to, and submit it
    /// to the orderer. The members' executor reports the commit.
    SignAndSubmit {
        what: String,
        proposal_id: String,
        channel: String,
        config_update: String,
        signatures: BTreeMap<String, opssc_chaincode::model::ConfigSignatureB64>,
    },
    /// The orderer organization's step for an approved ChannelCreate it
    /// consented to: join each of its orderers (channel participation API)
    /// to the new channel with the genesis block it computes from its spec.
    JoinOrderers {
        what: String,
        proposal_id: String,
        channel: String,
    },
    /// Vote on a proposal. A vote carries no ConfigSignature: the contract
    /// releases signatures only after the decision ([`Step::Sign`]).
    Vote {
        what: String,
        proposal_id: String,
        decision: Decision,
        reason: String,
        /// The organizations whose observed votes agree with this one: the
        /// contract counts these (one key each, no conflict with the
        /// others' concurrent votes) with this vote, so the vote that
        /// reaches the quorum decides. Never a vote of the other decision:
        /// a reject never completes an approval.
        #[serde(default)]
        counted: Vec<String>,
        /// Whether, by the observation, this vote decides the proposal (so
        /// no tally follows it).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        decides: bool,
    },
    /// Give this organization admin's ConfigSignature over an approved
    /// config proposal's update (the contract's `sign`): planned only when
    /// this organization voted approve on it and the stored bytes are the
    /// ones it computes itself (`config_update`, base64).
    Sign {
        what: String,
        proposal_id: String,
        config_update: String,
        /// For a proposal not tallied yet: the recorded approvals that, with
        /// this organization's, reach the quorum (the contract's `sign`
        /// checks them). Empty for an approved proposal.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        counted: Vec<String>,
    },
    /// Decide a proposal whose votes decide it.
    Tally {
        what: String,
        proposal_id: String,
        /// The organizations whose observed votes decide it (the side this
        /// organization tallies for): the contract reads just those keys,
        /// so a vote cast meanwhile does not invalidate the tally.
        #[serde(default)]
        counted: Vec<String>,
        /// Sent together with the step before it: the executor-to-be's
        /// tally and submit of another config proposal ([`Step::together`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        together: bool,
    },
    /// Install a package this organization built on one of its peers. When
    /// `report_failure_on` names a proposal, a package that does not compile
    /// is recorded there as this organization's failed `install` task.
    Install {
        what: String,
        peer: String,
        label: String,
        package_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        report_failure_on: Option<String>,
    },
    /// Approve a chaincode definition for this organization.
    Approve {
        what: String,
        channel: String,
        chaincode: String,
        version: String,
        sequence: u64,
        package_id: String,
        /// Sent together with the step before it, in the same ordered
        /// round ([`Step::together`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        together: bool,
    },
    /// Report a task of this organization on a proposal, and `more` of
    /// them in the same transaction.
    ReportTask {
        what: String,
        proposal_id: String,
        task: Task,
        status: TaskStatus,
        detail: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        more: Vec<TaskReport>,
        /// Sent together with the step before it ([`Step::together`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        together: bool,
    },
    /// Commit a chaincode definition, endorsed by the organizations that
    /// approved it. A commit Fabric refuses is recorded as the proposal's
    /// failure (unless the definition turns out to be committed already).
    Commit {
        what: String,
        proposal_id: String,
        channel: String,
        chaincode: String,
        version: String,
        sequence: u64,
        endorsers: Vec<String>,
        /// Sent together with the step before it, the tally whose recorded
        /// votes already decide the proposal ([`Step::together`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        together: bool,
    },
    /// The proposal's shared step is on the chain.
    ReportCommitted {
        what: String,
        proposal_id: String,
        detail: String,
    },
    /// The proposal cannot be executed.
    ReportFailed {
        what: String,
        proposal_id: String,
        error: String,
    },
}

/// One more task of a [`Step::ReportTask`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskReport {
    pub task: Task,
    pub status: TaskStatus,
    pub detail: String,
}

impl Step {
    /// Whether the executor sends this step together with the step before
    /// it (both in flight at once, so they share one ordered round): the
    /// plan says so only where neither call depends on the other's effect
    /// and their transactions touch different keys — an approval of this
    /// organization's definition (`_lifecycle`, its own implicit
    /// collection) next to its vote (the OpsSC) or to another chaincode's
    /// approval, its task report (the OpsSC) next to the commit
    /// (`_lifecycle`), the commit of a definition (`_lifecycle`) or the
    /// submit of a config update (the orderer) next to the tally (the
    /// OpsSC) of the votes that decide its proposal, and such tallies of
    /// several proposals.
    pub fn together(&self) -> bool {
        matches!(
            self,
            Step::Approve { together: true, .. }
                | Step::ReportTask { together: true, .. }
                | Step::Commit { together: true, .. }
                | Step::Submit { together: true, .. }
                | Step::Tally { together: true, .. }
        )
    }

    /// The proposal a filing, a vote or a signature is about: the OpsSC
    /// calls of this organization that touch that proposal's keys only (a
    /// filing: its record, its index entries and this organization's key
    /// for its target; a vote or a signature: its own key, the record and
    /// the votes it reads).
    pub fn ballot(&self) -> Option<&str> {
        match self {
            Step::File { proposal_id, .. }
            | Step::Vote { proposal_id, .. }
            | Step::Sign { proposal_id, .. } => Some(proposal_id),
            _ => None,
        }
    }

    /// What the step is about (a chaincode `channel/name`, a proposal): the
    /// executor skips the later steps of a subject whose step failed.
    pub fn what(&self) -> &str {
        match self {
            Step::Join { what, .. }
            | Step::File { what, .. }
            | Step::Submit { what, .. }
            | Step::SignAndSubmit { what, .. }
            | Step::JoinOrderers { what, .. }
            | Step::Vote { what, .. }
            | Step::Sign { what, .. }
            | Step::Tally { what, .. }
            | Step::Install { what, .. }
            | Step::Approve { what, .. }
            | Step::ReportTask { what, .. }
            | Step::Commit { what, .. }
            | Step::ReportCommitted { what, .. }
            | Step::ReportFailed { what, .. } => what,
        }
    }
}

/// The steps of a pass as the executor sends them: each range is one
/// ordered round's worth of calls in flight at once. A step joins the
/// round before it when the plan marks it [`Step::together`], or when it is
/// a filing, a vote or a signature on a proposal and every step of that
/// round is one on another proposal or rides with one (their transactions
/// touch disjoint keys, so none waits for or conflicts with another: the
/// OrgAdds of several channels are filed, voted and signed in one round,
/// beside the executor's tally and submit of one of them). An install or a
/// join joins a round of installs and joins: each puts another package on a
/// peer or another channel on it, no ordered transaction, so a new member's
/// packages and channels go on at once. Everything else waits for the round
/// before it.
pub fn rounds(steps: &[Step]) -> Vec<std::ops::Range<usize>> {
    let local = |s: &Step| matches!(s, Step::Install { .. } | Step::Join { .. });
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let joins = out.last().is_some_and(|r| {
            step.together()
                || step.ballot().is_some_and(|id| {
                    steps[r.clone()].iter().all(|s| match s.ballot() {
                        Some(other) => other != id,
                        None => s.together(),
                    })
                })
                || (local(step) && steps[r.clone()].iter().all(local))
        });
        match out.last_mut() {
            Some(r) if joins => r.end = i + 1,
            _ => out.push(i..i + 1),
        }
    }
    out
}

/// Why something the spec asks for does not happen in this pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    pub what: String,
    pub why: String,
    /// Nothing will move without a person (a rejected or failed change, a
    /// package that does not compile); otherwise it waits for others.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stalled: bool,
    /// Look again within this many milliseconds: no event announces the
    /// change it waits for (the executor role passing on, a peer catching up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look_again_ms: Option<u64>,
}

/// The steps of one pass, and what is blocked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Steps {
    pub steps: Vec<Step>,
    pub blocked: Vec<Blocked>,
    /// The turn keys this organization waits on (another organization's
    /// turn to file or tally, its own approvals' hold for a replay): the
    /// agent keeps measuring how long it waited for these
    /// ([`PlanInput::waited_ms`]) and forgets the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<String>,
}

impl Steps {
    /// Whether it is `me`'s turn to take `action` (a step every
    /// organization of `orgs` would take alike) for turn key `key`; when
    /// not, records the wait and the deferral. One organization acts, so
    /// the others' identical transactions do not conflict with its own.
    fn my_turn(
        &mut self,
        input: &PlanInput,
        key: &str,
        orgs: &[String],
        me: &str,
        what: &str,
        action: &str,
    ) -> bool {
        self.my_turn_in(input, key, &turn_order(key, orgs), me, what, action)
    }

    /// [`Self::my_turn`] with the turn order given: `key` names the wait only.
    fn my_turn_in(
        &mut self,
        input: &PlanInput,
        key: &str,
        order: &[String],
        me: &str,
        what: &str,
        action: &str,
    ) -> bool {
        let waited = input.waited_ms.get(key).copied().unwrap_or(0);
        let ms = turn_wait_ms(order, me, waited, input.turn_grace_ms);
        if ms == 0 {
            return true;
        }
        let first = order
            .first()
            .map(String::as_str)
            .unwrap_or("another organization");
        self.wait_at_most(
            what,
            format!("{first} {action} first; {me} does unless it is done within {ms} ms"),
            ms,
        );
        self.deferred.push(key.to_string());
        false
    }

    /// Keeps the hold named `key` measured (a deferred key's wait goes on
    /// between passes) and returns the milliseconds left of its `max`, or
    /// `None` once it has run out.
    fn hold_left(&mut self, input: &PlanInput, key: &str, max: u64) -> Option<u64> {
        self.deferred.push(key.to_string());
        let left = max.saturating_sub(input.waited_ms.get(key).copied().unwrap_or(0));
        (left > 0).then_some(left)
    }

    fn wait(&mut self, what: &str, why: String) {
        self.blocked.push(Blocked {
            what: what.to_string(),
            why,
            stalled: false,
            look_again_ms: None,
        });
    }

    fn wait_at_most(&mut self, what: &str, why: String, ms: u64) {
        self.blocked.push(Blocked {
            what: what.to_string(),
            why,
            stalled: false,
            look_again_ms: Some(ms),
        });
    }

    /// `o`'s open detail, or a wait saying it was not read.
    fn open_of<'a>(&mut self, o: &'a ProposalSummary, what: &str) -> Option<&'a OpenDetail> {
        if o.open.is_none() {
            self.wait(
                what,
                format!("proposal {} was not read in full", short_id(&o.id)),
            );
        }
        o.open.as_ref()
    }

    /// Another organization is the executor: say who, and look again a few
    /// times per executor timeout (the next organization becomes eligible
    /// when it runs out, which no event announces).
    fn wait_for_executor(&mut self, open: &OpenDetail, what: &str, step: &str) {
        self.wait_at_most(
            what,
            format!(
                "waiting for the executor ({}) to {step}",
                open.eligible_executors.join(", ")
            ),
            (open.execution_timeout_secs.max(1) * 1000 / 4).max(1000),
        );
    }

    fn stall(&mut self, what: &str, why: String) {
        self.blocked.push(Blocked {
            what: what.to_string(),
            why,
            stalled: true,
            look_again_ms: None,
        });
    }
}

/// Whether a tally now decides a proposal: the approvals reach the quorum,
/// or so many rejected that the quorum can no longer be reached. The one
/// place this arithmetic lives.
pub fn tally_decides(
    approvals: usize,
    rejections: usize,
    quorum: usize,
    electorate: usize,
) -> bool {
    approvals >= quorum || rejections > electorate.saturating_sub(quorum)
}

/// The fewest organizations whose approvals can satisfy `a`: a lower
/// bound, the largest of its requirements' minimums (a set that meets
/// every requirement meets the strictest). `None` when a requirement cannot
/// be evaluated or met.
pub fn fewest_approvers(a: &super::Approval) -> Option<usize> {
    use super::approval::Need;
    let mut fewest = 0;
    for r in &a.requirements {
        let n = match &r.need {
            Need::Threshold { count, .. } => *count,
            Need::AnyOf { sets } => sets.iter().map(Vec::len).min()?,
            Need::Impossible { .. } | Need::Unevaluated { .. } => return None,
        };
        fewest = fewest.max(n);
    }
    Some(fewest)
}

/// Whether an organization that votes approve on a chaincode proposal may
/// approve the definition for itself in the same round, before the OpsSC
/// decides: only when no set of approvals smaller than the proposal's
/// `quorum` can satisfy the channel's `LifecycleEndorsement`
/// (`lifecycle`). Agents approve early only what their organization voted
/// approve on (its consent), so Fabric can commit the definition only once
/// at least a quorum of organizations consented — the votes that make the
/// OpsSC decide it. A governance rule that raises the quorum above what
/// Fabric needs (all members, 2f+1) makes this false: early approvals by a
/// majority would let anyone commit what the OpsSC has not decided, so the
/// agents then approve after the decision, as before.
pub fn early_approval_keeps_consent(lifecycle: &super::Approval, quorum: usize) -> bool {
    quorum > 0 && fewest_approvers(lifecycle).is_some_and(|n| n >= quorum)
}

/// How this organization votes on an open proposal that its plan contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Vote(Decision, String),
    /// A person must vote (`manual` policy, or no consent yet).
    WaitForPerson(String),
}

/// The vote on `id`, whose stored payload is `on_chain`, when this
/// organization computes `mine` (canonical form) for the same change.
pub fn verdict(input: &PlanInput, me: &str, id: &str, on_chain: &Value, mine: &Value) -> Verdict {
    if !same_change(on_chain, mine) {
        // A different change is refused whatever the policy: its reason says
        // what differs, so the proposer can see why.
        if input.vote_policy == VotePolicy::Auto || input.consented.is_some() {
            return Verdict::Vote(Decision::Reject, payload_difference(on_chain, mine));
        }
    }
    let manual = format!("waits for {me}'s manual vote (`opssc vote {id} approve|reject`)");
    match (&input.consented, input.vote_policy) {
        (Some(ids), _) if ids.contains(id) => Verdict::Vote(
            Decision::Approve,
            "recomputed from the spec: identical; consented by this organization's admin".into(),
        ),
        (Some(_), _) => Verdict::WaitForPerson(match input.consent_missing.get(id) {
            Some(what_to_do) => what_to_do.clone(),
            None => format!(
                "waits for {me}'s consent (an admin's approval in the spec repository, an auto-approve rule, or `opssc vote {id} approve|reject`)"
            ),
        }),
        (None, VotePolicy::Auto) => Verdict::Vote(
            Decision::Approve,
            "recomputed from the spec: identical".into(),
        ),
        (None, VotePolicy::Manual) => Verdict::WaitForPerson(manual),
    }
}

/// Whether two payloads carry the same change. The free-form `summary` is
/// not part of it (the contract leaves it out of the proposal ID too): a
/// copy of the agents' change filed first with another summary is the same
/// proposal, and voting it down would kill the honest change.
pub fn same_change(on_chain: &Value, mine: &Value) -> bool {
    fn without_summary(v: &Value) -> Value {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("summary");
        }
        v
    }
    without_summary(on_chain) == without_summary(mine)
}

/// The top-level fields in which two payloads differ, for a reject reason;
/// a different package comes first, named by both package IDs.
pub fn payload_difference(on_chain: &Value, mine: &Value) -> String {
    let lead = package_mismatch(on_chain, mine);
    let rest = field_differences(on_chain, mine);
    match lead {
        Some(lead) => format!("{lead}; {rest}"),
        None => rest,
    }
}

/// "the proposal installs package A, this organization builds package B
/// from <source>": a chaincode payload whose package differs from this org's.
fn package_mismatch(on_chain: &Value, mine: &Value) -> Option<String> {
    let theirs = on_chain.get("package_id")?.as_str()?;
    let ours = mine.get("package_id")?.as_str()?;
    if theirs == ours {
        return None;
    }
    let from = match mine.get("source") {
        Some(Value::Object(s)) if s.contains_key("git") => format!(
            " from {} at commit {}",
            crate::chaincode_source::redact_url(s["git"].as_str().unwrap_or("?")),
            s.get("commit").and_then(Value::as_str).unwrap_or("?")
        ),
        _ => String::new(),
    };
    Some(format!(
        "package mismatch: the proposal installs {theirs}, this organization builds {ours}{from}"
    ))
}

fn field_differences(on_chain: &Value, mine: &Value) -> String {
    let mut keys: Vec<&String> = Vec::new();
    if let (Some(a), Some(b)) = (on_chain.as_object(), mine.as_object()) {
        keys.extend(a.keys().chain(b.keys()).filter(|k| *k != "summary"));
    }
    keys.sort();
    keys.dedup();
    let diffs: Vec<String> = keys
        .into_iter()
        .filter(|k| on_chain.get(*k) != mine.get(*k))
        .map(|k| {
            format!(
                "{k}: proposed {}, this organization computes {}",
                on_chain.get(k).unwrap_or(&Value::Null),
                mine.get(k).unwrap_or(&Value::Null)
            )
        })
        .collect();
    if diffs.is_empty() {
        "the payload differs".to_string()
    } else {
        diffs.join("; ")
    }
}

/// The steps of `plan` (planned for `plan.me` from `observed`) for the
/// chaincode path: file, vote, tally, install, approve, report, commit.
pub fn steps(spec: &Spec, observed: &Observed, plan: &Plan, input: &PlanInput) -> Steps {
    let mut out = Steps::default();
    let me = plan.me.as_str();
    if me != observed.observed_by {
        return out;
    }
    if spec
        .organizations
        .get(me)
        .is_some_and(|o| o.role == opssc_schema::spec::OrgRole::Orderer)
    {
        for p in plan
            .proposals
            .iter()
            .filter(|p| p.kind.carries_config_update())
        {
            outside_signer_steps(observed, me, input, p, &mut out);
        }
        for p in plan
            .proposals
            .iter()
            .filter(|p| p.kind == Kind::ChannelCreate)
        {
            orderer_create_steps(observed, plan, input, p, &mut out);
        }
        return out;
    }
    for p in plan
        .proposals
        .iter()
        .filter(|p| p.kind.carries_config_update())
    {
        config_steps(spec, observed, plan, me, input, p, &mut out);
    }
    for p in plan
        .proposals
        .iter()
        .filter(|p| p.kind == Kind::GovernanceChange)
    {
        governance_steps(observed, plan, me, input, p, &mut out);
    }
    for p in plan
        .proposals
        .iter()
        .filter(|p| p.kind == Kind::ChannelCreate)
    {
        channel_create_steps(spec, observed, plan, me, input, p, &mut out);
    }
    joins(spec, observed, me, input, &mut out);
    opssc_catch_up(spec, observed, input, &mut out);
    // Approvals of committed definitions (a new member catching up): sent
    // together after the loop, one ordered round for all of them.
    let mut catch_up: Vec<Step> = Vec::new();
    for ((channel, name), cc) in &spec.chaincodes {
        if !spec.channels[channel].members.iter().any(|m| m == me) {
            continue;
        }
        let Some(package_id) = observed.packages.get(&cc.label) else {
            continue;
        };
        let what = format!("{channel}/{name}");
        // Chaincodes are read from this org's own peer: only on channels it
        // has joined. Before that (a new member waiting to be added, a
        // channel being created) its package goes on the own peers already:
        // installing touches no channel, and once joined only the approval
        // is left.
        if !observed.channels.contains_key(channel) {
            installs(observed, cc, package_id, None, &what, &mut out);
            continue;
        }
        let proposal = plan.proposals.iter().find(|p| {
            p.kind.is_chaincode()
                && p.target.channel == *channel
                && p.target.chaincode.as_deref() == Some(name.as_str())
        });
        match proposal {
            Some(p) => {
                if input.caught_up.get(channel) == Some(&false) {
                    out.wait_at_most(
                        &what,
                        format!("channel {channel}: the own peer is catching up with the orderer"),
                        1000,
                    );
                    continue;
                }
                chaincode_change(
                    spec, observed, me, input, cc, package_id, p, &what, &mut out,
                );
            }
            None => catch_up.extend(heal(observed, cc, package_id, &what, &mut out)),
        }
    }
    hold_for_replays(spec, observed, me, input, &mut catch_up, &mut out);
    hold_ops_join(spec, observed, me, input, &catch_up, &mut out);
    // Each approves another chaincode: other keys, no dependency. They also
    // ride with joins right before them: an approval is planned only on a
    // channel the own peer serves, so those joins are of other channels.
    let after_joins = matches!(out.steps.last(), Some(Step::Join { .. }));
    for (i, mut step) in catch_up.into_iter().enumerate() {
        if let Step::Approve { together, .. } = &mut step {
            *together = i > 0 || after_joins;
        }
        out.steps.push(step);
    }
    finish_committed(observed, me, input, &mut out);
    unplanned(spec, observed, plan, me, input, &mut out);
    out
}

/// How long (ms) a new member's approvals on the channels its peer serves
/// wait for another channel it joined to be replayed (`hold_for_replays`).
pub const APPROVALS_HOLD_MS: u64 = 1_000;

/// The turn key of [`hold_for_replays`] in [`PlanInput::waited_ms`].
const APPROVALS_HOLD_KEY: &str = "approvals:replay";

/// A new member's peer replays the channels it joined, each at its own
/// pace. An approval round waits for its transactions to commit, so a
/// channel served just after the first one's approvals were sent would be
/// approved a round later: the approvals of committed definitions wait
/// (at most [`APPROVALS_HOLD_MS`], measured between passes) for the other
/// application channels with chaincodes of this organization that its
/// peer has joined but does not serve yet, and then go in one round. Not
/// for the ops channel: its replay is the longest, and the OpsSC's
/// approval is on no change's path.
fn hold_for_replays(
    spec: &Spec,
    observed: &Observed,
    me: &str,
    input: &PlanInput,
    catch_up: &mut Vec<Step>,
    out: &mut Steps,
) {
    let approving = catch_up.iter().any(|s| matches!(s, Step::Approve { .. }));
    // The wait is measured from the first pass with approvals to send and
    // kept while a channel replays, also after it ran out and in passes
    // with nothing to approve, so that a later pass does not hold again.
    let measuring = input.waited_ms.contains_key(APPROVALS_HOLD_KEY);
    if !approving && !measuring {
        return;
    }
    let waiting_for: Vec<&str> = own_chaincode_channels(spec, me)
        .filter(|name| replaying(observed, name))
        .collect();
    if waiting_for.is_empty() {
        return;
    }
    let Some(left) = out.hold_left(input, APPROVALS_HOLD_KEY, APPROVALS_HOLD_MS) else {
        return;
    };
    if !approving {
        return;
    }
    catch_up.retain(|s| !matches!(s, Step::Approve { .. }));
    out.wait_at_most(
        "approvals",
        format!(
            "sent with those of channel {} once the own peer serves it (at most {left} ms more)",
            waiting_for.join(", "),
        ),
        250,
    );
}

/// How long (ms) a new member's join of the ops channel waits for its
/// approvals on the application channels ([`hold_ops_join`]).
pub const OPS_JOIN_HOLD_MS: u64 = 5_000;

/// The turn key of [`hold_ops_join`] in [`PlanInput::waited_ms`].
const OPS_JOIN_HOLD_KEY: &str = "join:ops";

/// A new member's peer replays every channel it joined on the same cores,
/// and the ops channel's replay is the heaviest (every vote of its history,
/// each endorsed by a majority's peers) while on no chaincode's path.
/// Joined beside the application channels' approvals, it delayed them by
/// seconds at ten organizations (docs/BENCHMARKS.md, fourteenth session).
/// So the ops channel is joined once this organization's approvals are
/// sent: not while `approvals` (this pass's) are on an application
/// channel, or such a channel with chaincodes of this organization is not
/// served yet; at most [`OPS_JOIN_HOLD_MS`] after the hold began.
fn hold_ops_join(
    spec: &Spec,
    observed: &Observed,
    me: &str,
    input: &PlanInput,
    approvals: &[Step],
    out: &mut Steps,
) {
    let ops = &spec.consortium.ops_channel;
    let joins_ops = |s: &Step| matches!(s, Step::Join { channel, .. } if channel == ops);
    if !out.steps.iter().any(joins_ops) {
        return;
    }
    let approving = approvals
        .iter()
        .any(|s| matches!(s, Step::Approve { channel, .. } if channel != ops));
    let unserved: Vec<&str> = own_chaincode_channels(spec, me)
        .filter(|name| !observed.channels.contains_key(*name))
        .collect();
    if !approving && unserved.is_empty() {
        return;
    }
    let Some(left) = out.hold_left(input, OPS_JOIN_HOLD_KEY, OPS_JOIN_HOLD_MS) else {
        return;
    };
    out.steps.retain(|s| !joins_ops(s));
    let on = if approving {
        "the approvals of this pass are in".to_string()
    } else {
        format!("channel {} is served and approved", unserved.join(", "))
    };
    out.wait_at_most(
        &format!("channel {ops}"),
        format!("joined once {on}: its replay would slow them (at most {left} ms more)"),
        250,
    );
}

/// The application channels that list `me` and carry chaincodes of the
/// spec: where a new member's approvals go.
fn own_chaincode_channels<'a>(spec: &'a Spec, me: &'a str) -> impl Iterator<Item = &'a str> {
    spec.channels
        .iter()
        .filter(move |(name, ch)| {
            **name != spec.consortium.ops_channel
                && ch.members.iter().any(|m| m == me)
                && spec.chaincodes.keys().any(|(c, _)| c == *name)
        })
        .map(|(name, _)| name.as_str())
}

/// Whether an own peer joined `channel` but it does not serve it to this
/// organization yet: its ledger is replaying the channel up to the config
/// that admits it.
fn replaying(observed: &Observed, channel: &str) -> bool {
    !observed.channels.contains_key(channel)
        && observed
            .local
            .peers
            .values()
            .any(|p| p.joined_channels.iter().any(|c| c == channel))
}

fn describe_planned(p: &PlannedProposal) -> String {
    match &p.org {
        Some(org) => format!("{} {org} on channel {}", p.kind, p.target.channel),
        None => format!("{} of channel {}", p.kind, p.target.channel),
    }
}

/// A risk of `p` that must be resolved by another change before `p` may be
/// filed: a removed organization that is still a sole endorser, or an admin
/// lockout.
pub fn blocking_risk<'a>(plan: &'a Plan, p: &PlannedProposal) -> Option<&'a super::Risk> {
    p.changes
        .iter()
        .flat_map(|&i| plan.shared[i].risks.iter())
        .find(|r| {
            matches!(
                r.kind,
                super::RiskKind::SoleEndorser | super::RiskKind::AdminLockout
            )
        })
}

/// One planned config proposal (`ChannelUpdate`, `OrgAdd`, `OrgRemove`) on a
/// channel this organization is a member of: file it with the base config
/// sequence; vote on it; once approved, sign it if this organization
/// approved it (see [`sign_steps`]); another org's
/// undecided proposal for the same change at the same base with other bytes
/// gets a reject naming the difference; once approved, as an eligible
/// executor, submit it when the approvals' signatures satisfy what the
/// orderer checks — never against another base than its own (then it is
/// recorded failed as stale, and the next pass files a fresh one).
#[allow(clippy::too_many_arguments)]
fn config_steps(
    spec: &Spec,
    observed: &Observed,
    plan: &Plan,
    me: &str,
    input: &PlanInput,
    p: &PlannedProposal,
    out: &mut Steps,
) {
    let channel = &p.target.channel;
    let what = describe_planned(p);
    // Only the channel's current members vote on its config.
    let Some(obs) = observed.channels.get(channel) else {
        return;
    };
    let joined = observed
        .local
        .peers
        .values()
        .any(|l| l.joined_channels.iter().any(|c| c == channel));
    if !obs.members.contains_key(me) || !joined {
        return;
    }
    let ops_channel = &spec.consortium.ops_channel;
    // A new member joins an application channel only once it is a member
    // of the ops channel (where it votes from then on): the OrgAdds of
    // every channel it joins are filed, voted and signed together, and an
    // application channel's update is submitted once the ops channel's
    // config lists it (the contract records it committed only then).
    let after_ops = match (p.kind, &p.org) {
        (Kind::OrgAdd, Some(org))
            if channel != ops_channel
                && !observed
                    .channels
                    .get(ops_channel)
                    .is_some_and(|c| c.members.contains_key(org)) =>
        {
            Some(format!(
                "submits the update once {org} is a member of the ops channel {ops_channel}"
            ))
        }
        _ => None,
    };
    // Removing a member is two-phase: what still needs it (a chaincode it
    // must endorse, an admin policy only it can satisfy) changes first.
    if let Some(risk) = blocking_risk(plan, p) {
        return out.stall(&what, format!("not filed yet: {}", risk.message));
    }
    if let Some(pre) = p
        .changes
        .iter()
        .flat_map(|&i| &plan.shared[i].requires)
        .find(|r| matches!(r, super::Precondition::OrgCertificates { .. }))
    {
        return out.wait(&what, format!("waits until {pre}"));
    }
    // An organization that only votes has nothing to do until another
    // member files this change.
    let on_chain = observed.proposals.iter().any(|o| {
        o.kind == p.kind
            && o.target == p.target
            && matches!(o.state, ProposalState::Proposed | ProposalState::Approved)
    });
    if input.vote_only && !on_chain {
        return;
    }
    let Some(cu) = input.config_updates.get(&p.intent_id) else {
        return out.wait(
            &what,
            "the update is computed from the channel's config block in the agent's pass".into(),
        );
    };
    {
        use base64::Engine as _;
        if let Err(e) = base64::engine::general_purpose::STANDARD.decode(&cu.config_update) {
            return out.stall(&what, format!("the computed update is not base64: {e}"));
        }
    }
    let (round, id) =
        match super::proposal::filing_round(p.kind, &p.target, &cu.payload, &observed.proposals) {
            Ok(r) => r,
            Err(e) => {
                return out.stall(
                    &what,
                    format!("this organization's own payload is invalid: {e}"),
                );
            }
        };
    if let Some(mine) = observed.proposals.iter().find(|o| o.id == id) {
        return match mine.state {
            ProposalState::Proposed
                if executor_once_tallied(mine).is_some()
                    && mine
                        .open
                        .as_ref()
                        .is_some_and(|open| same_change(&open.payload, &cu.canonical)) =>
            {
                let beside = *channel != spec.consortium.ops_channel;
                decided_config_steps(me, input, mine, cu, beside, &what, out)
            }
            ProposalState::Proposed => {
                vote_steps(me, input, mine, &cu.canonical, &what, out)
            }
            ProposalState::Approved => {
                sign_steps(me, mine, cu, Vec::new(), &what, out);
                match after_ops {
                    Some(why) => out.wait(&what, why),
                    None => submit_steps(observed, me, mine, cu, &what, out),
                }
            }
            ProposalState::Rejected => out.stall(
                &what,
                format!(
                    "proposal {} for exactly this update was rejected; commit a spec that changes it",
                    short_id(&id)
                ),
            ),
            ProposalState::Failed => out.stall(
                &what,
                format!(
                    "proposal {} failed; fix the cause, then `opssc retry {id}`",
                    short_id(&id)
                ),
            ),
            other => out.wait(&what, format!("proposal {} is {other}", short_id(&id))),
        };
    }
    // Another organization's undecided proposal for the same change, against
    // the same config: answer it (a reject with the difference) rather than
    // replace it, so two orgs that disagree do not supersede each other forever.
    if let Some(other) = observed.proposals.iter().find(|o| {
        o.kind == p.kind
            && o.target == p.target
            && o.state == ProposalState::Proposed
            && (p.org.is_none() || o.org == p.org)
            && o.base_config_sequence == Some(cu.base_sequence)
    }) {
        return vote_steps(me, input, other, &cu.canonical, &what, out);
    }
    if input.vote_only {
        return out.wait(
            &what,
            "this organization only votes on channel changes (channelChanges: voteOnly); the proposal on the chain is not the update it computes".into(),
        );
    }
    // Every current member computes the same update: one files it (a
    // member that only votes is passed over after its grace).
    let members: Vec<String> = obs
        .members
        .keys()
        .filter(|m| p.org.as_ref() != Some(*m))
        .cloned()
        .collect();
    // The turn to file a member's addition (or removal) is the same on
    // every channel it concerns: one member files them all, in one
    // `ballots` transaction, so they are in one block and the others vote
    // on all of them in one pass.
    let turn = match (p.kind, &p.org) {
        (Kind::OrgAdd | Kind::OrgRemove, Some(org)) => format!("file:{}:{org}", p.kind),
        _ => id.clone(),
    };
    if !out.my_turn(input, &turn, &members, me, &what, "files it") {
        return;
    }
    out.steps.push(Step::File {
        what,
        kind: p.kind,
        target: p.target.clone(),
        payload: cu.payload.clone(),
        round,
        proposal_id: id,
        committed_chaincode_sequence: None,
        base_config_sequence: Some(cu.base_sequence),
    });
}

/// Config proposal `o`, not tallied yet, whose recorded approvals reach the
/// quorum and whose stored update is the one this organization computes
/// (`cu`): decided in effect (nothing can end it other than approved), so
/// its approvers sign now, naming those approvals, and nobody writes its
/// record in that round (a tally would invalidate the signatures, which
/// read it). The organization the tally makes the first executor then
/// tallies and submits the update in one round, once the signatures
/// satisfy what the orderer checks — the application channels' OrgAdds
/// too, without waiting for the ops channel's (the contract records them
/// committed only after it). The report follows on the approved proposal.
/// A silent executor-to-be is replaced by a tally of the next approver
/// after its turn's grace; the steps of an approved proposal follow.
///
/// Not `beside` (an update of the ops channel itself): the tally goes
/// first and the update after it. The OpsSC's transactions are validated
/// against the ops channel's config when they commit, so a tally endorsed
/// before an update that changes the channel's members would be refused
/// by the new majority.
fn decided_config_steps(
    me: &str,
    input: &PlanInput,
    o: &ProposalSummary,
    cu: &ConfigUpdateInput,
    beside: bool,
    what: &str,
    out: &mut Steps,
) {
    let Some(open) = out.open_of(o, what) else {
        return;
    };
    let approvers = agreeing(o, Decision::Approve);
    if !o.votes.contains_key(me) {
        // A late vote names no other vote, so it decides nothing and does
        // not write the record the signers read.
        match verdict(input, me, &o.id, &open.payload, &cu.canonical) {
            Verdict::Vote(decision, reason) => out.steps.push(Step::Vote {
                what: what.to_string(),
                proposal_id: o.id.clone(),
                decision,
                reason,
                counted: Vec::new(),
                decides: false,
            }),
            Verdict::WaitForPerson(why) => {
                out.wait(what, format!("proposal {} {why}", short_id(&o.id)))
            }
        }
        return;
    }
    // An update the voters cannot sign enough of (orderer settings: the
    // orderer organization signs and submits) is tallied first, as any
    // approved proposal: the members' signatures are not what it needs.
    let outside = matches!(cu.submit, Some(SubmitCheck::OutsideElectorate { .. }));
    if !outside {
        sign_steps(me, o, cu, approvers.clone(), what, out);
    }
    if !approvers.iter().any(|a| a == me) {
        return;
    }
    let order = turn_order(&o.id, &approvers);
    let key = format!("tally:{}", o.id);
    if order.first().map(String::as_str) != Some(me) {
        // The executor-to-be tallies beside its submit, once the signatures
        // satisfy the orderer; the others only when it stays silent after
        // that. Their grace starts then, not at the decision: on a busy
        // machine the signatures' round outlasts a grace, and a second
        // tally in the executor's block is a read conflict.
        if let Some(SubmitCheck::Unsigned { signed, policies }) = &cu.submit {
            return out.wait(what, unsigned_yet(signed, policies));
        }
        if out.my_turn_in(input, &key, &order, me, what, "tallies it") {
            out.steps.push(Step::Tally {
                what: what.to_string(),
                proposal_id: o.id.clone(),
                counted: approvers,
                together: false,
            });
        }
        return;
    }
    match &cu.submit {
        Some(SubmitCheck::Ready { signatures }) => {
            // With the tallies and beside-submits of other proposals: one
            // round (never with a submit of the ops channel's own update,
            // which is planned unmarked, on the approved proposal).
            let together = out.steps.last().is_some_and(|s| {
                matches!(s, Step::Submit { together: true, .. } | Step::Tally { .. })
            });
            out.steps.push(Step::Tally {
                what: what.to_string(),
                proposal_id: o.id.clone(),
                counted: approvers,
                together,
            });
            // The ops channel's own update: submitted on the approved
            // proposal, in the next pass.
            if beside {
                out.steps.push(Step::Submit {
                    what: what.to_string(),
                    proposal_id: o.id.clone(),
                    channel: o.target.channel.clone(),
                    config_update: cu.config_update.clone(),
                    signatures: signatures.clone(),
                    together: true,
                });
            }
        }
        // Anything else (signatures missing, a signer outside the
        // electorate) is settled on the approved proposal: tally first.
        Some(SubmitCheck::Unsigned { signed, policies }) => {
            out.wait(what, unsigned_yet(signed, policies))
        }
        _ => out.steps.push(Step::Tally {
            what: what.to_string(),
            proposal_id: o.id.clone(),
            counted: approvers,
            together: false,
        }),
    }
}

/// Why an update waits for more signatures.
fn unsigned_yet(signed: &[String], policies: &[String]) -> String {
    format!(
        "signatures of {} do not satisfy {} yet",
        if signed.is_empty() {
            "nobody".to_string()
        } else {
            signed.join(", ")
        },
        policies.join(", ")
    )
}

/// The planned GovernanceChange `p`, for a member of the ops channel:
/// file it (one member, by turn order), vote on it and tally it. The
/// contract applies it when the deciding tally commits it: there is no
/// shared step to execute. Another member's undecided GovernanceChange
/// gets this organization's vote (a reject naming the difference when it
/// asks for other settings) rather than a competing proposal. A member that
/// only votes (`channelChanges: voteOnly`) files nothing.
fn governance_steps(
    observed: &Observed,
    plan: &Plan,
    me: &str,
    input: &PlanInput,
    p: &PlannedProposal,
    out: &mut Steps,
) {
    let what = format!("{} of the OpsSC", p.kind);
    let Some(obs) = observed.channels.get(&p.target.channel) else {
        return;
    };
    if !obs.members.contains_key(me) {
        return;
    }
    let Some(super::Change::GovernanceChanged {
        differences, after, ..
    }) = p.changes.first().map(|&i| &plan.shared[i].change)
    else {
        return;
    };
    let payload = serde_json::to_value(opssc_chaincode::api::GovernancePayload {
        governance: *after,
        summary: Some(serde_json::json!({ "differences": differences })),
    })
    .expect("a governance payload serializes");
    let (canonical, (round, id)) = match opssc_chaincode::api::normalize_payload(p.kind, &payload)
        .and_then(|(_, c)| {
            super::proposal::filing_round(p.kind, &p.target, &payload, &observed.proposals)
                .map(|r| (c, r))
        }) {
        Ok(r) => r,
        Err(e) => {
            return out.stall(
                &what,
                format!("the spec's Governance gives settings the OpsSC refuses: {e}"),
            );
        }
    };
    if let Some(mine) = observed.proposals.iter().find(|o| o.id == id) {
        return match mine.state {
            ProposalState::Proposed => vote_steps(me, input, mine, &canonical, &what, out),
            ProposalState::Rejected => out.stall(
                &what,
                format!(
                    "proposal {} for exactly these settings was rejected; commit a spec that changes them",
                    short_id(&id)
                ),
            ),
            other => out.wait(&what, format!("proposal {} is {other}", short_id(&id))),
        };
    }
    let other = observed
        .proposals
        .iter()
        .find(|o| o.kind == p.kind && o.state == ProposalState::Proposed);
    let members: Vec<String> = obs.members.keys().cloned().collect();
    vote_or_file(
        me,
        input,
        other,
        &members,
        p,
        Filing {
            payload,
            canonical,
            round,
            id,
        },
        what,
        out,
    );
}

/// A change this plan calls for, with the payload, canonical form, round
/// and contract ID it is filed with.
struct Filing {
    payload: Value,
    canonical: Value,
    round: u32,
    id: String,
}

/// A change of the ops channel's members that no proposal of exactly this
/// payload files yet (a GovernanceChange, a ChannelCreate): vote on
/// `other`, another member's open filing of the same change (a reject when
/// its payload differs), or file it in turn among `members`. Like a channel
/// change, an organization that leaves proposing to others
/// (`input.vote_only`) is passed over in the turn order after its grace.
#[allow(clippy::too_many_arguments)]
fn vote_or_file(
    me: &str,
    input: &PlanInput,
    other: Option<&ProposalSummary>,
    members: &[String],
    p: &PlannedProposal,
    filing: Filing,
    what: String,
    out: &mut Steps,
) {
    if let Some(other) = other {
        return vote_steps(me, input, other, &filing.canonical, &what, out);
    }
    if input.vote_only || !out.my_turn(input, &filing.id, members, me, &what, "files it") {
        return;
    }
    out.steps.push(Step::File {
        what,
        kind: p.kind,
        target: p.target.clone(),
        payload: filing.payload,
        round: filing.round,
        proposal_id: filing.id,
        committed_chaincode_sequence: None,
        base_config_sequence: None,
    });
}

/// The ChannelCreate payload every organization computes from the plan:
/// the new channel's members and the rules its genesis block gives its
/// Admins and LifecycleEndorsement policies (what the registry records), the
/// canonical form and the contract's (round, ID) for it. `Err` names why the
/// OpsSC would refuse it.
fn channel_create_filing(
    observed: &Observed,
    plan: &Plan,
    p: &PlannedProposal,
) -> Option<Result<(Value, Value, u32, String), String>> {
    let Some(super::Change::ChannelCreate {
        members, policies, ..
    }) = p.changes.first().map(|&i| &plan.shared[i].change)
    else {
        return None;
    };
    let payload = serde_json::to_value(opssc_chaincode::api::ChannelCreatePayload {
        members: members.clone(),
        policies: super::quorum::registry_policies(policies),
        genesis_block: None,
        summary: None,
    })
    .expect("a ChannelCreate payload serializes");
    Some(
        opssc_chaincode::api::normalize_payload(p.kind, &payload)
            .and_then(|(_, canonical)| {
                super::proposal::filing_round(p.kind, &p.target, &payload, &observed.proposals)
                    .map(|(round, id)| (payload.clone(), canonical, round, id))
            })
            .map_err(|e| e.to_string()),
    )
}

/// A channel of the spec that does not exist yet, for a member of the ops
/// channel (whose members decide a new channel, not the members it names):
/// file the ChannelCreate in turn, vote on it, and once it is approved wait
/// for the orderer organization to join its orderers; the new channel's
/// members' peers then join it ([`joins`]) and the first eligible executor
/// that sees it reports the creation committed, which registers the channel
/// with its members and rules.
fn channel_create_steps(
    spec: &Spec,
    observed: &Observed,
    plan: &Plan,
    me: &str,
    input: &PlanInput,
    p: &PlannedProposal,
    out: &mut Steps,
) {
    let channel = &p.target.channel;
    let what = format!("create channel {channel}");
    let Some(ops) = observed.channels.get(&spec.consortium.ops_channel) else {
        return;
    };
    if !ops.members.contains_key(me) {
        return;
    }
    if let Some(risk) = blocking_risk(plan, p) {
        return out.stall(&what, format!("not filed: {}", risk.message));
    }
    if let Some(pre) = p
        .changes
        .iter()
        .flat_map(|&i| &plan.shared[i].requires)
        .find(|r| matches!(r, super::Precondition::OrgCertificates { .. }))
    {
        return out.wait(&what, format!("waits until {pre}"));
    }
    let (payload, canonical, round, id) = match channel_create_filing(observed, plan, p) {
        None => return,
        Some(Ok(filing)) => filing,
        Some(Err(e)) => {
            return out.stall(&what, format!("the OpsSC would refuse this channel: {e}"));
        }
    };
    if let Some(mine) = observed.proposals.iter().find(|o| o.id == id) {
        return match mine.state {
            ProposalState::Proposed => vote_steps(me, input, mine, &canonical, &what, out),
            ProposalState::Approved => created_steps(observed, me, input, mine, &what, out),
            // Created. A member of the ops channel that is not one of the
            // new channel's never sees it, so its plan still calls for it:
            // nothing is left to do.
            ProposalState::Committed => {}
            ProposalState::Rejected => out.stall(
                &what,
                format!(
                    "proposal {} to create it was rejected; commit a spec that changes it",
                    short_id(&id)
                ),
            ),
            other => out.wait(&what, format!("proposal {} is {other}", short_id(&id))),
        };
    }
    let other = observed
        .proposals
        .iter()
        .find(|o| o.kind == p.kind && o.target == p.target && o.state == ProposalState::Proposed);
    let members: Vec<String> = ops.members.keys().cloned().collect();
    vote_or_file(
        me,
        input,
        other,
        &members,
        p,
        Filing {
            payload,
            canonical,
            round,
            id,
        },
        what,
        out,
    );
}

/// An approved ChannelCreate, for a member of the ops channel: once the
/// orderer serves the channel (this organization's peer joined it, or the
/// orderer admits it), an eligible executor reports it committed.
fn created_steps(
    observed: &Observed,
    me: &str,
    input: &PlanInput,
    o: &ProposalSummary,
    what: &str,
    out: &mut Steps,
) {
    let Some(open) = out.open_of(o, what) else {
        return;
    };
    let channel = &o.target.channel;
    let exists = observed.channels.contains_key(channel)
        || matches!(
            input.admission.get(channel),
            Some(Admission::Listed | Admission::NotListed { .. })
        );
    if !exists {
        return out.wait(
            what,
            format!(
                "proposal {} is approved; the orderer organization's agent joins its orderers to {channel}",
                short_id(&o.id)
            ),
        );
    }
    if !open.eligible_executors.iter().any(|e| e == me) {
        return out.wait_for_executor(open, what, "report the creation");
    }
    out.steps.push(Step::ReportCommitted {
        what: what.to_string(),
        proposal_id: o.id.clone(),
        detail: format!("the orderer serves channel {channel}"),
    });
}

/// The orderer organization's part in a new channel: once the members
/// approved the ChannelCreate it computes itself from its spec, and it
/// consented to it, it joins its orderers to the channel (the genesis block
/// every organization computes alike from the spec).
fn orderer_create_steps(
    observed: &Observed,
    plan: &Plan,
    input: &PlanInput,
    p: &PlannedProposal,
    out: &mut Steps,
) {
    let channel = &p.target.channel;
    let what = format!("create channel {channel}");
    if observed.channels.contains_key(channel) {
        return;
    }
    let Some(Ok((_, _, _, id))) = channel_create_filing(observed, plan, p) else {
        return;
    };
    let Some(o) = observed
        .proposals
        .iter()
        .find(|o| o.id == id && o.state == ProposalState::Approved)
    else {
        return;
    };
    let consented = input
        .consented
        .as_ref()
        .is_some_and(|ids| ids.contains(&p.intent_id) || ids.contains(&o.id));
    if !consented {
        let why = input
            .consent_missing
            .get(&p.intent_id)
            .cloned()
            .unwrap_or_else(|| format!("{} has not consented to this channel", plan.me));
        return out.wait(&what, why);
    }
    out.steps.push(Step::JoinOrderers {
        what,
        proposal_id: o.id.clone(),
        channel: channel.clone(),
    });
}

/// This organization's signature over approved config proposal `o`: given
/// once it voted approve (the agent or a person with `opssc vote`), it has
/// not signed yet, and the stored update is byte for byte the one it
/// computed (`cu`). Signatures exist only after the decision, so nobody can
/// submit an update the OpsSC did not approve.
fn sign_steps(
    me: &str,
    o: &ProposalSummary,
    cu: &ConfigUpdateInput,
    counted: Vec<String>,
    what: &str,
    out: &mut Steps,
) {
    if o.votes.get(me) != Some(&Decision::Approve) {
        return;
    }
    let Some(open) = out.open_of(o, what) else {
        return;
    };
    if open.config_signatures.contains_key(me) {
        return;
    }
    if open.payload["config_update"].as_str() != Some(cu.config_update.as_str()) {
        return out.stall(
            what,
            format!(
                "proposal {} is approved, but its stored update is not the one this organization computes from its spec and the channel's config: not signed",
                short_id(&o.id)
            ),
        );
    }
    out.steps.push(Step::Sign {
        what: what.to_string(),
        proposal_id: o.id.clone(),
        config_update: cu.config_update.clone(),
        counted,
    });
}

/// The executor's steps for approved config proposal `o`.
fn submit_steps(
    observed: &Observed,
    me: &str,
    o: &ProposalSummary,
    cu: &ConfigUpdateInput,
    what: &str,
    out: &mut Steps,
) {
    let id = o.id.as_str();
    let Some(open) = out.open_of(o, what) else {
        return;
    };
    if !open.eligible_executors.iter().any(|e| e == me) {
        return out.wait_for_executor(open, what, "submit the update");
    }
    let channel = &o.target.channel;
    let now = observed.channels.get(channel).map(|c| c.config_sequence);
    if o.base_config_sequence != now {
        out.steps.push(Step::ReportFailed {
            what: what.to_string(),
            proposal_id: id.to_string(),
            error: format!(
                "stale: the update was computed against config sequence {} and channel {channel} is at {}; a new proposal is computed from the current config",
                o.base_config_sequence.map_or("?".into(), |b| b.to_string()),
                now.map_or("?".into(), |b| b.to_string())
            ),
        });
        return;
    }
    match &cu.submit {
        None => out.wait(what, "the signatures were not checked".into()),
        Some(SubmitCheck::OutsideElectorate { outside, policies })
            if observed
                .channels
                .get(channel)
                .is_some_and(|c| outside.iter().all(|o| c.orderer_orgs.contains(o))) =>
        {
            out.wait(
                what,
                format!(
                    "the orderer will check {}, which needs a signature of {}: it votes on no proposal, and its agent adds its signature to the members' and submits the update once it consents (the approved bytes are the payload of proposal {id})",
                    policies.join(", "),
                    outside.join(", "),
                ),
            )
        }
        Some(SubmitCheck::OutsideElectorate { outside, policies }) => out.stall(
            what,
            format!(
                "the orderer will check {}, which needs a signature of {} — not a voter on the OpsSC, so opssc cannot collect it: an admin of {} must sign and submit this update (the approved bytes are the payload of proposal {id}), or change the spec back",
                policies.join(", "),
                outside.join(", "),
                outside.join(", ")
            ),
        ),
        // Only an organization outside the electorate is asked to sign and
        // submit; the executor is a voter.
        Some(SubmitCheck::SignAndSubmit { .. }) => {}
        Some(SubmitCheck::Unsigned { signed, policies }) => {
            out.wait(what, unsigned_yet(signed, policies))
        }
        Some(SubmitCheck::Ready { signatures }) => {
            out.steps.push(Step::Submit {
                what: what.to_string(),
                proposal_id: id.to_string(),
                channel: channel.clone(),
                config_update: cu.config_update.clone(),
                signatures: signatures.clone(),
                together: false,
            });
            out.steps.push(Step::ReportCommitted {
                what: what.to_string(),
                proposal_id: id.to_string(),
                detail: "the update is on the chain".into(),
            });
        }
    }
}

/// The orderer organization's part in an approved config proposal. It
/// votes on none (the OpsSC's electorates are the channels' members), but an
/// update of a channel's orderer settings (batch, consenters, orderer
/// capability) must satisfy `/Channel/Orderer/Admins`, which only its
/// admins can sign. So once the update is approved, the stored bytes are
/// exactly the ones it computes from its own spec (`input.config_updates`
/// holds a check only for such a proposal), it consented to that spec, the
/// update is still against the channel's current config, and the members'
/// signatures with its own satisfy every policy the orderer checks, it adds
/// its signature and submits. The members' executor finds the update on the
/// chain and reports the proposal committed.
fn outside_signer_steps(
    observed: &Observed,
    me: &str,
    input: &PlanInput,
    p: &PlannedProposal,
    out: &mut Steps,
) {
    let what = describe_planned(p);
    let Some(cu) = input.config_updates.get(&p.intent_id) else {
        return;
    };
    let Some(o) = observed.proposals.iter().find(|o| {
        o.kind == p.kind
            && o.target == p.target
            && o.state == ProposalState::Approved
            && o.open.as_ref().is_some_and(|d| {
                d.payload["config_update"].as_str() == Some(cu.config_update.as_str())
            })
    }) else {
        return;
    };
    let signatures = match &cu.submit {
        Some(SubmitCheck::SignAndSubmit { signatures }) => signatures,
        Some(SubmitCheck::Unsigned { signed, policies }) => {
            return out.wait(
                &what,
                format!(
                    "proposal {} is approved; the signatures of {} and {me} do not satisfy {} yet",
                    short_id(&o.id),
                    if signed.is_empty() {
                        "no member".to_string()
                    } else {
                        signed.join(", ")
                    },
                    policies.join(", ")
                ),
            );
        }
        // Its signature is not needed (or the check did not run).
        _ => return,
    };
    let consented = input
        .consented
        .as_ref()
        .is_some_and(|ids| ids.contains(&p.intent_id) || ids.contains(&o.id));
    if !consented {
        let why = input
            .consent_missing
            .get(&p.intent_id)
            .or_else(|| input.consent_missing.get(&o.id))
            .cloned()
            .unwrap_or_else(|| format!("{me} has not consented to this change"));
        return out.wait(&what, why);
    }
    let channel = &o.target.channel;
    let now = observed.channels.get(channel).map(|c| c.config_sequence);
    if o.base_config_sequence != now {
        return out.wait(
            &what,
            format!(
                "proposal {} was computed against config sequence {} and channel {channel} is at {}: its executor records it stale and a fresh one is filed",
                short_id(&o.id),
                o.base_config_sequence.map_or("?".into(), |b| b.to_string()),
                now.map_or("?".into(), |b| b.to_string())
            ),
        );
    }
    out.steps.push(Step::SignAndSubmit {
        what,
        proposal_id: o.id.clone(),
        channel: channel.clone(),
        config_update: cu.config_update.clone(),
        signatures: signatures.clone(),
    });
}

/// The new organization's side: join every own peer to each spec channel
/// whose config (as the orderer serves it) lists this organization; the
/// chaincode steps then catch up.
fn joins(spec: &Spec, observed: &Observed, me: &str, input: &PlanInput, out: &mut Steps) {
    // A new member's agent asks the orderer this often whether it was
    // added (each look is one config block per channel it waits for): its
    // peers join, and its chaincodes answer, that much sooner.
    const ADDED_POLL_MS: u64 = 500;
    for (name, ch) in &spec.channels {
        if !ch.members.iter().any(|m| m == me) {
            continue;
        }
        // No event announces the end of a replay, so look again soon.
        if replaying(observed, name) {
            out.wait_at_most(
                &format!("channel {name}"),
                "the own peer joined it and is catching up before it serves it".into(),
                250,
            );
        }
        let missing: Vec<&String> = observed
            .local
            .peers
            .iter()
            .filter(|(_, p)| !p.joined_channels.iter().any(|c| c == name))
            .map(|(peer, _)| peer)
            .collect();
        if missing.is_empty() {
            continue;
        }
        let what = format!("channel {name}");
        match input.admission.get(name) {
            None => {}
            Some(Admission::Listed) => {
                for peer in missing {
                    out.steps.push(Step::Join {
                        what: what.clone(),
                        peer: peer.clone(),
                        channel: name.clone(),
                    });
                }
            }
            // No event announces it: look again soon.
            Some(Admission::NotListed { config_sequence }) => out.wait_at_most(
                &what,
                format!(
                    "waiting to be added by its members (config sequence {config_sequence} does not list {me})"
                ),
                ADDED_POLL_MS,
            ),
            Some(Admission::Unavailable { why }) => out.wait_at_most(
                &what,
                format!("waiting to be added by its members (the orderer does not serve it to {me}: {why})"),
                ADDED_POLL_MS,
            ),
            Some(Admission::NoOrderer) => out.wait(
                &what,
                "this organization's peers have not joined it, and the agent configuration lists no orderer to fetch it from".into(),
            ),
        }
    }
}

/// The OpsSC on this organization's own peers once they joined the ops
/// channel (a member added after founding): install its package and
/// approve the committed definition, so it endorses the OpsSC itself
/// instead of relying on the other members' peers.
fn opssc_catch_up(spec: &Spec, observed: &Observed, input: &PlanInput, out: &mut Steps) {
    let Some(pkg) = &input.ops_package else {
        return;
    };
    let ops = &spec.consortium.ops_channel;
    let key = Observed::chaincode_key(ops, &pkg.name);
    let Some(committed) = observed.chaincodes.get(&key) else {
        return;
    };
    if pkg.label != format!("{}_{}", pkg.name, committed.version) {
        return;
    }
    for peer in observed.local.peers.keys() {
        if !installed(observed, peer, &pkg.package_id) {
            out.steps.push(Step::Install {
                what: key.clone(),
                peer: peer.clone(),
                label: pkg.label.clone(),
                package_id: pkg.package_id.clone(),
                report_failure_on: None,
            });
        }
    }
    let approved = observed
        .local
        .approved
        .get(&key)
        .is_some_and(|a| a.sequence >= committed.sequence);
    if !approved {
        out.steps.push(Step::Approve {
            what: key,
            channel: ops.clone(),
            chaincode: pkg.name.clone(),
            version: committed.version.clone(),
            sequence: committed.sequence,
            package_id: pkg.package_id.clone(),
            together: false,
        });
    }
}

/// Whether the plan contains a proposal for `o`'s change (same kind, target
/// and, for membership changes, organization).
pub fn planned(plan: &Plan, o: &ProposalSummary) -> bool {
    plan.proposals
        .iter()
        .any(|p| p.kind == o.kind && p.target == o.target && (p.org.is_none() || p.org == o.org))
}

/// `Kind target (proposer)` of a proposal, for people.
fn describe(o: &ProposalSummary) -> String {
    let target = match (&o.target.chaincode, &o.org) {
        (Some(cc), _) => format!("{}/{cc}", o.target.channel),
        (None, Some(org)) => format!("{org} on channel {}", o.target.channel),
        (None, None) => format!("channel {}", o.target.channel),
    };
    match o.open.as_ref() {
        Some(open) => format!("{} {target} filed by {}", o.kind, open.proposer),
        None => format!("{} {target}", o.kind),
    }
}

/// Open proposals the plan does not contain: this organization votes Reject
/// on each, with the reason, and tallies once the rejections decide it —
/// never into "approved". An approved chaincode proposal that no spec
/// change calls for is recorded failed by an eligible executor (unless its
/// definition is on the chain: then it is reported committed), so it cannot
/// block the spec's next change of the same chaincode.
fn unplanned(
    spec: &Spec,
    observed: &Observed,
    plan: &Plan,
    me: &str,
    input: &PlanInput,
    out: &mut Steps,
) {
    for o in observed.proposals.iter().filter(|o| !planned(plan, o)) {
        let what = format!("unplanned proposal {}", short_id(&o.id));
        let voters = o
            .votes
            .iter()
            .map(|(org, d)| format!("{org} {d:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        match o.state {
            // Done before its tally: a chaincode definition committed
            // beside the tally of the recorded votes that decide it
            // ([`commit_beside_tally`]), or a config update submitted beside
            // one — the spec no longer calls for it because it is done. If
            // that tally did not commit (or its executor stopped first), an
            // approver records the decision, by turn.
            ProposalState::Proposed
                if executor_once_tallied(o).is_some()
                    && ((o.kind.is_chaincode() && definition_on_chain(observed, o))
                        || (o.kind.carries_config_update()
                            && o.open.as_ref().and_then(|open| open.update_on_chain)
                                == Some(true))) =>
            {
                let approvers = agreeing(o, Decision::Approve);
                if !approvers.iter().any(|a| a == me) {
                    continue;
                }
                let key = format!("tally:{}", o.id);
                let order = turn_order(&o.id, &approvers);
                if out.my_turn_in(input, &key, &order, me, &what, "tallies it") {
                    out.steps.push(Step::Tally {
                        what,
                        proposal_id: o.id.clone(),
                        counted: approvers,
                        together: false,
                    });
                }
            }
            ProposalState::Proposed if o.electorate.iter().any(|e| e == me) => {
                let commit = o.spec_commit.as_deref().unwrap_or("");
                let seen = input.has_seen(o);
                let mut rejections = o.votes.values().filter(|d| **d == Decision::Reject).count();
                if !o.votes.contains_key(me) {
                    if !seen {
                        // Looked at again soon: a commit missing from the
                        // spec branch is judged after a short grace period.
                        out.wait_at_most(
                            &what,
                            format!(
                                "{} from spec commit {} that {me} has not seen: it is voted on once the spec source has it (or, if the branch never has it, after a grace period)",
                                describe(o),
                                short_id(commit)
                            ),
                            5_000,
                        );
                        continue;
                    }
                    rejections += 1;
                    let decides = rejections > o.electorate.len().saturating_sub(o.quorum as usize);
                    out.steps.push(Step::Vote {
                        what: what.clone(),
                        proposal_id: o.id.clone(),
                        decision: Decision::Reject,
                        counted: agreeing(o, Decision::Reject),
                        decides,
                        reason: format!(
                            "the spec at commit {} calls for no {} on channel {}{}",
                            short_id(&input.spec_commit),
                            o.kind,
                            o.target.channel,
                            o.target
                                .chaincode
                                .as_ref()
                                .map(|c| format!(" for chaincode {c}"))
                                .unwrap_or_default()
                        ),
                    });
                    if decides {
                        // This rejection decides: no tally.
                        continue;
                    }
                }
                // Tally once the rejections decide it (also on a later pass:
                // the others' votes arrive after this org's), never before: a
                // tally that decides nothing would cost an ordered round, and
                // one that approves would carry out what this plan refuses.
                let can_pass = o.electorate.len().saturating_sub(o.quorum as usize);
                if rejections > can_pass {
                    let key = format!("tally:{}", o.id);
                    let rejecters = agreeing(o, Decision::Reject);
                    if out.my_turn(input, &key, &rejecters, me, &what, "tallies it") {
                        out.steps.push(Step::Tally {
                            what,
                            proposal_id: o.id.clone(),
                            counted: rejecters,
                            together: false,
                        });
                    }
                } else {
                    out.wait(
                        &what,
                        format!(
                            "{} is not in this organization's plan; votes before this pass: {}",
                            describe(o),
                            if voters.is_empty() {
                                "none".into()
                            } else {
                                voters
                            }
                        ),
                    );
                }
            }
            // An approved config proposal that is not in this plan: either
            // its update is on the chain (an executor stopped between
            // submitting and reporting) and an eligible executor reports it
            // committed, or the channel moved on without it and the spec no
            // longer calls for it, and the executor reports it failed. Only
            // the update's own bytes in a config block count as committed: a
            // moved sequence alone would let an approved update that nobody
            // signed be reported committed after any other change, and the
            // contract would apply its registry changes.
            ProposalState::Approved if o.kind.carries_config_update() => {
                let Some(open) = &o.open else { continue };
                if !open.eligible_executors.iter().any(|e| e == me) {
                    continue;
                }
                let sequence = observed
                    .channels
                    .get(&o.target.channel)
                    .map_or(0, |c| c.config_sequence);
                // An application channel's OrgAdd is recorded committed
                // only after the ops channel's (the contract's rule): its
                // update may land first (submitted beside its tally).
                let ops = &spec.consortium.ops_channel;
                let ops_first = o.kind == Kind::OrgAdd
                    && o.target.channel != *ops
                    && observed.proposals.iter().any(|q| {
                        q.kind == Kind::OrgAdd
                            && q.target.channel == *ops
                            && q.org == o.org
                            && matches!(q.state, ProposalState::Proposed | ProposalState::Approved)
                    });
                match open.update_on_chain {
                    Some(true) if ops_first => out.wait(
                        &what,
                        format!(
                            "its update is on the chain; it is reported once the ops channel {ops}'s OrgAdd of {} is",
                            o.org.as_deref().unwrap_or("the organization")
                        ),
                    ),
                    Some(true) => out.steps.push(Step::ReportCommitted {
                        what,
                        proposal_id: o.id.clone(),
                        detail: format!(
                            "its update is on the chain (config sequence {sequence})"
                        ),
                    }),
                    Some(false) if input.has_seen(o) => out.steps.push(Step::ReportFailed {
                        what,
                        proposal_id: o.id.clone(),
                        error: format!(
                            "channel {} moved to config sequence {sequence} without its update, and the spec at commit {} does not call for {}",
                            o.target.channel,
                            short_id(&input.spec_commit),
                            describe(o)
                        ),
                    }),
                    _ => {}
                }
            }
            // A created channel's proposal whose report is missing: the
            // plan no longer calls for the creation once a peer joined it.
            ProposalState::Approved if o.kind == Kind::ChannelCreate => {
                created_steps(observed, me, input, o, &what, out)
            }
            ProposalState::Approved if o.kind.is_chaincode() => {
                let Some(open) = &o.open else { continue };
                // Its definition is on the chain: it is done, only the
                // reports are missing (this organization's tasks here, the
                // commit by its executor in finish_committed).
                if definition_on_chain(observed, o) {
                    own_task_reports(observed, me, o, &what, out);
                    continue;
                }
                let done = out.steps.iter().any(|s| {
                    matches!(s, Step::ReportCommitted { proposal_id, .. } | Step::ReportFailed { proposal_id, .. } if *proposal_id == o.id)
                });
                if done {
                    continue;
                }
                if open.eligible_executors.iter().any(|e| e == me) && input.has_seen(o) {
                    out.steps.push(Step::ReportFailed {
                        what,
                        proposal_id: o.id.clone(),
                        error: format!(
                            "{me} refuses to execute it: the spec at commit {} does not call for {}",
                            short_id(&input.spec_commit),
                            describe(o)
                        ),
                    });
                } else {
                    out.stall(
                        &what,
                        format!(
                            "approved {} (votes: {voters}) is not in this organization's plan; waiting for its executor ({}) to record the refusal",
                            describe(o),
                            open.eligible_executors.join(", ")
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

/// Whether chaincode proposal `o`'s definition (its sequence) is committed.
fn definition_on_chain(observed: &Observed, o: &ProposalSummary) -> bool {
    let Some(sequence) = o
        .open
        .as_ref()
        .and_then(|open| open.payload["sequence"].as_u64())
    else {
        return false;
    };
    o.target.chaincode.as_ref().is_some_and(|name| {
        observed
            .chaincodes
            .get(&Observed::chaincode_key(&o.target.channel, name))
            .is_some_and(|c| c.sequence >= sequence)
    })
}

fn committed_sequence(observed: &Observed, cc: &Chaincode) -> u64 {
    observed
        .chaincodes
        .get(&Observed::chaincode_key(&cc.channel, &cc.name))
        .map_or(0, |c| c.sequence)
}

/// This organization's payload for `cc` at `sequence`, in the contract's
/// canonical form.
fn my_payload(
    kind: Kind,
    cc: &Chaincode,
    sequence: u64,
    package_id: &str,
) -> Result<Value, String> {
    let payload = chaincode_payload(cc, sequence, package_id)
        .ok_or_else(|| format!("package ID {package_id} has no SHA-256"))?;
    let value = serde_json::to_value(&payload).expect("payload serializes");
    normalize_payload(kind, &value)
        .map(|(_, v)| v)
        .map_err(|e| format!("this organization's own payload is invalid: {e}"))
}

#[allow(clippy::too_many_arguments)]
fn chaincode_change(
    spec: &Spec,
    observed: &Observed,
    me: &str,
    input: &PlanInput,
    cc: &Chaincode,
    package_id: &str,
    p: &PlannedProposal,
    what: &str,
    out: &mut Steps,
) {
    let committed = committed_sequence(observed, cc);
    let sequence = committed + 1;
    let mine = match my_payload(p.kind, cc, sequence, package_id) {
        Ok(v) => v,
        Err(e) => return out.stall(what, e),
    };
    let Some(id) = p.proposal_id.clone() else {
        return out.wait(what, "the proposal ID is not known yet".into());
    };
    let Some(on_chain) = &p.on_chain else {
        let rounds = round_of(p.kind, &p.target, &mine, &observed.proposals);
        // The same change was rejected before: filing it again (next round)
        // would only ask the same question; wait for a spec that changes it.
        if let Some(rejected) = rounds.as_ref().ok().and_then(|r| r.rejected_before.clone()) {
            return out.stall(
                what,
                format!(
                    "proposal {} for this exact change was rejected; commit a spec that changes it (or `retry` is not possible for a rejection)",
                    short_id(&rejected.1)
                ),
            );
        }
        // Another organization's undecided proposal for the same chaincode
        // with a payload this org does not compute: vote on it (a reject with
        // the difference) instead of superseding it with ours, so two orgs
        // that disagree do not replace each other's proposals forever.
        if let Some(other) = observed.proposals.iter().find(|o| {
            o.kind.is_chaincode() && o.target == p.target && o.state == ProposalState::Proposed
        }) {
            return vote_steps(me, input, other, &mine, what, out);
        }
        // Every member plans the same proposal: one files it, the others
        // vote once it is on the chain.
        if !out.my_turn(
            input,
            &id,
            &spec.channels[&cc.channel].members,
            me,
            what,
            "files it",
        ) {
            return;
        }
        out.steps.push(Step::File {
            what: what.to_string(),
            kind: p.kind,
            target: p.target.clone(),
            payload: mine,
            round: p.round,
            proposal_id: id,
            committed_chaincode_sequence: Some(committed),
            base_config_sequence: None,
        });
        return;
    };
    let id = on_chain.id.clone();
    // A competing undecided proposal for the same chaincode (another
    // payload, so another ID, e.g. another organization's package): no
    // filing supersedes another organization's, so this organization answers
    // it too (a reject naming the difference), or both would wait forever.
    for other in observed.proposals.iter().filter(|o| {
        o.kind.is_chaincode()
            && o.target == p.target
            && o.state == ProposalState::Proposed
            && o.id != id
    }) {
        vote_steps(me, input, other, &mine, what, out);
    }
    let Some(summary) = observed.proposals.iter().find(|o| o.id == id) else {
        return out.wait(what, format!("proposal {} is not observed", short_id(&id)));
    };
    match on_chain.state {
        ProposalState::Proposed => {
            vote_steps(me, input, summary, &mine, what, out);
            commit_beside_tally(
                observed, me, cc, package_id, summary, &mine, sequence, what, out,
            );
            approve_with_vote(
                observed, me, cc, package_id, summary, &mine, sequence, what, out,
            );
        }
        ProposalState::Approved => execute_chaincode(
            observed, me, input, cc, package_id, summary, &mine, sequence, what, out,
        ),
        ProposalState::Failed => out.stall(
            what,
            format!(
                "proposal {} failed; fix the cause, then `opssc retry {id}`",
                short_id(&id)
            ),
        ),
        other => out.wait(what, format!("proposal {} is {other}", short_id(&id))),
    }
}

/// The organization that executes open proposal `o` once a tally of its
/// recorded approvals decides it: the first of the contract's executor
/// order over those approvals (a chaincode proposal's order; a
/// ChannelCreate puts the new channel's members first). `None` while the
/// recorded approvals do not reach the quorum.
pub fn executor_once_tallied(o: &ProposalSummary) -> Option<String> {
    let approvers = agreeing(o, Decision::Approve);
    if !tally_decides(approvers.len(), 0, o.quorum as usize, o.electorate.len()) {
        return None;
    }
    turn_order(&o.id, &approvers).into_iter().next()
}

/// Whether, after this pass's `steps`, the next transaction of everything
/// this organization acts on is another organization's: the steps only
/// vote to approve chaincode definitions (with the own lifecycle approvals
/// that ride along), and the executor-to-be of every proposal voted on
/// (the first of the contract's executor order over its electorate, as
/// when every member approves) is another organization. Not after a vote
/// on a config proposal: every approver signs its update next. The agent
/// then lets that organization's pass after the votes' block go first,
/// rather than read the same peers at the same moment as it
/// ([`YIELD_TO_EXECUTOR`]): a timing hint, nothing waits on it.
pub fn executed_by_another(me: &str, observed: &Observed, steps: &Steps) -> bool {
    let mut voted = false;
    for step in &steps.steps {
        match step {
            Step::Vote {
                proposal_id,
                decision: Decision::Approve,
                ..
            } => {
                let Some(o) = observed.proposals.iter().find(|o| &o.id == proposal_id) else {
                    return false;
                };
                if !matches!(o.kind, Kind::ChaincodeDeploy | Kind::ChaincodeUpgrade) {
                    return false;
                }
                if turn_order(&o.id, &o.electorate).first().map(String::as_str) == Some(me) {
                    return false;
                }
                voted = true;
            }
            Step::Approve { .. } => {}
            _ => return false,
        }
    }
    voted
}

/// How long an organization that voted lets the executor-to-be's pass after
/// the votes' block go first ([`executed_by_another`]): at ten
/// organizations on two cores every agent read its peer at once after that
/// block, and the executor's reads and its commit's endorsements queued
/// behind them. Longer than those (about 350 ms there): 200 ms only moved
/// the nine passes into the commit's endorsement.
pub const YIELD_TO_EXECUTOR: std::time::Duration = std::time::Duration::from_millis(500);

/// Whether `o` is decided: approved, or still proposed with recorded
/// approvals that reach the quorum — nothing can end it other than
/// approved then (the contract settles it from those votes before
/// anything else, and `withdraw` refuses it), so what follows the decision
/// (signatures, the commit, the update) may follow them.
pub fn decided(o: &ProposalSummary) -> bool {
    o.state == ProposalState::Approved
        || (o.state == ProposalState::Proposed && executor_once_tallied(o).is_some())
}

/// As the executor-to-be of chaincode proposal `o`, whose recorded votes
/// reach the quorum and which this pass tallies (the step before): commit
/// the definition in the same round as the tally instead of the round
/// after it.
///
/// Why this keeps the consent promise: votes are immutable, and once the
/// recorded approvals reach the quorum no transaction can end the proposal
/// any other way than approved — `tally`, `expire` and a superseding filing
/// all settle it from those votes first, and `withdraw` refuses it. The
/// decision is a fact of the committed votes; the tally records it. Only
/// this organization's own approval, given with its vote, and the approvals
/// others gave with theirs go into the commit, and Fabric commits only what
/// the channel's `LifecycleEndorsement` accepts. The report waits for the
/// tally's block (the contract records a commit only on an approved
/// proposal): it is the next pass's step ([`finish_committed`]).
#[allow(clippy::too_many_arguments)]
fn commit_beside_tally(
    observed: &Observed,
    me: &str,
    cc: &Chaincode,
    package_id: &str,
    o: &ProposalSummary,
    mine: &Value,
    sequence: u64,
    what: &str,
    out: &mut Steps,
) {
    let tallying = out
        .steps
        .last()
        .is_some_and(|s| matches!(s, Step::Tally { proposal_id, .. } if *proposal_id == o.id));
    let Some(open) = o.open.as_ref() else {
        return;
    };
    if !tallying
        || executor_once_tallied(o).as_deref() != Some(me)
        || !same_change(&open.payload, mine)
    {
        return;
    }
    // This organization's own approval was given with its vote.
    if !approved(observed, cc, package_id, sequence) {
        return;
    }
    if let Ok(endorsers) = commit_endorsers(observed, cc, open, me) {
        out.steps.push(Step::Commit {
            what: what.to_string(),
            proposal_id: o.id.clone(),
            channel: cc.channel.clone(),
            chaincode: cc.name.clone(),
            version: cc.version.clone(),
            sequence,
            endorsers,
            together: true,
        });
    }
}

/// The organizations whose approvals of the definition, with this
/// organization's own, satisfy the channel's `LifecycleEndorsement` (the
/// commit's endorsers); or why the commit waits.
fn commit_endorsers(
    observed: &Observed,
    cc: &Chaincode,
    open: &OpenDetail,
    me: &str,
) -> std::result::Result<Vec<String>, String> {
    let mut approvals: BTreeSet<String> = open
        .commit_readiness
        .iter()
        .filter(|(_, ok)| **ok)
        .map(|(org, _)| org.clone())
        .collect();
    approvals.insert(me.to_string());
    let Some(needed) = lifecycle(observed, &cc.channel) else {
        return Err(format!("channel {} is not observed", cc.channel));
    };
    let met = needed.satisfied_by(&approvals).unwrap_or_else(|| {
        // Too many combinations to list: the default policy's majority.
        approvals.len() >= super::approval::majority(observed.channels[&cc.channel].members.len())
    });
    if !met {
        return Err(format!(
            "executor {me} waits for approvals: {} so far ({}), {needed} needed",
            approvals.len(),
            approvals.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(approvals.into_iter().collect())
}

/// This organization's approval of its own definition in the round of its
/// approving vote on open proposal `o` (the vote planned in this pass, or
/// cast before), when that keeps the consent promise
/// ([`early_approval_keeps_consent`]); its installs follow (a local call,
/// no ordered round), so the peers have the package when the definition
/// commits. The commit itself waits for the recorded votes that decide
/// the proposal ([`commit_beside_tally`]).
#[allow(clippy::too_many_arguments)]
fn approve_with_vote(
    observed: &Observed,
    me: &str,
    cc: &Chaincode,
    package_id: &str,
    o: &ProposalSummary,
    mine: &Value,
    sequence: u64,
    what: &str,
    out: &mut Steps,
) {
    let Some(open) = o.open.as_ref() else {
        return;
    };
    let voting_now = out.steps.last().is_some_and(|s| {
        matches!(s, Step::Vote { proposal_id, decision: Decision::Approve, .. } if *proposal_id == o.id)
    });
    let voted = o.votes.get(me) == Some(&Decision::Approve);
    if !(voting_now || voted) || !same_change(&open.payload, mine) {
        return;
    }
    let Some(needed) = lifecycle(observed, &cc.channel) else {
        return;
    };
    if !early_approval_keeps_consent(&needed, o.quorum as usize) {
        return;
    }
    if !approved(observed, cc, package_id, sequence) {
        let mut step = approve_step(cc, package_id, sequence, what);
        if let Step::Approve { together, .. } = &mut step {
            *together = voting_now;
        }
        out.steps.push(step);
    }
    installs(observed, cc, package_id, None, what, out);
}

/// The vote and tally steps on open proposal `o` for this organization,
/// whose own payload for the change is `mine` (canonical form).
pub fn vote_on(
    me: &str,
    input: &PlanInput,
    o: &ProposalSummary,
    mine: &Value,
    what: &str,
) -> Steps {
    let mut out = Steps::default();
    vote_steps(me, input, o, mine, what, &mut out);
    out
}

/// Vote on `o` unless this organization did, then tally once the votes
/// (counting the one planned here) decide it.
fn vote_steps(
    me: &str,
    input: &PlanInput,
    o: &ProposalSummary,
    mine: &Value,
    what: &str,
    out: &mut Steps,
) {
    let Some(open) = out.open_of(o, what) else {
        return;
    };
    let mut approvals = o
        .votes
        .values()
        .filter(|d| **d == Decision::Approve)
        .count();
    let mut rejections = o.votes.values().filter(|d| **d == Decision::Reject).count();
    // This organization's tally never approves a change it would not approve.
    let agrees = same_change(&open.payload, mine);
    let quorum = o.quorum as usize;
    if !o.votes.contains_key(me) {
        match verdict(input, me, &o.id, &open.payload, mine) {
            Verdict::Vote(decision, reason) => {
                let decides = match decision {
                    Decision::Approve => {
                        approvals += 1;
                        agrees && tally_decides(approvals, 0, quorum, o.electorate.len())
                    }
                    Decision::Reject => {
                        rejections += 1;
                        tally_decides(0, rejections, quorum, o.electorate.len())
                    }
                };
                // An approval of a change this plan does not compute counts
                // no other vote: it never completes the quorum.
                let counted = if decision == Decision::Approve && !agrees {
                    Vec::new()
                } else {
                    agreeing(o, decision)
                };
                out.steps.push(Step::Vote {
                    what: what.to_string(),
                    proposal_id: o.id.clone(),
                    decision,
                    reason,
                    counted,
                    decides,
                });
                if decides {
                    // The vote that reaches the quorum decides: no tally.
                    return;
                }
            }
            Verdict::WaitForPerson(why) => {
                out.wait(what, format!("proposal {} {why}", short_id(&o.id)))
            }
        }
    }
    let rejected = tally_decides(0, rejections, quorum, o.electorate.len());
    if rejected || (agrees && tally_decides(approvals, 0, quorum, o.electorate.len())) {
        // Votes that arrived together: one of the organizations that voted
        // this way tallies, so the tallies do not conflict.
        let side = if rejected {
            Decision::Reject
        } else {
            Decision::Approve
        };
        let key = format!("tally:{}", o.id);
        let counted = agreeing(o, side);
        // An approval is tallied first by the organization the tally makes
        // its executor (the contract's order over the counted approvals), so
        // it can commit a definition beside the tally
        // ([`commit_beside_tally`]).
        let order = if rejected {
            turn_order(&key, &counted)
        } else {
            turn_order(&o.id, &counted)
        };
        if out.my_turn_in(input, &key, &order, me, what, "tallies it") {
            out.steps.push(Step::Tally {
                what: what.to_string(),
                proposal_id: o.id.clone(),
                counted,
                together: false,
            });
        }
    } else {
        out.wait(
            what,
            format!(
                "proposal {} has {approvals} of {quorum} approvals",
                short_id(&o.id)
            ),
        );
    }
}

/// The organizations whose observed votes on `o` are `decision`, the votes
/// a vote of that decision counts (see [`Step::Vote`]).
fn agreeing(o: &ProposalSummary, decision: Decision) -> Vec<String> {
    o.votes
        .iter()
        .filter(|(_, d)| **d == decision)
        .map(|(org, _)| org.clone())
        .collect()
}

fn installed(observed: &Observed, peer: &str, package_id: &str) -> bool {
    observed.local.peers.get(peer).is_some_and(|p| {
        p.installed_packages
            .iter()
            .any(|i| i.package_id == package_id)
    })
}

/// Install steps for every own peer that lacks the package.
fn installs(
    observed: &Observed,
    cc: &Chaincode,
    package_id: &str,
    report_failure_on: Option<&str>,
    what: &str,
    out: &mut Steps,
) {
    for peer in observed.local.peers.keys() {
        if !installed(observed, peer, package_id) {
            out.steps.push(Step::Install {
                what: what.to_string(),
                peer: peer.clone(),
                label: cc.label.clone(),
                package_id: package_id.to_string(),
                report_failure_on: report_failure_on.map(str::to_string),
            });
        }
    }
}

/// Whether this org approved `cc` at `sequence` with `package_id`.
fn approved(observed: &Observed, cc: &Chaincode, package_id: &str, sequence: u64) -> bool {
    let key = Observed::chaincode_key(&cc.channel, &cc.name);
    observed.local.approved.get(&key).is_some_and(|a| {
        a.sequence == sequence
            && a.version == cc.version
            && a.package_id.as_deref() == Some(package_id)
    })
}

fn approve_step(cc: &Chaincode, package_id: &str, sequence: u64, what: &str) -> Step {
    Step::Approve {
        what: what.to_string(),
        channel: cc.channel.clone(),
        chaincode: cc.name.clone(),
        version: cc.version.clone(),
        sequence,
        package_id: package_id.to_string(),
        together: false,
    }
}

/// The channel's `LifecycleEndorsement`, as observed.
fn lifecycle(observed: &Observed, channel: &str) -> Option<super::Approval> {
    observed
        .channels
        .get(channel)
        .map(|ch| ChannelView::from_observed(channel, ch).lifecycle())
}

/// The latest `install` task of each organization that failed for `package_id`.
fn failed_installs<'a>(
    open: &'a OpenDetail,
    electorate: &[String],
    package_id: &str,
) -> Vec<&'a str> {
    electorate
        .iter()
        .filter_map(|org| open.latest(org, Task::Install))
        .filter(|t| t.status == TaskStatus::Failed && t.detail.contains(package_id))
        .map(|t| t.org.as_str())
        .collect()
}

/// Approved proposal `o` for `cc`: install, approve, report, and as its
/// executor commit and report committed.
#[allow(clippy::too_many_arguments)]
fn execute_chaincode(
    observed: &Observed,
    me: &str,
    input: &PlanInput,
    cc: &Chaincode,
    package_id: &str,
    o: &ProposalSummary,
    mine: &Value,
    sequence: u64,
    what: &str,
    out: &mut Steps,
) {
    let id = o.id.as_str();
    let Some(open) = out.open_of(o, what) else {
        return;
    };
    // The spec moved on after the vote (e.g. to a commit that fixes a package
    // that did not compile): executing it with today's package or definition
    // would install and approve something nobody voted on.
    let executor = open.eligible_executors.iter().any(|e| e == me);
    if !same_change(&open.payload, mine) {
        let voters: Vec<String> = o
            .votes
            .iter()
            .map(|(org, d)| format!("{org} {d:?}"))
            .collect();
        let why = format!(
            "approved proposal {} (filed by {}; votes: {}) is not the change the spec asks for now ({})",
            short_id(id),
            open.proposer,
            voters.join(", "),
            payload_difference(&open.payload, mine)
        );
        // Its executor records the refusal, so it ends failed and the
        // spec's change is filed next; the others wait for that.
        // (Not when it was filed from a spec commit this organization has
        // not seen: its own spec may be the one behind.)
        if executor && input.has_seen(o) {
            out.steps.push(Step::ReportFailed {
                what: what.to_string(),
                proposal_id: id.to_string(),
                error: format!("{me} refuses to execute it: {why}"),
            });
        } else {
            out.stall(
                what,
                format!(
                    "{why}; it is not executed with this organization's current package or definition: it must commit or fail first (its executor: {})",
                    open.eligible_executors.join(", ")
                ),
            );
        }
        return;
    }
    let everywhere = observed
        .local
        .peers
        .keys()
        .all(|peer| installed(observed, peer, package_id));
    let from_source = matches!(cc.package, PackageSource::Source { .. });
    if !everywhere && from_source {
        let failed_here = open
            .latest(me, Task::Install)
            .is_some_and(|t| t.status == TaskStatus::Failed && t.detail.contains(package_id));
        if failed_here {
            out.stall(
                what,
                format!(
                    "package {package_id} does not compile (reported as {me}'s failed install task on proposal {}); commit a spec that pins a commit that builds",
                    short_id(id)
                ),
            );
            if executor {
                fail_if_uncommittable(observed, cc, open, o, package_id, what, out);
            }
            return;
        }
        installs(observed, cc, package_id, Some(id), what, out);
    } else {
        installs(observed, cc, package_id, None, what, out);
    }
    // Approved in the vote round when that kept the consent promise;
    // otherwise now (before the commit, which counts it as given).
    if !approved(observed, cc, package_id, sequence) {
        out.steps.push(approve_step(cc, package_id, sequence, what));
    }
    let reported = |task: Task| {
        open.tasks
            .iter()
            .any(|t| t.org == me && t.task == task && t.status == TaskStatus::Done)
    };
    // Both reports in one transaction: one ordered round, and no conflict
    // between two reports of this organization.
    let mut reports: Vec<TaskReport> = Vec::new();
    if !reported(Task::Install) {
        reports.push(TaskReport {
            task: Task::Install,
            status: TaskStatus::Done,
            detail: package_id.to_string(),
        });
    }
    if !reported(Task::Approve) {
        reports.push(TaskReport {
            task: Task::Approve,
            status: TaskStatus::Done,
            detail: format!("sequence {sequence}"),
        });
    }
    let report = |together: bool| {
        let mut rest = reports.clone();
        (!rest.is_empty()).then(|| {
            let first = rest.remove(0);
            Step::ReportTask {
                what: what.to_string(),
                proposal_id: id.to_string(),
                task: first.task,
                status: first.status,
                detail: first.detail,
                more: rest,
                together,
            }
        })
    };
    // The shared step.
    if !executor {
        out.steps.extend(report(false));
        return out.wait_for_executor(open, what, &format!("commit sequence {sequence}"));
    }
    // This organization's approval is planned above (or given).
    let endorsers = match commit_endorsers(observed, cc, open, me) {
        Ok(endorsers) => endorsers,
        Err(why) => {
            out.steps.extend(report(false));
            return out.wait(what, format!("sequence {sequence}: {why}"));
        }
    };
    // The commit first, the reports riding along with it (another
    // namespace, another round's worth of waiting saved): the lead time
    // ends with the commit, not with the bookkeeping.
    out.steps.push(Step::Commit {
        what: what.to_string(),
        proposal_id: id.to_string(),
        channel: cc.channel.clone(),
        chaincode: cc.name.clone(),
        version: cc.version.clone(),
        sequence,
        endorsers,
        together: false,
    });
    out.steps.extend(report(true));
    out.steps.push(Step::ReportCommitted {
        what: what.to_string(),
        proposal_id: id.to_string(),
        detail: format!("sequence {sequence} committed"),
    });
}

/// As the proposal's executor: once so many organizations reported that the
/// package does not compile that the approvals the commit needs (the
/// channel's `LifecycleEndorsement`) cannot come, report the proposal
/// failed, so that a spec pinning a commit that builds can be proposed next.
fn fail_if_uncommittable(
    observed: &Observed,
    cc: &Chaincode,
    open: &OpenDetail,
    o: &ProposalSummary,
    package_id: &str,
    what: &str,
    out: &mut Steps,
) {
    let failed = failed_installs(open, &o.electorate, package_id);
    let able: BTreeSet<String> = o
        .electorate
        .iter()
        .filter(|org| !failed.contains(&org.as_str()))
        .cloned()
        .collect();
    let Some(needed) = lifecycle(observed, &cc.channel) else {
        return;
    };
    let n = o.electorate.len();
    let possible = needed
        .satisfied_by(&able)
        .unwrap_or(able.len() >= super::approval::majority(n));
    if possible {
        return;
    }
    out.steps.push(Step::ReportFailed {
        what: what.to_string(),
        proposal_id: o.id.clone(),
        error: format!(
            "package {package_id} does not compile on {} of {n} organizations ({}), so the approvals the commit needs ({needed}) cannot come; commit a spec that pins a commit that builds",
            failed.len(),
            failed.join(", ")
        ),
    });
}

/// No pending change: make sure this org runs the committed definition
/// (the installs are planned here, the approval is returned: the caller
/// sends the approvals of all chaincodes together).
fn heal(
    observed: &Observed,
    cc: &Chaincode,
    package_id: &str,
    what: &str,
    out: &mut Steps,
) -> Option<Step> {
    let key = Observed::chaincode_key(&cc.channel, &cc.name);
    let c = observed.chaincodes.get(&key)?;
    if c.version != cc.version {
        return None;
    }
    installs(observed, cc, package_id, None, what, out);
    (!approved(observed, cc, package_id, c.sequence))
        .then(|| approve_step(cc, package_id, c.sequence, what))
}

/// An approved chaincode proposal whose definition is already on the chain
/// (the executor stopped between the commit and the report): report it
/// committed, as an eligible executor.
/// This organization's install and approve tasks on approved chaincode
/// proposal `o`, whose definition is on the chain, when it approved the
/// proposal and has not reported them: the record of who installed and
/// approved what (the audit reads it), also when its executor committed the
/// definition beside the tally, before any task could be reported.
fn own_task_reports(
    observed: &Observed,
    me: &str,
    o: &ProposalSummary,
    what: &str,
    out: &mut Steps,
) {
    let Some(open) = &o.open else {
        return;
    };
    if o.votes.get(me) != Some(&Decision::Approve) {
        return;
    }
    let (Some(name), Some(package_id), Some(sequence)) = (
        o.target.chaincode.as_ref(),
        open.payload["package_id"].as_str(),
        open.payload["sequence"].as_u64(),
    ) else {
        return;
    };
    let reported = |task: Task| {
        open.tasks
            .iter()
            .any(|t| t.org == me && t.task == task && t.status == TaskStatus::Done)
    };
    let mut reports: Vec<TaskReport> = Vec::new();
    if !reported(Task::Install)
        && observed
            .local
            .peers
            .keys()
            .any(|peer| installed(observed, peer, package_id))
    {
        reports.push(TaskReport {
            task: Task::Install,
            status: TaskStatus::Done,
            detail: package_id.to_string(),
        });
    }
    let key = Observed::chaincode_key(&o.target.channel, name);
    if !reported(Task::Approve)
        && observed
            .local
            .approved
            .get(&key)
            .is_some_and(|a| a.sequence >= sequence)
    {
        reports.push(TaskReport {
            task: Task::Approve,
            status: TaskStatus::Done,
            detail: format!("sequence {sequence}"),
        });
    }
    if reports.is_empty() {
        return;
    }
    let first = reports.remove(0);
    out.steps.push(Step::ReportTask {
        what: what.to_string(),
        proposal_id: o.id.clone(),
        task: first.task,
        status: first.status,
        detail: first.detail,
        more: reports,
        together: false,
    });
}

/// The approvers of chaincode proposal `o` other than `me` that have not
/// reported both their install and approve tasks.
fn unreported_approvers(o: &ProposalSummary, open: &OpenDetail, me: &str) -> Vec<String> {
    agreeing(o, Decision::Approve)
        .into_iter()
        .filter(|org| org != me)
        .filter(|org| {
            [Task::Install, Task::Approve].iter().any(|task| {
                !open
                    .tasks
                    .iter()
                    .any(|t| t.org == *org && t.task == *task && t.status == TaskStatus::Done)
            })
        })
        .collect()
}

fn finish_committed(observed: &Observed, me: &str, input: &PlanInput, out: &mut Steps) {
    for p in observed
        .proposals
        .iter()
        .filter(|p| p.kind.is_chaincode() && p.state == ProposalState::Approved)
    {
        let (Some(name), Some(open)) = (&p.target.chaincode, &p.open) else {
            continue;
        };
        let key = Observed::chaincode_key(&p.target.channel, name);
        let Some(committed) = observed.chaincodes.get(&key) else {
            continue;
        };
        let sequence = open.payload["sequence"].as_u64().unwrap_or(u64::MAX);
        let planned = out.steps.iter().any(|s| {
            matches!(s, Step::ReportCommitted { proposal_id, .. } | Step::ReportFailed { proposal_id, .. } if *proposal_id == p.id)
        });
        if committed.sequence >= sequence
            && open.eligible_executors.iter().any(|e| e == me)
            && !planned
        {
            // The approvers report their tasks in the pass that sees the
            // definition on the chain; the record is closed after them (a
            // task report reads the proposal the commit report writes, so
            // in one block they would conflict), or after a grace when one
            // of them stays silent.
            let silent = unreported_approvers(p, open, me);
            if let Some(first) = silent.first() {
                let order = [first.clone(), me.to_string()];
                let key = format!("report:{}", p.id);
                if !out.my_turn_in(input, &key, &order, me, &key, "reports its tasks") {
                    continue;
                }
            }
            out.steps.push(Step::ReportCommitted {
                what: key,
                proposal_id: p.id.clone(),
                detail: format!("sequence {sequence} is on the chain"),
            });
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Join { peer, channel, .. } => write!(f, "join {peer} to channel {channel}"),
            Step::File {
                what,
                kind,
                round,
                proposal_id,
                ..
            } => write!(
                f,
                "{what}: file {kind} proposal {} (round {round})",
                short_id(proposal_id)
            ),
            Step::Vote {
                what,
                proposal_id,
                decision,
                reason,
                decides,
                ..
            } => write!(
                f,
                "{what}: vote {decision:?} on {} ({reason}){}",
                short_id(proposal_id),
                if *decides { ", deciding it" } else { "" }
            ),
            Step::Tally {
                what, proposal_id, ..
            } => {
                write!(f, "{what}: tally {}", short_id(proposal_id))
            }
            Step::Sign {
                what, proposal_id, ..
            } => write!(f, "{what}: sign the update of {}", short_id(proposal_id)),
            Step::Submit {
                what,
                proposal_id,
                signatures,
                ..
            } => write!(
                f,
                "{what}: submit {} signed by {}",
                short_id(proposal_id),
                signatures.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            Step::JoinOrderers {
                what,
                proposal_id,
                channel,
            } => write!(
                f,
                "{what}: join this organization's orderers to channel {channel} (proposal {})",
                short_id(proposal_id)
            ),
            Step::SignAndSubmit {
                what,
                proposal_id,
                signatures,
                ..
            } => write!(
                f,
                "{what}: sign and submit {} with the signatures of {}",
                short_id(proposal_id),
                signatures.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            Step::Install {
                what,
                peer,
                package_id,
                report_failure_on,
                ..
            } => {
                write!(f, "{what}: install {package_id} on {peer}")?;
                if let Some(id) = report_failure_on {
                    write!(f, " (a build failure is reported on {})", short_id(id))?;
                }
                Ok(())
            }
            Step::Approve {
                channel,
                chaincode,
                version,
                sequence,
                package_id,
                together,
                ..
            } => write!(
                f,
                "{channel}/{chaincode}: approve {version} sequence {sequence} with {package_id}{}",
                if *together {
                    ", together with the step before"
                } else {
                    ""
                }
            ),
            Step::ReportTask {
                what,
                proposal_id,
                task,
                status,
                detail,
                more,
                together,
            } => {
                write!(
                    f,
                    "{what}: report task {} {status:?} on {} ({detail})",
                    task.as_str(),
                    short_id(proposal_id)
                )?;
                for t in more {
                    write!(
                        f,
                        ", task {} {:?} ({})",
                        t.task.as_str(),
                        t.status,
                        t.detail
                    )?;
                }
                if *together {
                    write!(f, ", together with the step before")?;
                }
                Ok(())
            }
            Step::Commit {
                what,
                sequence,
                endorsers,
                together,
                ..
            } => {
                write!(
                    f,
                    "{what}: commit sequence {sequence}, endorsed by {}",
                    endorsers.join(", ")
                )?;
                if *together {
                    write!(f, ", together with the tally")?;
                }
                Ok(())
            }
            Step::ReportCommitted {
                what,
                proposal_id,
                detail,
            } => write!(
                f,
                "{what}: report {} committed ({detail})",
                short_id(proposal_id)
            ),
            Step::ReportFailed {
                what,
                proposal_id,
                error,
            } => write!(
                f,
                "{what}: report {} failed: {error}",
                short_id(proposal_id)
            ),
        }
    }
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            if self.stalled { "stalled" } else { "waiting" },
            self.what,
            self.why
        )?;
        if let Some(ms) = self.look_again_ms {
            write!(f, " (look again within {ms} ms)")?;
        }
        Ok(())
    }
}

/// The steps and blocked items as text, one per line: what the agent does
/// next and why the rest waits.
pub fn render(s: &Steps) -> String {
    let mut out = String::new();
    if s.steps.is_empty() {
        out.push_str("steps: none\n");
    } else {
        out.push_str("steps:\n");
        for (i, step) in s.steps.iter().enumerate() {
            out.push_str(&format!("  {}. {step}\n", i + 1));
        }
    }
    for b in &s.blocked {
        out.push_str(&format!("  {b}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tally_decides_at_the_quorum_or_when_it_cannot_be_reached() {
        // 2 of 3.
        assert!(!tally_decides(1, 0, 2, 3));
        assert!(tally_decides(2, 0, 2, 3));
        assert!(
            !tally_decides(0, 1, 2, 3),
            "one rejection leaves two voters"
        );
        assert!(tally_decides(0, 2, 2, 3));
        // All of 3: one rejection decides.
        assert!(tally_decides(0, 1, 3, 3));
        assert!(!tally_decides(2, 0, 3, 3));
    }

    #[test]
    fn independent_calls_share_a_round() {
        let vote = |id: &str| Step::Vote {
            what: "w".into(),
            proposal_id: id.into(),
            decision: Decision::Approve,
            reason: String::new(),
            counted: Vec::new(),
            decides: false,
        };
        let sign = |id: &str| Step::Sign {
            what: "w".into(),
            proposal_id: id.into(),
            config_update: String::new(),
            counted: Vec::new(),
        };
        let approve = |together: bool| Step::Approve {
            what: "w".into(),
            channel: "c".into(),
            chaincode: "kv".into(),
            version: "1".into(),
            sequence: 1,
            package_id: "p".into(),
            together,
        };
        let tally = |id: &str| Step::Tally {
            what: "w".into(),
            proposal_id: id.into(),
            counted: Vec::new(),
            together: false,
        };
        assert!(rounds(&[]).is_empty());
        // Votes and signatures on three proposals: one round.
        assert_eq!(rounds(&[vote("a"), vote("b"), sign("c")]), vec![0..3]);
        // Twice the same proposal: its second call waits.
        assert_eq!(rounds(&[vote("a"), sign("a")]), vec![0..1, 1..2]);
        // A marked approval rides with the vote; an unmarked one waits.
        assert_eq!(
            rounds(&[vote("a"), approve(true), approve(false)]),
            vec![0..2, 2..3]
        );
        // A tally is not a ballot: it waits, and nothing joins it but a
        // marked step.
        assert_eq!(
            rounds(&[vote("a"), tally("b"), vote("c")]),
            vec![0..1, 1..2, 2..3]
        );
        // A ballot on another proposal joins a round of ballots and the
        // steps that ride with them, never one that holds something else.
        assert_eq!(rounds(&[vote("a"), approve(true), vote("b")]), vec![0..3]);
        assert_eq!(
            rounds(&[approve(false), vote("b"), sign("c")]),
            vec![0..1, 1..3]
        );
        // The executor-to-be's tallies and submits of several config
        // proposals: one round.
        let submit = |id: &str| Step::Submit {
            what: "w".into(),
            proposal_id: id.into(),
            channel: id.into(),
            config_update: String::new(),
            signatures: BTreeMap::new(),
            together: true,
        };
        let tally_with = |id: &str| Step::Tally {
            what: "w".into(),
            proposal_id: id.into(),
            counted: Vec::new(),
            together: true,
        };
        assert_eq!(
            rounds(&[tally("a"), submit("a"), tally_with("b"), submit("b")]),
            vec![0..4]
        );
        // Its own signature and those on the other OrgAdds: one round too.
        assert_eq!(
            rounds(&[
                sign("a"),
                tally_with("a"),
                submit("a"),
                sign("b"),
                sign("c")
            ]),
            vec![0..5]
        );
        // One organization's filings of several proposals: one round; a
        // filing and a vote on the same proposal: two.
        let file = |id: &str| Step::File {
            what: "w".into(),
            kind: opssc_chaincode::model::Kind::OrgAdd,
            target: opssc_chaincode::model::Target {
                channel: id.into(),
                chaincode: None,
            },
            payload: serde_json::Value::Null,
            round: 0,
            proposal_id: id.into(),
            committed_chaincode_sequence: None,
            base_config_sequence: None,
        };
        assert_eq!(rounds(&[file("a"), file("b")]), vec![0..2]);
        assert_eq!(rounds(&[file("a"), vote("a")]), vec![0..1, 1..2]);
        // Installs go on together; an unmarked approval after them waits
        // for them (it is skipped when its package failed to install), and
        // an install after a vote waits for the vote's round.
        let install = |label: &str| Step::Install {
            what: "w".into(),
            peer: "peer0".into(),
            label: label.into(),
            package_id: label.into(),
            report_failure_on: None,
        };
        assert_eq!(
            rounds(&[install("a"), install("b"), approve(false), install("c")]),
            vec![0..2, 2..3, 3..4]
        );
        assert_eq!(
            rounds(&[vote("a"), approve(true), install("a"), install("b")]),
            vec![0..2, 2..4]
        );
        // Joins of several channels too, with an approval riding along.
        let join = |channel: &str| Step::Join {
            what: format!("channel {channel}"),
            peer: "peer0".into(),
            channel: channel.into(),
        };
        assert_eq!(
            rounds(&[join("a"), join("b"), install("c"), approve(true)]),
            vec![0..4]
        );
    }

    #[test]
    fn early_approval_only_where_fabric_needs_a_quorum_of_consents() {
        use crate::plan::Approval;
        use crate::plan::approval::{Need, Requirement};
        let orgs: Vec<String> = ["A", "B", "C", "D"].iter().map(|s| s.to_string()).collect();
        let req = |need: Need| Requirement {
            label: "LifecycleEndorsement".into(),
            policy: "/Channel/Application/LifecycleEndorsement".into(),
            need,
        };
        let majority = Approval::single(req(Need::Threshold {
            count: 3,
            of: orgs.clone(),
        }));
        assert_eq!(fewest_approvers(&majority), Some(3));
        // The governance quorum `policy` is Fabric's own: safe.
        assert!(early_approval_keeps_consent(&majority, 3));
        assert!(early_approval_keeps_consent(&majority, 2));
        // Raised to all members: three early approvals would let anyone
        // commit what the OpsSC (4 of 4) has not decided.
        assert!(!early_approval_keeps_consent(&majority, 4));
        // One organization alone can satisfy it: never early.
        let any_of = Approval::single(req(Need::AnyOf {
            sets: vec![vec!["A".into()], vec!["B".into(), "C".into()]],
        }));
        assert_eq!(fewest_approvers(&any_of), Some(1));
        assert!(!early_approval_keeps_consent(&any_of, 2));
        // Both requirements must be met: the stricter one bounds.
        let both = Approval::all_of([&majority, &any_of]);
        assert_eq!(fewest_approvers(&both), Some(3));
        // What cannot be evaluated is not guessed.
        let unknown = Approval::single(req(Need::Unevaluated {
            reason: "too many".into(),
        }));
        assert_eq!(fewest_approvers(&unknown), None);
        assert!(!early_approval_keeps_consent(&unknown, 1));
        assert!(!early_approval_keeps_consent(&majority, 0));
    }

    #[test]
    fn one_organization_takes_a_turn_the_next_after_a_grace_each() {
        let orgs: Vec<String> = ["Org3MSP", "Org1MSP", "Org2MSP", "Org1MSP"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let order = turn_order("p1", &orgs);
        // Every agent computes the same order, whatever order it lists.
        let mut reversed = orgs.clone();
        reversed.reverse();
        assert_eq!(order, turn_order("p1", &reversed));
        assert_eq!(order.len(), 3);
        // Another key spreads the turns: not always the same organization.
        assert!(
            (0..20).any(|i| turn_order(&format!("p{i}"), &orgs)[0] != order[0]),
            "{order:?}"
        );
        assert_eq!(turn_wait_ms(&order, &order[0], 0, 3000), 0);
        assert_eq!(turn_wait_ms(&order, &order[1], 0, 3000), 3000);
        assert_eq!(turn_wait_ms(&order, &order[1], 2500, 3000), 500);
        assert_eq!(turn_wait_ms(&order, &order[1], 3000, 3000), 0);
        assert_eq!(turn_wait_ms(&order, &order[2], 4000, 3000), 2000);
        // Not among them: after all of them.
        assert_eq!(turn_wait_ms(&order, "Org9MSP", 0, 3000), 9000);
        // A grace of 0: everyone at once (the old behaviour).
        assert_eq!(turn_wait_ms(&order, &order[2], 0, 0), 0);

        let mut out = Steps::default();
        let input = PlanInput::auto("c");
        assert!(out.my_turn(&input, "p1", &orgs, &order[0], "x", "files it"));
        assert!(out.blocked.is_empty() && out.deferred.is_empty());
        assert!(!out.my_turn(&input, "p1", &orgs, &order[2], "x", "files it"));
        assert_eq!(out.deferred, vec!["p1".to_string()]);
        assert_eq!(out.blocked[0].look_again_ms, Some(6000));
        assert!(
            out.blocked[0]
                .why
                .starts_with(&format!("{} files it first", order[0]))
        );
    }

    #[test]
    fn a_copy_with_another_summary_is_the_same_change() {
        let mine = json!({"name": "kv", "version": "1.1"});
        let copy = json!({"name": "kv", "version": "1.1", "summary": "hostile words"});
        assert!(same_change(&copy, &mine));
        let auto = PlanInput::auto("c");
        assert_eq!(
            verdict(&auto, "Org1MSP", "id", &copy, &mine),
            Verdict::Vote(
                Decision::Approve,
                "recomputed from the spec: identical".into()
            ),
            "voting the copy down would kill the honest change"
        );
        let other = json!({"name": "kv", "version": "1.2", "summary": "same words"});
        assert!(!same_change(&other, &mine));
    }

    #[test]
    fn the_verdict_follows_the_policy_and_the_consent() {
        let mine = json!({"name": "kv", "version": "1.1"});
        let other = json!({"name": "kv", "version": "9"});
        let auto = PlanInput::auto("c");
        assert_eq!(
            verdict(&auto, "A", "id", &mine, &mine),
            Verdict::Vote(
                Decision::Approve,
                "recomputed from the spec: identical".into()
            )
        );
        match verdict(&auto, "A", "id", &other, &mine) {
            Verdict::Vote(Decision::Reject, why) => {
                assert!(why.contains("version: proposed \"9\""), "{why}")
            }
            v => panic!("{v:?}"),
        }
        let manual = PlanInput {
            vote_policy: VotePolicy::Manual,
            ..auto.clone()
        };
        assert!(matches!(
            verdict(&manual, "A", "id", &mine, &mine),
            Verdict::WaitForPerson(w) if w.contains("opssc vote id")
        ));
        // Consent as data: approve only what the admin consented to.
        let consent = PlanInput {
            consented: Some(["yes".to_string()].into()),
            ..auto.clone()
        };
        assert!(matches!(
            verdict(&consent, "A", "yes", &mine, &mine),
            Verdict::Vote(Decision::Approve, _)
        ));
        assert!(matches!(
            verdict(&consent, "A", "no", &mine, &mine),
            Verdict::WaitForPerson(w) if w.contains("consent")
        ));
        assert!(matches!(
            verdict(&consent, "A", "yes", &other, &mine),
            Verdict::Vote(Decision::Reject, _)
        ));
        // A waiting vote says whose consent is missing and what to run.
        let hinted = PlanInput {
            consent_missing: [("no".to_string(), "approve spec commit c1".to_string())].into(),
            ..consent.clone()
        };
        assert_eq!(
            verdict(&hinted, "A", "no", &mine, &mine),
            Verdict::WaitForPerson("approve spec commit c1".into())
        );
    }

    #[test]
    fn a_member_added_after_founding_installs_and_approves_the_opssc() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        let spec = opssc_schema::load_dir(&dir).spec.unwrap();
        let mut observed = crate::observe::converged(&spec, "Org2MSP");
        let ops = spec.consortium.ops_channel.clone();
        observed.chaincodes.insert(
            format!("{ops}/opssc"),
            crate::observe::CommittedDefinition {
                sequence: 1,
                version: "1.0".into(),
                endorsement_policy: "/Channel/Application/Endorsement".into(),
                collections: Vec::new(),
                init_required: false,
                approvals: Default::default(),
                last_modified: None,
            },
        );
        let plan = crate::plan::plan(&spec, &observed, "Org2MSP");
        let pkg = OpsPackage {
            name: "opssc".into(),
            label: "opssc_1.0".into(),
            package_id: format!("opssc_1.0:{}", "c".repeat(64)),
        };
        let input = PlanInput {
            ops_package: Some(pkg.clone()),
            ..PlanInput::auto("c")
        };
        let s = steps(&spec, &observed, &plan, &input);
        let peers = observed.local.peers.len();
        assert_eq!(s.steps.len(), peers + 1, "{s:#?}");
        assert!(
            matches!(&s.steps[peers], Step::Approve { chaincode, sequence: 1, .. } if chaincode == "opssc")
        );
        // Installed and approved: nothing left.
        for p in observed.local.peers.values_mut() {
            p.installed_packages.push(crate::observe::InstalledPackage {
                package_id: pkg.package_id.clone(),
                label: pkg.label.clone(),
            });
        }
        observed.local.approved.insert(
            format!("{ops}/opssc"),
            crate::observe::ApprovedDefinition {
                sequence: 1,
                version: "1.0".into(),
                package_id: Some(pkg.package_id.clone()),
            },
        );
        assert_eq!(steps(&spec, &observed, &plan, &input), Steps::default());
    }

    #[test]
    fn a_member_not_yet_on_a_channel_installs_its_chaincodes_already() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        let spec = opssc_schema::load_dir(&dir).spec.unwrap();
        let me = "Org2MSP";
        let mut observed = crate::observe::converged(&spec, me);
        let kv = spec
            .chaincodes
            .get(&("trade".to_string(), "kv".to_string()))
            .expect("kv on trade in network-spec")
            .clone();
        let package_id = format!("{}:{}", kv.label, "d".repeat(64));
        observed
            .packages
            .insert(kv.label.clone(), package_id.clone());
        // Org2MSP's peers have not joined trade yet, nor installed its
        // chaincodes.
        observed.channels.remove("trade");
        for p in observed.local.peers.values_mut() {
            p.joined_channels.retain(|c| c != "trade");
            p.installed_packages.retain(|i| i.label != kv.label);
        }
        let plan = crate::plan::plan(&spec, &observed, me);
        let s = steps(&spec, &observed, &plan, &PlanInput::auto("c"));
        let installs: Vec<&Step> = s
            .steps
            .iter()
            .filter(|st| matches!(st, Step::Install { package_id: id, .. } if *id == package_id))
            .collect();
        assert_eq!(installs.len(), observed.local.peers.len(), "{s:#?}");
        assert!(
            !s.steps
                .iter()
                .any(|st| matches!(st, Step::Approve { chaincode, .. } if *chaincode == kv.name)),
            "no approval before the peer serves the channel: {s:#?}"
        );
        // Installed: nothing more for kv until the peer has joined.
        for p in observed.local.peers.values_mut() {
            p.installed_packages.push(crate::observe::InstalledPackage {
                package_id: package_id.clone(),
                label: kv.label.clone(),
            });
        }
        let s = steps(&spec, &observed, &plan, &PlanInput::auto("c"));
        assert!(!s.steps.iter().any(|st| st.what() == "trade/kv"), "{s:#?}");
    }

    #[test]
    fn a_new_member_approves_on_a_served_channel_before_it_joins_ops() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        let spec = opssc_schema::load_dir(&dir).spec.unwrap();
        let me = "Org2MSP";
        let mut observed = crate::observe::converged(&spec, me);
        let ops = spec.consortium.ops_channel.clone();
        // trade is served, kv committed there but not approved by Org2MSP
        // yet; ops admits Org2MSP, whose peers have not joined it.
        let kv = spec.chaincodes[&("trade".to_string(), "kv".to_string())].clone();
        let package_id = observed.local.approved[&format!("trade/{}", kv.name)]
            .package_id
            .clone()
            .expect("a synthetic package ID");
        observed.packages.insert(kv.label.clone(), package_id);
        let served_approval = observed
            .local
            .approved
            .remove(&format!("trade/{}", kv.name))
            .expect("approved when converged");
        observed.channels.remove(&ops);
        for p in observed.local.peers.values_mut() {
            p.joined_channels.retain(|c| *c != ops);
        }
        let plan = crate::plan::plan(&spec, &observed, me);
        let input = PlanInput {
            admission: [(ops.clone(), Admission::Listed)].into(),
            ..PlanInput::auto("c")
        };
        let s = steps(&spec, &observed, &plan, &input);
        let ops_joins = |s: &Steps| {
            s.steps
                .iter()
                .filter(|st| matches!(st, Step::Join { channel, .. } if *channel == ops))
                .count()
        };
        let approves_kv = |s: &Steps| {
            s.steps
                .iter()
                .any(|st| matches!(st, Step::Approve { chaincode, .. } if *chaincode == kv.name))
        };
        // The approval on trade goes first; the ops channel, whose replay
        // would slow it, is joined after it.
        assert!(approves_kv(&s), "kv approved: {s:#?}");
        assert_eq!(ops_joins(&s), 0, "{s:#?}");
        assert_eq!(s.deferred, [OPS_JOIN_HOLD_KEY], "{s:#?}");
        assert!(
            s.blocked
                .iter()
                .any(|b| b.what == format!("channel {ops}") && b.look_again_ms == Some(250)),
            "{s:#?}"
        );
        // Approved: ops is joined.
        let mut approved = observed.clone();
        let kv_key = Observed::chaincode_key("trade", &kv.name);
        approved
            .local
            .approved
            .insert(kv_key.clone(), served_approval.clone());
        let plan = crate::plan::plan(&spec, &approved, me);
        let s = steps(&spec, &approved, &plan, &input);
        assert!(!approves_kv(&s), "{s:#?}");
        assert_eq!(ops_joins(&s), observed.local.peers.len(), "{s:#?}");
        assert!(s.deferred.is_empty(), "{s:#?}");
        // trade not served yet (its peer replays it): ops waits too, but
        // not past the hold; then both go in one pass.
        let mut replaying = observed.clone();
        replaying.channels.remove("trade");
        let plan = crate::plan::plan(&spec, &replaying, me);
        let s = steps(&spec, &replaying, &plan, &input);
        assert_eq!(ops_joins(&s), 0, "{s:#?}");
        let mut held = PlanInput {
            admission: [(ops.clone(), Admission::Listed)].into(),
            ..PlanInput::auto("c")
        };
        held.waited_ms
            .insert(OPS_JOIN_HOLD_KEY.into(), OPS_JOIN_HOLD_MS);
        let s = steps(&spec, &replaying, &plan, &held);
        assert_eq!(ops_joins(&s), observed.local.peers.len(), "{s:#?}");
        let plan = crate::plan::plan(&spec, &observed, me);
        let s = steps(&spec, &observed, &plan, &held);
        assert!(approves_kv(&s) && ops_joins(&s) > 0, "{s:#?}");
    }

    /// An organization that only voted lets the executor-to-be go first;
    /// the executor-to-be, and one with any other step, do not wait.
    #[test]
    fn only_a_voter_that_will_not_execute_yields_to_the_executor() {
        let electorate: Vec<String> = (1..=10).map(|i| format!("Org{i}MSP")).collect();
        let proposal = ProposalSummary {
            id: "p".repeat(64),
            kind: Kind::ChaincodeUpgrade,
            target: Target {
                channel: "trade".into(),
                chaincode: Some("kv".into()),
            },
            round: 0,
            org: None,
            state: ProposalState::Proposed,
            votes: BTreeMap::new(),
            quorum: 6,
            electorate: electorate.clone(),
            spec_commit: None,
            base_config_sequence: None,
            open: None,
        };
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        let spec = opssc_schema::load_dir(&dir).spec.unwrap();
        let mut observed = crate::observe::converged(&spec, "Org1MSP");
        observed.proposals = vec![proposal.clone()];
        let vote = |decision| Step::Vote {
            what: "trade/kv".into(),
            proposal_id: proposal.id.clone(),
            decision,
            reason: String::new(),
            counted: Vec::new(),
            decides: false,
        };
        let steps = |list: Vec<Step>| Steps {
            steps: list,
            ..Steps::default()
        };
        let order = turn_order(&proposal.id, &electorate);
        let (executor, voter) = (&order[0], &order[1]);
        let voted = steps(vec![vote(Decision::Approve)]);
        assert!(executed_by_another(voter, &observed, &voted));
        assert!(!executed_by_another(executor, &observed, &voted));
        assert!(!executed_by_another(voter, &observed, &steps(Vec::new())));
        assert!(!executed_by_another(
            voter,
            &observed,
            &steps(vec![vote(Decision::Reject)])
        ));
        let tally = Step::Tally {
            what: "trade/kv".into(),
            proposal_id: proposal.id.clone(),
            counted: Vec::new(),
            together: false,
        };
        assert!(!executed_by_another(
            voter,
            &observed,
            &steps(vec![vote(Decision::Approve), tally])
        ));
        // A config proposal's approvers sign next: nobody yields.
        observed.proposals[0].kind = Kind::OrgAdd;
        assert!(!executed_by_another(voter, &observed, &voted));
    }

    /// A new member whose peer serves `trade` but still replays `market`:
    /// its approvals wait for `market` (at most APPROVALS_HOLD_MS), then
    /// go in one round with market's; not for longer.
    #[test]
    fn a_new_members_approvals_wait_briefly_for_its_other_channels_replay() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        let mut spec = opssc_schema::load_dir(&dir).spec.unwrap();
        let me = "Org2MSP";
        let mut market = spec.channels["trade"].clone();
        market.name = "market".into();
        spec.channels.insert("market".into(), market);
        let kv = spec.chaincodes[&("trade".to_string(), "kv".to_string())].clone();
        let mut mk = kv.clone();
        mk.channel = "market".into();
        mk.name = "mk".into();
        spec.chaincodes
            .insert(("market".to_string(), "mk".to_string()), mk);
        let mut observed = crate::observe::converged(&spec, me);
        let converged_approvals = observed.local.approved.clone();
        for (channel, name) in [("trade", "kv"), ("market", "mk")] {
            let key = Observed::chaincode_key(channel, name);
            let approved = observed.local.approved.remove(&key).expect("approved");
            let label = &spec.chaincodes[&(channel.to_string(), name.to_string())].label;
            observed.packages.insert(
                label.clone(),
                approved.package_id.expect("a synthetic package ID"),
            );
        }
        let served = observed.clone();
        // Joined market, still replaying it.
        observed.channels.remove("market");
        let plan = crate::plan::plan(&spec, &observed, me);
        let approvals = |s: &Steps| -> Vec<String> {
            s.steps
                .iter()
                .filter_map(|st| match st {
                    Step::Approve { chaincode, .. } => Some(chaincode.clone()),
                    _ => None,
                })
                .collect()
        };
        let s = steps(&spec, &observed, &plan, &PlanInput::auto("c"));
        assert!(approvals(&s).is_empty(), "{s:#?}");
        assert!(
            s.blocked
                .iter()
                .any(|b| b.why.contains("market") && b.look_again_ms == Some(250)),
            "{s:#?}"
        );
        assert_eq!(s.deferred, [APPROVALS_HOLD_KEY], "{s:#?}");
        // Held long enough: trade's approval goes alone.
        let mut input = PlanInput::auto("c");
        input
            .waited_ms
            .insert(APPROVALS_HOLD_KEY.into(), APPROVALS_HOLD_MS);
        let s = steps(&spec, &observed, &plan, &input);
        assert_eq!(approvals(&s), ["kv"], "{s:#?}");
        // Still measured: once trade's approval is in and market still
        // replays (nothing to approve), and when another channel's
        // approvals come while market replays, there is no second hold.
        assert_eq!(s.deferred, [APPROVALS_HOLD_KEY], "{s:#?}");
        let mut approved = observed.clone();
        let kv_key = Observed::chaincode_key("trade", "kv");
        approved
            .local
            .approved
            .insert(kv_key.clone(), converged_approvals[&kv_key].clone());
        let s = steps(&spec, &approved, &plan, &input);
        assert!(approvals(&s).is_empty(), "{s:#?}");
        assert_eq!(s.deferred, [APPROVALS_HOLD_KEY], "{s:#?}");
        // market served meanwhile: both approvals, one round.
        let plan = crate::plan::plan(&spec, &served, me);
        let s = steps(&spec, &served, &plan, &PlanInput::auto("c"));
        let mut both = approvals(&s);
        both.sort();
        assert_eq!(both, ["kv", "mk"], "{s:#?}");
        assert_eq!(rounds(&s.steps).len(), 1, "{s:#?}");
    }

    #[test]
    fn the_steps_of_a_converged_network_are_none() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        let spec = opssc_schema::load_dir(&dir).spec.unwrap();
        let observed = crate::observe::converged(&spec, "Org1MSP");
        let plan = crate::plan::plan(&spec, &observed, "Org1MSP");
        let s = steps(&spec, &observed, &plan, &PlanInput::auto("c"));
        assert_eq!(s, Steps::default());
        // Another organization's view plans nothing for this one.
        let plan = crate::plan::plan(&spec, &observed, "Org2MSP");
        assert_eq!(
            steps(&spec, &observed, &plan, &PlanInput::auto("c")),
            Steps::default()
        );
    }
}
