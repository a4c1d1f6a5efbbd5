//! The opssc network-spec model: types, loader, validation and JSON Schema.
//!
//! A spec is a directory of YAML documents (`Consortium`, `Organization`,
//! `Channel`, `Chaincode`, `Governance`). [`load_dir`] reads every file, reports
//! every problem at once in a [`Report`] (each with `file:line:column`, a message
//! and a hint), and returns a validated [`Spec`] only when there is no error:
//! "parse, don't validate" — everything downstream takes a `Spec` and never
//! re-checks it. The agent's own local configuration lives in [`local`].

pub mod certs;
pub mod diagnostic;
pub mod fabric_version;
pub mod load;
pub mod local;
pub mod model;
pub mod names;
pub mod policy;
pub mod schema_json;
pub mod spec;
pub mod suggest;
pub mod validate;

use std::path::Path;

pub use diagnostic::{Diagnostic, Position, Report, Severity};
pub use fabric_version::FabricVersion;
pub use spec::*;

/// The outcome of loading a spec: the problems found and, when none is an
/// error, the validated spec.
#[derive(Debug)]
pub struct Loaded {
    pub report: Report,
    pub spec: Option<Spec>,
}

/// Loads and validates the spec in `dir` (a directory, or a single YAML file).
pub fn load_dir(dir: &Path) -> Loaded {
    let mut report = Report::default();
    let raw = load::read_dir(dir, &mut report);
    finish(dir, raw, report)
}

/// Loads and validates spec files given as (path, text) pairs, without touching
/// the file system except for `file:` certificate references.
pub fn load_texts(root: &Path, files: Vec<(std::path::PathBuf, String)>) -> Loaded {
    let mut report = Report::default();
    let sources = files
        .into_iter()
        .map(|(path, text)| load::SourceFile {
            display: path.clone(),
            path,
            text,
        })
        .collect();
    let raw = load::parse_sources(sources, &mut report);
    finish(root, raw, report)
}

fn finish(dir: &Path, raw: load::Loaded, mut report: Report) -> Loaded {
    let spec = validate::validate(dir, &raw, &mut report);
    let spec = if report.has_errors() { None } else { spec };
    raw.attach_source_lines(&mut report);
    report.sort();
    Loaded { report, spec }
}
