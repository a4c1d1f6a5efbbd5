//! The per-organization agent: one reconcile pass ([`pass::run_pass`]) and
//! the daemon that runs it whenever something may have changed
//! ([`daemon::run`]).
//!
//! - [`context`]: the org's identity and connections to its own peers.
//! - [`spec_source`]: the spec the agent acts on (newest trusted commit).
//! - [`packages`]: the byte-reproducible chaincode packages it builds.
//! - [`observe_live`]: the [`crate::observe::Observed`] snapshot read live.
//! - [`read_cache`]: ledger reads kept while their channel does not move.
//! - [`ops`]: typed calls to the OpsSC chaincode.
//! - [`pass`]: observe → plan → steps → execute → report, one attempt per step.
//! - [`execute`]: the executor, one Fabric call per planned step.
//! - [`error`]: typed errors and the retry policy that follows from them.
//! - [`daemon`]: the level-triggered loop, event streams, health and metrics.
//! - [`notify`]: webhooks for what needs this organization's attention.
//! - [`status`]: proposals, votes, tasks and conditions for `opssc status`.
//! - [`founding`]: channels and the OpsSC from the spec (`opssc found`).
//! - [`adopt`]: the same on a network built without opssc (`opssc found --adopt`).
//!
//! Key decision: the pass is never told why it runs. Events (a new trusted
//! commit, an OpsSC chaincode event, a new block on a chaincode's channel)
//! only wake the loop; the pass works from what it observes, so a restart or
//! a missed event costs one re-observation.

pub mod adopt;
pub mod bootstrap;
pub mod channel_changes;
pub mod context;
pub mod daemon;
pub mod error;
pub mod execute;
pub mod founding;
pub mod notify;
pub mod observe_live;
pub mod ops;
pub mod packages;
pub mod pass;
pub mod read_cache;
pub mod spec_source;
pub mod status;
pub mod webhook;
