//! The agent's errors, typed, and what a pass does next because of them.
//!
//! Every failed step becomes an [`AgentError`] that keeps
//! [`opssc_fabric::Fault`]'s classification and, when the OpsSC contract
//! refused the call, the contract's own [`ContractError`] (parsed from the
//! `class: message` text the contract returns through Fabric). What happens
//! next ([`NextAction`]) follows from those types, never from matching words
//! in a message: a transient fault is retried soon, a contract conflict
//! (the state moved on: a second vote, a decided proposal) waits for a fresh
//! observation, and a refusal that the same call cannot overcome (a bad
//! argument, a forbidden call, a bug) stalls with its reason.
//!
//! The library modules the steps call (the connection, the observation,
//! the channel-change inputs, the spec source, config updates, founding,
//! packages) have their own thiserror enums. Each keeps a Fabric
//! failure as the [`opssc_fabric::Error`] itself in its source chain, never
//! as text, so the bridge from those errors finds the fault by type
//! whichever enum carried it; an error with no Fabric cause in its chain is
//! classified as transient, as before the enums existed.

use opssc_chaincode::error::ContractError;
use opssc_fabric::Fault;

pub type Result<T, E = AgentError> = std::result::Result<T, E>;

/// A failed call to a peer or an orderer: what it was for, and Fabric's
/// error as the source. Boxed in the enums that carry it (Fabric's error is
/// large); the box is transparent, so the chain still holds the
/// [`opssc_fabric::Error`] itself and its fault is found by type.
#[derive(Debug, thiserror::Error)]
#[error("{action}")]
pub struct FabricCall {
    pub action: String,
    #[source]
    pub source: opssc_fabric::Error,
}

impl FabricCall {
    pub fn boxed(action: impl Into<String>, source: opssc_fabric::Error) -> Box<FabricCall> {
        Box::new(FabricCall {
            action: action.into(),
            source,
        })
    }

    /// For `map_err`: the failed call of `action`, as the `variant` of an
    /// error enum that carries a `Box<FabricCall>`.
    pub fn wrap<E>(
        variant: fn(Box<FabricCall>) -> E,
        action: impl Into<String>,
    ) -> impl FnOnce(opssc_fabric::Error) -> E {
        let action = action.into();
        move |source| variant(FabricCall::boxed(action, source))
    }
}

/// A failed step.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A call to Fabric (a peer, the orderer, the OpsSC chaincode) failed.
    #[error("{message}")]
    Call {
        /// The whole error chain, for people.
        message: String,
        fault: Fault,
        /// The OpsSC contract's refusal, when it refused the call.
        refusal: Option<ContractError>,
    },
    /// The step does not fit what this agent has (a package not built, a
    /// chaincode not in the spec): a bug of the planner or the inputs.
    #[error("{0}")]
    Plan(String),
    /// A node answered something this version does not understand (the
    /// OpsSC chaincode of another version?).
    #[error("{0}")]
    Answer(String),
}

/// What the pass does after a failed step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextAction {
    /// A network hiccup or a race that a new attempt can win: retry soon.
    RetrySoon,
    /// The chain moved on under the step: observe again, then plan again.
    Observe,
    /// The same call cannot succeed: a person must act.
    Stall(String),
}

impl AgentError {
    /// A failed Fabric call, with what was being done.
    pub fn fabric(action: impl Into<String>, e: opssc_fabric::Error) -> AgentError {
        let message = format!("{}: {}", action.into(), chain(&e));
        AgentError::Call {
            refusal: contract_refusal(&message),
            fault: e.fault(),
            message,
        }
    }

    pub fn fault(&self) -> Fault {
        match self {
            AgentError::Call { fault, .. } => *fault,
            AgentError::Plan(_) | AgentError::Answer(_) => Fault::Bug,
        }
    }

    pub fn refusal(&self) -> Option<&ContractError> {
        match self {
            AgentError::Call { refusal, .. } => refusal.as_ref(),
            AgentError::Plan(_) | AgentError::Answer(_) => None,
        }
    }

    /// The retry policy.
    pub fn next(&self) -> NextAction {
        match self.refusal() {
            Some(ContractError::Conflict { .. } | ContractError::NotFound { .. }) => {
                return NextAction::Observe;
            }
            Some(ContractError::State(_)) => return NextAction::RetrySoon,
            Some(r) => return NextAction::Stall(format!("the OpsSC refused: {r}")),
            None => {}
        }
        // A transaction another one's write invalidated (a commit beside
        // the tally that met a late approval): the chain moved on under it,
        // so observe again at once instead of waiting out a retry. Only a
        // transient fault (the peers' validation code), never a message a
        // node or a proposal's text could carry otherwise.
        if let AgentError::Call {
            message,
            fault: Fault::Transient,
            ..
        } = self
            && ["MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT"]
                .iter()
                .any(|code| message.contains(code))
        {
            return NextAction::Observe;
        }
        match self.fault() {
            Fault::Transient | Fault::Rejected => NextAction::RetrySoon,
            Fault::Input | Fault::Bug => NextAction::Stall(self.to_string()),
        }
    }
}

/// Steps that call library code (the observation, the config updates,
/// founding): the fault of the first Fabric error in the chain, and the
/// contract's refusal in its text.
impl AgentError {
    /// A failed step from any typed library error: the first Fabric error
    /// (or typed agent error) in its source chain gives the fault class.
    pub fn from_error(e: &(dyn std::error::Error + 'static)) -> AgentError {
        let mut fault = Fault::Transient;
        let mut cause = Some(e);
        while let Some(c) = cause {
            if let Some(a) = c.downcast_ref::<AgentError>() {
                fault = a.fault();
                break;
            }
            if let Some(f) = c.downcast_ref::<opssc_fabric::Error>() {
                fault = f.fault();
                break;
            }
            cause = c.source();
        }
        let message = chain(e);
        AgentError::Call {
            refusal: contract_refusal(&message),
            fault,
            message,
        }
    }
}

/// The observation's OpsSC query failed: its [`AgentError`] as it is (the
/// variant shows it transparently, so the chain alone would lose its class);
/// any other failure by its chain.
impl From<super::observe_live::ObserveError> for AgentError {
    fn from(e: super::observe_live::ObserveError) -> AgentError {
        match e {
            super::observe_live::ObserveError::Ops(a) => a,
            other => AgentError::from_error(&other),
        }
    }
}

impl From<super::founding::FoundingError> for AgentError {
    fn from(e: super::founding::FoundingError) -> AgentError {
        AgentError::from_error(&e)
    }
}

/// An error and its sources, `outer: inner: innermost` — the one formatter
/// of error chains in the agent.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        // Errors that repeat their source's text in their own add nothing.
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The contract's refusal in an error text: the contract answers
/// `<class>: <message>` (see `opssc_chaincode::shell`), which Fabric wraps
/// in its own text. Parsed back into the [`ContractError`] variant of that
/// class; the fields the text does not separate stay in `reason`.
pub fn contract_refusal(text: &str) -> Option<ContractError> {
    const CLASSES: [&str; 7] = [
        "unknown_function",
        "bad_argument",
        "forbidden",
        "not_found",
        "conflict",
        "state",
        "corrupt",
    ];
    let (class, rest) = CLASSES.iter().find_map(|class| {
        let needle = format!("{class}: ");
        let at = text.match_indices(&needle).find(|(i, _)| {
            // A class word starts the contract's message: at the start or
            // after a separator, not inside another word.
            *i == 0 || text[..*i].ends_with([' ', ',', ':', '('])
        })?;
        Some((*class, &text[at.0 + needle.len()..]))
    })?;
    let rest = rest.lines().next().unwrap_or(rest).trim().to_string();
    Some(match class {
        "unknown_function" => ContractError::UnknownFunction {
            name: between(&rest, "`", "`").unwrap_or_default(),
            known: rest
                .split_once("known functions: ")
                .map(|(_, k)| k.to_string())
                .unwrap_or_default(),
        },
        "bad_argument" => ContractError::BadArgument {
            field: between(&rest, "`", "`").unwrap_or_default(),
            reason: rest
                .split_once("`: ")
                .map_or(rest.clone(), |(_, r)| r.to_string()),
        },
        "forbidden" => {
            let (head, reason) = rest.split_once(": ").unwrap_or((&rest, ""));
            let (msp, action) = head.split_once(" may not ").unwrap_or(("", head));
            ContractError::Forbidden {
                msp: msp.to_string(),
                action: action.to_string(),
                reason: reason.to_string(),
            }
        }
        "not_found" => {
            let (what, hint) = rest.split_once(" not found").unwrap_or((&rest, ""));
            ContractError::NotFound {
                what: what.to_string(),
                hint: hint.trim_start_matches("; ").to_string(),
            }
        }
        "conflict" => {
            let (head, reason) = rest.split_once(": ").unwrap_or((&rest, ""));
            let (what, state) = head.rsplit_once(" is ").unwrap_or((head, ""));
            ContractError::Conflict {
                what: what.to_string(),
                state: state.to_string(),
                reason: reason.to_string(),
            }
        }
        "state" => ContractError::State(
            rest.trim_start_matches("reading the world state failed: ")
                .to_string(),
        ),
        _ => ContractError::Corrupt {
            key: between(&rest, "`", "`").unwrap_or_default(),
            reason: rest,
        },
    })
}

fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let (_, rest) = text.split_once(open)?;
    let (inner, _) = rest.split_once(close)?;
    Some(inner.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contract_refusal_parses_into_its_class() {
        let text = "OpsSC vote on channel ops (chaincode opssc): endorse on peer0 failed with gRPC Unknown: chaincode response 500, conflict: proposal abc is approved: votes are closed";
        match contract_refusal(text) {
            Some(ContractError::Conflict {
                what,
                state,
                reason,
            }) => {
                assert_eq!(what, "proposal abc");
                assert_eq!(state, "approved");
                assert_eq!(reason, "votes are closed");
            }
            other => panic!("{other:?}"),
        }
        match contract_refusal(
            "chaincode response 500, forbidden: Org3MSP may not vote: not in the electorate",
        ) {
            Some(ContractError::Forbidden { msp, action, .. }) => {
                assert_eq!((msp.as_str(), action.as_str()), ("Org3MSP", "vote"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            contract_refusal("x: bad_argument: invalid argument `payload`: too big"),
            Some(ContractError::BadArgument { field, .. }) if field == "payload"
        ));
        // A word that merely ends in a class name is not a refusal.
        assert!(contract_refusal("the nonconflict: fine").is_none());
        assert!(contract_refusal("connection refused").is_none());
    }

    #[test]
    fn the_next_action_follows_from_the_types() {
        let call = |fault, refusal| AgentError::Call {
            message: "m".into(),
            fault,
            refusal,
        };
        assert_eq!(call(Fault::Transient, None).next(), NextAction::RetrySoon);
        let invalidated = AgentError::Call {
            message: "commit trade/kv sequence 2 beside the tally: transaction e6af on channel trade was invalidated in block 9: MVCC_READ_CONFLICT".into(),
            fault: Fault::Transient,
            refusal: None,
        };
        assert_eq!(invalidated.next(), NextAction::Observe);
        let echoed = AgentError::Call {
            message: "refused: reason MVCC_READ_CONFLICT".into(),
            fault: Fault::Rejected,
            refusal: None,
        };
        assert_eq!(echoed.next(), NextAction::RetrySoon);
        assert_eq!(call(Fault::Rejected, None).next(), NextAction::RetrySoon);
        assert!(matches!(
            call(Fault::Input, None).next(),
            NextAction::Stall(_)
        ));
        let conflict = contract_refusal("conflict: proposal p is approved: closed");
        assert_eq!(call(Fault::Rejected, conflict).next(), NextAction::Observe);
        let forbidden = contract_refusal("forbidden: A may not vote: no");
        assert!(matches!(
            call(Fault::Rejected, forbidden).next(),
            NextAction::Stall(r) if r.contains("A may not vote")
        ));
        assert!(matches!(
            AgentError::Plan("x".into()).next(),
            NextAction::Stall(_)
        ));
    }

    #[test]
    fn a_library_error_keeps_the_fabric_fault() {
        use super::super::observe_live::ObserveError;
        let fabric = opssc_fabric::Error::Invalid {
            what: "block".into(),
            problem: "empty".into(),
        };
        let e = AgentError::from_error(&ObserveError::Fabric(FabricCall::boxed(
            "read the latest config block of channel trade",
            fabric,
        )));
        assert_eq!(e.fault(), Fault::Input);
        assert!(
            e.to_string()
                .starts_with("read the latest config block of channel trade: invalid block"),
            "{e}"
        );
        // An OpsSC refusal inside a library error keeps its class and refusal.
        let typed = AgentError::Call {
            message: "forbidden: A may not vote: no".into(),
            fault: Fault::Rejected,
            refusal: contract_refusal("forbidden: A may not vote: no"),
        };
        let back = AgentError::from(ObserveError::Ops(typed));
        assert_eq!(back.fault(), Fault::Rejected);
        assert!(matches!(
            back.refusal(),
            Some(ContractError::Forbidden { .. })
        ));
    }
}
