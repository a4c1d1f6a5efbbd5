//! The Operations Smart Contract (OpsSC).
//!
//! (API documentation follows.)

pub mod api;
pub mod canon;
pub mod contract;
pub mod error;
pub mod keys;
pub mod model;
pub mod sig;
pub mod state;
pub mod validate;

pub use api::compute_proposal_id;
pub use contract::{Event, INVOKE_FUNCTIONS, Outcome, QUERY_FUNCTIONS, TxContext, invoke};
pub use error::ContractError;
pub use state::{MemState, StateRead, Write};
