//! Go source chaincode on a real 3-organization devnet, without Docker.
//!
//! A Go chaincode written for this test with the official contract API
//! (`fabric-contract-api-go/v2`, a real module dependency; `go.sum` made by
//! `go mod tidy` at test time) lives in a git repository the test creates.
//! Each organization fetches the pinned commit into its own mirror and builds
//! the package on its own (`opssc::chaincode_source`): the three package IDs
//! must be equal. The package is installed on every peer (the devnet's
//! `opssc-golang` external builder compiles it with `go build`, the peer
//! launches it through the builder's `run`), approved, committed, invoked as
//! Org1 and read as Org3. A second commit of the chaincode repository is
//! upgraded to (sequence 2) and its new behaviour answers. A third commit
//! that does not compile fails to install, the compiler's error reaches the
//! peer's log, and the running version keeps serving.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opssc::chaincode_source::{
    SourceError, SourceRef, build_source_package, fetch_tree, go_build_output,
};
use opssc_devnet::{OrgHandle, PeerHandle};
use opssc_fabric::endorser::Endorser;
use opssc_fabric::gateway::Gateway;
use opssc_fabric::lifecycle::{self, ChaincodeDefinition};
use opssc_fabric::{Error, Fault, Node, NodeConfig, Signer, SigningIdentity};
use opssc_tests::devnet_support::shared_devnet;
use opssc_tests::gocc::{ChaincodeRepo, MODULE_DIR, TYPE_ERROR, main_go};

const CHANNEL: &str = "trade";
const CC: &str = "gocc";

/// The pinned source of `commit` of the test's chaincode repository.
fn source(repo: &ChaincodeRepo, commit: &str) -> SourceRef {
    SourceRef {
        url: repo.url(),
        commit: commit.to_string(),
        path: MODULE_DIR.into(),
    }
}

/// Each organization builds the package in its own mirror; all IDs must agree.
fn build_by_every_org(
    repo: &ChaincodeRepo,
    commit: &str,
    label: &str,
    orgs: usize,
) -> (Vec<u8>, String) {
    let mut built = Vec::new();
    for i in 0..orgs {
        let mirror = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let pkg = build_source_package(mirror.path(), &source(repo, commit), label, None)
            .unwrap_or_else(|e| panic!("org {i}: {}", chain(&e)));
        eprintln!(
            "org {i}: fetched and packaged {label} ({} files, {} bytes) in {} ms",
            pkg.files,
            pkg.bytes.len(),
            t.elapsed().as_millis()
        );
        built.push(pkg);
    }
    for pkg in &built[1..] {
        assert_eq!(pkg.package_id, built[0].package_id, "package IDs differ");
        assert_eq!(pkg.bytes, built[0].bytes);
    }
    let first = built.swap_remove(0);
    (first.bytes, first.package_id)
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

#[test]
fn independent_fetches_build_identical_packages_and_refuse_bad_refs() {
    let repo = ChaincodeRepo::new();
    let c1 = repo.commit(&main_go("v1", ""), "v1");
    let (bytes, id) = build_by_every_org(&repo, &c1, "gocc_1", 2);
    assert!(id.starts_with("gocc_1:"));
    // The files are those of the commit, not of the working tree.
    std::fs::write(
        repo.path.join("chaincode/main.go"),
        "package main // dirty\n",
    )
    .unwrap();
    let again = build_source_package(
        tempfile::tempdir().unwrap().path(),
        &source(&repo, &c1),
        "gocc_1",
        None,
    )
    .unwrap();
    assert_eq!(again.bytes, bytes);
    let files = fetch_tree(
        tempfile::tempdir().unwrap().path(),
        &source(&repo, &c1),
        None,
    )
    .unwrap();
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["chaincode/go.mod", "chaincode/go.sum", "chaincode/main.go"]
    );
    // A second commit is a different package.
    let c2 = repo.commit(&main_go("v2", ""), "v2");
    let (_, id2) = build_by_every_org(&repo, &c2, "gocc_1", 1);
    assert_ne!(id, id2);

    let mirror = tempfile::tempdir().unwrap();
    let err = build_source_package(mirror.path(), &source(&repo, "master"), "x", None).unwrap_err();
    assert!(matches!(err, SourceError::NotACommit { .. }), "{err}");
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let err = build_source_package(mirror.path(), &source(&repo, missing), "x", None).unwrap_err();
    assert!(matches!(err, SourceError::CommitNotFound { .. }), "{err}");
    let mut elsewhere = source(&repo, &c1);
    elsewhere.path = "nowhere".into();
    let err = build_source_package(mirror.path(), &elsewhere, "x", None).unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
    elsewhere.path = "".into();
    let err = build_source_package(mirror.path(), &elsewhere, "x", None).unwrap_err();
    assert!(chain(&err).contains("no go.mod"), "{}", chain(&err));
    let gone = SourceRef {
        url: format!("file://{}", repo.path.join("nope").display()),
        ..source(&repo, &c1)
    };
    let err = build_source_package(mirror.path(), &gone, "x", None).unwrap_err();
    assert!(matches!(err, SourceError::Fetch { .. }), "{err}");
}

/// One organization as its admin sees it.
struct Org {
    msp_id: String,
    endorser: Endorser,
    gateway: Gateway,
    peer: PeerHandle,
}

async fn org(handle: &OrgHandle) -> Org {
    let admin: Arc<dyn Signer> = Arc::new(
        SigningIdentity::from_msp_dir(&handle.msp_id, &handle.admin_msp_dir)
            .unwrap_or_else(|e| panic!("{}: {e}", handle.msp_id)),
    );
    let peer = handle.peers[0].clone();
    let tls = std::fs::read_to_string(&peer.tls_ca_cert).unwrap();
    let node = Node::connect(&NodeConfig::tls(&peer.address, tls).with_server_name(&peer.host))
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    Org {
        msp_id: handle.msp_id.clone(),
        endorser: Endorser::new(node.clone(), admin.clone()),
        gateway: Gateway::new(node, admin),
        peer,
    }
}

/// Retries `f` while it fails with a transient error, for at most `limit`.
async fn retry<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if e.fault() == Fault::Transient && start.elapsed() < limit => {
                eprintln!("{what}: retrying after transient error: {}", chain(&e));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("{what} failed after {:?}: {}", start.elapsed(), chain(&e)),
        }
    }
}

async fn install_everywhere(orgs: &[Org], pkg: &[u8], package_id: &str) {
    for org in orgs {
        let t = Instant::now();
        let installed = lifecycle::install(&org.endorser, pkg)
            .await
            .unwrap_or_else(|e| panic!("install on {}: {}", org.msp_id, chain(&e)));
        assert_eq!(installed.package_id, package_id, "{}", org.msp_id);
        eprintln!(
            "installed {package_id} on {} in {:.1} s (the first peer compiles unless the host cache has it)",
            org.msp_id,
            t.elapsed().as_secs_f64()
        );
    }
}

async fn define(orgs: &[Org], def: &ChaincodeDefinition, package_id: &str) {
    for org in orgs {
        retry("approve", Duration::from_secs(60), || {
            lifecycle::approve(&org.gateway, CHANNEL, def, Some(package_id))
        })
        .await;
    }
    let endorsing: Vec<String> = orgs.iter().map(|o| o.msp_id.clone()).collect();
    retry("commit", Duration::from_secs(90), || {
        lifecycle::commit(&orgs[0].gateway, CHANNEL, def, &endorsing)
    })
    .await;
    // The gateway's commit waited for its own peer (orgs[0]); the others may lag.
    let committed = lifecycle::query_committed(&orgs[0].endorser, CHANNEL, CC)
        .await
        .unwrap()
        .expect("committed");
    assert_eq!(committed.sequence, def.sequence);
}

async fn evaluate(org: &Org, function: &str, args: &[&str]) -> String {
    let what = format!("{function} on {}", org.msp_id);
    let out = retry(&what, Duration::from_secs(90), || {
        org.gateway
            .evaluate_transaction(CHANNEL, CC, function, args.iter().copied())
    })
    .await;
    String::from_utf8(out).unwrap()
}

#[test]
fn go_source_chaincode_deploys_upgrades_and_survives_a_broken_build() {
    let devnet = shared_devnet();
    let rt = opssc_tests::devnet_support::test_runtime();
    rt.block_on(async {
        opssc_fabric::participation::install_ring_provider();
        let t0 = Instant::now();
        let mut orgs = Vec::new();
        for h in devnet.orgs() {
            orgs.push(org(h).await);
        }
        let repo = ChaincodeRepo::new();

        // ---- v1: three independent builds, install, approve, commit ----------
        let c1 = repo.commit(&main_go("v1", ""), "v1");
        let (pkg1, id1) = build_by_every_org(&repo, &c1, "gocc_1", orgs.len());
        install_everywhere(&orgs, &pkg1, &id1).await;
        define(&orgs, &ChaincodeDefinition::new(CC, "1", 1), &id1).await;
        let put = retry("put as Org1", Duration::from_secs(90), || {
            orgs[0]
                .gateway
                .submit_transaction(CHANNEL, CC, "Put", ["colour", "blue"])
        })
        .await;
        assert_eq!(put.result, b"Org1MSP");
        assert_eq!(evaluate(&orgs[2], "Get", &["colour"]).await, "blue");
        assert_eq!(evaluate(&orgs[2], "Version", &[]).await, "v1");
        eprintln!("v1 serving at {:.1} s", t0.elapsed().as_secs_f64());

        // ---- v2: a newer commit of the chaincode repository -------------------
        let c2 = repo.commit(&main_go("v2", ""), "v2");
        let (pkg2, id2) = build_by_every_org(&repo, &c2, "gocc_2", orgs.len());
        assert_ne!(id1, id2);
        install_everywhere(&orgs, &pkg2, &id2).await;
        define(&orgs, &ChaincodeDefinition::new(CC, "2", 2), &id2).await;
        for org in &orgs {
            assert_eq!(evaluate(org, "Version", &[]).await, "v2", "{}", org.msp_id);
        }
        assert_eq!(evaluate(&orgs[1], "Get", &["colour"]).await, "blue");
        eprintln!("v2 serving at {:.1} s", t0.elapsed().as_secs_f64());

        // ---- v3 does not compile -----------------------------------------------
        let c3 = repo.commit(&main_go("v3", TYPE_ERROR), "v3, broken");
        let (pkg3, id3) = build_by_every_org(&repo, &c3, "gocc_3", 1);
        let t = Instant::now();
        let err = lifecycle::install(&orgs[0].endorser, &pkg3)
            .await
            .expect_err("a chaincode that does not compile must not install");
        let message = chain(&err);
        eprintln!(
            "broken install refused in {:.1} s: {message}",
            t.elapsed().as_secs_f64()
        );
        assert!(message.contains("could not build chaincode"), "{message}");
        assert!(message.contains("opssc-golang"), "{message}");
        // Fabric v2.5 keeps a builder's stderr out of its reply and logs it:
        // the compiler's own message is in the peer's log.
        let log = std::fs::read_to_string(&orgs[0].peer.log).unwrap();
        let compiler = log
            .lines()
            .find(|l| l.contains("opssc-golang") && l.contains("main.go:"))
            .unwrap_or_else(|| {
                panic!(
                    "the compiler's error is not in {}",
                    orgs[0].peer.log.display()
                )
            });
        assert!(
            compiler.contains("cannot use \"not a number\""),
            "{compiler}"
        );
        // What an agent with Go does to put the compiler's error in its task.
        let mirror = tempfile::tempdir().unwrap();
        let files = fetch_tree(mirror.path(), &source(&repo, &c3), None).unwrap();
        let diagnosis = go_build_output(&files, "chaincode")
            .unwrap()
            .expect("the broken commit does not compile");
        assert!(
            diagnosis.contains("main.go:") && diagnosis.contains("cannot use \"not a number\""),
            "{diagnosis}"
        );
        let files = fetch_tree(mirror.path(), &source(&repo, &c2), None).unwrap();
        assert_eq!(go_build_output(&files, "chaincode").unwrap(), None);
        let installed = lifecycle::query_installed(&orgs[0].endorser).await.unwrap();
        assert!(
            !installed.iter().any(|p| p.package_id == id3),
            "the broken package must not stay installed"
        );
        // The running version keeps serving.
        assert_eq!(evaluate(&orgs[0], "Version", &[]).await, "v2");
        let put = orgs[0]
            .gateway
            .submit_transaction(CHANNEL, CC, "Put", ["colour", "green"])
            .await
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        assert_eq!(put.result, b"Org1MSP");
        assert_eq!(evaluate(&orgs[2], "Get", &["colour"]).await, "green");
        eprintln!("scenario done in {:.1} s", t0.elapsed().as_secs_f64());
    });
}

/// The builder scripts on their own, as the peer calls them: detect, build
/// (then the cache), a compile error on stderr with a failure log, release,
/// and run's environment for the Go shim.
#[test]
fn golang_builder_scripts_follow_the_external_builder_contract() {
    use std::fs;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    opssc_devnet::builders::install_golang_builder(&root.join("builder")).unwrap();
    let bin = root.join("builder/bin");
    let (src, meta, out, rel, cache) = (
        root.join("src"),
        root.join("meta"),
        root.join("out"),
        root.join("rel"),
        root.join("cache"),
    );
    for d in [&src, &meta, &out, &rel] {
        fs::create_dir_all(d).unwrap();
    }
    let run = |script: &str, args: &[&std::path::Path]| {
        let out = Command::new(bin.join(script))
            .args(args)
            .env("OPSSC_GOBUILD_CACHE", &cache)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(!run("detect", &[&src, &meta]).0, "no metadata.json");
    fs::write(
        meta.join("metadata.json"),
        r#"{"type":"ccaas","label":"x"}"#,
    )
    .unwrap();
    assert!(!run("detect", &[&src, &meta]).0, "a ccaas package");
    fs::write(
        meta.join("metadata.json"),
        r#"{"type":"golang","label":"probe_1","path":"example.com/probe"}"#,
    )
    .unwrap();
    assert!(run("detect", &[&src, &meta]).0, "a golang package");

    // A stdlib-only program that prints the environment the shim would read.
    fs::create_dir_all(src.join("src")).unwrap();
    fs::write(
        src.join("src/go.mod"),
        "module example.com/probe\n\ngo 1.22\n",
    )
    .unwrap();
    let program = r#"package main

import (
	"fmt"
	"os"
)

func main() {
	for _, k := range []string{"CORE_CHAINCODE_ID_NAME", "CORE_PEER_LOCALMSPID", "CORE_PEER_TLS_ENABLED"} {
		fmt.Printf("%s=%s\n", k, os.Getenv(k))
	}
	root, _ := os.ReadFile(os.Getenv("CORE_PEER_TLS_ROOTCERT_FILE"))
	key, _ := os.ReadFile(os.Getenv("CORE_TLS_CLIENT_KEY_FILE"))
	b64, _ := os.ReadFile(os.Getenv("CORE_TLS_CLIENT_CERT_PATH"))
	fmt.Printf("root=%q\nkey=%q\ncertb64=%s\nargs=%v\n", root, key, b64, os.Args[1:])
}
"#;
    fs::write(src.join("src/main.go"), program).unwrap();
    fs::create_dir_all(src.join("META-INF/statedb/couchdb/indexes")).unwrap();
    fs::write(src.join("META-INF/statedb/couchdb/indexes/i.json"), "{}").unwrap();
    let t = Instant::now();
    let (ok, _, err) = run("build", &[&src, &meta, &out]);
    assert!(ok, "{err}");
    eprintln!("probe built in {:.1} s", t.elapsed().as_secs_f64());
    assert!(out.join("chaincode").is_file());
    let (ok, _, err) = run("build", &[&src, &meta, &root.join("rel")]);
    assert!(ok && err.contains("using the cached build"), "{err}");
    fs::remove_file(rel.join("chaincode")).unwrap();
    let (ok, _, err) = run("release", &[&out, &rel]);
    assert!(ok, "{err}");
    assert!(rel.join("statedb/couchdb/indexes/i.json").is_file());

    // run: chaincode.json as the peer writes it (Go's JSON, PEM with \n).
    let launch = root.join("launch");
    fs::create_dir_all(&launch).unwrap();
    let json = serde_json::json!({
        "chaincode_id": "probe_1:abc",
        "peer_address": "127.0.0.1:7052",
        "client_cert": "-----BEGIN CERTIFICATE-----\nCCC\n-----END CERTIFICATE-----\n",
        "client_key": "-----BEGIN TEST PRIVATE KEY-----\nKKK\n-----END TEST PRIVATE KEY-----\n",
        "root_cert": "-----BEGIN CERTIFICATE-----\nRRR\n-----END CERTIFICATE-----\n",
        "mspid": "Org1MSP",
    });
    fs::write(launch.join("chaincode.json"), json.to_string()).unwrap();
    let (ok, stdout, err) = run("run", &[&out, &launch]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("CORE_CHAINCODE_ID_NAME=probe_1:abc\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("CORE_PEER_LOCALMSPID=Org1MSP\n"),
        "{stdout}"
    );
    assert!(stdout.contains("CORE_PEER_TLS_ENABLED=true\n"), "{stdout}");
    assert!(
        stdout.contains(r#"root="-----BEGIN CERTIFICATE-----\nRRR\n-----END CERTIFICATE-----\n""#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"key="-----BEGIN TEST PRIVATE KEY-----\nKKK\n"#),
        "{stdout}"
    );
    let cert_b64 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "-----BEGIN CERTIFICATE-----\nCCC\n-----END CERTIFICATE-----\n",
    );
    assert!(
        stdout.contains(&format!("certb64={cert_b64}\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains("args=[-peer.address=127.0.0.1:7052]"),
        "{stdout}"
    );

    // A compile error: build fails, go's message on stderr and in the log.
    fs::write(
        src.join("src/main.go"),
        "package main\n\nfunc main() { var n int = \"x\"; _ = n }\n",
    )
    .unwrap();
    let out2 = root.join("out2");
    fs::create_dir_all(&out2).unwrap();
    let (ok, _, err) = run("build", &[&src, &meta, &out2]);
    assert!(!ok);
    assert!(err.contains("main.go:3:"), "{err}");
    assert!(err.contains("cannot use \"x\""), "{err}");
    let failed: Vec<_> = fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".failed.log"))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(!out2.join("chaincode").exists());
}
