//! `opssc status`: what the agent acts on and where each rollout stands.
//!
//! [`status`] reads the same inputs as a pass (the trusted spec, this org's
//! packages, the live observation, the plan) plus every chaincode proposal's
//! votes and tasks, and renders them for people: the spec commit (and the
//! refused one, with why), each proposal with its votes against the quorum
//! and the tasks each org reported, and one condition — `Ready` (nothing to
//! do), `Progressing` (a rollout is under way), `Unplanned` (an open
//! proposal this organization's plan does not contain, with its proposer),
//! or `Stalled` (it cannot move without a person: a refused commit, a
//! package this org cannot build, a rejected or failed proposal, an approved
//! proposal nobody executes) — with its reasons. Key decision: status
//! changes nothing and decides nothing of its own: for channel changes,
//! chaincodes and unplanned proposals the reasons are the plan's next steps
//! and blocked items ([`crate::plan::steps`]), exactly what the agent's next pass takes;
//! it is safe to run next to the agent.
//!
//! [`watch`] re-reads the status every interval and prints it, under a
//! timestamp header, only when the rendered text changed ([`Watcher`]); it
//! ends when the status is Ready (with `until_ready`), at the deadline, or
//! when told to stop (Ctrl-C). The status source is a closure, so the loop is
//! tested with a fake one. Polling, not OpsSC events: the status also shows
//! this organization's installs and approvals, which raise no OpsSC event.

use opssc_schema::local::VotePolicy;
use std::fmt::Write as _;
use std::future::Future;
use std::time::{Duration, SystemTime};

use opssc_chaincode::model::{Decision, ProposalState};

use super::channel_changes::ChannelChangeError;
use super::context::Context;
use super::error::AgentError;
use super::observe_live::ObserveError;
use super::spec_source::SpecAt;

/// Why the status could not be read: the observation, an OpsSC query or
/// the OpsSC package (each says what failed).
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Observe(#[from] ObserveError),
    #[error(transparent)]
    Ops(#[from] AgentError),
    #[error(transparent)]
    Package(#[from] ChannelChangeError),
}

/// The overall condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Ready,
    Progressing,
    /// An open proposal that this organization's plan does not contain
    /// (filed by another member, or with a stolen identity): the agent
    /// rejects it; a person should look at who filed it.
    Unplanned,
    Stalled,
}

/// The rendered status and its condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub condition: Condition,
    pub text: String,
}

impl Condition {
    /// The exit code of `opssc status`: 0 Ready, 3 Progressing, 4 Stalled,
    /// 5 Unplanned.
    pub fn exit_code(self) -> i32 {
        match self {
            Condition::Ready => 0,
            Condition::Progressing => 3,
            Condition::Stalled => 4,
            Condition::Unplanned => 5,
        }
    }
}

/// How `opssc status --watch` runs.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// The pause between two reads.
    pub interval: Duration,
    /// End as soon as the status is Ready.
    pub until_ready: bool,
    /// Give up after this long (with `until_ready`).
    pub timeout: Option<Duration>,
}

/// Why a watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEnd {
    /// The status was Ready (with `until_ready`).
    Ready,
    /// The deadline passed first.
    TimedOut,
    /// Stopped from outside (Ctrl-C); the last condition read, if any read succeeded.
    Stopped(Option<Condition>),
}

/// Prints a status only when it differs from the one printed last.
#[derive(Debug, Default)]
pub struct Watcher {
    last: Option<String>,
}

impl Watcher {
    /// The block to print for a reading taken at `at` (a timestamp header,
    /// then the reading), or `None` when the reading is the one printed last.
    pub fn update(&mut self, reading: &str, at: SystemTime) -> Option<String> {
        if self.last.as_deref() == Some(reading) {
            return None;
        }
        self.last = Some(reading.to_string());
        Some(format!("--- {} ---\n{reading}", rfc3339_utc(at)))
    }
}

/// What one read shows: the status text, or why it could not be read.
fn reading<E: std::fmt::Display>(r: &Result<Status, E>) -> String {
    match r {
        Ok(s) => s.text.clone(),
        Err(e) => format!("status unavailable (retrying every interval): {e:#}\n"),
    }
}

/// Reads the status with `read` every `options.interval`, writes each
/// change to `out` (headers from `clock`), and ends as [`WatchEnd`] says.
/// A failed read is shown like a status (`{:#}`: an error with its causes)
/// and retried.
pub async fn watch<F, Fut, W, E>(
    mut read: F,
    options: WatchOptions,
    out: &mut W,
    mut clock: impl FnMut() -> SystemTime,
    stop: impl Future<Output = ()>,
) -> std::io::Result<WatchEnd>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Status, E>>,
    W: std::io::Write,
    E: std::fmt::Display,
{
    let deadline = async {
        match options.timeout.filter(|_| options.until_ready) {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline, stop);
    let mut watcher = Watcher::default();
    let mut last: Option<Condition> = None;
    loop {
        // Biased: a stop or the deadline wins over a read that is also ready.
        let r = tokio::select! {
            biased;
            _ = &mut stop => return Ok(WatchEnd::Stopped(last)),
            _ = &mut deadline => return Ok(WatchEnd::TimedOut),
            r = read() => r,
        };
        last = r.as_ref().ok().map(|s| s.condition);
        if let Some(block) = watcher.update(&reading(&r), clock()) {
            out.write_all(block.as_bytes())?;
            out.flush()?;
        }
        if options.until_ready && last == Some(Condition::Ready) {
            return Ok(WatchEnd::Ready);
        }
        tokio::select! {
            biased;
            _ = &mut stop => return Ok(WatchEnd::Stopped(last)),
            _ = &mut deadline => return Ok(WatchEnd::TimedOut),
            _ = tokio::time::sleep(options.interval) => {}
        }
    }
}

/// `2026-11-25T10:00:03Z`, from the civil-from-days algorithm (proleptic
/// Gregorian calendar, UTC).
pub fn rfc3339_utc(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Tasks whose latest report failed (e.g. an install whose package does not
/// compile): the rollout waits for a person.
fn failed_tasks(id: &str, tasks: &[opssc_chaincode::model::TaskEntry]) -> Vec<String> {
    let mut latest: std::collections::BTreeMap<(&str, &str), &opssc_chaincode::model::TaskEntry> =
        Default::default();
    for t in tasks {
        let e = latest.entry((t.org.as_str(), t.task.as_str())).or_insert(t);
        if t.seq > e.seq {
            *e = t;
        }
    }
    latest
        .into_values()
        .filter(|t| t.status == opssc_chaincode::model::TaskStatus::Failed)
        .map(|t| {
            format!(
                "proposal {}: {}'s {} task failed: {}",
                crate::plan::short_id(id),
                t.org,
                t.task,
                t.detail.lines().next().unwrap_or("")
            )
        })
        .collect()
}

pub async fn status(ctx: &Context, at: &SpecAt) -> Result<Status, StatusError> {
    let mut out = String::new();
    let mut stalled: Vec<String> = Vec::new();
    let mut progressing: Vec<String> = Vec::new();
    let _ = writeln!(out, "organization: {}", ctx.me);
    let _ = writeln!(
        out,
        "spec: commit {} (spec hash {})",
        at.git_commit(),
        &at.spec.spec_hash[..12.min(at.spec.spec_hash.len())]
    );
    for (c, who) in &at.signers {
        let _ = writeln!(out, "  trusted {c} signed by {who}");
    }
    if let Some((commit, why)) = &at.refused {
        let _ = writeln!(out, "  REFUSED {commit}: {why}");
        stalled.push(format!(
            "spec commit {commit} is refused ({why}); acting on {} until a trusted commit follows",
            at.git_commit()
        ));
    }
    // An organization without peers installs nothing: it builds no package.
    let (built, errors) = if ctx.is_peerless() {
        Default::default()
    } else {
        ctx.build_packages(&at.spec)
    };
    stalled.extend(errors);
    let super::observe_live::Live {
        observed, configs, ..
    } = if ctx.is_peerless() {
        super::observe_live::live_peerless(ctx, &at.spec).await?
    } else {
        super::observe_live::live_full(ctx, &at.spec, &built).await?
    };
    let plan = crate::plan::plan(&at.spec, &observed, &ctx.me);
    let _ = writeln!(out, "chaincodes:");
    for ((channel, name), cc) in &at.spec.chaincodes {
        let key = crate::observe::Observed::chaincode_key(channel, name);
        let committed = observed
            .chaincodes
            .get(&key)
            .map(|c| format!("{} sequence {}", c.version, c.sequence))
            .unwrap_or_else(|| "not committed".into());
        let _ = writeln!(out, "  {key}: spec {} / chain {committed}", cc.version);
        // This organization's own side: which peers have the package, what it approved.
        if let Some(pkg) = built.get(&cc.label) {
            let have: Vec<&str> = observed
                .local
                .peers
                .iter()
                .filter(|(_, p)| {
                    p.installed_packages
                        .iter()
                        .any(|i| i.package_id == pkg.package_id)
                })
                .map(|(n, _)| n.as_str())
                .collect();
            let missing: Vec<&str> = observed
                .local
                .peers
                .keys()
                .map(String::as_str)
                .filter(|n| !have.contains(n))
                .collect();
            let approved = observed
                .local
                .approved
                .get(&key)
                .map(|a| format!("sequence {} ({})", a.sequence, a.version))
                .unwrap_or_else(|| "nothing".into());
            let _ = writeln!(
                out,
                "    {}: package {} installed on [{}], missing on [{}]; approved {approved}",
                ctx.me,
                pkg.package_id,
                have.join(", "),
                missing.join(", ")
            );
        }
    }
    let ops = ctx.ops(&at.spec.consortium.ops_channel);
    let _ = writeln!(out, "proposals:");
    let mut any = false;
    for p in &observed.proposals {
        let got = ops.get(&p.id).await?;
        let votes = ops.votes(&p.id).await?;
        let tasks = ops.tasks(&p.id, None).await?;
        any = true;
        let approvals = votes
            .iter()
            .filter(|v| v.decision == Decision::Approve)
            .count();
        let _ = writeln!(
            out,
            "  {} {} {}/{} [{}] approvals {approvals} of {} (electorate {})",
            crate::plan::short_id(&p.id),
            p.kind,
            p.target.channel,
            p.target.chaincode.as_deref().unwrap_or("-"),
            p.state,
            got.proposal.quorum,
            got.proposal.electorate.join(", ")
        );
        for v in &votes {
            let _ = writeln!(out, "    vote {}: {:?} {}", v.org, v.decision, v.reason);
        }
        for t in &tasks {
            let _ = writeln!(
                out,
                "    task {} {}: {:?} {}",
                t.org,
                t.task,
                t.status,
                t.detail.replace('\n', "\n      | ")
            );
        }
        if matches!(p.state, ProposalState::Approved | ProposalState::Failed) {
            stalled.extend(failed_tasks(&p.id, &tasks));
        }
        if matches!(p.state, ProposalState::Approved) {
            let _ = writeln!(
                out,
                "    executor(s) now: {}",
                got.eligible_executors.join(", ")
            );
        }
    }
    if !any {
        let _ = writeln!(out, "  (none)");
    }
    // Channel changes, chaincodes and unplanned proposals: the plan's own
    // steps and blocked items, as the agent's next pass would take them.
    let input = if ctx.is_peerless() {
        super::pass::peerless_input(ctx, at, &observed, &configs, &plan, &mut stalled)
    } else {
        let consent = super::pass::consent(ctx, at, &observed, &plan);
        crate::plan::steps::PlanInput {
            spec_commit: at.git_commit(),
            vote_policy: ctx.config.vote_policy,
            // `manual`: a person votes on everything; consent decides automatic votes.
            consented: (ctx.config.vote_policy == VotePolicy::Auto).then_some(consent.ids),
            consent_missing: consent.missing,
            caught_up: Default::default(),
            seen_commits: super::pass::seen_commits(ctx, at, &observed),
            // Not asked: the channels not joined yet are listed below.
            admission: Default::default(),
            config_updates: {
                let (updates, errors) =
                    super::channel_changes::config_updates(ctx, at, &observed, &configs, &plan);
                stalled.extend(errors);
                updates
            },
            vote_only: ctx.config.channel_changes
                == opssc_schema::local::ChannelChangePolicy::VoteOnly,
            ops_package: super::channel_changes::opssc_package(ctx, at, &observed)?.map(|(p, _)| p),
            // A view: nothing waited yet.
            waited_ms: Default::default(),
            turn_grace_ms: ctx.config.turn_grace_ms(),
        }
    };
    let steps = crate::plan::steps::steps(&at.spec, &observed, &plan, &input);
    let mut unplanned: Vec<String> = Vec::new();
    for step in &steps.steps {
        progressing.push(format!("next step: {step}"));
    }
    for b in &steps.blocked {
        let line = format!("{}: {}", b.what, b.why);
        if b.stalled {
            stalled.push(line);
        } else if b.what.starts_with("unplanned proposal") {
            unplanned.push(line);
        } else {
            progressing.push(line);
        }
    }
    for o in observed
        .proposals
        .iter()
        .filter(|o| o.state == ProposalState::Proposed && !crate::plan::steps::planned(&plan, o))
    {
        let line = format!(
            "unplanned proposal {} ({} of channel {}{}) filed by {}: not in this organization's plan",
            crate::plan::short_id(&o.id),
            o.kind,
            o.target.channel,
            o.target
                .chaincode
                .as_ref()
                .map(|c| format!(", chaincode {c}"))
                .unwrap_or_default(),
            o.open.as_ref().map_or("?", |d| d.proposer.as_str())
        );
        if !unplanned
            .iter()
            .any(|u| u.contains(&crate::plan::short_id(&o.id).to_string()))
        {
            unplanned.push(line);
        }
    }
    // A new member is in progress until its peers joined the channels the
    // spec puts it in.
    for (name, ch) in &at.spec.channels {
        let joined = observed
            .local
            .peers
            .values()
            .any(|p| p.joined_channels.iter().any(|c| c == name));
        if ch.members.contains(&ctx.me) && !joined && !ctx.peers.is_empty() {
            progressing.push(format!(
                "channel {name}: not joined yet (waiting to be added by its members)"
            ));
        }
    }
    let condition = if !stalled.is_empty() {
        Condition::Stalled
    } else if !unplanned.is_empty() {
        Condition::Unplanned
    } else if !progressing.is_empty() {
        Condition::Progressing
    } else {
        Condition::Ready
    };
    let _ = writeln!(out, "condition: {condition:?}");
    for r in stalled.iter().chain(&unplanned).chain(progressing.iter()) {
        let _ = writeln!(out, "  - {r}");
    }
    Ok(Status {
        condition,
        text: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_task_whose_latest_report_failed_stalls_the_rollout() {
        use opssc_chaincode::model::{TaskEntry, TaskStatus};
        let task = |org: &str, task: &str, seq: u32, status: TaskStatus, detail: &str| TaskEntry {
            proposal_id: "p".repeat(64),
            org: org.into(),
            task: task.into(),
            seq,
            status,
            detail: detail.into(),
            at: 0,
            tx_id: String::new(),
            actor: String::new(),
        };
        let tasks = vec![
            task(
                "Org1MSP",
                "install",
                0,
                TaskStatus::Failed,
                "cc_1:aa does not compile:\n./main.go:1:1: x",
            ),
            task("Org2MSP", "install", 0, TaskStatus::Failed, "transient"),
            task("Org2MSP", "install", 1, TaskStatus::Done, "cc_1:aa"),
            task("Org2MSP", "approve", 0, TaskStatus::Done, "sequence 1"),
        ];
        assert_eq!(
            failed_tasks(&"p".repeat(64), &tasks),
            ["proposal pppppppppppp: Org1MSP's install task failed: cc_1:aa does not compile:"]
        );
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn st(condition: Condition, text: &str) -> Result<Status, String> {
        Ok(Status {
            condition,
            text: format!("{text}\n"),
        })
    }

    /// A fake status source: answers the readings in order, then the last
    /// one again; counts the reads.
    #[derive(Clone)]
    struct Fake {
        readings: Arc<Mutex<VecDeque<Result<Status, String>>>>,
        reads: Arc<Mutex<usize>>,
    }

    impl Fake {
        fn new(readings: Vec<Result<Status, String>>) -> Fake {
            Fake {
                readings: Arc::new(Mutex::new(readings.into())),
                reads: Arc::new(Mutex::new(0)),
            }
        }

        fn read(&self) -> std::future::Ready<Result<Status, String>> {
            *self.reads.lock().unwrap() += 1;
            let mut q = self.readings.lock().unwrap();
            let r = if q.len() > 1 {
                q.pop_front().unwrap()
            } else {
                q.front().unwrap().clone()
            };
            std::future::ready(r)
        }

        fn reads(&self) -> usize {
            *self.reads.lock().unwrap()
        }
    }

    fn options(until_ready: bool, timeout_ms: Option<u64>) -> WatchOptions {
        WatchOptions {
            interval: Duration::from_millis(1),
            until_ready,
            timeout: timeout_ms.map(Duration::from_millis),
        }
    }

    /// A clock that ticks one second per reading.
    fn clock() -> impl FnMut() -> SystemTime {
        let mut t = 1_764_064_800;
        move || {
            t += 1;
            at(t)
        }
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(rfc3339_utc(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(at(1_764_064_803)), "2025-11-25T10:00:03Z");
        assert_eq!(rfc3339_utc(at(4_107_542_399)), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn the_watcher_prints_only_changes() {
        let mut w = Watcher::default();
        assert_eq!(
            w.update("a\n", at(0)).as_deref(),
            Some("--- 1970-01-01T00:00:00Z ---\na\n")
        );
        assert_eq!(w.update("a\n", at(1)), None);
        assert!(w.update("b\n", at(2)).is_some());
        assert!(w.update("a\n", at(3)).is_some(), "back to a is a change");
    }

    #[tokio::test]
    async fn until_ready_prints_each_change_once_and_ends_when_ready() {
        let fake = Fake::new(vec![
            st(Condition::Progressing, "proposal filed"),
            st(Condition::Progressing, "proposal filed"),
            st(Condition::Progressing, "proposal approved"),
            st(Condition::Progressing, "proposal approved"),
            st(Condition::Ready, "committed"),
            st(Condition::Progressing, "never read"),
        ]);
        let mut out = Vec::new();
        let f = fake.clone();
        let end = watch(
            move || f.read(),
            options(true, Some(10_000)),
            &mut out,
            clock(),
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(end, WatchEnd::Ready);
        assert_eq!(fake.reads(), 5);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "--- 2025-11-25T10:00:01Z ---\nproposal filed\n\
             --- 2025-11-25T10:00:03Z ---\nproposal approved\n\
             --- 2025-11-25T10:00:05Z ---\ncommitted\n"
        );
    }

    #[tokio::test]
    async fn until_ready_times_out_when_never_ready() {
        let fake = Fake::new(vec![st(Condition::Stalled, "rejected")]);
        let mut out = Vec::new();
        let f = fake.clone();
        let end = watch(
            move || f.read(),
            options(true, Some(50)),
            &mut out,
            clock(),
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(end, WatchEnd::TimedOut);
        assert!(fake.reads() > 2, "it kept reading: {}", fake.reads());
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.matches("---\nrejected").count(), 1, "{out}");
    }

    #[tokio::test]
    async fn a_plain_watch_goes_on_past_ready_until_stopped() {
        let fake = Fake::new(vec![
            st(Condition::Ready, "all done"),
            st(Condition::Ready, "all done"),
            st(Condition::Progressing, "a new commit"),
        ]);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let tx = Mutex::new(Some(tx));
        let f = fake.clone();
        let read = move || {
            // Ctrl-C arrives during the fourth read, which is not shown.
            if f.reads() == 3 {
                let _ = tx.lock().unwrap().take().unwrap().send(());
            }
            f.read()
        };
        let mut out = Vec::new();
        let end = watch(
            read,
            // A timeout without until_ready does not end the watch.
            options(false, Some(0)),
            &mut out,
            clock(),
            async {
                let _ = rx.await;
            },
        )
        .await
        .unwrap();
        assert_eq!(end, WatchEnd::Stopped(Some(Condition::Progressing)));
        assert_eq!(fake.reads(), 4);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "--- 2025-11-25T10:00:01Z ---\nall done\n--- 2025-11-25T10:00:03Z ---\na new commit\n"
        );
    }

    #[tokio::test]
    async fn a_failed_read_is_shown_and_retried() {
        let fake = Fake::new(vec![
            Err("connect to peer0: connection refused".to_string()),
            Err("connect to peer0: connection refused".to_string()),
            st(Condition::Ready, "all done"),
        ]);
        let mut out = Vec::new();
        let f = fake.clone();
        let end = watch(
            move || f.read(),
            options(true, None),
            &mut out,
            clock(),
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(end, WatchEnd::Ready);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "--- 2025-11-25T10:00:01Z ---\nstatus unavailable (retrying every interval): connect to peer0: connection refused\n\
             --- 2025-11-25T10:00:03Z ---\nall done\n"
        );
    }
}
