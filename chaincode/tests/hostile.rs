//! One hostile member (or a stolen client certificate) against the contract:
//! each test is an attack from issue 18, refused or made harmless, with the
//! honest change still going through. docs/guide/security.md maps each
//! attack to its rule and to the test here.

mod common;

use common::*;
use opssc_chaincode::ContractError;
use opssc_chaincode::model::Governance;
use serde_json::{Value, json};

fn approve(n: &mut Net, org: &str, id: &str) {
    n.call(org, "vote", json!({"id": id, "decision": "approve"}))
        .unwrap();
}

/// Files `args` as Org1, approves it with Org1 and Org2 and tallies.
fn approved(n: &mut Net, args: Value) -> String {
    let id = id_of(&n.call("Org1MSP", "propose", args).unwrap());
    approve(n, "Org1MSP", &id);
    approve(n, "Org2MSP", &id);
    assert_eq!(
        n.call("Org1MSP", "tally", json!({"id": id})).unwrap()["state"],
        "approved"
    );
    id
}

fn snapshot(n: &Net) -> (opssc_chaincode::MemState, usize) {
    (n.state.clone(), n.events.len())
}

// ------------------------------------------------------------------ identities

#[test]
fn a_client_identity_cannot_act_for_its_organization() {
    let mut n = Net::founded();
    let (before, events) = snapshot(&n);
    let r = n.call_as_client("Org3MSP", "propose", deploy("ch1", "basic", "1.0"));
    let e = n.assert_refused(r, &before, events);
    assert!(
        matches!(&e, ContractError::Forbidden { reason, .. } if reason.contains("admin")),
        "{e}"
    );
    let id = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    for (f, args) in [
        ("vote", json!({"id": id, "decision": "approve"})),
        (
            "ballots",
            json!({"calls": [{"function": "vote", "args": {"id": id, "decision": "approve"}}]}),
        ),
        ("withdraw", json!({"id": id})),
        ("expire", json!({"id": id})),
        ("tally", json!({"id": id})),
    ] {
        let (before, events) = snapshot(&n);
        let r = n.call_as_client("Org1MSP", f, args);
        let e = n.assert_refused(r, &before, events);
        assert_eq!(e.class(), "forbidden", "{f}: {e}");
    }
    // The organization's admin still casts its one vote.
    approve(&mut n, "Org3MSP", &id);
    // Queries stay open to any identity of the channel.
    n.call_as_client("Org3MSP", "get", json!({"id": id}))
        .unwrap();
}

#[test]
fn a_certificate_the_registry_lists_as_admin_may_act() {
    let mut n = Net::new();
    let fp = opssc_chaincode::sig::fingerprint(&n.client_cert("Org1MSP"));
    let args =
        json!({"ops_channel": OPS, "members": ["Org1MSP"], "admin_certs": {"Org1MSP": [fp]}});
    let r = n.call_as_client("Org1MSP", "found", args).unwrap();
    assert_eq!(r["outcome"], "founded");
    let r = n
        .call_as_client("Org1MSP", "propose", deploy(OPS, "basic", "1.0"))
        .unwrap();
    assert_eq!(r["outcome"], "filed");
}

// ------------------------------------------------------------------ supersession

#[test]
fn another_organizations_filing_does_not_supersede_a_change() {
    let mut n = Net::founded();
    let honest = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    let r = n
        .call("Org3MSP", "propose", deploy("ch1", "basic", "6.6"))
        .unwrap();
    assert_eq!(r["superseded"], json!([]));
    assert_eq!(n.state_of(&honest), "proposed");
    approve(&mut n, "Org1MSP", &honest);
    approve(&mut n, "Org2MSP", &honest);
    let r = n.call("Org2MSP", "tally", json!({"id": honest})).unwrap();
    assert_eq!(r["state"], "approved");
}

#[test]
fn a_proposal_that_has_its_quorum_is_decided_not_superseded() {
    let mut n = Net::founded();
    let first = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    approve(&mut n, "Org1MSP", &first);
    approve(&mut n, "Org2MSP", &first);
    // No tally yet; the proposer files another version of the target.
    let r = n
        .call("Org1MSP", "propose", deploy("ch1", "basic", "1.1"))
        .unwrap();
    assert_eq!(r["superseded"], json!([]));
    assert_eq!(n.state_of(&first), "approved");
    // Without a quorum, the proposer's own newer filing does supersede.
    let second = id_of(&r);
    let r = n
        .call("Org1MSP", "propose", deploy("ch1", "basic", "1.2"))
        .unwrap();
    assert_eq!(r["superseded"], json!([second.clone()]));
    assert_eq!(n.state_of(&second), "superseded");
}

#[test]
fn a_deadline_shorter_than_the_minimum_voting_period_is_refused() {
    let mut n = Net::founded();
    let mut a = deploy("ch1", "basic", "1.0");
    a["deadline"] = json!(n.now + 1);
    let e = n.refused("Org3MSP", "propose", a);
    assert!(
        matches!(&e, ContractError::BadArgument { field, .. } if field == "deadline"),
        "{e}"
    );
}

#[test]
fn the_summary_is_not_part_of_the_compared_change() {
    let mut n = Net::founded();
    let mut hostile = channel_update("ch1");
    hostile["payload"]["summary"] = json!("nothing to see");
    let a = n.call("Org3MSP", "propose", hostile).unwrap();
    let b = n.call("Org1MSP", "propose", channel_update("ch1")).unwrap();
    assert_eq!(b["outcome"], "exists");
    assert_eq!(id_of(&a), id_of(&b));
}

#[test]
fn a_proposer_cannot_withdraw_a_change_another_organization_backs() {
    let mut n = Net::founded();
    // The hostile member files the agents' exact change first ...
    let id = id_of(
        &n.call("Org3MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    // ... an honest agent files it too (or approves it) ...
    let r = n
        .call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
        .unwrap();
    assert_eq!(r["outcome"], "exists");
    // ... so the hostile proposer can no longer withdraw it.
    let e = n.refused("Org3MSP", "withdraw", json!({"id": id}));
    assert_eq!(e.class(), "forbidden", "{e}");
    // Same when another organization approved it.
    let other = id_of(
        &n.call("Org3MSP", "propose", deploy("ch1", "other", "1.0"))
            .unwrap(),
    );
    approve(&mut n, "Org2MSP", &other);
    let e = n.refused("Org3MSP", "withdraw", json!({"id": other}));
    assert_eq!(e.class(), "forbidden", "{e}");
    // A proposal nobody else backs is still the proposer's to withdraw.
    let own = id_of(
        &n.call("Org3MSP", "propose", deploy("ch1", "third", "1.0"))
            .unwrap(),
    );
    n.call("Org3MSP", "withdraw", json!({"id": own})).unwrap();
}

// ------------------------------------------------------------------ clocks

#[test]
fn a_future_dated_expire_or_vote_does_not_end_a_proposal() {
    let mut n = Net::founded();
    let id = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    let far = n.now + 50 * 365 * 24 * 3600;
    let r = n
        .call_at("Org3MSP", far, "expire", json!({"id": id}))
        .unwrap();
    assert_eq!(r["state"], "proposed", "{r}");
    let r = n
        .call_at(
            "Org3MSP",
            far,
            "vote",
            json!({"id": id, "decision": "reject"}),
        )
        .unwrap();
    assert_eq!(r["state"], "proposed", "{r}");
    assert_eq!(n.state_of(&id), "proposed");
    approve(&mut n, "Org1MSP", &id);
    approve(&mut n, "Org2MSP", &id);
    let r = n.call("Org1MSP", "tally", json!({"id": id})).unwrap();
    assert_eq!(r["state"], "approved");
}

#[test]
fn expiry_needs_as_many_organizations_as_a_rejection() {
    let mut n = Net::founded();
    let id = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    let e = n.refused("Org2MSP", "expire", json!({"id": id}));
    assert_eq!(e.class(), "conflict", "{e}");
    n.now += Governance::default().voting_period_secs;
    let r = n.call("Org2MSP", "expire", json!({"id": id})).unwrap();
    assert_eq!(r["state"], "proposed");
    // Attesting twice does not count twice.
    let r = n.call("Org2MSP", "expire", json!({"id": id})).unwrap();
    assert_eq!(r["state"], "proposed");
    let r = n.call("Org3MSP", "expire", json!({"id": id})).unwrap();
    assert_eq!(r["state"], "expired");
    assert_eq!(n.last_event().0, "ProposalExpired");
}

#[test]
fn a_future_dated_claim_does_not_freeze_the_execution() {
    let mut n = Net::founded();
    let id = approved(&mut n, deploy("ch1", "basic", "1.0"));
    let g = n.get(&id);
    let order: Vec<String> =
        serde_json::from_value(g["proposal"]["execution"]["order"].clone()).unwrap();
    let (first, second) = (order[0].clone(), order[1].clone());
    // The first executor claims, dated decades ahead.
    let far = n.now + 30 * 365 * 24 * 3600;
    let (before, events) = snapshot(&n);
    let r = n.call_at(&first, far, "claim_execution", json!({"id": id}));
    let e = n.assert_refused(r, &before, events);
    assert_eq!(e.class(), "conflict", "{e}");
    // The next executor takes over after the timeout, by recorded times.
    n.now += Governance::default().executor_timeout_secs;
    let r = n
        .call(&second, "claim_execution", json!({"id": id}))
        .unwrap();
    assert_eq!(r["outcome"], "claimed");
    n.call(&second, "report_committed", json!({"id": id}))
        .unwrap();
    assert_eq!(n.state_of(&id), "committed");
}

#[test]
fn a_future_dated_decision_does_not_freeze_the_execution() {
    let mut n = Net::founded();
    let id = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    approve(&mut n, "Org1MSP", &id);
    // Counting its own vote alone, Org2's approval leaves the decision to
    // the tally below.
    n.call(
        "Org2MSP",
        "vote",
        json!({"id": id, "decision": "approve", "counted": []}),
    )
    .unwrap();
    let far = n.now + 30 * 365 * 24 * 3600;
    n.call_at("Org3MSP", far, "tally", json!({"id": id}))
        .unwrap();
    // Both approvers may act at honest times: neither waits for 2056.
    for org in ["Org1MSP", "Org2MSP"] {
        let g = n.call(org, "get", json!({"id": id})).unwrap();
        let eligible = g["eligible_executors"].as_array().unwrap();
        assert!(eligible.iter().any(|m| m == org), "{org}: {g}");
    }
    n.call("Org2MSP", "report_committed", json!({"id": id}))
        .unwrap();
}

// ------------------------------------------------------------------ signatures

#[test]
fn approve_votes_carry_no_config_signature() {
    let mut n = Net::founded();
    let id = id_of(&n.call("Org1MSP", "propose", channel_update("ch1")).unwrap());
    let sig = n.config_signature("Org2MSP", UPDATE);
    let e = n.refused(
        "Org2MSP",
        "vote",
        json!({"id": id, "decision": "approve", "config_signature": sig}),
    );
    assert!(
        matches!(&e, ContractError::BadArgument { field, .. } if field == "config_signature"),
        "{e}"
    );
    approve(&mut n, "Org2MSP", &id);
    // Signing before the decision is refused.
    let sig = n.config_signature("Org2MSP", UPDATE);
    let e = n.refused(
        "Org2MSP",
        "sign",
        json!({"id": id, "config_signature": sig}),
    );
    assert_eq!(e.class(), "conflict", "{e}");
}

#[test]
fn signatures_are_collected_only_after_approval_from_approving_admins() {
    let mut n = Net::founded();
    let id = id_of(&n.call("Org1MSP", "propose", channel_update("ch1")).unwrap());
    approve(&mut n, "Org1MSP", &id);
    n.call(
        "Org2MSP",
        "vote",
        json!({"id": id, "decision": "approve", "counted": []}),
    )
    .unwrap();
    // Org3's rejection counts every vote: two approvals decide.
    let r = n
        .call("Org3MSP", "vote", json!({"id": id, "decision": "reject"}))
        .unwrap();
    assert_eq!(r["state"], "approved");
    // Org3 rejected: it has nothing to sign.
    let sig = n.config_signature("Org3MSP", UPDATE);
    let e = n.refused(
        "Org3MSP",
        "sign",
        json!({"id": id, "config_signature": sig}),
    );
    assert_eq!(e.class(), "forbidden", "{e}");
    // Over other bytes.
    let wrong = n.config_signature("Org2MSP", b"other bytes");
    let e = n.refused(
        "Org2MSP",
        "sign",
        json!({"id": id, "config_signature": wrong}),
    );
    assert_eq!(e.class(), "bad_argument", "{e}");
    // By a client identity of the voter's organization: not an admin.
    let client = identity_with_ou("User1@Org2MSP", "client");
    let by_client = sign_config(&client, "Org2MSP", UPDATE, false);
    let e = n.refused(
        "Org2MSP",
        "sign",
        json!({"id": id, "config_signature": by_client}),
    );
    assert!(
        matches!(&e, ContractError::BadArgument { reason, .. } if reason.contains("admin")),
        "{e}"
    );
    // Another organization's signature submitted by Org1.
    let theirs = n.config_signature("Org2MSP", UPDATE);
    let e = n.refused(
        "Org1MSP",
        "sign",
        json!({"id": id, "config_signature": theirs}),
    );
    assert_eq!(e.class(), "bad_argument", "{e}");
    // The approving admins sign; the executor reads them.
    for org in ["Org1MSP", "Org2MSP"] {
        let s = n.config_signature(org, UPDATE);
        let r = n
            .call(org, "sign", json!({"id": id, "config_signature": s}))
            .unwrap();
        assert_eq!(r["outcome"], "signed");
    }
    let r = n.call("Org3MSP", "signatures", json!({"id": id})).unwrap();
    let orgs: Vec<&str> = r["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["org"].as_str().unwrap())
        .collect();
    assert_eq!(orgs, ["Org1MSP", "Org2MSP"]);
    let votes = n.call("Org3MSP", "votes", json!({"id": id})).unwrap();
    assert!(
        votes["votes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.get("config_signature").is_none())
    );
}

// ------------------------------------------------------------------ founding

fn found_args(members: &[&str]) -> Value {
    json!({"ops_channel": OPS, "members": members, "channels": [{"name": "ch1", "members": members}]})
}

#[test]
fn founding_takes_effect_when_every_member_confirmed_the_same_content() {
    let mut n = Net::new();
    let r = n.call("Org1MSP", "found", found_args(&ORGS)).unwrap();
    assert_eq!(r["outcome"], "confirmed");
    assert_eq!(r["waiting_for"], json!(["Org2MSP", "Org3MSP"]));
    // Nothing is in effect yet.
    let reg = n.call("Org1MSP", "registry", json!({})).unwrap();
    assert!(reg["meta"].is_null(), "{reg}");
    let e = n.refused("Org1MSP", "propose", deploy("ch1", "basic", "1.0"));
    assert_eq!(e.class(), "conflict");
    // A different content (another member list, another order of the same
    // list is the same content) is a separate founding.
    let r = n
        .call("Org2MSP", "found", found_args(&["Org2MSP", "Org1MSP"]))
        .unwrap();
    assert_eq!(r["outcome"], "confirmed");
    let reordered = found_args(&["Org3MSP", "Org2MSP", "Org1MSP"]);
    let r = n.call("Org2MSP", "found", reordered.clone()).unwrap();
    assert_eq!(r["waiting_for"], json!(["Org3MSP"]));
    let r = n.call("Org3MSP", "found", reordered).unwrap();
    assert_eq!(r["outcome"], "founded");
    let reg = n.call("Org1MSP", "registry", json!({})).unwrap();
    assert_eq!(reg["channels"][1]["members"], json!(ORGS));
}

#[test]
fn a_captured_registry_is_repaired_by_the_ops_channels_own_quorum() {
    let mut n = Net::new();
    // Org3 founds a registry that lists only itself.
    let r = n
        .call("Org3MSP", "found", found_args(&["Org3MSP"]))
        .unwrap();
    assert_eq!(r["outcome"], "founded");
    // Org1 (an ops channel member: its identity passed the peer's checks)
    // proposes the real membership; Org1 and Org2 are a majority of it.
    let mut sr = spec_ref();
    sr["git_commit"] = json!("d".repeat(40));
    let repair = json!({
        "kind": "RegistryChange", "target": {"channel": OPS},
        "payload": {"action": "set", "members": ORGS},
        "spec_ref": sr,
    });
    let id = id_of(&n.call("Org1MSP", "propose", repair).unwrap());
    approve(&mut n, "Org1MSP", &id);
    approve(&mut n, "Org2MSP", &id);
    let r = n.call("Org2MSP", "tally", json!({"id": id})).unwrap();
    assert_eq!(r["state"], "committed", "{r}");
    let reg = n.call("Org1MSP", "registry", json!({})).unwrap();
    let ops = reg["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == OPS)
        .unwrap();
    assert_eq!(ops["members"], json!(ORGS));
}

#[test]
fn one_member_cannot_rewrite_the_ops_membership() {
    let mut n = Net::founded();
    let hostile = json!({
        "kind": "RegistryChange", "target": {"channel": OPS},
        "payload": {"action": "set", "members": ["Org3MSP"]},
        "spec_ref": spec_ref(),
    });
    let id = id_of(&n.call("Org3MSP", "propose", hostile).unwrap());
    approve(&mut n, "Org3MSP", &id);
    let r = n.call("Org3MSP", "tally", json!({"id": id})).unwrap();
    assert_eq!(r["outcome"], "pending");
    assert_eq!(r["quorum"], 2);
}

// ------------------------------------------------------------------ electorates

#[test]
fn channel_create_is_decided_by_the_ops_channel() {
    let mut n = Net::founded();
    let squat = json!({
        "kind": "ChannelCreate", "target": {"channel": "squat"},
        "payload": {"members": ["Org3MSP"]},
        "spec_ref": spec_ref(),
    });
    let r = n.call("Org3MSP", "propose", squat).unwrap();
    assert_eq!(r["electorate"], json!(ORGS));
    assert_eq!(r["quorum"], 2);
    let id = id_of(&r);
    approve(&mut n, "Org3MSP", &id);
    let r = n.call("Org3MSP", "tally", json!({"id": id})).unwrap();
    assert_eq!(r["outcome"], "pending");
}

// ------------------------------------------------------------------ cost

#[test]
fn open_proposals_per_organization_are_limited() {
    let mut n = Net::founded();
    let bound = opssc_chaincode::contract::MAX_OPEN_PER_ORG_BOUND;
    let mut filed = 0;
    let refused = loop {
        let args = deploy("ch1", &format!("cc{filed}"), "1.0");
        let (before, events) = snapshot(&n);
        match n.call("Org3MSP", "propose", args) {
            Ok(_) => filed += 1,
            Err(e) => {
                assert_eq!(n.state, before);
                assert_eq!(n.events.len(), events);
                break e;
            }
        }
        assert!(filed <= bound, "more than {bound} open proposals");
    };
    assert_eq!(refused.class(), "conflict", "{refused}");
    assert!(
        filed >= opssc_chaincode::contract::MAX_OPEN_PER_ORG,
        "{filed}"
    );
    // Other organizations are not affected.
    n.call("Org1MSP", "propose", deploy("ch1", "onemore", "1.0"))
        .unwrap();
    // Closing proposals frees slots.
    let open = n
        .call("Org1MSP", "list", json!({"open": true, "page_size": 200}))
        .unwrap();
    let mine: Vec<String> = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["proposer"] == "Org3MSP")
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(mine.len(), filed);
    for id in &mine[10..] {
        n.call("Org3MSP", "withdraw", json!({"id": id})).unwrap();
    }
    n.call("Org3MSP", "propose", deploy("ch1", "onemore2", "1.0"))
        .unwrap();
}

/// A state that counts the rows its range reads return.
struct Counting<'a> {
    inner: &'a opssc_chaincode::MemState,
    rows: std::cell::Cell<usize>,
}

impl opssc_chaincode::StateRead for Counting<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.inner.get(key)
    }
    fn range(
        &self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, String> {
        let r = self.inner.range(start, end, limit)?;
        self.rows.set(self.rows.get() + r.len());
        Ok(r)
    }
}

#[test]
fn listing_open_proposals_costs_the_open_ones_not_every_filing() {
    let mut n = Net::founded();
    for i in 0..40 {
        let id = id_of(
            &n.call(
                "Org1MSP",
                "propose",
                deploy("ch1", &format!("old{i}"), "1.0"),
            )
            .unwrap(),
        );
        n.call("Org1MSP", "withdraw", json!({"id": id})).unwrap();
    }
    let open = id_of(
        &n.call("Org2MSP", "propose", deploy("ch1", "live", "1.0"))
            .unwrap(),
    );
    let ctx = n.ctx("Org1MSP");
    let counting = Counting {
        inner: &n.state,
        rows: std::cell::Cell::new(0),
    };
    let out = opssc_chaincode::invoke(
        &counting,
        &ctx,
        "list",
        &[serde_json::to_vec(&json!({"open": true})).unwrap()],
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&out.response).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["items"][0]["id"], open.as_str());
    assert!(
        counting.rows.get() <= 5,
        "read {} rows",
        counting.rows.get()
    );
}

#[test]
fn a_failed_proposal_is_closed_by_its_proposers_next_change_only() {
    let mut n = Net::founded();
    let id = approved(&mut n, deploy("ch1", "basic", "1.0"));
    let order: Vec<String> =
        serde_json::from_value(n.get(&id)["proposal"]["execution"]["order"].clone()).unwrap();
    n.call(
        &order[0],
        "report_failed",
        json!({"id": id, "error": "refused: package mismatch"}),
    )
    .unwrap();
    assert_eq!(n.state_of(&id), "failed");
    // Another organization's filing leaves it alone ...
    n.call("Org3MSP", "propose", deploy("ch1", "basic", "6.6"))
        .unwrap();
    assert_eq!(n.state_of(&id), "failed");
    // ... its proposer's next change of the target closes it.
    let r = n
        .call("Org1MSP", "propose", deploy("ch1", "basic", "1.1"))
        .unwrap();
    assert_eq!(r["superseded"], json!([id.clone()]));
    assert_eq!(n.state_of(&id), "superseded");
}
