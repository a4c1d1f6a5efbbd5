//! `opssc dev bench`: the lead time of a chaincode rollout through the agents,
//! against its lower bound and against a zero-delay `peer` CLI script, for N
//! organizations (issue 19, "A benchmark harness in the repository").
//!
//! For each N of `--orgs` (default 3, 5, 10) one run:
//! 1. an N-organization variant of the spec ([`n_org_spec`]: every
//!    organization a member of `ops` and `trade`, `kv` on `trade` with the
//!    channel's default MAJORITY endorsement) is started and founded exactly
//!    as `opssc dev up --spec` does ([`opssc::dev::found`], the same
//!    [`super::dev::Processes`]); every organization's agent configuration
//!    gets an `autoApprove` rule for `ChaincodeUpgrade` of `kv` on `trade`
//!    (its standing consent) and a `listen` address; one `opssc agent`
//!    process per organization is started, and the run waits until `kv 1.0`
//!    is committed and every organization is Ready;
//! 2. the round time: a `kv put` submitted alone through Org1's gateway, from
//!    signing until every peer answers the new value (median of
//!    [`ROUND_SAMPLES`]); the lower bound is [`rollout_rounds`] × that time;
//! 3. the idle agents' RSS and CPU over [`IDLE_WINDOW`];
//! 4. **agents**: Org1's admin commits the signed upgrade of `kv` (the
//!    others' auto-approve rules cover it, so the change is consented at that
//!    moment); the clock starts when the commit is written; every agent is
//!    told with `POST /trigger`, so the git poll interval is not measured; the
//!    clock stops when every peer has the new definition committed and `kv`
//!    answers there. `MVCC_READ_CONFLICT`s in the agents' logs written during
//!    the upgrade are counted;
//! 5. the agents are stopped (their PIDs, children of this process) so they do
//!    not restore the spec's definition, and **script**: the next sequence of
//!    `kv` by the real `peer` binary the devnet runs, as a zero-delay script
//!    does it: `approveformyorg` as each organization one after the other,
//!    `commit` (endorsed by a majority's peers), then per peer
//!    `querycommitted` until it shows the new sequence and `chaincode query`.
//!
//! With `--flows add-org` (before the rollouts), for each N: a network of
//! [`add_org_spec`] (a second application channel, two chaincodes on each)
//! whose agents poll every second, its round, then the scenario of `opssc
//! dev demo add-org` (shared code, [`super::dev_add_org::add_org`]; the
//! agents are told with `POST /trigger` once the members' approvals are in
//! git) timed from that consent to its four chaincodes
//! answering on its peer, against [`add_org_rounds`] × the round. Then the agents are
//! stopped and **script** adds the next organization on the same network
//! as an admin does by hand ([`add_org_script`], run by
//! `run_add_org_script`): its nodes started by the demo's own
//! [`super::dev_add_org::start_new_org`] (no agent), then per channel, ops
//! first, `peer channel fetch config`, the new group added, `configtxlator
//! compute_update`, `peer channel signconfigtx` by a majority's admins
//! ([`config_signers`]), `peer channel update`; then `peer channel fetch 0`
//! and `join` per channel, `approveformyorg` of each committed chaincode and
//! `peer chaincode query` on the new peer. The group is built and the
//! update wrapped with the project's configtx code where an admin runs
//! `configtxgen -printOrg`, `jq` and two more configtxlator conversions
//! (milliseconds each, so the figure is the same order).
//!
//! It prints one table ([`render_table`]). Key decisions: the round counting
//! (what the design needs, not what today's agent does), the spec variants,
//! the log timeline and the table are pure functions, unit-tested; the
//! measurement itself needs a devnet and is not part of the test suite; the
//! bench starts and founds its networks through the same code as `opssc dev
//! up` and the demos, so it measures what users run.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use opssc_devnet::founding::{admin, connect};
use opssc_devnet::spec_repo::commit_files;
use opssc_devnet::{Devnet, DevnetOptions, OrgHandle};
use opssc_fabric::deliver::{Deliverer, Seek, Stop};
use opssc_fabric::endorser::Endorser;
use opssc_fabric::gateway::Gateway;
use opssc_fabric::tx::ChaincodeCall;
use opssc_schema::local::{AgentConfig, AutoApproveRule, SpecSource};
use serde_json::{Value, json};

use super::dev_demo::bump_chaincode_document;

/// How many lone transactions give the round time (their median).
pub const ROUND_SAMPLES: usize = 5;
/// How long the idle agents are watched.
pub const IDLE_WINDOW: Duration = Duration::from_secs(10);
/// The chaincode the bench upgrades, and its channel.
const CC: &str = "kv";
const CHANNEL: &str = "trade";

// ------------------------------------------------------------ pure parts

/// `3,5,10` → `[3, 5, 10]`; each between 2 and 20.
pub fn parse_orgs(s: &str) -> anyhow::Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let n: usize = part
            .parse()
            .with_context(|| format!("{part:?} in --orgs is not a number (e.g. --orgs 3,5,10)"))?;
        if !(2..=20).contains(&n) {
            bail!("--orgs {n}: a bench network has 2 to 20 organizations");
        }
        out.push(n);
    }
    if out.is_empty() {
        bail!("--orgs names no organization count (e.g. --orgs 3,5,10)");
    }
    Ok(out)
}

/// One dependent ordered round of a flow, and why it cannot overlap the
/// one before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    pub what: &'static str,
    pub why: &'static str,
}

/// The dependent ordered rounds of a consented chaincode rollout, as the
/// design requires them (the issue's target: no tally round, votes and own
/// approvals together, reports riding along).
pub fn rollout_rounds() -> Vec<Round> {
    vec![
        Round {
            what: "one organization files the ChaincodeUpgrade proposal (and approves its own definition)",
            why: "the others vote on a proposal on the chain, so it must be committed first",
        },
        Round {
            what: "the other organizations vote, each approving its own definition in the same round",
            why: "the vote that reaches the quorum decides; an approval needs no proposal record, but the commit needs the decision",
        },
        Round {
            what: "the executor commits the definition",
            why: "Fabric commits only a definition a majority has approved, and the OpsSC only an approved proposal",
        },
    ]
}

/// The dependent steps of adding an organization to the ops channel and
/// two application channels with two chaincodes each, at the least the
/// design allows with consent kept as strict as it is (each counted as one
/// measured round; the join is not an ordered transaction but waits for one
/// and replays the channel, about as long):
/// 1. file: one member files the OrgAdd of every channel at once;
/// 2. vote: the members vote; the vote that reaches the quorum decides;
/// 3. signatures: each member's admin signs the config updates only after
///    the decision (a signature before it would let an update pass that
///    the consortium has not consented to), and the signatures travel on
///    the chain to the executor;
/// 4. update: the executor submits the config updates of every channel at
///    once. The application channels need not follow the ops channel: each
///    update carries its own signatures and the decision was taken for all
///    of them, so no round is counted for them;
/// 5. join: the new peer fetches each channel's block 0 and joins, which the
///    orderer allows only once the update is in a block;
/// 6. approve: the new organization approves every committed chaincode at
///    once (its peer runs a chaincode only once its organization approved
///    the definition with its package; the approval is endorsed by its own
///    peer, so after the join). Installs wait for nothing and overlap.
pub fn add_org_rounds() -> Vec<Round> {
    vec![
        Round {
            what: "one member files the OrgAdd of every channel the new organization joins",
            why: "the others vote on proposals on the chain",
        },
        Round {
            what: "the members vote; the vote that reaches the quorum decides",
            why: "a vote needs the proposal committed",
        },
        Round {
            what: "the members' admins sign the config updates of every channel",
            why: "consent forbids a signature before the decision; the signatures reach the executor through the chain",
        },
        Round {
            what: "the executor submits the config updates of all channels at once",
            why: "an update needs a majority of signatures; the application channels need not wait for the ops channel",
        },
        Round {
            what: "the new peer fetches block 0 of each channel and joins (not ordered, counted as one round)",
            why: "the orderer serves the channel to the new organization only once the update is in a block",
        },
        Round {
            what: "the new organization approves every committed chaincode at once",
            why: "its peer runs a chaincode only once its organization approved it, and endorses the approval only once joined",
        },
    ]
}

/// The rounds this agent takes today (for the reading, not the bound):
/// propose, vote ∥ each organization's own approval, then the tally and
/// the commit together: votes cast together do not see each other, so
/// none decides, but once they are on the chain their quorum is a fact the
/// tally only records, and the executor-to-be commits beside it
/// (`plan::steps::commit_beside_tally`). The report follows, off the clock.
pub const AGENT_ROUNDS_TODAY: usize = 3;

/// The rounds of the zero-delay script: each organization approves after
/// the previous one (one admin, one terminal), then the commit.
pub fn script_rounds(orgs: usize) -> usize {
    orgs + 1
}

/// One step of the add-org peer-CLI script, as an admin types it (the
/// organization whose admin identity runs it in `as_org`).
#[derive(Debug, Clone, PartialEq)]
pub enum CliStep {
    /// `peer lifecycle chaincode install` of a chaincode's package on the new peer.
    Install { chaincode: String },
    /// `peer channel fetch config`.
    FetchConfig { channel: String, as_org: String },
    /// The new organization's group added to the config, `configtxlator
    /// compute_update`, the update wrapped in a `CONFIG_UPDATE` envelope.
    ComputeUpdate { channel: String },
    /// `peer channel signconfigtx`.
    Sign { channel: String, as_org: String },
    /// `peer channel update` (which adds the submitter's signature).
    Update { channel: String, as_org: String },
    /// `peer channel fetch 0` as the new organization, retried until the
    /// orderer has cut the config block that lets it read the channel.
    FetchGenesis { channel: String },
    /// `peer channel join`.
    Join { channel: String },
    /// `peer lifecycle chaincode querycommitted` on the new peer until it has
    /// caught up with the definition, then `approveformyorg` with it.
    Approve { channel: String, chaincode: String },
    /// `peer chaincode query` on the new peer until it answers.
    Query { channel: String, chaincode: String },
}

/// Who signs a config update of a channel whose application organizations
/// are `members`: the channel's `Application/Admins` policy is the default
/// `MAJORITY Admins`, so ⌊n/2⌋+1 admins. The first (`submitter`) submits
/// with `peer channel update`, which adds its signature; the others sign
/// with `signconfigtx` first. Returns (those who sign first, the submitter).
pub fn config_signers(members: &[String]) -> (Vec<String>, String) {
    let need = members.len() / 2 + 1;
    let mut sorted = members.to_vec();
    sorted.sort();
    let submitter = sorted.first().cloned().unwrap_or_default();
    (
        sorted.into_iter().skip(1).take(need - 1).collect(),
        submitter,
    )
}

/// The add-org script an admin runs with no pause: the packages installed
/// first (nothing waits for them); then each channel one after the other,
/// the ops channel first (`channels[0]`, each with its current application
/// organizations): fetch, compute, the majority's signatures, update; then
/// the new peer fetches each channel's block 0 and joins; then each
/// chaincode (`(channel, name)`) is approved for the new organization and
/// queried on its peer.
pub fn add_org_script(
    channels: &[(String, Vec<String>)],
    chaincodes: &[(String, String)],
) -> Vec<CliStep> {
    let mut steps: Vec<CliStep> = chaincodes
        .iter()
        .map(|(_, cc)| CliStep::Install {
            chaincode: cc.clone(),
        })
        .collect();
    for (ch, members) in channels {
        let (signers, submitter) = config_signers(members);
        steps.push(CliStep::FetchConfig {
            channel: ch.clone(),
            as_org: submitter.clone(),
        });
        steps.push(CliStep::ComputeUpdate {
            channel: ch.clone(),
        });
        for s in signers {
            steps.push(CliStep::Sign {
                channel: ch.clone(),
                as_org: s,
            });
        }
        steps.push(CliStep::Update {
            channel: ch.clone(),
            as_org: submitter,
        });
    }
    for (ch, _) in channels {
        steps.push(CliStep::FetchGenesis {
            channel: ch.clone(),
        });
        steps.push(CliStep::Join {
            channel: ch.clone(),
        });
    }
    for (ch, cc) in chaincodes {
        steps.push(CliStep::Approve {
            channel: ch.clone(),
            chaincode: cc.clone(),
        });
    }
    for (ch, cc) in chaincodes {
        steps.push(CliStep::Query {
            channel: ch.clone(),
            chaincode: cc.clone(),
        });
    }
    steps
}

/// The name of a step's kind (the `peer` subcommand it stands for).
pub fn step_kind(step: &CliStep) -> &'static str {
    match step {
        CliStep::Install { .. } => "install",
        CliStep::FetchConfig { .. } => "fetch config",
        CliStep::ComputeUpdate { .. } => "compute update",
        CliStep::Sign { .. } => "signconfigtx",
        CliStep::Update { .. } => "channel update",
        CliStep::FetchGenesis { .. } => "fetch 0",
        CliStep::Join { .. } => "join",
        CliStep::Approve { .. } => "approveformyorg",
        CliStep::Query { .. } => "query",
    }
}

/// Where a script's time went: from each step's kind and the second it
/// finished (in order), per kind in order of first appearance: (kind, how
/// many steps, seconds spent in them, second the last one finished).
pub fn phases(finished: &[(&'static str, f64)]) -> Vec<(&'static str, usize, f64, f64)> {
    let mut out: Vec<(&'static str, usize, f64, f64)> = Vec::new();
    let mut before = 0.0;
    for &(kind, at) in finished {
        let spent = at - before;
        before = at;
        match out.iter_mut().find(|p| p.0 == kind) {
            Some(p) => {
                p.1 += 1;
                p.2 += spent;
                p.3 = at;
            }
            None => out.push((kind, 1, spent, at)),
        }
    }
    out
}

/// The unsigned `CONFIG_UPDATE` envelope `peer channel signconfigtx` and
/// `update` take, around an encoded `ConfigUpdate` (what an admin builds
/// with `configtxlator proto_decode`, `jq` and `proto_encode`).
pub fn unsigned_update_envelope(channel: &str, config_update: Vec<u8>) -> Vec<u8> {
    use opssc_fabric::protos::common::{
        ChannelHeader, ConfigUpdateEnvelope, Envelope, Header, HeaderType, Payload,
    };
    use prost::Message as _;
    let channel_header = ChannelHeader {
        r#type: HeaderType::ConfigUpdate as i32,
        channel_id: channel.to_string(),
        ..Default::default()
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: Vec::new(),
        }),
        data: ConfigUpdateEnvelope {
            config_update,
            signatures: Vec::new(),
        }
        .encode_to_vec(),
    };
    Envelope {
        payload: payload.encode_to_vec(),
        signature: Vec::new(),
    }
    .encode_to_vec()
}

/// A committed definition as `peer lifecycle chaincode querycommitted
/// --output json` prints it: what `approveformyorg` must repeat.
#[derive(Debug, Clone, PartialEq)]
pub struct CommittedDefinition {
    pub version: String,
    pub sequence: i64,
    pub init_required: bool,
}

/// Reads [`CommittedDefinition`] from `querycommitted --output json`.
pub fn parse_committed(json_text: &str) -> anyhow::Result<CommittedDefinition> {
    let v: Value = serde_json::from_str(json_text)
        .with_context(|| format!("querycommitted printed no JSON: {json_text:?}"))?;
    Ok(CommittedDefinition {
        version: v["version"]
            .as_str()
            .context("querycommitted: no version")?
            .to_string(),
        sequence: v["sequence"]
            .as_i64()
            .context("querycommitted: no sequence")?,
        init_required: v["init_required"].as_bool().unwrap_or(false),
    })
}

/// Seconds since midnight (UTC) of a log line's RFC 3339 timestamp
/// (`2026-12-05T11:02:54.659158Z ...`); `None` for a line without one.
pub fn log_time_of_day(line: &str) -> Option<f64> {
    let t = line.get(11..)?.split('Z').next()?;
    let mut parts = t.splitn(3, ':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    (line.as_bytes().get(10) == Some(&b'T')).then_some(h * 3600.0 + m * 60.0 + s)
}

/// What an agent did after the change, from its log (`msp`, text): every
/// action, failed step and spec move, as (seconds after `t0`, MSP ID,
/// message), in time order. `t0` is seconds since midnight UTC; a line
/// before it (by up to a minute: clock and write order) counts from 0.
pub fn timeline(logs: &[(String, String)], t0: f64) -> Vec<(f64, String, String)> {
    let mut out = Vec::new();
    for (msp, text) in logs {
        for line in text.lines() {
            let Some(t) = log_time_of_day(line) else {
                continue;
            };
            let Some(msg) = line.split_once(": ").map(|(_, m)| m).filter(|m| {
                m.starts_with("acted") || m.starts_with("step failed") || m.contains("moved")
            }) else {
                continue;
            };
            // Across midnight the difference wraps around.
            let d = (t - t0).rem_euclid(86400.0);
            let d = if d > 86400.0 - 60.0 { 0.0 } else { d };
            let msg = msg
                .replace("acted commit=", "")
                .split_once(" action=")
                .map_or(msg.to_string(), |(_, a)| a.to_string());
            out.push((d, msp.clone(), msg));
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// [`timeline`] as text, a line per entry (`+  1.23 s  Org1MSP  message`).
fn timeline_text(logs: &[(String, String)], t0: f64) -> String {
    timeline(logs, t0)
        .into_iter()
        .map(|(d, msp, msg)| format!("+{d:6.2} s  {msp}  {msg}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Seconds since midnight UTC now (the agents' log lines carry UTC times
/// of day: [`log_time_of_day`]).
fn seconds_of_day_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
        .rem_euclid(86400.0)
}

/// The median of `samples` (seconds); `None` for none.
pub fn median(samples: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = samples.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => None,
        n if n % 2 == 1 => Some(s[n / 2]),
        n => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

/// How many read conflicts an agent log reports: MVCC (a key read was
/// written first by another transaction) and phantom (a range read changed),
/// both the same contention between agents.
pub fn count_mvcc(log: &str) -> usize {
    log.matches("MVCC_READ_CONFLICT").count() + log.matches("PHANTOM_READ_CONFLICT").count()
}

/// CPU use in percent of one core: `ticks` of user+system time (at
/// `ticks_per_sec`) over `wall`.
pub fn cpu_percent(ticks: u64, ticks_per_sec: u64, wall: Duration) -> f64 {
    if ticks_per_sec == 0 || wall.is_zero() {
        return 0.0;
    }
    100.0 * ticks as f64 / ticks_per_sec as f64 / wall.as_secs_f64()
}

/// One line of the table. `None`: not measured (the reason is printed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub flow: String,
    pub orgs: usize,
    pub round: Option<f64>,
    pub rounds: usize,
    pub agents: Option<f64>,
    pub script: Option<f64>,
    pub mvcc: Option<usize>,
}

impl Row {
    pub fn lower_bound(&self) -> Option<f64> {
        self.round.map(|r| r * self.rounds as f64)
    }
}

fn secs(v: Option<f64>) -> String {
    v.map_or("–".into(), |s| format!("{s:.2} s"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".into(),
    }
}

/// The result table (Markdown, as docs/BENCHMARKS.md records it).
pub fn render_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| flow | N | lower bound | agents | script | agents / lower bound | agents / script | MVCC conflicts |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let lb = r.lower_bound();
        let bound = match (lb, r.round) {
            (Some(lb), Some(round)) => format!("{lb:.2} s ({} × {round:.2} s)", r.rounds),
            _ => "–".into(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.flow,
            r.orgs,
            bound,
            secs(r.agents),
            secs(r.script),
            ratio(r.agents, lb),
            ratio(r.agents, r.script),
            r.mvcc.map_or("–".into(), |m| m.to_string()),
        ));
    }
    out
}

/// The spec of `base` (relative path → text; `network-spec/`'s files) for
/// `n` peer organizations: `orgs/org<i>.yaml` for each (modelled on Org1's
/// file), every channel with all of them as members, and every chaincode's
/// explicit endorsement policy dropped (it names the reference's three
/// organizations; the channel's MAJORITY default applies instead).
pub fn n_org_spec(base: &[(String, String)], n: usize) -> anyhow::Result<Vec<(String, String)>> {
    let members: Vec<String> = (1..=n).map(|i| format!("Org{i}MSP")).collect();
    let template = base
        .iter()
        .find(|(p, _)| p == "orgs/org1.yaml")
        .map(|(_, t)| t.as_str())
        .context("the base spec has no orgs/org1.yaml to model the organizations on")?;
    let mut out = Vec::new();
    for (path, text) in base {
        if path.starts_with("orgs/org") && path != "orgs/orderer.yaml" {
            continue; // regenerated below
        }
        if !(path.starts_with("channels/") || path.starts_with("chaincodes/")) {
            out.push((path.clone(), text.clone()));
            continue;
        }
        let doc: Value = serde_saphyr::from_str(text)
            .with_context(|| format!("{path} of the base spec does not parse"))?;
        let edited = match doc.get("kind").and_then(Value::as_str) {
            Some("Channel") => {
                let mut doc = doc;
                doc["spec"]["members"] = json!(members);
                Some(doc)
            }
            Some("Chaincode") => {
                let mut doc = doc;
                if let Some(spec) = doc.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("endorsementPolicy");
                }
                Some(doc)
            }
            _ => None,
        };
        let text = match edited {
            Some(doc) => serde_saphyr::to_string(&doc)
                .with_context(|| format!("{path} does not serialize"))?,
            None => text.clone(),
        };
        out.push((path.clone(), text));
    }
    for i in 1..=n {
        let text = template
            .replace("org1", &format!("org{i}"))
            .replace("Org1MSP", &format!("Org{i}MSP"));
        out.push((format!("orgs/org{i}.yaml"), text));
    }
    out.sort();
    Ok(out)
}

/// The add-org bench's spec: [`n_org_spec`] plus a second application
/// channel `market` (`trade`'s settings) and two chaincodes on each
/// application channel (`kv`, `kv2` on `trade`; `mk`, `mk2` on `market`).
pub fn add_org_spec(base: &[(String, String)], n: usize) -> anyhow::Result<Vec<(String, String)>> {
    let mut files = n_org_spec(base, n)?;
    let text_of = |files: &[(String, String)], path: &str| -> anyhow::Result<String> {
        files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, t)| t.clone())
            .with_context(|| format!("the base spec has no {path}"))
    };
    let renamed = |text: &str, name: &str, channel: Option<&str>| -> anyhow::Result<String> {
        let mut doc: Value =
            serde_saphyr::from_str(text).context("a base document does not parse")?;
        doc["metadata"]["name"] = json!(name);
        if let Some(ch) = channel {
            doc["spec"]["channel"] = json!(ch);
        }
        Ok(serde_saphyr::to_string(&doc)?)
    };
    let trade = text_of(&files, "channels/trade.yaml")?;
    let kv = text_of(&files, "chaincodes/kv.yaml")?;
    files.push((
        "channels/market.yaml".into(),
        renamed(&trade, "market", None)?,
    ));
    for (name, channel) in [("kv2", "trade"), ("mk", "market"), ("mk2", "market")] {
        files.push((
            format!("chaincodes/{name}.yaml"),
            renamed(&kv, name, Some(channel))?,
        ));
    }
    files.sort();
    Ok(files)
}

/// The auto-approve rule every organization's agent gets: its standing
/// consent to upgrades of the bench's chaincode.
pub fn bench_rule() -> AutoApproveRule {
    AutoApproveRule {
        name: Some("bench: kv upgrades".into()),
        kinds: vec!["ChaincodeUpgrade".into()],
        channels: vec![CHANNEL.into()],
        chaincodes: vec![CC.into()],
        proposed_by: Vec::new(),
    }
}

// ------------------------------------------------------------ the run

/// What one run of `opssc dev bench` is told.
pub struct BenchOptions {
    pub orgs: Vec<usize>,
    pub spec: PathBuf,
    pub state_dir: PathBuf,
    pub timeout: Duration,
    /// Which flows run.
    pub rollout: bool,
    pub add_org: bool,
}

/// `rollout,add-org` → (rollout, add-org).
pub fn parse_flows(s: &str) -> anyhow::Result<(bool, bool)> {
    let (mut rollout, mut add_org) = (false, false);
    for f in s.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        match f {
            "rollout" => rollout = true,
            "add-org" => add_org = true,
            other => bail!("unknown flow {other:?} in --flows (rollout, add-org)"),
        }
    }
    if !(rollout || add_org) {
        bail!("--flows names no flow (rollout, add-org)");
    }
    Ok((rollout, add_org))
}

/// Idle agents, per organization: (RSS bytes, CPU %).
struct Idle(Vec<(String, u64, f64)>);

/// Runs the bench for every N; prints the table; the exit code.
pub fn run(opts: BenchOptions) -> anyhow::Result<i32> {
    let base = read_spec_dir(&opts.spec)?;
    let mut rows = Vec::new();
    let mut failed = false;
    for &n in &opts.orgs {
        if !opts.add_org {
            continue;
        }
        println!("\n== add-org: {n} organizations + 1 ==");
        match run_add_org(&opts, &base, n) {
            Ok(row) => {
                println!("{}", render_table(std::slice::from_ref(&row)));
                rows.push(row);
            }
            Err(e) => {
                failed = true;
                println!("add-org at {n} organizations: the run failed: {e:#}");
            }
        }
    }
    for &n in &opts.orgs {
        if !opts.rollout {
            continue;
        }
        println!("\n== {n} organizations ==");
        match run_one(&opts, &base, n) {
            Ok((row, idle)) => {
                for (msp, rss, cpu) in &idle.0 {
                    println!(
                        "idle agent {msp}: RSS {:.1} MB, CPU {cpu:.2} % ({} build)",
                        *rss as f64 / 1e6,
                        build_profile()
                    );
                }
                println!("{}", render_table(std::slice::from_ref(&row)));
                rows.push(row);
            }
            Err(e) => {
                failed = true;
                println!("{n} organizations: the run failed: {e:#}");
            }
        }
    }
    let lines: Vec<String> = rollout_rounds()
        .iter()
        .enumerate()
        .map(|(i, r)| format!("  {}. {} ({})", i + 1, r.what, r.why))
        .collect();
    let add: Vec<String> = add_org_rounds()
        .iter()
        .enumerate()
        .map(|(i, r)| format!("  {}. {} ({})", i + 1, r.what, r.why))
        .collect();
    println!(
        "\nAdd-org lower bound = {} dependent ordered rounds × the measured round:\n{}",
        add_org_rounds().len(),
        add.join("\n")
    );
    println!(
        "\nRollout lower bound = {} dependent ordered rounds × the measured round:\n{}\n(this agent takes {AGENT_ROUNDS_TODAY} today; the script takes N approvals + 1 commit, one after the other)\nBuild: {}\n",
        rollout_rounds().len(),
        lines.join("\n"),
        build_profile()
    );
    print!("{}", render_table(&rows));
    Ok(if failed { 1 } else { 0 })
}

/// The first three fields of `/proc/loadavg` ("?" where it cannot be read).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Every `.yaml` file under `dir`, by path relative to it.
fn read_spec_dir(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d)
            .with_context(|| format!("cannot read the spec directory {} (--spec)", d.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let rel = path.strip_prefix(dir)?.to_string_lossy().into_owned();
                out.push((rel, std::fs::read_to_string(&path)?));
            }
        }
    }
    Ok(out)
}

/// The agent processes this bench started; stopped (by their PIDs) on drop.
struct Agents {
    procs: Vec<(String, Child, PathBuf, String)>,
}

impl Agents {
    fn stop(&mut self) {
        for (_, child, _, _) in &mut self.procs {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.procs.clear();
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One organization's admin at its own peer.
struct Admin {
    msp_id: String,
    endorser: Endorser,
    gateway: Gateway,
    deliverer: Deliverer,
}

fn free_address() -> anyhow::Result<String> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .to_string())
}

/// A founded bench network with its agents running.
struct Net {
    root: PathBuf,
    devnet: Devnet,
    founded: opssc_devnet::Founded,
    servers: super::dev::Processes,
    orgs: Vec<OrgHandle>,
    agents: Agents,
}

/// Starts and founds the network of `files` (the spec) in
/// `<state>/<name>`, then one agent per organization (see [`start_agents`]).
fn start_net(
    opts: &BenchOptions,
    files: Vec<(String, String)>,
    name: &str,
    poll_seconds: Option<u64>,
    say: &dyn Fn(&str),
) -> anyhow::Result<Net> {
    let root = std::path::absolute(opts.state_dir.join(name))?;
    if root.exists() {
        std::fs::remove_dir_all(&root)
            .with_context(|| format!("cannot clear {} from an earlier bench", root.display()))?;
    }
    let spec_dir = root.join("spec");
    for (rel, text) in files {
        let path = spec_dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("a file in a directory"))?;
        std::fs::write(&path, text)?;
    }
    let mut dopts = DevnetOptions::from_spec(&spec_dir)?;
    dopts.state_dir = Some(root.join("devnet"));
    dopts.keep_state = true;
    dopts.quiet = true;
    dopts.ready_timeout = Duration::from_secs(120);
    let mut devnet = Devnet::start(dopts)?;
    let n = devnet.orgs().len();
    say(&format!("{n}-organization devnet ready"));
    let mut servers = super::dev::Processes {
        chaincode: super::dev::sibling("opssc-chaincode")?,
        kvcc: super::dev::sibling("kvcc")?,
    };
    let founded = opssc::dev::found(
        &mut devnet,
        &spec_dir,
        &mut servers,
        Duration::from_secs(300),
        say,
    )?;
    say("consortium founded");

    let orgs: Vec<OrgHandle> = devnet.orgs().to_vec();
    let agents = start_agents(&devnet, &orgs, poll_seconds)?;
    say(&format!("{n} agents started"));
    Ok(Net {
        root,
        devnet,
        founded,
        servers,
        orgs,
        agents,
    })
}

/// Each organization's admin at its own peer.
async fn admins(orgs: &[OrgHandle]) -> anyhow::Result<Vec<Admin>> {
    let mut admins = Vec::new();
    for o in orgs {
        let node = connect(&o.peers[0]).await?;
        let signer = admin(o)?;
        admins.push(Admin {
            msp_id: o.msp_id.clone(),
            endorser: Endorser::new(node.clone(), signer.clone()),
            gateway: Gateway::new(node.clone(), signer.clone()),
            deliverer: Deliverer::peer(node, signer),
        });
    }
    Ok(admins)
}

/// The median of [`ROUND_SAMPLES`] lone rounds.
async fn measure_round(admins: &[Admin], say: &dyn Fn(&str)) -> anyhow::Result<f64> {
    let mut samples = Vec::new();
    for i in 0..ROUND_SAMPLES {
        samples.push(round_time(admins, &format!("round{i}")).await?);
    }
    let round = median(&samples).expect("samples");
    say(&format!(
        "one ordered round: median {round:.2} s of {:?}",
        samples
            .iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
    ));
    Ok(round)
}

/// The add-org flow at `n` existing organizations: the network of
/// [`add_org_spec`] with agents polling every second, its round, then the
/// `opssc dev demo add-org` scenario (Org<n+1>'s nodes and agent, the
/// sponsor's and its own signed commits, the members' approvals in git)
/// timed from the last approval (the consent) to the last chaincode
/// answering on its peer.
fn run_add_org(opts: &BenchOptions, base: &[(String, String)], n: usize) -> anyhow::Result<Row> {
    let t0 = Instant::now();
    let say = |m: &str| println!("[{:>6.1} s] {m}", t0.elapsed().as_secs_f64());
    let net = start_net(
        opts,
        add_org_spec(base, n)?,
        &format!("add-org-n{n}"),
        Some(1),
        &say,
    )?;
    opssc_fabric::participation::install_ring_provider();
    let rt = super::agent::runtime()?;
    let round = rt.block_on(async {
        let admins = admins(&net.orgs).await?;
        let configs: Vec<PathBuf> = net.orgs.iter().map(|o| o.agent_config.clone()).collect();
        wait_ready(&admins, &configs, "1.0", opts.timeout).await?;
        say("4 chaincodes committed by the agents, every organization Ready");
        measure_round(&admins, &say).await
    })?;
    drop(rt);
    let state_dir = net.devnet.state_dir().to_path_buf();
    let new_msp = format!("Org{}MSP", n + 1);
    let msps: Vec<String> = net
        .orgs
        .iter()
        .map(|o| o.msp_id.clone())
        .chain(std::iter::once(new_msp))
        .collect();
    let logs: Vec<PathBuf> = msps
        .iter()
        .map(|m| net.devnet.log_path(&format!("agent-{m}")))
        .collect();
    let offsets: Vec<u64> = logs
        .iter()
        .map(|l| std::fs::metadata(l).map_or(0, |m| m.len()))
        .collect();
    say(&format!(
        "load average before the add-org: {}",
        load_average()
    ));
    // Consent is complete once the members' approvals are in git: the
    // agents are told at once, as a push webhook would (the 1 s poll is
    // not measured, as in the rollout).
    let consented_at = std::cell::Cell::new(None);
    let tell_agents = || {
        consented_at.set(Some(seconds_of_day_now()));
        for (msp, _, _, listen) in &net.agents.procs {
            if let Err(e) = trigger(listen) {
                say(&format!("POST /trigger to {msp}'s agent failed: {e:#}"));
            }
        }
    };
    let result = super::dev_add_org::add_org(&state_dir, opts.timeout, n, &tell_agents);
    // What the scenario started (the new organization's peer and servers,
    // recorded in devnet.json, and its agent, in agents.pids) is stopped by
    // those PIDs; the devnet's own processes with it.
    if let Ok(text) = std::fs::read_to_string(state_dir.join("agents.pids")) {
        for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            // SAFETY: kill(2) on a PID this bench's scenario started.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
    // The members' agents too, so nothing but the script acts; then the
    // script adds the next organization on the same network.
    let mut net = net;
    net.agents.stop();
    let script = match &result {
        Ok((0, _)) => {
            say("agents stopped; the peer-CLI script adds the next organization");
            Some(run_add_org_script(
                &net.devnet,
                &state_dir,
                &net.servers.kvcc,
                opts.timeout,
                &say,
            ))
        }
        _ => None,
    };
    let _ = opssc_devnet::cli::stop_recorded(&state_dir, true);
    let (code, took) = result?;
    let script = match script {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            say(&format!("the add-org script failed: {e:#}"));
            None
        }
        None => None,
    };
    let mut mvcc = 0;
    let mut texts = Vec::new();
    for ((log, from), msp) in logs.iter().zip(offsets).zip(&msps) {
        let text = read_from(log, from).unwrap_or_default();
        mvcc += count_mvcc(&text);
        texts.push((msp.clone(), text));
    }
    // What each agent did after the consent, for reading where the time
    // went (the rollout prints its own; this one is longer).
    if let Some(t0) = consented_at.get() {
        let path = net.root.join("add-org-timeline.txt");
        std::fs::write(&path, timeline_text(&texts, t0) + "\n")?;
        say(&format!(
            "the agents' timeline after the consent: {}",
            path.display()
        ));
    }
    if code != 0 {
        bail!(
            "the add-org scenario did not finish (exit {code}); the logs are in {}",
            state_dir.join("logs").display()
        );
    }
    Ok(Row {
        flow: "add-org (2 channels × 2 chaincodes)".into(),
        orgs: n,
        round: Some(round),
        rounds: add_org_rounds().len(),
        agents: took,
        script,
        mvcc: Some(mvcc),
    })
}

fn run_one(
    opts: &BenchOptions,
    base: &[(String, String)],
    n: usize,
) -> anyhow::Result<(Row, Idle)> {
    let t0 = Instant::now();
    let say = |m: &str| println!("[{:>6.1} s] {m}", t0.elapsed().as_secs_f64());
    let Net {
        root,
        devnet,
        founded,
        servers,
        orgs,
        mut agents,
    } = start_net(opts, n_org_spec(base, n)?, &format!("n{n}"), None, &say)?;

    opssc_fabric::participation::install_ring_provider();
    let rt = super::agent::runtime()?;
    let repo_dir = founded.spec_repo.path.clone();
    let key = founded.spec_repo.admin_key("Org1MSP")?;
    let (row, idle, seq) = rt.block_on(async {
        let admins = admins(&orgs).await?;
        let configs: Vec<PathBuf> = orgs.iter().map(|o| o.agent_config.clone()).collect();
        wait_ready(&admins, &configs, "1.0", opts.timeout).await?;
        say("kv 1.0 committed by the agents, every organization Ready");
        let round = measure_round(&admins, &say).await?;

        // Idle agents (a pass may still be finishing: let it).
        tokio::time::sleep(Duration::from_secs(3)).await;
        let cpu_before = descendants_cpu();
        let idle = measure_idle(&agents, IDLE_WINDOW).await?;
        say(&format!(
            "CPU used by the idle network in {} s: {}",
            IDLE_WINDOW.as_secs(),
            cpu_used(&cpu_before, &descendants_cpu())
        ));

        // The upgrade through the agents. The machine's load goes with the
        // figure: on a shared machine it moves them more than anything else.
        say(&format!(
            "load average before the upgrade: {}",
            load_average()
        ));
        let repo = git2::Repository::open(&repo_dir)?;
        let file = "chaincodes/kv.yaml";
        let text = std::fs::read_to_string(repo_dir.join(file))?;
        let (new_text, old, new) = bump_chaincode_document(&text)?;
        let offsets: Vec<u64> = agents
            .procs
            .iter()
            .map(|(_, _, log, _)| std::fs::metadata(log).map_or(0, |m| m.len()))
            .collect();
        commit_files(
            &repo,
            &[(file, Some(&new_text))],
            &format!("kv: upgrade {old} -> {new} (bench)"),
            Some(&key),
        )?;
        let start = Instant::now();
        let cpu_before = descendants_cpu();
        let t0 = seconds_of_day_now();
        for (msp, _, _, listen) in &agents.procs {
            if let Err(e) = trigger(listen) {
                say(&format!("POST /trigger to {msp}'s agent failed: {e:#}"));
            }
        }
        let agents_took = wait_definition(&admins, &new, None, start, opts.timeout).await?;
        let cpu = cpu_used(&cpu_before, &descendants_cpu());
        say(&format!(
            "agents: kv {new} answering on every peer {agents_took:.2} s after the consented commit"
        ));
        say(&format!("CPU used meanwhile: {cpu}"));
        // Let the agents finish the pass that committed (its log lines).
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut mvcc = 0;
        let mut logs = Vec::new();
        for ((msp, _, log, _), from) in agents.procs.iter().zip(&offsets) {
            let text = read_from(log, *from)?;
            let here = count_mvcc(&text);
            mvcc += here;
            if here > 0 {
                say(&format!("{msp}'s agent: {here} MVCC_READ_CONFLICT"));
            }
            logs.push((msp.clone(), text));
        }
        let lines = timeline_text(&logs, t0);
        println!("agents' timeline after the commit (from their logs):\n{lines}");
        std::fs::write(root.join("upgrade-timeline.txt"), lines + "\n")?;
        let seq = opssc_fabric::lifecycle::query_committed(&admins[0].endorser, CHANNEL, CC)
            .await?
            .context("kv has no committed definition after the upgrade")?
            .sequence;
        anyhow::Ok((
            Row {
                flow: "chaincode rollout".into(),
                orgs: n,
                round: Some(round),
                rounds: rollout_rounds().len(),
                agents: Some(agents_took),
                script: None,
                mvcc: Some(mvcc),
            },
            idle,
            seq,
        ))
    })?;
    let mut row = row;

    // The zero-delay peer CLI script, agents stopped.
    agents.stop();
    say("agents stopped (they would restore the spec's definition)");
    let package_id = opssc_devnet::founding::demo_chaincodes(
        &opssc_schema::load_dir(&repo_dir)
            .spec
            .context("the spec repository does not validate")?,
        &servers.kvcc,
        &|_| {},
    )?
    .into_iter()
    .find(|d| d.name == CC)
    .context("no kv demo chaincode in the spec")?
    .package_id;
    let cpu_before = descendants_cpu();
    let script = run_script(&devnet, &orgs, &package_id, seq + 1)?;
    say(&format!(
        "script: sequence {} answering on every peer in {script:.2} s ({} rounds)",
        seq + 1,
        script_rounds(n)
    ));
    say(&format!(
        "CPU used meanwhile: {}",
        cpu_used(&cpu_before, &descendants_cpu())
    ));
    row.script = Some(script);
    drop(devnet);
    Ok((row, idle))
}

/// Gives each organization's agent its auto-approve rule and a listen
/// address, then starts it (`opssc agent`, this executable), logging to
/// `<devnet>/logs/agent-<MSP>.log`.
fn start_agents(
    devnet: &Devnet,
    orgs: &[OrgHandle],
    poll_seconds: Option<u64>,
) -> anyhow::Result<Agents> {
    let exe = std::env::current_exe()?;
    let mut agents = Agents { procs: Vec::new() };
    for o in orgs {
        let path = &o.agent_config;
        let text = std::fs::read_to_string(path)?;
        // Parsed without resolving paths, so the relative paths stay relative.
        let mut config: AgentConfig =
            serde_saphyr::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        config.auto_approve.push(bench_rule());
        if let (Some(every), Some(SpecSource::Git { poll_seconds, .. })) =
            (poll_seconds, config.spec.as_mut())
        {
            *poll_seconds = Some(every);
        }
        let listen = free_address()?;
        config.listen = Some(listen.clone());
        std::fs::write(path, config.to_yaml())?;
        let log = devnet.log_path(&format!("agent-{}", o.msp_id));
        let file = std::fs::File::create(&log)?;
        let child = Command::new(&exe)
            .args(["agent", "--config"])
            .arg(path)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {}'s agent", o.msp_id))?;
        agents.procs.push((o.msp_id.clone(), child, log, listen));
    }
    Ok(agents)
}

/// `POST /trigger` to an agent's listen address (a loopback round trip:
/// blocking is fine, also inside the runtime).
fn trigger(listen: &str) -> anyhow::Result<()> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(listen)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(
        b"POST /trigger HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    let head = String::from_utf8_lossy(&buf[..n]);
    if !head.contains(" 20") {
        bail!("the agent answered {head:?}");
    }
    Ok(())
}

/// The text of `path` from byte `from`.
fn read_from(path: &Path, from: u64) -> anyhow::Result<String> {
    use std::io::Seek as _;
    let mut f = std::fs::File::open(path)?;
    f.seek(std::io::SeekFrom::Start(from))?;
    let mut s = String::new();
    f.read_to_string(&mut s)?;
    Ok(s)
}

/// Waits until `version` of kv is committed on every peer and every
/// organization reports Ready.
async fn wait_ready(
    admins: &[Admin],
    configs: &[PathBuf],
    version: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut ctxs: Vec<Option<opssc::agent::context::Context>> =
        configs.iter().map(|_| None).collect();
    loop {
        let mut done = 0;
        for (config, ctx) in configs.iter().zip(ctxs.iter_mut()) {
            match super::dev_demo::converged(config, ctx, CHANNEL, CC, version).await {
                Ok(true) => done += 1,
                Ok(false) => {}
                Err(_) => *ctx = None,
            }
        }
        if done == admins.len() {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!(
                "only {done} of {} organizations have kv {version} and are Ready after {} s; the agents' logs are in the devnet's logs/",
                admins.len(),
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One lone transaction: from signing until every peer answers its value.
async fn round_time(admins: &[Admin], key: &str) -> anyhow::Result<f64> {
    // Listening before the put: the stream starts at the newest block, so
    // no block between the put and the first check is missed.
    let watches = open_watches(admins).await?;
    let start = Instant::now();
    admins[0]
        .gateway
        .submit_transaction(CHANNEL, CC, "put", [key.as_bytes(), b"bench".as_slice()])
        .await
        .with_context(|| format!("kv put {key}"))?;
    let call = ChaincodeCall::new(CHANNEL, CC, "get", [key]);
    let what = format!("{key} = bench");
    until_on_every_peer(
        watches,
        &what,
        start,
        Duration::from_secs(60),
        move |endorser| {
            let call = call.clone();
            async move { matches!(endorser.query("get", &call).await, Ok(v) if v == b"bench") }
        },
    )
    .await
}

/// Seconds from `start` until every peer has kv `version` (and `sequence`,
/// when given) committed and kv answers there.
async fn wait_definition(
    admins: &[Admin],
    version: &str,
    sequence: Option<i64>,
    start: Instant,
    timeout: Duration,
) -> anyhow::Result<f64> {
    let watches = open_watches(admins).await?;
    let call = ChaincodeCall::new(CHANNEL, CC, "get", ["round0"]);
    let version = version.to_string();
    let what = format!("kv {version}");
    until_on_every_peer(watches, &what, start, timeout, move |endorser| {
        let (call, version) = (call.clone(), version.clone());
        async move {
            let committed = opssc_fabric::lifecycle::query_committed(&endorser, CHANNEL, CC).await;
            let there = matches!(&committed, Ok(Some(d))
                if d.version == version && sequence.is_none_or(|s| d.sequence == s));
            there && endorser.query("get", &call).await.is_ok()
        }
    })
    .await
}

/// One peer's stream of new blocks on the bench channel, and whom to ask.
struct Watch {
    msp_id: String,
    endorser: Endorser,
    blocks: opssc_fabric::deliver::BlockStream,
}

/// A filtered block stream on the bench channel from every peer, from its
/// newest block on.
async fn open_watches(admins: &[Admin]) -> anyhow::Result<Vec<Watch>> {
    let mut watches = Vec::new();
    for a in admins {
        let blocks = a
            .deliverer
            .filtered_blocks(CHANNEL, Seek::Newest, Stop::Never)
            .await
            .with_context(|| format!("block events from {}'s peer", a.msp_id))?;
        watches.push(Watch {
            msp_id: a.msp_id.clone(),
            endorser: a.endorser.clone(),
            blocks,
        });
    }
    Ok(watches)
}

/// How long a peer's check waits for a block before asking again anyway (a
/// chaincode may start answering without a new block).
const RECHECK: Duration = Duration::from_millis(250);

/// Seconds from `start` until `check` holds on every peer. Each peer is
/// asked when it delivers a block, and every [`RECHECK`] without one: the
/// watch must not load the peers it measures. (Asking every peer every
/// 50 ms, as the bench did until the tenth session, was 150–200 queries a
/// second at ten organizations, on the cores the rollout runs on.)
async fn until_on_every_peer<F, Fut>(
    watches: Vec<Watch>,
    what: &str,
    start: Instant,
    timeout: Duration,
    check: F,
) -> anyhow::Result<f64>
where
    F: Fn(Endorser) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let mut waits = tokio::task::JoinSet::new();
    for mut w in watches {
        let (check, what) = (check.clone(), what.to_string());
        waits.spawn(async move {
            loop {
                if check(w.endorser.clone()).await {
                    return Ok(());
                }
                let left = timeout.saturating_sub(start.elapsed());
                if left.is_zero() {
                    bail!(
                        "{what} is not on {}'s peer after {} s; look at the agents' logs",
                        w.msp_id,
                        timeout.as_secs()
                    );
                }
                match tokio::time::timeout(RECHECK.min(left), w.blocks.next_filtered()).await {
                    Ok(Some(Err(e))) => bail!("block events from {}'s peer: {e}", w.msp_id),
                    Ok(None) => bail!("{}'s peer ended its block stream", w.msp_id),
                    Ok(Some(Ok(_))) | Err(_) => {}
                }
            }
        });
    }
    while let Some(r) = waits.join_next().await {
        r??;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// RSS and CPU of every agent over `window`, from `/proc`.
/// What the benchmark reads of one process in `/proc/PID/stat`.
struct ProcStat {
    command: String,
    parent: u32,
    /// User plus system time, in clock ticks.
    cpu_ticks: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself hold spaces.
    let (head, rest) = stat.rsplit_once(')')?;
    let command = head.split_once('(')?.1.to_string();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // After the name: state, ppid, ...; utime and stime are fields 14 and
    // 15 of the line, 12 and 13 here.
    Some(ProcStat {
        command,
        parent: field(1) as u32,
        cpu_ticks: field(11) + field(12),
    })
}

/// CPU ticks used so far by each process below this one (the devnet's
/// nodes, chaincode servers and agents), by process id.
fn descendants_cpu() -> BTreeMap<u32, ProcStat> {
    let all: BTreeMap<u32, ProcStat> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, proc_stat(pid)?)))
        .collect();
    let me = std::process::id();
    let below = |mut pid: u32| {
        while let Some(p) = all.get(&pid) {
            if p.parent == me {
                return true;
            }
            if p.parent <= 1 {
                return false;
            }
            pid = p.parent;
        }
        false
    };
    let keep: Vec<u32> = all.keys().copied().filter(|p| below(*p)).collect();
    let mut all = all;
    all.retain(|pid, _| keep.contains(pid));
    all
}

/// CPU seconds each kind of process (by command name) used between two
/// [`descendants_cpu`] readings, most first.
fn cpu_used(before: &BTreeMap<u32, ProcStat>, after: &BTreeMap<u32, ProcStat>) -> String {
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut by_command: BTreeMap<&str, u64> = BTreeMap::new();
    for (pid, p) in after {
        let was = before.get(pid).map_or(0, |b| b.cpu_ticks);
        *by_command.entry(&p.command).or_default() += p.cpu_ticks.saturating_sub(was);
    }
    let mut used: Vec<(&str, u64)> = by_command.into_iter().filter(|(_, t)| *t > 0).collect();
    used.sort_by_key(|u| std::cmp::Reverse(u.1));
    used.iter()
        .map(|(c, t)| format!("{c} {:.2} s", *t as f64 / hz))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn measure_idle(agents: &Agents, window: Duration) -> anyhow::Result<Idle> {
    let ticks = |pid: u32| -> anyhow::Result<u64> {
        Ok(proc_stat(pid)
            .with_context(|| format!("read /proc/{pid}/stat"))?
            .cpu_ticks)
    };
    let rss = |pid: u32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .map_or(0, |kb| kb * 1024)
    };
    let before: Vec<u64> = agents
        .procs
        .iter()
        .map(|(_, c, _, _)| ticks(c.id()))
        .collect::<anyhow::Result<_>>()?;
    let t = Instant::now();
    tokio::time::sleep(window).await;
    let wall = t.elapsed();
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let mut out = Vec::new();
    for ((msp, c, _, _), b) in agents.procs.iter().zip(before) {
        let after = ticks(c.id())?;
        out.push((
            msp.clone(),
            rss(c.id()),
            cpu_percent(after.saturating_sub(b), hz, wall),
        ));
    }
    Ok(Idle(out))
}

/// The zero-delay script with the real `peer` binary: approve as each
/// organization in turn, commit, then per peer `querycommitted` until the
/// sequence shows and a `chaincode query`. Its seconds.
fn run_script(
    devnet: &Devnet,
    orgs: &[OrgHandle],
    package_id: &str,
    sequence: i64,
) -> anyhow::Result<f64> {
    let peer_bin = &devnet.bin().peer;
    let orderer = &devnet.orderers()[0];
    let seq = sequence.to_string();
    let version = format!("script{sequence}");
    let ca = orderer.tls_ca_cert.to_string_lossy().into_owned();
    let ord = [
        "-o",
        orderer.address.as_str(),
        "--ordererTLSHostnameOverride",
        orderer.host.as_str(),
        "--tls",
        "--cafile",
        ca.as_str(),
    ];
    let peer = |o: &OrgHandle, args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(peer_bin)
            .envs(devnet.peer_cli_env(o, &o.peers[0]))
            .args(args)
            .output()
            .with_context(|| format!("running {}", peer_bin.display()))?;
        if !out.status.success() {
            bail!(
                "peer {} as {} failed: {}",
                args.join(" "),
                o.msp_id,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    };
    let start = Instant::now();
    for o in orgs {
        let mut args = vec!["lifecycle", "chaincode", "approveformyorg"];
        args.extend_from_slice(&ord);
        args.extend_from_slice(&[
            "--channelID",
            CHANNEL,
            "--name",
            CC,
            "--version",
            &version,
            "--package-id",
            package_id,
            "--sequence",
            &seq,
        ]);
        peer(o, &args)?;
    }
    let mut args = vec!["lifecycle", "chaincode", "commit"];
    args.extend_from_slice(&ord);
    args.extend_from_slice(&[
        "--channelID",
        CHANNEL,
        "--name",
        CC,
        "--version",
        &version,
        "--sequence",
        &seq,
    ]);
    let endorsers: Vec<(String, String)> = orgs
        .iter()
        .take(orgs.len() / 2 + 1)
        .map(|o| {
            (
                o.peers[0].address.clone(),
                o.peers[0].tls_ca_cert.to_string_lossy().into_owned(),
            )
        })
        .collect();
    for (addr, cert) in &endorsers {
        args.extend_from_slice(&["--peerAddresses", addr, "--tlsRootCertFiles", cert]);
    }
    peer(&orgs[0], &args)?;
    let want = format!("Sequence: {sequence},");
    for o in orgs {
        loop {
            let out = peer(
                o,
                &[
                    "lifecycle",
                    "chaincode",
                    "querycommitted",
                    "--channelID",
                    CHANNEL,
                    "--name",
                    CC,
                ],
            )?;
            if out.contains(&want) {
                break;
            }
            if start.elapsed() > Duration::from_secs(120) {
                bail!(
                    "{}'s peer does not show sequence {sequence}: {out}",
                    o.msp_id
                );
            }
        }
        peer(
            o,
            &[
                "chaincode",
                "query",
                "--channelID",
                CHANNEL,
                "--name",
                CC,
                "--ctor",
                r#"{"Args":["get","round0"]}"#,
            ],
        )?;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// The add-org peer-CLI script on the network in `state_dir` (the agents
/// stopped): the next organization's nodes started as `opssc dev demo
/// add-org` starts them, without its agent, then [`add_org_script`] run with
/// the real `peer` and `configtxlator` binaries. The seconds from the first
/// step after the nodes are up (the agents' clock also starts with the nodes
/// running) to the last chaincode answering on the new peer.
fn run_add_org_script(
    devnet: &Devnet,
    state_dir: &Path,
    kvcc: &Path,
    timeout: Duration,
    say: &dyn Fn(&str),
) -> anyhow::Result<f64> {
    use opssc_devnet::state::StateFile;
    use opssc_fabric::configtx::{ChannelConfig, MspDefinition, Organization, edit};
    use prost::Message as _;

    let mut state = StateFile::load(state_dir)?;
    let founded = state
        .founded
        .clone()
        .context("the bench network was not founded from a spec")?;
    let layout = opssc_devnet::layout::Layout::new(&state.state_dir);
    let spec = opssc_schema::load_dir(&founded.spec_repo.path)
        .spec
        .context("the spec repository does not validate")?;
    let existing: Vec<String> = state.plan.orgs.iter().map(|o| o.msp_id.clone()).collect();
    let def = super::dev_add_org::next_org(&existing);
    let new = super::dev_add_org::start_new_org(&mut state, &layout, &def, &spec, say)?;
    let org = new.org;
    let orgs: Vec<OrgHandle> = state.plan.orgs.clone();
    let handle = |msp: &str| -> anyhow::Result<&OrgHandle> {
        orgs.iter()
            .find(|o| o.msp_id == msp)
            .with_context(|| format!("the devnet has no organization {msp}"))
    };
    let bin = devnet.bin();
    let orderer = &devnet.orderers()[0];
    let ca = orderer.tls_ca_cert.to_string_lossy().into_owned();
    let ord = [
        "-o".to_string(),
        orderer.address.clone(),
        "--ordererTLSHostnameOverride".into(),
        orderer.host.clone(),
        "--tls".into(),
        "--cafile".into(),
        ca,
    ];
    let work = state_dir.join(format!("script-{}", def.name));
    std::fs::create_dir_all(&work)?;
    let file = |name: String| work.join(name).to_string_lossy().into_owned();
    // One CLI run; its stdout, or why it failed.
    let run =
        |program: &Path, env: Option<&OrgHandle>, args: &[String]| -> anyhow::Result<String> {
            let mut cmd = Command::new(program);
            if let Some(o) = env {
                cmd.envs(devnet.peer_cli_env(o, &o.peers[0]));
            }
            let out = cmd
                .args(args)
                .output()
                .with_context(|| format!("running {}", program.display()))?;
            if !out.status.success() {
                bail!(
                    "{} {} failed: {}",
                    program.display(),
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
    let args = |a: &[&str]| -> Vec<String> { a.iter().map(|s| s.to_string()).collect() };
    let with_ord = |a: &[&str]| -> Vec<String> {
        let mut v = args(a);
        v.extend(ord.iter().cloned());
        v
    };

    // The new organization's group, as `configtxgen -printOrg` would give it
    // (the project's configtx code instead of configtxgen and jq).
    let port: u16 = org.peers[0]
        .address
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .context("the new peer's address has no port")?;
    let new_group =
        Organization::application(MspDefinition::from_msp_dir(&org.msp_id, &org.msp_dir)?)?
            .with_anchor_peers(&[("127.0.0.1", port)]);

    // The channels with their members now, ops first; the demo chaincodes.
    let mut channel_names: Vec<String> = spec.channels.keys().cloned().collect();
    channel_names.sort_by_key(|c| (c != &founded.ops_channel, c.clone()));
    let admin_org = handle(super::dev_add_org::SPONSOR)?;
    let mut channels = Vec::new();
    for ch in &channel_names {
        let block = file(format!("{ch}-members.pb"));
        let a = with_ord(&["channel", "fetch", "config", &block, "-c", ch]);
        run(&bin.peer, Some(admin_org), &a)?;
        let members =
            ChannelConfig::from_block_bytes(&std::fs::read(&block)?)?.application_msp_ids();
        channels.push((ch.clone(), members));
    }
    let demos = opssc_devnet::founding::demo_chaincodes(&spec, kvcc, &|_| {})?;
    let chaincodes: Vec<(String, String)> = demos
        .iter()
        .map(|d| (d.channel.clone(), d.name.clone()))
        .collect();
    let packages: std::collections::BTreeMap<String, String> = demos
        .iter()
        .map(|d| -> anyhow::Result<(String, String)> {
            let pkg = opssc_fabric::package::ccaas_package(
                &d.label,
                &opssc_fabric::package::Connection::plaintext(&d.template),
            )?;
            let path = file(format!("{}.tgz", d.name));
            std::fs::write(&path, pkg)?;
            Ok((d.name.clone(), path))
        })
        .collect::<anyhow::Result<_>>()?;
    let package_ids: std::collections::BTreeMap<String, String> = demos
        .iter()
        .map(|d| (d.name.clone(), d.package_id.clone()))
        .collect();
    let steps = add_org_script(&channels, &chaincodes);
    say(&format!(
        "script: {} steps ({} channels, {} chaincodes), {} nodes up, no agent",
        steps.len(),
        channels.len(),
        chaincodes.len(),
        org.msp_id
    ));

    let start = Instant::now();
    let late = |what: &str| -> anyhow::Result<()> {
        if start.elapsed() > timeout {
            bail!("script: {what} after {} s", timeout.as_secs());
        }
        Ok(())
    };
    let mut finished = Vec::new();
    for step in &steps {
        match step {
            CliStep::Install { chaincode } => {
                run(
                    &bin.peer,
                    Some(&org),
                    &args(&["lifecycle", "chaincode", "install", &packages[chaincode]]),
                )?;
            }
            CliStep::FetchConfig { channel, as_org } => {
                let block = file(format!("{channel}-config.pb"));
                run(
                    &bin.peer,
                    Some(handle(as_org)?),
                    &with_ord(&["channel", "fetch", "config", &block, "-c", channel]),
                )?;
            }
            CliStep::ComputeUpdate { channel } => {
                let config = ChannelConfig::from_block_bytes(&std::fs::read(file(format!(
                    "{channel}-config.pb"
                )))?)?;
                let updated = edit::add_application_org(&config, &new_group)?;
                let (orig, modified, update) = (
                    file(format!("{channel}-original.pb")),
                    file(format!("{channel}-modified.pb")),
                    file(format!("{channel}-update.pb")),
                );
                std::fs::write(&orig, config.to_proto().encode_to_vec())?;
                std::fs::write(&modified, updated.to_proto().encode_to_vec())?;
                run(
                    &bin.configtxlator,
                    None,
                    &args(&[
                        "compute_update",
                        "--channel_id",
                        channel,
                        "--original",
                        &orig,
                        "--updated",
                        &modified,
                        "--output",
                        &update,
                    ]),
                )?;
                std::fs::write(
                    file(format!("{channel}-envelope.pb")),
                    unsigned_update_envelope(channel, std::fs::read(&update)?),
                )?;
            }
            CliStep::Sign { channel, as_org } => {
                run(
                    &bin.peer,
                    Some(handle(as_org)?),
                    &args(&[
                        "channel",
                        "signconfigtx",
                        "-f",
                        &file(format!("{channel}-envelope.pb")),
                    ]),
                )?;
            }
            CliStep::Update { channel, as_org } => {
                run(
                    &bin.peer,
                    Some(handle(as_org)?),
                    &with_ord(&[
                        "channel",
                        "update",
                        "-f",
                        &file(format!("{channel}-envelope.pb")),
                        "-c",
                        channel,
                    ]),
                )?;
            }
            CliStep::FetchGenesis { channel } => {
                let block = file(format!("{channel}-0.pb"));
                let a = with_ord(&["channel", "fetch", "0", &block, "-c", channel]);
                while let Err(e) = run(&bin.peer, Some(&org), &a) {
                    late(&format!("{} cannot read {channel}: {e:#}", org.msp_id))?;
                }
            }
            CliStep::Join { channel } => {
                run(
                    &bin.peer,
                    Some(&org),
                    &args(&["channel", "join", "-b", &file(format!("{channel}-0.pb"))]),
                )?;
            }
            CliStep::Approve { channel, chaincode } => {
                let q = args(&[
                    "lifecycle",
                    "chaincode",
                    "querycommitted",
                    "--channelID",
                    channel,
                    "--name",
                    chaincode,
                    "--output",
                    "json",
                ]);
                let committed = loop {
                    match run(&bin.peer, Some(&org), &q).and_then(|o| parse_committed(&o)) {
                        Ok(d) => break d,
                        Err(e) => late(&format!(
                            "{chaincode} is not committed on {}'s peer: {e:#}",
                            org.msp_id
                        ))?,
                    }
                };
                let seq = committed.sequence.to_string();
                let mut a = with_ord(&[
                    "lifecycle",
                    "chaincode",
                    "approveformyorg",
                    "--channelID",
                    channel,
                    "--name",
                    chaincode,
                    "--version",
                    &committed.version,
                    "--package-id",
                    &package_ids[chaincode],
                    "--sequence",
                    &seq,
                ]);
                if committed.init_required {
                    a.push("--init-required".into());
                }
                run(&bin.peer, Some(&org), &a)?;
            }
            CliStep::Query { channel, chaincode } => {
                let a = args(&[
                    "chaincode",
                    "query",
                    "--channelID",
                    channel,
                    "--name",
                    chaincode,
                    "--ctor",
                    r#"{"Args":["put","bench","script"]}"#,
                ]);
                while let Err(e) = run(&bin.peer, Some(&org), &a) {
                    late(&format!(
                        "{channel}/{chaincode} does not answer on {}'s peer: {e:#}",
                        org.msp_id
                    ))?;
                }
            }
        }
        finished.push((step_kind(step), start.elapsed().as_secs_f64()));
    }
    say(&format!(
        "script: where the time went (step kind: its steps' seconds, done at): {}",
        phases(&finished)
            .iter()
            .map(|(k, n, spent, at)| format!("{k} ×{n} {spent:.2} s (at {at:.2} s)"))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    let took = start.elapsed().as_secs_f64();
    say(&format!(
        "script: {} in {} channels, {} chaincodes answering on its peer, in {took:.2} s",
        org.msp_id,
        channels.len(),
        chaincodes.len()
    ));
    Ok(took)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(String, String)> {
        read_spec_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec")).unwrap()
    }

    #[test]
    fn the_rollout_counts_three_dependent_rounds() {
        let r = rollout_rounds();
        assert_eq!(r.len(), 3);
        assert!(r[0].what.contains("files"));
        assert!(r[2].what.contains("commits"));
        // The agent now takes the bound's rounds: the tally rides with the
        // commit.
        assert_eq!(AGENT_ROUNDS_TODAY, r.len());
        assert_eq!(script_rounds(3), 4);
        assert_eq!(script_rounds(10), 11);
    }

    fn msps(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("Org{i}MSP")).collect()
    }

    #[test]
    fn a_config_update_gets_a_majority_of_admins() {
        let (first, submitter) = config_signers(&msps(4));
        assert_eq!(submitter, "Org1MSP");
        // 3 of 4: two sign first, the submitter's update adds the third.
        assert_eq!(first, vec!["Org2MSP", "Org3MSP"]);
        let (first, _) = config_signers(&msps(3));
        assert_eq!(first, vec!["Org2MSP"]);
        let (first, _) = config_signers(&msps(11));
        assert_eq!(first.len(), 5);
        // Whatever order the config lists them in.
        let (first, submitter) = config_signers(&["Org2MSP".into(), "Org1MSP".into()]);
        assert_eq!(
            (first, submitter.as_str()),
            (vec!["Org2MSP".to_string()], "Org1MSP")
        );
    }

    #[test]
    fn the_script_updates_every_channel_before_the_new_peer_joins() {
        let channels = vec![
            ("ops".to_string(), msps(4)),
            ("market".to_string(), msps(4)),
            ("trade".to_string(), msps(4)),
        ];
        let ccs = vec![
            ("market".to_string(), "mk".to_string()),
            ("trade".to_string(), "kv".to_string()),
        ];
        let steps = add_org_script(&channels, &ccs);
        let pos = |want: &CliStep| steps.iter().position(|s| s == want).unwrap();
        let ch = |c: &str| c.to_string();
        // Installs first: nothing waits for them.
        assert!(matches!(steps[0], CliStep::Install { .. }));
        assert!(matches!(steps[1], CliStep::Install { .. }));
        // Per channel: fetch, compute, two signatures, update; ops first.
        assert_eq!(
            steps[2..7].to_vec(),
            vec![
                CliStep::FetchConfig {
                    channel: ch("ops"),
                    as_org: ch("Org1MSP")
                },
                CliStep::ComputeUpdate { channel: ch("ops") },
                CliStep::Sign {
                    channel: ch("ops"),
                    as_org: ch("Org2MSP")
                },
                CliStep::Sign {
                    channel: ch("ops"),
                    as_org: ch("Org3MSP")
                },
                CliStep::Update {
                    channel: ch("ops"),
                    as_org: ch("Org1MSP")
                },
            ]
        );
        let last_update = pos(&CliStep::Update {
            channel: ch("trade"),
            as_org: ch("Org1MSP"),
        });
        let first_fetch = pos(&CliStep::FetchGenesis { channel: ch("ops") });
        assert!(last_update < first_fetch);
        for (c, cc) in &ccs {
            let join = pos(&CliStep::Join { channel: c.clone() });
            let approve = pos(&CliStep::Approve {
                channel: c.clone(),
                chaincode: cc.clone(),
            });
            let query = pos(&CliStep::Query {
                channel: c.clone(),
                chaincode: cc.clone(),
            });
            assert!(join < approve && approve < query, "{c}/{cc}");
        }
        assert_eq!(steps.len(), 2 + 3 * 5 + 3 * 2 + 2 * 2);
    }

    #[test]
    fn the_update_envelope_is_a_config_update_for_its_channel() {
        use opssc_fabric::protos::common::{
            ChannelHeader, ConfigUpdateEnvelope, Envelope, HeaderType, Payload,
        };
        use prost::Message as _;
        let bytes = unsigned_update_envelope("trade", vec![1, 2, 3]);
        let env = Envelope::decode(bytes.as_slice()).unwrap();
        let payload = Payload::decode(env.payload.as_slice()).unwrap();
        let header =
            ChannelHeader::decode(payload.header.unwrap().channel_header.as_slice()).unwrap();
        assert_eq!(header.r#type, HeaderType::ConfigUpdate as i32);
        assert_eq!(header.channel_id, "trade");
        let inner = ConfigUpdateEnvelope::decode(payload.data.as_slice()).unwrap();
        assert_eq!(inner.config_update, vec![1, 2, 3]);
        assert!(inner.signatures.is_empty());
    }

    #[test]
    fn querycommitted_json_gives_what_approve_repeats() {
        let out = r#"{"sequence":2,"version":"1.1","endorsement_plugin":"escc","validation_plugin":"vscc","validation_parameter":"EiAvQ2hhbm5lbC9BcHBsaWNhdGlvbi9FbmRvcnNlbWVudA==","collections":{},"approvals":{"Org1MSP":true}}"#;
        assert_eq!(
            parse_committed(out).unwrap(),
            CommittedDefinition {
                version: "1.1".into(),
                sequence: 2,
                init_required: false
            }
        );
        let init = r#"{"sequence":1,"version":"1.0","init_required":true}"#;
        assert!(parse_committed(init).unwrap().init_required);
        assert!(parse_committed("Error: not found").is_err());
        assert!(parse_committed(r#"{"version":"1.0"}"#).is_err());
    }

    #[test]
    fn the_add_org_bound_counts_signatures_after_the_decision() {
        let r = add_org_rounds();
        assert_eq!(r.len(), 6);
        let vote = r.iter().position(|x| x.what.contains("vote")).unwrap();
        let sign = r
            .iter()
            .position(|x| x.what.contains("admins sign"))
            .unwrap();
        let join = r.iter().position(|x| x.what.contains("block 0")).unwrap();
        let approve = r.iter().position(|x| x.what.contains("approves")).unwrap();
        assert!(vote < sign && sign < join && join < approve);
    }

    #[test]
    fn the_script_time_adds_up_per_kind() {
        let p = phases(&[
            ("install", 0.5),
            ("fetch config", 0.7),
            ("channel update", 1.0),
            ("fetch config", 1.1),
            ("channel update", 1.5),
        ]);
        assert_eq!(p.len(), 3);
        assert_eq!((p[0].0, p[0].1), ("install", 1));
        assert!((p[1].2 - 0.3).abs() < 1e-9 && p[1].3 == 1.1, "{p:?}");
        assert!((p[2].2 - 0.7).abs() < 1e-9 && p[2].3 == 1.5, "{p:?}");
        let total: f64 = p.iter().map(|x| x.2).sum();
        assert!((total - 1.5).abs() < 1e-9);
        assert!(phases(&[]).is_empty());
        assert_eq!(
            step_kind(&CliStep::Join {
                channel: "ops".into()
            }),
            "join"
        );
    }

    #[test]
    fn orgs_lists_parse_and_bad_ones_say_so() {
        assert_eq!(parse_orgs("3,5,10").unwrap(), vec![3, 5, 10]);
        assert_eq!(parse_orgs(" 4 ").unwrap(), vec![4]);
        assert!(parse_orgs("3,x").is_err());
        assert!(parse_orgs("1").is_err());
        assert!(parse_orgs("21").is_err());
        assert!(parse_orgs(",").is_err());
    }

    #[test]
    fn medians_mvcc_and_cpu() {
        assert_eq!(median(&[0.5, 0.1, 0.3]), Some(0.3));
        assert_eq!(median(&[0.4, 0.2]), Some(0.30000000000000004));
        assert_eq!(median(&[]), None);
        let log = "WARN vote failed: MVCC_READ_CONFLICT\nINFO ok\nWARN tally: status MVCC_READ_CONFLICT (11)\n";
        assert_eq!(count_mvcc(log), 2);
        assert_eq!(count_mvcc("WARN tally: PHANTOM_READ_CONFLICT (12)"), 1);
        assert_eq!(count_mvcc("INFO nothing"), 0);
        assert!((cpu_percent(5, 100, Duration::from_secs(10)) - 0.5).abs() < 1e-9);
        assert_eq!(cpu_percent(5, 0, Duration::from_secs(10)), 0.0);
    }

    #[test]
    fn the_timeline_counts_from_the_commit() {
        let org1 = "2026-12-05T11:02:54.663695Z  WARN opssc::agent::daemon: step failed; it is retried error=x: MVCC_READ_CONFLICT\n\
                    2026-12-05T11:02:55.000000Z  INFO opssc::agent::daemon: observed 10 things\n\
                    not a log line\n";
        let org3 = "2026-12-05T11:02:54.662156Z  INFO opssc::agent::daemon: acted commit=dc92 action=trade/kv: filed proposal 57ed\n";
        let t0 = 11.0 * 3600.0 + 2.0 * 60.0 + 53.5;
        let t = timeline(
            &[
                ("Org1MSP".into(), org1.into()),
                ("Org3MSP".into(), org3.into()),
            ],
            t0,
        );
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(t[0].1, "Org3MSP");
        assert_eq!(t[0].2, "trade/kv: filed proposal 57ed");
        assert!((t[0].0 - 1.162156).abs() < 1e-6, "{}", t[0].0);
        assert!(t[1].2.starts_with("step failed"));
        // A line a moment before the clock started counts from 0; midnight wraps.
        assert_eq!(timeline(&[("A".into(), org3.into())], t0 + 2.0)[0].0, 0.0);
        let late = "2026-12-06T00:00:01.000000Z  INFO x: acted commit=1 action=a\n";
        assert!((timeline(&[("A".into(), late.into())], 86399.0)[0].0 - 2.0).abs() < 1e-9);
        assert_eq!(log_time_of_day("2026-12-05 11:02:54Z x"), None);
    }

    #[test]
    fn the_add_org_spec_has_two_channels_of_two_chaincodes() {
        let files = add_org_spec(&base(), 3).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in &files {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let loaded = opssc_schema::load_dir(dir.path());
        let errors: Vec<String> = loaded.report.errors().map(|e| e.render()).collect();
        let spec = loaded.spec.unwrap_or_else(|| panic!("{errors:#?}"));
        for ch in ["trade", "market"] {
            let mut on: Vec<&str> = spec
                .chaincodes
                .values()
                .filter(|c| c.channel == ch)
                .map(|c| c.name.as_str())
                .collect();
            on.sort();
            assert_eq!(on.len(), 2, "{ch}: {on:?}");
            assert_eq!(spec.channels[ch].members.len(), 3);
        }
        assert_eq!(add_org_rounds().len(), 6);
        assert_eq!(parse_flows("rollout,add-org").unwrap(), (true, true));
        assert_eq!(parse_flows("add-org").unwrap(), (false, true));
        assert!(parse_flows("remove-org").is_err());
        assert!(parse_flows("").is_err());
    }

    #[test]
    fn the_subcommand_defaults_to_a_quick_rollout_bench() {
        use crate::cli::{Cli, Command, DevCommand};
        use clap::Parser;
        let parse = |args: &[&str]| {
            let mut all = vec!["opssc", "dev", "bench"];
            all.extend_from_slice(args);
            match Cli::try_parse_from(all).map(|c| c.command) {
                Ok(Command::Dev {
                    cmd:
                        DevCommand::Bench {
                            orgs,
                            flows,
                            state_dir,
                            timeout,
                            ..
                        },
                }) => Some((orgs, flows, state_dir, timeout)),
                _ => None,
            }
        };
        let (orgs, flows, state_dir, timeout) = parse(&[]).unwrap();
        assert_eq!(parse_orgs(&orgs).unwrap(), vec![3, 5, 10]);
        assert_eq!(parse_flows(&flows).unwrap(), (true, false));
        assert_eq!(state_dir, Path::new(".opssc-bench"));
        assert_eq!(timeout, 300);
        let (orgs, flows, ..) = parse(&["--orgs", "3", "--flows", "rollout,add-org"]).unwrap();
        assert_eq!(parse_orgs(&orgs).unwrap(), vec![3]);
        assert_eq!(parse_flows(&flows).unwrap(), (true, true));
        assert!(parse(&["--bogus"]).is_none());
    }

    #[test]
    fn the_table_has_bounds_and_ratios() {
        let rows = [
            Row {
                flow: "chaincode rollout".into(),
                orgs: 3,
                round: Some(0.5),
                rounds: 3,
                agents: Some(6.0),
                script: Some(3.0),
                mvcc: Some(4),
            },
            Row {
                flow: "chaincode rollout".into(),
                orgs: 5,
                rounds: 3,
                ..Row::default()
            },
        ];
        let t = render_table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[0].starts_with("| flow | N | lower bound | agents | script |"));
        assert_eq!(
            lines[2],
            "| chaincode rollout | 3 | 1.50 s (3 × 0.50 s) | 6.00 s | 3.00 s | 4.00× | 2.00× | 4 |"
        );
        assert_eq!(
            lines[3],
            "| chaincode rollout | 5 | – | – | – | – | – | – |"
        );
    }

    #[test]
    fn the_n_org_spec_validates_with_everyone_everywhere() {
        let files = n_org_spec(&base(), 5).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in &files {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let loaded = opssc_schema::load_dir(dir.path());
        let errors: Vec<String> = loaded.report.errors().map(|e| e.render()).collect();
        let spec = loaded.spec.unwrap_or_else(|| panic!("{errors:#?}"));
        let all: Vec<String> = (1..=5).map(|i| format!("Org{i}MSP")).collect();
        for ch in ["ops", "trade"] {
            assert_eq!(spec.channels[ch].members, all, "{ch}");
        }
        assert_eq!(
            files
                .iter()
                .filter(|(p, _)| p.starts_with("orgs/org") && p != "orgs/orderer.yaml")
                .count(),
            5
        );
        let kv = &files
            .iter()
            .find(|(p, _)| p == "chaincodes/kv.yaml")
            .unwrap()
            .1;
        assert!(!kv.contains("endorsementPolicy"), "{kv}");
        // The rule the agents get is a valid configuration entry.
        let rule = bench_rule();
        assert!(
            rule.kinds
                .iter()
                .all(|k| opssc_schema::local::PROPOSAL_KINDS.contains(&k.as_str()))
        );
    }
}
