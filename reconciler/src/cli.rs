//! The command-line definition: every subcommand and flag, with its help, in one place.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "opssc", version = env!("OPSSC_VERSION_LINE"), about = "Declarative GitOps for Hyperledger Fabric consortia", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// rustc-style, with the source line (for people)
    Text,
    /// one JSON document (for tools)
    Json,
    /// GitHub Actions workflow commands (annotations on the pull request)
    Github,
}

/// Output format of `opssc plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// terraform-like: `+ ~ -`, before → after, approvals, `!` risks (for people)
    Text,
    /// the whole plan as one JSON document (for tools)
    Json,
    /// a table of changes, approvers and risks (for a pull request comment)
    Markdown,
}

/// `opssc state` subcommands.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Write the state of a network on which nothing exists yet (for the founding plan).
    Empty {
        /// The spec directory.
        #[arg(long, default_value = "network-spec")]
        spec: PathBuf,
        /// The observing organization (default: the spec's first peer organization).
        #[arg(long)]
        org: Option<String>,
        /// Where to write the JSON snapshot (`-` for stdout).
        file: PathBuf,
    },
    /// Observe the live network as the organization of `--config` and write
    /// what it sees (the input of `opssc plan --state`).
    Save {
        /// The organization's agent configuration (`opssc.yaml`).
        #[arg(long, default_value = "opssc.yaml")]
        config: PathBuf,
        /// Observe for this spec directory instead of the configured source.
        #[arg(long)]
        spec: Option<PathBuf>,
        /// Where to write the JSON snapshot (`-` for stdout).
        file: PathBuf,
    },
    /// Write the state a network shows once it has applied the spec completely.
    FromSpec {
        /// The spec directory.
        #[arg(long, default_value = "network-spec")]
        spec: PathBuf,
        /// The observing organization (default: the spec's first peer organization).
        #[arg(long)]
        org: Option<String>,
        /// Where to write the JSON snapshot (`-` for stdout).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a network spec: every problem at once, with file:line:column and a hint.
    ///
    /// Exit codes: 0 valid (warnings are printed), 1 invalid, 2 usage or I/O error.
    Validate {
        /// The spec directory (or a single YAML file).
        #[arg(default_value = "network-spec")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Print the JSON Schema of spec documents (or of the agent's local configuration).
    Schema {
        /// Print the schema of the agent configuration file instead.
        #[arg(long)]
        agent_config: bool,
    },
    /// Run a real Fabric network on this machine for trying opssc (no Docker).
    Dev {
        #[command(subcommand)]
        cmd: DevCommand,
    },
    /// Show what the chain has, what the spec wants, and who must approve each change.
    ///
    /// Observes the live network with --config (as that organization), or
    /// reads a saved snapshot with --state.
    ///
    /// Exit codes: 0 no changes, 2 changes, 1 error (invalid spec, unreadable
    /// state, network unreachable, neither --config nor --state).
    Plan {
        /// The spec directory.
        #[arg(long, default_value = "network-spec")]
        spec: PathBuf,
        /// A saved state snapshot (JSON, from `opssc state save`).
        #[arg(long, conflicts_with = "config")]
        state: Option<PathBuf>,
        /// Observe the live network as the organization of this agent
        /// configuration (`opssc.yaml`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The organization to plan local changes for (default: the observer).
        #[arg(long)]
        org: Option<String>,
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
    },
    /// Write state snapshots for `opssc plan --state`.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Join the channels this organization was added to and catch up their
    /// chaincodes, in the foreground, until done (the agent does the same on
    /// its own).
    Bootstrap {
        /// The organization's agent configuration (`opssc.yaml`).
        #[arg(long, default_value = "opssc.yaml")]
        config: PathBuf,
        /// Use this spec directory instead of the configured source (no signature checks).
        #[arg(long)]
        spec: Option<PathBuf>,
        /// Give up after this many seconds (exit 1).
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Write the spec a running network implies, as the organization of
    /// `--config` sees it: every channel its peers joined and every committed
    /// chaincode definition. What the chain does not tell (package sources,
    /// admins' SSH keys, …) is written as a `TODO(opssc import)` placeholder
    /// and listed on stdout.
    ///
    /// Exit codes: 0 written, 1 error (unreachable network, --out not empty).
    Import {
        /// The organization's agent configuration (`opssc.yaml`).
        #[arg(long, default_value = "opssc.yaml")]
        config: PathBuf,
        /// The spec directory to write (new or empty).
        #[arg(long)]
        out: PathBuf,
    },
    /// Found the consortium from the spec, this organization's part: the
    /// orderer organization joins its orderers to every channel (genesis
    /// block from the spec); a peer organization joins its peers, installs
    /// and approves the OpsSC, and the first member commits it and founds the
    /// registry. Idempotent; run by every founding organization.
    Found {
        /// The organization's agent configuration (`opssc.yaml`).
        #[arg(long, default_value = "opssc.yaml")]
        config: PathBuf,
        /// Use this spec directory instead of the configured source (no signature checks).
        #[arg(long)]
        spec: Option<PathBuf>,
        /// Give up after this many seconds (exit 1).
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// Adopt a running network built without opssc: create only the ops
        /// channel (or use the running one the spec names), install the
        /// OpsSC and found the registry from the live channels; refused if
        /// the spec differs from what runs (exit 2), which stays untouched.
        #[arg(long)]
        adopt: bool,
    },
    /// One pass of the agent: observe, plan, file proposals, vote, install,
    /// approve, commit when this org is the executor, report.
    ///
    /// Exit codes: 0 the pass ran without error (it may wait on others),
    /// 1 a step failed (printed), 2 usage or I/O error.
    Reconcile {
        /// The organization's agent configuration (`opssc.yaml`).
        #[arg(long, default_value = "opssc.yaml")]
        config: PathBuf,
        /// Run one pass and exit (the only mode; the loop is `opssc agent`).
        #[arg(long)]
        once: bool,
        /// Use this spec directory instead of the configured source (no signature checks).
        #[arg(long)]
        spec: Option<PathBuf>,
    },
    /// The per-organization agent: reconcile whenever the spec, the OpsSC or a
    /// channel changes; `/healthz` and `/metrics` on `listen`.
    Agent {
        /// The organization's agent configuration (`opssc.yaml`).
        #[arg(long, default_value = "opssc.yaml")]
        config: PathBuf,
    },
    /// Proposals with votes and quorum, tasks per org, refused commits, and the
    /// condition Ready / Progressing / Stalled with reasons.
    ///
    /// Exit codes: 0 Ready, 3 Progressing, 4 Stalled, 2 error. With
    /// `--watch --until-ready`: 0 Ready, 1 timed out. Ctrl-C ends a watch
    /// with the code of the last condition shown.
    Status {
        /// The organization's agent configuration (`opssc.yaml`).
        #[arg(long, default_value = "opssc.yaml")]
        config: PathBuf,
        /// Use this spec directory instead of the configured source.
        #[arg(long)]
        spec: Option<PathBuf>,
        #[command(flatten)]
        watch: StatusWatch,
    },
    /// Who changed what, and who agreed: one record per change (proposal)
    /// joining its spec commit (author, signer, approvals, pull request),
    /// the proposal, each vote, the decision, the executor, the definition
    /// commit or config block, every task report and the outcome, with
    /// transaction IDs and block numbers. Reads only the chain and the spec
    /// repository.
    Audit {
        /// The organization's agent configuration (`opssc.yaml`).
        #[arg(long, default_value = "opssc.yaml")]
        config: PathBuf,
        /// A local clone of the spec repository (default: fetch the configured one).
        #[arg(long)]
        spec: Option<PathBuf>,
        /// Only changes of this channel.
        #[arg(long)]
        channel: Option<String>,
        /// Only changes of this chaincode.
        #[arg(long)]
        chaincode: Option<String>,
        /// Only changes this organization (MSP ID) took part in.
        #[arg(long)]
        org: Option<String>,
        /// Only changes filed at or after this time (Unix seconds or 2026-12-05[T10:00:00Z]).
        #[arg(long)]
        since: Option<String>,
        /// Only changes filed at or before this time.
        #[arg(long)]
        until: Option<String>,
        /// The ops channel.
        #[arg(long, default_value = "ops")]
        ops_channel: String,
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
    },
    /// Vote on a proposal as this organization (for `votePolicy: manual`).
    Vote {
        /// The proposal ID (as `opssc status` shows it, in full).
        id: String,
        decision: VoteDecision,
        /// Why (recorded on the chain).
        #[arg(long, default_value = "")]
        reason: String,
        /// The organization's agent configuration (`opssc.yaml`).
        #[arg(long, default_value = "opssc.yaml")]
        config: PathBuf,
        /// The ops channel (default: the spec's).
        #[arg(long, default_value = "ops")]
        ops_channel: String,
    },
    /// Approve a spec commit as one of your organization's admins: a signed
    /// approval of its spec tree under `refs/opssc/approvals/` (works for
    /// merge, rebase and squash merges of a pull request).
    Approve {
        /// The commit to approve (a pull request's head, or a branch commit).
        #[arg(default_value = "HEAD")]
        commit: String,
        /// A clone of the spec repository.
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// The admin's SSH private key (default: git config user.signingkey).
        #[arg(long)]
        key: Option<PathBuf>,
        /// The spec's directory inside the repository (spec.git.path).
        #[arg(long)]
        path: Option<PathBuf>,
        /// Push the approval to this remote (e.g. `origin`).
        #[arg(long, conflicts_with = "list")]
        push: Option<String>,
        /// Only list the approvals present and missing, per organization
        /// (exit 2 when some organization has not approved; for the PR check).
        #[arg(long)]
        list: bool,
    },
    /// Proposals on the OpsSC: list them, show one (votes, signatures,
    /// tasks, deadline), withdraw, retry or expire one.
    ///
    /// Exit codes: 0 done, 1 refused by the OpsSC (its reason and what to
    /// do instead are printed) or no such proposal, 2 other errors.
    Proposal {
        #[command(subcommand)]
        command: ProposalCommand,
    },
    /// Start the next attempt of a failed proposal (the next executor goes
    /// first); the same as `opssc proposal retry`.
    Retry {
        /// The proposal ID (in full).
        id: String,
        /// Why (recorded on the chain).
        #[arg(long, default_value = "")]
        reason: String,
        /// The organization's agent configuration (`opssc.yaml`).
        #[arg(long, default_value = "opssc.yaml")]
        config: PathBuf,
        /// The ops channel.
        #[arg(long, default_value = "ops")]
        ops_channel: String,
    },
    /// Print the package ID of the OpsSC chaincode this organization installs
    /// (label and address from `chaincodeServers`): what its OpsSC server
    /// (`opssc-chaincode --chaincode-id`) must be started with. Reads only
    /// the configuration file.
    OpsPackageId {
        /// The organization's agent configuration (`opssc.yaml`).
        #[arg(long, default_value = "opssc.yaml")]
        config: PathBuf,
        /// Write the ID to this file instead of standard output (for an
        /// init container).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// Where `opssc proposal` commands connect: the organization's agent
/// configuration and the ops channel.
#[derive(Debug, Clone, clap::Args)]
pub struct OpsTarget {
    /// The organization's agent configuration (`opssc.yaml`).
    #[arg(long, default_value = "opssc.yaml")]
    pub config: PathBuf,
    /// The ops channel.
    #[arg(long, default_value = "ops")]
    pub ops_channel: String,
}

/// `opssc proposal` subcommands. A proposal ID may be given in full or as
/// a unique prefix (`opssc status` and `list` show 12 digits).
#[derive(Debug, Subcommand)]
pub enum ProposalCommand {
    /// Every proposal, in filing order: ID, state, change, proposer,
    /// quorum, deadline.
    List {
        /// Only proposals not decided or carried out yet (proposed, approved, failed).
        #[arg(long)]
        open: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: OpsTarget,
    },
    /// One proposal: the change, state, deadline, every vote against the
    /// quorum, signatures over a config update, execution, tasks, history,
    /// and what this organization can do next.
    Show {
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: OpsTarget,
    },
    /// Withdraw a proposal this organization filed (only before it is
    /// decided and while no other organization backs it).
    Withdraw {
        id: String,
        /// Why (recorded on the chain).
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        target: OpsTarget,
    },
    /// Start the next attempt of a failed proposal (the next executor goes first).
    Retry {
        id: String,
        /// Why (recorded on the chain).
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        target: OpsTarget,
    },
    /// Attest, as this organization, that a proposal's deadline passed; it
    /// expires once as many members attested as a rejection needs.
    Expire {
        id: String,
        #[command(flatten)]
        target: OpsTarget,
    },
}

/// `opssc status --watch` and its companions.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusWatch {
    /// Re-read the status every `--interval` and print it, under a timestamp
    /// header, whenever it changes; until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// With `--watch`: exit 0 as soon as the condition is Ready (for scripts).
    #[arg(long, requires = "watch")]
    pub until_ready: bool,
    /// With `--until-ready`: give up after this many seconds (exit 1).
    #[arg(long, value_name = "SECONDS", requires = "until_ready", value_parser = seconds)]
    pub timeout: Option<std::time::Duration>,
    /// With `--watch`: seconds between two reads.
    #[arg(long, value_name = "SECONDS", default_value = "1", requires = "watch", value_parser = seconds)]
    pub interval: std::time::Duration,
}

/// A positive number of seconds (`90`, `0.5`).
fn seconds(text: &str) -> Result<std::time::Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 => std::time::Duration::try_from_secs_f64(s).map_err(|e| e.to_string()),
        _ => Err(format!(
            "{text:?} is not a positive number of seconds (e.g. 60 or 0.5)"
        )),
    }
}

/// `opssc vote` decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VoteDecision {
    Approve,
    Reject,
}

/// `opssc dev ...` (see `commands/dev.rs`).
#[derive(Debug, Clone, Subcommand)]
pub enum DevCommand {
    /// Start a Fabric network on this machine (no Docker) and leave it running.
    ///
    /// Builds Fabric the first time (v2.5.9 from its Go module, v3.1.5 from
    /// its source; cached under ~/.cache/opssc/fabric), generates crypto material and starts the
    /// orderers and peers the spec describes on free 127.0.0.1 ports. Then
    /// founds the consortium: a git spec repository in <state-dir>/spec-repo
    /// with each organization's certificates, endpoints and admin SSH key, one
    /// opssc-chaincode process per organization, and each organization's
    /// `opssc found` (channels created from the spec, the OpsSC committed on
    /// the ops channel, the registry founded). Prints where everything runs and
    /// each organization's agent configuration (opssc.yaml).
    Up {
        /// The network spec to run and found.
        #[arg(long, default_value = "network-spec", conflicts_with = "orgs")]
        spec: PathBuf,
        /// Instead of a spec: the reference topology with this many peer
        /// organizations (Org1MSP, ...; channels ops and trade), not founded
        /// (no spec repository, no OpsSC).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=20))]
        orgs: Option<u16>,
        /// Directory for all state: crypto material, ledgers, logs, devnet.json.
        #[arg(long, default_value = opssc_devnet::cli::DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Number of Raft orderers (with --orgs).
        #[arg(long, default_value = "1", value_parser = clap::builder::PossibleValuesParser::new(["1", "3"]))]
        orderers: String,
        /// Number of peers in every organization (with --orgs).
        #[arg(long, default_value = "1", value_parser = clap::builder::PossibleValuesParser::new(["1", "2"]))]
        peers_per_org: String,
        /// The Fabric release to run: 2.5 (v2.5.9) or 3.1 (v3.1.5, built from
        /// the source archive in OPSSC_FABRIC_SOURCE or ../shared/fabric, else
        /// a clone of the tag). Default: the spec's `fabricVersion` (2.5 with
        /// --orgs); the devnet's spec repository states the one it runs.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["2.5", "3.1"]))]
        fabric: Option<String>,
    },
    /// Stop the devnet's processes (exactly the recorded PIDs) and remove its state.
    Down {
        #[arg(long, default_value = opssc_devnet::cli::DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Keep the state directory (ledgers, logs, crypto material).
        #[arg(long)]
        keep: bool,
    },
    /// Play one of the paper's scenarios on a running devnet with its agents.
    ///
    /// `chaincode`: Org1's admin commits a signed upgrade of the spec's `kv`
    /// chaincode, then the command watches every organization converge.
    /// `add-org`: starts a new organization (Org4MSP: crypto material, peer,
    /// chaincode servers, agent) next to the network; Org1's admin commits its
    /// Organization file, Org4's admin commits its certificates and its
    /// membership of every channel; the command watches the proposals, votes,
    /// config updates, Org4's peer joining and the chaincodes answering there.
    Demo {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(["chaincode", "add-org"]))]
        scenario: String,
        #[arg(long, default_value = opssc_devnet::cli::DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Give up watching after this many seconds (180 for chaincode, 300
        /// for add-org when not given).
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Measure the lead time of a chaincode rollout (issue 19).
    ///
    /// For each N of --orgs: starts and founds an N-organization devnet with
    /// one agent per organization, measures one ordered round, the idle
    /// agents, a signed and auto-approved `kv` upgrade through the agents
    /// (told by POST /trigger) and the same upgrade by a zero-delay `peer`
    /// CLI script; prints one table. Stops everything it started.
    Bench {
        /// Organization counts, e.g. 3,5,10.
        #[arg(long, default_value = "3,5,10")]
        orgs: String,
        /// The spec the N-organization networks are modelled on.
        #[arg(long, default_value = "network-spec")]
        spec: PathBuf,
        /// Where each run's state goes (<dir>/n<N>; kept for the logs).
        #[arg(long, default_value = ".opssc-bench")]
        state_dir: PathBuf,
        /// Give up a wait after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Which flows: rollout (a kv upgrade), add-org (a new organization
        /// on ops and two application channels with two chaincodes each).
        #[arg(long, default_value = "rollout")]
        flows: String,
    },
    /// Show the devnet's processes, ports, channels and heights.
    Status {
        #[arg(long, default_value = opssc_devnet::cli::DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}
