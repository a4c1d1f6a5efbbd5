//! Every rule a spec must satisfy, checked all at once, building the [`Spec`].
//!
//! The checks run over the raw documents that parsed; each problem becomes a
//! [`Diagnostic`] at the offending value. When there is no error the validated
//! [`Spec`] is assembled, with Fabric's defaults filled in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_saphyr::Spanned;

use crate::certs::{self, CertRole};
use crate::diagnostic::{Diagnostic, Position, Report};
use crate::load::{DocCtx, Loaded, RawDoc};
use crate::model::{self, *};
use crate::names;
use crate::policy::{self, Policy, PolicyError};
use crate::spec::{self, *};
use crate::suggest::did_you_mean;

/// Supported capability levels per group.
const CHANNEL_CAPABILITIES: &[&str] = &["V2_0", "V3_0"];
const ORDERER_CAPABILITIES: &[&str] = &["V2_0"];
const APPLICATION_CAPABILITIES: &[&str] = &["V2_0", "V2_5"];

struct Ctx<'a> {
    loaded: &'a Loaded,
    report: &'a mut Report,
}

impl Ctx<'_> {
    fn pos<T>(&self, doc: DocCtx, v: &Spanned<T>) -> Position {
        self.loaded.pos(doc, v)
    }
    fn error<T>(
        &mut self,
        code: &'static str,
        doc: DocCtx,
        at: &Spanned<T>,
        msg: impl Into<String>,
        hint: Option<String>,
    ) {
        let mut d = Diagnostic::error(code, self.pos(doc, at), msg);
        d.hint = hint;
        self.report.push(d);
    }
    fn warn<T>(
        &mut self,
        code: &'static str,
        doc: DocCtx,
        at: &Spanned<T>,
        msg: impl Into<String>,
        hint: Option<String>,
    ) {
        let mut d = Diagnostic::warning(code, self.pos(doc, at), msg);
        d.hint = hint;
        self.report.push(d);
    }
    /// Whether a name of `kind` may exist in a document that failed to parse.
    fn incomplete(&self, kind: &str) -> bool {
        self.loaded.incomplete_kinds.contains(kind)
    }
    fn doc_error(
        &mut self,
        code: &'static str,
        doc: DocCtx,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = Diagnostic::error(code, self.loaded.doc_pos(doc), msg).with_hint(hint);
        self.report.push(d);
    }

    /// A policy error, pointing at the character inside the YAML value.
    fn policy_error(&mut self, doc: DocCtx, at: &Spanned<String>, e: PolicyError) {
        let mut position = self.pos(doc, at);
        let source = self.loaded.files[doc.file]
            .line(position.line)
            .unwrap_or("");
        let quoted = source
            .chars()
            .nth(position.column.saturating_sub(1) as usize)
            .is_some_and(|c| c == '\'' || c == '"');
        position.column += e.offset as u32 + u32::from(quoted);
        let mut d = Diagnostic::error("policy", position, format!("invalid policy: {}", e.message));
        d.hint = e.hint;
        self.report.push(d);
    }
}

fn suggestion(word: &str, candidates: &BTreeSet<String>, what: &str) -> String {
    match did_you_mean(word, candidates.iter().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`?"),
        None if candidates.is_empty() => format!("no {what} is declared"),
        None => format!(
            "declared {what}s: {}",
            candidates.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The documents that parsed, grouped by kind, each with its position context.
#[derive(Default)]
struct ByKind<'a> {
    consortia: Vec<(DocCtx, &'a Document<ConsortiumSpec>)>,
    orgs: Vec<(DocCtx, &'a Document<OrganizationSpec>)>,
    channels: Vec<(DocCtx, &'a Document<ChannelSpec>)>,
    chaincodes: Vec<(DocCtx, &'a Document<ChaincodeSpec>)>,
    governances: Vec<(DocCtx, &'a Document<GovernanceSpec>)>,
}

fn group_by_kind(docs: &[RawDoc]) -> ByKind<'_> {
    let mut by_kind = ByKind::default();
    for doc in docs {
        match doc {
            RawDoc::Consortium(c, d) => by_kind.consortia.push((*c, d)),
            RawDoc::Organization(c, d) => by_kind.orgs.push((*c, d)),
            RawDoc::Channel(c, d) => by_kind.channels.push((*c, d)),
            RawDoc::Chaincode(c, d) => by_kind.chaincodes.push((*c, d)),
            RawDoc::Governance(c, d) => by_kind.governances.push((*c, d)),
        }
    }
    by_kind
}

/// Validates the documents and, if there is no error, builds the [`Spec`].
pub fn validate(root: &Path, loaded: &Loaded, report: &mut Report) -> Option<Spec> {
    let mut cx = Ctx { loaded, report };

    // Common header checks and uniqueness of names per kind.
    let mut names_seen: BTreeMap<(&str, String), Position> = BTreeMap::new();
    for doc in &loaded.docs {
        let (ctx, api, kind, name) = match doc {
            RawDoc::Consortium(c, d) => (*c, &d.api_version, "Consortium", &d.metadata.name),
            RawDoc::Organization(c, d) => (*c, &d.api_version, "Organization", &d.metadata.name),
            RawDoc::Channel(c, d) => (*c, &d.api_version, "Channel", &d.metadata.name),
            RawDoc::Chaincode(c, d) => (*c, &d.api_version, "Chaincode", &d.metadata.name),
            RawDoc::Governance(c, d) => (*c, &d.api_version, "Governance", &d.metadata.name),
        };
        if api.value != model::API_VERSION {
            cx.error(
                "api-version",
                ctx,
                api,
                format!("unsupported apiVersion {:?}", api.value),
                Some(format!("write `apiVersion: {}`", model::API_VERSION)),
            );
        }
        if name.value.trim().is_empty() {
            cx.error(
                "name",
                ctx,
                name,
                "metadata.name is empty",
                Some("give the document a name".into()),
            );
        }
        let here = cx.pos(ctx, name);
        if let Some(first) = names_seen.get(&(kind, name.value.clone())) {
            cx.report.push(
                Diagnostic::error(
                    "duplicate",
                    here,
                    format!("a {kind} named {:?} is already declared", name.value),
                )
                .with_hint(format!(
                    "first declared at {}:{}:{}; names are unique per kind",
                    first.file.display(),
                    first.line,
                    first.column
                )),
            );
        } else {
            names_seen.insert((kind, name.value.clone()), here);
        }
    }

    let ByKind {
        consortia,
        orgs,
        channels,
        chaincodes,
        governances,
    } = group_by_kind(&loaded.docs);

    // ---- Organizations ----
    let mut msp_ids: BTreeMap<String, (DocCtx, &Document<OrganizationSpec>)> = BTreeMap::new();
    let mut endpoints: BTreeMap<String, Position> = BTreeMap::new();
    let mut built_orgs: BTreeMap<String, Organization> = BTreeMap::new();
    for &(ctx, doc) in &orgs {
        let s = &doc.spec;
        if let Err((msg, hint)) = names::check_msp_id(&s.msp_id.value) {
            cx.error("msp-id", ctx, &s.msp_id, msg, Some(hint));
        }
        if let Some((_, first)) = msp_ids.get(&s.msp_id.value) {
            let first_name = first.metadata.name.value.clone();
            cx.error(
                "duplicate",
                ctx,
                &s.msp_id,
                format!(
                    "MSP ID {:?} is already used by Organization {first_name:?}",
                    s.msp_id.value
                ),
                Some("every organization needs its own MSP ID".into()),
            );
            continue;
        }
        msp_ids.insert(s.msp_id.value.clone(), (ctx, doc));
        let role = match s.role.as_ref().map(|r| r.value.as_str()) {
            None | Some("peer") => OrgRole::Peer,
            Some("orderer") => OrgRole::Orderer,
            Some(other) => {
                let r = s.role.as_ref().expect("matched Some");
                cx.error(
                    "role",
                    ctx,
                    r,
                    format!("unknown role {other:?}"),
                    Some("an organization's role is `peer` or `orderer`".into()),
                );
                OrgRole::Peer
            }
        };
        match role {
            OrgRole::Peer if s.peers.is_empty() => cx.doc_error(
                "no-peers",
                ctx,
                format!("peer organization {} declares no peers", s.msp_id.value),
                "add a `peers:` list with at least one peer",
            ),
            OrgRole::Orderer if s.orderers.is_empty() => cx.doc_error(
                "no-orderers",
                ctx,
                format!(
                    "orderer organization {} declares no orderer nodes",
                    s.msp_id.value
                ),
                "add an `orderers:` list",
            ),
            _ => {}
        }
        let mut node_names = BTreeSet::new();
        let mut peers = Vec::new();
        for p in &s.peers {
            if !node_names.insert(p.name.value.clone()) {
                cx.error(
                    "duplicate",
                    ctx,
                    &p.name,
                    format!(
                        "node name {:?} is used twice in {}",
                        p.name.value, s.msp_id.value
                    ),
                    None,
                );
            }
            if let Err((m, h)) = names::check_node_name(&p.name.value) {
                cx.error("node-name", ctx, &p.name, m, Some(h));
            }
            let endpoint = check_endpoint(&mut cx, ctx, &p.endpoint, &mut endpoints);
            peers.push(Peer {
                name: p.name.value.clone(),
                endpoint: endpoint.unwrap_or(Endpoint {
                    host: String::new(),
                    port: 0,
                }),
                anchor: p.anchor.as_ref().is_some_and(|a| a.value),
            });
        }
        let mut orderer_nodes = Vec::new();
        for o in &s.orderers {
            if !node_names.insert(o.name.value.clone()) {
                cx.error(
                    "duplicate",
                    ctx,
                    &o.name,
                    format!(
                        "node name {:?} is used twice in {}",
                        o.name.value, s.msp_id.value
                    ),
                    None,
                );
            }
            let endpoint = check_endpoint(&mut cx, ctx, &o.endpoint, &mut endpoints);
            let tls_cert = o
                .tls_cert
                .as_ref()
                .and_then(|c| read_cert(&mut cx, ctx, c, CertRole::Leaf));
            let sign_cert = o
                .sign_cert
                .as_ref()
                .and_then(|c| read_cert(&mut cx, ctx, c, CertRole::Leaf));
            orderer_nodes.push(OrdererNode {
                name: o.name.value.clone(),
                endpoint: endpoint.unwrap_or(Endpoint {
                    host: String::new(),
                    port: 0,
                }),
                tls_cert,
                sign_cert,
            });
        }
        let msp = match &s.msp {
            None => {
                cx.warn("no-msp", ctx, &s.msp_id, format!("{} has no MSP certificates yet", s.msp_id.value), Some("commit the organization's CA and TLS CA certificates under `msp:` before it joins a channel".into()));
                None
            }
            Some(m) => {
                if m.ca_certs.is_empty() {
                    cx.doc_error(
                        "no-ca",
                        ctx,
                        format!("{} lists no CA certificate", s.msp_id.value),
                        "add at least one entry to `msp.caCerts`",
                    );
                }
                let read_all = |cx: &mut Ctx, list: &[CertSource], role: CertRole| -> Vec<String> {
                    list.iter()
                        .filter_map(|c| read_cert(cx, ctx, c, role))
                        .collect()
                };
                Some(Msp {
                    ca_certs: read_all(&mut cx, &m.ca_certs, CertRole::Ca),
                    intermediate_certs: read_all(&mut cx, &m.intermediate_certs, CertRole::Ca),
                    tls_ca_certs: read_all(&mut cx, &m.tls_ca_certs, CertRole::Ca),
                    admin_certs: read_all(&mut cx, &m.admin_certs, CertRole::Leaf),
                    node_ous: m.node_ous.as_ref().is_none_or(|b| b.value),
                })
            }
        };
        let mut admins = Vec::new();
        for a in &s.admins {
            if let Err((m, h)) = names::check_ssh_public_key(&a.signing_key.value) {
                cx.error("signing-key", ctx, &a.signing_key, m, Some(h));
            }
            admins.push(Admin {
                name: a.name.value.clone(),
                signing_key: a.signing_key.value.trim().to_string(),
            });
        }
        built_orgs.insert(
            s.msp_id.value.clone(),
            Organization {
                name: doc.metadata.name.value.clone(),
                msp_id: s.msp_id.value.clone(),
                role,
                msp,
                peers,
                orderers: orderer_nodes,
                admins,
            },
        );
    }
    let all_msps: BTreeSet<String> = msp_ids.keys().cloned().collect();
    let peer_msps: BTreeSet<String> = built_orgs
        .values()
        .filter(|o| o.role == OrgRole::Peer)
        .map(|o| o.msp_id.clone())
        .collect();

    // ---- Governance ----
    let mut built_governance: BTreeMap<String, Governance> = BTreeMap::new();
    for &(ctx, doc) in &governances {
        let mut g = Governance::default();
        if let Some(d) = &doc.spec.voting_deadline {
            match names::parse_duration_ms(&d.value) {
                Ok(ms) => g.voting_deadline_secs = ms / 1000,
                Err(h) => cx.error(
                    "duration",
                    ctx,
                    d,
                    format!("invalid duration {:?}", d.value),
                    Some(h),
                ),
            }
        }
        for rule in &doc.spec.rules {
            let kind = ChangeKind::ALL
                .iter()
                .find(|(n, _)| *n == rule.change.value)
                .map(|k| k.1);
            let quorum = Quorum::ALL
                .iter()
                .find(|(n, _)| *n == rule.quorum.value)
                .map(|q| q.1);
            if kind.is_none() {
                let names: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.0).collect();
                let hint = did_you_mean(&rule.change.value, names.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or(format!("one of {}", names.join(", ")));
                cx.error(
                    "governance",
                    ctx,
                    &rule.change,
                    format!("unknown kind of change {:?}", rule.change.value),
                    Some(hint),
                );
            }
            if quorum.is_none() {
                let names: Vec<&str> = Quorum::ALL.iter().map(|k| k.0).collect();
                cx.error(
                    "governance",
                    ctx,
                    &rule.quorum,
                    format!("unknown quorum {:?}", rule.quorum.value),
                    Some(format!("one of {}", names.join(", "))),
                );
            }
            let deadline = match &rule.voting_deadline {
                Some(d) => match names::parse_duration_ms(&d.value) {
                    Ok(ms) => ms / 1000,
                    Err(h) => {
                        cx.error(
                            "duration",
                            ctx,
                            d,
                            format!("invalid duration {:?}", d.value),
                            Some(h),
                        );
                        0
                    }
                },
                None => g.voting_deadline_secs,
            };
            if let (Some(k), Some(q)) = (kind, quorum) {
                if k == ChangeKind::Governance && q != Quorum::All {
                    cx.error(
                        "governance",
                        ctx,
                        &rule.quorum,
                        "governance changes always need every member",
                        Some("use `quorum: all` (it cannot be lowered)".into()),
                    );
                }
                if g.rules.insert(k, (q, deadline)).is_some() {
                    cx.error(
                        "duplicate",
                        ctx,
                        &rule.change,
                        format!("a rule for {:?} is already given", rule.change.value),
                        None,
                    );
                }
            }
        }
        built_governance.insert(doc.metadata.name.value.clone(), g);
    }

    // ---- Consortium ----
    let mut consortium = None;
    if consortia.is_empty() {
        let file = loaded
            .files
            .first()
            .map(|f| f.display.clone())
            .unwrap_or_else(|| root.to_path_buf());
        cx.report.push(
            Diagnostic::error(
                "no-consortium",
                Position {
                    file,
                    line: 1,
                    column: 1,
                },
                "the spec has no Consortium document",
            )
            .with_hint(
                "add a document with `kind: Consortium` naming the ops channel and the orderers",
            ),
        );
    }
    for &(ctx, _) in consortia.iter().skip(1) {
        cx.doc_error(
            "duplicate",
            ctx,
            "a spec has exactly one Consortium document",
            "merge the Consortium documents into one",
        );
    }
    let channel_names: BTreeSet<String> = channels
        .iter()
        .map(|(_, d)| d.metadata.name.value.clone())
        .collect();
    if let Some(&(ctx, doc)) = consortia.first() {
        let s = &doc.spec;
        if !names::fabric_version_ok(&s.fabric_version.value) {
            cx.error(
                "fabric-version",
                ctx,
                &s.fabric_version,
                format!("unsupported Fabric version {:?}", s.fabric_version.value),
                Some(crate::FabricVersion::hint_for(&s.fabric_version.value)),
            );
        }
        if let Err((m, h)) = names::check_channel_name(&s.ops_channel.value) {
            cx.error("channel-name", ctx, &s.ops_channel, m, Some(h));
        } else if !channel_names.contains(&s.ops_channel.value) && !cx.incomplete("Channel") {
            cx.error(
                "unknown-reference",
                ctx,
                &s.ops_channel,
                format!(
                    "the ops channel {:?} has no Channel document",
                    s.ops_channel.value
                ),
                Some(suggestion(&s.ops_channel.value, &channel_names, "channel")),
            );
        }
        let consensus = &s.orderer.consensus;
        let bft = consensus.value == CONSENSUS_BFT;
        if consensus.value != CONSENSUS_RAFT && !bft {
            cx.error(
                "consensus",
                ctx,
                consensus,
                format!("unsupported consensus {:?}", consensus.value),
                Some(
                    "opssc supports `etcdraft` and (on Fabric 3.1) `bft` ordering services".into(),
                ),
            );
        }
        if bft
            && crate::FabricVersion::parse(&s.fabric_version.value)
                .is_some_and(|v| !v.supports_bft())
        {
            cx.error(
                "consensus",
                ctx,
                consensus,
                format!("Fabric {} has no SmartBFT ordering", s.fabric_version.value),
                Some("set `fabricVersion: \"3.1\"` or use `consensus: etcdraft`".into()),
            );
        }
        let mut consenters = Vec::new();
        let mut seen = BTreeSet::new();
        for c in &s.orderer.consenters {
            match built_orgs.get(&c.org.value) {
                None if cx.incomplete("Organization") => {}
                None => cx.error(
                    "unknown-reference",
                    ctx,
                    &c.org,
                    format!("unknown organization {:?}", c.org.value),
                    Some(suggestion(&c.org.value, &all_msps, "organization")),
                ),
                Some(o) if o.role != OrgRole::Orderer => cx.error(
                    "consenter",
                    ctx,
                    &c.org,
                    format!("{} is not an orderer organization", c.org.value),
                    Some(
                        "consenters are orderer nodes of an organization with `role: orderer`"
                            .into(),
                    ),
                ),
                Some(o) => {
                    let nodes: BTreeSet<String> =
                        o.orderers.iter().map(|n| n.name.clone()).collect();
                    let node = o.orderers.iter().find(|n| n.name == c.node.value);
                    if bft && node.is_some_and(|n| n.sign_cert.is_none()) {
                        cx.warn(
                            "bft-identity",
                            ctx,
                            &c.node,
                            format!(
                                "BFT consenter {}/{} has no signCert yet; channels cannot be founded without it",
                                c.org.value, c.node.value
                            ),
                            Some("commit the node's signing certificate under `signCert:` in its Organization".into()),
                        );
                    }
                    if !nodes.contains(&c.node.value) {
                        cx.error(
                            "unknown-reference",
                            ctx,
                            &c.node,
                            format!("{} has no orderer node {:?}", c.org.value, c.node.value),
                            Some(suggestion(&c.node.value, &nodes, "orderer node")),
                        );
                    }
                }
            }
            if !seen.insert((c.org.value.clone(), c.node.value.clone())) {
                cx.error(
                    "duplicate",
                    ctx,
                    &c.node,
                    "this consenter is listed twice",
                    None,
                );
            }
            consenters.push((c.org.value.clone(), c.node.value.clone()));
        }
        if consenters.is_empty() {
            cx.doc_error(
                "consenter",
                ctx,
                "the ordering service has no consenters",
                "list at least one orderer node under `orderer.consenters`",
            );
        } else if bft && consenters.len() < 4 {
            cx.error(
                "bft-consenters",
                ctx,
                consensus,
                format!(
                    "SmartBFT needs at least 4 consenters (3f+1 to tolerate f faults); the spec lists {}",
                    consenters.len()
                ),
                Some("list 4 (f = 1) or 7 (f = 2) orderer nodes under `orderer.consenters`".into()),
            );
        } else if bft && (consenters.len() - 1) % 3 != 0 {
            cx.warn(
                "bft-consenters",
                ctx,
                &s.orderer.consenters[0].org,
                format!(
                    "{} BFT consenters tolerate no more faults than {}",
                    consenters.len(),
                    3 * ((consenters.len() - 1) / 3) + 1
                ),
                Some("use 3f+1 consenters (4, 7, 10)".into()),
            );
        } else if !bft && consenters.len() % 2 == 0 {
            cx.warn(
                "raft-even",
                ctx,
                &s.orderer.consenters[0].org,
                format!(
                    "{} Raft consenters tolerate no more failures than {}",
                    consenters.len(),
                    consenters.len() - 1
                ),
                Some("use an odd number of consenters (3 or 5)".into()),
            );
        }
        let governance = match &s.governance {
            None => Governance::default(),
            Some(g) => match built_governance.get(&g.value) {
                Some(g) => g.clone(),
                None => {
                    let names: BTreeSet<String> = built_governance.keys().cloned().collect();
                    cx.error(
                        "unknown-reference",
                        ctx,
                        g,
                        format!("unknown Governance {:?}", g.value),
                        Some(suggestion(&g.value, &names, "Governance")),
                    );
                    Governance::default()
                }
            },
        };
        consortium = Some((
            ctx,
            doc,
            Consortium {
                name: doc.metadata.name.value.clone(),
                fabric_version: s.fabric_version.value.clone(),
                ops_channel: s.ops_channel.value.clone(),
                consensus: s.orderer.consensus.value.clone(),
                consenters,
                governance,
            },
        ));
    }
    let default_batch = consortium
        .as_ref()
        .and_then(|(ctx, doc, _)| doc.spec.orderer.batch.as_ref().map(|b| (*ctx, b)));
    let base_batch = match default_batch {
        Some((ctx, b)) => check_batch(&mut cx, ctx, b, Batch::default()),
        None => Batch::default(),
    };

    // ---- Channels ----
    let mut built_channels = BTreeMap::new();
    for &(ctx, doc) in &channels {
        let s = &doc.spec;
        let name = &doc.metadata.name;
        if let Err((m, h)) = names::check_channel_name(&name.value) {
            cx.error("channel-name", ctx, name, m, Some(h));
        }
        let mut members = BTreeSet::new();
        for m in &s.members {
            if !all_msps.contains(&m.value) && cx.incomplete("Organization") {
                continue;
            } else if !all_msps.contains(&m.value) {
                cx.error(
                    "unknown-reference",
                    ctx,
                    m,
                    format!("unknown organization {:?}", m.value),
                    Some(suggestion(&m.value, &all_msps, "organization")),
                );
            } else if !peer_msps.contains(&m.value) {
                cx.error("member", ctx, m, format!("{} is an orderer organization", m.value), Some("channel members are peer organizations; orderer organizations join through the consortium's consenters".into()));
            }
            if !members.insert(m.value.clone()) {
                cx.error(
                    "duplicate",
                    ctx,
                    m,
                    format!("{} is listed twice", m.value),
                    None,
                );
            }
        }
        if s.members.is_empty() {
            cx.doc_error(
                "member",
                ctx,
                format!("channel {} has no members", name.value),
                "list the member organizations' MSP IDs under `members`",
            );
        }
        for m in &s.members {
            if let Some(org) = built_orgs.get(&m.value)
                && org.role == OrgRole::Peer
                && !org.peers.is_empty()
                && org.anchor_peers().next().is_none()
            {
                cx.error(
                    "anchor-peer",
                    ctx,
                    m,
                    format!(
                        "{} has no anchor peer, but every member of a channel needs one",
                        m.value
                    ),
                    Some(format!(
                        "mark one of {}'s peers with `anchor: true`",
                        m.value
                    )),
                );
            }
        }
        let is_ops = consortium
            .as_ref()
            .is_some_and(|c| c.2.ops_channel == name.value);
        let mut policies = BTreeMap::new();
        for (pname, ptext) in &s.policies {
            match policy::parse_policy(&ptext.value, false) {
                Err(e) => cx.policy_error(ctx, ptext, e),
                Ok(parsed) => {
                    check_principals(&mut cx, ctx, ptext, &parsed, &all_msps, Some(&members));
                    if is_ops && pname == "Endorsement" {
                        warn_unnamed_members(&mut cx, ctx, ptext, &parsed, &members);
                    }
                    policies.insert(
                        pname.clone(),
                        PolicyText {
                            text: ptext.value.clone(),
                            parsed,
                        },
                    );
                }
            }
        }
        // The ops channel's Endorsement (the OpsSC's endorsement policy) is
        // by default the members' majority spelled out, which peers check
        // with one signature check per endorsement (see
        // `policy::members_majority_endorsement`).
        let ops_endorsement = is_ops
            .then(|| policy::members_majority_endorsement(&members))
            .flatten()
            // A member name the policy language cannot quote is reported
            // elsewhere; the spec is refused either way.
            .filter(|text| policy::parse_policy(text, false).is_ok());
        for (pname, default) in [
            ("Readers", "ANY Readers"),
            ("Writers", "ANY Writers"),
            ("Admins", "MAJORITY Admins"),
            (
                "Endorsement",
                ops_endorsement.as_deref().unwrap_or("MAJORITY Endorsement"),
            ),
            ("LifecycleEndorsement", "MAJORITY Endorsement"),
        ] {
            policies
                .entry(pname.to_string())
                .or_insert_with(|| PolicyText {
                    text: default.to_string(),
                    parsed: policy::parse_policy(default, false).expect("defaults parse"),
                });
        }
        let capabilities = check_capabilities(
            &mut cx,
            ctx,
            s.capabilities.as_ref(),
            consortium.as_ref().map(|c| c.2.fabric_version.as_str()),
        );
        // Peers check a BFT orderer's block signatures (by consenter id)
        // only under the V3_0 channel capability; with V2_0 they reject
        // every block after the genesis block.
        if consortium.as_ref().is_some_and(|c| c.2.is_bft()) && capabilities.channel != "V3_0" {
            let at = s
                .capabilities
                .as_ref()
                .and_then(|c| c.channel.as_ref())
                .unwrap_or(name);
            cx.error(
                "capability",
                ctx,
                at,
                format!(
                    "channel {} has channel capability {}, but SmartBFT ordering needs V3_0",
                    name.value, capabilities.channel
                ),
                Some(
                    "set `capabilities.channel: V3_0` (or leave it out: Fabric 3.1 defaults to it)"
                        .into(),
                ),
            );
        }
        let batch = match &s.batch {
            Some(b) => check_batch(&mut cx, ctx, b, base_batch),
            None => base_batch,
        };
        let mut acls = BTreeMap::new();
        for (resource, path) in &s.acls {
            if !names::acl_resource_ok(resource) {
                cx.error("acl", ctx, path, format!("invalid ACL resource name {resource:?}"), Some("resources look like `lifecycle/CommitChaincodeDefinition` or `peer/Propose`".into()));
            }
            if !path.value.starts_with("/Channel/") {
                cx.error(
                    "acl",
                    ctx,
                    path,
                    format!("ACL policy {:?} is not a channel policy path", path.value),
                    Some("write a path like /Channel/Application/Writers".into()),
                );
            }
            acls.insert(resource.clone(), path.value.clone());
        }
        built_channels.insert(
            name.value.clone(),
            Channel {
                name: name.value.clone(),
                members: members.into_iter().collect(),
                policies,
                capabilities,
                batch,
                acls,
            },
        );
    }
    if let Some((ctx, doc, c)) = &consortium
        && let Some(ops) = built_channels.get(&c.ops_channel)
    {
        for msp in &peer_msps {
            if !ops.members.contains(msp) {
                cx.warn(
                    "ops-member",
                    *ctx,
                    &doc.spec.ops_channel,
                    format!("{msp} is not a member of the ops channel {}", c.ops_channel),
                    Some(format!(
                        "add {msp} to the members of channel {} so it can propose and vote",
                        c.ops_channel
                    )),
                );
            }
        }
    }

    // ---- Chaincodes ----
    let mut built_chaincodes = BTreeMap::new();
    for &(ctx, doc) in &chaincodes {
        let s = &doc.spec;
        let name_spanned = s.name.as_ref().unwrap_or(&doc.metadata.name);
        let cc_name = name_spanned.value.clone();
        if let Err((m, h)) = names::check_chaincode_name(&cc_name) {
            cx.error("chaincode-name", ctx, name_spanned, m, Some(h));
        }
        if let Err((m, h)) = names::check_version(&s.version.value) {
            cx.error("chaincode-version", ctx, &s.version, m, Some(h));
        }
        let channel = built_channels.get(&s.channel.value);
        if channel.is_none() && !cx.incomplete("Channel") {
            cx.error(
                "unknown-reference",
                ctx,
                &s.channel,
                format!("unknown channel {:?}", s.channel.value),
                Some(suggestion(&s.channel.value, &channel_names, "channel")),
            );
        }
        let members: Option<BTreeSet<String>> =
            channel.map(|c| c.members.iter().cloned().collect());
        let label = match &s.package.label {
            Some(l) => {
                if let Err((m, h)) = names::check_label(&l.value) {
                    cx.error("label", ctx, l, m, Some(h));
                }
                l.value.clone()
            }
            None => format!("{}_{}", cc_name, s.version.value),
        };
        let package = match (&s.package.ccaas, &s.package.source) {
            (Some(c), None) => {
                if let Some(a) = &c.artifact
                    && let Err((m, h)) = names::check_artifact(&a.value)
                {
                    cx.error("artifact", ctx, a, m, Some(h));
                }
                PackageSource::Ccaas {
                    artifact: c.artifact.as_ref().map(|a| a.value.clone()),
                    tls: c.tls.as_ref().is_some_and(|t| t.value),
                }
            }
            (None, Some(src)) => {
                if let Err((m, h)) = names::check_commit(&src.commit.value) {
                    cx.error("commit", ctx, &src.commit, m, Some(h));
                }
                let language = src
                    .language
                    .as_ref()
                    .map(|l| l.value.clone())
                    .unwrap_or_else(|| "golang".into());
                if language != "golang" {
                    let at = src
                        .language
                        .as_ref()
                        .expect("non-default language is spanned");
                    cx.error("language", ctx, at, format!("unsupported chaincode language {language:?}"), Some("opssc builds `golang` source packages; use `ccaas` for other languages".into()));
                }
                if src.git.value.trim().is_empty() {
                    cx.error("source", ctx, &src.git, "empty repository URL", None);
                } else if let Err((m, h)) = names::check_repo_url(&src.git.value) {
                    cx.error("source", ctx, &src.git, m, Some(h));
                }
                PackageSource::Source {
                    git: src.git.value.clone(),
                    commit: src.commit.value.clone(),
                    path: src
                        .path
                        .as_ref()
                        .map(|p| p.value.clone())
                        .unwrap_or_default(),
                    language,
                }
            }
            _ => {
                cx.doc_error(
                    "package",
                    ctx,
                    format!("chaincode {cc_name} must name exactly one package source"),
                    "give either `package.ccaas` or `package.source`",
                );
                PackageSource::Ccaas {
                    artifact: None,
                    tls: false,
                }
            }
        };
        let endorsement_policy = s.endorsement_policy.as_ref().and_then(|p| match policy::parse_policy(&p.value, true) {
            Err(e) => {
                cx.policy_error(ctx, p, e);
                None
            }
            Ok(Policy::ImplicitMeta { .. }) => {
                cx.error("policy", ctx, p, "a chaincode endorsement policy cannot be an implicit meta policy", Some("write a signature policy, or reference a channel policy such as /Channel/Application/Endorsement".into()));
                None
            }
            Ok(parsed) => {
                check_principals(&mut cx, ctx, p, &parsed, &all_msps, members.as_ref());
                Some(PolicyText { text: p.value.clone(), parsed })
            }
        });
        let mut collections = Vec::new();
        let mut collection_names = BTreeSet::new();
        for c in &s.collections {
            if !collection_names.insert(c.name.value.clone()) {
                cx.error(
                    "duplicate",
                    ctx,
                    &c.name,
                    format!("collection {:?} is declared twice", c.name.value),
                    None,
                );
            }
            if let Err((m, h)) = names::check_collection_name(&c.name.value) {
                cx.error("collection", ctx, &c.name, m, Some(h));
            }
            let parsed = match policy::parse_signature_policy(&c.policy.value) {
                Err(e) => {
                    cx.policy_error(ctx, &c.policy, e);
                    continue;
                }
                Ok(p) => Policy::Signature(p),
            };
            check_principals(
                &mut cx,
                ctx,
                &c.policy,
                &parsed,
                &all_msps,
                members.as_ref(),
            );
            let required = c.required_peer_count.as_ref().map_or(0, |v| v.value);
            let max = c.max_peer_count.as_ref().map_or(1, |v| v.value);
            if required > max {
                let at = c
                    .required_peer_count
                    .as_ref()
                    .expect("required > default only when given");
                cx.error(
                    "collection",
                    ctx,
                    at,
                    format!("requiredPeerCount {required} is larger than maxPeerCount {max}"),
                    Some("raise maxPeerCount or lower requiredPeerCount".into()),
                );
            }
            collections.push(Collection {
                name: c.name.value.clone(),
                policy: PolicyText {
                    text: c.policy.value.clone(),
                    parsed,
                },
                required_peer_count: required,
                max_peer_count: max,
                block_to_live: c.block_to_live.as_ref().map_or(0, |v| v.value),
                member_only_read: c.member_only_read.as_ref().is_none_or(|v| v.value),
                member_only_write: c.member_only_write.as_ref().is_none_or(|v| v.value),
            });
        }
        let key = (s.channel.value.clone(), cc_name.clone());
        if built_chaincodes.contains_key(&key) {
            cx.error(
                "duplicate",
                ctx,
                name_spanned,
                format!(
                    "chaincode {cc_name} is declared twice on channel {}",
                    s.channel.value
                ),
                Some("one Chaincode document per chaincode and channel".into()),
            );
        }
        built_chaincodes.insert(
            key,
            Chaincode {
                name: cc_name,
                channel: s.channel.value.clone(),
                version: s.version.value.clone(),
                label,
                package,
                endorsement_policy,
                collections,
                init_required: s.init_required.as_ref().is_some_and(|v| v.value),
            },
        );
    }

    // Private keys anywhere in any spec file.
    for file in &loaded.files {
        for (i, line) in file.text.lines().enumerate() {
            if certs::looks_like_private_key(line) {
                cx.report.push(
                    Diagnostic::error("private-key", Position { file: file.display.clone(), line: i as u32 + 1, column: 1 + line.find("-----").unwrap_or(0) as u32 }, "a private key is in the spec")
                        .with_hint("remove it now and rotate the key: the spec is shared with every organization; only certificates and public keys belong here"),
                );
            }
        }
    }

    if cx.report.has_errors() {
        return None;
    }
    let (_, _, consortium) = consortium?;
    Some(Spec {
        root: root.to_path_buf(),
        spec_hash: spec_hash(loaded),
        consortium,
        organizations: built_orgs,
        channels: built_channels,
        chaincodes: built_chaincodes,
    })
}

fn spec_hash(loaded: &Loaded) -> String {
    use sha2::{Digest, Sha256};
    let mut files: Vec<(String, &str)> = loaded
        .files
        .iter()
        .map(|f| (f.display.display().to_string(), f.text.as_str()))
        .collect();
    files.sort();
    let mut h = Sha256::new();
    for (name, text) in files {
        // Only the file name relative to the spec matters, not where it was checked out.
        let relative = name
            .rsplit_once("network-spec/")
            .map_or(name.as_str(), |(_, r)| r)
            .to_string();
        h.update((relative.len() as u64).to_be_bytes());
        h.update(relative.as_bytes());
        h.update((text.len() as u64).to_be_bytes());
        h.update(text.as_bytes());
    }
    hex::encode(h.finalize())
}

fn check_endpoint(
    cx: &mut Ctx,
    ctx: DocCtx,
    at: &Spanned<String>,
    seen: &mut BTreeMap<String, Position>,
) -> Option<Endpoint> {
    match names::parse_endpoint(&at.value) {
        Err((m, h)) => {
            cx.error("endpoint", ctx, at, m, Some(h));
            None
        }
        Ok(e) => {
            let here = cx.pos(ctx, at);
            let key = e.to_string();
            if let Some(first) = seen.get(&key) {
                let hint = format!(
                    "first used at {}:{}:{}",
                    first.file.display(),
                    first.line,
                    first.column
                );
                cx.error(
                    "duplicate",
                    ctx,
                    at,
                    format!("endpoint {key} is used by two nodes"),
                    Some(hint),
                );
            } else {
                seen.insert(key, here);
            }
            Some(e)
        }
    }
}

fn read_cert(cx: &mut Ctx, ctx: DocCtx, source: &CertSource, role: CertRole) -> Option<String> {
    let (pem, at) = match (&source.pem, &source.file) {
        (Some(p), None) => (p.value.clone(), p),
        (None, Some(f)) => {
            let base = cx.loaded.files[ctx.file]
                .path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let path = base.join(&f.value);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    if text.lines().any(certs::looks_like_private_key) {
                        cx.error("private-key", ctx, f, format!("{} holds a private key", f.value), Some("reference only certificates from the spec; remove the key and rotate it".into()));
                        return None;
                    }
                    (text, f)
                }
                Err(e) => {
                    cx.error(
                        "cert-file",
                        ctx,
                        f,
                        format!("cannot read certificate file {:?}: {e}", f.value),
                        Some("paths are relative to the YAML file that names them".into()),
                    );
                    return None;
                }
            }
        }
        (Some(p), Some(_)) => {
            cx.error(
                "cert",
                ctx,
                p,
                "give either `pem` or `file`, not both",
                None,
            );
            return None;
        }
        (None, None) => {
            let pos = cx.loaded.doc_pos(ctx);
            cx.report.push(
                Diagnostic::error(
                    "cert",
                    pos,
                    "a certificate entry has neither `pem` nor `file`",
                )
                .with_hint("write `- file: path/to/cert.pem` or `- pem: |` with the PEM text"),
            );
            return None;
        }
    };
    match certs::check_certificate(&pem, role) {
        Ok(()) => Some(pem),
        Err((m, h)) => {
            cx.error("cert", ctx, at, m, Some(h));
            None
        }
    }
}

fn check_principals(
    cx: &mut Ctx,
    ctx: DocCtx,
    at: &Spanned<String>,
    policy: &Policy,
    all: &BTreeSet<String>,
    members: Option<&BTreeSet<String>>,
) {
    let Policy::Signature(sig) = policy else {
        return;
    };
    for p in sig.principals() {
        let err = if !all.contains(&p.msp_id) && cx.incomplete("Organization") {
            None
        } else if !all.contains(&p.msp_id) {
            Some((
                format!("unknown organization {:?} in policy", p.msp_id),
                suggestion(&p.msp_id, all, "organization"),
            ))
        } else if members.is_some_and(|m| !m.contains(&p.msp_id)) {
            Some((format!("{} is not a member of this channel", p.msp_id), "a policy can only be satisfied by the channel's members; add the org to the channel or remove it from the policy".to_string()))
        } else {
            None
        };
        if let Some((message, hint)) = err {
            cx.policy_error(
                ctx,
                at,
                PolicyError {
                    offset: p.offset + 1,
                    message,
                    hint: Some(hint),
                },
            );
        }
    }
}

/// Warns when the ops channel's `Endorsement`, written as a signature
/// policy, names no principal a member's peer satisfies (`peer` or
/// `member`) for some member: that member's peers'
/// endorsements of OpsSC transactions do not count, and the policy does not
/// follow member changes the way the default (the members' majority spelled
/// out) does.
fn warn_unnamed_members(
    cx: &mut Ctx,
    ctx: DocCtx,
    at: &Spanned<String>,
    policy: &Policy,
    members: &BTreeSet<String>,
) {
    let Policy::Signature(sig) = policy else {
        return;
    };
    let named: BTreeSet<&str> = sig
        .principals()
        .iter()
        .filter(|p| matches!(p.role, policy::Role::Peer | policy::Role::Member))
        .map(|p| p.msp_id.as_str())
        .collect();
    let unnamed: Vec<&str> = members
        .iter()
        .map(String::as_str)
        .filter(|m| !named.contains(m))
        .collect();
    if unnamed.is_empty() {
        return;
    }
    cx.warn(
        "ops-endorsement",
        ctx,
        at,
        format!(
            "the ops channel's Endorsement names no peer of {} (a '.peer' or '.member' principal): the OpsSC does not count endorsements by {} peers",
            unnamed.join(", "),
            if unnamed.len() == 1 { "its" } else { "their" }
        ),
        Some(
            "delete the `Endorsement` line to use the default (a majority of the members' peers, rewritten with every member change), or name every member in it".into(),
        ),
    );
}

fn check_capabilities(
    cx: &mut Ctx,
    ctx: DocCtx,
    caps: Option<&CapabilitiesSpec>,
    fabric: Option<&str>,
) -> Capabilities {
    // An unknown version is reported on the Consortium; judge by 2.5 here.
    let fabric = fabric
        .and_then(crate::FabricVersion::parse)
        .unwrap_or(crate::FabricVersion::V2_5);
    let mut out = Capabilities {
        channel: fabric.default_channel_capability().into(),
        orderer: fabric.default_orderer_capability().into(),
        application: fabric.default_application_capability().into(),
    };
    let Some(caps) = caps else { return out };
    for (value, allowed, slot) in [
        (&caps.channel, CHANNEL_CAPABILITIES, &mut out.channel),
        (&caps.orderer, ORDERER_CAPABILITIES, &mut out.orderer),
        (
            &caps.application,
            APPLICATION_CAPABILITIES,
            &mut out.application,
        ),
    ] {
        let Some(v) = value else { continue };
        if !allowed.contains(&v.value.as_str()) {
            let hint = did_you_mean(&v.value, allowed.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or(format!("supported: {}", allowed.join(", ")));
            cx.error(
                "capability",
                ctx,
                v,
                format!("unsupported capability {:?}", v.value),
                Some(hint),
            );
        } else if v.value == "V3_0" && !fabric.allows_channel_capability("V3_0") {
            cx.error(
                "capability",
                ctx,
                v,
                "capability V3_0 needs a Fabric 3.x network",
                Some("raise `fabricVersion` first, or keep V2_0".into()),
            );
        }
        *slot = v.value.clone();
    }
    out
}

fn check_batch(cx: &mut Ctx, ctx: DocCtx, b: &BatchSpec, base: Batch) -> Batch {
    let mut out = base;
    if let Some(t) = &b.timeout {
        match names::parse_duration_ms(&t.value) {
            Ok(0) => cx.error("batch", ctx, t, "batch timeout must be positive", None),
            Ok(ms) => out.timeout_ms = ms,
            Err(h) => cx.error(
                "duration",
                ctx,
                t,
                format!("invalid duration {:?}", t.value),
                Some(h),
            ),
        }
    }
    if let Some(n) = &b.max_message_count {
        if n.value == 0 {
            cx.error("batch", ctx, n, "maxMessageCount must be at least 1", None);
        }
        out.max_message_count = n.value;
    }
    for (value, slot) in [
        (&b.absolute_max_bytes, &mut out.absolute_max_bytes),
        (&b.preferred_max_bytes, &mut out.preferred_max_bytes),
    ] {
        if let Some(v) = value {
            match names::parse_bytes(&v.value) {
                Ok(0) | Err(_) => cx.error(
                    "batch",
                    ctx,
                    v,
                    format!("invalid size {:?}", v.value),
                    Some("write bytes or with a unit: 512 KB, 10 MB".into()),
                ),
                Ok(n) => *slot = n,
            }
        }
    }
    if out.preferred_max_bytes > out.absolute_max_bytes
        && let Some(v) = b
            .preferred_max_bytes
            .as_ref()
            .or(b.absolute_max_bytes.as_ref())
    {
        cx.error(
            "batch",
            ctx,
            v,
            "preferredMaxBytes is larger than absoluteMaxBytes",
            Some("Fabric rejects such a config; lower preferredMaxBytes".into()),
        );
    }
    out
}

pub use spec::Spec as ValidatedSpec;
