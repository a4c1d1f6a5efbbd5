//! `opssc audit`: who changed what, and who agreed — read from the chain and
//! the spec repository, joined by [`opssc::audit::join`].
//!
//! Reads, as this organization: every proposal of the OpsSC with its votes,
//! signatures and tasks; every block of the ops channel (the block of each
//! recorded transaction) and of each target channel (the `_lifecycle` commit
//! or config block that applied a change); the spec repository's commits the
//! proposals name (the configured git source fetched into
//! `stateDir/audit/spec-mirror`, or the local repository given with
//! `--spec`), with their signatures and approvals. Nothing is written to the
//! chain, so any organization, or an auditor with read access, gets the
//! same answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use git2::{Oid, Repository};
use opssc::agent::context::Context;
use opssc::audit::{
    Admin, ApprovalFact, ChainIndex, ChannelScan, Filter, ProposalFacts, SpecCommit,
};
use opssc::source::{self, Approvals, SpecCache, Via};
use opssc_fabric::deliver::{Deliverer, Seek, Stop};
use opssc_schema::local::SpecSource;

use super::agent::{load_config, runtime};
use crate::cli::PlanFormat;

pub struct Args<'a> {
    pub config: &'a Path,
    pub spec: Option<&'a Path>,
    pub ops_channel: &'a str,
    pub filter: Filter,
    pub format: PlanFormat,
}

pub fn run(a: Args) -> Result<i32> {
    let config = load_config(a.config)?;
    runtime()?.block_on(async move {
        let ctx = Context::connect(config).await?;
        let facts = proposals(&ctx, a.ops_channel).await?;
        let chain = chain_index(&ctx, a.ops_channel, &facts).await?;
        let commits = spec_commits(&ctx, a.spec, &facts)?;
        let audit = opssc::audit::join(&facts, &commits, &chain, &a.filter);
        let out = match a.format {
            PlanFormat::Text => opssc::audit::render_text(&audit),
            PlanFormat::Markdown => opssc::audit::render_markdown(&audit),
            PlanFormat::Json => opssc::audit::render_json(&audit),
        };
        print!("{out}");
        Ok(0)
    })
}

/// Every proposal with what the contract holds about it.
async fn proposals(ctx: &Context, ops_channel: &str) -> Result<Vec<ProposalFacts>> {
    let ops = ctx.ops(ops_channel);
    let mut out = Vec::new();
    for item in ops.list_all().await? {
        let Some(id) = item["id"].as_str() else {
            continue;
        };
        let got = ops.get(id).await?;
        out.push(ProposalFacts {
            proposal: got.proposal,
            votes: ops.votes(id).await?,
            signatures: ops.signatures(id).await?,
            tasks: ops.tasks(id, None).await?,
        });
    }
    Ok(out)
}

/// Every block of `channel` through a peer of this organization, or an
/// orderer when the peers have not joined it.
async fn scan(ctx: &Context, channel: &str) -> Result<(ChannelScan, Vec<(String, u64)>)> {
    let mut sources: Vec<&Deliverer> = ctx.peers.iter().map(|p| &p.deliver).collect();
    sources.extend(ctx.orderers.iter().map(|o| &o.deliver));
    let mut last_error = None;
    for d in sources {
        match scan_with(d, channel).await {
            Ok(s) => return Ok(s),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| anyhow::anyhow!("no peer or orderer configured"))
        .context(format!(
            "cannot read the blocks of channel {channel} from any peer or orderer of the configuration"
        )))
}

async fn scan_with(d: &Deliverer, channel: &str) -> Result<(ChannelScan, Vec<(String, u64)>)> {
    let mut scan = ChannelScan::default();
    let mut ids = Vec::new();
    let mut stream = d.blocks(channel, Seek::Oldest, Stop::Newest).await?;
    while let Some(block) = stream.next().await {
        let block = block?;
        let number = opssc_fabric::block::number(&block);
        for id in opssc::audit::scan_block(&block, &mut scan) {
            ids.push((id, number));
        }
    }
    Ok((scan, ids))
}

async fn chain_index(
    ctx: &Context,
    ops_channel: &str,
    facts: &[ProposalFacts],
) -> Result<ChainIndex> {
    let mut index = ChainIndex {
        ops_channel: ops_channel.to_string(),
        ..Default::default()
    };
    let (ops_scan, ids) = scan(ctx, ops_channel).await?;
    // First valid occurrence wins (a resubmitted ID is refused by Fabric).
    for (id, block) in ids {
        index.ops_blocks.entry(id).or_insert(block);
    }
    index.channels.insert(ops_channel.to_string(), ops_scan);
    let targets: std::collections::BTreeSet<&str> = facts
        .iter()
        .map(|f| f.proposal.target.channel.as_str())
        .collect();
    for ch in targets {
        if index.channels.contains_key(ch) {
            continue;
        }
        match scan(ctx, ch).await {
            Ok((s, _)) => {
                index.channels.insert(ch.to_string(), s);
            }
            // A channel that was never created (a rejected ChannelCreate)
            // or that nobody here can read: its changes stay unknown.
            Err(e) => eprintln!("warning: {e:#}; its changes are reported as not found"),
        }
    }
    Ok(index)
}

/// The spec repository and the directory of the spec in it.
fn open_spec_repo(ctx: &Context, spec: Option<&Path>) -> Result<(Repository, Option<PathBuf>)> {
    let subdir = match &ctx.config.spec {
        Some(SpecSource::Git { path, .. }) => path.clone(),
        _ => None,
    };
    if let Some(dir) = spec {
        let repo = Repository::discover(dir).with_context(|| {
            format!(
                "--spec {}: not a git repository (give a clone of the spec repository)",
                dir.display()
            )
        })?;
        return Ok((repo, subdir));
    }
    match &ctx.config.spec {
        Some(SpecSource::Git { url, branch, .. }) => {
            let mirror = ctx.state_dir.join("audit").join("spec-mirror");
            let source = source::GitSource::open_for(&mirror, url, &ctx.config)?;
            source.fetch(branch)?;
            Ok((Repository::open_bare(&mirror)?, subdir))
        }
        Some(SpecSource::Dir { path }) => {
            let repo = Repository::discover(path).with_context(|| {
                format!(
                    "the spec directory {} is not in a git repository: spec commits cannot be read (pass --spec with a clone)",
                    path.display()
                )
            })?;
            Ok((repo, None))
        }
        None => anyhow::bail!(
            "the agent configuration of {} names no spec source: pass --spec with a clone of the spec repository",
            ctx.me
        ),
    }
}

/// The spec commits the proposals name, as the repository shows them.
fn spec_commits(
    ctx: &Context,
    spec: Option<&Path>,
    facts: &[ProposalFacts],
) -> Result<BTreeMap<String, SpecCommit>> {
    let (repo, subdir) = match open_spec_repo(ctx, spec) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warning: {e:#}; spec commits are reported as not found");
            return Ok(BTreeMap::new());
        }
    };
    let approvals = Approvals::collect(&repo, subdir.as_deref())?;
    let mut specs = SpecCache::new(&repo, subdir.as_deref());
    let mut out = BTreeMap::new();
    for f in facts {
        let hash = &f.proposal.spec_ref.git_commit;
        if out.contains_key(hash) {
            continue;
        }
        let Ok(oid) = Oid::from_str(hash) else {
            continue;
        };
        let Ok(c) = repo.find_commit(oid) else {
            continue;
        };
        let judged_by = c.parent_id(0).unwrap_or(oid);
        // A parent whose spec does not load lists no admin key, and a commit
        // without the spec directory has no tree to approve: such a commit is
        // reported unsigned and unapproved rather than failing the audit.
        let keys = match specs.spec(judged_by) {
            Ok(Some(s)) => source::admin_keys(s),
            _ => Vec::new(),
        };
        let vouchers = match source::spec_tree(&repo, oid, subdir.as_deref()) {
            Ok(tree) => source::vouchers(&repo, oid, tree, &keys, &approvals).0,
            Err(_) => Vec::new(),
        };
        let admin = |org: &str, name: &str| Admin {
            org: org.to_string(),
            name: name.to_string(),
            key: keys
                .iter()
                .find(|k| k.org == org && k.name == name)
                .map(|k| k.key.fingerprint(Default::default()).to_string())
                .unwrap_or_default(),
        };
        let mut signed_by = None;
        let mut approvals_of = Vec::new();
        for v in vouchers {
            match v.via {
                Via::Signature => signed_by = Some(admin(&v.org, &v.name)),
                Via::Approval(a) => approvals_of.push(ApprovalFact {
                    admin: admin(&v.org, &v.name),
                    approval_commit: a.to_string(),
                    at: repo
                        .find_commit(a)
                        .map(|ac| git_time(ac.time().seconds()))
                        .unwrap_or_default(),
                }),
            }
        }
        let message = c.message().unwrap_or("");
        out.insert(
            hash.clone(),
            SpecCommit {
                commit: hash.clone(),
                author: c.author().name().unwrap_or("").to_string(),
                author_email: c.author().email().unwrap_or("").to_string(),
                at: git_time(c.time().seconds()),
                subject: message.lines().next().unwrap_or("").to_string(),
                pull_request: opssc::audit::pull_request_number(message),
                signed_by,
                approvals: approvals_of,
            },
        );
    }
    Ok(out)
}

fn git_time(secs: i64) -> String {
    opssc::agent::status::rfc3339_utc(
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64),
    )
}
