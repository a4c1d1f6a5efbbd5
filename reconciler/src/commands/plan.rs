//! `opssc plan`: the changes that take the observed network to the spec, who
//! must approve each, and the risks. The network is observed live
//! (`--config opssc.yaml`, as that organization) or read from a snapshot
//! (`--state FILE`). Exit codes: 0 no changes, 2 changes, 1 error (invalid
//! spec, unreadable state, unreachable network).

use std::path::Path;

use opssc::observe;
use opssc::plan::{self, render};

use crate::cli::PlanFormat;

pub fn run(
    spec_dir: &Path,
    state: Option<&Path>,
    config: Option<&Path>,
    org: Option<&str>,
    format: PlanFormat,
) -> anyhow::Result<i32> {
    if state.is_none() && config.is_none() {
        eprintln!(
            "error: nothing to plan against\n  \
             hint: observe the live network with --config opssc.yaml, or pass a \
             saved state snapshot with --state FILE (`opssc state save` writes one)"
        );
        return Ok(1);
    }
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
    let (observed, source) = match (state, config) {
        (Some(state), _) => match observe::load_file(state) {
            Ok(o) => (o, format!("the state in {}", state.display())),
            Err(e) => {
                eprintln!("error: {e}");
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    eprintln!("  caused by: {s}");
                    source = s.source();
                }
                return Ok(1);
            }
        },
        (None, Some(config)) => match super::live::observe(config, Some(spec.clone())) {
            Ok((_, o)) => (o, format!("the network seen through {}", config.display())),
            Err(e) => {
                eprintln!(
                    "error: cannot observe the network with {}: {e:#}\n  hint: check that the peers and orderers in it are up and reachable, or plan against a saved snapshot with --state FILE",
                    config.display()
                );
                return Ok(1);
            }
        },
        (None, None) => unreachable!("checked above"),
    };
    let me = org.unwrap_or(&observed.observed_by).to_string();
    if me != observed.observed_by {
        eprintln!(
            "error: {source} was observed by {}, not {me}\n  hint: plan with --org {} or observe as {me}",
            observed.observed_by, observed.observed_by
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
    // Live, as an organization: whether it consented to each shared change,
    // and whose consent is missing (what its agent would wait for).
    if let (Some(config), PlanFormat::Text) = (config, format)
        && state.is_none()
        && !plan.proposals.is_empty()
    {
        match consent_lines(config, &spec, &observed, &plan) {
            Ok(lines) => {
                println!("\nconsent of {me}");
                for l in lines {
                    println!("  {l}");
                }
            }
            Err(e) => eprintln!(
                "warning: cannot tell {me}'s consent: {e:#}\n  hint: check the spec source of {}",
                config.display()
            ),
        }
    }
    Ok(if plan.is_empty() { 0 } else { 2 })
}

/// One line per planned proposal: consented (and how), or what is missing.
/// The consented spec is the agent configuration's spec source's (its
/// admins' signed commits and approvals); the planned spec is the one given.
fn consent_lines(
    config: &Path,
    spec: &opssc_schema::Spec,
    observed: &observe::Observed,
    plan: &plan::Plan,
) -> anyhow::Result<Vec<String>> {
    use opssc::consent::{ConsentedPlan, consent_to_plan};
    let config = super::agent::load_config(config)?;
    let me = &config.msp_id;
    let state_dir = config
        .state_dir
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(".opssc-agent"));
    let at = opssc::agent::spec_source::resolve(&config, &state_dir.join("plan"), None)?;
    let consented = match &at.consented {
        Some(c) => ConsentedPlan::new(
            &plan::plan(&c.spec, observed, me),
            &c.spec,
            spec,
            Some(c.commit.to_string()),
            c.how.clone(),
        ),
        None => ConsentedPlan::new(
            &plan::plan(&at.spec, observed, me),
            &at.spec,
            spec,
            None,
            "the spec directory the agent is given",
        ),
    };
    // The commit to approve is the one that brings this spec (a pull
    // request's head): not known here, so the hint says COMMIT.
    let consent = consent_to_plan(plan, observed, &consented, &config.auto_approve, me, None);
    Ok(plan
        .proposals
        .iter()
        .map(|p| {
            let what = format!("{} {}", p.kind, plan::short_id(p.id()));
            match consent.missing.get(&p.intent_id) {
                Some(missing) => format!("{what}: missing — {missing}"),
                None => format!("{what}: consented"),
            }
        })
        .collect())
}
