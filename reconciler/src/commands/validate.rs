//! `opssc validate`: load a spec and report every problem.

use std::path::Path;

use crate::cli::ReportFormat;

pub fn run(dir: &Path, format: ReportFormat) -> anyhow::Result<i32> {
    if !dir.exists() {
        anyhow::bail!(
            "{} does not exist (pass the directory that holds the spec's *.yaml files)",
            dir.display()
        );
    }
    let loaded = opssc_schema::load_dir(dir);
    let report = &loaded.report;
    match format {
        ReportFormat::Text => {
            if !report.diagnostics.is_empty() {
                eprint!("{}", report.render());
            }
            if let Some(spec) = &loaded.spec {
                println!(
                    "{} is valid: {} organizations, {} channels, {} chaincodes",
                    dir.display(),
                    spec.organizations.len(),
                    spec.channels.len(),
                    spec.chaincodes.len()
                );
            }
        }
        ReportFormat::Json => println!("{}", report.to_json()),
        ReportFormat::Github => print!("{}", report.github_annotations()),
    }
    Ok(if loaded.spec.is_some() { 0 } else { 1 })
}
