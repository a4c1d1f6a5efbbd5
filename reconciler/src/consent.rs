//! Consent per organization: whether *this* organization agreed to a shared
//! change, so that no single administrator moves the consortium.
//!
//! An agent approves a shared change (a chaincode definition, channel
//! membership, policies, batch, consenters, governance) only when its own
//! organization consented to it, in one of four ways:
//!
//! 1. one of its own admins signed the spec commit that made the change, or
//! 2. one of its own admins signed an approval of that commit's spec tree in
//!    git (`opssc approve`) — both give the *consented spec*: the newest
//!    commit of the trusted chain its admins vouched for
//!    ([`crate::source::consented`]);
//! 3. the change matches an auto-approve rule of the organization's own agent
//!    configuration ([`AutoApproveRule`], never in the shared spec);
//! 4. a person runs `opssc vote` (outside the agent: nothing to decide
//!    here). The vote carries no signature; for a config kind the agent
//!    signs the update once the proposal is approved, only for the
//!    proposal of the bytes it computes itself (`plan::steps`, the `Sign`
//!    step), so a misled person's vote on other bytes gets no signature.
//!
//! [`consent_for`] is the pure decision: a proposal the trusted spec's plan
//! calls for is consented when the consented spec's plan (against the same
//! observation) calls for the same proposal — same kind, target and intent,
//! the same deterministic ID — *and* the spec documents the change is built
//! from are the same in both specs (the chaincode's document for chaincode
//! kinds, the organizations' documents for membership and consenters), so an
//! intent that looks the same cannot carry other code or certificates.
//!
//! Key decision: consent is data for the planner's vote step, never a side
//! effect: [`ConsentVerdict::Missing`] says whose consent is missing and what
//! to run, for `status` and `plan` to show.
//!
//! [`consent_to_plan`] applies it to a whole plan: the agent's pass and
//! `opssc status` (one function, so they say the same) put the consented IDs
//! into the planner's `PlanInput.consented` and the missing consents into
//! `PlanInput.consent_missing`, which a waiting vote quotes. A proposal
//! already on the chain is judged with its proposer (auto-approve rules may
//! name it) and by its contract ID, which for config kinds is known only
//! once filed. `votePolicy: manual` leaves `consented` unset: a person votes.

use std::collections::BTreeSet;

use opssc_chaincode::model::{Kind, Target};
use opssc_schema::Spec;
use opssc_schema::local::AutoApproveRule;

use crate::plan::{Plan, PlannedProposal};

/// What the consented spec's plan allows: the proposal IDs it produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentedPlan {
    /// The consented commit, for messages (None for a directory spec).
    pub commit: Option<String>,
    /// How the organization consented ("signed by Org1MSP/alice", ...).
    pub how: String,
    /// Intent IDs and contract IDs of the consented plan's proposals whose
    /// inputs are the same in the trusted spec.
    pub ids: BTreeSet<String>,
}

impl ConsentedPlan {
    /// From the plan of the consented spec (`crate::plan::plan(consented,
    /// observed, me)`), keeping the proposals whose inputs the trusted spec
    /// did not change since.
    pub fn new(
        plan: &Plan,
        consented: &Spec,
        trusted: &Spec,
        commit: Option<String>,
        how: impl Into<String>,
    ) -> ConsentedPlan {
        let mut ids = BTreeSet::new();
        for p in &plan.proposals {
            if !same_inputs(p.kind, &p.target, p.org.as_deref(), consented, trusted) {
                continue;
            }
            ids.insert(p.intent_id.clone());
            if let Some(id) = &p.proposal_id {
                ids.insert(id.clone());
            }
        }
        ConsentedPlan {
            commit,
            how: how.into(),
            ids,
        }
    }

    /// Everything is consented: a directory spec (the operator who points
    /// the agent at a directory consents to it).
    pub fn whole(plan: &Plan) -> ConsentedPlan {
        let mut ids = BTreeSet::new();
        for p in &plan.proposals {
            ids.insert(p.intent_id.clone());
            if let Some(id) = &p.proposal_id {
                ids.insert(id.clone());
            }
        }
        ConsentedPlan {
            commit: None,
            how: "the spec directory this agent was given".into(),
            ids,
        }
    }
}

/// Whether the spec documents a proposal is built from are equal in both specs.
fn same_inputs(kind: Kind, target: &Target, org: Option<&str>, a: &Spec, b: &Spec) -> bool {
    let same_org = |msp: &str| a.organizations.get(msp) == b.organizations.get(msp);
    let orderer_orgs = || {
        crate::plan::desired::orderer_orgs(a)
            .into_iter()
            .chain(crate::plan::desired::orderer_orgs(b))
            .collect::<BTreeSet<String>>()
    };
    match kind {
        Kind::ChaincodeDeploy | Kind::ChaincodeUpgrade => {
            let Some(name) = &target.chaincode else {
                return false;
            };
            let key = (target.channel.clone(), name.clone());
            a.chaincodes.get(&key) == b.chaincodes.get(&key)
        }
        Kind::OrgAdd => org.is_some_and(same_org),
        Kind::ChannelCreate => {
            let members: BTreeSet<&String> = [a, b]
                .iter()
                .filter_map(|s| s.channels.get(&target.channel))
                .flat_map(|c| c.members.iter())
                .collect();
            members.iter().all(|m| same_org(m)) && orderer_orgs().iter().all(|o| same_org(o))
        }
        Kind::ChannelUpdate => orderer_orgs().iter().all(|o| same_org(o)),
        Kind::OrgRemove | Kind::GovernanceChange | Kind::RegistryChange => true,
    }
}

/// A proposal to decide on, as the trusted spec's plan has it, with who
/// filed it on the OpsSC chaincode (when it is there).
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub proposal: &'a PlannedProposal,
    /// The organization that filed it; None while it is not filed.
    pub proposer: Option<&'a str>,
}

/// How an organization consented, or what is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentVerdict {
    Given { how: String },
    Missing { who: String, what_to_do: String },
}

impl ConsentVerdict {
    pub fn is_given(&self) -> bool {
        matches!(self, ConsentVerdict::Given { .. })
    }
}

/// Whether organization `me` consented to `asked`: through its consented
/// spec, or one of its auto-approve rules. `trusted_commit` is the commit the
/// agent acts on (named in the hint).
pub fn consent_for(
    asked: Asked,
    consented: &ConsentedPlan,
    rules: &[AutoApproveRule],
    me: &str,
    trusted_commit: Option<&str>,
) -> ConsentVerdict {
    let p = asked.proposal;
    if consented.ids.contains(&p.intent_id)
        || p.proposal_id
            .as_ref()
            .is_some_and(|id| consented.ids.contains(id))
    {
        let at = consented
            .commit
            .as_deref()
            .map(|c| format!(" at {}", &c[..c.len().min(12)]))
            .unwrap_or_default();
        return ConsentVerdict::Given {
            how: format!("the spec {me} consented to{at} ({})", consented.how),
        };
    }
    if let Some(rule) = rules
        .iter()
        .find(|r| rule_matches(r, p.kind, &p.target, asked.proposer))
    {
        return ConsentVerdict::Given {
            how: format!("auto-approve rule {}", describe_rule(rule)),
        };
    }
    let commit = trusted_commit
        .map(|c| c[..c.len().min(12)].to_string())
        .unwrap_or_else(|| "COMMIT".into());
    ConsentVerdict::Missing {
        who: me.to_string(),
        what_to_do: format!(
            "{kind} on {target}: waiting for {me}'s consent — an admin of {me} approves spec commit {commit} \
             (`opssc approve {commit}`, then push the approval), or votes by hand (`opssc vote {id} approve`), \
             or {me}'s agent configuration gets an autoApprove rule for it",
            kind = p.kind.as_str(),
            target = describe_target(&p.target),
            id = p.id(),
        ),
    }
}

/// This organization's consent to every proposal of a plan: the planner's
/// [`crate::plan::steps::PlanInput`] `consented` set and, for each proposal
/// it may not approve yet, what is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consent {
    /// Consented proposals: their intent IDs, planned contract IDs and the
    /// IDs of the open proposals on the chain that file them.
    pub ids: BTreeSet<String>,
    /// By the same IDs: whose consent is missing and what to run.
    pub missing: std::collections::BTreeMap<String, String>,
}

/// [`consent_for`] over every proposal of `plan`, and over every open
/// proposal on the chain that files one of them (with its proposer, which
/// auto-approve rules may name). Pure: the agent's pass and `opssc status`
/// both call it, so they say the same.
pub fn consent_to_plan(
    plan: &Plan,
    observed: &crate::observe::Observed,
    consented: &ConsentedPlan,
    rules: &[AutoApproveRule],
    me: &str,
    trusted_commit: Option<&str>,
) -> Consent {
    let mut out = Consent::default();
    for p in &plan.proposals {
        // The open proposals on the chain for this change, by who filed them.
        let filed: Vec<(&str, Option<&str>)> = observed
            .proposals
            .iter()
            .filter(|o| {
                o.state == opssc_chaincode::model::ProposalState::Proposed
                    && o.kind == p.kind
                    && o.target == p.target
                    && (p.org.is_none() || o.org == p.org)
            })
            .map(|o| (o.id.as_str(), o.open.as_ref().map(|d| d.proposer.as_str())))
            .collect();
        let mut record = |ids: &[&str], verdict: ConsentVerdict| {
            for id in ids {
                match &verdict {
                    ConsentVerdict::Given { .. } => {
                        out.ids.insert(id.to_string());
                    }
                    ConsentVerdict::Missing { what_to_do, .. } => {
                        out.missing.insert(id.to_string(), what_to_do.clone());
                    }
                }
            }
        };
        let planned: Vec<&str> = std::iter::once(p.intent_id.as_str())
            .chain(p.proposal_id.as_deref())
            .collect();
        let unfiled = Asked {
            proposal: p,
            proposer: None,
        };
        record(
            &planned,
            consent_for(unfiled, consented, rules, me, trusted_commit),
        );
        for (id, proposer) in filed {
            let asked = Asked {
                proposal: p,
                proposer,
            };
            record(
                &[id],
                consent_for(asked, consented, rules, me, trusted_commit),
            );
        }
    }
    out
}

fn describe_target(t: &Target) -> String {
    match &t.chaincode {
        Some(cc) => format!("{}/{cc}", t.channel),
        None => format!("channel {}", t.channel),
    }
}

/// Whether `rule` covers a proposal of `kind` on `target` filed by `proposer`.
pub fn rule_matches(
    rule: &AutoApproveRule,
    kind: Kind,
    target: &Target,
    proposer: Option<&str>,
) -> bool {
    let listed = |list: &[String], value: Option<&str>| {
        list.is_empty() || value.is_some_and(|v| list.iter().any(|x| x == v))
    };
    rule.kinds.iter().any(|k| k == kind.as_str())
        && listed(&rule.channels, Some(&target.channel))
        && listed(&rule.chaincodes, target.chaincode.as_deref())
        && listed(&rule.proposed_by, proposer)
}

/// The rule's name, or its fields.
pub fn describe_rule(rule: &AutoApproveRule) -> String {
    if let Some(name) = &rule.name {
        return format!("{name:?}");
    }
    let mut parts = vec![rule.kinds.join("/")];
    if !rule.channels.is_empty() {
        parts.push(format!("on {}", rule.channels.join(", ")));
    }
    if !rule.chaincodes.is_empty() {
        parts.push(format!("of {}", rule.chaincodes.join(", ")));
    }
    if !rule.proposed_by.is_empty() {
        parts.push(format!("proposed by {}", rule.proposed_by.join(", ")));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::converged;
    use crate::plan::plan;

    fn reference() -> Spec {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        opssc_schema::load_dir(&dir)
            .spec
            .expect("the reference spec is valid")
    }

    /// The reference spec with chaincode `kv`'s version set to `version`.
    fn with_version(mut spec: Spec, version: &str) -> Spec {
        let cc = spec
            .chaincodes
            .values_mut()
            .next()
            .expect("the reference spec has a chaincode");
        cc.version = version.into();
        spec
    }

    fn rule(kinds: &[&str], channels: &[&str], proposed_by: &[&str]) -> AutoApproveRule {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        AutoApproveRule {
            name: None,
            kinds: v(kinds),
            channels: v(channels),
            chaincodes: Vec::new(),
            proposed_by: v(proposed_by),
        }
    }

    /// An upgrade of the reference chaincode: (trusted spec, its plan).
    fn upgrade() -> (Spec, Spec, Plan) {
        let before = reference();
        let observed = converged(&before, "Org2MSP");
        let trusted = with_version(before.clone(), "9.9");
        let p = plan(&trusted, &observed, "Org2MSP");
        assert_eq!(p.proposals.len(), 1, "{:#?}", p.proposals);
        assert_eq!(p.proposals[0].kind, Kind::ChaincodeUpgrade);
        (before, trusted, p)
    }

    #[test]
    fn a_change_the_consented_spec_calls_for_is_consented() {
        let (_, trusted, tip_plan) = upgrade();
        let observed = converged(&reference(), "Org2MSP");
        let consented_plan = plan(&trusted, &observed, "Org2MSP");
        let consented = ConsentedPlan::new(
            &consented_plan,
            &trusted,
            &trusted,
            Some("ab".repeat(20)),
            "signed by Org2MSP/bob",
        );
        let asked = Asked {
            proposal: &tip_plan.proposals[0],
            proposer: Some("Org1MSP"),
        };
        let v = consent_for(asked, &consented, &[], "Org2MSP", None);
        assert_eq!(
            v,
            ConsentVerdict::Given {
                how: "the spec Org2MSP consented to at abababababab (signed by Org2MSP/bob)".into()
            }
        );
    }

    #[test]
    fn a_change_only_another_organization_signed_waits_for_consent() {
        let (before, trusted, tip_plan) = upgrade();
        let observed = converged(&before, "Org2MSP");
        // Org2 consented only to the spec before the upgrade: its plan is empty.
        let consented = ConsentedPlan::new(
            &plan(&before, &observed, "Org2MSP"),
            &before,
            &trusted,
            None,
            "root",
        );
        let asked = Asked {
            proposal: &tip_plan.proposals[0],
            proposer: Some("Org1MSP"),
        };
        let commit = "cd".repeat(20);
        match consent_for(asked, &consented, &[], "Org2MSP", Some(&commit)) {
            ConsentVerdict::Missing { who, what_to_do } => {
                assert_eq!(who, "Org2MSP");
                assert!(
                    what_to_do.contains("opssc approve cdcdcdcdcdcd"),
                    "{what_to_do}"
                );
                assert!(what_to_do.contains("ChaincodeUpgrade"), "{what_to_do}");
                assert!(what_to_do.contains(&format!("opssc vote {}", tip_plan.proposals[0].id())));
            }
            v => panic!("expected Missing, got {v:?}"),
        }
    }

    #[test]
    fn the_same_intent_with_another_chaincode_document_is_not_consented() {
        let (before, trusted, tip_plan) = upgrade();
        let observed = converged(&before, "Org2MSP");
        // Org2 consented to version 9.9 built from other code: the intent is
        // the same (label and definition), the chaincode document is not.
        let mut consented_spec = trusted.clone();
        let cc = consented_spec.chaincodes.values_mut().next().unwrap();
        cc.package = opssc_schema::PackageSource::Source {
            git: "https://git.example.com/other.git".into(),
            commit: "ef".repeat(20),
            path: ".".into(),
            language: "golang".into(),
        };
        let consented_plan = plan(&consented_spec, &observed, "Org2MSP");
        assert_eq!(
            consented_plan.proposals[0].intent_id, tip_plan.proposals[0].intent_id,
            "the test needs an intent that looks the same"
        );
        let consented = ConsentedPlan::new(&consented_plan, &consented_spec, &trusted, None, "x");
        let asked = Asked {
            proposal: &tip_plan.proposals[0],
            proposer: None,
        };
        assert!(!consent_for(asked, &consented, &[], "Org2MSP", None).is_given());
        // And with the very same document it is.
        let same = ConsentedPlan::new(
            &plan(&trusted, &observed, "Org2MSP"),
            &trusted,
            &trusted,
            None,
            "x",
        );
        assert!(consent_for(asked, &same, &[], "Org2MSP", None).is_given());
    }

    #[test]
    fn consent_to_a_plan_covers_filed_proposals_by_their_proposer() {
        let (before, _, tip_plan) = upgrade();
        let mut observed = converged(&before, "Org2MSP");
        let p = &tip_plan.proposals[0];
        let filed: crate::observe::ProposalSummary = serde_json::from_value(serde_json::json!({
            "id": "filed-by-org1",
            "kind": "ChaincodeUpgrade",
            "target": p.target,
            "state": "proposed",
            "open": {"proposer": "Org1MSP", "payload": {}},
        }))
        .unwrap();
        observed.proposals.push(filed);
        let nothing = ConsentedPlan::new(
            &plan(&before, &observed, "Org2MSP"),
            &before,
            &before,
            None,
            "root",
        );
        let commit = "ef".repeat(20);
        // No consent: every ID says what is missing, none is consented.
        let c = consent_to_plan(
            &tip_plan,
            &observed,
            &nothing,
            &[],
            "Org2MSP",
            Some(&commit),
        );
        assert!(c.ids.is_empty(), "{c:?}");
        for id in [p.intent_id.as_str(), p.id(), "filed-by-org1"] {
            assert!(
                c.missing[id].contains("opssc approve efefefefefef"),
                "{id}: {c:?}"
            );
        }
        // A rule for upgrades proposed by Org1 consents to Org1's filing
        // only: the same change not filed yet has no proposer to match.
        let rules = [rule(&["ChaincodeUpgrade"], &[], &["Org1MSP"])];
        let c = consent_to_plan(&tip_plan, &observed, &nothing, &rules, "Org2MSP", None);
        assert_eq!(c.ids, ["filed-by-org1".to_string()].into(), "{c:?}");
        assert!(c.missing.contains_key(&p.intent_id));
        // A rule for any proposer consents to all of it.
        let rules = [rule(&["ChaincodeUpgrade"], &[], &[])];
        let c = consent_to_plan(&tip_plan, &observed, &nothing, &rules, "Org2MSP", None);
        assert!(c.missing.is_empty(), "{c:?}");
        assert!(c.ids.contains("filed-by-org1") && c.ids.contains(&p.intent_id));
    }

    #[test]
    fn auto_approve_rules_match_kind_channel_and_proposer() {
        let (before, trusted, tip_plan) = upgrade();
        let observed = converged(&before, "Org2MSP");
        let nothing = ConsentedPlan::new(
            &plan(&before, &observed, "Org2MSP"),
            &before,
            &trusted,
            None,
            "root",
        );
        let p = &tip_plan.proposals[0];
        let channel = p.target.channel.as_str();
        let by = |proposer| Asked {
            proposal: p,
            proposer,
        };
        let upgrades_by_org1 = rule(&["ChaincodeUpgrade"], &[channel], &["Org1MSP"]);
        let v = consent_for(
            by(Some("Org1MSP")),
            &nothing,
            std::slice::from_ref(&upgrades_by_org1),
            "Org2MSP",
            None,
        );
        assert_eq!(
            v,
            ConsentVerdict::Given {
                how: format!("auto-approve rule ChaincodeUpgrade on {channel} proposed by Org1MSP")
            }
        );
        // Another proposer, another channel, another kind, or no proposer yet: no.
        let rules = [upgrades_by_org1];
        assert!(!consent_for(by(Some("Org3MSP")), &nothing, &rules, "Org2MSP", None).is_given());
        assert!(!consent_for(by(None), &nothing, &rules, "Org2MSP", None).is_given());
        let elsewhere = [rule(&["ChaincodeUpgrade"], &["other"], &[])];
        assert!(
            !consent_for(by(Some("Org1MSP")), &nothing, &elsewhere, "Org2MSP", None).is_given()
        );
        let deploys = [rule(&["ChaincodeDeploy"], &[], &[])];
        assert!(!consent_for(by(Some("Org1MSP")), &nothing, &deploys, "Org2MSP", None).is_given());
        let any_upgrade = [rule(&["ChaincodeUpgrade"], &[], &[])];
        assert!(consent_for(by(None), &nothing, &any_upgrade, "Org2MSP", None).is_given());
    }
}
