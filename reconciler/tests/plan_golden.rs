//! Golden tests of the planner and of `opssc plan` / `opssc state`.
//!
//! Each directory under `tests/golden/` is a case: the desired spec (a `spec/`
//! directory, or `spec.txt` naming a spec directory relative to the repository
//! root), the observed state `observed.json`, and the expected text and
//! Markdown plans `expected.txt` / `expected.md` (planned for the state's
//! observer; the spec hash is redacted so unrelated edits to a spec's comments
//! do not churn the snapshots). `OPSSC_UPDATE_SNAPSHOTS=1 cargo test -p opssc
//! --test plan_golden` rewrites the snapshots; review the diff before committing.
//!
//! The catalogue must cover every change kind, every risk kind and every
//! local action: a test fails when one is missing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use opssc::observe::{self, Observed};
use opssc::plan::{self, LocalAction, Plan, RiskKind, render};
use opssc_schema::{OrgRole, Spec};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn cases() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(golden())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("observed.json").exists())
        .collect();
    out.sort();
    out
}

fn spec_dir(case: &Path) -> PathBuf {
    if case.join("spec").is_dir() {
        case.join("spec")
    } else {
        let rel = std::fs::read_to_string(case.join("spec.txt")).unwrap();
        repo().join(rel.trim())
    }
}

fn load_spec(dir: &Path) -> Spec {
    let loaded = opssc_schema::load_dir(dir);
    match loaded.spec {
        Some(s) => s,
        None => panic!(
            "spec {} is invalid:\n{}",
            dir.display(),
            loaded.report.render()
        ),
    }
}

fn case_plan(case: &Path) -> (Spec, Observed, Plan) {
    let spec = load_spec(&spec_dir(case));
    let observed = observe::load_file(&case.join("observed.json")).unwrap();
    let mut p = plan::plan(&spec, &observed, &observed.observed_by);
    p.spec_hash = "<spec-hash>".into();
    (spec, observed, p)
}

/// Compares `actual` with the snapshot (or rewrites it); returns a failure message.
fn check_snapshot(path: &Path, actual: &str) -> Option<String> {
    if std::env::var("OPSSC_UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::write(path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        return None;
    }
    let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
        .unified_diff()
        .header("expected", "actual")
        .to_string();
    Some(format!(
        "{} differs (OPSSC_UPDATE_SNAPSHOTS=1 rewrites it):\n{diff}",
        path.display()
    ))
}

#[test]
fn golden_plans_match_their_snapshots() {
    let mut failures = Vec::new();
    for case in cases() {
        let (spec, observed, p) = case_plan(&case);
        // Deterministic: the same inputs give the same plan.
        let mut again = plan::plan(&spec, &observed, &observed.observed_by);
        again.spec_hash = "<spec-hash>".into();
        assert_eq!(p, again, "{}: planning twice differs", case.display());
        // The JSON form is the plan, losslessly.
        let back: Plan = serde_json::from_str(&render::json(&p)).unwrap();
        assert_eq!(back, p, "{}: JSON round trip", case.display());
        failures.extend(check_snapshot(
            &case.join("expected.txt"),
            &render::text(&p),
        ));
        failures.extend(check_snapshot(
            &case.join("expected.md"),
            &render::markdown(&p),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The planning input of a case: `input.json` if present, else automatic
/// votes with every peer caught up.
fn case_input(case: &Path) -> plan::steps::PlanInput {
    match std::fs::read_to_string(case.join("input.json")) {
        Ok(text) => serde_json::from_str(&text).unwrap(),
        Err(_) => plan::steps::PlanInput::auto(&"0".repeat(40)),
    }
}

fn case_steps(case: &Path) -> plan::steps::Steps {
    let (spec, observed, p) = case_plan(case);
    plan::steps::steps(&spec, &observed, &p, &case_input(case))
}

/// The orderer organization's side of an approved update that needs its
/// signature (steps-config-submit seen by OrdererMSP): it votes on nothing,
/// and adds its signature and submits only what it consented to, against
/// the channel's current config. The members' executor waits for it rather
/// than stalling; an update needing an organization that is neither a
/// voter nor an orderer organization still stalls.
#[test]
fn the_orderer_organization_signs_and_submits_only_consented_current_updates() {
    use plan::steps::{Step, SubmitCheck};
    let dir = golden().join("steps-config-submit");
    let spec = load_spec(&spec_dir(&dir));
    let mut observed = observe::load_file(&dir.join("observed.json")).unwrap();
    observed.observed_by = "OrdererMSP".into();
    let p = plan::plan(&spec, &observed, "OrdererMSP");
    let mut input = case_input(&dir);
    let (intent, cu) = input.config_updates.iter_mut().next().unwrap();
    let intent = intent.clone();
    let members = match cu.submit.take() {
        Some(SubmitCheck::Ready { signatures }) => signatures,
        other => panic!("{other:?}"),
    };
    cu.submit = Some(SubmitCheck::SignAndSubmit {
        signatures: members.clone(),
    });
    let steps_with = |input: &plan::steps::PlanInput, observed: &Observed| {
        plan::steps::steps(&spec, observed, &p, input)
    };

    // No consent (no spec approval, no autoApprove rule): it waits, saying so.
    input.consented = Some(Default::default());
    input
        .consent_missing
        .insert(intent.clone(), "waiting for OrdererMSP's consent".into());
    let waiting = steps_with(&input, &observed);
    assert!(waiting.steps.is_empty(), "{waiting:?}");
    assert!(
        waiting
            .blocked
            .iter()
            .any(|b| !b.stalled && b.why.contains("OrdererMSP's consent")),
        "{waiting:?}"
    );

    // Consented: one step, with the members' signatures (its own is added
    // when the step runs).
    input.consented = Some([intent.clone()].into());
    let go = steps_with(&input, &observed);
    assert_eq!(go.steps.len(), 1, "{go:?}");
    match &go.steps[0] {
        Step::SignAndSubmit {
            channel,
            config_update,
            signatures,
            ..
        } => {
            assert_eq!(channel, "trade");
            assert_eq!(config_update, "AQID");
            assert_eq!(signatures, &members);
        }
        other => panic!("{other:?}"),
    }

    // The channel moved on since the proposal's base: not submitted.
    let mut moved = observed.clone();
    moved.channels.get_mut("trade").unwrap().config_sequence += 1;
    let stale = steps_with(&input, &moved);
    assert!(stale.steps.is_empty(), "{stale:?}");
    assert!(stale.blocked.iter().any(|b| b.why.contains("stale")));

    // Not enough signatures yet: it waits.
    input.config_updates.get_mut(&intent).unwrap().submit = Some(SubmitCheck::Unsigned {
        signed: vec![],
        policies: vec!["/Channel/Application/Admins".into()],
    });
    assert!(steps_with(&input, &observed).steps.is_empty());

    // The members' executor (Org1MSP): waits for the orderer organization,
    // stalls for anyone else outside the electorate.
    let (spec1, observed1, p1) = case_plan(&dir);
    let mut input1 = case_input(&dir);
    let outside = |who: &str| SubmitCheck::OutsideElectorate {
        outside: vec![who.into()],
        policies: vec!["/Channel/Orderer/Admins".into()],
    };
    input1.config_updates.get_mut(&intent).unwrap().submit = Some(outside("OrdererMSP"));
    let executor = plan::steps::steps(&spec1, &observed1, &p1, &input1);
    assert!(executor.steps.is_empty(), "{executor:?}");
    assert!(
        executor
            .blocked
            .iter()
            .any(|b| !b.stalled && b.why.contains("its agent adds its signature")),
        "{executor:?}"
    );
    input1.config_updates.get_mut(&intent).unwrap().submit = Some(outside("Org9MSP"));
    let executor = plan::steps::steps(&spec1, &observed1, &p1, &input1);
    assert!(executor.blocked.iter().any(|b| b.stalled), "{executor:?}");
}

/// A channel added to the spec after founding (the converged network plus
/// `market` for Org1 and Org2): an ops member files the ChannelCreate with
/// the members and rules every organization computes; approved, the members
/// wait for the orderer organization, which joins its orderers once it
/// consented; once the orderer serves the channel, the executor reports the
/// creation committed.
#[test]
fn a_new_channel_is_filed_then_created_by_the_orderer_organization() {
    use opssc::plan::steps::{Admission, Step};
    let work = tempfile::tempdir().unwrap();
    let spec_copy = work.path().join("spec");
    copy_dir(&repo().join("network-spec"), &spec_copy);
    let trade = std::fs::read_to_string(spec_copy.join("channels/trade.yaml")).unwrap();
    let market = trade.replace("name: trade", "name: market").replace(
        "members: [Org1MSP, Org2MSP, Org3MSP]",
        "members: [Org1MSP, Org2MSP]",
    );
    assert_ne!(market, trade);
    std::fs::write(spec_copy.join("channels/market.yaml"), market).unwrap();
    let mut spec = load_spec(&spec_copy);
    with_certificates(&mut spec);
    // No chaincode on market: only the channel is new.
    let case = golden().join("converged");
    let observed = observe::load_file(&case.join("observed.json")).unwrap();
    let p = plan::plan(&spec, &observed, "Org1MSP");
    let create = p
        .proposals
        .iter()
        .find(|q| q.kind == opssc_chaincode::model::Kind::ChannelCreate)
        .expect("a ChannelCreate is planned");
    assert_eq!(create.target.channel, "market");
    let mut input = plan::steps::PlanInput::auto(&"0".repeat(40));
    // Org1 files it once its turn came (or every organization before it
    // let its grace pass).
    input.waited_ms = [(format!("file:{}", create.intent_id), 60_000)].into();
    let mut filed = plan::steps::steps(&spec, &observed, &p, &input);
    if filed.steps.is_empty() {
        for key in &filed.deferred {
            input.waited_ms.insert(key.clone(), 60_000);
        }
        filed = plan::steps::steps(&spec, &observed, &p, &input);
    }
    let (payload, id) = match filed.steps.as_slice() {
        [
            Step::File {
                payload,
                proposal_id,
                ..
            },
        ] => (payload.clone(), proposal_id.clone()),
        other => panic!("{other:?} / {:?}", filed.blocked),
    };
    assert_eq!(
        payload["members"],
        serde_json::json!(["Org1MSP", "Org2MSP"])
    );
    assert_eq!(payload["policies"]["admins"], "MAJORITY");

    // Approved: the members wait for the orderer organization.
    let approved = |observed_by: &str| {
        let mut o = observed.clone();
        o.observed_by = observed_by.into();
        o.proposals.push(
            serde_json::from_value(serde_json::json!({
                "id": id, "kind": "ChannelCreate", "target": {"channel": "market"},
                "state": "approved", "quorum": 2,
                "electorate": ["Org1MSP", "Org2MSP", "Org3MSP"],
                "votes": {"Org1MSP": "approve", "Org2MSP": "approve"},
                "open": {"proposer": "Org1MSP", "payload": payload,
                         "eligible_executors": ["Org1MSP"], "execution_timeout_secs": 600},
            }))
            .unwrap(),
        );
        o
    };
    let members = approved("Org1MSP");
    let waiting = plan::steps::steps(&spec, &members, &p, &input);
    assert!(waiting.steps.is_empty(), "{waiting:?}");
    assert!(
        waiting
            .blocked
            .iter()
            .any(|b| b.why.contains("joins its orderers to market")),
        "{waiting:?}"
    );
    // The orderer serves it: Org1's peer joins, and Org1 reports it.
    input.admission.insert("market".into(), Admission::Listed);
    let created = plan::steps::steps(&spec, &members, &p, &input);
    let kinds: Vec<String> = created.steps.iter().map(|s| format!("{s}")).collect();
    assert!(
        created
            .steps
            .iter()
            .any(|s| matches!(s, Step::Join { channel, .. } if channel == "market")),
        "{kinds:?}"
    );
    assert!(
        created
            .steps
            .iter()
            .any(|s| matches!(s, Step::ReportCommitted { proposal_id, .. } if *proposal_id == id)),
        "{kinds:?}"
    );

    // Created: an ops member that is not one of market's (it never sees
    // the channel, so its plan still calls for it) has nothing left to do.
    let mut org3 = approved("Org3MSP");
    org3.proposals.last_mut().unwrap().state = opssc_chaincode::model::ProposalState::Committed;
    let p3 = plan::plan(&spec, &org3, "Org3MSP");
    let done = plan::steps::steps(
        &spec,
        &org3,
        &p3,
        &plan::steps::PlanInput::auto(&"0".repeat(40)),
    );
    assert!(
        !done
            .blocked
            .iter()
            .any(|b| b.what == "create channel market")
            && !done
                .steps
                .iter()
                .any(|s| s.what() == "create channel market"),
        "{done:?}"
    );

    // The orderer organization: nothing without consent, then the join.
    let mut orderer = approved("OrdererMSP");
    orderer.channels.remove("market");
    let po = plan::plan(&spec, &orderer, "OrdererMSP");
    let intent = po
        .proposals
        .iter()
        .find(|q| q.kind == opssc_chaincode::model::Kind::ChannelCreate)
        .unwrap()
        .intent_id
        .clone();
    let mut oinput = plan::steps::PlanInput::auto(&"0".repeat(40));
    oinput.consented = Some(Default::default());
    let none = plan::steps::steps(&spec, &orderer, &po, &oinput);
    assert!(none.steps.is_empty(), "{none:?}");
    oinput.consented = Some([intent].into());
    let join = plan::steps::steps(&spec, &orderer, &po, &oinput);
    assert!(
        matches!(join.steps.as_slice(), [Step::JoinOrderers { channel, proposal_id, .. }] if channel == "market" && *proposal_id == id),
        "{join:?}"
    );
}

/// As if every organization of `spec` had committed its certificates.
fn with_certificates(spec: &mut Spec) {
    for (id, org) in spec.organizations.iter_mut() {
        let pem = format!("-----BEGIN CERTIFICATE-----\n{id}\n-----END CERTIFICATE-----\n");
        org.msp = Some(opssc_schema::Msp {
            ca_certs: vec![pem.clone()],
            intermediate_certs: Vec::new(),
            tls_ca_certs: vec![pem],
            admin_certs: Vec::new(),
            node_ous: true,
        });
    }
}

/// A new organization joining several channels: the members compute the
/// same OrgAdd for each, and one of them files all of them, in one round
/// (its filings go in one transaction), whatever the proposals' IDs; the
/// others wait for it.
#[test]
fn one_member_files_every_orgadd_of_a_new_organization() {
    use opssc_chaincode::model::Kind;
    use plan::steps::{ConfigUpdateInput, Step};
    let case = golden().join("add-org");
    let (mut spec, observed, _) = case_plan(&case);
    with_certificates(&mut spec);
    let mut filers = Vec::new();
    for me in ["Org1MSP", "Org2MSP", "Org3MSP"] {
        let mut observed = observed.clone();
        observed.observed_by = me.into();
        let p = plan::plan(&spec, &observed, me);
        let mut input = plan::steps::PlanInput::auto(&"0".repeat(40));
        let mut channels = Vec::new();
        for q in p.proposals.iter().filter(|q| q.kind == Kind::OrgAdd) {
            channels.push(q.target.channel.clone());
            let payload = serde_json::json!({"org": "Org4MSP", "config_update": "AQID"});
            let (_, canonical) =
                opssc_chaincode::api::normalize_payload(Kind::OrgAdd, &payload).unwrap();
            input.config_updates.insert(
                q.intent_id.clone(),
                ConfigUpdateInput {
                    config_update: "AQID".into(),
                    payload,
                    canonical,
                    base_sequence: observed.channels[&q.target.channel].config_sequence,
                    submit: None,
                },
            );
        }
        assert_eq!(channels, ["ops", "trade"], "{p:?}");
        let s = plan::steps::steps(&spec, &observed, &p, &input);
        let filed: Vec<&str> = s
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::File { target, .. } => Some(target.channel.as_str()),
                _ => None,
            })
            .collect();
        match filed.as_slice() {
            [] => assert_eq!(
                s.blocked
                    .iter()
                    .filter(|b| b.why.contains("files it first"))
                    .count(),
                2,
                "{me}: {s:?}"
            ),
            ["ops", "trade"] => {
                assert_eq!(plan::steps::rounds(&s.steps), vec![0..2], "{me}: {s:?}");
                filers.push(me);
            }
            other => panic!("{me} files {other:?}: {s:?}"),
        }
    }
    assert_eq!(filers.len(), 1, "{filers:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// The Sign step's conditions, on the steps-config-sign case: this
/// organization signs only what it approved, once, and only its own bytes.
#[test]
fn an_organization_signs_only_its_own_approved_bytes_once() {
    use plan::steps::Step;
    let case = golden().join("steps-config-sign");
    let (spec, observed, p) = case_plan(&case);
    let input = case_input(&case);
    let signs = |o: &Observed, i: &plan::steps::PlanInput| {
        plan::steps::steps(&spec, o, &p, i)
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Sign { .. }))
            .count()
    };
    assert_eq!(signs(&observed, &input), 1);
    // No approval by this organization (whoever votes): nothing to sign.
    let mut no_vote = observed.clone();
    no_vote.proposals[0].votes.remove("Org1MSP");
    assert_eq!(signs(&no_vote, &input), 0);
    // Signed already: not again.
    let mut signed = observed.clone();
    let other = signed.proposals[0].open.as_ref().unwrap().config_signatures["Org2MSP"].clone();
    signed.proposals[0]
        .open
        .as_mut()
        .unwrap()
        .config_signatures
        .insert("Org1MSP".into(), other);
    assert_eq!(signs(&signed, &input), 0);
    // Stored bytes other than the ones this organization computes: stalled.
    let mut other_bytes = observed.clone();
    other_bytes.proposals[0].open.as_mut().unwrap().payload["config_update"] = "BAUG".into();
    let s = plan::steps::steps(&spec, &other_bytes, &p, &input);
    assert!(!s.steps.iter().any(|s| matches!(s, Step::Sign { .. })));
    assert!(
        s.blocked
            .iter()
            .any(|b| b.stalled && b.why.contains("not signed"))
    );
}

/// A config proposal whose recorded approvals reach the quorum before any
/// tally: its approvers sign, naming those approvals, and nobody tallies in
/// that round (a tally writes the record the signatures read); once the
/// signatures satisfy the orderer, the executor-to-be tallies and submits
/// in one round.
#[test]
fn a_config_proposal_decided_by_its_recorded_votes_is_signed_then_submitted() {
    use opssc_chaincode::model::ProposalState;
    use plan::steps::{Step, SubmitCheck};
    let case = golden().join("steps-config-sign");
    let (spec, mut observed, p) = case_plan(&case);
    let mut input = case_input(&case);
    let me = p.me.clone();
    let o = &mut observed.proposals[0];
    o.state = ProposalState::Proposed;
    let open = o.open.as_mut().unwrap();
    open.eligible_executors.clear();
    open.config_signatures.clear();
    let approvers = approvers_of(o);
    assert!(approvers.contains(&me) && approvers.len() as u32 >= o.quorum);
    let id = o.id.clone();
    let executor = plan::steps::executor_once_tallied(o).unwrap();
    let s = plan::steps::steps(&spec, &observed, &p, &input);
    assert!(
        matches!(s.steps.as_slice(), [Step::Sign { counted, proposal_id, .. }] if *counted == approvers && *proposal_id == id),
        "{s:?}"
    );
    // However long it has waited: before the signatures satisfy the
    // orderer, the executor-to-be cannot act either, so nobody tallies
    // in its stead (a second tally would conflict with the executor's).
    let mut waited = input.clone();
    waited.waited_ms.insert(format!("tally:{id}"), 600_000);
    let s = plan::steps::steps(&spec, &observed, &p, &waited);
    assert!(matches!(s.steps.as_slice(), [Step::Sign { .. }]), "{s:?}");
    assert!(
        s.blocked.iter().any(|b| b.why.contains("do not satisfy")),
        "{s:?}"
    );
    assert!(!s.deferred.contains(&format!("tally:{id}")), "{s:?}");
    // Signed by every approver, the signatures satisfy the orderer.
    let signature = observed_signature(&case);
    let signatures: std::collections::BTreeMap<String, _> = approvers
        .iter()
        .map(|a| (a.clone(), signature.clone()))
        .collect();
    observed.proposals[0]
        .open
        .as_mut()
        .unwrap()
        .config_signatures = signatures.clone();
    for cu in input.config_updates.values_mut() {
        cu.submit = Some(SubmitCheck::Ready {
            signatures: signatures.clone(),
        });
    }
    let s = plan::steps::steps(&spec, &observed, &p, &input);
    if executor == me {
        assert!(
            matches!(s.steps.as_slice(), [Step::Tally { counted, .. }, Step::Submit { together: true, .. }] if *counted == approvers),
            "{s:?}"
        );
        assert_eq!(plan::steps::rounds(&s.steps), vec![0..2]);
    } else {
        assert!(s.steps.is_empty(), "{s:?}");
        assert!(s.blocked.iter().any(|b| b.why.contains("tallies it first")));
        // The executor-to-be stays silent: after its grace, this approver
        // tallies (then the approved proposal's steps follow).
        input.waited_ms.insert(format!("tally:{id}"), 600_000);
        let s = plan::steps::steps(&spec, &observed, &p, &input);
        assert!(matches!(s.steps.as_slice(), [Step::Tally { .. }]), "{s:?}");
    }
    // (Which organization is the executor-to-be follows from the hash
    // order over the proposal ID; in this case it is not the observer, so
    // its tally-and-submit round is checked by agent_add_org.rs.)
}

/// A channel the own peer joined but does not serve yet (replaying it up to
/// the config that admits this organization): no event announces the end,
/// so the agent looks again within a quarter second (a local call).
#[test]
fn a_joined_channel_not_served_yet_is_looked_at_again_soon() {
    let case = golden().join("steps-mid-vote");
    let (spec, mut observed, p) = case_plan(&case);
    let input = case_input(&case);
    let s = plan::steps::steps(&spec, &observed, &p, &input);
    assert!(!s.blocked.iter().any(|b| b.why.contains("catching up")));
    let channel = observed.channels.keys().next().unwrap().clone();
    observed.channels.remove(&channel);
    for peer in observed.local.peers.values_mut() {
        assert!(peer.joined_channels.contains(&channel));
    }
    let s = plan::steps::steps(&spec, &observed, &p, &input);
    assert!(
        s.blocked
            .iter()
            .any(|b| b.what == format!("channel {channel}")
                && b.why.contains("catching up")
                && b.look_again_ms == Some(250)),
        "{:?}",
        s.blocked
    );
}

/// The organizations whose recorded votes on `o` approve it.
fn approvers_of(o: &opssc::observe::ProposalSummary) -> Vec<String> {
    o.votes
        .iter()
        .filter(|(_, d)| **d == opssc_chaincode::model::Decision::Approve)
        .map(|(m, _)| m.clone())
        .collect()
}

/// A ConfigSignature of the steps-config-sign case's observation.
fn observed_signature(case: &Path) -> opssc_chaincode::model::ConfigSignatureB64 {
    let (_, observed, _) = case_plan(case);
    observed.proposals[0]
        .open
        .as_ref()
        .unwrap()
        .config_signatures
        .values()
        .next()
        .unwrap()
        .clone()
}

/// The same for a `votePolicy: manual` organization, whose approval a
/// person gave with `opssc vote` (no automatic verdict guards its
/// signature): it signs only its own approved bytes, and a proposal of the
/// same change with other bytes, approved as well, gets no signature.
#[test]
fn a_manual_organization_signs_only_its_own_approved_bytes() {
    use opssc_schema::local::VotePolicy;
    use plan::steps::Step;
    let case = golden().join("steps-config-sign");
    let (spec, observed, p) = case_plan(&case);
    let input = plan::steps::PlanInput {
        vote_policy: VotePolicy::Manual,
        consented: None,
        ..case_input(&case)
    };
    let signed = |o: &Observed| -> Vec<String> {
        plan::steps::steps(&spec, o, &p, &input)
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Sign { proposal_id, .. } => Some(proposal_id.clone()),
                _ => None,
            })
            .collect()
    };
    let own = observed.proposals[0].id.clone();
    assert_eq!(signed(&observed), vec![own.clone()]);
    // Its stored bytes differ from the ones this organization computes: stalled.
    let mut other_bytes = observed.clone();
    other_bytes.proposals[0].open.as_mut().unwrap().payload["config_update"] = "BAUG".into();
    assert!(signed(&other_bytes).is_empty());
    // Another proposal for the same change with other bytes (so another
    // ID), approved with this organization's vote by a person who was
    // misled: never signed, whatever the vote says.
    let mut tampered = observed.clone();
    let t = &mut tampered.proposals[0];
    t.id = "f".repeat(64);
    t.open.as_mut().unwrap().payload["config_update"] = "BAUG".into();
    assert!(t.votes.contains_key("Org1MSP"));
    assert!(signed(&tampered).is_empty(), "{own}");
}

/// An approved config proposal the plan no longer contains (its channel has
/// moved on): the eligible executor reports it committed only when its own
/// update bytes produced a config block, failed when the blocks since its
/// base show they did not, and nothing while that is unknown. A moved
/// sequence alone proves nothing, and reporting an unsigned update committed
/// would make the contract apply its registry changes.
#[test]
fn an_unplanned_approved_update_is_reported_by_what_the_blocks_show() {
    use plan::steps::Step;
    let case = golden().join("steps-config-sign");
    let (spec, mut observed, mut p) = case_plan(&case);
    let input = case_input(&case);
    p.proposals.clear();
    let executor = &observed.proposals[0]
        .open
        .as_ref()
        .unwrap()
        .eligible_executors[0];
    assert_eq!(executor, &observed.observed_by);
    let base = observed.proposals[0].base_config_sequence.unwrap();
    observed.channels.get_mut("trade").unwrap().config_sequence = base + 1;
    let reports = |on_chain: Option<bool>| -> Vec<String> {
        let mut o = observed.clone();
        o.proposals[0].open.as_mut().unwrap().update_on_chain = on_chain;
        plan::steps::steps(&spec, &o, &p, &input)
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::ReportCommitted { .. } => Some("committed".to_string()),
                Step::ReportFailed { error, .. } => Some(format!("failed: {error}")),
                _ => None,
            })
            .collect()
    };
    assert_eq!(reports(Some(true)), vec!["committed".to_string()]);
    assert!(reports(None).is_empty(), "{:?}", reports(None));
    let failed = reports(Some(false));
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("without its update"), "{failed:?}");
}

#[test]
fn golden_steps_match_their_snapshots() {
    let mut failures = Vec::new();
    for case in cases() {
        let s = case_steps(&case);
        assert_eq!(
            s,
            case_steps(&case),
            "{}: planning twice differs",
            case.display()
        );
        failures.extend(check_snapshot(
            &case.join("steps.txt"),
            &plan::steps::render(&s),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The governance-change case through its lifecycle, for Org1MSP: after
/// Org2MSP's turn passed it files the GovernanceChange with the spec's
/// settings; on the chain it approves it (the vote that completes every
/// member's approval decides it); a GovernanceChange with other settings
/// gets a reject naming the difference; once committed, the registry holds
/// the spec's settings and nothing is planned.
#[test]
fn a_governance_change_is_filed_voted_and_applied() {
    use opssc_chaincode::model::{Decision, Kind, QuorumLevel};
    use plan::steps::Step;
    let case = golden().join("governance-change");
    let (spec, observed, p) = case_plan(&case);
    let mut input = case_input(&case);
    let s = plan::steps::steps(&spec, &observed, &p, &input);
    assert!(s.steps.is_empty(), "{s:?}");
    assert_eq!(s.deferred.len(), 1, "{s:?}");
    input
        .waited_ms
        .insert(s.deferred[0].clone(), input.turn_grace_ms);
    let s = plan::steps::steps(&spec, &observed, &p, &input);
    let [
        Step::File {
            kind,
            target,
            payload,
            proposal_id,
            base_config_sequence,
            ..
        },
    ] = s.steps.as_slice()
    else {
        panic!("one File step expected: {s:?}");
    };
    assert_eq!(*kind, Kind::GovernanceChange);
    assert_eq!(target.channel, "ops");
    assert_eq!(*base_config_sequence, None);
    assert_eq!(payload["governance"]["quorum"]["org_add"], "all");
    assert_eq!(payload["governance"]["quorum"]["org_remove"], "twoThirds");
    // An organization that only votes files nothing.
    let vote_only = plan::steps::PlanInput {
        vote_only: true,
        ..input.clone()
    };
    assert!(
        plan::steps::steps(&spec, &observed, &p, &vote_only)
            .steps
            .is_empty()
    );
    let (_, canonical) =
        opssc_chaincode::api::normalize_payload(Kind::GovernanceChange, payload).unwrap();
    let on_chain = |votes: serde_json::Value, payload: &serde_json::Value| {
        let mut o = observed.clone();
        o.proposals.push(
            serde_json::from_value(serde_json::json!({
                "id": proposal_id,
                "kind": "GovernanceChange",
                "target": {"channel": "ops"},
                "state": "proposed",
                "votes": votes,
                "quorum": 3,
                "electorate": ["Org1MSP", "Org2MSP", "Org3MSP"],
                "spec_commit": "0".repeat(40),
                "open": {"proposer": "Org2MSP", "payload": payload},
            }))
            .unwrap(),
        );
        o
    };
    // Filed by Org2 and approved by Org2 and Org3: Org1's approval decides it.
    let o = on_chain(
        serde_json::json!({"Org2MSP": "approve", "Org3MSP": "approve"}),
        &canonical,
    );
    let p2 = plan::plan(&spec, &o, "Org1MSP");
    let s = plan::steps::steps(&spec, &o, &p2, &input);
    assert!(
        matches!(
            s.steps.as_slice(),
            [Step::Vote {
                decision: Decision::Approve,
                decides: true,
                ..
            }]
        ),
        "{s:?}"
    );
    // Other settings: a reject that names the difference.
    let mut other = canonical.clone();
    other["governance"]["quorum"]["org_add"] = "twoThirds".into();
    let mut o = on_chain(serde_json::json!({}), &other);
    o.proposals[0].id = "f".repeat(64);
    let p3 = plan::plan(&spec, &o, "Org1MSP");
    let s = plan::steps::steps(&spec, &o, &p3, &input);
    assert!(
        matches!(
            s.steps.as_slice(),
            [Step::Vote { decision: Decision::Reject, reason, .. }] if reason.contains("org_add")
        ),
        "{s:?}"
    );
    // Committed: the registry holds the spec's settings, nothing to do.
    let mut done = observed.clone();
    done.governance.as_mut().unwrap().quorum.org_add = QuorumLevel::All;
    let p4 = plan::plan(&spec, &done, "Org1MSP");
    assert!(p4.is_empty(), "{p4:?}");
}

/// The situations an agent meets, each with the steps it must take.
#[test]
fn the_step_catalogue_covers_the_agent_situations() {
    use plan::steps::Step;
    let case = |name: &str| case_steps(&golden().join(name));
    let kinds = |s: &plan::steps::Steps| -> Vec<&'static str> {
        s.steps
            .iter()
            .map(|s| match s {
                Step::Join { .. } => "join",
                Step::File { .. } => "file",
                Step::Submit { .. } => "submit",
                Step::SignAndSubmit { .. } => "sign_and_submit",
                Step::JoinOrderers { .. } => "join_orderers",
                Step::Vote { .. } => "vote",
                Step::Sign { .. } => "sign",
                Step::Tally { .. } => "tally",
                Step::Install { .. } => "install",
                Step::Approve { .. } => "approve",
                Step::ReportTask { .. } => "report_task",
                Step::Commit { .. } => "commit",
                Step::ReportCommitted { .. } => "report_committed",
                Step::ReportFailed { .. } => "report_failed",
            })
            .collect()
    };
    // A fresh rollout: one organization files the proposal, the first in
    // the turn order; the observer (third) waits two graces for it, then
    // files it itself.
    let rollout = case("steps-rollout");
    assert!(kinds(&rollout).is_empty(), "{rollout:?}");
    assert!(
        rollout
            .blocked
            .iter()
            .any(|b| b.why.contains("files it first") && b.look_again_ms == Some(6_000)),
        "{rollout:?}"
    );
    let (spec, observed, p) = case_plan(&golden().join("steps-rollout"));
    let mut input = case_input(&golden().join("steps-rollout"));
    input.waited_ms.insert(rollout.deferred[0].clone(), 5_999);
    assert!(kinds(&plan::steps::steps(&spec, &observed, &p, &input)).is_empty());
    input.waited_ms.insert(rollout.deferred[0].clone(), 6_000);
    assert_eq!(
        kinds(&plan::steps::steps(&spec, &observed, &p, &input)),
        ["file"]
    );
    // Mid-vote: this organization's approval reaches the quorum, so the
    // vote decides (counting the approvals observed): no tally round. Its
    // own approval of the definition rides along with the vote (the
    // channel's LifecycleEndorsement needs as many organizations as the
    // quorum), and its peer installs the package.
    let mid = case("steps-mid-vote");
    assert_eq!(kinds(&mid), ["vote", "approve", "install"]);
    assert!(
        matches!(&mid.steps[0], Step::Vote { decision, decides: true, counted, .. }
            if *decision == opssc_chaincode::model::Decision::Approve && !counted.is_empty())
    );
    assert!(mid.steps[1].together() && !mid.steps[2].together());
    assert_eq!(plan::steps::rounds(&mid.steps), vec![0..2, 2..3]);
    // Votes cast together that decide (this organization's among them):
    // one of the approvers tallies, the first in the turn order, counting
    // just their votes; the others wait their turn.
    {
        use opssc_chaincode::model::{Decision, ProposalState};
        let dir = golden().join("steps-mid-vote");
        let (spec, mut observed, p) = case_plan(&dir);
        let me = p.me.clone();
        let o = observed
            .proposals
            .iter_mut()
            .find(|o| o.state == ProposalState::Proposed)
            .unwrap();
        o.votes.insert(me.clone(), Decision::Approve);
        let approvers = approvers_of(o);
        let key = format!("tally:{}", o.id);
        // The executor-to-be tallies first: the contract's executor order
        // over the counted approvals.
        let order = plan::steps::turn_order(&o.id, &approvers);
        let mut input = case_input(&dir);
        let s = plan::steps::steps(&spec, &observed, &p, &input);
        // It voted approve in an earlier pass: its own approval (no vote to
        // ride along with now) and install are due whatever the turn.
        if order[0] != me {
            assert_eq!(kinds(&s), ["approve", "install"], "{s:?}");
            assert!(!s.steps[0].together());
            assert_eq!(s.deferred, vec![key.clone()]);
            assert!(s.blocked.iter().any(|b| b.why.contains("tallies it first")));
            input.waited_ms.insert(key, 60_000);
        }
        let s = plan::steps::steps(&spec, &observed, &p, &input);
        assert_eq!(kinds(&s), ["tally", "approve", "install"]);
        assert!(matches!(&s.steps[0], Step::Tally { counted, .. } if *counted == approvers));
        // Its approval and install done, and the others' approvals seen:
        // as the executor-to-be it commits the definition beside the tally,
        // one round; the report waits for the tally's block.
        let Step::Approve {
            channel,
            chaincode,
            version,
            sequence,
            package_id,
            ..
        } = s.steps[1].clone()
        else {
            unreachable!()
        };
        let Step::Install { peer, .. } = s.steps[2].clone() else {
            unreachable!()
        };
        let cc_key = opssc::observe::Observed::chaincode_key(&channel, &chaincode);
        observed.local.approved.insert(
            cc_key,
            opssc::observe::ApprovedDefinition {
                sequence,
                version: version.clone(),
                package_id: Some(package_id.clone()),
            },
        );
        let s_version = version;
        observed
            .local
            .peers
            .get_mut(&peer)
            .unwrap()
            .installed_packages
            .push(opssc::observe::InstalledPackage {
                package_id,
                label: String::new(),
            });
        let o = observed
            .proposals
            .iter_mut()
            .find(|o| o.state == ProposalState::Proposed)
            .unwrap();
        let open = o.open.as_mut().unwrap();
        for a in &approvers {
            open.commit_readiness.insert(a.clone(), true);
        }
        let s = plan::steps::steps(&spec, &observed, &p, &input);
        if order[0] == me {
            assert_eq!(kinds(&s), ["tally", "commit"], "{s:?}");
            assert!(
                matches!(&s.steps[1], Step::Commit { together: true, endorsers, .. } if *endorsers == approvers)
            );
            assert_eq!(plan::steps::rounds(&s.steps), vec![0..2]);
        } else {
            // Another approver becomes the executor: it commits; this one
            // tallies only once its turn came.
            assert_eq!(kinds(&s), ["tally"], "{s:?}");
        }
        // Once the definition is on the chain (the commit's block came
        // before the tally's), nobody votes against the now unplanned
        // proposal: the approvers tally it, by the same turn.
        observed.chaincodes.insert(
            opssc::observe::Observed::chaincode_key(&channel, &chaincode),
            {
                let mut c = observed
                    .chaincodes
                    .values()
                    .next()
                    .cloned()
                    .expect("the committed definition before");
                c.sequence = sequence;
                c.version = s_version.clone();
                c
            },
        );
        let p = plan::plan(&spec, &observed, &observed.observed_by);
        assert!(
            !p.proposals.iter().any(|q| q.kind.is_chaincode()),
            "the spec's change is done: {:?}",
            p.proposals
        );
        let s = plan::steps::steps(&spec, &observed, &p, &input);
        assert!(
            !s.steps.iter().any(|st| matches!(st, Step::Vote { .. })),
            "{s:?}"
        );
        if order[0] == me {
            assert_eq!(kinds(&s), ["tally"], "{s:?}");
        } else {
            assert!(s.steps.is_empty(), "{s:?}");
            assert!(s.blocked.iter().any(|b| b.why.contains("tallies it first")));
        }
    }
    // The first executor died: the next one commits with the organizations
    // that approved (the channel's LifecycleEndorsement: 2 of 3).
    let died = case("steps-executor-died");
    assert_eq!(kinds(&died), ["commit", "report_committed"]);
    assert!(
        matches!(&died.steps[0], Step::Commit { endorsers, .. } if endorsers == &["Org1MSP", "Org2MSP"])
    );
    // A package that does not compile on two of three: stalled, and the
    // executor records the proposal failed.
    let failed = case("steps-failed-install");
    assert_eq!(kinds(&failed), ["report_failed"]);
    assert!(
        failed
            .blocked
            .iter()
            .any(|b| b.stalled && b.why.contains("does not compile"))
    );
    // Proposals the plan does not contain: rejected (with the reason),
    // decided by the rejection that makes the quorum unreachable, never
    // approved; an approved one is recorded failed by its executor; one from
    // an unseen commit waits.
    let hostile = case("steps-unplanned");
    assert_eq!(kinds(&hostile), ["vote", "vote", "report_failed"]);
    assert!(matches!(
        &hostile.steps[1],
        Step::Vote { decides: true, .. }
    ));
    for s in &hostile.steps {
        if let Step::Vote {
            decision, reason, ..
        } = s
        {
            assert_eq!(*decision, opssc_chaincode::model::Decision::Reject);
            assert!(reason.contains("calls for no"), "{reason}");
        }
    }
    assert!(
        hostile
            .blocked
            .iter()
            .any(|b| b.why.contains("has not seen") && b.why.contains("filed by Org2MSP"))
    );
    // An approved proposal that is not the spec's change (a hostile
    // upgrade): its executor records the refusal; the others are stalled,
    // naming proposal, proposer and voters.
    let refused = case("steps-refused");
    assert_eq!(kinds(&refused), ["report_failed"]);
    let waiting = case("steps-refused-waiting");
    assert!(waiting.steps.is_empty());
    assert!(waiting.blocked.iter().any(|b| b.stalled
        && b.why.contains("filed by Org3MSP")
        && b.why.contains("Org2MSP Approve")
        && b.why.contains("its executor: Org1MSP")));
    // Channel changes: one member files (Org3MSP first here); the observer
    // files after two graces without it, with the base config sequence;
    // once approved and signed enough, the executor submits.
    let dir = golden().join("steps-config-file");
    let waiting = case("steps-config-file");
    assert!(kinds(&waiting).is_empty(), "{waiting:?}");
    let (spec, observed, p) = case_plan(&dir);
    let mut input = case_input(&dir);
    input.waited_ms.insert(waiting.deferred[0].clone(), 6_000);
    let file = plan::steps::steps(&spec, &observed, &p, &input);
    assert_eq!(kinds(&file), ["file"]);
    assert!(matches!(
        &file.steps[0],
        Step::File {
            base_config_sequence: Some(6),
            ..
        }
    ));
    let submit = case("steps-config-submit");
    assert_eq!(kinds(&submit), ["submit", "report_committed"]);
    // Approved with this organization's approval but without its signature:
    // it signs the stored bytes (the ones it computed) and waits for the
    // signatures to satisfy the channel's policy before submitting.
    let sign = case("steps-config-sign");
    assert_eq!(kinds(&sign), ["sign"]);
    assert!(matches!(
        &sign.steps[0],
        Step::Sign { config_update, .. } if config_update == "AQID"
    ));
    assert!(
        sign.blocked
            .iter()
            .any(|b| b.why.contains("signatures of Org2MSP"))
    );
    // A new organization whose admission the orderer confirms for trade
    // (not yet for ops): it joins trade, and waits for ops.
    let new = case("add-org-bootstrap");
    assert_eq!(kinds(&new), ["join"]);
    assert!(
        new.blocked
            .iter()
            .any(|b| b.what == "channel ops" && b.look_again_ms.is_some())
    );
    // The golden plans without a full observation of their proposals plan
    // no vote on them: they say what they wait for.
    let upgrade = case("upgrade-chaincode");
    assert!(upgrade.steps.is_empty());
    assert!(
        upgrade
            .blocked
            .iter()
            .any(|b| b.why.contains("not read in full"))
    );
}

#[test]
fn the_catalogue_covers_every_change_risk_and_local_action() {
    let mut changes = BTreeSet::new();
    let mut risks = BTreeSet::new();
    let mut local = BTreeSet::new();
    let mut drift = false;
    let mut on_chain = false;
    let mut exact_ids = false;
    let mut raised_votes = false;
    let mut ballots = false;
    for case in cases() {
        let (_, _, p) = case_plan(&case);
        for sc in &p.shared {
            changes.insert(sc.change.kind_name());
            risks.extend(sc.risks.iter().map(|r| r.kind));
            drift |= sc.drift.is_some();
        }
        for l in &p.local {
            local.insert(match l.action {
                LocalAction::JoinChannel { .. } => "JoinChannel",
                LocalAction::InstallPackage { .. } => "InstallPackage",
                LocalAction::ApproveDefinition { .. } => "ApproveDefinition",
            });
        }
        for pp in &p.proposals {
            on_chain |= pp.on_chain.is_some();
            exact_ids |= pp.proposal_id.is_some();
            raised_votes |= pp.vote.is_some();
        }
        ballots |= !p.ballots.is_empty();
    }
    let all_changes: BTreeSet<&str> = [
        "ChannelCreate",
        "OrgAddedToChannel",
        "OrgRemovedFromChannel",
        "PolicyChanged",
        "AclChanged",
        "CapabilityChanged",
        "BatchChanged",
        "ConsentersChanged",
        "AnchorPeersChanged",
        "ChaincodeDeploy",
        "ChaincodeUpgrade",
        "ChaincodeDefinitionChanged",
        "GovernanceChanged",
    ]
    .into();
    assert_eq!(changes, all_changes);
    let all_risks: BTreeSet<RiskKind> = [
        RiskKind::ConsenterQuorum,
        RiskKind::IrreversibleCapability,
        RiskKind::CapabilityDowngrade,
        RiskKind::LastAnchorPeer,
        RiskKind::AdminLockout,
        RiskKind::SoleEndorser,
        RiskKind::UnsatisfiableEndorsement,
    ]
    .into();
    assert_eq!(risks, all_risks);
    assert_eq!(
        local,
        ["JoinChannel", "InstallPackage", "ApproveDefinition"].into()
    );
    assert!(drift && on_chain && exact_ids && raised_votes && ballots);
}

/// The votes so far on a proposal mid-vote come from the quorum and
/// electorate the chain fixed at filing; a state saved before they were
/// recorded still loads and falls back on the policy's threshold.
#[test]
fn votes_so_far_use_the_chains_ballot_and_old_states_still_load() {
    let case = golden().join("proposal-mid-vote");
    let (spec, observed, p) = case_plan(&case);
    // The saved state keeps the ballot.
    let back = observe::from_json("saved", &observe::to_json(&observed)).unwrap();
    assert_eq!(back, observed);
    let id = p.proposals[0].on_chain.as_ref().unwrap().id.clone();
    assert_eq!(p.ballots[&id].quorum, 3);
    assert_eq!(p.ballots[&id].electorate.len(), 5);

    // Filed when the channel had four members (ShipperMSP joined later) and
    // a quorum of 3: the chain's snapshot wins over today's policy.
    let mut filed_earlier = observed.clone();
    filed_earlier.proposals[0]
        .electorate
        .retain(|o| o != "ShipperMSP");
    let md = render::markdown(&plan::plan(&spec, &filed_earlier, "BankMSP"));
    assert!(
        md.contains("rejected by PortMSP · waiting for 1 more of CustomsMSP\n"),
        "{md}"
    );
    // The quorum is reached once CustomsMSP approves: the tally is next.
    let mut reached = observed.clone();
    reached.proposals[0].votes.insert(
        "CustomsMSP".into(),
        opssc_chaincode::model::Decision::Approve,
    );
    let md = render::markdown(&plan::plan(&spec, &reached, "BankMSP"));
    assert!(
        md.contains("approved by BankMSP, CustomsMSP, InsurerMSP · rejected by PortMSP · quorum of 3 reached, waiting for the tally"),
        "{md}"
    );
    // Two rejections more and the quorum is out of reach.
    let mut lost = observed.clone();
    for org in ["CustomsMSP", "ShipperMSP"] {
        lost.proposals[0]
            .votes
            .insert(org.into(), opssc_chaincode::model::Decision::Reject);
    }
    let md = render::markdown(&plan::plan(&spec, &lost, "BankMSP"));
    assert!(
        md.contains("cannot reach the quorum of 3: 1 more needed, 0 left to vote"),
        "{md}"
    );

    // A state saved without quorum and electorate (the format before they
    // were recorded) loads; the plan has no ballot and the Markdown falls
    // back on the policy's threshold (3 of the channel's 5 members).
    let mut text: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("observed.json")).unwrap())
            .unwrap();
    let entry = text["proposals"][0].as_object_mut().unwrap();
    entry.remove("quorum");
    entry.remove("electorate");
    let old = observe::from_json("old", &text.to_string()).unwrap();
    assert_eq!(old.proposals[0].quorum, 0);
    let p_old = plan::plan(&spec, &old, "BankMSP");
    assert!(p_old.ballots.is_empty());
    assert!(
        render::markdown(&p_old)
            .contains("rejected by PortMSP · waiting for 1 more of CustomsMSP, ShipperMSP\n")
    );
    // Without a vote yet.
    let mut none = observed;
    none.proposals[0].votes.clear();
    let md = render::markdown(&plan::plan(&spec, &none, "BankMSP"));
    assert!(
        md.contains("**proposed** · no votes yet · waiting for 3 more of BankMSP, CustomsMSP, InsurerMSP, PortMSP, ShipperMSP"),
        "{md}"
    );
}

/// Every valid spec the repository ships: the reference network, the examples
/// and the golden cases' own specs.
fn valid_specs() -> Vec<PathBuf> {
    let mut dirs = vec![repo().join("network-spec")];
    for e in std::fs::read_dir(repo().join("examples")).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && p.file_name().unwrap() != "invalid" {
            dirs.push(p);
        }
    }
    dirs.extend(
        cases()
            .iter()
            .map(|c| c.join("spec"))
            .filter(|d| d.is_dir()),
    );
    dirs.sort();
    dirs
}

#[test]
fn replanning_a_converged_network_gives_an_empty_plan() {
    let mut checked = 0;
    for dir in valid_specs() {
        let loaded = opssc_schema::load_dir(&dir);
        let Some(spec) = loaded.spec else {
            panic!("{} is invalid:\n{}", dir.display(), loaded.report.render());
        };
        for org in spec.organizations.values() {
            if org.role != OrgRole::Peer {
                continue;
            }
            let converged = observe::converged(&spec, &org.msp_id);
            let p = plan::plan(&spec, &converged, &org.msp_id);
            assert!(
                p.is_empty(),
                "{} as {}: expected no changes, got:\n{}",
                dir.display(),
                org.msp_id,
                render::text(&p)
            );
            // The snapshot survives its JSON form.
            let back = observe::from_json("test", &observe::to_json(&converged)).unwrap();
            assert_eq!(back, converged);
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} spec/org pairs checked");
}

#[test]
fn applying_a_plan_and_replanning_converges() {
    // From every golden case's state, the state a successful apply leaves is
    // the spec's converged state, and re-planning there is empty: the plan
    // never asks for something the spec does not describe.
    for case in cases() {
        let (spec, observed, p) = case_plan(&case);
        let after = observe::converged(&spec, &observed.observed_by);
        let again = plan::plan(&spec, &after, &observed.observed_by);
        assert!(
            again.shared.is_empty() && again.local.is_empty(),
            "{}",
            case.display()
        );
        // Every shared change belongs to exactly one proposal, and back.
        for (i, sc) in p.shared.iter().enumerate() {
            assert!(p.proposals[sc.proposal].changes.contains(&i));
        }
        let n: usize = p.proposals.iter().map(|pp| pp.changes.len()).sum();
        assert_eq!(n, p.shared.len(), "{}", case.display());
    }
}

#[test]
fn sequences_are_computed_from_the_committed_definition() {
    let case = golden().join("definition-changed");
    let (_, observed, p) = case_plan(&case);
    let committed = observed.chaincodes["trade-finance/letters-of-credit"].sequence;
    let sc = p
        .shared
        .iter()
        .find(|s| s.change.chaincode() == Some("letters-of-credit"))
        .unwrap();
    match &sc.change {
        plan::Change::ChaincodeDefinitionChanged { before, after, .. } => {
            assert_eq!(before.sequence, committed);
            assert_eq!(after.sequence, committed + 1);
            assert_eq!(before.version, after.version);
        }
        other => panic!("unexpected {other:?}"),
    }
}

// ------------------------------------------------------------------ CLI

fn opssc(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    eprintln!(
        "$ opssc {}\n--- status: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
        args.join(" "),
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn plan_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.json");
    let converged = dir.path().join("converged.json");
    let e = empty.to_str().unwrap();
    let c = converged.to_str().unwrap();
    assert_eq!(
        opssc(&["state", "empty", "--spec", "network-spec", e])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        opssc(&[
            "state",
            "from-spec",
            "--spec",
            "network-spec",
            "--org",
            "Org2MSP",
            c
        ])
        .status
        .code(),
        Some(0)
    );

    // No changes: 0.
    let out = opssc(&["plan", "--state", c]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes"));
    // Changes: 2, in every format.
    for format in ["text", "json", "markdown"] {
        let out = opssc(&["plan", "--state", e, "--format", format]);
        assert_eq!(out.status.code(), Some(2), "{format}");
        if format == "json" {
            let p: Plan = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(p.observed_by, "Org1MSP");
            assert!(!p.shared.is_empty());
        }
    }
    // Neither --state nor --config: an error (1) and a hint naming both.
    let out = opssc(&["plan"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--state") && err.contains("--config"), "{err}");
    // Errors: 1.
    let missing = dir.path().join("missing.json");
    assert_eq!(
        opssc(&["plan", "--state", missing.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"observed_by\": \"Org1MSP\",").unwrap();
    let out = opssc(&["plan", "--state", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
    let out = opssc(&[
        "plan",
        "--spec",
        "examples/invalid/policy-syntax",
        "--state",
        c,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid"));
    let out = opssc(&["plan", "--state", c, "--org", "Org3MSP"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("observed by Org2MSP"));
}

#[test]
fn state_commands_write_loadable_snapshots() {
    let out = opssc(&[
        "state",
        "from-spec",
        "--spec",
        "examples/five-orgs",
        "--org",
        "PortMSP",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let o = observe::from_json("stdout", &String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(o.observed_by, "PortMSP");
    assert_eq!(o.channels.len(), 4);
    let out = opssc(&["state", "empty", "--org", "Nobody", "-"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an organization"));
}

/// One edit of a converged state, and the change kind (or local action) it
/// must produce; `None`: the edit must not produce any change.
type Mutation = (&'static str, fn(&mut Observed), Option<&'static str>);

fn mutations() -> Vec<Mutation> {
    fn trade(o: &mut Observed) -> &mut observe::ObservedChannel {
        o.channels.get_mut("trade").unwrap()
    }
    fn kv(o: &mut Observed) -> &mut observe::CommittedDefinition {
        o.chaincodes.get_mut("trade/kv").unwrap()
    }
    vec![
        (
            "channel missing",
            |o| {
                // Missing from the network: no peer has joined it either (a
                // joined channel the observer cannot read is not created).
                o.channels.remove("trade");
                for p in o.local.peers.values_mut() {
                    p.joined_channels.retain(|c| c != "trade");
                }
            },
            Some("ChannelCreate"),
        ),
        (
            "member missing",
            |o| {
                trade(o).members.remove("Org3MSP");
            },
            Some("OrgAddedToChannel"),
        ),
        (
            "extra member",
            |o| {
                let m = trade(o).members["Org1MSP"].clone();
                trade(o).members.insert("Org9MSP".into(), m);
            },
            Some("OrgRemovedFromChannel"),
        ),
        (
            "anchor peer",
            |o| {
                trade(o).members.get_mut("Org2MSP").unwrap().anchor_peers = vec!["x:1".into()];
            },
            Some("AnchorPeersChanged"),
        ),
        (
            "policy",
            |o| {
                trade(o)
                    .policies
                    .insert("Readers".into(), "ALL Readers".into());
            },
            Some("PolicyChanged"),
        ),
        (
            "policy missing",
            |o| {
                trade(o).policies.remove("Writers");
            },
            Some("PolicyChanged"),
        ),
        (
            "acl",
            |o| {
                trade(o)
                    .acls
                    .insert("event/Block".into(), "/Channel/Application/Admins".into());
            },
            Some("AclChanged"),
        ),
        (
            "channel capability",
            |o| trade(o).capabilities.channel = "V1_4_3".into(),
            Some("CapabilityChanged"),
        ),
        (
            "orderer capability",
            |o| trade(o).capabilities.orderer = "V1_4_2".into(),
            Some("CapabilityChanged"),
        ),
        (
            "application capability",
            |o| trade(o).capabilities.application = "V2_0".into(),
            Some("CapabilityChanged"),
        ),
        (
            "batch timeout",
            |o| trade(o).batch.timeout_ms += 1,
            Some("BatchChanged"),
        ),
        (
            "batch count",
            |o| trade(o).batch.max_message_count += 1,
            Some("BatchChanged"),
        ),
        (
            "batch absolute",
            |o| trade(o).batch.absolute_max_bytes += 1,
            Some("BatchChanged"),
        ),
        (
            "batch preferred",
            |o| trade(o).batch.preferred_max_bytes += 1,
            Some("BatchChanged"),
        ),
        (
            "consenters",
            |o| trade(o).consenters.push("orderer9.example.com:7050".into()),
            Some("ConsentersChanged"),
        ),
        (
            "chaincode missing",
            |o| {
                o.chaincodes.remove("trade/kv");
            },
            Some("ChaincodeDeploy"),
        ),
        (
            "chaincode version",
            |o| kv(o).version = "0.1".into(),
            Some("ChaincodeUpgrade"),
        ),
        (
            "endorsement policy",
            |o| kv(o).endorsement_policy = "OR('Org1MSP.peer')".into(),
            Some("ChaincodeDefinitionChanged"),
        ),
        (
            "collections",
            |o| {
                let c = observe::CollectionDef {
                    name: "extra".into(),
                    policy: "OR('Org1MSP.member')".into(),
                    required_peer_count: 0,
                    max_peer_count: 1,
                    block_to_live: 0,
                    member_only_read: true,
                    member_only_write: true,
                };
                kv(o).collections.push(c);
            },
            Some("ChaincodeDefinitionChanged"),
        ),
        (
            "init required",
            |o| kv(o).init_required = true,
            Some("ChaincodeDefinitionChanged"),
        ),
        (
            "peer not joined",
            |o| {
                o.local
                    .peers
                    .get_mut("peer0")
                    .unwrap()
                    .joined_channels
                    .retain(|c| c != "ops");
            },
            Some("JoinChannel"),
        ),
        (
            "package not installed",
            |o| {
                o.local
                    .peers
                    .get_mut("peer0")
                    .unwrap()
                    .installed_packages
                    .clear();
            },
            Some("InstallPackage"),
        ),
        (
            "not approved",
            |o| {
                o.local.approved.clear();
                kv(o).approvals.insert("Org1MSP".into(), false);
            },
            Some("ApproveDefinition"),
        ),
        // Not changes.
        ("config sequence", |o| trade(o).config_sequence = 99, None),
        (
            "last config block",
            |o| trade(o).last_config_block = 99,
            None,
        ),
        ("taken at", |o| o.taken_at = "later".into(), None),
        (
            "drift record on an equal setting",
            |o| {
                trade(o).last_modified.insert(
                    "batch".into(),
                    observe::Modification {
                        block: 3,
                        by_opssc: false,
                    },
                );
            },
            None,
        ),
        (
            "acl equal to the default",
            |o| {
                trade(o)
                    .acls
                    .insert("peer/Propose".into(), "/Channel/Application/Writers".into());
            },
            None,
        ),
        (
            "policy spelled differently",
            |o| {
                kv(o).endorsement_policy =
                    "outof(2, \"Org1MSP.peer\", \"Org2MSP.peer\", \"Org3MSP.peer\")".into();
            },
            None,
        ),
        (
            "consenters in another order",
            |o| trade(o).consenters.reverse(),
            None,
        ),
        (
            "other orgs' approvals",
            |o| {
                kv(o).approvals.insert("Org2MSP".into(), false);
            },
            None,
        ),
        (
            "a committed proposal",
            |o| {
                o.proposals.push(observe::ProposalSummary {
                    id: "ab".repeat(32),
                    kind: opssc_chaincode::model::Kind::ChannelUpdate,
                    target: opssc_chaincode::model::Target {
                        channel: "trade".into(),
                        chaincode: None,
                    },
                    round: 0,
                    org: None,
                    state: opssc_chaincode::model::ProposalState::Committed,
                    votes: Default::default(),
                    quorum: 2,
                    electorate: vec!["Org1MSP".into(), "Org2MSP".into(), "Org3MSP".into()],
                    spec_commit: None,
                    base_config_sequence: None,
                    open: None,
                });
            },
            None,
        ),
    ]
}

#[test]
fn every_difference_is_a_change_and_nothing_else_is() {
    let spec = load_spec(&repo().join("network-spec"));
    for (what, mutate, want) in mutations() {
        let mut observed = observe::converged(&spec, "Org1MSP");
        mutate(&mut observed);
        let p = plan::plan(&spec, &observed, "Org1MSP");
        let mut kinds: BTreeSet<&str> = p.shared.iter().map(|c| c.change.kind_name()).collect();
        kinds.extend(p.local.iter().map(|l| match l.action {
            LocalAction::JoinChannel { .. } => "JoinChannel",
            LocalAction::InstallPackage { .. } => "InstallPackage",
            LocalAction::ApproveDefinition { .. } => "ApproveDefinition",
        }));
        match want {
            Some(kind) => assert!(
                kinds.contains(kind),
                "{what}: expected a {kind}, got {kinds:?}:\n{}",
                render::text(&p)
            ),
            None => assert!(
                p.is_empty(),
                "{what}: expected no change, got:\n{}",
                render::text(&p)
            ),
        }
    }
}
