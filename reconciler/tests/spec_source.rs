//! The agent trusts only signed spec commits: real git repositories and real
//! SSH signatures (made here with keys generated at test time).

use std::path::Path;

use git2::{Oid, Repository};
use opssc::source::GitSource;
use ssh_key::{Algorithm, PrivateKey};

fn key() -> PrivateKey {
    PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap()
}

/// The reference network-spec with `admins` entries for Org1MSP.
fn spec_files(org1_keys: &[&PrivateKey]) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
    let mut files = Vec::new();
    for sub in ["", "orgs", "channels", "chaincodes"] {
        for entry in std::fs::read_dir(root.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                let mut text = std::fs::read_to_string(&path).unwrap();
                if rel == "orgs/org1.yaml" && !org1_keys.is_empty() {
                    text.push_str("  admins:\n");
                    for (i, k) in org1_keys.iter().enumerate() {
                        let line = k.public_key().to_openssh().unwrap();
                        text.push_str(&format!(
                            "    - name: admin{i}\n      signingKey: \"{line}\"\n"
                        ));
                    }
                }
                files.push((rel, text));
            }
        }
    }
    files
}

/// Writes the files, commits them on `main`, signed by `key` if given
/// (`opssc_devnet::commit_files`, the one way the project commits a spec change).
fn commit(
    repo: &Repository,
    files: &[(String, String)],
    message: &str,
    key: Option<&PrivateKey>,
) -> Oid {
    let files: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|(rel, text)| (rel.as_str(), Some(text.as_str())))
        .collect();
    opssc_devnet::commit_files(repo, &files, message, key).unwrap()
}

/// A new upstream repository and an agent-side mirror of it.
fn upstream_and_mirror() -> (tempfile::TempDir, Repository, tempfile::TempDir) {
    let upstream = tempfile::tempdir().unwrap();
    let repo = Repository::init(upstream.path()).unwrap();
    let mirror = tempfile::tempdir().unwrap();
    (upstream, repo, mirror)
}

fn mirror_of(upstream: &tempfile::TempDir, mirror: &tempfile::TempDir) -> GitSource {
    GitSource::open(
        mirror.path(),
        &format!("file://{}", upstream.path().display()),
    )
    .unwrap()
}

#[test]
fn only_commits_signed_by_listed_admins_are_trusted() {
    let (upstream_dir, repo, mirror_repo) = upstream_and_mirror();
    let alice = key();
    let root = commit(&repo, &spec_files(&[&alice]), "root: the consortium", None);
    let signed = commit(
        &repo,
        &spec_files(&[&alice]),
        "signed by alice",
        Some(&alice),
    );

    let source = mirror_of(&upstream_dir, &mirror_repo);
    let tip = source.fetch("main").unwrap();
    assert_eq!(tip, signed);
    let v = source.verify(tip, Some(root), None).unwrap();
    assert_eq!(v.trusted, signed);
    assert_eq!(v.signers, vec![(signed, "Org1MSP/admin0".to_string())]);
    assert!(v.refused.is_none());

    // An unsigned commit is refused; the trusted commit stays where it was.
    let unsigned = commit(&repo, &spec_files(&[&alice]), "unsigned", None);
    let v = source
        .verify(source.fetch("main").unwrap(), Some(root), None)
        .unwrap();
    assert_eq!(v.trusted, signed);
    let (refused, reason) = v.refused.unwrap();
    assert_eq!(refused, unsigned);
    assert!(reason.contains("not signed"), "{reason}");

    // Later commits do not help: the chain stops at the first refused commit.
    commit(
        &repo,
        &spec_files(&[&alice]),
        "signed after an unsigned one",
        Some(&alice),
    );
    let v = source
        .verify(source.fetch("main").unwrap(), Some(root), None)
        .unwrap();
    assert_eq!(v.trusted, signed);
}

#[test]
fn a_commit_signed_by_an_unknown_key_is_refused() {
    let (upstream_dir, repo, mirror_repo) = upstream_and_mirror();
    let alice = key();
    let mallory = key();
    let root = commit(&repo, &spec_files(&[&alice]), "root", None);
    let forged = commit(
        &repo,
        &spec_files(&[&alice]),
        "mallory's change",
        Some(&mallory),
    );
    let source = mirror_of(&upstream_dir, &mirror_repo);
    let v = source
        .verify(source.fetch("main").unwrap(), Some(root), None)
        .unwrap();
    assert_eq!(v.trusted, root);
    let (refused, reason) = v.refused.unwrap();
    assert_eq!(refused, forged);
    let fingerprint = mallory
        .public_key()
        .fingerprint(Default::default())
        .to_string();
    assert!(reason.contains(&fingerprint), "{reason}");
}

#[test]
fn a_commit_cannot_vouch_for_its_own_new_key() {
    let (upstream_dir, repo, mirror_repo) = upstream_and_mirror();
    let alice = key();
    let carol = key();
    let root = commit(&repo, &spec_files(&[&alice]), "root", None);
    // Carol adds her own key and signs with it: refused.
    let self_vouching = commit(
        &repo,
        &spec_files(&[&alice, &carol]),
        "carol adds herself",
        Some(&carol),
    );
    let source = mirror_of(&upstream_dir, &mirror_repo);
    let v = source
        .verify(source.fetch("main").unwrap(), Some(root), None)
        .unwrap();
    assert_eq!(v.trusted, root);
    let (refused, reason) = v.refused.unwrap();
    assert_eq!(refused, self_vouching);
    assert!(
        reason.contains("not an admin key listed in the spec before this commit"),
        "{reason}"
    );

    // Signed by alice instead, Carol's key is accepted from the next commit on.
    let (upstream2, repo2, mirror_repo2) = upstream_and_mirror();
    let root2 = commit(&repo2, &spec_files(&[&alice]), "root", None);
    let add_carol = commit(
        &repo2,
        &spec_files(&[&alice, &carol]),
        "alice adds carol",
        Some(&alice),
    );
    let by_carol = commit(
        &repo2,
        &spec_files(&[&alice, &carol]),
        "carol's first change",
        Some(&carol),
    );
    let source2 = mirror_of(&upstream2, &mirror_repo2);
    let v = source2
        .verify(source2.fetch("main").unwrap(), Some(root2), None)
        .unwrap();
    assert_eq!(v.trusted, by_carol);
    assert_eq!(
        v.signers.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![add_carol, by_carol]
    );
    assert_eq!(v.signers[1].1, "Org1MSP/admin1");
}

#[test]
fn checkout_writes_the_spec_of_a_commit() {
    let (upstream_dir, repo, mirror_repo) = upstream_and_mirror();
    let tip = commit(&repo, &spec_files(&[]), "root", None);
    let source = mirror_of(&upstream_dir, &mirror_repo);
    assert_eq!(source.fetch("main").unwrap(), tip);
    let out = tempfile::tempdir().unwrap();
    source
        .checkout(tip, None, &out.path().join("spec"))
        .unwrap();
    let loaded = opssc_schema::load_dir(&out.path().join("spec"));
    assert!(loaded.spec.is_some(), "{}", loaded.report.render());
}
