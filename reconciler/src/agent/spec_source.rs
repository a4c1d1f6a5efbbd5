//! Which spec the agent acts on: the newest trusted commit of the spec
//! repository (checked out into the agent's state directory), a local
//! directory (development), or a directory given on the command line.
//!
//! [`SpecAt`] carries the loaded [`Spec`], the commit it came from and the
//! first refused commit, if any, so `status` can say why a newer commit was
//! not applied. Key decision: a refused commit never stops the agent: it keeps
//! acting on the last trusted commit (which may be the root: then nothing
//! but the root's spec is applied).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use git2::Oid;
use opssc_schema::Spec;
use opssc_schema::local::{AgentConfig, SpecSource};

use crate::source::GitSource;

/// A loaded spec and where it came from.
pub struct SpecAt {
    pub spec: Spec,
    /// The trusted commit (None for a directory).
    pub commit: Option<Oid>,
    /// The branch tip, if it is newer than the trusted commit.
    pub tip: Option<Oid>,
    /// The first refused commit after the trusted one, with the reason.
    pub refused: Option<(Oid, String)>,
    /// Who signed each trusted commit after the root.
    pub signers: Vec<(Oid, String)>,
}

impl SpecAt {
    /// The 40-hex commit for proposals' `spec_ref`; a directory spec has none
    /// and uses all zeros.
    pub fn git_commit(&self) -> String {
        self.commit
            .map(|c| c.to_string())
            .unwrap_or_else(|| "0".repeat(40))
    }
}

/// Loads and validates the spec in `dir`.
pub fn load_spec(dir: &Path) -> Result<Spec> {
    let loaded = opssc_schema::load_dir(dir);
    match loaded.spec {
        Some(spec) => Ok(spec),
        None => bail!(
            "the spec in {} is invalid (run `opssc validate {}` for every error with its location)",
            dir.display(),
            dir.display()
        ),
    }
}

/// Resolves the spec: `override_dir` if given, else the configured source.
pub fn resolve(
    config: &AgentConfig,
    state_dir: &Path,
    override_dir: Option<&Path>,
) -> Result<SpecAt> {
    let plain = |dir: &Path| -> Result<SpecAt> {
        Ok(SpecAt {
            spec: load_spec(dir)?,
            commit: None,
            tip: None,
            refused: None,
            signers: Vec::new(),
        })
    };
    if let Some(dir) = override_dir {
        return plain(dir);
    }
    match &config.spec {
        None => bail!(
            "the agent configuration of {} names no spec source: add `spec: {{git: {{url, branch}}}}` or pass --spec DIR",
            config.msp_id
        ),
        Some(SpecSource::Dir { path }) => plain(path),
        Some(SpecSource::Git {
            url,
            branch,
            path,
            trusted_root,
            ..
        }) => {
            let source = GitSource::open_for(&state_dir.join("spec-mirror"), url, config)?;
            let tip = source.fetch(branch)?;
            let root = trusted_root
                .as_deref()
                .map(|r| {
                    Oid::from_str(r)
                        .with_context(|| format!("spec.git.trustedRoot {r:?} is not a commit hash"))
                })
                .transpose()?;
            let v = source.verify(tip, root, path.as_deref())?;
            let dest: PathBuf = state_dir.join("spec-checkout").join(v.trusted.to_string());
            if !dest.exists() {
                let tmp = state_dir
                    .join("spec-checkout")
                    .join(format!("{}.tmp", v.trusted));
                let _ = std::fs::remove_dir_all(&tmp);
                source.checkout(v.trusted, path.as_deref(), &tmp)?;
                std::fs::rename(&tmp, &dest)
                    .with_context(|| format!("cannot move the checkout to {}", dest.display()))?;
            }
            Ok(SpecAt {
                spec: load_spec(&dest)?,
                commit: Some(v.trusted),
                tip: (tip != v.trusted).then_some(tip),
                refused: v.refused,
                signers: v.signers,
            })
        }
    }
}
