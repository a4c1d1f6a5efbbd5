//! Meta-governance: the GovernanceChange the spec's `Governance` document
//! calls for, against the governance the OpsSC registry holds.
//!
//! [`governance_change`] is a pure function of the governance the spec
//! gives (`agent::founding::governance`, the same conversion founding
//! uses) and the registered one; it returns the complete new settings (the
//! contract's `GovernancePayload` replaces them whole) and one line per
//! difference, for `plan` and the proposal's summary.
//!
//! The planner turns a change into a `GovernanceChanged` shared change on
//! the ops channel (one `GovernanceChange` proposal, every ops member's
//! approval), planned only when the registry's governance was observed
//! (`Observed::governance`, from the contract's `registry` query). The
//! steps file it by turn order, vote and tally it; there is no executor:
//! the contract applies a meta proposal in the tally that decides it.
//!
//! Key decision: what the spec cannot state (the executor timeout, the
//! longest deadline a proposal may ask for) keeps its registered value, so
//! a spec that does not mention them never files a change of them; the
//! longest deadline is only raised as far as the spec's voting period
//! needs (the contract refuses a default longer than the longest).

use opssc_chaincode::model::{Governance, QuorumLevel};

/// A governance change: the settings to record and what differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernanceChange {
    pub after: Governance,
    /// `name: before -> after`, in a fixed order.
    pub differences: Vec<String>,
}

fn level(l: QuorumLevel) -> &'static str {
    match l {
        QuorumLevel::Policy => "policy",
        QuorumLevel::Majority => "majority",
        QuorumLevel::TwoThirds => "twoThirds",
        QuorumLevel::All => "all",
    }
}

/// The change that makes `registered` what the spec gives (`from_spec`),
/// `None` when nothing the spec states differs.
pub fn governance_change(
    from_spec: &Governance,
    registered: &Governance,
) -> Option<GovernanceChange> {
    let after = Governance {
        voting_period_secs: from_spec.voting_period_secs,
        max_voting_period_secs: registered
            .max_voting_period_secs
            .max(from_spec.voting_period_secs),
        executor_timeout_secs: registered.executor_timeout_secs,
        quorum: from_spec.quorum,
    };
    let mut differences = Vec::new();
    let mut secs = |name: &str, b: i64, a: i64| {
        if b != a {
            differences.push(format!("{name}: {b} s -> {a} s"));
        }
    };
    secs(
        "voting period",
        registered.voting_period_secs,
        after.voting_period_secs,
    );
    secs(
        "longest voting period",
        registered.max_voting_period_secs,
        after.max_voting_period_secs,
    );
    let (b, a) = (&registered.quorum, &after.quorum);
    for (name, before, now) in [
        ("chaincode quorum", b.chaincode, a.chaincode),
        ("channelCreate quorum", b.channel_create, a.channel_create),
        ("channelUpdate quorum", b.channel_update, a.channel_update),
        ("orgAdd quorum", b.org_add, a.org_add),
        ("orgRemove quorum", b.org_remove, a.org_remove),
    ] {
        if before != now {
            differences.push(format!("{name}: {} -> {}", level(before), level(now)));
        }
    }
    (!differences.is_empty()).then_some(GovernanceChange { after, differences })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_governance() -> Governance {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
        let spec = opssc_schema::load_dir(&dir)
            .spec
            .expect("network-spec is valid");
        crate::agent::founding::governance(&spec)
    }

    #[test]
    fn the_founded_governance_needs_no_change() {
        let g = reference_governance();
        assert_eq!(governance_change(&g, &g), None);
        // Nor does what the spec cannot state.
        let mut registered = g;
        registered.executor_timeout_secs = 10;
        registered.max_voting_period_secs += 3600;
        assert_eq!(governance_change(&g, &registered), None);
    }

    #[test]
    fn raising_the_org_add_quorum_is_one_difference() {
        let registered = reference_governance();
        let mut from_spec = registered;
        from_spec.quorum.org_add = QuorumLevel::All;
        let change = governance_change(&from_spec, &registered).expect("a change");
        assert_eq!(
            change.differences,
            vec![format!(
                "orgAdd quorum: {} -> all",
                level(registered.quorum.org_add)
            )]
        );
        assert_eq!(change.after.quorum.org_add, QuorumLevel::All);
        assert_eq!(
            change.after.executor_timeout_secs,
            registered.executor_timeout_secs
        );
    }

    #[test]
    fn a_longer_voting_period_raises_the_longest_one_with_it() {
        let registered = Governance {
            executor_timeout_secs: 10,
            ..Governance::default()
        };
        let from_spec = Governance {
            voting_period_secs: registered.max_voting_period_secs + 60,
            ..Governance::default()
        };
        let change = governance_change(&from_spec, &registered).expect("a change");
        assert_eq!(
            change.after.max_voting_period_secs,
            from_spec.voting_period_secs
        );
        assert_eq!(change.after.executor_timeout_secs, 10);
        assert_eq!(change.differences.len(), 2, "{:?}", change.differences);
    }
}
