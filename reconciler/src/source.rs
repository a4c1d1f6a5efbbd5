//! Where the spec comes from, and why the agent may trust it.
//!
//! The spec lives on a branch of a git repository that every organization can
//! push to (through reviewed pull requests). The agent fetches that branch with
//! git2 and acts only on commits it can trust. Starting from the last commit
//! this agent verified (at first: the trusted root of its configuration),
//! every commit on the first-parent chain to the tip must
//!
//! - be vouched for by an admin key that the spec *of its parent* lists:
//!   the key signed the commit (git's `gpg.format ssh`), or signed an
//!   *approval* of the commit's spec tree (below). A commit cannot vouch for
//!   itself: a key added by a commit only counts from the next commit on,
//!   and a key removed by a commit no longer counts for any later commit,
//!   merges included (a merge is judged by its first parent's spec);
//! - carry a valid spec;
//! - change an organization's own document (its certificates, nodes,
//!   endpoints, admin keys) only with a voucher of that organization's own
//!   admins ([`ownership_breaches`]). A new organization's document is a
//!   sponsored change any admin may vouch for; from then on it is the new
//!   organization's.
//!
//! The first refused commit stops the walk: the agent keeps acting on the
//! last trusted commit and reports why the next one was refused. A tip that
//! does not descend from the last verified commit (a force-push, a rewind, a
//! fork from an older commit) is refused whole: history only moves forward.
//!
//! Key decision — approvals name spec *trees*: an approval is an SSH-signed
//! commit under `refs/opssc/approvals/` whose tree is the approved spec tree.
//! Pull-request hosts rewrite commits when they rebase or squash (and sign
//! them with their own key, or not at all), but the resulting tree is the
//! reviewed one when the pull request was up to date, so an approval of the
//! tree still applies to the commit that lands. The same approvals are each
//! organization's consent to a change ([`consented`]).

use std::path::{Path, PathBuf};

use std::collections::HashMap;

use git2::{Oid, Repository};
use opssc_schema::Spec;

use crate::git_transport::{RemoteAccess, redact_url};

/// A spec repository: a local mirror of the remote branch.
///
/// The transport (credentials, SSH host keys, CA bundle, proxy) is a
/// [`RemoteAccess`]: [`GitSource::open_for`] takes it from the agent
/// configuration's `gitCredentials` entry for the URL. The branch is fetched
/// into `refs/remotes/origin/<branch>` as the server has it (a rewritten
/// branch included): what to trust is decided by [`GitSource::verify`], which
/// refuses anything that is not a fast-forward of the last verified commit. A fetch that fails half-way
/// (the server went away) moves no ref; libgit2 keeps an incomplete pack out
/// of the object database, so the next fetch starts clean.
pub struct GitSource {
    repo: Repository,
    url: String,
    access: RemoteAccess,
}

impl GitSource {
    /// Opens (or creates) a bare mirror in `cache_dir` fetching from `url`
    /// anonymously (`~/.ssh/known_hosts`, the system's CAs).
    pub fn open(cache_dir: &Path, url: &str) -> Result<GitSource, SourceError> {
        GitSource::open_with(cache_dir, url, RemoteAccess::default())
    }

    /// Opens the mirror, reaching `url` as `config` says (its matching
    /// `gitCredentials` entry, read now).
    pub fn open_for(
        cache_dir: &Path,
        url: &str,
        config: &opssc_schema::local::AgentConfig,
    ) -> Result<GitSource, SourceError> {
        let access = RemoteAccess::for_url(config, url).map_err(|source| SourceError::Access {
            url: redact_url(url),
            source,
        })?;
        GitSource::open_with(cache_dir, url, access)
    }

    /// Opens (or creates) a bare mirror in `cache_dir` fetching from `url`
    /// with `access`.
    pub fn open_with(
        cache_dir: &Path,
        url: &str,
        access: RemoteAccess,
    ) -> Result<GitSource, SourceError> {
        let repo = match Repository::open_bare(cache_dir) {
            Ok(repo) => repo,
            Err(_) => {
                std::fs::create_dir_all(cache_dir).map_err(SourceError::io("create", cache_dir))?;
                Repository::init_bare(cache_dir).map_err(SourceError::repo(format!(
                    "cannot create a git mirror in {}",
                    cache_dir.display()
                )))?
            }
        };
        Ok(GitSource {
            repo,
            url: url.to_string(),
            access,
        })
    }

    /// Fetches `branch` and returns its tip (as far as it moved forward).
    pub fn fetch(&self, branch: &str) -> Result<Oid, SourceError> {
        self.fetch_if_moved(branch).map(|(tip, _)| tip)
    }

    /// [`GitSource::fetch`], and whether it downloaded: the references the
    /// remote advertises (`git ls-remote`, one round trip) are compared
    /// with the mirror's first, and when neither the branch nor an approval
    /// moved ([`fetch_needed`]) the fetch is skipped. Polling an unchanged
    /// repository every few seconds then costs the server one reference
    /// listing, not a negotiation.
    pub fn fetch_if_moved(&self, branch: &str) -> Result<(Oid, bool), SourceError> {
        // The URL may carry user information, the access a secret: neither
        // shows, not even in libgit2's own message.
        let url = redact_url(&self.url);
        let bad_url = |e: git2::Error| SourceError::BadUrl {
            url: url.clone(),
            problem: self.access.redact(e.message(), &self.url),
        };
        let remote_failed = |step| {
            let url = url.clone();
            move |problem| SourceError::Remote {
                step,
                branch: branch.to_string(),
                url,
                problem,
            }
        };
        let mut remote = self.repo.remote_anonymous(&self.url).map_err(bad_url)?;
        let advertised = self
            .access
            .list(&mut remote, &self.url)
            .map_err(remote_failed(RemoteStep::List))?;
        let mut local = approval_refs(&self.repo)?;
        let tracking = format!("refs/remotes/origin/{branch}");
        if let Some(tip) = self
            .repo
            .find_reference(&tracking)
            .ok()
            .and_then(|r| r.target())
        {
            local.insert(tracking.clone(), tip);
        }
        if !fetch_needed(&advertised, &local, branch) {
            return Ok((local[&tracking], false));
        }
        // `list` left the remote connected; the fetch opens its own.
        drop(remote);
        let mut remote = self.repo.remote_anonymous(&self.url).map_err(bad_url)?;
        // Forced on purpose: a rewritten branch is fetched as it is so that
        // `verify` can see the rewind and refuse it with a reason (a refused
        // non-fast-forward fetch would only say "cannot fetch").
        let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
        self.access
            .fetch(
                &mut remote,
                &[refspec.as_str(), APPROVALS_REFSPEC],
                &self.url,
            )
            .map_err(remote_failed(RemoteStep::Fetch))?;
        let reference = self
            .repo
            .find_reference(&tracking)
            .map_err(SourceError::repo(format!(
                "branch {branch} does not exist in {url}"
            )))?;
        let tip = reference.target().ok_or(SourceError::SymbolicBranch)?;
        Ok((tip, true))
    }

    pub fn repository(&self) -> &Repository {
        &self.repo
    }

    /// Writes the files of `commit` under `subdir` (or the whole tree) into `dest`,
    /// replacing what was there.
    pub fn checkout(
        &self,
        commit: Oid,
        subdir: Option<&Path>,
        dest: &Path,
    ) -> Result<(), SourceError> {
        checkout_tree(&self.repo, commit, subdir, dest)
    }

    /// Walks the first-parent chain from `from` (the trusted root or the
    /// last verified commit) to `tip`: see [`verify_chain`].
    pub fn verify(
        &self,
        tip: Oid,
        from: Oid,
        subdir: Option<&Path>,
    ) -> Result<Verification, SourceError> {
        verify_chain(&mut SpecCache::new(&self.repo, subdir), tip, from)
    }
}

/// Whether fetching `branch` and the approvals would change the mirror:
/// `advertised` are the remote's references (`refs/heads/...`,
/// `refs/opssc/approvals/...`), `local` the mirror's copies
/// (`refs/remotes/origin/<branch>` and its approvals). A branch the remote
/// lacks needs the fetch too (its error says so); an approval the remote no
/// longer has does not (fetching would not remove it either).
pub fn fetch_needed(
    advertised: &[(String, Oid)],
    local: &std::collections::BTreeMap<String, Oid>,
    branch: &str,
) -> bool {
    let head = format!("refs/heads/{branch}");
    let tracking = format!("refs/remotes/origin/{branch}");
    let Some((_, tip)) = advertised.iter().find(|(name, _)| *name == head) else {
        return true;
    };
    if local.get(&tracking) != Some(tip) {
        return true;
    }
    advertised
        .iter()
        .filter(|(name, _)| name.starts_with(APPROVALS_REF_PREFIX))
        .any(|(name, oid)| local.get(name) != Some(oid))
}

/// Writes a commit's tree (or one directory of it) into `dest`.
pub fn checkout_tree(
    repo: &Repository,
    commit: Oid,
    subdir: Option<&Path>,
    dest: &Path,
) -> Result<(), SourceError> {
    let commit = repo
        .find_commit(commit)
        .map_err(SourceError::repo(format!("commit {commit} not found")))?;
    let mut tree = commit.tree().map_err(SourceError::git("reading a tree"))?;
    if let Some(sub) = subdir.filter(|s| !s.as_os_str().is_empty()) {
        let entry = tree.get_path(sub).map_err(SourceError::repo(format!(
            "commit {} has no directory {}",
            commit.id(),
            sub.display()
        )))?;
        tree = repo
            .find_tree(entry.id())
            .map_err(SourceError::repo(format!(
                "{} is not a directory",
                sub.display()
            )))?;
    }
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(SourceError::io("clear", dest))?;
    }
    std::fs::create_dir_all(dest).map_err(SourceError::io("create", dest))?;
    write_tree(repo, &tree, dest)
}

/// Checks out `commit` once into `<parent>/<commit>` and returns that
/// directory; a commit already there is not written again (its tree never
/// changes), only marked as used now ([`prune_checkouts`] leaves it be).
pub fn checkout_once(
    repo: &Repository,
    parent: &Path,
    commit: Oid,
    subdir: Option<&Path>,
) -> Result<PathBuf, SourceError> {
    let dest: PathBuf = parent.join(commit.to_string());
    if dest.exists() {
        // Best effort: at worst a reader racing a prune checks out again.
        let _ =
            std::fs::File::open(&dest).and_then(|d| d.set_modified(std::time::SystemTime::now()));
    } else {
        // The daemon and a one-shot command may check out the same commit at
        // once: each writes its own scratch directory, the first rename wins.
        std::fs::create_dir_all(parent).map_err(SourceError::io("create", parent))?;
        let scratch = tempfile::Builder::new()
            .prefix(&format!("{commit}."))
            .tempdir_in(parent)
            .map_err(SourceError::io("create a directory in", parent))?;
        let tmp = scratch.path().join("spec");
        checkout_tree(repo, commit, subdir, &tmp)?;
        if let Err(e) = std::fs::rename(&tmp, &dest)
            && !dest.exists()
        {
            return Err(SourceError::io("move the checkout to", &dest)(e));
        }
    }
    Ok(dest)
}

/// How long a checkout of [`checkout_once`] nobody wrote or reused is kept
/// before [`prune_checkouts`] removes it: far longer than any command reads
/// one, and a pruned commit is checked out again when needed.
pub const CHECKOUT_IDLE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the checkouts in `parent` (and scratch directories a crash left
/// there) that are not of a commit in `keep` and were neither written nor
/// reused for `idle`; returns how many. The verification checks out every
/// commit it walks, so without this an agent's state directory would grow
/// by one spec per pushed commit for good. `keep` holds the commits whose
/// checkout may be the only copy left (the verified and the consented one,
/// after a force-push took them from the mirror). Errors are skipped: the
/// next prune tries again.
pub fn prune_checkouts(parent: &Path, keep: &[Oid], idle: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    let keep: Vec<String> = keep.iter().map(Oid::to_string).collect();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // `<commit>` or `<commit>.<scratch>`: nothing else is ours.
        let commit = name.split('.').next().unwrap_or_default();
        if Oid::from_str(commit).is_err() || commit.len() != 40 || keep.iter().any(|k| k == commit)
        {
            continue;
        }
        let idle_for = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        if idle_for.is_some_and(|d| d >= idle) && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn write_tree(repo: &Repository, tree: &git2::Tree, dest: &Path) -> Result<(), SourceError> {
    for entry in tree.iter() {
        let Ok(name) = entry.name() else { continue };
        // A tree from a remote is untrusted input: no path tricks.
        if name.contains('/') || name == ".." || name == "." {
            return Err(SourceError::BadTreeEntry {
                name: name.to_string(),
            });
        }
        let path = dest.join(name);
        match entry.kind() {
            Some(git2::ObjectType::Tree) => {
                std::fs::create_dir_all(&path).map_err(SourceError::io("create", &path))?;
                let sub = repo
                    .find_tree(entry.id())
                    .map_err(SourceError::git("reading a tree"))?;
                write_tree(repo, &sub, &path)?;
            }
            Some(git2::ObjectType::Blob) => {
                let blob = repo
                    .find_blob(entry.id())
                    .map_err(SourceError::git("reading a file"))?;
                std::fs::write(&path, blob.content()).map_err(SourceError::io("write", &path))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Where approvals of spec trees live in the spec repository: one signed
/// commit per approval, under `refs/opssc/approvals/<spec tree>/<MSP>-<admin>`.
pub const APPROVALS_REF_PREFIX: &str = "refs/opssc/approvals/";

/// The fetch refspec that mirrors every approval (added to the branch's own).
pub const APPROVALS_REFSPEC: &str = "+refs/opssc/approvals/*:refs/opssc/approvals/*";

/// Every approval reference of `repo` with its commit: what the daemon's git
/// poll compares between fetches, so a pushed approval wakes the agent like
/// a moved branch does.
pub fn approval_refs(
    repo: &Repository,
) -> Result<std::collections::BTreeMap<String, Oid>, SourceError> {
    let mut out = std::collections::BTreeMap::new();
    for r in repo
        .references_glob(&format!("{APPROVALS_REF_PREFIX}*"))
        .map_err(SourceError::repo(
            "cannot list the approvals in the spec mirror".to_string(),
        ))?
    {
        let r = r.map_err(SourceError::repo(
            "cannot read an approval reference".to_string(),
        ))?;
        if let (Some(name), Some(target)) = (r.name().ok(), r.target()) {
            out.insert(name.to_string(), target);
        }
    }
    Ok(out)
}

/// One admin signing key as a spec lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminKey {
    /// The organization's MSP ID.
    pub org: String,
    /// The admin's name in the organization's document.
    pub name: String,
    pub key: ssh_key::PublicKey,
}

impl AdminKey {
    /// "Org1MSP/alice".
    pub fn who(&self) -> String {
        format!("{}/{}", self.org, self.name)
    }
}

/// The admin keys a spec lists, every organization's.
pub fn admin_keys(spec: &Spec) -> Vec<AdminKey> {
    let mut keys = Vec::new();
    for org in spec.organizations.values() {
        for admin in &org.admins {
            // Validation already reported a key that does not parse.
            if let Ok(key) = ssh_key::PublicKey::from_openssh(&admin.signing_key) {
                keys.push(AdminKey {
                    org: org.msp_id.clone(),
                    name: admin.name.clone(),
                    key,
                });
            }
        }
    }
    keys
}

/// How an admin vouched for a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The admin signed the commit itself.
    Signature,
    /// The admin signed an approval (this commit) of the commit's spec tree.
    Approval(Oid),
}

/// An admin who vouched for a commit, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voucher {
    pub org: String,
    pub name: String,
    pub via: Via,
}

impl Voucher {
    pub fn describe(&self) -> String {
        match &self.via {
            Via::Signature => format!("{}/{}", self.org, self.name),
            Via::Approval(a) => format!("{}/{} (approval {})", self.org, self.name, short(*a)),
        }
    }
}

/// The first 12 hex digits of a commit, for messages.
pub fn short(oid: Oid) -> String {
    oid.to_string()[..12].to_string()
}

/// One organization document a commit changed without its owner's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnershipBreach {
    /// The owner: the MSP ID of the changed document.
    pub org: String,
    /// The admins who may sign the change ("Org1MSP/alice"), from the spec before it.
    pub admins: Vec<String>,
}

/// Which organization documents changed from `before` to `after` without a
/// voucher of their own organization. A document that is new in `after` is a
/// sponsored change (any vouching admin will do; from then on it belongs to
/// the new organization); a removed document is a change to the consortium,
/// not to the organization, and goes through each organization's consent.
pub fn ownership_breaches(
    before: &Spec,
    after: &Spec,
    vouchers: &[Voucher],
) -> Vec<OwnershipBreach> {
    let mut breaches = Vec::new();
    for (msp, old) in &before.organizations {
        let Some(new) = after.organizations.get(msp) else {
            continue;
        };
        if old == new || vouchers.iter().any(|v| v.org == *msp) {
            continue;
        }
        breaches.push(OwnershipBreach {
            org: msp.clone(),
            admins: old
                .admins
                .iter()
                .map(|a| format!("{msp}/{}", a.name))
                .collect(),
        });
    }
    breaches
}

/// The trusted state of a branch: the newest commit the agent may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The newest trusted commit (the starting commit when nothing after it is).
    pub trusted: Oid,
    /// Who vouched for each trusted commit after the start: (commit, "Org1MSP/alice").
    pub signers: Vec<(Oid, String)>,
    /// The first commit that was refused, with the reason, if any. A branch
    /// that does not descend from the starting commit refuses its tip.
    pub refused: Option<(Oid, String)>,
}

/// Signed approvals in the repository, by the spec tree they name.
#[derive(Debug, Default)]
pub struct Approvals {
    by_tree: HashMap<Oid, Vec<Oid>>,
}

impl Approvals {
    /// Every commit under [`APPROVALS_REF_PREFIX`], by its spec tree (the
    /// tree of `subdir` in it). The ref's name is not trusted: only the
    /// commit's tree and its signature count.
    pub fn collect(repo: &Repository, subdir: Option<&Path>) -> Result<Approvals, SourceError> {
        let mut by_tree: HashMap<Oid, Vec<Oid>> = HashMap::new();
        let refs = repo
            .references_glob(&format!("{APPROVALS_REF_PREFIX}*"))
            .map_err(SourceError::git("listing approvals"))?;
        for r in refs.flatten() {
            let Ok(commit) = r.peel_to_commit() else {
                continue;
            };
            let Ok(tree) = spec_tree(repo, commit.id(), subdir) else {
                continue;
            };
            let list = by_tree.entry(tree).or_default();
            if !list.contains(&commit.id()) {
                list.push(commit.id());
            }
        }
        Ok(Approvals { by_tree })
    }

    /// The approval commits naming `tree`.
    pub fn of(&self, tree: Oid) -> &[Oid] {
        self.by_tree.get(&tree).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Why the spec repository could not be fetched, read, checked out or
/// written. (A commit that is not trusted is not an error: it is a refusal.)
///
/// Messages that come from the remote side (libgit2's, the transport's)
/// are kept as text, redacted: they may quote the URL's user information.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read the spec repository ({what})")]
    Git {
        what: String,
        #[source]
        source: git2::Error,
    },
    /// A local operation on the mirror failed; `what` says which, on what.
    #[error("{what}")]
    Repo {
        what: String,
        #[source]
        source: git2::Error,
    },
    #[error("commit {commit} has no directory {dir} (check spec.git.path)")]
    NoSubdir { commit: Oid, dir: String },
    #[error("cannot check out commit {commit} to load its spec")]
    Checkout {
        commit: Oid,
        #[source]
        source: Box<SourceError>,
    },
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The agent configuration's `gitCredentials` entry for the URL is unusable.
    #[error("spec repository {url}")]
    Access {
        url: String,
        #[source]
        source: crate::git_transport::AccessError,
    },
    #[error("invalid spec repository URL {url}: {problem}")]
    BadUrl { url: String, problem: String },
    /// Listing or fetching the remote's references failed.
    #[error("cannot fetch branch {branch} of {url}{step}: {problem}")]
    Remote {
        step: RemoteStep,
        branch: String,
        url: String,
        problem: String,
    },
    #[error("the branch reference is symbolic")]
    SymbolicBranch,
    /// A tree entry whose name would write outside the checkout.
    #[error("refusing tree entry {name:?}")]
    BadTreeEntry { name: String },
    /// The key is not an admin key of the spec at the commit (the reason).
    #[error("{0}")]
    NotApprover(String),
    #[error("cannot create the approval: {0}")]
    Approval(String),
}

/// Which round trip to the remote failed (it decides the hint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteStep {
    List,
    Fetch,
}

impl std::fmt::Display for RemoteStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RemoteStep::List => {
                ": listing its references failed (check the URL, network access and the gitCredentials entry for it)"
            }
            RemoteStep::Fetch => {
                " (check the URL, the branch, network access and the gitCredentials entry for it)"
            }
        })
    }
}

impl SourceError {
    fn git(what: &str) -> impl Fn(git2::Error) -> SourceError + '_ {
        move |source| SourceError::Git {
            what: what.to_string(),
            source,
        }
    }

    fn repo(what: String) -> impl FnOnce(git2::Error) -> SourceError {
        move |source| SourceError::Repo { what, source }
    }

    fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SourceError {
        let path = path.to_path_buf();
        move |source| SourceError::Io {
            action,
            path,
            source,
        }
    }
}

/// The spec tree of a commit: its tree, or the tree of `subdir` in it.
pub fn spec_tree(
    repo: &Repository,
    commit: Oid,
    subdir: Option<&Path>,
) -> Result<Oid, SourceError> {
    let c = repo
        .find_commit(commit)
        .map_err(SourceError::git("finding a commit"))?;
    let tree = c.tree().map_err(SourceError::git("reading a tree"))?;
    match subdir.filter(|s| !s.as_os_str().is_empty()) {
        None => Ok(tree.id()),
        Some(sub) => tree
            .get_path(sub)
            .map(|e| e.id())
            .map_err(|_| SourceError::NoSubdir {
                commit,
                dir: sub.display().to_string(),
            }),
    }
}

/// Loads the specs of commits, once each.
pub struct SpecCache<'r> {
    repo: &'r Repository,
    subdir: Option<PathBuf>,
    loaded: HashMap<Oid, Option<Spec>>,
    /// The commits asked for since the cache was made: what
    /// [`SpecCache::into_loaded`] keeps.
    asked: std::collections::HashSet<Oid>,
    /// Where each commit's spec is checked out to be loaded, once and for
    /// good ([`checkout_once`]); None: a scratch directory, removed after.
    checkouts: Option<PathBuf>,
}

/// The specs one [`SpecCache`] loaded, kept for the next one over the same
/// repository and spec directory (a commit's spec never changes).
pub type LoadedSpecs = HashMap<Oid, Option<Spec>>;

/// The most specs [`SpecCache::into_loaded`] keeps of one walk.
pub const MAX_KEPT_SPECS: usize = 32;

impl<'r> SpecCache<'r> {
    pub fn new(repo: &'r Repository, subdir: Option<&Path>) -> Self {
        Self::with_loaded(repo, subdir, LoadedSpecs::new())
    }

    /// A cache that starts with what an earlier one over the same
    /// repository and `subdir` loaded.
    pub fn with_loaded(repo: &'r Repository, subdir: Option<&Path>, loaded: LoadedSpecs) -> Self {
        SpecCache {
            repo,
            subdir: subdir.map(Path::to_path_buf),
            loaded,
            asked: Default::default(),
            checkouts: None,
        }
    }

    /// Loads each commit's spec from its checkout under `dir`
    /// ([`checkout_once`]), where the caller finds it again: the spec it
    /// acts on is then the one verified, not a second checkout of it.
    pub fn checkouts_in(mut self, dir: &Path) -> Self {
        self.checkouts = Some(dir.to_path_buf());
        self
    }

    /// The repository the specs come from.
    pub fn repo(&self) -> &'r Repository {
        self.repo
    }

    /// The spec directory inside each commit (None: the whole tree).
    pub fn subdir(&self) -> Option<&Path> {
        self.subdir.as_deref()
    }

    /// The specs of the commits asked for since the cache was made (the
    /// rest is dropped: a chain walked once is not walked again); of a walk
    /// longer than [`MAX_KEPT_SPECS`] only those of `keep` (a long history
    /// must not stay in an idle agent's memory: the next walk loads its
    /// specs again from their checkouts).
    pub fn into_loaded(self, keep: &[Oid]) -> LoadedSpecs {
        let asked = self.asked;
        let kept = |commit: &Oid| {
            asked.contains(commit) && (asked.len() <= MAX_KEPT_SPECS || keep.contains(commit))
        };
        self.loaded
            .into_iter()
            .filter(|(commit, _)| kept(commit))
            .collect()
    }

    /// The valid spec at `commit`, or None when it does not validate.
    pub fn spec(&mut self, commit: Oid) -> Result<Option<&Spec>, SourceError> {
        self.asked.insert(commit);
        if !self.loaded.contains_key(&commit) {
            let checkout = |source| SourceError::Checkout {
                commit,
                source: Box::new(source),
            };
            let spec = match &self.checkouts {
                Some(dir) => {
                    let dest = checkout_once(self.repo, dir, commit, self.subdir.as_deref())
                        .map_err(checkout)?;
                    opssc_schema::load_dir(&dest).spec
                }
                None => {
                    let scratch = tempfile::tempdir().map_err(|e| {
                        checkout(SourceError::io("create", &std::env::temp_dir())(e))
                    })?;
                    let dir = scratch.path().join("spec");
                    checkout_tree(self.repo, commit, self.subdir.as_deref(), &dir)
                        .map_err(checkout)?;
                    opssc_schema::load_dir(&dir).spec
                }
            };
            self.loaded.insert(commit, spec);
        }
        Ok(self.loaded[&commit].as_ref())
    }
}

/// Checks a commit's SSH signature against `keys`; returns the key that made it.
pub fn check_commit_signature<'k>(
    repo: &Repository,
    commit: Oid,
    keys: &'k [AdminKey],
) -> Result<&'k AdminKey, String> {
    let (signature, signed) = match repo.extract_signature(&commit, None) {
        Ok(parts) => parts,
        Err(_) => return Err("the commit is not signed (sign spec commits with an admin's SSH key: git config gpg.format ssh; git commit -S; or have admins `opssc approve` it)".into()),
    };
    let signature =
        std::str::from_utf8(&signature).map_err(|_| "the signature is not text".to_string())?;
    if signature.contains("BEGIN PGP SIGNATURE") {
        return Err("the commit has an OpenPGP signature; opssc verifies SSH signatures only (git config gpg.format ssh), or approvals made with `opssc approve`".into());
    }
    let sig = ssh_key::SshSig::from_pem(signature)
        .map_err(|e| format!("the SSH signature does not parse: {e}"))?;
    for k in keys {
        if k.key.key_data() == sig.public_key() && k.key.verify("git", &signed, &sig).is_ok() {
            return Ok(k);
        }
    }
    let fingerprint =
        ssh_key::PublicKey::from(sig.public_key().clone()).fingerprint(Default::default());
    Err(format!(
        "signed by {fingerprint}, which is not an admin key listed in the spec before this commit"
    ))
}

/// Everyone among `keys` who vouched for `commit`: by signing it, or by
/// signing an approval of its spec tree. Also the reason the commit's own
/// signature did not count, for the message when nobody vouched.
pub fn vouchers(
    repo: &Repository,
    commit: Oid,
    tree: Oid,
    keys: &[AdminKey],
    approvals: &Approvals,
) -> (Vec<Voucher>, Option<String>) {
    let mut out = Vec::new();
    let own = match check_commit_signature(repo, commit, keys) {
        Ok(k) => {
            out.push(Voucher {
                org: k.org.clone(),
                name: k.name.clone(),
                via: Via::Signature,
            });
            None
        }
        Err(why) => Some(why),
    };
    for &approval in approvals.of(tree) {
        if let Ok(k) = check_commit_signature(repo, approval, keys)
            && !out.iter().any(|v| v.org == k.org && v.name == k.name)
        {
            out.push(Voucher {
                org: k.org.clone(),
                name: k.name.clone(),
                via: Via::Approval(approval),
            });
        }
    }
    (out, own)
}

/// The files under the spec trees that changed between two commits and
/// mention `msp` (its Organization document, for messages).
fn files_of_org(repo: &Repository, before: Oid, after: Oid, msp: &str) -> Vec<String> {
    let (Ok(old), Ok(new)) = (repo.find_tree(before), repo.find_tree(after)) else {
        return Vec::new();
    };
    let Ok(diff) = repo.diff_tree_to_tree(Some(&old), Some(&new), None) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for delta in diff.deltas() {
        for side in [delta.new_file(), delta.old_file()] {
            let Some(path) = side.path() else { continue };
            let mentions = repo
                .find_blob(side.id())
                .is_ok_and(|b| String::from_utf8_lossy(b.content()).contains(msp));
            let name = path.display().to_string();
            if mentions && !files.contains(&name) {
                files.push(name);
            }
        }
    }
    files
}

/// The first-parent chain from `tip` back to `from`, oldest first, without
/// `from`; None when `from` is not on it.
fn first_parent_chain(
    repo: &Repository,
    tip: Oid,
    from: Oid,
) -> Result<Option<Vec<Oid>>, SourceError> {
    let mut chain = Vec::new();
    let mut current = repo
        .find_commit(tip)
        .map_err(SourceError::git("finding the branch tip"))?;
    loop {
        if current.id() == from {
            chain.reverse();
            return Ok(Some(chain));
        }
        chain.push(current.id());
        match current.parent(0) {
            Ok(p) => current = p,
            Err(_) => return Ok(None),
        }
    }
}

/// Walks the first-parent chain from `from` (the trusted root, or the last
/// commit this agent verified) to `tip`. Each commit must be vouched for by
/// an admin key of its parent's spec, must carry a valid spec, and may
/// change an organization's own document only with that organization's
/// voucher. A `tip` that does not descend from `from` is refused whole.
pub fn verify_chain(
    specs: &mut SpecCache,
    tip: Oid,
    from: Oid,
) -> Result<Verification, SourceError> {
    let (repo, subdir) = (specs.repo(), specs.subdir().map(Path::to_path_buf));
    let subdir = subdir.as_deref();
    let mut verification = Verification {
        trusted: from,
        signers: Vec::new(),
        refused: None,
    };
    let Some(chain) = first_parent_chain(repo, tip, from)? else {
        verification.refused = Some((
            tip,
            format!(
                "the branch does not move forward: its tip {tip} does not descend (first parent) from {from}, \
                 the newest commit this organization verified; the branch was force-pushed, rewound or \
                 replaced by a fork from an older commit. Acting on {from} until the branch builds on it again \
                 (restore it: git push --force-with-lease origin {from}:BRANCH, then commit on top)"
            ),
        ));
        return Ok(verification);
    };
    let approvals = Approvals::collect(repo, subdir)?;
    for commit in chain {
        match judge_commit(
            repo,
            specs,
            &approvals,
            verification.trusted,
            commit,
            subdir,
        )? {
            Ok(vouchers) => {
                verification.trusted = commit;
                let who: Vec<String> = vouchers.iter().map(Voucher::describe).collect();
                verification.signers.push((commit, who.join(", ")));
            }
            Err(reason) => {
                verification.refused = Some((commit, reason));
                break;
            }
        }
    }
    Ok(verification)
}

/// Whether `commit` may follow the trusted `parent`: Ok(its vouchers) or the reason.
fn judge_commit(
    repo: &Repository,
    specs: &mut SpecCache,
    approvals: &Approvals,
    parent: Oid,
    commit: Oid,
    subdir: Option<&Path>,
) -> Result<Result<Vec<Voucher>, String>, SourceError> {
    let Some(before) = specs.spec(parent)?.cloned() else {
        return Ok(Err(format!(
            "the spec of its parent {parent} does not validate, so no admin key is known (run `opssc validate` on it)"
        )));
    };
    let keys = admin_keys(&before);
    let tree = match spec_tree(repo, commit, subdir) {
        Ok(t) => t,
        Err(SourceError::NoSubdir { dir, .. }) => {
            return Ok(Err(format!("the commit has no spec directory {dir}")));
        }
        Err(e) => return Err(e),
    };
    let (vouchers, own) = vouchers(repo, commit, tree, &keys, approvals);
    if vouchers.is_empty() {
        return Ok(Err(own.unwrap_or_else(|| "nobody vouched for it".into())));
    }
    let Some(after) = specs.spec(commit)? else {
        return Ok(Err(
            "its spec does not validate (check it out and run `opssc validate` for every error)"
                .into(),
        ));
    };
    let breaches = ownership_breaches(&before, after, &vouchers);
    if let Some(b) = breaches.first() {
        let parent_tree = spec_tree(repo, parent, subdir)?;
        let files = files_of_org(repo, parent_tree, tree, &b.org);
        let file = if files.is_empty() {
            format!("the Organization document of {}", b.org)
        } else {
            files.join(", ")
        };
        let signed: Vec<String> = vouchers.iter().map(Voucher::describe).collect();
        let must = if b.admins.is_empty() {
            format!("{} lists no admin key, so nobody can change it", b.org)
        } else {
            format!(
                "an admin of {} must sign it ({})",
                b.org,
                b.admins.join(", ")
            )
        };
        return Ok(Err(format!(
            "{file}: changes organization {} (its certificates, nodes or admin keys), but the commit is signed by {} only; \
             an organization's own document changes only with its own admin's signature: {must}, or `opssc approve` it",
            b.org,
            signed.join(", ")
        )));
    }
    Ok(Ok(vouchers))
}

/// An organization's consent to the spec of one commit of the trusted chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The newest commit of the chain whose spec the organization consented to.
    pub commit: Oid,
    /// How: "signed by Org1MSP/alice", "approval ... by ...", "the trusted root".
    pub how: String,
}

/// The newest commit on the first-parent chain from `root` to `trusted`
/// whose spec `org` consented to: one of its admins signed the commit or an
/// approval of its spec tree. Keys count when the spec before the commit
/// lists them for `org` *and* the trusted spec still does: a key the
/// organization removed no longer speaks for it, not even about the past.
/// The root counts as consented: the organization configured it.
pub fn consented(
    specs: &mut SpecCache,
    trusted: Oid,
    root: Oid,
    org: &str,
) -> Result<Consent, SourceError> {
    let (repo, subdir) = (specs.repo(), specs.subdir().map(Path::to_path_buf));
    let subdir = subdir.as_deref();
    let approvals = Approvals::collect(repo, subdir)?;
    let current: Vec<AdminKey> = match specs.spec(trusted)? {
        Some(s) => admin_keys(s).into_iter().filter(|k| k.org == org).collect(),
        None => Vec::new(),
    };
    let mut commit = repo
        .find_commit(trusted)
        .map_err(SourceError::git("finding the trusted commit"))?;
    loop {
        if commit.id() == root {
            return Ok(Consent {
                commit: root,
                how: "the trusted root of this organization's configuration".into(),
            });
        }
        let Ok(parent) = commit.parent(0) else {
            // The trusted chain always reaches the root; a history without
            // it leaves nothing consented but the root.
            return Ok(Consent {
                commit: root,
                how: "the trusted root of this organization's configuration".into(),
            });
        };
        let keys: Vec<AdminKey> = match specs.spec(parent.id())? {
            Some(s) => admin_keys(s)
                .into_iter()
                .filter(|k| {
                    k.org == org && current.iter().any(|c| c.key.key_data() == k.key.key_data())
                })
                .collect(),
            None => Vec::new(),
        };
        if !keys.is_empty() {
            let tree = spec_tree(repo, commit.id(), subdir)?;
            let (found, _) = vouchers(repo, commit.id(), tree, &keys, &approvals);
            if let Some(v) = found.first() {
                let how = match &v.via {
                    Via::Signature => format!("signed by {}/{}", v.org, v.name),
                    Via::Approval(a) => {
                        format!("approved by {}/{} in approval {}", v.org, v.name, short(*a))
                    }
                };
                return Ok(Consent {
                    commit: commit.id(),
                    how,
                });
            }
        }
        commit = parent;
    }
}

/// The approval of a commit's spec tree: an SSH-signed commit whose first
/// parent is the approved commit and whose tree is the same, so it names the
/// tree under the signature (what survives a rebase or squash merge that
/// reproduces the tree) and points at what was reviewed. Returns the new
/// approval commit; the caller stores it under [`approval_ref`].
pub fn create_approval(
    repo: &Repository,
    approved: Oid,
    signer: &AdminKey,
    sign: impl FnOnce(&[u8]) -> Result<String, String>,
) -> Result<Oid, String> {
    let commit = repo
        .find_commit(approved)
        .map_err(|e| format!("commit {approved} not found: {}", e.message()))?;
    let tree = commit.tree().map_err(|e| e.message().to_string())?;
    let who = git2::Signature::now(&signer.who(), &format!("{}@opssc.invalid", signer.org))
        .map_err(|e| e.message().to_string())?;
    let message = format!(
        "opssc approval by {} of {}\n\nApproved-commit: {approved}\nApproved-tree: {}\n",
        signer.who(),
        short(approved),
        tree.id()
    );
    let buffer = repo
        .commit_create_buffer(&who, &who, &message, &tree, &[&commit])
        .map_err(|e| e.message().to_string())?;
    let content = buffer
        .as_str()
        .map_err(|_| "the commit text is not UTF-8".to_string())?;
    let signature = sign(content.as_bytes())?;
    repo.commit_signed(content, &signature, None)
        .map_err(|e| e.message().to_string())
}

/// The admin whom `key` belongs to in the spec an approval of `commit` is
/// judged by: the spec of its first parent (the commit's own for a root).
pub fn approver(
    repo: &Repository,
    commit: Oid,
    subdir: Option<&Path>,
    key: &ssh_key::PublicKey,
) -> Result<AdminKey, String> {
    let c = repo
        .find_commit(commit)
        .map_err(|e| format!("commit {commit} not found: {}", e.message()))?;
    let judged_by = c.parent_id(0).unwrap_or(commit);
    let mut specs = SpecCache::new(repo, subdir);
    let spec = specs
        .spec(judged_by)
        .map_err(|e| format!("{e}"))?
        .ok_or_else(|| {
            format!("the spec at {judged_by} does not validate, so it lists no admin key")
        })?;
    admin_keys(spec)
        .into_iter()
        .find(|k| k.key.key_data() == key.key_data())
        .ok_or_else(|| {
            format!(
                "key {} is not an admin key of any organization in the spec at {judged_by} (the spec \
                 an approval of {commit} is judged by): an approval with it would count for nothing",
                key.fingerprint(Default::default())
            )
        })
}

/// Per organization of the spec before `commit`: who of its admins vouched
/// for the commit (signature or approval of its tree). An empty list is a
/// missing consent (what the pull-request check lists).
pub fn approvals_of(
    repo: &Repository,
    commit: Oid,
    subdir: Option<&Path>,
) -> Result<Vec<(String, Vec<Voucher>)>, SourceError> {
    let c = repo
        .find_commit(commit)
        .map_err(SourceError::git("finding the commit"))?;
    let judged_by = c.parent_id(0).unwrap_or(commit);
    let mut specs = SpecCache::new(repo, subdir);
    let Some(spec) = specs.spec(judged_by)? else {
        return Ok(Vec::new());
    };
    let orgs: Vec<String> = spec.organizations.keys().cloned().collect();
    let keys = admin_keys(spec);
    let approvals = Approvals::collect(repo, subdir)?;
    let tree = spec_tree(repo, commit, subdir)?;
    let (found, _) = vouchers(repo, commit, tree, &keys, &approvals);
    Ok(orgs
        .into_iter()
        .map(|org| {
            let mine = found.iter().filter(|v| v.org == org).cloned().collect();
            (org, mine)
        })
        .collect())
}

/// Where an approval of `spec_tree` by `signer` is stored.
pub fn approval_ref(spec_tree: Oid, signer: &AdminKey) -> String {
    let safe: String = format!("{}-{}", signer.org, signer.name)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{APPROVALS_REF_PREFIX}{spec_tree}/{safe}")
}

/// An approval [`approve`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// "Org2MSP/bob".
    pub who: String,
    pub tree: Oid,
    pub approval: Oid,
    pub refname: String,
}

/// An admin's approval of `commit`, signed by `sign` (an SSH signature of
/// the given bytes, namespace "git", by the admin whose public key is
/// `key`), stored at its [`approval_ref`] in `repo`. What `opssc approve`
/// does, and what tests and demos call to consent as an organization.
pub fn approve(
    repo: &Repository,
    commit: Oid,
    subdir: Option<&Path>,
    key: &ssh_key::PublicKey,
    sign: impl FnOnce(&[u8]) -> Result<String, String>,
) -> Result<Stored, SourceError> {
    let admin = approver(repo, commit, subdir, key).map_err(SourceError::NotApprover)?;
    let approval = create_approval(repo, commit, &admin, sign).map_err(SourceError::Approval)?;
    let tree = spec_tree(repo, commit, subdir)?;
    let refname = approval_ref(tree, &admin);
    repo.reference(&refname, approval, true, "opssc approve")
        .map_err(SourceError::repo(format!("cannot write {refname}")))?;
    Ok(Stored {
        who: admin.who(),
        tree,
        approval,
        refname,
    })
}

/// [`approve`] with an unencrypted private key in memory.
pub fn approve_with_key(
    repo: &Repository,
    commit: Oid,
    subdir: Option<&Path>,
    key: &ssh_key::PrivateKey,
) -> Result<Stored, SourceError> {
    approve(repo, commit, subdir, key.public_key(), |bytes| {
        key.sign("git", ssh_key::HashAlg::Sha512, bytes)
            .and_then(|s| s.to_pem(ssh_key::LineEnding::LF))
            .map_err(|e| format!("signing the approval: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_errors_never_show_the_urls_user_information() {
        let tmp = tempfile::tempdir().unwrap();
        // Nothing listens on port 1: the fetch fails after parsing the URL.
        let source = GitSource::open(
            &tmp.path().join("m"),
            "http://bob:s3cret@127.0.0.1:1/spec.git",
        )
        .unwrap();
        let e = crate::agent::error::chain(&source.fetch("main").unwrap_err());
        assert!(e.contains("http://***@127.0.0.1:1/spec.git"), "{e}");
        assert!(!e.contains("s3cret") && !e.contains("bob"), "{e}");
    }

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap()
    }

    #[test]
    fn idle_checkouts_are_pruned_but_the_kept_commits_and_strangers() {
        let tmp = tempfile::tempdir().unwrap();
        let parent = tmp.path();
        let long_ago = std::time::SystemTime::now() - CHECKOUT_IDLE * 2;
        let make = |name: &str, old: bool| {
            let dir = parent.join(name);
            std::fs::create_dir_all(dir.join("channels")).unwrap();
            std::fs::write(dir.join("channels/trade.yaml"), "x").unwrap();
            if old {
                std::fs::File::open(&dir)
                    .unwrap()
                    .set_modified(long_ago)
                    .unwrap();
            }
        };
        let (kept, idle, fresh) = (oid(1), oid(2), oid(3));
        make(&kept.to_string(), true);
        make(&idle.to_string(), true);
        make(&fresh.to_string(), false);
        make(&format!("{}.a1b2c3", oid(4)), true);
        make("not-a-commit", true);
        assert_eq!(prune_checkouts(parent, &[kept], CHECKOUT_IDLE), 2);
        let mut left: Vec<String> = std::fs::read_dir(parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want = vec![
            kept.to_string(),
            fresh.to_string(),
            "not-a-commit".to_string(),
        ];
        want.sort();
        assert_eq!(left, want);
        // A checkout reused now is not idle any more.
        let repo_dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(repo_dir.path()).unwrap();
        let reused = checkout_once(&repo, parent, kept, None).unwrap();
        assert!(
            reused.join("channels/trade.yaml").exists(),
            "not written again"
        );
        assert_eq!(prune_checkouts(parent, &[], CHECKOUT_IDLE), 0);
        // Nothing there: nothing to do.
        assert_eq!(
            prune_checkouts(&parent.join("absent"), &[], CHECKOUT_IDLE),
            0
        );
    }

    #[test]
    fn a_fetch_is_needed_only_when_the_branch_or_an_approval_moved() {
        let approval = format!("{APPROVALS_REF_PREFIX}Org2MSP/x");
        let advertised = vec![
            ("HEAD".to_string(), oid(1)),
            ("refs/heads/main".to_string(), oid(1)),
            ("refs/heads/other".to_string(), oid(9)),
            (approval.clone(), oid(2)),
        ];
        let mut local = std::collections::BTreeMap::new();
        // A fresh mirror has nothing.
        assert!(fetch_needed(&advertised, &local, "main"));
        local.insert("refs/remotes/origin/main".to_string(), oid(1));
        // The approval is missing.
        assert!(fetch_needed(&advertised, &local, "main"));
        local.insert(approval.clone(), oid(2));
        assert!(!fetch_needed(&advertised, &local, "main"));
        // Another branch moving changes nothing; the spec branch does.
        let mut moved = advertised.clone();
        moved[2].1 = oid(8);
        assert!(!fetch_needed(&moved, &local, "main"));
        moved[1].1 = oid(7);
        assert!(fetch_needed(&moved, &local, "main"));
        // An approval replaced; an approval removed on the server.
        let mut replaced = advertised.clone();
        replaced[3].1 = oid(3);
        assert!(fetch_needed(&replaced, &local, "main"));
        assert!(!fetch_needed(&advertised[..3], &local, "main"));
        // The branch is gone: fetch, so that the error says so.
        assert!(fetch_needed(&advertised, &local, "release"));
    }

    /// A cache made from an earlier one's specs answers from them without
    /// reading the repository, keeps only what was asked for, and with
    /// `checkouts_in` leaves each loaded commit's checkout in that directory.
    #[test]
    fn a_spec_cache_reuses_an_earlier_ones_specs_and_keeps_what_was_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repository::init(tmp.path().join("repo")).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = repo
            .find_tree(repo.index().unwrap().write_tree().unwrap())
            .unwrap();
        let empty = repo
            .commit(Some("refs/heads/main"), &sig, &sig, "empty", &tree, &[])
            .unwrap();
        let spec = crate::test_fixtures::spec_with_certificates("network-spec");
        // oid(7) is in no repository: only the earlier cache knows it.
        let earlier: LoadedSpecs = [(oid(7), Some(spec.clone())), (oid(8), None)].into();
        let checkouts = tmp.path().join("checkouts");
        let mut specs = SpecCache::with_loaded(&repo, None, earlier).checkouts_in(&checkouts);
        assert_eq!(specs.spec(oid(7)).unwrap(), Some(&spec));
        // An empty tree is no valid spec; its checkout stays for the caller.
        assert_eq!(specs.spec(empty).unwrap(), None);
        assert!(checkouts.join(empty.to_string()).is_dir());
        assert!(specs.spec(oid(9)).is_err(), "a commit nobody has");
        let kept = specs.into_loaded(&[]);
        assert_eq!(kept.len(), 2, "oid(8) was not asked for: {:?}", kept.keys());
        assert!(kept.contains_key(&oid(7)) && kept.contains_key(&empty));
        // Of a long walk only the commits named are kept.
        let many: LoadedSpecs = (0..=MAX_KEPT_SPECS as u8).map(|n| (oid(n), None)).collect();
        let mut specs = SpecCache::with_loaded(&repo, None, many);
        for n in 0..=MAX_KEPT_SPECS as u8 {
            specs.spec(oid(n)).unwrap();
        }
        let kept = specs.into_loaded(&[oid(3)]);
        assert_eq!(kept.keys().collect::<Vec<_>>(), [&oid(3)]);
    }

    #[test]
    fn an_unchanged_repository_is_listed_not_fetched() {
        let tmp = tempfile::tempdir().unwrap();
        let upstream = Repository::init(tmp.path().join("up")).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let commit = |parent: Option<Oid>, text: &str| {
            let mut index = upstream.index().unwrap();
            let blob = upstream.blob(text.as_bytes()).unwrap();
            index
                .add(&git2::IndexEntry {
                    ctime: git2::IndexTime::new(0, 0),
                    mtime: git2::IndexTime::new(0, 0),
                    dev: 0,
                    ino: 0,
                    mode: 0o100644,
                    uid: 0,
                    gid: 0,
                    file_size: text.len() as u32,
                    id: blob,
                    flags: 0,
                    flags_extended: 0,
                    path: b"f.txt".to_vec(),
                })
                .unwrap();
            let tree = upstream.find_tree(index.write_tree().unwrap()).unwrap();
            let parents: Vec<git2::Commit> = parent
                .map(|p| upstream.find_commit(p).unwrap())
                .into_iter()
                .collect();
            let refs: Vec<&git2::Commit> = parents.iter().collect();
            upstream
                .commit(Some("refs/heads/main"), &sig, &sig, text, &tree, &refs)
                .unwrap()
        };
        let first = commit(None, "one");
        let url = format!("file://{}", tmp.path().join("up").display());
        let source = GitSource::open(&tmp.path().join("mirror"), &url).unwrap();
        assert_eq!(source.fetch_if_moved("main").unwrap(), (first, true));
        assert_eq!(source.fetch_if_moved("main").unwrap(), (first, false));
        let second = commit(Some(first), "two");
        assert_eq!(source.fetch_if_moved("main").unwrap(), (second, true));
        assert_eq!(source.fetch_if_moved("main").unwrap(), (second, false));
        // A new approval is consent the pass acts on: fetched.
        upstream
            .reference(
                &format!("{APPROVALS_REF_PREFIX}Org2MSP/a"),
                first,
                false,
                "approve",
            )
            .unwrap();
        assert_eq!(source.fetch_if_moved("main").unwrap(), (second, true));
        assert!(approval_refs(source.repository()).unwrap().len() == 1);
        assert_eq!(source.fetch_if_moved("main").unwrap(), (second, false));
    }

    fn reference() -> Spec {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        opssc_schema::load_dir(&dir)
            .spec
            .expect("the reference spec is valid")
    }

    fn voucher(org: &str) -> Voucher {
        Voucher {
            org: org.into(),
            name: "admin0".into(),
            via: Via::Signature,
        }
    }

    #[test]
    fn ownership_needs_the_changed_organizations_own_voucher() {
        let before = reference();
        let mut after = before.clone();
        let org1 = after.organizations.get_mut("Org1MSP").unwrap();
        org1.admins.push(opssc_schema::Admin {
            name: "carol".into(),
            signing_key: "ssh-ed25519 AAAA".into(),
        });
        // Org2 alone: a breach of Org1's document.
        let breaches = ownership_breaches(&before, &after, &[voucher("Org2MSP")]);
        assert_eq!(breaches.len(), 1);
        assert_eq!(breaches[0].org, "Org1MSP");
        // With Org1's voucher (alone or with others): none.
        assert!(ownership_breaches(&before, &after, &[voucher("Org1MSP")]).is_empty());
        assert!(
            ownership_breaches(&before, &after, &[voucher("Org2MSP"), voucher("Org1MSP")])
                .is_empty()
        );
        // A new organization is sponsored; a removed one is a consortium change.
        let mut grown = before.clone();
        let mut org4 = grown.organizations["Org3MSP"].clone();
        org4.msp_id = "Org4MSP".into();
        grown.organizations.insert("Org4MSP".into(), org4);
        assert!(ownership_breaches(&before, &grown, &[voucher("Org2MSP")]).is_empty());
        let mut shrunk = before.clone();
        shrunk.organizations.remove("Org3MSP");
        assert!(ownership_breaches(&before, &shrunk, &[voucher("Org2MSP")]).is_empty());
        // Unchanged documents need nobody.
        assert!(ownership_breaches(&before, &before, &[voucher("Org2MSP")]).is_empty());
    }
}
