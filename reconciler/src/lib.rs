//! The `opssc` library: the parts of the reconciler that do no I/O, so that
//! tests and benchmarks use them without the command line.
//!
//! - [`observe`]: the [`observe::Observed`] snapshot of what one organization
//!   sees (chain and own nodes), its JSON form, and snapshots built from a spec.
//! - [`plan`]: the pure planner `plan(spec, observed, me) -> Plan`, the
//!   approvals Fabric requires, risk flags, and the text / Markdown / JSON output.
//!
//! - [`agent`]: the per-organization agent (live observation, the reconcile
//!   pass, the daemon, status).
//! - [`source`]: the spec repository (git2), commit-signature trust, ownership
//!   and forward-only history.
//! - [`audit`]: `opssc audit`'s join of spec commits, proposals, votes and
//!   blocks into one record per change, and its text / Markdown / JSON output.
//! - [`consent`]: whether this organization consented to a shared change.
//! - [`chaincode_source`]: chaincode source packages built from pinned git commits.
//! - [`import`]: the spec a running network implies (`opssc import`).
//! - [`dev`]: founding a devnet's consortium (`opssc dev up`, the tests).
//!
//! Key decision: the planner is a pure function of its inputs; reading the
//! live network (the preparation step) lives elsewhere and only fills an
//! `Observed`.

pub mod agent;
pub mod audit;
pub mod chaincode_source;
pub mod config_update;
pub mod consent;
pub mod dev;
pub mod git_transport;
pub mod import;
pub mod observe;
pub mod plan;
pub mod source;
#[cfg(test)]
mod test_fixtures;
