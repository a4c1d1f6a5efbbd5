//! Plans for people: terraform-like text (`+ ~ -`, before → after, line
//! diffs of policies and collections, `!` for risks) and Markdown for a pull
//! request comment (a table of changes, approvers and proposals; the votes so
//! far on proposals already on the chain; risks; diffs in collapsible
//! blocks). JSON is the plan's serde form.
//!
//! Output depends only on the plan, so it can be compared with golden files.

use std::fmt::Write as _;

use opssc_schema::policy::{Policy, SignaturePolicy, parse_policy};
use similar::{ChangeTag, TextDiff};

use opssc_chaincode::model::ProposalState;

use super::{
    ChaincodeDefinition, Change, LocalAction, LocalChange, Need, OnChain, Plan, PlannedProposal,
    SharedChange, short_id,
};
use crate::observe::{CollectionDef, ObservedBatch};

/// The plan as pretty JSON, newline-terminated.
pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).expect("plans serialize");
    s.push('\n');
    s
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn summary(plan: &Plan) -> String {
    if plan.is_empty() {
        return "No changes: the network matches the spec.".into();
    }
    let risks = plan.risks().count();
    format!(
        "Plan: {} in {}, {}, {}.",
        plural(plan.shared.len(), "shared change", "shared changes"),
        plural(plan.proposals.len(), "proposal", "proposals"),
        plural(plan.local.len(), "local change", "local changes"),
        plural(risks, "risk", "risks"),
    )
}

/// `+`, `~` or `-`, and a one-line description.
pub fn title(change: &Change) -> (char, String) {
    match change {
        Change::ChannelCreate { channel, .. } => ('+', format!("create channel {channel}")),
        Change::OrgAddedToChannel { channel, org, .. } => {
            ('+', format!("{org} joins channel {channel}"))
        }
        Change::OrgRemovedFromChannel { channel, org } => {
            ('-', format!("{org} leaves channel {channel}"))
        }
        Change::PolicyChanged {
            name,
            before,
            after,
            ..
        } => match (before, after) {
            (None, Some(a)) => ('+', format!("policy {name}: {a}")),
            (Some(b), None) => ('-', format!("policy {name} (was {b})")),
            (Some(b), Some(a)) if one_liner(b) && one_liner(a) => {
                ('~', format!("policy {name}: {b} → {a}"))
            }
            _ => ('~', format!("policy {name}")),
        },
        Change::AclChanged {
            resource,
            before,
            after,
            ..
        } => {
            let show = |v: &Option<String>| match v {
                Some(p) => p.clone(),
                None => match super::acl::default_acl(resource) {
                    Some(d) => format!("{d} (default)"),
                    None => "(not set)".into(),
                },
            };
            (
                '~',
                format!("ACL {resource}: {} → {}", show(before), show(after)),
            )
        }
        Change::CapabilityChanged {
            group,
            before,
            after,
            ..
        } => (
            '~',
            format!("{} capability: {before} → {after}", group.as_str()),
        ),
        Change::BatchChanged { before, after, .. } => {
            ('~', format!("batch: {}", batch_diff(before, after)))
        }
        Change::ConsentersChanged {
            before,
            after,
            bft_fault_tolerance,
            ..
        } => (
            '~',
            format!(
                "consenters: {} → {}{}",
                plural(before.len(), "node", "nodes"),
                plural(after.len(), "node", "nodes"),
                bft_fault_tolerance
                    .map(|(b, a)| format!(" (BFT tolerates f = {b} → {a})"))
                    .unwrap_or_default()
            ),
        ),
        Change::AnchorPeersChanged {
            org, before, after, ..
        } => (
            '~',
            format!(
                "anchor peers of {org}: {} → {}",
                list_or_none(before),
                list_or_none(after)
            ),
        ),
        Change::ChaincodeDeploy { name, after, .. } => (
            '+',
            format!(
                "deploy chaincode {name} {} (sequence {})",
                after.version, after.sequence
            ),
        ),
        Change::ChaincodeUpgrade {
            name,
            before,
            after,
            ..
        } => (
            '~',
            format!(
                "upgrade chaincode {name} {} → {}, sequence {} → {}",
                before.version, after.version, before.sequence, after.sequence
            ),
        ),
        Change::ChaincodeDefinitionChanged {
            name,
            before,
            after,
            ..
        } => (
            '~',
            format!(
                "chaincode {name} {} definition, sequence {} → {}",
                after.version, before.sequence, after.sequence
            ),
        ),
        Change::GovernanceChanged { .. } => ('~', "OpsSC governance".to_string()),
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

fn one_liner(policy: &str) -> bool {
    !matches!(parse_policy(policy, true), Ok(Policy::Signature(_)))
}

fn duration(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn bytes(b: u32) -> String {
    const MIB: u32 = 1024 * 1024;
    const KIB: u32 = 1024;
    if b.is_multiple_of(MIB) {
        format!("{} MiB", b / MIB)
    } else if b.is_multiple_of(KIB) {
        format!("{} KiB", b / KIB)
    } else {
        format!("{b} bytes")
    }
}

fn batch_diff(before: &ObservedBatch, after: &ObservedBatch) -> String {
    let mut parts = Vec::new();
    if before.timeout_ms != after.timeout_ms {
        parts.push(format!(
            "timeout {} → {}",
            duration(before.timeout_ms),
            duration(after.timeout_ms)
        ));
    }
    if before.max_message_count != after.max_message_count {
        parts.push(format!(
            "max message count {} → {}",
            before.max_message_count, after.max_message_count
        ));
    }
    if before.absolute_max_bytes != after.absolute_max_bytes {
        parts.push(format!(
            "absolute max bytes {} → {}",
            bytes(before.absolute_max_bytes),
            bytes(after.absolute_max_bytes)
        ));
    }
    if before.preferred_max_bytes != after.preferred_max_bytes {
        parts.push(format!(
            "preferred max bytes {} → {}",
            bytes(before.preferred_max_bytes),
            bytes(after.preferred_max_bytes)
        ));
    }
    parts.join(", ")
}

fn batch_text(b: &ObservedBatch) -> String {
    format!(
        "timeout {}, max message count {}, absolute max bytes {}, preferred max bytes {}",
        duration(b.timeout_ms),
        b.max_message_count,
        bytes(b.absolute_max_bytes),
        bytes(b.preferred_max_bytes)
    )
}

/// A policy as lines: signature policies as an indented tree, so a line diff
/// shows which principals and gates changed.
pub fn policy_lines(text: &str) -> Vec<String> {
    match parse_policy(text, true) {
        Ok(Policy::Signature(sig)) => {
            let mut out = Vec::new();
            tree(&sig, 0, "", &mut out);
            out
        }
        _ => vec![text.trim().to_string()],
    }
}

fn tree(sig: &SignaturePolicy, depth: usize, suffix: &str, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth);
    match sig {
        SignaturePolicy::SignedBy(p) => out.push(format!("{pad}{p}{suffix}")),
        SignaturePolicy::OutOf { n, rules } => {
            let head = if *n == rules.len() && rules.len() > 1 {
                "AND(".to_string()
            } else if *n == 1 && rules.len() > 1 {
                "OR(".to_string()
            } else {
                format!("OutOf({n},")
            };
            out.push(format!("{pad}{head}"));
            for (i, r) in rules.iter().enumerate() {
                tree(
                    r,
                    depth + 1,
                    if i + 1 < rules.len() { "," } else { "" },
                    out,
                );
            }
            out.push(format!("{pad}){suffix}"));
        }
    }
}

fn collection_line(c: &CollectionDef) -> String {
    let policy = super::desired::display_policy(&c.policy);
    format!(
        "collection {}: policy {policy}, required peers {}, max peers {}, block to live {}, member-only read {}, member-only write {}",
        c.name,
        c.required_peer_count,
        c.max_peer_count,
        c.block_to_live,
        c.member_only_read,
        c.member_only_write
    )
}

/// A line diff: `- ` removed, `+ ` added, `  ` unchanged.
fn diff(before: &[String], after: &[String]) -> Vec<String> {
    let b = before.join("\n") + "\n";
    let a = after.join("\n") + "\n";
    let d = TextDiff::from_lines(&b, &a);
    d.iter_all_changes()
        .map(|c| {
            let sign = match c.tag() {
                ChangeTag::Delete => "- ",
                ChangeTag::Insert => "+ ",
                ChangeTag::Equal => "  ",
            };
            format!("{sign}{}", c.value().trim_end_matches('\n'))
        })
        .collect()
}

fn definition_diff(before: &ChaincodeDefinition, after: &ChaincodeDefinition) -> Vec<String> {
    let mut out = Vec::new();
    if !super::desired::same_policy(&before.endorsement_policy, &after.endorsement_policy) {
        out.push("endorsement policy:".to_string());
        out.extend(
            diff(
                &policy_lines(&before.endorsement_policy),
                &policy_lines(&after.endorsement_policy),
            )
            .into_iter()
            .map(|l| format!("  {l}")),
        );
    }
    if !super::desired::same_collections(&before.collections, &after.collections) {
        out.push("collections:".to_string());
        let b: Vec<String> = before.collections.iter().map(collection_line).collect();
        let a: Vec<String> = after.collections.iter().map(collection_line).collect();
        out.extend(diff(&b, &a).into_iter().map(|l| format!("  {l}")));
    }
    if before.init_required != after.init_required {
        out.push(format!(
            "init required: {} → {}",
            before.init_required, after.init_required
        ));
    }
    out
}

/// Detail lines under a change's title (values, diffs).
pub fn details(change: &Change) -> Vec<String> {
    match change {
        Change::ChannelCreate {
            members,
            anchor_peers,
            policies,
            orderer_orgs,
            consenters,
            capabilities,
            batch,
            acls,
            ..
        } => {
            let mut out = vec![format!("members: {}", members.join(", "))];
            for (org, peers) in anchor_peers {
                out.push(format!("anchor peers of {org}: {}", list_or_none(peers)));
            }
            for (name, text) in policies {
                out.push(format!("policy {name}: {text}"));
            }
            out.push(format!(
                "orderer organizations: {}",
                list_or_none(orderer_orgs)
            ));
            out.push(format!("consenters: {}", list_or_none(consenters)));
            out.push(format!(
                "capabilities: channel {}, orderer {}, application {}",
                capabilities.channel, capabilities.orderer, capabilities.application
            ));
            out.push(format!("batch: {}", batch_text(batch)));
            for (r, p) in acls {
                out.push(format!("ACL {r}: {p}"));
            }
            out
        }
        Change::OrgAddedToChannel { anchor_peers, .. } => {
            vec![format!("anchor peers: {}", list_or_none(anchor_peers))]
        }
        Change::PolicyChanged {
            before: Some(b),
            after: Some(a),
            ..
        } if !(one_liner(b) && one_liner(a)) => diff(&policy_lines(b), &policy_lines(a)),
        Change::ConsentersChanged { before, after, .. } => diff(before, after),
        Change::ChaincodeDeploy { label, after, .. } => {
            let mut out = vec![
                format!("package: {label}"),
                format!(
                    "endorsement policy: {}",
                    super::desired::display_policy(&after.endorsement_policy)
                ),
            ];
            out.extend(after.collections.iter().map(collection_line));
            if after.init_required {
                out.push("init required".into());
            }
            out
        }
        Change::ChaincodeUpgrade {
            label,
            before,
            after,
            ..
        } => {
            let mut out = vec![format!("package: {label}")];
            out.extend(definition_diff(before, after));
            out
        }
        Change::ChaincodeDefinitionChanged { before, after, .. } => definition_diff(before, after),
        Change::GovernanceChanged { differences, .. } => differences.clone(),
        _ => Vec::new(),
    }
}

fn local_title(a: &LocalAction) -> String {
    match a {
        LocalAction::JoinChannel { peer, channel } => format!("{peer} joins channel {channel}"),
        LocalAction::InstallPackage {
            peer,
            channel,
            chaincode,
            label,
        } => format!("install package {label} on {peer} (chaincode {channel}/{chaincode})"),
        LocalAction::ApproveDefinition {
            channel,
            chaincode,
            sequence,
            version,
            ..
        } => format!("approve {channel}/{chaincode} {version} sequence {sequence}"),
    }
}

/// How many approvals an open proposal needs, and from whom: the quorum and
/// electorate the chaincode fixed at filing when the state carries them,
/// else what the plan derives from the policies (the governance's raised
/// vote, or a single threshold requirement), which is how the chaincode
/// computed them.
fn quorum(plan: &Plan, p: &PlannedProposal, id: &str) -> Option<(usize, Vec<String>)> {
    if let Some(b) = plan.ballots.get(id) {
        return Some((b.quorum as usize, b.electorate.clone()));
    }
    if let Some(v) = &p.vote {
        return Some((v.count, v.of.clone()));
    }
    match p.approval.requirements.as_slice() {
        [r] => match &r.need {
            Need::Threshold { count, of } => Some((*count, of.clone())),
            _ => None,
        },
        _ => None,
    }
}

/// What an open proposal still waits for: `waiting for 1 more of Org2MSP`.
fn waiting(plan: &Plan, p: &PlannedProposal, o: &OnChain) -> Option<String> {
    if o.state != ProposalState::Proposed {
        return None;
    }
    let (needed, electorate) = quorum(plan, p, &o.id)?;
    let more = needed.saturating_sub(o.approved_by.len());
    let left: Vec<&str> = electorate
        .iter()
        .map(String::as_str)
        .filter(|org| !o.approved_by.iter().any(|a| a == org))
        .filter(|org| !o.rejected_by.iter().any(|r| r == org))
        .collect();
    Some(if more == 0 {
        format!("quorum of {needed} reached, waiting for the tally")
    } else if left.len() < more {
        format!(
            "cannot reach the quorum of {needed}: {} more needed, {} left to vote",
            more,
            left.len()
        )
    } else {
        format!("waiting for {more} more of {}", left.join(", "))
    })
}

/// An on-chain proposal's state and votes, Markdown: `**proposed** ·
/// approved by Org1MSP · rejected by Org3MSP · waiting for 1 more of Org2MSP`.
fn vote_progress(plan: &Plan, p: &PlannedProposal, o: &OnChain) -> String {
    let mut parts = vec![format!("**{}**", o.state)];
    if o.approved_by.is_empty() && o.rejected_by.is_empty() {
        parts.push("no votes yet".into());
    }
    if !o.approved_by.is_empty() {
        parts.push(format!("approved by {}", o.approved_by.join(", ")));
    }
    if !o.rejected_by.is_empty() {
        parts.push(format!("rejected by {}", o.rejected_by.join(", ")));
    }
    parts.extend(waiting(plan, p, o));
    parts.join(" · ")
}

/// `trade/kv`, `ops Org4MSP`, `trade`.
fn target_text(p: &PlannedProposal) -> String {
    match (&p.target.chaincode, &p.org) {
        (Some(cc), _) => format!("{}/{cc}", p.target.channel),
        (None, Some(org)) => format!("{} {org}", p.target.channel),
        (None, None) => p.target.channel.clone(),
    }
}

fn proposal_ref(plan: &Plan, sc: &SharedChange) -> String {
    let p = &plan.proposals[sc.proposal];
    let target = target_text(p);
    match &p.proposal_id {
        Some(id) => format!("{} {target}, id {}", p.kind, short_id(id)),
        None => format!("{} {target}, intent {}", p.kind, short_id(&p.intent_id)),
    }
}

/// The plan as text.
pub fn text(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "opssc plan for consortium {}", plan.consortium);
    let _ = writeln!(s, "  spec:     {}", short_id(&plan.spec_hash));
    let _ = writeln!(
        s,
        "  observed: by {} at {}",
        plan.observed_by, plan.taken_at
    );
    let mut channel = None;
    for sc in &plan.shared {
        if channel != Some(sc.change.channel()) {
            channel = Some(sc.change.channel());
            let _ = writeln!(s, "\nchannel {}", sc.change.channel());
        }
        let (sym, title) = title(&sc.change);
        let _ = writeln!(s, "  {sym} {title}");
        for l in details(&sc.change) {
            let _ = writeln!(s, "      {l}");
        }
        if let Some(d) = &sc.drift {
            let _ = writeln!(s, "      drift: {d} (the spec wins)");
        }
        let _ = writeln!(s, "      Approval needed: {}", sc.approval);
        for r in &sc.risks {
            let _ = writeln!(s, "    ! {}: {}", r.kind.as_str(), r.message);
        }
        for w in &sc.requires {
            let _ = writeln!(s, "      waits for: {w}");
        }
        let _ = writeln!(s, "      proposal: {}", proposal_ref(plan, sc));
    }
    let with_status: Vec<_> = plan
        .proposals
        .iter()
        .filter(|p| p.vote.is_some() || p.on_chain.is_some())
        .collect();
    if !with_status.is_empty() {
        let _ = writeln!(s, "\nproposals");
        for p in with_status {
            let id = p.proposal_id.as_deref().unwrap_or(&p.intent_id);
            let target = match &p.target.chaincode {
                Some(cc) => format!("{}/{cc}", p.target.channel),
                None => p.target.channel.clone(),
            };
            let _ = writeln!(s, "  {} {target} {}", p.kind, short_id(id));
            if let Some(v) = &p.vote {
                let _ = writeln!(
                    s,
                    "      OpsSC vote: {} of {{{}}} ({})",
                    v.count,
                    v.of.join(", "),
                    v.rule
                );
            }
            if let Some(o) = &p.on_chain {
                let _ = write!(
                    s,
                    "      on chain: {} round {} {}; approved by {}; rejected by {}",
                    short_id(&o.id),
                    o.round,
                    o.state,
                    list_or_none(&o.approved_by),
                    list_or_none(&o.rejected_by)
                );
                match waiting(plan, p, o) {
                    Some(w) => {
                        let _ = writeln!(s, "; {w}");
                    }
                    None => {
                        let _ = writeln!(s);
                    }
                }
            }
        }
    }
    if !plan.local.is_empty() {
        let _ = writeln!(s, "\nlocal changes for {}", plan.me);
        for l in &plan.local {
            write_local(&mut s, l);
        }
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(s, "\nnotes");
        for n in &plan.notes {
            let _ = writeln!(s, "  - {n}");
        }
    }
    let _ = writeln!(s, "\n{}", summary(plan));
    s
}

fn write_local(s: &mut String, l: &LocalChange) {
    let _ = writeln!(s, "  + {}", local_title(&l.action));
    for w in &l.requires {
        let _ = writeln!(s, "      waits for: {w}");
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The plan as Markdown, for a pull request comment or a job summary.
pub fn markdown(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### opssc plan: consortium `{}`\n", plan.consortium);
    let _ = writeln!(
        s,
        "Spec `{}` against the state observed by {} at {}.\n",
        short_id(&plan.spec_hash),
        plan.observed_by,
        plan.taken_at
    );
    let _ = writeln!(s, "**{}**\n", summary(plan));
    if !plan.shared.is_empty() {
        let _ = writeln!(s, "| | Channel | Change | Approval needed | Proposal |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for sc in &plan.shared {
            let (sym, title) = title(&sc.change);
            let mut change = md_escape(&title);
            if let Some(d) = &sc.drift {
                change.push_str(&format!(" (drift: {})", md_escape(d)));
            }
            if !sc.risks.is_empty() {
                change.push_str(" ⚠️");
            }
            let _ = writeln!(
                s,
                "| `{sym}` | {} | {change} | {} | {} |",
                sc.change.channel(),
                md_escape(&sc.approval.to_string()),
                md_escape(&proposal_ref(plan, sc))
            );
        }
        let _ = writeln!(s);
    }
    let on_chain: Vec<_> = plan
        .proposals
        .iter()
        .filter_map(|p| Some((p, p.on_chain.as_ref()?)))
        .collect();
    if !on_chain.is_empty() {
        let _ = writeln!(s, "#### Votes on the chain\n");
        for (p, o) in on_chain {
            let _ = writeln!(
                s,
                "- {} {} `{}` (round {}): {}",
                p.kind,
                target_text(p),
                short_id(&o.id),
                o.round,
                vote_progress(plan, p, o)
            );
        }
        let _ = writeln!(s);
    }
    let risks: Vec<_> = plan.risks().collect();
    if !risks.is_empty() {
        let _ = writeln!(s, "#### Risks\n");
        for (sc, r) in risks {
            let _ = writeln!(
                s,
                "- ⚠️ **{}** ({}, {}): {}",
                r.kind.as_str(),
                sc.change.channel(),
                title(&sc.change).1,
                r.message
            );
        }
        let _ = writeln!(s);
    }
    let detailed: Vec<_> = plan
        .shared
        .iter()
        .filter(|sc| !details(&sc.change).is_empty())
        .collect();
    if !detailed.is_empty() {
        let _ = writeln!(s, "#### Details\n");
        for sc in detailed {
            let (sym, title) = title(&sc.change);
            let _ = writeln!(
                s,
                "<details><summary><code>{sym}</code> {}: {}</summary>\n",
                sc.change.channel(),
                html_escape(&title)
            );
            let _ = writeln!(s, "```diff");
            for l in details(&sc.change) {
                let _ = writeln!(s, "{}", diff_sign_first(&l));
            }
            let _ = writeln!(s, "```\n\n</details>\n");
        }
    }
    let votes: Vec<_> = plan.proposals.iter().filter(|p| p.vote.is_some()).collect();
    if !votes.is_empty() {
        let _ = writeln!(s, "#### OpsSC vote quorum raised by governance\n");
        for p in votes {
            let v = p.vote.as_ref().expect("filtered");
            let _ = writeln!(
                s,
                "- {} `{}`: {} of {{{}}} ({})",
                p.kind,
                p.target.channel,
                v.count,
                v.of.join(", "),
                v.rule
            );
        }
        let _ = writeln!(s);
    }
    if !plan.local.is_empty() {
        let _ = writeln!(s, "#### Local changes for {}\n", plan.me);
        for l in &plan.local {
            let waits: Vec<String> = l.requires.iter().map(|w| w.to_string()).collect();
            if waits.is_empty() {
                let _ = writeln!(s, "- {}", local_title(&l.action));
            } else {
                let _ = writeln!(
                    s,
                    "- {} (waits for: {})",
                    local_title(&l.action),
                    waits.join("; ")
                );
            }
        }
        let _ = writeln!(s);
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(s, "#### Notes\n");
        for n in &plan.notes {
            let _ = writeln!(s, "- {n}");
        }
        let _ = writeln!(s);
    }
    s
}

/// Moves a diff line's `-`/`+` to the first column, where GitHub's `diff`
/// highlighting looks for it: `  - AND(` → `-   AND(`.
fn diff_sign_first(line: &str) -> String {
    let t = line.trim_start();
    let indent = line.len() - t.len();
    if indent > 0 && (t.starts_with("- ") || t.starts_with("+ ")) {
        format!("{}{}{}", &t[..1], " ".repeat(indent), &t[1..])
    } else {
        line.to_string()
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_diffs_show_the_changed_principals() {
        let d = diff(
            &policy_lines("OutOf(2, 'A.peer', 'B.peer')"),
            &policy_lines("OutOf(2, 'A.peer', 'B.peer', 'C.peer')"),
        );
        assert_eq!(
            d,
            vec![
                "- AND(",
                "+ OutOf(2,",
                "    'A.peer',",
                "-   'B.peer'",
                "+   'B.peer',",
                "+   'C.peer'",
                "  )"
            ]
        );
        assert_eq!(
            policy_lines("AND('A.peer', OR('B.peer', 'C.peer'))"),
            vec![
                "AND(",
                "  'A.peer',",
                "  OR(",
                "    'B.peer',",
                "    'C.peer'",
                "  )",
                ")"
            ]
        );
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(duration(2000), "2s");
        assert_eq!(duration(250), "250ms");
        assert_eq!(bytes(10 * 1024 * 1024), "10 MiB");
        assert_eq!(bytes(512 * 1024), "512 KiB");
        assert_eq!(bytes(1000), "1000 bytes");
    }
}
