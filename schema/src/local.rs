//! The local configuration of one organization's agent (`opssc.yaml`).
//!
//! This is not part of the shared network spec: it says who *this* organization
//! is, where its admin identity lives, which nodes it operates and how to reach
//! the orderers, where the spec repository is and how this organization votes.
//! Keys never leave the organization: the file holds paths to key material, never
//! keys. Relative paths are resolved against the directory of the file itself.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The whole local configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentConfig {
    /// Always `opssc/v1alpha1`.
    pub api_version: String,
    /// Always `AgentConfig`.
    pub kind: String,
    /// The MSP ID of the organization this agent acts for, e.g. `Org1MSP`.
    pub msp_id: String,
    /// The organization's admin identity (signs proposals, votes, lifecycle calls).
    pub identity: IdentityConfig,
    /// A TLS client certificate and key, for nodes that require mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client: Option<TlsClientConfig>,
    /// The peers this organization operates.
    pub peers: Vec<PeerConfig>,
    /// For an organization without peers (the orderer organization): a peer
    /// of another organization on the ops channel through which its agent
    /// reads the OpsSC (queries only; the ops channel's `peer/Propose` ACL
    /// must admit it, e.g. `/Channel/Writers`). With it, the orderer
    /// organization's agent adds its signature to approved config updates
    /// that need it and submits them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_gateway: Option<PeerConfig>,
    /// The ordering service nodes this organization talks to (any organization's).
    pub orderers: Vec<OrdererConfig>,
    /// Where the shared network spec comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<SpecSource>,
    /// How this organization votes on proposals.
    #[serde(default)]
    pub vote_policy: VotePolicy,
    /// Shared changes this organization approves without an approval by one
    /// of its admins in git (its consent given in advance). They live here,
    /// never in the shared spec: no other organization can widen them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auto_approve: Vec<AutoApproveRule>,
    /// Whether the agent files the channel config proposals its spec calls
    /// for, or only votes on (and signs) other organizations' proposals.
    #[serde(default)]
    pub channel_changes: ChannelChangePolicy,
    /// Address for the metrics and health endpoint, e.g. `127.0.0.1:9100`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// A directory for the agent's own state (fetched repositories, package cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
    /// Chaincode-as-a-service servers, by package label (or chaincode name):
    /// the `host:port` written into `connection.json`. The package bytes, and
    /// so the package ID, depend on it: every organization must configure the
    /// same address (a service name each organization resolves to its own
    /// server, e.g. `kv-ccaas:9999` in each organization's own DNS).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub chaincode_servers: std::collections::BTreeMap<String, String>,
    /// The name of the OpsSC chaincode on the ops channel (default `opssc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_chaincode: Option<String>,
    /// How to reach git repositories (the spec repository and chaincode
    /// sources): credentials, SSH host keys and CA bundles, per URL prefix.
    /// The entry whose `urlPrefix` matches the URL in the most path segments
    /// (same scheme, host and port) applies. They stay here: the shared spec
    /// names only the repository URL, and no message shows a secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub git_credentials: Vec<GitCredentialConfig>,
    /// Webhooks the agent notifies when something needs this organization's
    /// attention (its vote, a failed task, a stalled rollout, ...). Each
    /// event is sent once per receiver, also across restarts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<NotificationConfig>,
    /// Receive the spec repository's push webhooks (GitHub, GitLab, Gitea):
    /// a verified push to the spec branch runs a pass at once instead of at
    /// the next poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_webhook: Option<PushWebhookConfig>,
    /// How long (milliseconds) each organization in the turn order gets to
    /// take a step every member would take alike (file a change, tally
    /// votes cast together) before the next one takes it itself. Default
    /// 3000. One organization acts so that the others' identical
    /// transactions do not conflict with its own; a silent organization
    /// delays a change by this much, once. Every member should configure
    /// the same value (a shorter one than the others' makes its agent act
    /// early and conflict). 0: every member at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_grace_ms: Option<u64>,
}

/// [`AgentConfig::turn_grace_ms`] when not given.
pub const DEFAULT_TURN_GRACE_MS: u64 = 3_000;

/// The longest [`AgentConfig::turn_grace_ms`] accepted: longer than any
/// ordered round, short enough that a silent member cannot hold a change
/// for long.
pub const MAX_TURN_GRACE_MS: u64 = 600_000;

/// One webhook receiver: where to POST, in which format, for which events.
/// Example: `{url: "https://hooks.slack.com/services/...", format: slack,
/// events: [voteNeeded, taskFailed]}`. A failed delivery is retried with
/// growing pauses; the reconcile loop never waits for a receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationConfig {
    /// `http://` or `https://` URL the notification is POSTed to. It may
    /// carry a token (Slack's incoming webhooks do): it is never logged.
    pub url: String,
    /// `json` (default): the event as a JSON object; `slack`: `{"text": ...}`
    /// for Slack-compatible incoming webhooks (Mattermost, Rocket.Chat, ...).
    #[serde(default)]
    pub format: NotificationFormat,
    /// The events to send (default: all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<NotificationEvent>,
    /// A header that authenticates the agent to the receiver, its value read
    /// from a file or an environment variable (never written here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_header: Option<SecretHeader>,
    /// Seconds one delivery attempt may take (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// A PEM file of the CA certificates trusted for an `https://` receiver,
    /// instead of the system's (a private CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
}

/// How a notification's body is shaped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NotificationFormat {
    #[default]
    Json,
    Slack,
}

/// What a notification is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum NotificationEvent {
    /// A proposal waits for this organization's vote by a person (`manual`
    /// vote policy, or no consent yet); the message carries the plan of the change.
    VoteNeeded,
    /// A proposal this organization filed was rejected.
    ProposalRejected,
    /// A proposal this organization filed failed (its shared step was refused).
    ProposalFailed,
    /// An organization reported a failed task (e.g. an install whose
    /// package does not compile) on an approved proposal.
    TaskFailed,
    /// The agent is Stalled: something cannot move without a person.
    Stalled,
    /// An open proposal that this organization's plan does not contain
    /// appeared (the `Unplanned` condition of `opssc status`).
    Unplanned,
}

/// A request header whose value is a secret: `{name: Authorization,
/// valueFile: /run/secrets/hook-token}`. Exactly one of `valueFile` and
/// `valueEnv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretHeader {
    /// The header name, e.g. `Authorization` or `X-Webhook-Token`.
    pub name: String,
    /// A file whose first line is the header's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_file: Option<PathBuf>,
    /// An environment variable of the agent's process holding the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_env: Option<String>,
}

/// Where the agent receives push webhooks, and the secret they are signed
/// with. The receiver serves only `POST /hooks/push` on its own address (it
/// may face the git host, unlike `listen`). A request whose signature
/// (GitHub's and Gitea's HMAC-SHA256, GitLab's token) does not match the
/// secret is refused; a verified push only wakes the agent, which then
/// fetches and verifies the signed commits as on every poll. Exactly one of
/// `secretFile` and `secretEnv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushWebhookConfig {
    /// Address to listen on, e.g. `0.0.0.0:9102` (any interface the git
    /// host reaches, directly or through a proxy that terminates TLS).
    pub listen: String,
    /// A file whose first line is the webhook secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<PathBuf>,
    /// An environment variable of the agent's process holding the webhook secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
}

/// How to reach the git repositories under `urlPrefix`: a password or token
/// (HTTPS basic authentication) read from a file or an environment variable,
/// or an SSH private key (`ssh://` URLs); which SSH host keys to trust; which
/// CAs to trust for HTTPS. An entry may carry only the trust settings (a
/// public repository behind a private CA).
///
/// `urlPrefix` is compared by parts, not as text: scheme, host and port must
/// be equal and its path segments must be the first segments of the URL's
/// path, so `https://git.example.com/team` matches
/// `https://git.example.com/team/cc.git` but neither
/// `https://git.example.com.evil.io/team/cc.git` nor
/// `https://git.example.com/team-b/cc.git`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitCredentialConfig {
    /// e.g. `https://git.example.com/consortium/` or `ssh://git@git.example.com/`.
    pub url_prefix: String,
    /// The user name (for an access token, what the host expects there,
    /// e.g. `x-access-token` or `oauth2`); for SSH, when the URL names none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// A file whose first line is the password or token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// An environment variable of the agent's process holding the password or token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// An SSH private key file (OpenSSH format) for `ssh://` URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key: Option<PathBuf>,
    /// A file whose first line is the SSH key's passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_passphrase_file: Option<PathBuf>,
    /// An OpenSSH `known_hosts` file with the host keys trusted for `ssh://`
    /// URLs (default: `~/.ssh/known_hosts` of the agent's user). A host
    /// that is not in it is refused unless `acceptUnknownHostKey`; a host
    /// whose key differs from the listed one is always refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    /// Accept an SSH host that `knownHosts` does not list (for development
    /// only: anyone between the agent and the host can then serve the spec).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accept_unknown_host_key: bool,
    /// A PEM file of the CA certificates trusted for `https://` URLs, instead
    /// of the system's (a private CA). Include intermediate CAs the server
    /// does not send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
}

/// An MSP identity directory as cryptogen and Fabric CA lay it out
/// (`signcerts/`, `keystore/`, `cacerts/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityConfig {
    pub msp_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsClientConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's name as in the spec's Organization, e.g. `peer0`.
    pub name: String,
    /// gRPC address, e.g. `127.0.0.1:7051`.
    pub address: String,
    /// PEM file of the TLS CA that issued the peer's server certificate.
    pub tls_root_cert: PathBuf,
    /// Host name to verify in the peer's TLS certificate, when it differs from the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrdererConfig {
    pub name: String,
    /// gRPC address for Broadcast and Deliver, e.g. `127.0.0.1:7050`.
    pub address: String,
    /// The channel participation (osnadmin) REST address, if this org may use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_address: Option<String>,
    pub tls_root_cert: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// The spec repository: a git remote and branch, or a local directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum SpecSource {
    /// A git repository fetched with git2.
    Git {
        url: String,
        #[serde(default = "default_branch")]
        branch: String,
        /// Sub-directory of the repository holding the spec (default: the root).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathBuf>,
        /// Seconds between fetches (default 5).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        poll_seconds: Option<u64>,
        /// The commit the organization trusts without a signature (40 hex
        /// digits), e.g. the founding commit. Required: without it, whoever
        /// can push an orphan branch would choose the root.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trusted_root: Option<String>,
    },
    /// A local directory watched for changes (no signature checks: for development).
    Dir { path: PathBuf },
}

/// One shared change this organization consents to in advance. Every field
/// given must match; `kinds` is required so that a rule never approves more
/// than its author meant. Example: chaincode upgrades on `trade` proposed by
/// Org1MSP: `{kinds: [ChaincodeUpgrade], channels: [trade], proposedBy: [Org1MSP]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoApproveRule {
    /// A name shown when the rule approves something (default: the rule's fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Proposal kinds: `ChaincodeDeploy`, `ChaincodeUpgrade`, `ChannelCreate`,
    /// `ChannelUpdate`, `OrgAdd`, `OrgRemove`, `GovernanceChange`, `RegistryChange`.
    pub kinds: Vec<String>,
    /// Channels the change is on (default: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Chaincodes the change is about (default: any; chaincode kinds only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chaincodes: Vec<String>,
    /// Organizations whose agent filed the proposal (default: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proposed_by: Vec<String>,
}

/// The proposal kinds an [`AutoApproveRule`] may name (the OpsSC chaincode's).
pub const PROPOSAL_KINDS: [&str; 8] = [
    "ChaincodeDeploy",
    "ChaincodeUpgrade",
    "ChannelCreate",
    "ChannelUpdate",
    "OrgAdd",
    "OrgRemove",
    "GovernanceChange",
    "RegistryChange",
];

fn default_branch() -> String {
    "main".to_string()
}

/// `auto`: approve proposals that this org recomputes identically from a signed
/// commit on the branch. `manual`: wait for `opssc vote`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum VotePolicy {
    #[default]
    Auto,
    Manual,
}

/// `propose` (default): file the channel config proposals (members,
/// policies, batch settings, ...) the spec calls for, vote, sign and submit.
/// `voteOnly`: never file a channel config proposal; still vote on (and sign)
/// the ones other organizations file, and join the channels this
/// organization is added to — for an organization that leaves proposing to
/// others, or while the spec does not describe the network's current
/// settings yet (adopting an existing network).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ChannelChangePolicy {
    #[default]
    Propose,
    VoteOnly,
}

impl AgentConfig {
    /// Reads and parses an agent configuration file, resolving relative paths
    /// against the file's directory.
    pub fn load(path: &Path) -> Result<AgentConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read agent configuration {}: {e}", path.display()))?;
        let mut config: AgentConfig = serde_saphyr::from_str(&text)
            .map_err(|e| format!("invalid agent configuration {}: {e}", path.display()))?;
        if config.kind != "AgentConfig" {
            return Err(format!(
                "{}: kind is {:?}, expected \"AgentConfig\"",
                path.display(),
                config.kind
            ));
        }
        if let Err(e) = config.check() {
            return Err(format!("{}: {e}", path.display()));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        Ok(config)
    }

    /// The rules serde cannot express: a git spec source names its trusted
    /// root, and auto-approve rules name known proposal kinds.
    pub fn check(&self) -> Result<(), String> {
        if let Some(SpecSource::Git { trusted_root, .. }) = &self.spec {
            match trusted_root.as_deref() {
                None => {
                    return Err("spec.git.trustedRoot is missing (hint: set it to the 40-hex commit \
                         your organization trusts without a signature, normally the founding commit: \
                         `git rev-list --max-parents=0 main` in the spec repository, checked with the \
                         other organizations)"
                        .into());
                }
                Some(r) if r.len() != 40 || !r.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    return Err(format!(
                        "spec.git.trustedRoot {r:?} is not a commit hash (hint: 40 hex digits, \
                         e.g. the output of `git rev-parse <commit>`)"
                    ));
                }
                Some(_) => {}
            }
        }
        if self.push_webhook.is_some() && !matches!(self.spec, Some(SpecSource::Git { .. })) {
            return Err(
                "pushWebhook needs a git spec source (spec.git): a webhook announces \
                 pushes to the spec repository (hint: remove pushWebhook, or follow the spec \
                 repository with spec: {git: {url, branch, trustedRoot}})"
                    .into(),
            );
        }
        if let Some(hook) = &self.push_webhook
            && hook.secret_file.is_some() == hook.secret_env.is_some()
        {
            return Err(
                "pushWebhook: name exactly one of secretFile and secretEnv (hint: the \
                 secret the git host signs its webhooks with; without one, anyone could make \
                 the agent poll)"
                    .into(),
            );
        }
        if let Some(ms) = self.turn_grace_ms
            && ms > MAX_TURN_GRACE_MS
        {
            return Err(format!(
                "turnGraceMs {ms} is longer than {MAX_TURN_GRACE_MS} (10 minutes) (hint: a few ordered \
                 rounds, e.g. 3000; every member configures the same value)"
            ));
        }
        for (i, rule) in self.auto_approve.iter().enumerate() {
            if rule.kinds.is_empty() {
                return Err(format!(
                    "autoApprove[{i}]: kinds is empty (hint: name the proposal kinds the rule approves, e.g. [ChaincodeUpgrade])"
                ));
            }
            for k in &rule.kinds {
                if !PROPOSAL_KINDS.contains(&k.as_str()) {
                    return Err(format!(
                        "autoApprove[{i}]: unknown proposal kind {k:?} (hint: one of {})",
                        PROPOSAL_KINDS.join(", ")
                    ));
                }
            }
        }
        for (i, n) in self.notifications.iter().enumerate() {
            let scheme_ok = ["http://", "https://"]
                .iter()
                .any(|p| n.url.len() > p.len() && n.url[..p.len()].eq_ignore_ascii_case(p));
            if !scheme_ok {
                return Err(format!(
                    "notifications[{i}]: url must start with http:// or https:// (hint: the receiver's full webhook URL)"
                ));
            }
            if n.timeout_seconds == Some(0) {
                return Err(format!(
                    "notifications[{i}]: timeoutSeconds is 0 (hint: leave it out for 10 seconds)"
                ));
            }
            if let Some(h) = &n.secret_header {
                if h.value_file.is_some() == h.value_env.is_some() {
                    return Err(format!(
                        "notifications[{i}].secretHeader: give exactly one of valueFile and valueEnv"
                    ));
                }
                if h.name.is_empty()
                    || !h
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(format!(
                        "notifications[{i}].secretHeader: name {:?} is not a header name (hint: e.g. Authorization)",
                        h.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// [`AgentConfig::turn_grace_ms`], or its default.
    pub fn turn_grace_ms(&self) -> u64 {
        self.turn_grace_ms.unwrap_or(DEFAULT_TURN_GRACE_MS)
    }

    /// Serializes to YAML (what `opssc dev` writes for each organization).
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).expect("AgentConfig always serializes")
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.identity.msp_dir);
        if let Some(tls) = &mut self.tls_client {
            fix(&mut tls.cert);
            fix(&mut tls.key);
        }
        for peer in self.peers.iter_mut().chain(self.ops_gateway.as_mut()) {
            fix(&mut peer.tls_root_cert);
        }
        for orderer in &mut self.orderers {
            fix(&mut orderer.tls_root_cert);
        }
        if let Some(dir) = &mut self.state_dir {
            fix(dir);
        }
        if let Some(SpecSource::Dir { path }) = &mut self.spec {
            fix(path);
        }
        if let Some(file) = self
            .push_webhook
            .as_mut()
            .and_then(|h| h.secret_file.as_mut())
        {
            fix(file);
        }
        for c in &mut self.git_credentials {
            for p in [
                &mut c.password_file,
                &mut c.ssh_key,
                &mut c.ssh_key_passphrase_file,
                &mut c.known_hosts,
                &mut c.ca_bundle,
            ]
            .into_iter()
            .flatten()
            {
                fix(p);
            }
        }
        for n in &mut self.notifications {
            for p in [
                n.ca_bundle.as_mut(),
                n.secret_header.as_mut().and_then(|h| h.value_file.as_mut()),
            ]
            .into_iter()
            .flatten()
            {
                fix(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(extra: &str) -> Result<AgentConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opssc.yaml");
        std::fs::write(
            &path,
            format!(
                "apiVersion: opssc/v1alpha1\nkind: AgentConfig\nmspId: Org1MSP\nidentity: {{mspDir: msp}}\npeers: []\norderers: []\n{extra}"
            ),
        )
        .unwrap();
        AgentConfig::load(&path).map(|mut c| {
            // Paths are resolved against the temporary directory: strip it.
            for n in &mut c.notifications {
                if let Some(p) = &mut n.ca_bundle {
                    *p = p.strip_prefix(dir.path()).unwrap().to_path_buf();
                }
                if let Some(p) = n.secret_header.as_mut().and_then(|h| h.value_file.as_mut()) {
                    *p = p.strip_prefix(dir.path()).unwrap().to_path_buf();
                }
            }
            c
        })
    }

    #[test]
    fn the_turn_grace_defaults_and_is_bounded() {
        assert_eq!(load("").unwrap().turn_grace_ms(), DEFAULT_TURN_GRACE_MS);
        assert_eq!(load("turnGraceMs: 800\n").unwrap().turn_grace_ms(), 800);
        assert_eq!(load("turnGraceMs: 0\n").unwrap().turn_grace_ms(), 0);
        let e = load("turnGraceMs: 600001\n").unwrap_err();
        assert!(e.contains("turnGraceMs 600001"), "{e}");
        assert!(load("turnGraceMs: fast\n").is_err());
    }

    #[test]
    fn notifications_parse_with_defaults_and_relative_paths() {
        let c = load(
            "notifications:\n- url: https://hooks.example.com/x\n  format: slack\n  events: [voteNeeded, taskFailed]\n  secretHeader: {name: Authorization, valueFile: token}\n  caBundle: ca.pem\n- url: http://127.0.0.1:9/\n",
        )
        .unwrap();
        let n = &c.notifications[0];
        assert_eq!(n.format, NotificationFormat::Slack);
        assert_eq!(
            n.events,
            [NotificationEvent::VoteNeeded, NotificationEvent::TaskFailed]
        );
        assert_eq!(n.ca_bundle.as_deref(), Some(Path::new("ca.pem")));
        let h = n.secret_header.as_ref().unwrap();
        assert_eq!(h.value_file.as_deref(), Some(Path::new("token")));
        let plain = &c.notifications[1];
        assert_eq!(plain.format, NotificationFormat::Json);
        assert!(plain.events.is_empty() && plain.secret_header.is_none());
    }

    #[test]
    fn bad_notifications_are_refused_with_a_hint() {
        for (yaml, says) in [
            ("- url: ftp://x/\n", "http:// or https://"),
            ("- url: https://\n", "http:// or https://"),
            (
                "- url: https://x/\n  timeoutSeconds: 0\n",
                "timeoutSeconds is 0",
            ),
            (
                "- url: https://x/\n  secretHeader: {name: A, valueFile: f, valueEnv: E}\n",
                "exactly one of valueFile and valueEnv",
            ),
            (
                "- url: https://x/\n  secretHeader: {name: A}\n",
                "exactly one of valueFile and valueEnv",
            ),
            (
                "- url: https://x/\n  secretHeader: {name: \"A: b\", valueEnv: E}\n",
                "is not a header name",
            ),
            ("- url: https://x/\n  events: [voteNeded]\n", "voteNeded"),
        ] {
            let e = load(&format!("notifications:\n{yaml}")).unwrap_err();
            assert!(e.contains(says), "{yaml}: {e}");
        }
    }
}

#[cfg(test)]
mod push_webhook_tests {
    use super::*;

    fn load(yaml: &str) -> Result<AgentConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opssc.yaml");
        std::fs::write(&path, yaml).unwrap();
        AgentConfig::load(&path)
    }

    const BASE: &str = "apiVersion: opssc/v1alpha1\nkind: AgentConfig\nmspId: Org1MSP\nidentity: {mspDir: msp}\npeers: []\norderers: []\nspec: {git: {url: 'https://git.example.com/spec.git', trustedRoot: '0123456789012345678901234567890123456789'}}\n";

    #[test]
    fn a_push_webhook_names_exactly_one_secret() {
        let c = load(&format!(
            "{BASE}pushWebhook: {{listen: '0.0.0.0:9102', secretFile: hook-secret}}\n"
        ))
        .unwrap();
        let hook = c.push_webhook.unwrap();
        assert_eq!(hook.listen, "0.0.0.0:9102");
        // Relative to the configuration file, like every other path.
        let file = hook.secret_file.unwrap();
        assert!(
            file.is_absolute() && file.ends_with("hook-secret"),
            "{file:?}"
        );
        let c = load(&format!(
            "{BASE}pushWebhook: {{listen: '0.0.0.0:9102', secretEnv: HOOK}}\n"
        ))
        .unwrap();
        assert_eq!(c.push_webhook.unwrap().secret_env.as_deref(), Some("HOOK"));
        for hook in [
            "{listen: ':9102'}",
            "{listen: ':9102', secretFile: f, secretEnv: HOOK}",
        ] {
            let e = load(&format!("{BASE}pushWebhook: {hook}\n")).unwrap_err();
            assert!(e.contains("exactly one of secretFile and secretEnv"), "{e}");
        }
        let dir_spec = BASE.replace(
            "spec: {git: {url: 'https://git.example.com/spec.git', trustedRoot: '0123456789012345678901234567890123456789'}}",
            "spec: {dir: {path: spec}}",
        );
        let e = load(&format!(
            "{dir_spec}pushWebhook: {{listen: ':9102', secretEnv: HOOK}}\n"
        ))
        .unwrap_err();
        assert!(e.contains("pushWebhook needs a git spec source"), "{e}");
    }
}
