//! `opssc plan`: the changes that take the observed network to the spec, who
//! must approve each, and the risks. Exit codes: 0 no changes, 2 changes,
//! 1 error (invalid spec, unreadable state).

use std::path::Path;

use opssc::observe;
use opssc::plan::{self, render};

use crate::cli::PlanFormat;

pub fn run(
    spec_dir: &Path,
    state: Option<&Path>,
    org: Option<&str>,
    format: PlanFormat,
) -> anyhow::Result<i32> {
    let Some(state) = state else {
        eprintln!(
            "error: observing a live network is not available yet\n  \
             hint: pass a saved state snapshot with --state FILE \
             (`opssc state empty` or `opssc state from-spec` write one)"
        );
        return Ok(2);
    };
    if !spec_dir.exists() {
        eprintln!(
            "error: spec directory {} does not exist\n  hint: pass the directory that holds the spec's *.yaml files with --spec DIR",
            spec_dir.display()
        );
        return Ok(1);
    }
    let loaded = opssc_schema::load_dir(spec_dir);
    let Some(spec) = loaded.spec else {
        eprint!("{}", loaded.report.render());
        eprintln!(
            "error: the spec in {} is invalid; nothing was planned\n  hint: fix the errors above (`opssc validate {}` shows them again)",
            spec_dir.display(),
            spec_dir.display()
        );
        return Ok(1);
    };
    let observed = match observe::load_file(state) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            return Ok(1);
        }
    };
    let me = org.unwrap_or(&observed.observed_by).to_string();
    if me != observed.observed_by {
        eprintln!(
            "error: the state in {} was observed by {}, not {me}\n  hint: plan with --org {} or pass a state observed by {me}",
            state.display(),
            observed.observed_by,
            observed.observed_by
        );
        return Ok(1);
    }
    let plan = plan::plan(&spec, &observed, &me);
    let out = match format {
        PlanFormat::Text => render::text(&plan),
        PlanFormat::Json => render::json(&plan),
        PlanFormat::Markdown => render::markdown(&plan),
    };
    print!("{out}");
    Ok(if plan.is_empty() { 0 } else { 2 })
}
