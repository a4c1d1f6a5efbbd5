//! The agent trusts only signed spec commits: real git repositories and real
//! SSH signatures (made here with keys generated at test time).

use std::path::Path;

use git2::{Oid, Repository};
use opssc::source::{
    AdminKey, GitSource, SpecCache, approval_ref, consented, create_approval, spec_tree,
};
use ssh_key::{Algorithm, PrivateKey};

fn key() -> PrivateKey {
    PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap()
}

/// The reference network-spec with `admins` entries for Org1MSP.
fn spec_files(org1_keys: &[&PrivateKey]) -> Vec<(String, String)> {
    spec_with(&[("org1", org1_keys)])
}

/// The reference network-spec with `admins` entries for the named
/// organizations' documents (`org1` is `orgs/org1.yaml`, admins `admin0`, ...).
fn spec_with(admins: &[(&str, &[&PrivateKey])]) -> Vec<(String, String)> {
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
                for (org, keys) in admins {
                    if rel == format!("orgs/{org}.yaml") && !keys.is_empty() {
                        text.push_str(&admins_yaml(keys));
                    }
                }
                files.push((rel, text));
            }
        }
    }
    files
}

fn admins_yaml(keys: &[&PrivateKey]) -> String {
    let mut text = "  admins:\n".to_string();
    for (i, k) in keys.iter().enumerate() {
        let line = k.public_key().to_openssh().unwrap();
        text.push_str(&format!(
            "    - name: admin{i}\n      signingKey: \"{line}\"\n"
        ));
    }
    text
}

/// `files` with one more text appended to the file `rel`.
fn with_appended(mut files: Vec<(String, String)>, rel: &str, more: &str) -> Vec<(String, String)> {
    for (r, text) in &mut files {
        if r == rel {
            text.push_str(more);
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
    let v = source.verify(tip, root, None).unwrap();
    assert_eq!(v.trusted, signed);
    assert_eq!(v.signers, vec![(signed, "Org1MSP/admin0".to_string())]);
    assert!(v.refused.is_none());

    // An unsigned commit is refused; the trusted commit stays where it was.
    let unsigned = commit(&repo, &spec_files(&[&alice]), "unsigned", None);
    let v = source
        .verify(source.fetch("main").unwrap(), root, None)
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
        .verify(source.fetch("main").unwrap(), root, None)
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
        .verify(source.fetch("main").unwrap(), root, None)
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
        .verify(source.fetch("main").unwrap(), root, None)
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
        .verify(source2.fetch("main").unwrap(), root2, None)
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

/// An SSH signature over `content` in git's format (namespace "git").
fn ssh_sign(key: &PrivateKey, content: &[u8]) -> String {
    key.sign("git", ssh_key::HashAlg::Sha512, content)
        .unwrap()
        .to_pem(ssh_key::LineEnding::LF)
        .unwrap()
}

/// A commit with `tree_of`'s tree and the given parents, signed by `key` if
/// given, made the branch's tip: what a merge (or a host's squash) produces.
fn commit_with_parents(
    repo: &Repository,
    tree_of: Oid,
    parents: &[Oid],
    message: &str,
    key: Option<&PrivateKey>,
) -> Oid {
    let tree = repo.find_commit(tree_of).unwrap().tree().unwrap();
    let parents: Vec<git2::Commit> = parents
        .iter()
        .map(|p| repo.find_commit(*p).unwrap())
        .collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    let who = git2::Signature::now("someone", "someone@example.com").unwrap();
    let oid = match key {
        None => repo
            .commit(None, &who, &who, message, &tree, &parents)
            .unwrap(),
        Some(key) => {
            let buffer = repo
                .commit_create_buffer(&who, &who, message, &tree, &parents)
                .unwrap();
            let content = buffer.as_str().unwrap();
            repo.commit_signed(content, &ssh_sign(key, content.as_bytes()), None)
                .unwrap()
        }
    };
    move_branch(repo, oid);
    oid
}

/// Points `main` at `oid` (a force-push, when it is not a descendant).
fn move_branch(repo: &Repository, oid: Oid) {
    repo.reference("refs/heads/main", oid, true, "move")
        .unwrap();
    repo.set_head("refs/heads/main").unwrap();
}

/// An approval by `key` (an admin of `org`) of `commit`'s spec tree, stored
/// under its ref in `repo`, as `opssc approve` makes it.
fn approve(repo: &Repository, commit: Oid, org: &str, name: &str, key: &PrivateKey) -> Oid {
    let admin = AdminKey {
        org: org.into(),
        name: name.into(),
        key: key.public_key().clone(),
    };
    let approval = create_approval(repo, commit, &admin, |bytes| Ok(ssh_sign(key, bytes))).unwrap();
    let tree = spec_tree(repo, commit, None).unwrap();
    repo.reference(&approval_ref(tree, &admin), approval, true, "approve")
        .unwrap();
    approval
}

#[test]
fn only_an_organizations_own_admin_changes_its_document() {
    let (upstream_dir, repo, mirror_repo) = upstream_and_mirror();
    let (alice, bob, carol) = (key(), key(), key());
    let base = |org1: &[&PrivateKey]| spec_with(&[("org1", org1), ("org2", &[&bob])]);
    let root = commit(&repo, &base(&[&alice]), "root", None);
    // Bob (Org2) adds Carol as an admin of Org1: refused, naming the file,
    // the signer and who must sign.
    let hijack = commit(
        &repo,
        &base(&[&alice, &carol]),
        "bob adds carol to org1",
        Some(&bob),
    );
    let source = mirror_of(&upstream_dir, &mirror_repo);
    let v = source
        .verify(source.fetch("main").unwrap(), root, None)
        .unwrap();
    assert_eq!(v.trusted, root);
    let (refused, reason) = v.refused.unwrap();
    assert_eq!(refused, hijack);
    assert!(reason.contains("orgs/org1.yaml"), "{reason}");
    assert!(reason.contains("signed by Org2MSP/admin0"), "{reason}");
    assert!(
        reason.contains("an admin of Org1MSP must sign it (Org1MSP/admin0)"),
        "{reason}"
    );

    // An approval by Org1's admin makes the same commit Org1's change.
    approve(&repo, hijack, "Org1MSP", "admin0", &alice);
    let v = source
        .verify(source.fetch("main").unwrap(), root, None)
        .unwrap();
    assert_eq!(v.trusted, hijack, "{:?}", v.refused);
    assert!(
        v.signers[0].1.contains("Org1MSP/admin0 (approval"),
        "{:?}",
        v.signers
    );

    // Alice changes her own organization's document: accepted.
    let (upstream2, repo2, mirror2) = upstream_and_mirror();
    let root2 = commit(&repo2, &base(&[&alice]), "root", None);
    let own = commit(
        &repo2,
        &base(&[&alice, &carol]),
        "alice adds carol",
        Some(&alice),
    );
    let source2 = mirror_of(&upstream2, &mirror2);
    let v = source2
        .verify(source2.fetch("main").unwrap(), root2, None)
        .unwrap();
    assert_eq!(v.trusted, own);
    assert!(v.refused.is_none());
}

#[test]
fn a_new_organization_is_sponsored_then_its_own() {
    let (upstream_dir, repo, mirror_repo) = upstream_and_mirror();
    let (alice, bob, dave) = (key(), key(), key());
    let base = spec_with(&[("org1", &[&alice]), ("org2", &[&bob])]);
    let org4 = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec/orgs/org3.yaml"),
    )
    .unwrap()
    .replace("org3", "org4")
    .replace("Org3MSP", "Org4MSP");
    let mut with_org4 = base.clone();
    with_org4.push((
        "orgs/org4.yaml".into(),
        format!("{org4}{}", admins_yaml(&[&dave])),
    ));
    let root = commit(&repo, &base, "root", None);
    // Bob sponsors Org4's document: accepted.
    let sponsored = commit(&repo, &with_org4, "bob sponsors org4", Some(&bob));
    // From then on it is Org4's: Bob changing it is refused, Dave may.
    let by_bob = with_appended(with_org4.clone(), "orgs/org4.yaml", "");
    let by_bob: Vec<(String, String)> = by_bob
        .into_iter()
        .map(|(r, t)| {
            if r == "orgs/org4.yaml" {
                (r, t.replace("anchor: true", "anchor: false"))
            } else {
                (r, t)
            }
        })
        .collect();
    let bobs_change = commit(&repo, &by_bob, "bob edits org4", Some(&bob));
    let source = mirror_of(&upstream_dir, &mirror_repo);
    let v = source
        .verify(source.fetch("main").unwrap(), root, None)
        .unwrap();
    assert_eq!(v.trusted, sponsored, "{:?}", v.refused);
    let (refused, reason) = v.refused.unwrap();
    assert_eq!(refused, bobs_change);
    assert!(
        reason.contains("orgs/org4.yaml") && reason.contains("Org4MSP/admin0"),
        "{reason}"
    );

    move_branch(&repo, sponsored);
    let daves = commit(&repo, &by_bob, "dave edits org4", Some(&dave));
    let v = source
        .verify(source.fetch("main").unwrap(), root, None)
        .unwrap();
    assert_eq!(v.trusted, daves, "{:?}", v.refused);
}

#[test]
fn history_only_moves_forward() {
    let (upstream_dir, repo, mirror_repo) = upstream_and_mirror();
    let alice = key();
    let files = spec_files(&[&alice]);
    let root = commit(&repo, &files, "root", None);
    let c1 = commit(
        &repo,
        &with_appended(files.clone(), "consortium.yaml", "# 1\n"),
        "c1",
        Some(&alice),
    );
    let c2 = commit(
        &repo,
        &with_appended(files.clone(), "consortium.yaml", "# 2\n"),
        "c2",
        Some(&alice),
    );
    let source = mirror_of(&upstream_dir, &mirror_repo);
    let v = source
        .verify(source.fetch("main").unwrap(), root, None)
        .unwrap();
    assert_eq!(v.trusted, c2);

    // Continuing from the last verified commit: nothing new, nothing refused.
    let v = source
        .verify(source.fetch("main").unwrap(), c2, None)
        .unwrap();
    assert_eq!((v.trusted, v.refused), (c2, None));

    // A rewind to an older, validly signed commit is refused.
    move_branch(&repo, c1);
    let v = source
        .verify(source.fetch("main").unwrap(), c2, None)
        .unwrap();
    assert_eq!(v.trusted, c2);
    let (refused, reason) = v.refused.unwrap();
    assert_eq!(refused, c1);
    assert!(reason.contains("does not move forward"), "{reason}");
    assert!(reason.contains(&c2.to_string()), "{reason}");

    // So is a fork from an older commit, signed or not.
    let fork = commit(
        &repo,
        &with_appended(files.clone(), "consortium.yaml", "# fork\n"),
        "fork",
        Some(&alice),
    );
    let v = source
        .verify(source.fetch("main").unwrap(), c2, None)
        .unwrap();
    assert_eq!(v.trusted, c2);
    assert_eq!(v.refused.unwrap().0, fork);

    // A merge that puts the old fork first and the verified chain second
    // does not make the fork the history either.
    let merge = commit_with_parents(&repo, c2, &[fork, c2], "merge", Some(&alice));
    let v = source
        .verify(source.fetch("main").unwrap(), c2, None)
        .unwrap();
    assert_eq!((v.trusted, v.refused.map(|r| r.0)), (c2, Some(merge)));

    // Building on the verified commit again moves on.
    move_branch(&repo, c2);
    let c3 = commit(
        &repo,
        &with_appended(files, "consortium.yaml", "# 3\n"),
        "c3",
        Some(&alice),
    );
    let v = source
        .verify(source.fetch("main").unwrap(), c2, None)
        .unwrap();
    assert_eq!((v.trusted, v.refused), (c3, None));
}

#[test]
fn a_removed_key_counts_for_no_later_commit_merges_included() {
    let (upstream_dir, repo, mirror_repo) = upstream_and_mirror();
    let (alice, mallory) = (key(), key());
    let root = commit(&repo, &spec_files(&[&alice, &mallory]), "root", None);
    // A side branch from before the removal, signed by mallory.
    let side = commit(
        &repo,
        &with_appended(
            spec_files(&[&alice, &mallory]),
            "consortium.yaml",
            "# side\n",
        ),
        "mallory's side change",
        Some(&mallory),
    );
    move_branch(&repo, root);
    let removed = commit(
        &repo,
        &spec_files(&[&alice]),
        "alice removes mallory",
        Some(&alice),
    );
    // Mallory merges the side branch, signing with the removed key: refused.
    let merge = commit_with_parents(&repo, side, &[removed, side], "merge side", Some(&mallory));
    let source = mirror_of(&upstream_dir, &mirror_repo);
    let v = source
        .verify(source.fetch("main").unwrap(), root, None)
        .unwrap();
    assert_eq!(v.trusted, removed);
    let (refused, reason) = v.refused.unwrap();
    assert_eq!(refused, merge);
    assert!(reason.contains("not an admin key listed"), "{reason}");
    // An approval by the removed key of the merge's tree does not help either.
    let m_admin = "admin1";
    approve(&repo, merge, "Org1MSP", m_admin, &mallory);
    let v = source
        .verify(source.fetch("main").unwrap(), root, None)
        .unwrap();
    assert_eq!(v.trusted, removed);
}

#[test]
fn a_squash_by_the_host_lands_with_the_admins_tree_approval() {
    let (upstream_dir, repo, mirror_repo) = upstream_and_mirror();
    let (alice, bob) = (key(), key());
    let base = spec_with(&[("org1", &[&alice]), ("org2", &[&bob])]);
    let root = commit(&repo, &base, "root", None);
    // The pull request's head, signed by its author; the host squashes it
    // into a new commit with the same tree, unsigned (or signed by the host).
    let head = commit(
        &repo,
        &with_appended(base.clone(), "consortium.yaml", "# pr\n"),
        "pr",
        Some(&alice),
    );
    let squashed = commit_with_parents(&repo, head, &[root], "squash (#1)", None);
    let source = mirror_of(&upstream_dir, &mirror_repo);
    let v = source
        .verify(source.fetch("main").unwrap(), root, None)
        .unwrap();
    assert_eq!(v.trusted, root);
    assert!(v.refused.unwrap().1.contains("not signed"));

    // The author approves the head's tree: the squashed commit is trusted.
    approve(&repo, head, "Org1MSP", "admin0", &alice);
    let v = source
        .verify(source.fetch("main").unwrap(), root, None)
        .unwrap();
    assert_eq!(v.trusted, squashed, "{:?}", v.refused);

    // An approval signed by a key no spec lists counts for nothing.
    let (upstream2, repo2, mirror2) = upstream_and_mirror();
    let root2 = commit(&repo2, &base, "root", None);
    let head2 = commit(
        &repo2,
        &with_appended(base.clone(), "consortium.yaml", "# pr\n"),
        "pr",
        None,
    );
    approve(&repo2, head2, "Org1MSP", "admin0", &key());
    let source2 = mirror_of(&upstream2, &mirror2);
    let v = source2
        .verify(source2.fetch("main").unwrap(), root2, None)
        .unwrap();
    assert_eq!(v.trusted, root2);
}

#[test]
fn each_organization_consents_to_its_own_newest_commit() {
    let (upstream_dir, repo, mirror_repo) = upstream_and_mirror();
    let (alice, bob, carol) = (key(), key(), key());
    let admins =
        |org3: &[&PrivateKey]| spec_with(&[("org1", &[&alice]), ("org2", &[&bob]), ("org3", org3)]);
    let root = commit(&repo, &admins(&[&carol]), "root", None);
    let c1 = commit(
        &repo,
        &with_appended(admins(&[&carol]), "consortium.yaml", "# 1\n"),
        "by org1",
        Some(&alice),
    );
    let c2 = commit(
        &repo,
        &with_appended(admins(&[&carol]), "consortium.yaml", "# 2\n"),
        "by org2",
        Some(&bob),
    );
    let source = mirror_of(&upstream_dir, &mirror_repo);
    let tip = source.fetch("main").unwrap();
    assert_eq!(source.verify(tip, root, None).unwrap().trusted, c2);
    let of = |org: &str| consent_of(&source, c2, root, org).commit;
    assert_eq!(of("Org1MSP"), c1);
    assert_eq!(of("Org2MSP"), c2);
    assert_eq!(of("Org3MSP"), root);
    let how = consent_of(&source, c2, root, "Org1MSP").how;
    assert_eq!(how, "signed by Org1MSP/admin0");

    // Org3's admin approves c2 in git: Org3 consents to c2.
    approve(&repo, c2, "Org3MSP", "admin0", &carol);
    source.fetch("main").unwrap();
    let c = consent_of(&source, c2, root, "Org3MSP");
    assert_eq!(c.commit, c2);
    assert!(c.how.starts_with("approved by Org3MSP/admin0"), "{}", c.how);

    // Once Org3 removes Carol's key, her approvals no longer speak for it.
    let dave = key();
    let c3 = commit(
        &repo,
        &admins(&[&dave]),
        "org3 replaces carol by dave",
        Some(&carol),
    );
    let tip = source.fetch("main").unwrap();
    assert_eq!(source.verify(tip, c2, None).unwrap().trusted, c3);
    let c = consent_of(&source, c3, root, "Org3MSP");
    assert_eq!(c.commit, root, "{}", c.how);
}

/// The newest commit of the chain to `trusted` that `org` consented to.
fn consent_of(source: &GitSource, trusted: Oid, root: Oid, org: &str) -> opssc::source::Consent {
    consented(
        &mut SpecCache::new(source.repository(), None),
        trusted,
        root,
        org,
    )
    .unwrap()
}

/// Runs the `opssc` binary; returns (success, stdout + stderr).
fn opssc(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn opssc_approve_makes_an_approval_the_agent_counts() {
    let (upstream_dir, repo, mirror_repo) = upstream_and_mirror();
    let (alice, stranger) = (key(), key());
    let files = spec_files(&[&alice]);
    let root = commit(&repo, &files, "root", None);
    let change = commit(
        &repo,
        &with_appended(files, "consortium.yaml", "# pr\n"),
        "unsigned change",
        None,
    );
    let keys = tempfile::tempdir().unwrap();
    let write_key = |name: &str, k: &PrivateKey| {
        let path = keys.path().join(name);
        std::fs::write(
            &path,
            k.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
        )
        .unwrap();
        path.display().to_string()
    };
    let dir = upstream_dir.path().display().to_string();

    // A key no organization lists: refused, saying why.
    let (ok, text) = opssc(&[
        "approve",
        "HEAD",
        "--repo",
        &dir,
        "--key",
        &write_key("stranger", &stranger),
    ]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("is not an admin key of any organization"),
        "{text}"
    );

    let (ok, text) = opssc(&[
        "approve",
        &change.to_string(),
        "--repo",
        &dir,
        "--key",
        &write_key("alice", &alice),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("Org1MSP/admin0 approved commit"), "{text}");
    assert!(text.contains("refs/opssc/approvals/"), "{text}");

    let source = mirror_of(&upstream_dir, &mirror_repo);
    let v = source
        .verify(source.fetch("main").unwrap(), root, None)
        .unwrap();
    assert_eq!(v.trusted, change, "{:?}", v.refused);
    let c = consent_of(&source, change, root, "Org1MSP");
    assert_eq!(c.commit, change);
}

/// An agent configuration of `msp` following `upstream`'s main branch from
/// `root` (None: no trustedRoot), with its state in `state`.
fn agent_config(msp: &str, upstream: &Path, root: Option<Oid>, state: &Path) -> String {
    let root = root
        .map(|r| format!("\n    trustedRoot: \"{r}\""))
        .unwrap_or_default();
    format!(
        "apiVersion: opssc/v1alpha1\nkind: AgentConfig\nmspId: {msp}\nidentity:\n  mspDir: msp\npeers: []\norderers: []\n\
         stateDir: {}\nspec:\n  git:\n    url: \"file://{}\"\n    branch: main{root}\n",
        state.display(),
        upstream.display()
    )
}

/// Org1MSP's agent following `upstream` from `root`: its configuration,
/// in a new directory whose `state` sub-directory is its state directory.
fn org1_agent(upstream: &Path, root: Oid) -> (tempfile::TempDir, opssc_schema::local::AgentConfig) {
    let dir = tempfile::tempdir().unwrap();
    let config = load_config(
        dir.path(),
        &agent_config("Org1MSP", upstream, Some(root), &dir.path().join("state")),
    )
    .unwrap();
    (dir, config)
}

fn load_config(dir: &Path, text: &str) -> Result<opssc_schema::local::AgentConfig, String> {
    let path = dir.join("opssc.yaml");
    std::fs::write(&path, text).unwrap();
    opssc_schema::local::AgentConfig::load(&path)
}

#[test]
fn trusted_root_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let e = load_config(
        dir.path(),
        &agent_config("Org1MSP", dir.path(), None, dir.path()),
    )
    .unwrap_err();
    assert!(e.contains("spec.git.trustedRoot is missing"), "{e}");
    assert!(e.contains("hint"), "{e}");
}

#[test]
fn the_agent_remembers_what_it_verified_and_refuses_a_rewind() {
    use opssc::agent::spec_source::resolve;
    let (upstream_dir, repo, _) = upstream_and_mirror();
    let (alice, bob) = (key(), key());
    let files = spec_with(&[("org1", &[&alice]), ("org2", &[&bob])]);
    let root = commit(&repo, &files, "root", None);
    let c1 = commit(
        &repo,
        &with_appended(files.clone(), "consortium.yaml", "# 1\n"),
        "by org1",
        Some(&alice),
    );
    let c2 = commit(
        &repo,
        &with_appended(files.clone(), "consortium.yaml", "# 2\n"),
        "by org2",
        Some(&bob),
    );
    let (state, config) = org1_agent(upstream_dir.path(), root);
    // A one-shot command resolves into a sub-directory of the state directory.
    let at = resolve(&config, &state.path().join("state/status"), None).unwrap();
    assert_eq!(at.commit, Some(c2));
    assert!(at.refused.is_none());
    let consented = at.consented.as_ref().unwrap();
    assert_eq!(
        consented.commit, c1,
        "Org1 consented to its own commit, not Org2's"
    );
    assert_eq!(consented.how, "signed by Org1MSP/admin0");

    // The branch is force-pushed back to c1 (validly signed): the daemon,
    // resolving into the state directory itself, stays on c2 and says why.
    move_branch(&repo, c1);
    let at = resolve(&config, &state.path().join("state"), None).unwrap();
    assert_eq!(at.commit, Some(c2));
    let (refused, why) = at.refused.unwrap();
    assert_eq!(refused, c1);
    assert!(why.contains("does not move forward"), "{why}");
    assert_eq!(at.tip, Some(c1));
}

#[test]
fn a_pass_whose_mirror_did_not_move_reuses_the_last_resolution() {
    use opssc::agent::spec_source::{Resolved, resolve_since};
    let (upstream_dir, repo, _) = upstream_and_mirror();
    let (alice, bob) = (key(), key());
    let files = spec_with(&[("org1", &[&alice]), ("org2", &[&bob])]);
    let root = commit(&repo, &files, "root", None);
    let c1 = commit(
        &repo,
        &with_appended(files.clone(), "consortium.yaml", "# 1\n"),
        "by org2",
        Some(&bob),
    );
    let (state, config) = org1_agent(upstream_dir.path(), root);
    let dir = state.path().join("state");
    let mut last = Resolved::default();
    let first = resolve_since(&config, &dir, None, &mut last).unwrap();
    assert_eq!(first.commit, Some(c1));
    assert_eq!(first.signers.len(), 1, "c1 is verified in this pass");
    assert_eq!(first.consented.as_ref().unwrap().commit, root);

    // Nothing moved: the same spec, with nothing newly verified.
    let again = resolve_since(&config, &dir, None, &mut last).unwrap();
    assert_eq!(again.commit, Some(c1));
    assert!(again.signers.is_empty());
    assert_eq!(again.spec, first.spec);
    assert_eq!(again.consented.as_ref().unwrap().commit, root);

    // An approval is pushed: Org1 now consents to c1.
    approve(&repo, c1, "Org1MSP", "admin0", &alice);
    let approved = resolve_since(&config, &dir, None, &mut last).unwrap();
    assert_eq!(approved.consented.as_ref().unwrap().commit, c1);

    // A new commit: resolved afresh.
    let c2 = commit(
        &repo,
        &with_appended(files, "consortium.yaml", "# 2\n"),
        "by org1",
        Some(&alice),
    );
    let moved = resolve_since(&config, &dir, None, &mut last).unwrap();
    assert_eq!(moved.commit, Some(c2));
    assert_eq!(moved.signers.len(), 1);
}
