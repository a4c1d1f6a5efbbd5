//! Which spec the agent acts on: the newest trusted commit of the spec
//! repository (checked out into the agent's state directory), a local
//! directory (development), or a directory given on the command line.
//!
//! [`SpecAt`] carries the loaded [`Spec`], the commit it came from and the
//! first refused commit, if any, so `status` can say why a newer commit was
//! not applied, and the spec this organization *consented* to (see
//! [`crate::consent`]). Key decision: a refused commit never stops the agent:
//! it keeps acting on the last trusted commit (which may be the root: then
//! nothing but the root's spec is applied).
//!
//! History only moves forward: the newest verified commit is persisted in the
//! agent's state directory (`spec-verified`) and the next walk starts there,
//! so a branch that no longer descends from it is refused, and a key removed
//! since counts for no later commit. The file is kept per trusted root: an
//! operator who configures another root starts over from it deliberately.

use std::path::{Path, PathBuf};

use git2::Oid;
use opssc_schema::Spec;
use opssc_schema::local::{AgentConfig, SpecSource};

use crate::source::{GitSource, SourceError};

pub type Result<T, E = SpecSourceError> = std::result::Result<T, E>;

/// Why no spec could be resolved: the configuration names no usable
/// source, the spec does not validate, the repository failed
/// ([`SourceError`]), or the agent's own state directory is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SpecSourceError {
    #[error(
        "the spec in {} is invalid (run `opssc validate {}` for every error with its location)",
        dir.display(),
        dir.display()
    )]
    InvalidSpec { dir: PathBuf },
    #[error(
        "the agent configuration of {msp_id} names no spec source: add `spec: {{git: {{url, branch}}}}` or pass --spec DIR"
    )]
    NoSource { msp_id: String },
    #[error("spec.git.trustedRoot {root:?} is not a commit hash (40 hex digits)")]
    BadTrustedRoot {
        root: String,
        #[source]
        source: git2::Error,
    },
    #[error(
        "spec.git.trustedRoot is missing in the agent configuration of {msp_id}: set it to the commit your organization trusts without a signature (normally the founding commit)"
    )]
    NoTrustedRoot { msp_id: String },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("cannot record the verified commit in the spec mirror")]
    RecordVerified(#[source] git2::Error),
    /// The mirror lost the verified commit (a rewritten branch) and the
    /// memo recorded no consent to fall back on.
    #[error(
        "the spec mirror in {} lacks the verified commit {commit} and no consent was recorded for it; \
         the branch was rewritten: restore it so that it descends from {commit} again",
        state_dir.display()
    )]
    LostVerified { state_dir: PathBuf, commit: Oid },
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is damaged (expected lines `root <commit>` and `verified <commit>`); restore it, or remove it to verify again from the trusted root",
        path.display()
    )]
    DamagedMemo { path: PathBuf },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SpecSourceError {
    let path = path.to_path_buf();
    move |source| SpecSourceError::Io {
        action,
        path,
        source,
    }
}

/// A loaded spec and where it came from.
#[derive(Clone)]
pub struct SpecAt {
    pub spec: Spec,
    /// The trusted commit (None for a directory).
    pub commit: Option<Oid>,
    /// The branch tip, if it is newer than the trusted commit.
    pub tip: Option<Oid>,
    /// The first refused commit after the trusted one, with the reason.
    pub refused: Option<(Oid, String)>,
    /// Who vouched for each trusted commit verified in this pass.
    pub signers: Vec<(Oid, String)>,
    /// The newest commit of the trusted chain whose spec this organization's
    /// admins consented to, and that spec; None for a directory spec (the
    /// operator who points the agent at a directory consents to it).
    pub consented: Option<ConsentedSpec>,
}

/// The spec this organization consented to ([`crate::source::consented`]).
#[derive(Clone)]
pub struct ConsentedSpec {
    pub commit: Oid,
    /// How it consented, for status ("signed by Org1MSP/alice", ...).
    pub how: String,
    pub spec: Spec,
}

impl SpecAt {
    /// The 40-hex commit for proposals' `spec_ref`; a directory spec has none
    /// and uses all zeros.
    pub fn git_commit(&self) -> String {
        self.commit
            .map(|c| c.to_string())
            .unwrap_or_else(|| "0".repeat(40))
    }

    /// What this organization consented to, as proposal IDs the planner
    /// produces against `observed` (the input of [`crate::consent::consent_for`]).
    /// A directory spec is consented whole.
    pub fn consented_plan(
        &self,
        observed: &crate::observe::Observed,
        me: &str,
    ) -> crate::consent::ConsentedPlan {
        match &self.consented {
            None => {
                crate::consent::ConsentedPlan::whole(&crate::plan::plan(&self.spec, observed, me))
            }
            Some(c) => crate::consent::ConsentedPlan::new(
                &crate::plan::plan(&c.spec, observed, me),
                &c.spec,
                &self.spec,
                Some(c.commit.to_string()),
                c.how.clone(),
            ),
        }
    }
}

/// Loads and validates the spec in `dir`.
pub fn load_spec(dir: &Path) -> Result<Spec> {
    let loaded = opssc_schema::load_dir(dir);
    match loaded.spec {
        Some(spec) => Ok(spec),
        None => Err(SpecSourceError::InvalidSpec {
            dir: dir.to_path_buf(),
        }),
    }
}

/// Resolves the spec: `override_dir` if given, else the configured source.
pub fn resolve(
    config: &AgentConfig,
    state_dir: &Path,
    override_dir: Option<&Path>,
) -> Result<SpecAt> {
    resolve_since(config, state_dir, override_dir, &mut Resolved::default())
}

/// What the daemon's last pass resolved its git spec from: the fetched
/// branch tip and approval references, and the result.
#[derive(Default)]
pub struct Resolved {
    last: Option<(Oid, std::collections::BTreeMap<String, Oid>, SpecAt)>,
    /// The specs the last verification and consent walk loaded from git:
    /// the next new commit's verification needs its parent's (the commit
    /// verified last) and the consent walk the same ancestors again.
    specs: crate::source::LoadedSpecs,
}

/// A git spec source's state as a fetch sees it: the branch tip and every
/// approval reference.
pub type GitSeen = (Oid, std::collections::BTreeMap<String, Oid>);

impl Resolved {
    /// The branch tip and approvals the last resolution was made from.
    pub fn seen(&self) -> Option<GitSeen> {
        self.last.as_ref().map(|(t, a, _)| (*t, a.clone()))
    }
}

/// [`resolve`], reusing `last`'s result when the mirror's branch tip and
/// approvals are those it was resolved from: verifying, checking out and
/// loading the same commits again gives the same spec (nothing is newly
/// verified, so no signers). A pass then costs one reference listing.
pub fn resolve_since(
    config: &AgentConfig,
    state_dir: &Path,
    override_dir: Option<&Path>,
    last: &mut Resolved,
) -> Result<SpecAt> {
    let plain = |dir: &Path| -> Result<SpecAt> {
        Ok(SpecAt {
            spec: load_spec(dir)?,
            commit: None,
            tip: None,
            refused: None,
            signers: Vec::new(),
            consented: None,
        })
    };
    if let Some(dir) = override_dir {
        return plain(dir);
    }
    match &config.spec {
        None => Err(SpecSourceError::NoSource {
            msp_id: config.msp_id.clone(),
        }),
        Some(SpecSource::Dir { path }) => plain(path),
        Some(SpecSource::Git {
            url,
            branch,
            path,
            trusted_root,
            ..
        }) => {
            let started = std::time::Instant::now();
            let source = GitSource::open_for(&state_dir.join("spec-mirror"), url, config)?;
            let tip = source.fetch(branch)?;
            let fetched = started.elapsed();
            let approvals = crate::source::approval_refs(source.repository())?;
            if let Some((t, a, at)) = &last.last
                && (*t, a) == (tip, &approvals)
            {
                return Ok(SpecAt {
                    signers: Vec::new(),
                    ..at.clone()
                });
            }
            let root = match trusted_root.as_deref() {
                Some(r) => Oid::from_str(r).map_err(|source| SpecSourceError::BadTrustedRoot {
                    root: r.to_string(),
                    source,
                })?,
                None => {
                    return Err(SpecSourceError::NoTrustedRoot {
                        msp_id: config.msp_id.clone(),
                    });
                }
            };
            let memo = VerifiedMemo::at(config, state_dir);
            let remembered = memo.read(root)?;
            let from = remembered.as_ref().map_or(root, |m| m.verified);
            let repo = source.repository();
            // Checkouts live next to the memo, shared by the daemon and the
            // one-shot commands: a mirror that never saw the verified commit
            // (it was force-pushed away before this mirror was made) still
            // finds its spec there. The verification loads each commit's
            // spec from there, so the spec acted on is the one it loaded.
            let shared = memo.dir();
            let mut specs = crate::source::SpecCache::with_loaded(
                repo,
                path.as_deref(),
                std::mem::take(&mut last.specs),
            )
            .checkouts_in(&checkouts(&shared));
            let v = crate::source::verify_chain(&mut specs, tip, from)?;
            let verified = started.elapsed();
            let dest = checkout_commit(&source, &shared, v.trusted, path.as_deref())?;
            let checked_out = started.elapsed();
            let consent = if repo.find_commit(v.trusted).is_ok() {
                // The mirror keeps what was verified even after a force-push.
                repo.reference("refs/opssc/verified", v.trusted, true, "verified")
                    .map_err(SpecSourceError::RecordVerified)?;
                crate::source::consented(&mut specs, v.trusted, root, &config.msp_id)?
            } else {
                match remembered.as_ref().and_then(|m| m.consented.clone()) {
                    Some((commit, how)) => crate::source::Consent { commit, how },
                    None => {
                        return Err(SpecSourceError::LostVerified {
                            state_dir: state_dir.to_path_buf(),
                            commit: v.trusted,
                        });
                    }
                }
            };
            let next = Memo {
                verified: v.trusted,
                consented: Some((consent.commit, consent.how.clone())),
            };
            if remembered.as_ref() != Some(&next) {
                memo.write(root, &next)?;
            }
            let consented_at = started.elapsed();
            // Loaded by the verification and the consent walk (from the
            // checkouts above); loaded here only to say why it is invalid.
            let spec = match specs.spec(v.trusted)? {
                Some(spec) => spec.clone(),
                None => load_spec(&dest)?,
            };
            let consented_spec = match specs.spec(consent.commit)? {
                Some(spec) => spec.clone(),
                None => load_spec(&checkout_commit(
                    &source,
                    &shared,
                    consent.commit,
                    path.as_deref(),
                )?)?,
            };
            // What the next resolution may need without the mirror: the
            // verified and the consented commit's specs and checkouts.
            let keep = [v.trusted, consent.commit];
            last.specs = specs.into_loaded(&keep);
            crate::source::prune_checkouts(
                &checkouts(&shared),
                &keep,
                crate::source::CHECKOUT_IDLE,
            );
            let at = SpecAt {
                spec,
                commit: Some(v.trusted),
                tip: (tip != v.trusted).then_some(tip),
                refused: v.refused,
                signers: v.signers,
                consented: Some(ConsentedSpec {
                    commit: consent.commit,
                    how: consent.how,
                    spec: consented_spec,
                }),
            };
            // Where a new commit's resolution spends its time (lead time).
            tracing::debug!(
                fetch_ms = fetched.as_millis() as u64,
                verify_ms = verified.as_millis() as u64,
                checkout_ms = checked_out.as_millis() as u64,
                consent_ms = consented_at.as_millis() as u64,
                loaded_ms = started.elapsed().as_millis() as u64,
                "spec resolved"
            );
            last.last = Some((tip, approvals, at.clone()));
            Ok(at)
        }
    }
}

/// Checks out `commit` once into `spec-checkout/<commit>` and returns the directory.
fn checkout_commit(
    source: &GitSource,
    state_dir: &Path,
    commit: Oid,
    subdir: Option<&Path>,
) -> Result<PathBuf> {
    Ok(crate::source::checkout_once(
        source.repository(),
        &checkouts(state_dir),
        commit,
        subdir,
    )?)
}

/// Where the commits' specs are checked out, under the agent's state directory.
fn checkouts(state_dir: &Path) -> PathBuf {
    state_dir.join("spec-checkout")
}

/// What an agent remembers about its spec between passes and restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memo {
    /// The newest commit it verified.
    pub verified: Oid,
    /// The newest commit its organization consented to, and how.
    pub consented: Option<(Oid, String)>,
}

/// The newest commit this organization verified, persisted per trusted root
/// in the agent's own state directory (shared by the daemon and the one-shot
/// commands, which resolve into sub-directories of it).
pub struct VerifiedMemo {
    path: PathBuf,
}

impl VerifiedMemo {
    pub fn at(config: &AgentConfig, state_dir: &Path) -> VerifiedMemo {
        let base = config
            .state_dir
            .clone()
            .unwrap_or_else(|| state_dir.to_path_buf());
        VerifiedMemo {
            path: base.join("spec-verified"),
        }
    }

    /// The directory the memo is in (the agent's state directory).
    pub fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// What was remembered for `root`; None when nothing was verified from
    /// this root yet.
    pub fn read(&self, root: Oid) -> Result<Option<Memo>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(io("read", &self.path)(e));
            }
        };
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .map(str::trim)
        };
        let oid = |name: &str| field(name).and_then(|v| Oid::from_str(v).ok());
        match (oid("root"), oid("verified")) {
            (Some(r), Some(verified)) if r == root => Ok(Some(Memo {
                verified,
                consented: oid("consented")
                    .map(|c| (c, field("how").unwrap_or_default().to_string())),
            })),
            (Some(_), Some(_)) => Ok(None),
            _ => Err(SpecSourceError::DamagedMemo {
                path: self.path.clone(),
            }),
        }
    }

    pub fn write(&self, root: Oid, memo: &Memo) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        }
        let mut text = format!("root {root}\nverified {}\n", memo.verified);
        if let Some((commit, how)) = &memo.consented {
            text.push_str(&format!(
                "consented {commit}\nhow {}\n",
                how.replace('\n', " ")
            ));
        }
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io("write", &self.path))
    }
}
