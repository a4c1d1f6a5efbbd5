//! The agent daemon: run the pass whenever something may have changed.
//!
//! Wake-ups come from three sources, and none carries meaning for the pass:
//! a new tip of the spec branch or a new approval under `refs/opssc/approvals/`
//! (git fetch every `pollSeconds`), an OpsSC
//! chaincode event (the gateway's ChaincodeEvents stream on the ops
//! channel), and a new block on any other channel of the spec (filtered
//! Deliver, which carries `_lifecycle` approvals and commits by other
//! orgs). Each wakes the loop through one [`Notify`] permit, so a burst
//! costs one pass and an event during a pass causes one more. A local spec
//! directory is watched (notify); `POST /trigger` (from this machine only),
//! a verified push webhook ([`super::webhook`], on its own address) or
//! SIGHUP runs a pass now. Between
//! events the pass's own [`Next`] decides: right away after it acted, a
//! short retry after an error, a periodic requeue (events can be missed).
//!
//! `/healthz` (200 once a pass finished within the last few minutes) and
//! `/metrics` (Prometheus text) are served on `listen`. Logs are structured
//! (tracing). After each pass the notifier ([`super::notify`]) queues the
//! webhooks the pass calls for, without waiting for any receiver. Key decision: the loop never sleeps to wait for another
//! party; the only timers are the poll interval and the requeue bound.
//!
//! SIGTERM or SIGINT (a container runtime stopping the pod, Ctrl-C) stops
//! the agent between passes with exit code 0: a pass in progress finishes
//! first, a wait ends at once. Stopping mid-pass would be safe too (every
//! step checks the chain first, as after a crash), but finishing the pass
//! keeps its report and notifications.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use opssc_fabric::deliver::{Seek, Stop};
use opssc_schema::local::{AgentConfig, SpecSource};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use super::context::Context;
use super::pass::{Next, run_pass};
use super::spec_source;
use crate::source::GitSource;

/// The agent's metrics.
#[derive(Clone)]
pub struct Metrics {
    pub passes: Counter,
    pub pass_errors: Counter,
    pub actions: Counter,
    pub wakeups: Counter,
    pub waiting: Gauge,
    pub refused_commits: Gauge,
    pub last_pass_unix: Gauge,
    /// Proposals on the OpsSC chaincode, by state (`proposed`, `committed`, ...).
    pub proposals: Family<Vec<(String, String)>, Gauge>,
    /// Proposals waiting for this organization's vote by a person.
    pub votes_pending: Gauge,
    /// When the last pass without a failed step finished.
    pub last_success_unix: Gauge,
    pub pass_duration: Histogram,
    /// Seconds since the spec commit the agent acts on was made.
    pub spec_commit_age: Gauge,
    /// Commits on the spec branch after the one the agent acts on (refused
    /// or not verified yet).
    pub spec_commits_behind: Gauge,
    /// Failed task reports seen on the chain (each once).
    pub task_failures: Counter,
    pub notifications: super::notify::Counters,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            passes: Counter::default(),
            pass_errors: Counter::default(),
            actions: Counter::default(),
            wakeups: Counter::default(),
            waiting: Gauge::default(),
            refused_commits: Gauge::default(),
            last_pass_unix: Gauge::default(),
            proposals: Family::default(),
            votes_pending: Gauge::default(),
            last_success_unix: Gauge::default(),
            // 50 ms to about 100 s.
            pass_duration: Histogram::new(exponential_buckets(0.05, 2.0, 12)),
            spec_commit_age: Gauge::default(),
            spec_commits_behind: Gauge::default(),
            task_failures: Counter::default(),
            notifications: Default::default(),
        }
    }
}

impl Metrics {
    /// What one pass saw: proposals by state, pending votes, new failed tasks.
    fn observe_pass(&self, me: &str, view: &super::notify::PassView, new_task_failures: usize) {
        for (state, n) in super::notify::proposals_by_state(&view.observed) {
            self.proposals
                .get_or_create(&vec![("state".to_string(), state.as_str().to_string())])
                .set(n as i64);
        }
        self.votes_pending
            .set(super::notify::votes_pending(me, view) as i64);
        self.task_failures.inc_by(new_task_failures as u64);
    }

    fn registry(&self) -> Registry {
        let mut r = Registry::with_prefix("opssc_agent");
        r.register(
            "proposals",
            "Proposals on the OpsSC chaincode, by state",
            self.proposals.clone(),
        );
        r.register(
            "votes_pending",
            "Proposals waiting for this organization's vote by a person",
            self.votes_pending.clone(),
        );
        r.register(
            "last_success_timestamp_seconds",
            "When the last pass without a failed step finished (Unix seconds)",
            self.last_success_unix.clone(),
        );
        r.register(
            "pass_duration_seconds",
            "How long a reconcile pass took",
            self.pass_duration.clone(),
        );
        r.register(
            "spec_commit_age_seconds",
            "Seconds since the spec commit the agent acts on was made",
            self.spec_commit_age.clone(),
        );
        r.register(
            "spec_commits_behind",
            "Commits on the spec branch after the one the agent acts on",
            self.spec_commits_behind.clone(),
        );
        r.register(
            "task_failures",
            "Failed task reports seen on the chain",
            self.task_failures.clone(),
        );
        r.register(
            "notifications_sent",
            "Notifications delivered",
            self.notifications.sent.clone(),
        );
        r.register(
            "notifications_failed",
            "Notifications given up after every retry",
            self.notifications.failed.clone(),
        );
        r.register(
            "notifications_dropped",
            "Notifications dropped because a receiver's queue was full",
            self.notifications.dropped.clone(),
        );
        r.register("passes", "Reconcile passes run", self.passes.clone());
        r.register(
            "pass_errors",
            "Passes that ended with an error",
            self.pass_errors.clone(),
        );
        r.register("actions", "Steps done on the network", self.actions.clone());
        r.register("wakeups", "Events that woke the loop", self.wakeups.clone());
        r.register(
            "waiting",
            "Steps waiting on others after the last pass",
            self.waiting.clone(),
        );
        r.register(
            "refused_commits",
            "1 when the spec branch has a commit the agent refuses",
            self.refused_commits.clone(),
        );
        r.register(
            "last_pass_timestamp_seconds",
            "When the last pass finished (Unix seconds)",
            self.last_pass_unix.clone(),
        );
        r
    }
}

/// The age of the spec commit `at` acts on, and how many commits the branch
/// tip is ahead of it, from the agent's spec mirror (None for a directory).
fn spec_lag(state_dir: &std::path::Path, at: &super::spec_source::SpecAt) -> Option<(i64, i64)> {
    let commit = at.commit?;
    let repo = git2::Repository::open_bare(state_dir.join("spec-mirror")).ok()?;
    let made = repo.find_commit(commit).ok()?.time().seconds();
    let behind = match at.tip {
        Some(tip) if tip != commit => repo
            .graph_ahead_behind(tip, commit)
            .map_or(0, |(ahead, _)| ahead as i64),
        _ => 0,
    };
    Some((unix_now() - made, behind))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// How long a client of the HTTP endpoint may take to send its request.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Who may ask for a pass now: `POST /trigger` from this machine only. The
/// endpoint takes no credentials, so anyone who could reach it could make
/// the agent run pass after pass against the network; a git host's push
/// webhook goes to the signature-checking receiver of `pushWebhook`
/// ([`super::webhook`]) instead.
fn trigger_decision(
    method: &str,
    peer: std::net::IpAddr,
) -> Result<(), (&'static str, &'static str)> {
    if !peer.to_canonical().is_loopback() {
        return Err((
            "403 Forbidden",
            "POST /trigger is accepted from this machine only; point webhooks at pushWebhook's /hooks/push",
        ));
    }
    if method != "POST" {
        return Err(("405 Method Not Allowed", "use POST /trigger"));
    }
    Ok(())
}

async fn serve_http(
    listen: String,
    metrics: Metrics,
    last_pass: Arc<AtomicI64>,
    wake: Arc<Notify>,
) {
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%listen, error = %e, "cannot listen for /healthz and /metrics");
            return;
        }
    };
    tracing::info!(address = %listener.local_addr().map(|a| a.to_string()).unwrap_or(listen), "serving /healthz and /metrics");
    let registry = Arc::new(metrics.registry());
    loop {
        let Ok((mut sock, peer)) = listener.accept().await else {
            continue;
        };
        let registry = registry.clone();
        let last_pass = last_pass.clone();
        let wake = wake.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            // A client that connects and sends nothing must not hold a task
            // and a socket forever.
            let n = match tokio::time::timeout(REQUEST_READ_TIMEOUT, sock.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                Ok(Err(_)) | Err(_) => return,
            };
            let req = String::from_utf8_lossy(&buf[..n]);
            let mut words = req.split_whitespace();
            let method = words.next().unwrap_or("");
            let path = words.next().unwrap_or("/");
            let (status, ctype, body) = match path {
                "/metrics" => {
                    let mut text = String::new();
                    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
                    (
                        "200 OK",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        text,
                    )
                }
                "/healthz" => {
                    let last = last_pass.load(Ordering::Relaxed);
                    if last > 0 && unix_now() - last < 300 {
                        ("200 OK", "text/plain", "ok\n".to_string())
                    } else {
                        (
                            "503 Service Unavailable",
                            "text/plain",
                            "no recent pass\n".to_string(),
                        )
                    }
                }
                "/trigger" => match trigger_decision(method, peer.ip()) {
                    Ok(()) => {
                        wake.notify_one();
                        (
                            "202 Accepted",
                            "text/plain",
                            "a pass will run\n".to_string(),
                        )
                    }
                    Err((status, why)) => (status, "text/plain", format!("{why}\n")),
                },
                _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        });
    }
}

/// Whether a poll that fetched `seen` wakes a pass: when the branch or its
/// approvals moved since the poll before (`last`, none on the first poll,
/// which only records), unless the pass loop has already resolved exactly
/// that (`acted_on`: a push webhook or trigger got there first, and a pass
/// over it again would only load the peers in the middle of the change).
fn poll_wakes(
    last: Option<&spec_source::GitSeen>,
    seen: &spec_source::GitSeen,
    acted_on: Option<&spec_source::GitSeen>,
) -> bool {
    last.is_some_and(|l| l != seen) && acted_on != Some(seen)
}

/// Wakes the loop when the spec branch or its approvals move.
async fn poll_git(
    config: AgentConfig,
    state_dir: std::path::PathBuf,
    wake: Arc<Notify>,
    metrics: Metrics,
    acted_on: Arc<std::sync::Mutex<Option<spec_source::GitSeen>>>,
) {
    let Some(SpecSource::Git {
        url,
        branch,
        poll_seconds,
        ..
    }) = config.spec.clone()
    else {
        return;
    };
    let every = Duration::from_secs(poll_seconds.unwrap_or(5).max(1));
    let mut last = None;
    loop {
        let (url, branch, dir) = (url.clone(), branch.clone(), state_dir.join("spec-poll"));
        let config = config.clone();
        // The branch tip and every approval: an admin's pushed `opssc
        // approve` is consent the next pass acts on, as a new commit is.
        let seen = tokio::task::spawn_blocking(move || {
            let source = GitSource::open_for(&dir, &url, &config)?;
            let tip = source.fetch(&branch)?;
            Ok::<_, crate::source::SourceError>((
                tip,
                crate::source::approval_refs(source.repository())?,
            ))
        })
        .await;
        match seen {
            Ok(Ok(seen)) => {
                let acted_on = acted_on.lock().expect("resolved spec lock").clone();
                if poll_wakes(last.as_ref(), &seen, acted_on.as_ref()) {
                    tracing::info!(tip = %seen.0, approvals = seen.1.len(), "the spec branch or its approvals moved");
                    metrics.wakeups.inc();
                    wake.notify_one();
                }
                last = Some(seen);
            }
            Ok(Err(e)) => {
                tracing::warn!(
                    error = super::error::chain(&e),
                    "cannot fetch the spec repository"
                )
            }
            Err(e) => tracing::warn!(error = %e, "git poll task failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// The manual trigger: `kill -HUP <pid>` runs a pass now (as does `POST /trigger`).
async fn on_sighup(wake: Arc<Notify>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: running a pass");
        wake.notify_one();
    }
}

/// SIGTERM and SIGINT: asks the loop to stop (see the module doc).
async fn on_stop_signal(stopping: Arc<AtomicBool>, stop: Arc<Notify>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping after the current pass"),
        _ = int.recv() => tracing::info!("SIGINT: stopping after the current pass"),
    }
    stopping.store(true, Ordering::SeqCst);
    stop.notify_one();
}

/// A local spec directory (`spec: {dir: ...}`): wakes the loop on every change.
fn watch_dir(config: &AgentConfig, wake: Arc<Notify>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let Some(SpecSource::Dir { path }) = &config.spec else {
        return None;
    };
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if ev.is_ok() {
            wake.notify_one();
        }
    })
    .map_err(|e| tracing::warn!(error = %e, "cannot watch the spec directory; relying on the periodic requeue"))
    .ok()?;
    if let Err(e) = watcher.watch(path, notify::RecursiveMode::Recursive) {
        tracing::warn!(dir = %path.display(), error = %e, "cannot watch the spec directory");
        return None;
    }
    Some(watcher)
}

/// Wakes the loop on every OpsSC chaincode event; reconnects on failure.
async fn watch_ops(ctx: Arc<Context>, ops_channel: String, wake: Arc<Notify>, metrics: Metrics) {
    let ops = ctx.ops(&ops_channel);
    // The gateway accepts only a specified start block: start after the
    // current newest one, and resume after the last block seen.
    let mut next_block: Option<u64> = None;
    // Backs off while the ops channel is not readable (an organization not
    // yet added to it), warning once rather than every second.
    let mut unreadable = 0u32;
    loop {
        let start = match next_block {
            Some(n) => n,
            None => match ctx
                .main_peer()
                .deliver
                .block(&ops.channel, Seek::Newest)
                .await
            {
                Ok(b) => {
                    unreadable = 0;
                    b.header.as_ref().map_or(0, |h| h.number) + 1
                }
                Err(e) => {
                    if unreadable == 0 {
                        tracing::warn!(error = %e, "cannot read the newest block of the ops channel (retrying quietly)");
                    } else {
                        tracing::debug!(error = %e, "the ops channel is still not readable");
                    }
                    unreadable = unreadable.saturating_add(1);
                    tokio::time::sleep(Duration::from_secs(u64::from(unreadable.min(5)))).await;
                    continue;
                }
            },
        };
        match ops
            .gateway
            .chaincode_events(&ops.channel, &ops.chaincode, Seek::Number(start), None)
            .await
        {
            Ok(mut stream) => {
                while let Some(ev) = stream.next().await {
                    match ev {
                        Ok(r) => {
                            next_block = Some(r.block_number + 1);
                            for e in &r.events {
                                tracing::debug!(event = %e.event_name, tx = %e.tx_id, block = r.block_number, "OpsSC event");
                            }
                            metrics.wakeups.inc();
                            wake.notify_one();
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "OpsSC event stream broke");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot open the OpsSC event stream"),
        }
        // Reconnect after a pause; the loop's periodic requeue covers the gap.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Wakes the loop on every new block of `channel`.
/// An organization without peers (the orderer organization) reads full
/// blocks from its first orderer instead (peers serve filtered ones only to
/// their channels' Application members).
async fn watch_blocks(ctx: Arc<Context>, channel: String, wake: Arc<Notify>, metrics: Metrics) {
    let peerless = ctx.is_peerless();
    loop {
        let stream = match (peerless, ctx.orderers.first()) {
            (false, _) => {
                ctx.main_peer()
                    .deliver
                    .filtered_blocks(&channel, Seek::Newest, Stop::Never)
                    .await
            }
            (true, Some(o)) => o.deliver.blocks(&channel, Seek::Newest, Stop::Never).await,
            (true, None) => return,
        };
        match stream {
            Ok(mut stream) => {
                // The first block is the current newest one: not news.
                let mut first = true;
                loop {
                    let b = if peerless {
                        stream.next().await.map(|b| b.map(|_| ()))
                    } else {
                        stream.next_filtered().await.map(|b| b.map(|_| ()))
                    };
                    let Some(b) = b else { break };
                    match b {
                        Ok(_) if first => first = false,
                        Ok(_) => {
                            metrics.wakeups.inc();
                            wake.notify_one();
                        }
                        Err(e) => {
                            tracing::warn!(%channel, error = %e, "block stream broke");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(%channel, error = %e, "cannot open the block stream"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Why the agent stopped other than by a signal.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The blocking task that reads the spec panicked or was cancelled.
    #[error("spec task failed: {0}")]
    SpecTask(#[from] tokio::task::JoinError),
}

/// Runs the agent until killed.
pub async fn run(config: AgentConfig) -> Result<i32, DaemonError> {
    let metrics = Metrics::default();
    let last_pass = Arc::new(AtomicI64::new(0));
    let wake = Arc::new(Notify::new());
    if let Some(listen) = config.listen.clone() {
        tokio::spawn(serve_http(
            listen,
            metrics.clone(),
            last_pass.clone(),
            wake.clone(),
        ));
    }
    tokio::spawn(on_sighup(wake.clone()));
    let stopping = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(Notify::new());
    tokio::spawn(on_stop_signal(stopping.clone(), stop.clone()));
    if let (Some(hook), Some(SpecSource::Git { branch, .. })) = (&config.push_webhook, &config.spec)
    {
        tokio::spawn(super::webhook::serve(
            hook.clone(),
            branch.clone(),
            wake.clone(),
        ));
    }
    let _watcher = watch_dir(&config, wake.clone());
    let ctx = loop {
        match Context::connect(config.clone()).await {
            Ok(c) => break Arc::new(c),
            Err(e) => {
                tracing::warn!(
                    error = super::error::chain(&e),
                    "cannot connect yet; retrying in 2s"
                );
                if stopping.load(Ordering::SeqCst) {
                    return Ok(0);
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    // What the pass loop last resolved the spec from, for the poller.
    let acted_on = Arc::new(std::sync::Mutex::new(None));
    tokio::spawn(poll_git(
        config.clone(),
        ctx.state_dir.clone(),
        wake.clone(),
        metrics.clone(),
        acted_on.clone(),
    ));
    let mut notifier = super::notify::Notifier::start(
        &ctx.config,
        &ctx.state_dir,
        super::notify::Backoff::default(),
        metrics.notifications.clone(),
    );
    let mut watched = false;
    let mut resolved = spec_source::Resolved::default();
    // Set by a pass that only voted on proposals another organization
    // executes: the next pass waits briefly.
    let mut yield_to_executor = false;
    loop {
        if stopping.load(Ordering::SeqCst) {
            tracing::info!("stopped");
            return Ok(0);
        }
        let resolve_started = std::time::Instant::now();
        let at = {
            let (config, state_dir) = (ctx.config.clone(), ctx.state_dir.clone());
            let mut last = std::mem::take(&mut resolved);
            let (at, last) = tokio::task::spawn_blocking(move || {
                let at = spec_source::resolve_since(&config, &state_dir, None, &mut last);
                (at, last)
            })
            .await
            .map_err(DaemonError::SpecTask)?;
            *acted_on.lock().expect("resolved spec lock") = last.seen();
            resolved = last;
            at
        };
        let resolve_ms = resolve_started.elapsed().as_millis();
        let next = match at {
            Err(e) => {
                metrics.pass_errors.inc();
                tracing::error!(error = super::error::chain(&e), "cannot read the spec");
                Next::Retry(Duration::from_secs(5))
            }
            Ok(at) => {
                if !watched {
                    watched = true;
                    let ops_channel = at.spec.consortium.ops_channel.clone();
                    // An organization without peers has no OpsSC event
                    // stream (the gateway serves it to Application members
                    // only): it watches every channel's blocks, the ops
                    // channel's included, at the orderer.
                    if !ctx.is_peerless() {
                        tokio::spawn(watch_ops(
                            ctx.clone(),
                            ops_channel.clone(),
                            wake.clone(),
                            metrics.clone(),
                        ));
                    }
                    for (name, ch) in &at.spec.channels {
                        let watched = if ctx.is_peerless() {
                            true
                        } else {
                            *name != ops_channel && ch.members.contains(&ctx.me)
                        };
                        if watched {
                            tokio::spawn(watch_blocks(
                                ctx.clone(),
                                name.clone(),
                                wake.clone(),
                                metrics.clone(),
                            ));
                        }
                    }
                }
                if let Some((commit, why)) = &at.refused {
                    metrics.refused_commits.set(1);
                    tracing::warn!(%commit, reason = %why, trusted = %at.git_commit(), "refusing a spec commit; acting on the last trusted one");
                } else {
                    metrics.refused_commits.set(0);
                }
                tracing::debug!(commit = %at.git_commit(), resolve_ms, "pass starts");
                let started = std::time::Instant::now();
                let report = run_pass(&ctx, &at).await;
                yield_to_executor = report.view.as_ref().is_some_and(|v| {
                    crate::plan::steps::executed_by_another(&ctx.me, &v.observed, &v.steps)
                });
                metrics
                    .pass_duration
                    .observe(started.elapsed().as_secs_f64());
                metrics.passes.inc();
                if let Some((age, behind)) = spec_lag(&ctx.state_dir, &at) {
                    metrics.spec_commit_age.set(age);
                    metrics.spec_commits_behind.set(behind);
                }
                // Notifications: the pass's stalled items, and a refused
                // commit (which `opssc status` calls Stalled too).
                let mut stalled = report.stalled.clone();
                if let Some((commit, why)) = &at.refused {
                    stalled.push(format!(
                        "spec commit {commit} is refused ({why}); acting on {} until a trusted commit follows",
                        at.git_commit()
                    ));
                }
                let fresh = notifier.after_pass(report.view.as_deref(), &stalled, unix_now());
                if let Some(view) = &report.view {
                    let new_failures = fresh
                        .iter()
                        .filter(|e| e.event == opssc_schema::local::NotificationEvent::TaskFailed)
                        .count();
                    metrics.observe_pass(&ctx.me, view, new_failures);
                }
                if report.errors.is_empty() && report.view.is_some() {
                    metrics.last_success_unix.set(unix_now());
                }
                metrics.actions.inc_by(report.actions.len() as u64);
                metrics.waiting.set(report.waiting.len() as i64);
                for a in &report.actions {
                    tracing::info!(commit = %at.git_commit(), action = %a, "acted");
                }
                for w in &report.waiting {
                    tracing::debug!(waiting = %w, "waiting");
                }
                for s in &report.stalled {
                    tracing::warn!(stalled = %s, "needs a person");
                }
                for e in &report.errors {
                    metrics.pass_errors.inc();
                    tracing::warn!(error = %e, "step failed; it is retried");
                }
                report.next
            }
        };
        last_pass.store(unix_now(), Ordering::Relaxed);
        metrics.last_pass_unix.set(unix_now());
        match next {
            // The pass acted; after only voting on what another
            // organization executes, it lets the executor-to-be read and
            // endorse first (the votes' block wakes every agent at once).
            Next::Now if yield_to_executor => {
                tokio::time::sleep(crate::plan::steps::YIELD_TO_EXECUTOR).await;
            }
            Next::Now => continue,
            Next::AwaitChange(d) | Next::Retry(d) => {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = stop.notified() => {}
                    // Idle for a while: the pages the passes freed go back
                    // (not between the quick passes of a change, which
                    // would only take them again).
                    _ = async {
                        tokio::time::sleep(TRIM_WHEN_IDLE_FOR).await;
                        give_back_free_memory();
                        std::future::pending::<()>().await
                    } => {}
                    // Nothing that the agent heard of moved: the periodic
                    // pass reads everything again.
                    _ = tokio::time::sleep(d) => ctx.reads.clear(),
                }
            }
        }
    }
}

/// How long an agent waits without a pass before it gives freed memory back.
const TRIM_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Returns the heap pages the passes freed to the system once the agent is
/// idle: a pass's reads (config blocks, proposal records) are freed when it
/// ends, but glibc keeps the pages for reuse, and an idle agent would hold
/// them. Measured at ten organizations: see docs/BENCHMARKS.md.
fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; glibc
    // locks the arena itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_wakes_a_pass_only_for_what_no_pass_resolved_yet() {
        let oid = |n: u8| git2::Oid::from_bytes(&[n; 20]).unwrap();
        let at = |tip: u8, approvals: &[u8]| -> spec_source::GitSeen {
            (
                oid(tip),
                approvals
                    .iter()
                    .map(|a| (format!("refs/opssc/approvals/{a}"), oid(*a)))
                    .collect(),
            )
        };
        let (one, two) = (at(1, &[]), at(2, &[]));
        // The first poll only records.
        assert!(!poll_wakes(None, &one, None));
        // Nothing moved.
        assert!(!poll_wakes(Some(&one), &one, Some(&one)));
        // The branch moved and no pass has resolved it yet: wake.
        assert!(poll_wakes(Some(&one), &two, Some(&one)));
        assert!(poll_wakes(Some(&one), &two, None));
        // A trigger or webhook got the pass loop there first: no second pass.
        assert!(!poll_wakes(Some(&one), &two, Some(&two)));
        // An approval pushed on the same tip is consent: wake.
        let approved = at(1, &[9]);
        assert!(poll_wakes(Some(&one), &approved, Some(&one)));
        assert!(!poll_wakes(Some(&one), &approved, Some(&approved)));
    }

    #[test]
    fn only_a_local_post_triggers_a_pass() {
        let local: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        assert!(trigger_decision("POST", local).is_ok());
        assert!(trigger_decision("POST", "::1".parse().unwrap()).is_ok());
        assert!(trigger_decision("POST", "::ffff:127.0.0.1".parse().unwrap()).is_ok());
        assert_eq!(
            trigger_decision("GET", local).unwrap_err().0,
            "405 Method Not Allowed"
        );
        for remote in ["10.0.0.7", "192.168.1.2", "::ffff:10.0.0.7", "2001:db8::1"] {
            let (status, why) = trigger_decision("POST", remote.parse().unwrap()).unwrap_err();
            assert_eq!(status, "403 Forbidden", "{remote}");
            assert!(why.contains("this machine only"), "{why}");
        }
    }

    /// Sends `request` to the endpoint and returns the whole answer.
    async fn ask(addr: std::net::SocketAddr, request: &str) -> String {
        let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
        sock.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        sock.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn trigger_wakes_the_loop_and_a_silent_client_is_dropped() {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let wake = Arc::new(Notify::new());
        tokio::spawn(serve_http(
            addr.to_string(),
            Metrics::default(),
            Arc::new(AtomicI64::new(0)),
            wake.clone(),
        ));
        let mut tries = 0;
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            tries += 1;
            assert!(tries < 100, "the endpoint did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let got = ask(addr, "GET /trigger HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(got.starts_with("HTTP/1.1 405"), "{got}");
        let woken = tokio::time::timeout(Duration::from_millis(200), wake.notified()).await;
        assert!(woken.is_err(), "a GET woke the loop");

        let got = ask(addr, "POST /trigger HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(got.starts_with("HTTP/1.1 202"), "{got}");
        tokio::time::timeout(Duration::from_secs(5), wake.notified())
            .await
            .expect("POST /trigger did not wake the loop");

        // Connected, silent: the server closes the connection after the
        // read timeout instead of waiting forever.
        let started = std::time::Instant::now();
        let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(
            REQUEST_READ_TIMEOUT + Duration::from_secs(5),
            silent.read_to_end(&mut rest),
        )
        .await;
        assert!(
            matches!(read, Ok(Ok(0))),
            "the silent connection was not closed: {read:?}"
        );
        assert!(started.elapsed() >= REQUEST_READ_TIMEOUT - Duration::from_millis(100));
    }
}
