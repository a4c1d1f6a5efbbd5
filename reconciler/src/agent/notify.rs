//! Outgoing notifications: webhooks for what needs this organization's
//! attention — its vote (with the plan of the change), a proposal it filed
//! that was rejected or failed, a failed task, a stalled agent, an unplanned
//! proposal.
//!
//! The core is pure: [`decide`] takes what the sender remembers
//! ([`Memory`]: the events already sent and the proposals this organization
//! filed) and one pass's observation, plan and steps ([`Observation`]), and
//! returns the events to send now and the memory after the pass. Events
//! carry stable IDs (`vote-needed/<proposal>`, `task-failed/<proposal>/<org>/
//! <task>/<seq>`, `stalled/<hash of the reason>`, ...): one notification per
//! event, not per pass. The memory is written to `notifications.json` in the
//! state directory, so a restart does not send again.
//!
//! The shell ([`Notifier`]) hands each event to one bounded queue per
//! receiver; a tokio task per receiver POSTs it, retrying with exponential
//! backoff ([`Backoff`]). The reconcile loop never waits: a full queue drops
//! the event and counts it. The body holds only what the chain and the plan
//! say (with URLs' user information removed); the receiver's secret goes in
//! a header, read from its file or environment variable at each attempt.
//!
//! Key decisions: an event counts as sent once queued (a restart in the
//! middle of the retries loses it rather than sending it twice); the
//! proposer of a closed proposal is not in the contract's list, so the
//! memory keeps the open proposals this organization filed until they close;
//! an event that is no longer current is forgotten after
//! [`FORGET_AFTER_SECS`], so a stalled reason that comes back later is
//! announced again, while a short gap in the observation (an unreadable ops
//! channel) does not resend anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use opssc_chaincode::model::{ProposalState, TaskStatus};
use opssc_schema::local::{
    AgentConfig, NotificationConfig, NotificationEvent, NotificationFormat, SecretHeader,
};
use prometheus_client::metrics::counter::Counter;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::git_transport::redact_userinfo;
use crate::observe::{Observed, ProposalSummary};
use crate::plan::steps::{Step, Steps, planned};
use crate::plan::{Plan, short_id};

/// What one pass observed and planned: the input of notifications and of
/// the metrics that count proposals and pending votes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassView {
    pub observed: Observed,
    pub plan: Plan,
    pub steps: Steps,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Stable across passes and restarts: what the sent-set remembers.
    pub id: String,
    pub event: NotificationEvent,
    /// The organization whose agent sends it.
    pub organization: String,
    /// One line for people.
    pub title: String,
    /// The details: the plan of the change, the task's message, what to do.
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal: Option<String>,
}

/// What the notifier remembers between passes and restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    /// Event IDs sent, with the last time (Unix seconds) each was current.
    #[serde(default)]
    pub sent: BTreeMap<String, i64>,
    /// Open proposals this organization filed: once closed, the contract's
    /// list no longer says who filed them.
    #[serde(default)]
    pub mine: BTreeSet<String>,
}

/// How long an event that is no longer current stays in the sent-set.
pub const FORGET_AFTER_SECS: i64 = 3600;

/// How often the sent-set records that a current event is still current.
pub const REFRESH_SECS: i64 = 60;

/// One pass, as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// This organization's MSP ID.
    pub me: &'a str,
    /// None when the pass failed before it observed the network.
    pub view: Option<&'a PassView>,
    /// Why the agent cannot move without a person (the pass's stalled
    /// items, a refused spec commit).
    pub stalled: &'a [String],
}

/// The events to send after a pass (current, not sent before) and the
/// memory to keep.
pub fn decide(memory: &Memory, obs: &Observation, now_unix: i64) -> (Vec<Event>, Memory) {
    let mut next = memory.clone();
    if let Some(view) = obs.view {
        for o in &view.observed.proposals {
            if o.open.as_ref().is_some_and(|d| d.proposer == obs.me) {
                next.mine.insert(o.id.clone());
            }
        }
    }
    let events = current(obs, &next.mine);
    if let Some(view) = obs.view {
        for o in &view.observed.proposals {
            if o.state.is_terminal() {
                next.mine.remove(&o.id);
            }
        }
    }
    let mut fresh = Vec::new();
    for e in events {
        match next.sent.get_mut(&e.id) {
            None => {
                next.sent.insert(e.id.clone(), now_unix);
                fresh.push(e);
            }
            // Refreshed once a minute, not every pass: the memory file is
            // written only when the memory changes.
            Some(seen) if now_unix.saturating_sub(*seen) >= REFRESH_SECS => *seen = now_unix,
            Some(_) => {}
        }
    }
    next.sent
        .retain(|_, seen| now_unix.saturating_sub(*seen) < FORGET_AFTER_SECS);
    (fresh, next)
}

/// Every event that holds now, sent before or not.
pub fn current(obs: &Observation, mine: &BTreeSet<String>) -> Vec<Event> {
    let me = obs.me;
    let event = |id: String, event, title: String, text: String, proposal: Option<&str>| Event {
        id,
        event,
        organization: me.to_string(),
        title: redact_userinfo(&title),
        text: redact_userinfo(&text),
        proposal: proposal.map(str::to_string),
    };
    let mut out = Vec::new();
    if let Some(view) = obs.view {
        for o in &view.observed.proposals {
            let (id, short, what) = (o.id.as_str(), short_id(&o.id), describe(o));
            if vote_needed(me, view, o) {
                out.push(event(
                    format!("vote-needed/{id}"),
                    NotificationEvent::VoteNeeded,
                    format!("{me}'s vote is needed on proposal {short} ({what})"),
                    vote_text(me, view, o),
                    Some(id),
                ));
            }
            if unplanned(me, view, o) {
                out.push(event(
                    format!("unplanned/{id}"),
                    NotificationEvent::Unplanned,
                    format!("unplanned proposal {short} ({what})"),
                    format!(
                        "The spec {me} acts on calls for no such change, so its agent votes to reject it. \
                         Check who filed it and why (a member's mistake, or a stolen admin identity).\n\
                         Proposal ID: {id}"
                    ),
                    Some(id),
                ));
            }
            match o.state {
                ProposalState::Rejected if mine.contains(id) => out.push(event(
                    format!("proposal-rejected/{id}"),
                    NotificationEvent::ProposalRejected,
                    format!("proposal {short} ({what}) that {me} filed was rejected"),
                    format!(
                        "The other organizations voted it down; their reasons are in `opssc status` \
                         while it is listed and in the contract's `votes` of {id}. A change of the \
                         spec files a new proposal."
                    ),
                    Some(id),
                )),
                ProposalState::Failed if mine.contains(id) => out.push(event(
                    format!("proposal-failed/{id}/{}", o.round),
                    NotificationEvent::ProposalFailed,
                    format!("proposal {short} ({what}) that {me} filed failed"),
                    format!(
                        "Its executor reported the shared step failed. Fix the cause, then \
                         `opssc retry {id}`."
                    ),
                    Some(id),
                )),
                _ => {}
            }
            for t in failed_tasks(o) {
                out.push(event(
                    format!("task-failed/{id}/{}/{}/{}", t.org, t.task.as_str(), t.seq),
                    NotificationEvent::TaskFailed,
                    format!(
                        "{}'s {} task failed on proposal {short} ({what})",
                        t.org,
                        t.task.as_str()
                    ),
                    t.detail.clone(),
                    Some(id),
                ));
            }
        }
    }
    for reason in obs.stalled {
        let hash = hex::encode(Sha256::digest(reason.as_bytes()));
        out.push(event(
            format!("stalled/{}", &hash[..16]),
            NotificationEvent::Stalled,
            format!("{me}'s agent is stalled: it needs a person"),
            reason.clone(),
            None,
        ));
    }
    out
}

/// Proposals waiting for this organization's vote that its agent does not
/// cast (a person must: `manual` policy, or no consent yet).
pub fn votes_pending(me: &str, view: &PassView) -> usize {
    view.observed
        .proposals
        .iter()
        .filter(|o| vote_needed(me, view, o))
        .count()
}

/// How many proposals are in each state (every state, zeros included).
pub fn proposals_by_state(observed: &Observed) -> BTreeMap<ProposalState, usize> {
    let mut out: BTreeMap<ProposalState, usize> =
        ProposalState::ALL.iter().map(|s| (*s, 0)).collect();
    for o in &observed.proposals {
        *out.entry(o.state).or_default() += 1;
    }
    out
}

/// Open, planned, in this organization's electorate, not voted, and the
/// pass plans no vote of its own on it.
fn vote_needed(me: &str, view: &PassView, o: &ProposalSummary) -> bool {
    o.state == ProposalState::Proposed
        && o.open.is_some()
        && o.electorate.iter().any(|e| e == me)
        && !o.votes.contains_key(me)
        && planned(&view.plan, o)
        && !votes_on(&view.steps, &o.id)
}

/// Open, not in the plan, and judged by this organization (it voted, or
/// its pass votes now): not one filed from a spec commit it has not seen yet.
fn unplanned(me: &str, view: &PassView, o: &ProposalSummary) -> bool {
    o.state == ProposalState::Proposed
        && !planned(&view.plan, o)
        && (o.votes.contains_key(me) || votes_on(&view.steps, &o.id))
}

fn votes_on(steps: &Steps, id: &str) -> bool {
    steps
        .steps
        .iter()
        .any(|s| matches!(s, Step::Vote { proposal_id, .. } if proposal_id == id))
}

/// The latest report of each (organization, task) of `o`, when it failed.
fn failed_tasks(o: &ProposalSummary) -> Vec<&crate::observe::ObservedTask> {
    let Some(open) = &o.open else {
        return Vec::new();
    };
    let mut latest: BTreeMap<(&str, crate::observe::Task), &crate::observe::ObservedTask> =
        BTreeMap::new();
    for t in &open.tasks {
        let e = latest.entry((t.org.as_str(), t.task)).or_insert(t);
        if t.seq > e.seq {
            *e = t;
        }
    }
    latest
        .into_values()
        .filter(|t| t.status == TaskStatus::Failed)
        .collect()
}

/// `ChaincodeDeploy trade/kv filed by Org2MSP`.
fn describe(o: &ProposalSummary) -> String {
    let target = match (&o.target.chaincode, &o.org) {
        (Some(cc), _) => format!("{}/{cc}", o.target.channel),
        (None, Some(org)) => format!("{org} on channel {}", o.target.channel),
        (None, None) => format!("channel {}", o.target.channel),
    };
    match &o.open {
        Some(open) => format!("{} {target} filed by {}", o.kind, open.proposer),
        None => format!("{} {target}", o.kind),
    }
}

/// The plan of the change a vote is asked for (the changes of the planned
/// proposal, as `opssc plan` shows them), what the pass waits for, and
/// how to vote.
fn vote_text(me: &str, view: &PassView, o: &ProposalSummary) -> String {
    let mut out = String::new();
    let p =
        view.plan.proposals.iter().find(|p| {
            p.kind == o.kind && p.target == o.target && (p.org.is_none() || p.org == o.org)
        });
    let _ = writeln!(out, "Plan of the change:");
    if let Some(p) = p {
        for &i in &p.changes {
            let Some(c) = view.plan.shared.get(i) else {
                continue;
            };
            let (sign, title) = crate::plan::render::title(&c.change);
            let _ = writeln!(out, "  {sign} {title}");
            for line in crate::plan::render::details(&c.change) {
                let _ = writeln!(out, "      {line}");
            }
            for r in &c.risks {
                let _ = writeln!(out, "  ! {}", r.message);
            }
        }
    }
    let short = short_id(&o.id);
    let why = view.steps.blocked.iter().find(|b| {
        b.why.starts_with(&format!("proposal {short} ")) && !b.why.contains(" approvals")
    });
    match why {
        Some(b) => {
            let _ = writeln!(out, "{}: {}", b.what, b.why);
        }
        None => {
            let _ = writeln!(
                out,
                "{me} has not voted; its agent does not vote on its own."
            );
        }
    }
    let _ = write!(
        out,
        "Vote: opssc vote {} approve|reject (approvals so far: {} of the {} needed)",
        o.id,
        o.votes
            .values()
            .filter(|d| **d == opssc_chaincode::model::Decision::Approve)
            .count(),
        o.quorum
    );
    out
}

/// The request body for `format`.
pub fn body(e: &Event, format: NotificationFormat) -> Vec<u8> {
    match format {
        NotificationFormat::Json => serde_json::to_vec(e).expect("events serialize"),
        NotificationFormat::Slack => {
            serde_json::to_vec(&serde_json::json!({ "text": slack_text(e) }))
                .expect("JSON serializes")
        }
    }
}

/// Slack's mrkdwn: a bold title and the details in a code block, with the
/// three characters Slack wants escaped.
fn slack_text(e: &Event) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "*[{}] {}*\n```\n{}\n```",
        esc(&e.organization),
        esc(&e.title),
        esc(&e.text)
    )
}

/// Pauses between delivery attempts: `first`, doubled each time, at most
/// `max`, for `attempts` attempts in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub attempts: u32,
}

impl Default for Backoff {
    /// 1 s, 2 s, ... 60 s: ten attempts over about four minutes.
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
            attempts: 10,
        }
    }
}

impl Backoff {
    /// The pause after failed attempt number `failed` (1-based), or None
    /// when no attempt is left.
    pub fn pause(&self, failed: u32) -> Option<Duration> {
        if failed >= self.attempts {
            return None;
        }
        let factor = 2u32.saturating_pow(failed.saturating_sub(1));
        Some(self.first.saturating_mul(factor).min(self.max))
    }
}

/// Why one delivery attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(
        "{receiver}: cannot read the secret header {header} from {source_name}: {why} (hint: check the file or variable the agent runs with)"
    )]
    Secret {
        receiver: String,
        header: String,
        source_name: String,
        why: String,
    },
    #[error("{receiver}: {why} (hint: fix notifications in opssc.yaml and restart the agent)")]
    Config { receiver: String, why: String },
    #[error("{receiver}: {why} (retried with backoff)")]
    Http { receiver: String, why: String },
    #[error(
        "{receiver}: the receiver answered {status} (hint: check the webhook URL and its secret)"
    )]
    Status { receiver: String, status: u16 },
}

/// The counters the senders update.
#[derive(Clone, Default)]
pub struct Counters {
    pub sent: Counter,
    pub failed: Counter,
    pub dropped: Counter,
}

/// Events a receiver's queue holds before new ones are dropped.
pub const QUEUE: usize = 64;

/// One receiver, as its sender task uses it.
struct Target {
    /// `notifications[0] (hooks.example.com)`: never the URL, which may
    /// carry a token.
    name: String,
    url: String,
    format: NotificationFormat,
    secret: Option<SecretHeader>,
    timeout: Duration,
    client: Result<reqwest::Client, NotifyError>,
}

impl Target {
    fn new(i: usize, n: &NotificationConfig) -> Target {
        let host = reqwest::Url::parse(&n.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "?".into());
        let name = format!("notifications[{i}] ({host})");
        Target {
            client: client(&name, n),
            name,
            url: n.url.clone(),
            format: n.format,
            secret: n.secret_header.clone(),
            timeout: Duration::from_secs(n.timeout_seconds.unwrap_or(10)),
        }
    }

    async fn post(&self, body: &[u8]) -> Result<(), NotifyError> {
        let client = self.client.as_ref().map_err(|e| NotifyError::Config {
            receiver: self.name.clone(),
            why: e.to_string(),
        })?;
        let mut req = client
            .post(&self.url)
            .timeout(self.timeout)
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        if let Some(h) = &self.secret {
            req = req.header(h.name.as_str(), secret_value(&self.name, h)?);
        }
        let resp = req.send().await.map_err(|e| NotifyError::Http {
            receiver: self.name.clone(),
            why: error_chain(&e.without_url()),
        })?;
        if !resp.status().is_success() {
            return Err(NotifyError::Status {
                receiver: self.name.clone(),
                status: resp.status().as_u16(),
            });
        }
        Ok(())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let _ = write!(s, ": {c}");
        cur = c.source();
    }
    s
}

/// The secret header's value, read now (a rotated secret needs no restart).
fn secret_value(receiver: &str, h: &SecretHeader) -> Result<String, NotifyError> {
    let fail = |source_name: String, why: String| NotifyError::Secret {
        receiver: receiver.to_string(),
        header: h.name.clone(),
        source_name,
        why,
    };
    let value = match (&h.value_file, &h.value_env) {
        (Some(path), _) => std::fs::read_to_string(path)
            .map_err(|e| fail(format!("file {}", path.display()), e.to_string()))?
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        (None, Some(var)) => std::env::var(var)
            .map_err(|e| fail(format!("environment variable {var}"), e.to_string()))?
            .trim()
            .to_string(),
        (None, None) => return Err(fail("nowhere".into(), "no valueFile or valueEnv".into())),
    };
    if value.is_empty() {
        return Err(fail(h.name.clone(), "the value is empty".into()));
    }
    Ok(value)
}

/// An HTTP client for one receiver: rustls with ring, trusting `caBundle`
/// when given, else the system's roots.
fn client(name: &str, n: &NotificationConfig) -> Result<reqwest::Client, NotifyError> {
    let invalid = |why: String| NotifyError::Config {
        receiver: name.to_string(),
        why,
    };
    let mut b = reqwest::Client::builder().connect_timeout(Duration::from_secs(10));
    if let Some(path) = &n.ca_bundle {
        let pem = std::fs::read(path)
            .map_err(|e| invalid(format!("cannot read caBundle {}: {e}", path.display())))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert =
                cert.map_err(|e| invalid(format!("caBundle {} is not PEM: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| invalid(format!("caBundle {}: {e}", path.display())))?;
        }
        if roots.is_empty() {
            return Err(invalid(format!(
                "caBundle {} holds no CERTIFICATE block",
                path.display()
            )));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        b = b.use_preconfigured_tls(config);
    } else {
        // reqwest verifies with the system's roots through the process's
        // default provider: ring, never a second one.
        opssc_fabric::participation::install_ring_provider();
    }
    b.build().map_err(|e| {
        invalid(format!(
            "cannot build the HTTPS client: {}",
            error_chain(&e)
        ))
    })
}

/// Delivers `rx`'s events to `target` in order, each retried as `backoff` says.
async fn deliver(
    target: Target,
    mut rx: mpsc::Receiver<Event>,
    backoff: Backoff,
    counters: Counters,
) {
    while let Some(e) = rx.recv().await {
        let body = body(&e, target.format);
        let mut failed = 0;
        loop {
            match target.post(&body).await {
                Ok(()) => {
                    counters.sent.inc();
                    tracing::info!(receiver = %target.name, event = %e.id, "notification sent");
                    break;
                }
                Err(err) => {
                    failed += 1;
                    match backoff.pause(failed) {
                        Some(pause) => {
                            tracing::debug!(receiver = %target.name, event = %e.id, error = %err, ?pause, "notification not delivered; retrying");
                            tokio::time::sleep(pause).await;
                        }
                        None => {
                            counters.failed.inc();
                            tracing::warn!(receiver = %target.name, event = %e.id, error = %err, attempts = failed, "notification given up");
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// One configured receiver: its event filter and its sender's queue.
struct Receiver {
    name: String,
    events: Vec<NotificationEvent>,
    queue: mpsc::Sender<Event>,
}

/// The shell around [`decide`]: the memory file, one sender task per
/// receiver, and the counters.
pub struct Notifier {
    me: String,
    path: PathBuf,
    memory: Memory,
    receivers: Vec<Receiver>,
    counters: Counters,
}

impl Notifier {
    /// Loads the memory from `state_dir` and starts the senders (inside a
    /// tokio runtime).
    pub fn start(
        config: &AgentConfig,
        state_dir: &Path,
        backoff: Backoff,
        counters: Counters,
    ) -> Notifier {
        let path = state_dir.join("notifications.json");
        let memory = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(file = %path.display(), error = %e, "unreadable notification memory; starting afresh (events current now are sent again)");
                Memory::default()
            }),
            Err(_) => Memory::default(),
        };
        let receivers = config
            .notifications
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let target = Target::new(i, n);
                if let Err(e) = &target.client {
                    tracing::error!(error = %e, "notification receiver unusable");
                }
                let (tx, rx) = mpsc::channel(QUEUE);
                let name = target.name.clone();
                tokio::spawn(deliver(target, rx, backoff, counters.clone()));
                Receiver {
                    name,
                    events: n.events.clone(),
                    queue: tx,
                }
            })
            .collect();
        Notifier {
            me: config.msp_id.clone(),
            path,
            memory,
            receivers,
            counters,
        }
    }

    /// After a pass: decides, queues each new event for the receivers that
    /// want it (never waiting), and saves the memory. Returns the new events.
    pub fn after_pass(
        &mut self,
        view: Option<&PassView>,
        stalled: &[String],
        now_unix: i64,
    ) -> Vec<Event> {
        let obs = Observation {
            me: &self.me,
            view,
            stalled,
        };
        let (fresh, memory) = decide(&self.memory, &obs, now_unix);
        for e in &fresh {
            for r in &self.receivers {
                if !r.events.is_empty() && !r.events.contains(&e.event) {
                    continue;
                }
                if let Err(err) = r.queue.try_send(e.clone()) {
                    self.counters.dropped.inc();
                    tracing::warn!(receiver = %r.name, event = %e.id, error = %err, "notification dropped: the receiver's queue is full");
                }
            }
        }
        if memory != self.memory {
            self.memory = memory;
            if let Err(e) = save(&self.path, &self.memory) {
                tracing::warn!(file = %self.path.display(), error = %e, "cannot save the notification memory; a restart may send events again");
            }
        }
        fresh
    }
}

fn save(path: &Path, memory: &Memory) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(memory).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{ObservedTask, OpenDetail, Task};
    use opssc_chaincode::model::{Decision, Kind, Target as CcTarget};

    const ME: &str = "Org1MSP";

    fn proposal(id: &str, state: ProposalState, proposer: Option<&str>) -> ProposalSummary {
        ProposalSummary {
            id: id.repeat(64 / id.len()),
            kind: Kind::ChaincodeDeploy,
            target: CcTarget {
                channel: "trade".into(),
                chaincode: Some("kv".into()),
            },
            round: 0,
            org: None,
            state,
            votes: BTreeMap::new(),
            quorum: 2,
            electorate: vec![ME.into(), "Org2MSP".into(), "Org3MSP".into()],
            spec_commit: None,
            base_config_sequence: None,
            open: proposer.map(|p| OpenDetail {
                proposer: p.into(),
                payload: serde_json::json!({}),
                eligible_executors: Vec::new(),
                execution_timeout_secs: 600,
                tasks: Vec::new(),
                commit_readiness: BTreeMap::new(),
                update_on_chain: None,
                config_signatures: BTreeMap::new(),
            }),
        }
    }

    /// A view whose plan holds one ChaincodeDeploy of trade/kv (from the
    /// planner itself, over an empty observation of a one-chaincode spec).
    fn view(proposals: Vec<ProposalSummary>, steps: Vec<Step>) -> PassView {
        let mut plan: Plan = serde_json::from_value(serde_json::json!({
            "consortium": "c", "spec_hash": "h", "observed_by": ME, "taken_at": "t", "me": ME,
            "shared": [], "proposals": [], "local": [], "notes": []
        }))
        .unwrap();
        plan.proposals.push(
            serde_json::from_value(serde_json::json!({
                "kind": "ChaincodeDeploy",
                "target": {"channel": "trade", "chaincode": "kv"},
                "changes": [],
                "intent": {},
                "intent_id": "i",
                "round": 0,
                "approval": {"requirements": []}
            }))
            .unwrap_or_else(|e| panic!("planned proposal: {e}")),
        );
        let mut observed: Observed = serde_json::from_value(serde_json::json!({
            "observed_by": ME, "taken_at": "t", "channels": {}, "chaincodes": {},
            "packages": {}, "local": {"peers": {}, "approved": {}}, "proposals": []
        }))
        .unwrap_or_else(|e| panic!("observed: {e}"));
        observed.proposals = proposals;
        PassView {
            observed,
            plan,
            steps: Steps {
                steps,
                blocked: Vec::new(),
                deferred: Vec::new(),
            },
        }
    }

    fn kinds(events: &[Event]) -> Vec<(NotificationEvent, String)> {
        events.iter().map(|e| (e.event, e.id.clone())).collect()
    }

    #[test]
    fn a_vote_a_person_must_cast_is_announced_once() {
        let p = proposal("a", ProposalState::Proposed, Some("Org2MSP"));
        let id = p.id.clone();
        let v = view(vec![p.clone()], Vec::new());
        let obs = Observation {
            me: ME,
            view: Some(&v),
            stalled: &[],
        };
        let (fresh, memory) = decide(&Memory::default(), &obs, 1000);
        assert_eq!(
            kinds(&fresh),
            [(NotificationEvent::VoteNeeded, format!("vote-needed/{id}"))]
        );
        assert!(
            fresh[0]
                .text
                .contains(&format!("opssc vote {id} approve|reject"))
        );
        assert!(
            fresh[0].title.contains("filed by Org2MSP"),
            "{}",
            fresh[0].title
        );
        assert_eq!(votes_pending(ME, &v), 1);
        // The next pass, and the one after a restart (the memory as saved):
        let saved: Memory = serde_json::from_slice(&serde_json::to_vec(&memory).unwrap()).unwrap();
        let (again, unchanged) = decide(&saved, &obs, 1005);
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(unchanged, memory, "nothing to save within a minute");

        // The agent votes itself (auto): nothing to announce, nothing pending.
        let auto = view(
            vec![p.clone()],
            vec![Step::Vote {
                what: "kv".into(),
                proposal_id: id.clone(),
                decision: Decision::Approve,
                reason: "identical".into(),
                counted: vec![],
                decides: false,
            }],
        );
        let obs = Observation {
            me: ME,
            view: Some(&auto),
            stalled: &[],
        };
        assert!(decide(&Memory::default(), &obs, 0).0.is_empty());
        assert_eq!(votes_pending(ME, &auto), 0);

        // Voted already, or not in the electorate: nothing either.
        let mut voted = p.clone();
        voted.votes.insert(ME.into(), Decision::Approve);
        let mut outside = p;
        outside.electorate.retain(|e| e != ME);
        let v = view(vec![voted, outside], Vec::new());
        assert_eq!(votes_pending(ME, &v), 0);
    }

    #[test]
    fn a_rejected_or_failed_proposal_is_announced_to_its_proposer_only() {
        let mine = proposal("b", ProposalState::Proposed, Some(ME));
        let theirs = proposal("c", ProposalState::Proposed, Some("Org2MSP"));
        let mut me_voted = theirs.clone();
        me_voted.votes.insert(ME.into(), Decision::Approve);
        let mut mine_voted = mine.clone();
        mine_voted.votes.insert(ME.into(), Decision::Approve);
        let v = view(vec![mine_voted.clone(), me_voted.clone()], Vec::new());
        let obs = Observation {
            me: ME,
            view: Some(&v),
            stalled: &[],
        };
        let (fresh, memory) = decide(&Memory::default(), &obs, 0);
        assert!(fresh.is_empty(), "{fresh:?}");
        assert_eq!(memory.mine, BTreeSet::from([mine.id.clone()]));

        // Both rejected: closed proposals no longer say who filed them.
        let rejected = |p: &ProposalSummary| ProposalSummary {
            state: ProposalState::Rejected,
            open: None,
            ..p.clone()
        };
        let v = view(vec![rejected(&mine), rejected(&theirs)], Vec::new());
        let obs = Observation {
            me: ME,
            view: Some(&v),
            stalled: &[],
        };
        let (fresh, memory) = decide(&memory, &obs, 10);
        assert_eq!(
            kinds(&fresh),
            [(
                NotificationEvent::ProposalRejected,
                format!("proposal-rejected/{}", mine.id)
            )]
        );
        assert!(memory.mine.is_empty(), "closed: forgotten");
        assert!(decide(&memory, &obs, 20).0.is_empty());

        // Failed (waiting for a retry): announced per round.
        let failed = |round| ProposalSummary {
            state: ProposalState::Failed,
            open: None,
            round,
            ..mine.clone()
        };
        let start = Memory {
            mine: BTreeSet::from([mine.id.clone()]),
            ..Memory::default()
        };
        let v = view(vec![failed(0)], Vec::new());
        let obs = Observation {
            me: ME,
            view: Some(&v),
            stalled: &[],
        };
        let (fresh, memory) = decide(&start, &obs, 0);
        assert_eq!(fresh[0].event, NotificationEvent::ProposalFailed);
        assert!(fresh[0].text.contains(&format!("opssc retry {}", mine.id)));
        let v = view(vec![failed(1)], Vec::new());
        let obs = Observation {
            me: ME,
            view: Some(&v),
            stalled: &[],
        };
        assert_eq!(
            decide(&memory, &obs, 5).0.len(),
            1,
            "the next round's failure"
        );
    }

    #[test]
    fn each_failed_task_report_is_announced_once_without_secrets() {
        let mut p = proposal("d", ProposalState::Approved, Some("Org2MSP"));
        let task = |org: &str, seq, status, detail: &str| ObservedTask {
            org: org.into(),
            task: Task::Install,
            seq,
            status,
            detail: detail.into(),
        };
        p.open.as_mut().unwrap().tasks = vec![
            task(
                "Org2MSP",
                0,
                TaskStatus::Failed,
                "cannot fetch https://bot:s3cret@git.example.com/cc.git",
            ),
            task("Org3MSP", 0, TaskStatus::Failed, "transient"),
            task("Org3MSP", 1, TaskStatus::Done, "kv_1:aa"),
        ];
        let v = view(vec![p.clone()], Vec::new());
        let obs = Observation {
            me: ME,
            view: Some(&v),
            stalled: &[],
        };
        let (fresh, memory) = decide(&Memory::default(), &obs, 0);
        assert_eq!(
            kinds(&fresh),
            [(
                NotificationEvent::TaskFailed,
                format!("task-failed/{}/Org2MSP/install/0", p.id)
            )]
        );
        assert_eq!(
            fresh[0].text,
            "cannot fetch https://***@git.example.com/cc.git"
        );
        for format in [NotificationFormat::Json, NotificationFormat::Slack] {
            let b = String::from_utf8(body(&fresh[0], format)).unwrap();
            assert!(!b.contains("s3cret"), "{b}");
        }
        assert!(decide(&memory, &obs, 1).0.is_empty());
    }

    #[test]
    fn unplanned_proposals_are_announced_once_judged() {
        let mut p = proposal("e", ProposalState::Proposed, Some("Org3MSP"));
        p.target.chaincode = Some("evil".into());
        // Not judged yet (filed from a commit this organization has not seen).
        let v = view(vec![p.clone()], Vec::new());
        let obs = Observation {
            me: ME,
            view: Some(&v),
            stalled: &[],
        };
        assert!(decide(&Memory::default(), &obs, 0).0.is_empty());
        // Judged: the pass votes to reject it.
        let v = view(
            vec![p.clone()],
            vec![Step::Vote {
                what: "unplanned".into(),
                proposal_id: p.id.clone(),
                decision: Decision::Reject,
                reason: "no such change".into(),
                counted: vec![],
                decides: false,
            }],
        );
        let obs = Observation {
            me: ME,
            view: Some(&v),
            stalled: &[],
        };
        let (fresh, _) = decide(&Memory::default(), &obs, 0);
        assert_eq!(
            kinds(&fresh),
            [(NotificationEvent::Unplanned, format!("unplanned/{}", p.id))]
        );
        assert!(fresh[0].title.contains("trade/evil filed by Org3MSP"));
    }

    #[test]
    fn a_stalled_reason_is_sent_once_and_again_when_it_comes_back_later() {
        let stalled = ["kv: package does not compile".to_string()];
        let stalled_obs = Observation {
            me: ME,
            view: None,
            stalled: &stalled,
        };
        let calm = Observation {
            me: ME,
            view: None,
            stalled: &[],
        };
        let (fresh, m) = decide(&Memory::default(), &stalled_obs, 0);
        assert_eq!(fresh.len(), 1);
        assert_eq!(fresh[0].event, NotificationEvent::Stalled);
        assert_eq!(fresh[0].text, stalled[0]);
        // Still stalled an hour and more later: refreshed, not resent.
        let (fresh, m) = decide(&m, &stalled_obs, FORGET_AFTER_SECS + 100);
        assert!(fresh.is_empty());
        // A short calm does not forget it...
        let (_, m2) = decide(&m, &calm, FORGET_AFTER_SECS + 200);
        assert!(
            decide(&m2, &stalled_obs, FORGET_AFTER_SECS + 300)
                .0
                .is_empty()
        );
        // ...a long one does.
        let (_, m3) = decide(&m, &calm, 3 * FORGET_AFTER_SECS);
        assert!(m3.sent.is_empty());
        assert_eq!(decide(&m3, &stalled_obs, 3 * FORGET_AFTER_SECS).0.len(), 1);
    }

    #[test]
    fn proposals_are_counted_by_state_with_zeros() {
        let v = view(
            vec![
                proposal("f", ProposalState::Committed, None),
                proposal("g", ProposalState::Committed, None),
                proposal("h", ProposalState::Proposed, Some("Org2MSP")),
            ],
            Vec::new(),
        );
        let counts = proposals_by_state(&v.observed);
        assert_eq!(counts.len(), ProposalState::ALL.len());
        assert_eq!(counts[&ProposalState::Committed], 2);
        assert_eq!(counts[&ProposalState::Proposed], 1);
        assert_eq!(counts[&ProposalState::Rejected], 0);
    }

    #[test]
    fn the_backoff_doubles_up_to_its_bound_then_gives_up() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=10)
            .map_while(|n| b.pause(n))
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn slack_bodies_are_a_readable_text() {
        let e = Event {
            id: "x".into(),
            event: NotificationEvent::VoteNeeded,
            organization: ME.into(),
            title: "vote <now>".into(),
            text: "a & b".into(),
            proposal: None,
        };
        let v: serde_json::Value =
            serde_json::from_slice(&body(&e, NotificationFormat::Slack)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"text": "*[Org1MSP] vote &lt;now&gt;*\n```\na &amp; b\n```"})
        );
        let v: serde_json::Value =
            serde_json::from_slice(&body(&e, NotificationFormat::Json)).unwrap();
        assert_eq!(v["event"], "voteNeeded");
        assert_eq!(v["organization"], ME);
    }

    /// A receiver on loopback: answers `statuses` in turn (then 200), and
    /// records each request's head and body.
    async fn receiver(
        tls: Option<Arc<rustls::ServerConfig>>,
        statuses: Vec<u16>,
    ) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            let mut statuses = statuses.into_iter();
            loop {
                let (sock, _) = listener.accept().await.unwrap();
                let status = statuses.next().unwrap_or(200);
                let mut stream: Box<dyn Io> = match &tls {
                    Some(c) => Box::new(
                        tokio_rustls::TlsAcceptor::from(c.clone())
                            .accept(sock)
                            .await
                            .unwrap(),
                    ),
                    None => Box::new(sock),
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Head, then as many body bytes as Content-Length says.
                loop {
                    let n = stream.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf).to_string());
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(resp.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        (format!("http://127.0.0.1:{port}/hook"), seen)
    }

    trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
    impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

    fn config(dir: &Path, receivers: Vec<NotificationConfig>) -> AgentConfig {
        let path = dir.join("opssc.yaml");
        std::fs::write(
            &path,
            "apiVersion: opssc/v1alpha1\nkind: AgentConfig\nmspId: Org1MSP\nidentity: {mspDir: msp}\npeers: []\norderers: []\n",
        )
        .unwrap();
        let mut c = AgentConfig::load(&path).unwrap();
        c.notifications = receivers;
        c
    }

    fn hook(url: &str) -> NotificationConfig {
        NotificationConfig {
            url: url.into(),
            format: NotificationFormat::Json,
            events: Vec::new(),
            secret_header: None,
            timeout_seconds: None,
            ca_bundle: None,
        }
    }

    async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        for _ in 0..500 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{what}: not within 5 s");
    }

    const FAST: Backoff = Backoff {
        first: Duration::from_millis(20),
        max: Duration::from_millis(50),
        attempts: 4,
    };

    #[tokio::test]
    async fn events_are_posted_retried_filtered_and_remembered_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        // The first two attempts fail (503), the third is delivered.
        let (url, seen) = receiver(None, vec![503, 503]).await;
        std::fs::write(dir.path().join("token"), "s3cret-token\n").unwrap();
        let mut all = hook(&url);
        all.secret_header = Some(SecretHeader {
            name: "X-Hook-Token".into(),
            value_file: Some(dir.path().join("token")),
            value_env: None,
        });
        // A second receiver that wants task failures only.
        let (tasks_url, tasks_seen) = receiver(None, Vec::new()).await;
        let mut only_tasks = hook(&tasks_url);
        only_tasks.events = vec![NotificationEvent::TaskFailed];
        let c = config(dir.path(), vec![all, only_tasks]);
        let counters = Counters::default();
        let mut n = Notifier::start(&c, dir.path(), FAST, counters.clone());
        let stalled = ["kv: stalled".to_string()];
        let fresh = n.after_pass(None, &stalled, 0);
        assert_eq!(fresh.len(), 1);
        wait_until("delivered after two refusals", || counters.sent.get() == 1).await;
        let got = seen.lock().unwrap().clone();
        assert_eq!(got.len(), 3, "{got:?}");
        let last = &got[2];
        assert!(last.starts_with("POST /hook HTTP/1.1"), "{last}");
        assert!(
            last.to_ascii_lowercase()
                .contains("x-hook-token: s3cret-token"),
            "{last}"
        );
        let body = &last[last.find("\r\n\r\n").unwrap() + 4..];
        assert!(!body.contains("s3cret"), "no secret in the body: {body}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["event"], "stalled");
        assert_eq!(v["text"], "kv: stalled");
        assert!(tasks_seen.lock().unwrap().is_empty(), "filtered out");
        assert_eq!(counters.failed.get(), 0);

        // A restart: the memory file says it was sent.
        drop(n);
        let mut n = Notifier::start(&c, dir.path(), FAST, counters.clone());
        assert!(n.after_pass(None, &stalled, 10).is_empty());
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_is_given_up_and_a_full_queue_drops() {
        let dir = tempfile::tempdir().unwrap();
        // Nothing listens on this port.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = config(
            dir.path(),
            vec![hook(&format!("http://127.0.0.1:{port}/hook"))],
        );
        let counters = Counters::default();
        let slow = Backoff {
            first: Duration::from_millis(200),
            max: Duration::from_millis(200),
            attempts: 2,
        };
        let mut n = Notifier::start(&c, dir.path(), slow, counters.clone());
        let reasons: Vec<String> = (0..QUEUE + 5).map(|i| format!("reason {i}")).collect();
        let started = std::time::Instant::now();
        assert_eq!(n.after_pass(None, &reasons, 0).len(), QUEUE + 5);
        assert!(
            started.elapsed() < Duration::from_millis(200),
            "the pass never waits for a receiver"
        );
        // One is being delivered, QUEUE wait, the rest are dropped.
        let dropped = counters.dropped.get();
        assert!((4..=5).contains(&dropped), "dropped {dropped}");
        wait_until("the first given up", || counters.failed.get() >= 1).await;
        assert_eq!(counters.sent.get(), 0);
    }

    #[tokio::test]
    async fn an_https_receiver_is_trusted_through_its_ca_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
        let (url, seen) = receiver(Some(Arc::new(server)), Vec::new()).await;
        let url = url.replacen("http://", "https://", 1);
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        let mut trusted = hook(&url);
        trusted.ca_bundle = Some(dir.path().join("ca.pem"));
        trusted.format = NotificationFormat::Slack;
        let c = config(dir.path(), vec![trusted]);
        let counters = Counters::default();
        let mut n = Notifier::start(&c, dir.path(), FAST, counters.clone());
        n.after_pass(None, &["kv: stalled".to_string()], 0);
        wait_until("delivered over TLS", || counters.sent.get() == 1).await;
        let got = seen.lock().unwrap()[0].clone();
        let body = &got[got.find("\r\n\r\n").unwrap() + 4..];
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["text"].as_str().unwrap().contains("kv: stalled"), "{v}");

        // Without the bundle the same receiver is not trusted.
        let dir2 = tempfile::tempdir().unwrap();
        let c = config(dir2.path(), vec![hook(&url)]);
        let counters = Counters::default();
        let mut n = Notifier::start(&c, dir2.path(), FAST, counters.clone());
        n.after_pass(None, &["kv: stalled".to_string()], 0);
        wait_until("given up", || counters.failed.get() == 1).await;
        assert_eq!(counters.sent.get(), 0);
    }
}
