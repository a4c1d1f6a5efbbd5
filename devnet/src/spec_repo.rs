//! The devnet's spec repository: a real git repository at `<state>/spec-repo`
//! holding the network spec as the organizations themselves would commit it.
//!
//! The spec a user writes ([`create_spec_repo`]'s input, e.g. `network-spec/`)
//! has organizations without certificates, with placeholder endpoints and no
//! admin keys: those exist only once the devnet has generated each
//! organization's crypto. Acting as each organization, the devnet puts into
//! its copy of the spec that organization's CA and TLS CA certificates
//! (inline PEM), its nodes' real endpoints (`127.0.0.1:<port>`; the TLS
//! certificates carry 127.0.0.1 SANs), its orderers' TLS certificates and one
//! admin with an Ed25519 SSH key generated at run time. The private key is
//! written only to `<state>/orgs/<MspId>/admin_ssh_key` (mode 0600), never into
//! the repository. Organization documents are regenerated from data (parsed
//! YAML in, serialized YAML out), never edited as text.
//!
//! The root commit (the *founding commit*) is unsigned: every agent is
//! configured to trust it ([`SpecRepo::root_commit`]). Every later change is a
//! commit signed by an admin listed in the spec: [`commit_signed`].

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};
use serde_json::{Value, json};
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey};

use crate::error::{DevnetError, Result};
use crate::handles::NetworkPlan;
use crate::layout::Layout;

/// The branch the spec lives on.
pub const BRANCH: &str = "main";

/// The spec repository of a devnet and each organization's admin key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpecRepo {
    /// The repository's working directory, `<state>/spec-repo`.
    pub path: PathBuf,
    /// `file://<state>/spec-repo`, what the agents fetch.
    pub url: String,
    pub branch: String,
    /// The founding commit (unsigned, trusted by every agent), 40 hex digits.
    pub root_commit: String,
    /// By MSP ID: the OpenSSH private key of the organization's admin
    /// (`<state>/orgs/<MspId>/admin_ssh_key`, mode 0600).
    pub admin_keys: BTreeMap<String, PathBuf>,
}

impl SpecRepo {
    /// Reads the admin SSH key of `msp_id`.
    pub fn admin_key(&self, msp_id: &str) -> Result<PrivateKey> {
        let path = self
            .admin_keys
            .get(msp_id)
            .ok_or_else(|| DevnetError::UnknownNode {
                kind: "organization",
                name: msp_id.to_string(),
            })?;
        load_admin_key(path)
    }
}

/// Reads an OpenSSH private key file (as written for each organization's admin).
pub fn load_admin_key(path: &Path) -> Result<PrivateKey> {
    let text = std::fs::read_to_string(path).map_err(DevnetError::io("read", path))?;
    PrivateKey::from_openssh(&text).map_err(|e| DevnetError::Founding {
        what: format!("reading the SSH key {}", path.display()),
        detail: e.to_string(),
    })
}

fn failed(what: impl Into<String>) -> impl FnOnce(git2::Error) -> DevnetError {
    let what = what.into();
    move |e| DevnetError::Founding {
        what,
        detail: e.message().to_string(),
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(DevnetError::io("read", path))
}

/// Every file under `dir` except hidden ones, relative paths, sorted.
fn spec_files(dir: &Path) -> Result<Vec<PathBuf>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in std::fs::read_dir(dir).map_err(DevnetError::io("read", dir))? {
            let entry = entry.map_err(DevnetError::io("read", dir))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                walk(base, &path, out)?;
            } else {
                out.push(path.strip_prefix(base).expect("under base").to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// What the devnet fills into one organization's document.
struct OrgFacts {
    ca_pem: String,
    tls_ca_pem: String,
    /// Node name → endpoint.
    endpoints: BTreeMap<String, String>,
    /// Orderer name → TLS server certificate PEM.
    orderer_tls: BTreeMap<String, String>,
    /// Orderer name → signing certificate PEM (a BFT consenter's identity;
    /// written for Raft too, where it is unused, so one spec serves both).
    orderer_sign: BTreeMap<String, String>,
    admin_name: String,
    admin_key_line: String,
}

/// The Organization document with the devnet's facts filled in; other
/// fields (role, anchors, nodeOUs, further admins) are kept.
fn fill_organization(doc: &Value, facts: &OrgFacts) -> Value {
    let mut doc = doc.clone();
    let spec = &mut doc["spec"];
    let node_ous = spec["msp"]["nodeOUs"].clone();
    let mut msp = json!({
        "caCerts": [{ "pem": facts.ca_pem }],
        "tlsCaCerts": [{ "pem": facts.tls_ca_pem }],
    });
    if !node_ous.is_null() {
        msp["nodeOUs"] = node_ous;
    }
    spec["msp"] = msp;
    for list in ["peers", "orderers"] {
        // `get_mut`: indexing a missing key mutably would insert a null.
        if let Some(nodes) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for node in nodes {
                let name = node["name"].as_str().unwrap_or_default().to_string();
                if let Some(ep) = facts.endpoints.get(&name) {
                    node["endpoint"] = json!(ep);
                }
                if let Some(pem) = facts.orderer_tls.get(&name) {
                    node["tlsCert"] = json!({ "pem": pem });
                }
                if let Some(pem) = facts.orderer_sign.get(&name) {
                    node["signCert"] = json!({ "pem": pem });
                }
            }
        }
    }
    let mut admins: Vec<Value> = spec["admins"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["name"] != json!(facts.admin_name))
        .collect();
    admins.push(json!({ "name": facts.admin_name, "signingKey": facts.admin_key_line }));
    spec["admins"] = json!(admins);
    doc
}

/// Generates the admin SSH key of `msp_id` into
/// `orgs_dir/<MspId>/admin_ssh_key` (mode 0600 before a byte is written) and
/// its public half next to it; the path and the key. Also used for an
/// organization that joins later (`opssc dev demo add-org`).
pub fn admin_key(orgs_dir: &Path, msp_id: &str) -> Result<(PathBuf, PrivateKey)> {
    let dir = orgs_dir.join(msp_id);
    std::fs::create_dir_all(&dir).map_err(DevnetError::io("create", &dir))?;
    let path = dir.join("admin_ssh_key");
    let key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).map_err(|e| {
        DevnetError::Founding {
            what: format!("generating the admin SSH key of {msp_id}"),
            detail: e.to_string(),
        }
    })?;
    let mut key = key;
    key.set_comment(format!("admin@{msp_id}"));
    let text = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| DevnetError::Founding {
            what: format!("encoding the admin SSH key of {msp_id}"),
            detail: e.to_string(),
        })?;
    // Create with 0600 before any byte of the key is written.
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(DevnetError::io("create", &path))?;
        f.write_all(text.as_bytes())
            .map_err(DevnetError::io("write", &path))?;
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(DevnetError::io("restrict", &path))?;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| DevnetError::Founding {
            what: format!("encoding the admin SSH public key of {msp_id}"),
            detail: e.to_string(),
        })?;
    let pub_path = dir.join("admin_ssh_key.pub");
    std::fs::write(&pub_path, format!("{public}\n"))
        .map_err(DevnetError::io("write", &pub_path))?;
    Ok((path, key))
}

/// Creates `<state>/spec-repo` from the spec in `spec_dir`, with every
/// organization's certificates, endpoints and admin key, as one unsigned root
/// commit on [`BRANCH`].
/// `text` (a Consortium document) with its `fabricVersion` set to
/// `version`, comments and layout kept.
fn with_fabric_version(text: &str, version: opssc_schema::FabricVersion) -> String {
    let mut out: String = text
        .lines()
        .map(|line| match line.split_once("fabricVersion:") {
            Some((indent, _)) if indent.trim().is_empty() => {
                format!("{indent}fabricVersion: \"{version}\"\n")
            }
            _ => format!("{line}\n"),
        })
        .collect();
    if !text.ends_with('\n') {
        out.pop();
    }
    out
}

pub fn create_spec_repo(spec_dir: &Path, plan: &NetworkPlan, layout: &Layout) -> Result<SpecRepo> {
    let root = &layout.root;
    let repo_dir = root.join("spec-repo");
    if repo_dir.exists() {
        std::fs::remove_dir_all(&repo_dir).map_err(DevnetError::io("remove", &repo_dir))?;
    }
    std::fs::create_dir_all(&repo_dir).map_err(DevnetError::io("create", &repo_dir))?;
    let orgs_dir = root.join("orgs");

    // Facts per MSP ID, from the crypto material and the plan.
    let mut facts: BTreeMap<String, OrgFacts> = BTreeMap::new();
    let mut admin_keys = BTreeMap::new();
    for org in &plan.orgs {
        let (path, key) = admin_key(&orgs_dir, &org.msp_id)?;
        admin_keys.insert(org.msp_id.clone(), path);
        facts.insert(
            org.msp_id.clone(),
            OrgFacts {
                ca_pem: read(&org.ca_cert)?,
                tls_ca_pem: read(&org.tls_ca_cert)?,
                endpoints: org
                    .peers
                    .iter()
                    .map(|p| (p.name.clone(), p.address.clone()))
                    .collect(),
                orderer_tls: BTreeMap::new(),
                orderer_sign: BTreeMap::new(),
                admin_name: "admin".into(),
                admin_key_line: key.public_key().to_openssh().unwrap_or_default(),
            },
        );
    }
    let oo = &plan.orderer_org;
    let (path, key) = admin_key(&orgs_dir, &oo.msp_id)?;
    admin_keys.insert(oo.msp_id.clone(), path);
    let oo_crypto = layout.orderer_org(&plan.topology.orderer_org);
    let mut orderer_tls = BTreeMap::new();
    let mut orderer_sign = BTreeMap::new();
    for o in &plan.orderers {
        orderer_tls.insert(o.name.clone(), read(&o.tls_cert)?);
        orderer_sign.insert(o.name.clone(), read(&o.sign_cert)?);
    }
    facts.insert(
        oo.msp_id.clone(),
        OrgFacts {
            ca_pem: read(&oo_crypto.ca_cert())?,
            tls_ca_pem: read(&oo.tls_ca_cert)?,
            endpoints: plan
                .orderers
                .iter()
                .map(|o| (o.name.clone(), o.address.clone()))
                .collect(),
            orderer_tls,
            orderer_sign,
            admin_name: "admin".into(),
            admin_key_line: key.public_key().to_openssh().unwrap_or_default(),
        },
    );

    // Copy the spec, regenerating every file that holds an Organization.
    let mut filled = std::collections::BTreeSet::new();
    for rel in spec_files(spec_dir)? {
        let src = spec_dir.join(&rel);
        let dst = repo_dir.join(&rel);
        if let Some(dir) = dst.parent() {
            std::fs::create_dir_all(dir).map_err(DevnetError::io("create", dir))?;
        }
        let is_yaml = matches!(
            rel.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        if !is_yaml {
            std::fs::copy(&src, &dst).map_err(DevnetError::io("copy", &src))?;
            continue;
        }
        let text = read(&src)?;
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| DevnetError::Founding {
                what: format!("parsing {}", src.display()),
                detail: e.to_string(),
            })?;
        if !docs.iter().any(|d| d["kind"] == json!("Organization")) {
            // The Fabric version is the one the devnet runs (`dev up --fabric`).
            let text = if docs.iter().any(|d| d["kind"] == json!("Consortium")) {
                with_fabric_version(&text, plan.topology.fabric)
            } else {
                text
            };
            std::fs::write(&dst, &text).map_err(DevnetError::io("write", &dst))?;
            continue;
        }
        let mut out = String::from(
            "# Generated by `opssc dev up`: each organization's certificates, node\n\
             # endpoints and admin SSH key, as the organization itself commits them.\n",
        );
        for (i, doc) in docs.iter().enumerate() {
            let doc = match doc["spec"]["mspId"].as_str().and_then(|m| facts.get(m)) {
                Some(f) if doc["kind"] == json!("Organization") => {
                    filled.insert(
                        doc["spec"]["mspId"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    );
                    fill_organization(doc, f)
                }
                _ if doc["kind"] == json!("Consortium") => {
                    let mut doc = doc.clone();
                    doc["spec"]["fabricVersion"] = json!(plan.topology.fabric.as_str());
                    doc
                }
                _ => doc.clone(),
            };
            if i > 0 {
                out.push_str("---\n");
            }
            out.push_str(
                &serde_saphyr::to_string(&doc).map_err(|e| DevnetError::Founding {
                    what: format!("writing {}", dst.display()),
                    detail: e.to_string(),
                })?,
            );
        }
        std::fs::write(&dst, out).map_err(DevnetError::io("write", &dst))?;
    }
    if let Some(missing) = facts.keys().find(|m| !filled.contains(*m)) {
        return Err(DevnetError::Founding {
            what: format!("filling the spec of {}", spec_dir.display()),
            detail: format!("no Organization document has mspId {missing}, which the devnet runs"),
        });
    }

    let repo = Repository::init(&repo_dir).map_err(failed(format!(
        "creating the git repository {}",
        repo_dir.display()
    )))?;
    let root_commit = commit_all(&repo, "Found the consortium", None)?;
    Ok(SpecRepo {
        url: format!("file://{}", repo_dir.display()),
        path: repo_dir,
        branch: BRANCH.into(),
        root_commit: root_commit.to_string(),
        admin_keys,
    })
}

/// The author and committer of the devnet's commits.
fn signature(name: &str) -> Result<git2::Signature<'static>> {
    git2::Signature::now(name, &format!("{}@opssc.dev", name.to_lowercase()))
        .map_err(failed("making a commit signature"))
}

/// Stages every file of the working directory and commits it on [`BRANCH`],
/// SSH-signed by `key` when given.
fn commit_all(repo: &Repository, message: &str, key: Option<&PrivateKey>) -> Result<Oid> {
    let mut index = repo.index().map_err(failed("opening the git index"))?;
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .map_err(failed("staging the spec"))?;
    // Deleted files leave the index too.
    index
        .update_all(["*"], None)
        .map_err(failed("staging deleted files"))?;
    index.write().map_err(failed("writing the git index"))?;
    let tree_id = index.write_tree().map_err(failed("writing the tree"))?;
    let tree = repo
        .find_tree(tree_id)
        .map_err(failed("reading the tree"))?;
    let who = signature(
        &key.map(|k| k.comment().to_string())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "opssc dev".into()),
    )?;
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let oid = match key {
        None => repo
            .commit(None, &who, &who, message, &tree, &parents)
            .map_err(failed("committing"))?,
        Some(key) => {
            let buffer = repo
                .commit_create_buffer(&who, &who, message, &tree, &parents)
                .map_err(failed("preparing the commit"))?;
            let content = buffer.as_str().map_err(|_| DevnetError::Founding {
                what: "preparing the commit".into(),
                detail: "the commit text is not UTF-8".into(),
            })?;
            let sig = key
                .sign("git", HashAlg::Sha512, content.as_bytes())
                .and_then(|s| s.to_pem(LineEnding::LF))
                .map_err(|e| DevnetError::Founding {
                    what: "signing the commit".into(),
                    detail: e.to_string(),
                })?;
            repo.commit_signed(content, &sig, None)
                .map_err(failed("writing the signed commit"))?
        }
    };
    let refname = format!("refs/heads/{BRANCH}");
    repo.reference(&refname, oid, true, message)
        .map_err(failed(format!("moving {refname}")))?;
    repo.set_head(&refname).map_err(failed("setting HEAD"))?;
    // Keep the working directory's index in step with HEAD.
    Ok(oid)
}

/// Writes `files` (`None` deletes the file) into the repository's working
/// directory and commits everything on [`BRANCH`] — SSH-signed by `key` when
/// given, as an admin signs a spec change; unsigned otherwise (what the agents
/// must refuse). The one way the devnet, the demos and the tests commit.
pub fn commit_files(
    repo: &Repository,
    files: &[(&str, Option<&str>)],
    message: &str,
    key: Option<&PrivateKey>,
) -> Result<Oid> {
    let workdir = repo.workdir().ok_or_else(|| DevnetError::Founding {
        what: "committing to the spec repository".into(),
        detail: "the repository is bare".into(),
    })?;
    for (rel, content) in files {
        let path = workdir.join(rel);
        match content {
            Some(text) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(DevnetError::io("create", dir))?;
                }
                std::fs::write(&path, text).map_err(DevnetError::io("write", &path))?;
            }
            None => {
                if path.exists() {
                    std::fs::remove_file(&path).map_err(DevnetError::io("remove", &path))?;
                }
            }
        }
    }
    commit_all(repo, message, key)
}

/// [`commit_files`], SSH-signed by `key`.
pub fn commit_signed(
    repo: &Repository,
    files: &[(&str, Option<&str>)],
    message: &str,
    key: &PrivateKey,
) -> Result<Oid> {
    commit_files(repo, files, message, Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_states_the_fabric_version_the_devnet_runs() {
        let text =
            "# c\nkind: Consortium\nspec:\n  fabricVersion: \"2.5\"  # x\n  opsChannel: ops\n";
        assert_eq!(
            with_fabric_version(text, opssc_schema::FabricVersion::V3_1),
            "# c\nkind: Consortium\nspec:\n  fabricVersion: \"3.1\"\n  opsChannel: ops\n"
        );
        assert_eq!(
            with_fabric_version(
                "spec:\n  fabricVersion: 2.5",
                opssc_schema::FabricVersion::V2_5
            ),
            "spec:\n  fabricVersion: \"2.5\""
        );
    }

    #[test]
    fn an_organization_gets_certificates_endpoints_and_an_admin_key() {
        let doc: Value = serde_saphyr::from_str(
            "apiVersion: opssc/v1alpha1\nkind: Organization\nmetadata:\n  name: org1\n\
             spec:\n  mspId: Org1MSP\n  peers:\n    - name: peer0\n      endpoint: peer0.org1.example.com:7051\n      anchor: true\n\
             \x20 admins:\n    - name: alice\n      signingKey: ssh-ed25519 AAAA alice\n",
        )
        .unwrap();
        let facts = OrgFacts {
            ca_pem: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n".into(),
            tls_ca_pem: "-----BEGIN CERTIFICATE-----\nTLS\n-----END CERTIFICATE-----\n".into(),
            endpoints: [("peer0".to_string(), "127.0.0.1:40001".to_string())].into(),
            orderer_tls: BTreeMap::new(),
            orderer_sign: BTreeMap::new(),
            admin_name: "admin".into(),
            admin_key_line: "ssh-ed25519 BBBB admin@Org1MSP".into(),
        };
        let out = fill_organization(&doc, &facts);
        let yaml = serde_saphyr::to_string(&out).unwrap();
        let back: Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(
            back["spec"]["peers"][0]["endpoint"],
            json!("127.0.0.1:40001")
        );
        assert_eq!(back["spec"]["peers"][0]["anchor"], json!(true));
        assert_eq!(
            back["spec"]["msp"]["caCerts"][0]["pem"],
            json!(facts.ca_pem)
        );
        assert_eq!(
            back["spec"]["msp"]["tlsCaCerts"][0]["pem"],
            json!(facts.tls_ca_pem)
        );
        let admins = back["spec"]["admins"].as_array().unwrap();
        assert_eq!(admins.len(), 2, "{yaml}");
        assert_eq!(
            admins[1]["signingKey"],
            json!("ssh-ed25519 BBBB admin@Org1MSP")
        );
    }

    #[test]
    fn an_orderer_node_gets_its_tls_and_signing_certificates() {
        let doc: Value = serde_saphyr::from_str(
            "apiVersion: opssc/v1alpha1\nkind: Organization\nmetadata:\n  name: orderer\n\
             spec:\n  mspId: OrdererMSP\n  role: orderer\n  orderers:\n    - name: orderer0\n      endpoint: orderer0.example.com:7050\n",
        )
        .unwrap();
        let facts = OrgFacts {
            ca_pem: "CA".into(),
            tls_ca_pem: "TLSCA".into(),
            endpoints: [("orderer0".to_string(), "127.0.0.1:40002".to_string())].into(),
            orderer_tls: [("orderer0".to_string(), "TLS0".to_string())].into(),
            orderer_sign: [("orderer0".to_string(), "SIGN0".to_string())].into(),
            admin_name: "admin".into(),
            admin_key_line: "ssh-ed25519 CCCC admin@OrdererMSP".into(),
        };
        let out = fill_organization(&doc, &facts);
        let node = &out["spec"]["orderers"][0];
        assert_eq!(node["endpoint"], json!("127.0.0.1:40002"));
        assert_eq!(node["tlsCert"]["pem"], json!("TLS0"));
        assert_eq!(node["signCert"]["pem"], json!("SIGN0"));
    }

    #[test]
    fn signed_commits_carry_a_verifiable_ssh_signature() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repository::init(tmp.path()).unwrap();
        std::fs::write(tmp.path().join("a.yaml"), "a: 1\n").unwrap();
        let root = commit_all(&repo, "root", None).unwrap();
        assert!(
            repo.extract_signature(&root, None).is_err(),
            "root is unsigned"
        );
        let key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
        let oid = commit_signed(
            &repo,
            &[("b/c.yaml", Some("c: 2\n")), ("a.yaml", None)],
            "change",
            &key,
        )
        .unwrap();
        let commit = repo.find_commit(oid).unwrap();
        assert_eq!(commit.parent_id(0).unwrap(), root);
        let tree = commit.tree().unwrap();
        assert!(tree.get_path(Path::new("b/c.yaml")).is_ok());
        assert!(tree.get_path(Path::new("a.yaml")).is_err(), "deleted");
        let (sig, signed) = repo.extract_signature(&oid, None).unwrap();
        let sig = ssh_key::SshSig::from_pem(sig.as_str().unwrap()).unwrap();
        key.public_key()
            .verify("git", signed.as_str().unwrap().as_bytes(), &sig)
            .unwrap();
        let other = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
        assert!(
            other
                .public_key()
                .verify("git", signed.as_str().unwrap().as_bytes(), &sig)
                .is_err()
        );
        assert_eq!(
            repo.head().unwrap().name(),
            Ok("refs/heads/main"),
            "HEAD on main"
        );
    }
}
