//! One reconcile pass: observe → plan → steps → execute → report.
//!
//! [`run_pass`] builds this organization's packages, observes the network
//! once ([`super::observe_live::live`]: channel configs, committed and
//! approved definitions, every open proposal with its payload, votes, tasks,
//! eligible executors and commit readiness), plans ([`crate::plan::plan`]),
//! turns the plan into steps ([`crate::plan::steps::steps`], given what only
//! I/O can tell: whether the own peer caught up with the orderer) and runs
//! them ([`super::execute::execute`], one Fabric call per step). For
//! chaincodes the steps are: **file** the planned proposal (one
//! organization, the first in the turn order; the others wait a grace
//! each, measured here between passes in [`Context::deferred`]); **vote**
//! (the verdict and its reason are the plan's; the vote that reaches the
//! quorum decides) and **tally** only when votes cast together decide it
//! (again one organization in turn); once approved **install**, **approve**, **report** each task;
//! as an eligible executor, once the channel's `LifecycleEndorsement` is met,
//! **commit** and **report committed**; without a pending change, heal
//! local drift (install and approve the committed definition).
//!
//! Channel configuration changes and joins are steps too: the ConfigUpdate
//! bytes this organization computes from the observed config block, whether
//! the approvals' signatures satisfy the orderer's policies, and whether the
//! orderer's config of a channel not joined yet lists this organization are
//! planning inputs ([`super::channel_changes`]).
//!
//! Every step is planned from what the chain says, so running a pass twice
//! does nothing twice, and an empty list of steps makes no call. The pass
//! returns what should happen next ([`Next`]), from the blocked items' look-
//! again times and the failed steps' typed errors
//! ([`super::error::AgentError::next`]); it is never told why it runs.

use opssc_schema::local::VotePolicy;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use opssc_chaincode::model::ConfigSignatureB64;
use opssc_fabric::configtx::ConfigError;
use opssc_fabric::lifecycle::{self, ChaincodeDefinition};
use opssc_fabric::protos::common::{ApplicationPolicy, application_policy};
use opssc_schema::Chaincode;
use prost::Message;

use super::context::Context;
use super::error::{AgentError, NextAction};
use super::observe_live::ObserveError;
use super::spec_source::SpecAt;
use crate::observe::Observed;
use crate::plan::steps::PlanInput;

/// What should happen after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Something changed: observe again right away.
    Now,
    /// Waiting on others (votes, approvals, the executor): run again on the
    /// next event, or after this long at the latest.
    AwaitChange(Duration),
    /// A step failed: retry after this long.
    Retry(Duration),
}

/// What a pass did, what it waits on, and what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub actions: Vec<String>,
    pub waiting: Vec<String>,
    /// Steps that cannot move without a person (a rejected change).
    pub stalled: Vec<String>,
    pub errors: Vec<String>,
    pub next: Next,
    /// The latest time to look again while waiting (e.g. when the executor
    /// role passes to the next organization, which no event announces).
    pub requeue_within: Option<Duration>,
    /// The next action each failed step asks for ([`super::error::AgentError::next`]).
    pub failures: Vec<NextAction>,
    /// What the pass observed and planned (None when it failed before):
    /// for notifications and metrics.
    pub view: Option<Box<super::notify::PassView>>,
}

impl PassReport {
    fn new() -> PassReport {
        PassReport {
            actions: Vec::new(),
            waiting: Vec::new(),
            stalled: Vec::new(),
            errors: Vec::new(),
            next: Next::AwaitChange(Duration::from_secs(30)),
            requeue_within: None,
            failures: Vec::new(),
            view: None,
        }
    }

    /// A failed step of `what`: its error, and what its type asks for next.
    pub(super) fn fail(&mut self, what: &str, e: &AgentError) {
        let next = e.next();
        match &next {
            NextAction::Stall(why) => self.stalled.push(format!("{what}: {why}")),
            _ => self.errors.push(format!("{what}: {e}")),
        }
        self.failures.push(next);
    }

    /// What a plan's blocked item means for this pass.
    pub(super) fn blocked(&mut self, b: &crate::plan::steps::Blocked) {
        let text = format!("{}: {}", b.what, b.why);
        if b.stalled {
            self.stalled.push(text);
        } else {
            self.waiting.push(text);
        }
        if let Some(ms) = b.look_again_ms {
            self.requeue_within(Duration::from_millis(ms));
        }
    }

    fn finish(mut self) -> PassReport {
        let retry = self.failures.contains(&NextAction::RetrySoon);
        self.next = if retry || (!self.errors.is_empty() && self.failures.is_empty()) {
            Next::Retry(Duration::from_secs(3))
        } else if !self.actions.is_empty() || !self.errors.is_empty() {
            // A step the chain moved on under: observe again right away.
            Next::Now
        } else {
            let bound = Duration::from_secs(30);
            Next::AwaitChange(self.requeue_within.map_or(bound, |d| d.min(bound)))
        };
        self
    }

    pub(super) fn requeue_within(&mut self, d: Duration) {
        self.requeue_within = Some(self.requeue_within.map_or(d, |old| old.min(d)));
    }
}

pub use crate::plan::steps::payload_difference;

/// Why a chaincode's definition cannot be built from its spec entry: a
/// policy that does not parse (`what` says whose), or a peer count out of
/// range. The spec is at fault; the agent cannot approve such a definition.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("{what}")]
    Policy {
        what: String,
        #[source]
        source: ConfigError,
    },
    #[error(transparent)]
    Count(#[from] std::num::TryFromIntError),
}

/// This organization's admin could not sign a config update.
#[derive(Debug, thiserror::Error)]
#[error("sign the config update as this organization's admin")]
pub struct SignError(#[source] ConfigError);

/// The `validation_parameter` for a spec's endorsement policy.
pub fn validation_parameter(cc: &Chaincode) -> Result<Vec<u8>, DefinitionError> {
    let Some(p) = &cc.endorsement_policy else {
        return Ok(Vec::new());
    };
    let text = p.text.trim();
    if text.starts_with('/') {
        return Ok(lifecycle::policy_reference(text));
    }
    let env = opssc_fabric::configtx::parse_signature_policy(text).map_err(|source| {
        DefinitionError::Policy {
            what: format!(
                "chaincode {}/{}: endorsement policy {text:?}",
                cc.channel, cc.name
            ),
            source,
        }
    })?;
    Ok(ApplicationPolicy {
        r#type: Some(application_policy::Type::SignaturePolicy(env)),
    }
    .encode_to_vec())
}

/// The definition every org approves for `cc` at `sequence`.
pub fn definition(cc: &Chaincode, sequence: u64) -> Result<ChaincodeDefinition, DefinitionError> {
    let mut def = ChaincodeDefinition::new(&cc.name, &cc.version, sequence as i64)
        .with_validation_parameter(validation_parameter(cc)?);
    def.init_required = cc.init_required;
    def.collections = collection_package(cc)?;
    Ok(def)
}

/// The private data collections of `cc` as its definition carries them
/// (static collections, member policy in signature form), sorted by name
/// so that every organization approves the same bytes; `None` without any.
pub fn collection_package(
    cc: &Chaincode,
) -> Result<Option<opssc_fabric::protos::protos::CollectionConfigPackage>, DefinitionError> {
    use opssc_fabric::protos::protos::{
        CollectionConfig, CollectionConfigPackage, CollectionPolicyConfig, StaticCollectionConfig,
        collection_config, collection_policy_config,
    };
    if cc.collections.is_empty() {
        return Ok(None);
    }
    let mut collections: Vec<&opssc_schema::spec::Collection> = cc.collections.iter().collect();
    collections.sort_by(|a, b| a.name.cmp(&b.name));
    let mut config = Vec::new();
    for c in collections {
        let text = c.policy.text.trim();
        let policy = opssc_fabric::configtx::parse_signature_policy(text).map_err(|source| {
            DefinitionError::Policy {
                what: format!(
                    "chaincode {}/{}: the member policy {text:?} of collection {}",
                    cc.channel, cc.name, c.name
                ),
                source,
            }
        })?;
        config.push(CollectionConfig {
            payload: Some(collection_config::Payload::StaticCollectionConfig(
                StaticCollectionConfig {
                    name: c.name.clone(),
                    member_orgs_policy: Some(CollectionPolicyConfig {
                        payload: Some(collection_policy_config::Payload::SignaturePolicy(policy)),
                    }),
                    required_peer_count: i32::try_from(c.required_peer_count)?,
                    maximum_peer_count: i32::try_from(c.max_peer_count)?,
                    block_to_live: c.block_to_live,
                    member_only_read: c.member_only_read,
                    member_only_write: c.member_only_write,
                    endorsement_policy: None,
                },
            )),
        });
    }
    Ok(Some(CollectionConfigPackage { config }))
}

/// One pass over `at`'s spec.
pub async fn run_pass(ctx: &Context, at: &SpecAt) -> PassReport {
    let mut report = PassReport::new();
    let result = if ctx.is_peerless() {
        peerless_pass(ctx, at, &mut report).await
    } else {
        pass(ctx, at, &mut report).await
    };
    if let Err(e) = result {
        // Typed: what happens next follows from the fault, not the text.
        report.fail("pass", &AgentError::from(e));
    }
    report.finish()
}

async fn pass(ctx: &Context, at: &SpecAt, report: &mut PassReport) -> Result<(), ObserveError> {
    let spec = &at.spec;
    let started = std::time::Instant::now();
    let (mut built, build_errors) = ctx.build_packages(spec);
    report.errors.extend(build_errors);
    let built_at = started.elapsed();
    // The orderer's newest block of each channel is read beside the
    // observation: whether the own peer has caught up is the comparison of
    // the two, and reading it after the plan cost every pass of a change
    // two more round trips.
    let (live, ordered) = tokio::join!(
        super::observe_live::live_full(ctx, spec, &built),
        ordered_heights(ctx, spec)
    );
    let super::observe_live::Live {
        observed,
        configs,
        heights,
    } = live?;
    let observed_at = started.elapsed();
    let plan = crate::plan::plan(spec, &observed, &ctx.me);
    let consent = consent(ctx, at, &observed, &plan);
    let input = PlanInput {
        spec_commit: at.git_commit(),
        vote_policy: ctx.config.vote_policy,
        // `manual`: a person votes on everything; consent decides automatic votes.
        consented: (ctx.config.vote_policy == VotePolicy::Auto).then_some(consent.ids),
        consent_missing: consent.missing,
        caught_up: caught_up(&ctx.me, spec, &observed, &plan, &heights, ordered, report),
        // Proposals filed from the trusted commit or its history are judged
        // now; from any other commit, once the spec source has it.
        seen_commits: seen_commits(ctx, at, &observed),
        config_updates: {
            let (updates, errors) =
                super::channel_changes::config_updates(ctx, at, &observed, &configs, &plan);
            report.errors.extend(errors);
            updates
        },
        vote_only: ctx.config.channel_changes == opssc_schema::local::ChannelChangePolicy::VoteOnly,
        ops_package: match super::channel_changes::opssc_package(ctx, at, &observed) {
            Ok(Some((pkg, b))) => {
                built.insert(b.label.clone(), b);
                Some(pkg)
            }
            Ok(None) => None,
            Err(e) => {
                report.fail("the OpsSC package", &AgentError::from_error(&e));
                None
            }
        },
        admission: super::channel_changes::admission(ctx, at, &observed)
            .await
            .unwrap_or_else(|e| {
                report.fail("channels to join", &AgentError::from_error(&e));
                Default::default()
            }),
        waited_ms: ctx.waited_ms(),
        turn_grace_ms: ctx.config.turn_grace_ms(),
    };
    // Channel changes (membership first: a channel change may be what a
    // chaincode waits for), joins, chaincodes and unplanned proposals: the
    // plan decides, the executor executes.
    let steps = crate::plan::steps::steps(spec, &observed, &plan, &input);
    // Where a pass's time goes before its first transaction (lead time).
    tracing::debug!(
        packages_ms = built_at.as_millis() as u64,
        observed_ms = observed_at.as_millis() as u64,
        planned_ms = started.elapsed().as_millis() as u64,
        steps = steps.steps.len(),
        "pass planned"
    );
    ctx.keep_waiting(&steps.deferred);
    for b in &steps.blocked {
        report.blocked(b);
    }
    super::execute::execute(ctx, at, &built, &steps.steps, report).await;
    report.view = Some(Box::new(super::notify::PassView {
        observed,
        plan,
        steps,
    }));
    Ok(())
}

/// The pass of an organization without peers (the orderer organization):
/// the channels as the orderer serves them and the OpsSC through its
/// `opsGateway`, planned like any agent's; its only steps add its signature
/// to approved updates that need it and submit them (the planner's
/// outside-signer steps). It files, votes and installs nothing.
async fn peerless_pass(
    ctx: &Context,
    at: &SpecAt,
    report: &mut PassReport,
) -> Result<(), ObserveError> {
    let spec = &at.spec;
    let super::observe_live::Live {
        observed, configs, ..
    } = super::observe_live::live_peerless(ctx, spec).await?;
    let plan = crate::plan::plan(spec, &observed, &ctx.me);
    let input = peerless_input(ctx, at, &observed, &configs, &plan, &mut report.errors);
    let steps = crate::plan::steps::steps(spec, &observed, &plan, &input);
    for b in &steps.blocked {
        report.blocked(b);
    }
    super::execute::execute(ctx, at, &Default::default(), &steps.steps, report).await;
    report.view = Some(Box::new(super::notify::PassView {
        observed,
        plan,
        steps,
    }));
    Ok(())
}

/// The planner's input for an organization without peers: its consent
/// (it has no vote policy: it signs only what it consented to), and the
/// updates it computes for the approved proposals it may have to sign.
/// Shared by its pass and `status`.
pub(super) fn peerless_input(
    ctx: &Context,
    at: &SpecAt,
    observed: &Observed,
    configs: &std::collections::BTreeMap<String, opssc_fabric::configtx::ChannelConfig>,
    plan: &crate::plan::Plan,
    errors: &mut Vec<String>,
) -> PlanInput {
    let consent = consent(ctx, at, observed, plan);
    let mut input = PlanInput::auto(&at.git_commit());
    input.consented = Some(consent.ids);
    input.consent_missing = consent.missing;
    let (updates, update_errors) =
        super::channel_changes::config_updates(ctx, at, observed, configs, plan);
    errors.extend(update_errors);
    input.config_updates = updates;
    input
}

/// This organization's consent to each proposal of `plan`: its consented
/// spec (own admins' signed commits and approvals) or its agent
/// configuration's auto-approve rules. Shared by the pass and `status`.
pub(super) fn consent(
    ctx: &Context,
    at: &SpecAt,
    observed: &Observed,
    plan: &crate::plan::Plan,
) -> crate::consent::Consent {
    let commit = at.commit.map(|c| c.to_string());
    crate::consent::consent_to_plan(
        plan,
        observed,
        &at.consented_plan(observed, &ctx.me),
        &ctx.config.auto_approve,
        &ctx.me,
        commit.as_deref(),
    )
}

/// The spec commits of open proposals that are the trusted commit's
/// ancestors in the agent's spec mirror (with the trusted commits since the
/// root): the history this organization has seen.
pub(super) fn seen_commits(
    ctx: &Context,
    at: &SpecAt,
    observed: &Observed,
) -> std::collections::BTreeSet<String> {
    let mut out: std::collections::BTreeSet<String> =
        at.signers.iter().map(|(c, _)| c.to_string()).collect();
    let Some(head) = at.commit else {
        return out;
    };
    let Ok(repo) = git2::Repository::open_bare(ctx.state_dir.join("spec-mirror")) else {
        return out;
    };
    let mut missing = ctx
        .missing_commits
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for commit in observed
        .proposals
        .iter()
        .filter_map(|o| o.spec_commit.as_deref())
    {
        let Ok(oid) = git2::Oid::from_str(commit) else {
            // Not even a commit hash: no spec can stand behind it.
            out.insert(commit.to_string());
            continue;
        };
        if oid == head || repo.graph_descendant_of(head, oid).unwrap_or(false) {
            out.insert(commit.to_string());
        } else if repo.find_commit(oid).is_err() {
            // Not on the spec branch as this mirror has it. An honest agent
            // that verified a newer commit first may be one poll ahead, so
            // the commit gets a grace period; after it, the proposal is
            // judged against this organization's spec like any other (a
            // member cannot escape the reject by citing a made-up commit).
            let first = *missing
                .entry(commit.to_string())
                .or_insert_with(Instant::now);
            if first.elapsed() >= missing_commit_grace(ctx) {
                out.insert(commit.to_string());
            }
        }
    }
    out
}

/// How long a cited spec commit may be missing from the mirror before the
/// proposal citing it is judged anyway: two git polls, at least 10 s.
pub(super) fn missing_commit_grace(ctx: &Context) -> Duration {
    let poll = match &ctx.config.spec {
        Some(opssc_schema::local::SpecSource::Git { poll_seconds, .. }) => {
            poll_seconds.unwrap_or(5)
        }
        _ => 5,
    };
    Duration::from_secs((2 * poll).max(10))
}

/// Per channel of the spec this organization is a member of and that has
/// chaincodes: the height of the channel at the orderer (None: no orderer is
/// configured), or why it could not be read.
async fn ordered_heights(
    ctx: &Context,
    spec: &opssc_schema::Spec,
) -> BTreeMap<String, Result<Option<u64>, super::channel_changes::ChannelChangeError>> {
    let channels: std::collections::BTreeSet<&String> = spec
        .chaincodes
        .keys()
        .map(|(channel, _)| channel)
        .filter(|c| spec.channels[*c].members.contains(&ctx.me))
        .collect();
    let reads = channels.into_iter().map(|channel| async move {
        (
            channel.clone(),
            super::channel_changes::ordered_height(ctx, channel).await,
        )
    });
    futures::future::join_all(reads).await.into_iter().collect()
}

/// Per channel of a chaincode proposal in `plan`: whether `me`'s main peer
/// had every block the orderer had (`heights` from the observation,
/// `ordered` read beside it). A channel not read counts as not caught up, and
/// its failure is reported.
fn caught_up(
    me: &str,
    spec: &opssc_schema::Spec,
    observed: &Observed,
    plan: &crate::plan::Plan,
    heights: &BTreeMap<String, u64>,
    mut ordered: BTreeMap<String, Result<Option<u64>, super::channel_changes::ChannelChangeError>>,
    report: &mut PassReport,
) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for p in plan.proposals.iter().filter(|p| p.kind.is_chaincode()) {
        let channel = &p.target.channel;
        if out.contains_key(channel)
            || !observed.channels.contains_key(channel)
            || !spec.channels[channel].members.iter().any(|m| m == me)
        {
            continue;
        }
        let ok = match ordered.remove(channel) {
            Some(Ok(None)) => true,
            Some(Ok(Some(at_orderer))) => heights.get(channel).is_some_and(|h| *h >= at_orderer),
            Some(Err(e)) => {
                report.fail(&format!("channel {channel}"), &AgentError::from_error(&e));
                false
            }
            None => false,
        };
        out.insert(channel.clone(), ok);
    }
    out
}

/// This org admin's ConfigSignature over `config_update`, as the contract stores it.
pub(super) fn config_signature(
    ctx: &Context,
    config_update: &[u8],
) -> Result<ConfigSignatureB64, SignError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sig = opssc_fabric::configtx::sign::sign_update(ctx.signer.as_ref(), config_update)
        .map_err(SignError)?;
    Ok(ConfigSignatureB64 {
        signature_header: b64.encode(&sig.signature_header),
        signature: b64.encode(&sig.signature),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opssc_schema::{PackageSource, PolicyText};
    use serde_json::json;

    /// The own peer is caught up with the orderer when its height (read by
    /// the observation) reaches the orderer's (read beside it); a failed or
    /// missing orderer read is not caught up, and a failure is reported.
    #[test]
    fn caught_up_compares_the_observed_height_with_the_orderers() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        let spec = opssc_schema::load_dir(&dir).spec.unwrap();
        let mut observed = crate::observe::converged(&spec, "Org1MSP");
        let (channel, name) = spec.chaincodes.keys().next().unwrap().clone();
        observed
            .chaincodes
            .get_mut(&Observed::chaincode_key(&channel, &name))
            .unwrap()
            .version = "0.9".into();
        let plan = crate::plan::plan(&spec, &observed, "Org1MSP");
        assert!(plan.proposals.iter().any(|p| p.kind.is_chaincode()));
        let check = |height: Option<u64>,
                     ordered: Option<
            Result<Option<u64>, super::super::channel_changes::ChannelChangeError>,
        >| {
            let heights: BTreeMap<String, u64> =
                height.map(|h| (channel.clone(), h)).into_iter().collect();
            let ordered = ordered.map(|o| (channel.clone(), o)).into_iter().collect();
            let mut report = PassReport::new();
            let out = caught_up(
                "Org1MSP",
                &spec,
                &observed,
                &plan,
                &heights,
                ordered,
                &mut report,
            );
            (out[&channel], report.errors.len())
        };
        assert_eq!(check(Some(12), Some(Ok(Some(12)))), (true, 0));
        assert_eq!(check(Some(13), Some(Ok(Some(12)))), (true, 0));
        assert_eq!(check(Some(11), Some(Ok(Some(12)))), (false, 0));
        assert_eq!(check(None, Some(Ok(Some(12)))), (false, 0));
        assert_eq!(check(Some(11), Some(Ok(None))), (true, 0));
        assert_eq!(check(Some(12), None), (false, 0));
        let refused = super::super::channel_changes::ChannelChangeError::NoChannel {
            channel: channel.clone(),
        };
        assert_eq!(check(Some(12), Some(Err(refused))), (false, 1));
    }

    fn kv(policy: Option<&str>) -> Chaincode {
        Chaincode {
            name: "kv".into(),
            channel: "trade".into(),
            version: "1.0".into(),
            label: "kv_1.0".into(),
            package: PackageSource::Ccaas {
                artifact: None,
                tls: false,
            },
            endorsement_policy: policy.map(|t| PolicyText {
                text: t.to_string(),
                parsed: opssc_schema::policy::parse_policy(t, true).unwrap(),
            }),
            collections: Vec::new(),
            init_required: false,
        }
    }

    #[test]
    fn signature_policy_round_trips_through_the_definition() {
        let text = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";
        let def = definition(&kv(Some(text)), 3).unwrap();
        assert_eq!(def.sequence, 3);
        let back = super::super::observe_live::policy_text(&def.validation_parameter);
        assert!(
            crate::plan::desired::same_policy(&back, text),
            "{back} vs {text}"
        );
    }

    /// The collections a definition carries read back (as the observation
    /// decodes them) as the very collections the plan wants: no drift.
    #[test]
    fn collections_round_trip_through_the_definition() {
        let collection = |name: &str, policy: &str, read: bool| opssc_schema::spec::Collection {
            name: name.into(),
            policy: PolicyText {
                text: policy.into(),
                parsed: opssc_schema::policy::parse_policy(policy, true).unwrap(),
            },
            required_peer_count: 1,
            max_peer_count: 2,
            block_to_live: 100,
            member_only_read: read,
            member_only_write: false,
        };
        let mut cc = kv(None);
        cc.collections = vec![
            collection("zeta", "OR('Org1MSP.member', 'Org2MSP.member')", true),
            collection("alpha", "OR('Org3MSP.member')", false),
        ];
        let def = definition(&cc, 1).unwrap();
        let back = super::super::observe_live::collections(def.collections.as_ref());
        assert_eq!(
            back.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["alpha", "zeta"]
        );
        assert!(
            crate::plan::desired::same_collections(&back, &crate::plan::desired::collections(&cc)),
            "{back:?}"
        );
        assert!(back[1].member_only_read && back[1].block_to_live == 100);
        assert!(definition(&kv(None), 1).unwrap().collections.is_none());
        cc.collections[0].policy.text = "not a policy".into();
        assert!(definition(&cc, 1).is_err());
    }

    #[test]
    fn no_policy_means_the_channel_default() {
        let def = definition(&kv(None), 1).unwrap();
        assert!(def.validation_parameter.is_empty());
        assert_eq!(
            super::super::observe_live::policy_text(&def.validation_parameter),
            lifecycle::DEFAULT_ENDORSEMENT_POLICY
        );
        let def = definition(&kv(Some("/Channel/Application/Writers")), 1).unwrap();
        assert_eq!(
            super::super::observe_live::policy_text(&def.validation_parameter),
            "/Channel/Application/Writers"
        );
    }

    #[test]
    fn a_payload_difference_names_each_field() {
        let chain =
            json!({"name": "kv", "version": "1.0", "package_id": "kv_1.0:aa", "summary": "x"});
        let mine = json!({"name": "kv", "version": "1.0", "package_id": "kv_1.0:bb"});
        let d = payload_difference(&chain, &mine);
        assert_eq!(
            d,
            "package mismatch: the proposal installs kv_1.0:aa, this organization builds kv_1.0:bb; package_id: proposed \"kv_1.0:aa\", this organization computes \"kv_1.0:bb\""
        );
        let src = json!({"git": "https://bot:pw@git.example.com/cc.git", "commit": "c".repeat(40), "path": "cc"});
        let chain =
            json!({"name": "cc", "package_id": "cc_1:aa", "package_hash": "aa", "source": src});
        let mine =
            json!({"name": "cc", "package_id": "cc_1:bb", "package_hash": "bb", "source": src});
        let d = payload_difference(&chain, &mine);
        assert!(
            d.starts_with(&format!(
                "package mismatch: the proposal installs cc_1:aa, this organization builds cc_1:bb from https://***@git.example.com/cc.git at commit {}; ",
                "c".repeat(40)
            )),
            "{d}"
        );
        assert!(
            d.contains("package_hash: proposed \"aa\", this organization computes \"bb\""),
            "{d}"
        );
        assert!(!d.contains("pw@"), "{d}");
        let same = json!({"name": "cc", "version": "1"});
        assert_eq!(
            payload_difference(&same, &json!({"name": "cc", "version": "2"})),
            "version: proposed \"1\", this organization computes \"2\""
        );
    }

    #[test]
    fn the_pass_reports_what_happens_next() {
        let mut r = PassReport::new();
        r.requeue_within(Duration::from_secs(2));
        assert_eq!(
            r.clone().finish().next,
            Next::AwaitChange(Duration::from_secs(2))
        );
        r.actions.push("x".into());
        assert_eq!(r.clone().finish().next, Next::Now);
        r.errors.push("y".into());
        assert!(matches!(r.finish().next, Next::Retry(_)));
    }

    #[test]
    fn the_next_pass_follows_from_the_failed_steps_types() {
        use super::super::error::contract_refusal;
        let call = |fault, text: &str| AgentError::Call {
            message: text.into(),
            fault,
            refusal: contract_refusal(text),
        };
        // The chain moved on under a step: observe again right away.
        let mut r = PassReport::new();
        r.fail(
            "kv",
            &call(
                opssc_fabric::Fault::Rejected,
                "conflict: proposal p is approved: votes are closed",
            ),
        );
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.finish().next, Next::Now);
        // A network hiccup: retry soon.
        let mut r = PassReport::new();
        r.fail("kv", &call(opssc_fabric::Fault::Transient, "unavailable"));
        assert!(matches!(r.finish().next, Next::Retry(_)));
        // A refusal the same call cannot overcome: stalled, with its reason.
        let mut r = PassReport::new();
        r.fail(
            "kv",
            &call(
                opssc_fabric::Fault::Rejected,
                "forbidden: Org3MSP may not vote: not in the electorate",
            ),
        );
        assert!(r.errors.is_empty());
        assert!(
            r.stalled[0].contains("Org3MSP may not vote"),
            "{:?}",
            r.stalled
        );
        assert!(matches!(r.finish().next, Next::AwaitChange(_)));
    }
}
