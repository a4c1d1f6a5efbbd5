//! `opssc dev up` from the reference spec founds the consortium.
//!
//! The devnet is started from `network-spec/` and founded exactly as `opssc
//! dev up` does (`DevnetOptions::from_spec`, then `opssc::dev::found`: each
//! organization's `opssc found`), with the OpsSC servers in this process
//! (the `opssc-chaincode` binary is not built for this test crate). Then:
//! the spec repository is a git repository whose founding commit validates
//! with every organization's certificates, real endpoints and admin SSH key
//! (and no "no MSP certificates" warning); no private key is in it, and each
//! admin key file is mode 0600 and matches the key listed in the spec; every
//! agent configuration points at the repository and trusts the founding
//! commit; a commit signed by an organization's admin verifies with the key
//! the spec lists; the OpsSC answers a query through every organization's
//! own peer as that organization, its registry holds the spec's channels,
//! and a proposal can be filed and read back by another organization.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Instant;

use opssc_devnet::spec_repo::load_admin_key;
use opssc_devnet::{commit_signed, founding};
use opssc_schema::local::{AgentConfig, SpecSource};
use opssc_tests::founded::start_founded;
use serde_json::{Value, json};

#[test]
fn dev_up_from_the_reference_spec_founds_the_consortium() {
    let spec_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
    let t0 = Instant::now();
    let devnet = start_founded(&spec_dir);
    let up_secs = t0.elapsed().as_secs_f64();
    let f = devnet.founded().expect("founded").clone();
    eprintln!(
        "BENCH devnet up + founding: {up_secs:.1} s total, founding {:.1} s",
        f.founding_ms as f64 / 1000.0
    );

    // ---- the spec repository ---------------------------------------------------
    let repo = git2::Repository::open(&f.spec_repo.path).unwrap();
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.id().to_string(), f.spec_repo.root_commit);
    assert_eq!(head.parent_count(), 0, "the founding commit is the root");
    assert!(
        repo.extract_signature(&head.id(), None).is_err(),
        "unsigned root"
    );
    assert_eq!(
        f.spec_repo.url,
        format!("file://{}", f.spec_repo.path.display())
    );
    let loaded = opssc_schema::load_dir(&f.spec_repo.path);
    let spec = loaded
        .spec
        .unwrap_or_else(|| panic!("the spec repository does not validate: {:?}", loaded.report));
    let report = format!("{:?}", loaded.report);
    assert!(
        !report.contains("no MSP certificates"),
        "certificates missing: {report}"
    );
    assert_eq!(spec.organizations.len(), 4);
    for (msp_id, org) in &spec.organizations {
        let msp = org
            .msp
            .as_ref()
            .unwrap_or_else(|| panic!("{msp_id}: no msp"));
        assert!(msp.ca_certs[0].contains("BEGIN CERTIFICATE"), "{msp_id}");
        assert!(
            msp.tls_ca_certs[0].contains("BEGIN CERTIFICATE"),
            "{msp_id}"
        );
        assert_eq!(org.admins.len(), 1, "{msp_id}");
        // The listed key is the public half of the key file, which only the
        // organization can read.
        let key_path = &f.spec_repo.admin_keys[msp_id];
        let mode = std::fs::metadata(key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", key_path.display());
        assert!(!key_path.starts_with(&f.spec_repo.path));
        let key = load_admin_key(key_path).unwrap();
        let listed = ssh_key::PublicKey::from_openssh(&org.admins[0].signing_key).unwrap();
        assert_eq!(listed.key_data(), key.public_key().key_data(), "{msp_id}");
    }
    // Real endpoints: the peers' and orderers' own addresses.
    for h in devnet.orgs() {
        let org = &spec.organizations[&h.msp_id];
        assert_eq!(org.peers[0].endpoint.to_string(), h.peers[0].address);
    }
    let oo = &spec.organizations["OrdererMSP"];
    assert_eq!(
        oo.orderers[0].endpoint.to_string(),
        devnet.orderers()[0].address
    );
    assert!(oo.orderers[0].tls_cert.is_some());
    // No private key anywhere in the repository.
    let index = repo.index().unwrap();
    for entry in index.iter() {
        let blob = repo.find_blob(entry.id).unwrap();
        let text = String::from_utf8_lossy(blob.content());
        assert!(
            !text.contains("PRIVATE KEY"),
            "{}",
            String::from_utf8_lossy(&entry.path)
        );
    }

    // ---- agent configurations -------------------------------------------------
    for path in devnet
        .orgs()
        .iter()
        .map(|o| &o.agent_config)
        .chain([&devnet.orderer_org().agent_config])
    {
        let c = AgentConfig::load(path).unwrap();
        match &c.spec {
            Some(SpecSource::Git {
                url,
                branch,
                trusted_root,
                ..
            }) => {
                assert_eq!(url, &f.spec_repo.url);
                assert_eq!(branch, "main");
                assert_eq!(
                    trusted_root.as_deref(),
                    Some(f.spec_repo.root_commit.as_str())
                );
            }
            other => panic!("{}: spec is {other:?}", path.display()),
        }
        assert_eq!(c.ops_chaincode.as_deref(), Some("opssc"));
    }

    // ---- a signed change as Org1's admin ---------------------------------------
    let org1_key = f.spec_repo.admin_key("Org1MSP").unwrap();
    let oid = commit_signed(
        &repo,
        &[("NOTES.md", Some("Org1 was here.\n"))],
        "Org1: a note",
        &org1_key,
    )
    .unwrap();
    let (sig, signed) = repo.extract_signature(&oid, None).unwrap();
    let sig = ssh_key::SshSig::from_pem(sig.as_str().unwrap()).unwrap();
    let listed =
        ssh_key::PublicKey::from_openssh(&spec.organizations["Org1MSP"].admins[0].signing_key)
            .unwrap();
    listed
        .verify("git", signed.as_str().unwrap().as_bytes(), &sig)
        .expect("the commit verifies with the key the spec lists for Org1MSP");
    let org2_listed =
        ssh_key::PublicKey::from_openssh(&spec.organizations["Org2MSP"].admins[0].signing_key)
            .unwrap();
    assert!(
        org2_listed
            .verify("git", signed.as_str().unwrap().as_bytes(), &sig)
            .is_err()
    );

    // ---- the OpsSC on every organization's peer -------------------------------
    let rt = opssc_tests::devnet_support::test_runtime();
    rt.block_on(async {
        opssc_fabric::participation::install_ring_provider();
        let mut gateways = Vec::new();
        for h in devnet.orgs() {
            let gw = founding::admin_gateway(h).await.unwrap();
            let out = gw
                .evaluate_transaction("ops", "opssc", "registry", Vec::<Vec<u8>>::new())
                .await
                .unwrap_or_else(|e| panic!("registry as {}: {e}", h.msp_id));
            let registry: Value = serde_json::from_slice(&out).unwrap();
            let text = registry.to_string();
            assert!(text.contains("trade"), "{}: {text}", h.msp_id);
            for m in ["Org1MSP", "Org2MSP", "Org3MSP"] {
                assert!(text.contains(m), "{}: {text}", h.msp_id);
            }
            gateways.push(gw);
        }
        let proposal = json!({
            "kind": "ChaincodeDeploy",
            "target": { "channel": "trade", "chaincode": "kv" },
            "payload": {
                "name": "kv", "version": "1.0", "sequence": 1,
                "package_id": format!("kv_1.0:{}", "c".repeat(64)),
                "package_hash": "c".repeat(64),
            },
            "spec_ref": {
                "git_commit": f.spec_repo.root_commit,
                "spec_hash": spec.spec_hash,
                "committed_chaincode_sequence": 0,
            },
        });
        let filed = gateways[1]
            .submit_transaction(
                "ops",
                "opssc",
                "propose",
                [serde_json::to_vec(&proposal).unwrap()],
            )
            .await
            .unwrap_or_else(|e| panic!("propose as Org2MSP: {e}"));
        let filed: Value = serde_json::from_slice(&filed.result).unwrap();
        let id = filed["id"]
            .as_str()
            .or_else(|| filed["proposal"]["id"].as_str())
            .unwrap_or_else(|| panic!("no id in {filed}"))
            .to_string();
        let got = gateways[2]
            .evaluate_transaction(
                "ops",
                "opssc",
                "get",
                [serde_json::to_vec(&json!({ "id": id })).unwrap()],
            )
            .await
            .unwrap();
        let got: Value = serde_json::from_slice(&got).unwrap();
        assert_eq!(got["proposal"]["proposer"], json!("Org2MSP"), "{got}");
    });
    drop(rt);
    devnet.stop().unwrap();
}
