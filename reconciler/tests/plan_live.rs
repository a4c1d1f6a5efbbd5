//! `opssc plan --config` and `opssc state save` against a live devnet.
//!
//! The devnet is founded from the reference spec (`network-spec/`, as
//! `opssc dev up` does) with no agent running, so the kv chaincode is not
//! deployed. Then, through the `opssc` binary as Org1:
//! 1. `plan --config` against the spec repository's checkout shows the kv
//!    deploy (sequence 1, approved by a majority of the trade members) as the
//!    only change, and exits 2: the devnet created its channels exactly as
//!    the spec says (batch settings, policies, capabilities, anchor peers,
//!    and the consenters at the orderer endpoints the spec names);
//! 2. `state save` writes the observation and `plan --state` of it gives the
//!    same plan (JSON, apart from the observation time);
//! 3. on a copy of the spec with trade's batch timeout and kv's version
//!    changed, the plan differs from the first in exactly those two changes,
//!    the batch timeout read from the chain as the spec's 500ms;
//! 4. once kv is deployed as the agents deploy it (the package Org1's agent
//!    builds, the definition it approves, installed and approved by every
//!    member, committed), the plan is empty and exits 0;
//! 5. `opssc import` as Org1 and as Org2 writes a spec that `opssc validate`
//!    accepts (placeholders listed, certificates read from the configs) and
//!    against which `plan --config` is empty (exit 0), kv's definition
//!    included; an existing directory is never overwritten.

mod common;
use common::run_opssc as opssc;

use std::path::{Path, PathBuf};
use std::time::Instant;

use opssc_devnet::Devnet;
use opssc_schema::local::AgentConfig;
use serde_json::Value;

/// A plan with changes (exit 2) as JSON, without the observation time
/// (which differs per observation).
fn plan_json(args: &[&str]) -> Value {
    plan_json_exit(args, 2)
}

/// A plan as JSON, after checking `opssc`'s exit code.
fn plan_json_exit(args: &[&str], exit: i32) -> Value {
    let (code, out, err) = opssc(args);
    assert_eq!(
        code, exit,
        "exit code of opssc {args:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    let mut v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("opssc {args:?} printed no JSON plan ({e}):\n{out}\n{err}"));
    v.as_object_mut().unwrap().remove("taken_at");
    v
}

/// The shared changes' kinds, for the failure messages and the checks.
fn kinds(plan: &Value) -> Vec<String> {
    plan["shared"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"]["kind"].as_str().unwrap().to_string())
        .collect()
}

/// The organizations of a change's single threshold requirement: (count, of).
fn threshold(change: &Value) -> (u64, Vec<String>) {
    let reqs = change["approval"]["requirements"].as_array().unwrap();
    assert_eq!(reqs.len(), 1, "one requirement: {change:#}");
    let need = &reqs[0]["need"];
    assert_eq!(need["type"], "threshold", "{change:#}");
    let of = need["of"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap().to_string())
        .collect();
    (need["count"].as_u64().unwrap(), of)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == ".git" {
            continue;
        }
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// Installs kv on every member's peer, approves it as each member and
/// commits it, with the package Org1's agent builds and the definition the
/// agents approve (sequence 1). First each member runs "its kv server" as
/// the devnet's founding does for its demo servers: the package's address
/// is the builder placeholder `{{.kv}}`, which each member's peers resolve
/// to an address of its own, and Org1's agent configuration names it.
/// (Nothing invokes kv here, so no server needs to answer.)
fn deploy_kv_as_the_agents_do(devnet: &Devnet, repo: &Path, org1_config: &Path) {
    let loaded = opssc_schema::load_dir(repo);
    let spec = loaded
        .spec
        .unwrap_or_else(|| panic!("the spec repository does not validate: {:?}", loaded.report));
    let kv = &spec.chaincodes[&("trade".to_string(), "kv".to_string())];
    let orgs: Vec<_> = spec.channels["trade"]
        .members
        .iter()
        .map(|m| devnet.org(m).unwrap())
        .collect();
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = unused.local_addr().unwrap().to_string();
    for org in &orgs {
        opssc_devnet::founding::set_builder_value(org, "kv", &address).unwrap();
    }
    let mut config = AgentConfig::load(org1_config).unwrap();
    config
        .chaincode_servers
        .insert(kv.label.clone(), "{{.kv}}".into());
    std::fs::write(org1_config, config.to_yaml()).unwrap();

    let built = opssc::agent::packages::build(&config, kv).unwrap();
    let definition = opssc::agent::pass::definition(kv, 1).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (package_id, _) = rt
        .block_on(opssc_tests::lifecycle::deploy_chaincode(
            &orgs,
            "trade",
            &definition,
            &built.bytes,
        ))
        .unwrap_or_else(|e| panic!("deploying kv: {e}"));
    assert_eq!(package_id, built.package_id);
}

#[test]
fn plan_and_state_save_against_a_live_devnet() {
    let spec_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
    let t0 = Instant::now();
    let devnet = opssc_tests::founded::start_founded(&spec_dir);
    eprintln!(
        "FIGURE devnet up + founding: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let founded = devnet.founded().expect("founded").clone();
    let repo: PathBuf = founded.spec_repo.path.clone();
    let org1 = devnet.org("Org1MSP").expect("Org1MSP");
    let config = org1.agent_config.to_str().unwrap().to_string();
    let repo_s = repo.to_str().unwrap().to_string();
    let members = vec![
        "Org1MSP".to_string(),
        "Org2MSP".to_string(),
        "Org3MSP".to_string(),
    ];

    // 1. Live: the kv deploy, nothing else: the channels are as the spec says.
    let t = Instant::now();
    let live = plan_json(&[
        "plan", "--spec", &repo_s, "--config", &config, "--format", "json",
    ]);
    eprintln!(
        "FIGURE plan --config (observe + plan): {} ms",
        t.elapsed().as_millis()
    );
    assert_eq!(live["observed_by"], "Org1MSP");
    assert_eq!(live["me"], "Org1MSP");
    assert_eq!(kinds(&live), ["ChaincodeDeploy"], "{live:#}");
    let deploy = &live["shared"][0];
    let ch = &deploy["change"];
    assert_eq!(ch["channel"], "trade");
    assert_eq!(ch["name"], "kv");
    assert_eq!(ch["after"]["sequence"], 1);
    assert_eq!(ch["after"]["version"], "1.0");
    assert_eq!(threshold(deploy), (2, members.clone()), "{deploy:#}");
    // The text form says the same and exits 2 too.
    let (code, text, err) = opssc(&["plan", "--spec", &repo_s, "--config", &config]);
    assert_eq!(code, 2, "{text}\n{err}");
    assert!(text.contains("kv"), "{text}");

    // --config and --state together are refused.
    let (code, _, err) = opssc(&[
        "plan", "--spec", &repo_s, "--config", &config, "--state", "x.json",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("cannot be used with"), "{err}");

    // 2. state save + plan --state: the same plan.
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("org1.json");
    let state_s = state.to_str().unwrap().to_string();
    let (code, out, err) = opssc(&[
        "state", "save", "--config", &config, "--spec", &repo_s, &state_s,
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["observed_by"], "Org1MSP");
    // The settings the plan compared, as the chain has them: the spec's.
    let endpoints: Vec<String> = devnet
        .orderers()
        .iter()
        .map(|o| o.address.clone())
        .collect();
    for name in ["ops", "trade"] {
        let ch = &saved["channels"][name];
        assert_eq!(ch["batch"]["timeout_ms"], 500, "{name}: {ch:#}");
        assert_eq!(ch["batch"]["max_message_count"], 100, "{name}: {ch:#}");
        assert_eq!(
            ch["consenters"],
            serde_json::json!(endpoints),
            "{name}: {ch:#}"
        );
        assert_eq!(ch["capabilities"]["application"], "V2_5", "{name}: {ch:#}");
    }
    let offline = plan_json(&[
        "plan", "--spec", &repo_s, "--state", &state_s, "--format", "json",
    ]);
    assert_eq!(offline, live);
    // Without --spec, state save observes for the configured source (the same repository).
    let state2 = tmp.path().join("org1-source.json");
    let state2_s = state2.to_str().unwrap().to_string();
    let (code, out, err) = opssc(&["state", "save", "--config", &config, &state2_s]);
    assert_eq!(code, 0, "{out}\n{err}");
    let offline2 = plan_json(&[
        "plan", "--spec", &repo_s, "--state", &state2_s, "--format", "json",
    ]);
    assert_eq!(offline2, live);

    // 3. An edited copy of the spec: exactly the batch timeout and kv's version.
    let edited = tmp.path().join("spec");
    copy_dir(&repo, &edited);
    edit(
        &edited.join("channels/trade.yaml"),
        "timeout: 500ms",
        "timeout: 2s",
    );
    edit(
        &edited.join("chaincodes/kv.yaml"),
        "version: \"1.0\"",
        "version: \"2.0\"",
    );
    let edited_s = edited.to_str().unwrap().to_string();
    let changed = plan_json(&[
        "plan", "--spec", &edited_s, "--config", &config, "--format", "json",
    ]);
    let only_in = |a: &Value, b: &Value| -> Vec<Value> {
        let theirs: Vec<&Value> = b["shared"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["change"])
            .collect();
        a["shared"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| !theirs.contains(&&c["change"]))
            .cloned()
            .collect()
    };
    let gone = only_in(&live, &changed);
    let new = only_in(&changed, &live);
    assert_eq!(gone.len(), 1, "{gone:#?}");
    assert_eq!(gone[0]["change"]["kind"], "ChaincodeDeploy", "{gone:#?}");
    assert_eq!(gone[0]["change"]["after"]["version"], "1.0", "{gone:#?}");
    assert_eq!(new.len(), 2, "{new:#?}");
    for c in &new {
        let ch = &c["change"];
        match ch["kind"].as_str().unwrap() {
            "BatchChanged" => {
                assert_eq!(ch["channel"], "trade");
                assert_eq!(ch["before"]["timeout_ms"], 500, "{c:#}");
                assert_eq!(ch["after"]["timeout_ms"], 2000, "{c:#}");
                assert_eq!(ch["before"]["max_message_count"], 100, "{c:#}");
                assert_eq!(ch["after"]["max_message_count"], 100, "{c:#}");
                assert_eq!(threshold(c), (1, vec!["OrdererMSP".to_string()]), "{c:#}");
            }
            "ChaincodeDeploy" => {
                assert_eq!(ch["name"], "kv");
                assert_eq!(ch["after"]["version"], "2.0");
                assert_eq!(ch["after"]["sequence"], 1);
                assert_eq!(threshold(c), (2, members.clone()), "{c:#}");
            }
            other => panic!("unexpected new change {other}: {c:#}"),
        }
    }

    // 4. kv deployed as the agents deploy it: nothing left to do.
    let t = Instant::now();
    deploy_kv_as_the_agents_do(&devnet, &repo, &org1.agent_config);
    eprintln!(
        "FIGURE kv deployed (install, 3 approvals, commit): {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let converged = plan_json_exit(
        &[
            "plan", "--spec", &repo_s, "--config", &config, "--format", "json",
        ],
        0,
    );
    assert_eq!(converged["shared"], serde_json::json!([]), "{converged:#}");
    assert_eq!(converged["local"], serde_json::json!([]), "{converged:#}");
    let (code, text, err) = opssc(&["plan", "--spec", &repo_s, "--config", &config]);
    assert_eq!(code, 0, "{text}\n{err}");
    assert!(text.contains("No changes"), "{text}");

    // 5. `opssc import` of the running network, as Org1 and as Org2: the
    //    written spec validates and plans no change against the network.
    for msp in ["Org1MSP", "Org2MSP"] {
        let org = devnet.org(msp).expect(msp);
        let org_config = org.agent_config.to_str().unwrap().to_string();
        let imported = tmp.path().join(format!("imported-{msp}"));
        let imported_s = imported.to_str().unwrap().to_string();
        let t = Instant::now();
        let (code, out, err) = opssc(&["import", "--config", &org_config, "--out", &imported_s]);
        eprintln!("FIGURE import as {msp}: {} ms", t.elapsed().as_millis());
        assert_eq!(code, 0, "import as {msp}\n{out}\n{err}");
        // The placeholders are listed: kv's package source and the admins.
        assert!(out.contains("package source of trade/kv"), "{out}");
        assert!(out.contains("admins of Org3MSP"), "{out}");
        let read = |rel: &str| {
            std::fs::read_to_string(imported.join(rel))
                .unwrap_or_else(|e| panic!("{rel} of the import as {msp}: {e}\n{out}"))
        };
        assert!(
            read("consortium.yaml").contains("opsChannel: \"ops\""),
            "{}",
            read("consortium.yaml")
        );
        // The certificates come from the channel configs.
        assert!(
            read("orgs/org3.yaml").contains("BEGIN CERTIFICATE"),
            "{}",
            read("orgs/org3.yaml")
        );
        let kv = read("chaincodes/kv.yaml");
        assert!(kv.contains("version: \"1.0\""), "{kv}");
        assert!(kv.contains("TODO(opssc import)"), "{kv}");
        assert!(
            !imported.join("chaincodes/opssc.yaml").exists(),
            "the OpsSC is no spec chaincode"
        );
        let (code, vout, verr) = opssc(&["validate", &imported_s]);
        assert_eq!(code, 0, "validate the import as {msp}\n{vout}\n{verr}");
        let replan = plan_json_exit(
            &[
                "plan",
                "--spec",
                &imported_s,
                "--config",
                &org_config,
                "--format",
                "json",
            ],
            0,
        );
        assert_eq!(replan["shared"], serde_json::json!([]), "{msp}: {replan:#}");
        assert_eq!(replan["local"], serde_json::json!([]), "{msp}: {replan:#}");
        // An existing spec is never overwritten.
        let (code, _, err) = opssc(&["import", "--config", &org_config, "--out", &imported_s]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("is not empty"), "{err}");
    }
    eprintln!("FIGURE whole test: {:.1} s", t0.elapsed().as_secs_f64());
    devnet.stop().unwrap();
}
