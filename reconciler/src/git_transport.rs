//! How opssc reaches git repositories: which credentials, SSH host keys and
//! CAs apply to a URL, and the git2 fetch options built from them. The spec
//! repository ([`crate::source`]) and chaincode sources
//! ([`crate::chaincode_source`]) both fetch through [`RemoteAccess`].
//!
//! Transports are git2's: `file://`, `http(s)://` (system OpenSSL through
//! openssl-sys, a TLS stack apart from rustls, so the process keeps its one
//! rustls provider) and `ssh://` (libssh2). Proxies are found the way git
//! finds them (`http.proxy`, `https_proxy`, `no_proxy`; git2's automatic
//! proxy options).
//!
//! Key decisions:
//! - A `gitCredentials` entry applies to a URL when scheme, host and port are
//!   equal and the entry's path segments are the URL's first segments
//!   ([`RemoteUrl::is_under`]); the most specific entry wins. A text prefix
//!   would hand the token for `https://git.example.com` to
//!   `https://git.example.com.evil.io`.
//! - SSH host keys are checked here against an OpenSSH `known_hosts` file
//!   ([`KnownHosts`]): the entry's `knownHosts`, else `~/.ssh/known_hosts`.
//!   An unknown host is refused unless the entry says
//!   `acceptUnknownHostKey`; a changed or revoked key always is.
//! - A CA bundle replaces the system's roots for the URLs of its entry only
//!   (rustls' WebPKI verifier, run on the certificate OpenSSL received), so
//!   a private CA vouches for no other host.
//! - Secrets are read when a fetch is prepared, handed only to git2, and
//!   removed from every message ([`RemoteAccess::redact`]); a refusal keeps
//!   its reason (libgit2 would replace it with a generic one).
//! - A server that does not answer fails the fetch (30 s to connect, 120 s
//!   per read, [`set_read_timeout`]) instead of hanging the agent's poll.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::{CertificateCheckStatus, Cred, CredentialType, FetchOptions, ProxyOptions};
use opssc_schema::local::{AgentConfig, GitCredentialConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// How this organization authenticates to a private repository (from its
/// local configuration, never from the spec).
#[derive(Clone, PartialEq, Eq)]
pub struct GitCredentials {
    /// The user name (for a token, what the host expects there).
    pub username: String,
    pub secret: GitSecret,
}

/// The secret half of [`GitCredentials`].
#[derive(Clone, PartialEq, Eq)]
pub enum GitSecret {
    /// A password or access token, sent as HTTP basic authentication.
    Password(String),
    /// An SSH private key file (and its passphrase), for `ssh://` URLs.
    SshKey {
        private_key: PathBuf,
        passphrase: Option<String>,
    },
}

impl GitCredentials {
    /// The strings that must never appear in a message.
    pub fn secrets(&self) -> Vec<&str> {
        match &self.secret {
            GitSecret::Password(p) => vec![p.as_str()],
            GitSecret::SshKey { passphrase, .. } => passphrase.iter().map(String::as_str).collect(),
        }
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect()
    }
}

impl fmt::Debug for GitCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.secret {
            GitSecret::Password(_) => "password",
            GitSecret::SshKey { .. } => "ssh key",
        };
        f.debug_struct("GitCredentials")
            .field("username", &"<redacted>")
            .field("secret", &format_args!("<redacted {kind}>"))
            .finish()
    }
}

/// Why the configured access to a repository cannot be prepared. Each names
/// the `gitCredentials` entry (its URL without user information), never a
/// secret.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(
        "gitCredentials entry {entry:?}: urlPrefix is not a URL like https://host/path or ssh://user@host/path"
    )]
    BadPrefix { entry: String },
    #[error(
        "gitCredentials entry {entry:?}: cannot read its {what} file {}; check the path and that the agent may read it",
        path.display()
    )]
    Read {
        entry: String,
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "gitCredentials entry {entry:?}: the environment variable {var} is not set (or not UTF-8) in the agent's process"
    )]
    Env { entry: String, var: String },
    #[error("gitCredentials entry {entry:?}: {problem}")]
    Invalid { entry: String, problem: String },
}

/// A remote URL taken apart for matching. `scp`-like `user@host:path` is an
/// `ssh` URL; `git+ssh` and `ssh+git` are `ssh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    /// Lower case.
    pub scheme: String,
    pub user: Option<String>,
    /// Lower case, without a trailing dot or IPv6 brackets.
    pub host: String,
    pub port: Option<u16>,
    /// Non-empty path segments, as written.
    pub path: Vec<String>,
}

impl RemoteUrl {
    /// Parses `url`; `None` for what is not a URL with a host (or `file://`),
    /// and for a path with `.`/`..` segments (plain or percent-encoded),
    /// which could leave the directory an entry was written for.
    pub fn parse(url: &str) -> Option<RemoteUrl> {
        let url = url.trim();
        let (scheme, authority, path) = match url.split_once("://") {
            Some((scheme, rest)) => {
                let scheme = scheme.to_ascii_lowercase();
                if scheme.is_empty()
                    || !scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                {
                    return None;
                }
                let rest = rest.split(['?', '#']).next().unwrap_or("");
                let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                (scheme, authority, path)
            }
            None => {
                // scp-like syntax: [user@]host:path (a ':' before any '/').
                let colon = url.find(':')?;
                if url[..colon].contains('/') || colon == 0 {
                    return None;
                }
                ("ssh".to_string(), &url[..colon], &url[colon + 1..])
            }
        };
        let scheme = match scheme.as_str() {
            "git+ssh" | "ssh+git" => "ssh".to_string(),
            _ => scheme,
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hp)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                ((!user.is_empty()).then(|| user.to_string()), hp)
            }
            None => (None, authority),
        };
        let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
            let (host, after) = rest.split_once(']')?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':')?),
            };
            (host, port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) if url.contains("://") => (h, Some(p)),
                _ => (hostport, None),
            }
        };
        let port = match port {
            None | Some("") => None,
            Some(p) => Some(p.parse::<u16>().ok()?),
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() && scheme != "file" {
            return None;
        }
        let mut segments = Vec::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
            if decoded == "." || decoded == ".." {
                return None;
            }
            segments.push(segment.to_string());
        }
        Some(RemoteUrl {
            scheme,
            user,
            host,
            port,
            path: segments,
        })
    }

    /// The port, or the scheme's default one.
    pub fn effective_port(&self) -> Option<u16> {
        self.port.or(match self.scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            "ssh" => Some(22),
            "git" => Some(9418),
            _ => None,
        })
    }

    /// Whether this URL lies under `prefix`: same scheme, host and port,
    /// the prefix's user (if it names one), and the prefix's path segments
    /// as its first path segments.
    pub fn is_under(&self, prefix: &RemoteUrl) -> bool {
        self.scheme == prefix.scheme
            && self.host == prefix.host
            && self.effective_port() == prefix.effective_port()
            && prefix
                .user
                .as_ref()
                .is_none_or(|u| self.user.as_ref() == Some(u))
            && self.path.starts_with(&prefix.path)
    }
}

/// The entry of `entries` that applies to `url`: the one whose prefix has the
/// most path segments (then names a user; then comes first). An entry whose
/// `urlPrefix` is not a URL is an error, whatever the URL.
pub fn matching_entry<'a>(
    entries: &'a [GitCredentialConfig],
    url: &str,
) -> Result<Option<&'a GitCredentialConfig>, AccessError> {
    let mut prefixes = Vec::with_capacity(entries.len());
    for entry in entries {
        let prefix = RemoteUrl::parse(&entry.url_prefix).ok_or_else(|| AccessError::BadPrefix {
            entry: redact_url(&entry.url_prefix),
        })?;
        prefixes.push((prefix, entry));
    }
    let Some(url) = RemoteUrl::parse(url) else {
        return Ok(None);
    };
    Ok(prefixes
        .into_iter()
        .filter(|(prefix, _)| url.is_under(prefix))
        // `max_by_key` keeps the last of equals: reversed, the first entry wins.
        .rev()
        .max_by_key(|(prefix, _)| (prefix.path.len(), prefix.user.is_some()))
        .map(|(_, entry)| entry))
}

/// Everything needed to fetch from one remote: credentials, the SSH host
/// key check, the HTTPS roots. `Default` is anonymous access with
/// `~/.ssh/known_hosts` and the system's CAs.
#[derive(Clone, Default)]
pub struct RemoteAccess {
    pub credentials: Option<GitCredentials>,
    /// The `known_hosts` file to check SSH host keys against (`None`:
    /// `~/.ssh/known_hosts`).
    pub known_hosts: Option<PathBuf>,
    /// Accept an SSH host the file does not list (development only).
    pub accept_unknown_host_key: bool,
    /// CA certificates trusted for HTTPS instead of the system's.
    pub ca_bundle: Option<Arc<Vec<CertificateDer<'static>>>>,
}

impl fmt::Debug for RemoteAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteAccess")
            .field("credentials", &self.credentials)
            .field("known_hosts", &self.known_hosts)
            .field("accept_unknown_host_key", &self.accept_unknown_host_key)
            .field("ca_bundle", &self.ca_bundle.as_ref().map(|b| b.len()))
            .finish()
    }
}

impl RemoteAccess {
    /// What this organization configured for `url` (the matching
    /// `gitCredentials` entry), with its secret and CA bundle read now.
    pub fn for_url(config: &AgentConfig, url: &str) -> Result<RemoteAccess, AccessError> {
        match matching_entry(&config.git_credentials, url)? {
            Some(entry) => RemoteAccess::from_entry(entry),
            None => Ok(RemoteAccess::default()),
        }
    }

    /// Reads the secret and the CA bundle an entry names.
    pub fn from_entry(c: &GitCredentialConfig) -> Result<RemoteAccess, AccessError> {
        let entry = redact_url(&c.url_prefix);
        let read = |path: &Path, what: &'static str| {
            std::fs::read_to_string(path).map_err(|source| AccessError::Read {
                entry: entry.clone(),
                what,
                path: path.to_path_buf(),
                source,
            })
        };
        let first_line = |path: &Path, what: &'static str| -> Result<String, AccessError> {
            Ok(read(path, what)?
                .lines()
                .next()
                .unwrap_or("")
                .trim_end()
                .to_string())
        };
        let secret = if let Some(key) = &c.ssh_key {
            Some(GitSecret::SshKey {
                private_key: key.clone(),
                passphrase: c
                    .ssh_key_passphrase_file
                    .as_deref()
                    .map(|f| first_line(f, "passphrase"))
                    .transpose()?,
            })
        } else if let Some(file) = &c.password_file {
            Some(GitSecret::Password(first_line(file, "password")?))
        } else if let Some(var) = &c.password_env {
            Some(GitSecret::Password(std::env::var(var).map_err(|_| {
                AccessError::Env {
                    entry: entry.clone(),
                    var: var.clone(),
                }
            })?))
        } else {
            None
        };
        if secret.is_none()
            && c.known_hosts.is_none()
            && c.ca_bundle.is_none()
            && !c.accept_unknown_host_key
        {
            return Err(AccessError::Invalid {
                entry,
                problem: "gives no passwordFile, passwordEnv or sshKey (nor knownHosts or caBundle); add one".into(),
            });
        }
        let ca_bundle = match &c.ca_bundle {
            None => None,
            Some(path) => {
                let pem = read(path, "caBundle")?;
                let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| AccessError::Invalid {
                        entry: entry.clone(),
                        problem: format!("caBundle {} is not PEM: {e}", path.display()),
                    })?;
                if certs.is_empty() {
                    return Err(AccessError::Invalid {
                        entry,
                        problem: format!("caBundle {} holds no CERTIFICATE block", path.display()),
                    });
                }
                Some(Arc::new(certs))
            }
        };
        Ok(RemoteAccess {
            credentials: secret.map(|secret| GitCredentials {
                username: c.username.clone(),
                secret,
            }),
            known_hosts: c.known_hosts.clone(),
            accept_unknown_host_key: c.accept_unknown_host_key,
            ca_bundle,
        })
    }

    /// `message` (from git2, about `url`) without the URL's user
    /// information or a configured secret.
    pub fn redact(&self, message: &str, url: &str) -> String {
        let mut message = redact_userinfo(&message.replace(url, &redact_url(url)));
        for secret in self.credentials.iter().flat_map(GitCredentials::secrets) {
            message = message.replace(secret, "***");
        }
        message
    }

    /// Fetches `refspecs` from `remote` (whose URL is `url`) with the
    /// credential and certificate callbacks, and proxies found as git finds
    /// them. The error is a message for a person: why a credential or host
    /// was refused (libgit2 replaces a callback's reason with a generic one;
    /// it is kept here), without user information or secrets.
    pub fn fetch(
        &self,
        remote: &mut git2::Remote<'_>,
        refspecs: &[&str],
        url: &str,
    ) -> Result<(), String> {
        let refusal = std::cell::RefCell::new(None::<String>);
        let mut options = self.fetch_options(url, &refusal);
        remote
            .fetch(refspecs, Some(&mut options), None)
            .map_err(|e| {
                let message = match refusal.borrow_mut().take() {
                    Some(why) => why,
                    None => e.message().to_string(),
                };
                self.redact(&message, url)
            })
    }

    /// The references the remote advertises (`git ls-remote`), with the
    /// same callbacks as [`RemoteAccess::fetch`]: one round trip, no pack.
    pub fn list(
        &self,
        remote: &mut git2::Remote<'_>,
        url: &str,
    ) -> Result<Vec<(String, git2::Oid)>, String> {
        let refusal = std::cell::RefCell::new(None::<String>);
        let callbacks = self.callbacks(url, &refusal);
        let mut proxy = ProxyOptions::new();
        proxy.auto();
        let message = |e: git2::Error| {
            let message = match refusal.borrow_mut().take() {
                Some(why) => why,
                None => e.message().to_string(),
            };
            self.redact(&message, url)
        };
        let connection = remote
            .connect_auth(git2::Direction::Fetch, Some(callbacks), Some(proxy))
            .map_err(message)?;
        let heads = connection
            .list()
            .map_err(message)?
            .iter()
            .map(|h| (h.name().to_string(), h.oid()))
            .collect();
        Ok(heads)
    }

    fn fetch_options<'a>(
        &'a self,
        url: &str,
        refusal: &'a std::cell::RefCell<Option<String>>,
    ) -> FetchOptions<'a> {
        let mut proxy = ProxyOptions::new();
        proxy.auto();
        let mut options = FetchOptions::new();
        options.remote_callbacks(self.callbacks(url, refusal));
        options.proxy_options(proxy);
        options
    }

    fn callbacks<'a>(
        &'a self,
        url: &str,
        refusal: &'a std::cell::RefCell<Option<String>>,
    ) -> git2::RemoteCallbacks<'a> {
        set_network_timeouts();
        let parsed = RemoteUrl::parse(url);
        let port = parsed.as_ref().and_then(RemoteUrl::effective_port);
        let refuse = move |why: String, code| {
            *refusal.borrow_mut() = Some(why.clone());
            git2::Error::new(code, git2::ErrorClass::Callback, why)
        };
        let mut callbacks = git2::RemoteCallbacks::new();
        let mut offered = Offered::default();
        callbacks.credentials(move |_url, user_in_url, allowed| {
            match credential_step(
                self.credentials.as_ref(),
                &mut offered,
                user_in_url,
                allowed,
            ) {
                CredStep::Username(user) => Cred::username(&user),
                CredStep::UserPass(user, pass) => Cred::userpass_plaintext(&user, &pass),
                CredStep::SshKey {
                    user,
                    key,
                    passphrase,
                } => Cred::ssh_key(&user, None, &key, passphrase.as_deref()),
                CredStep::Refuse(why) => Err(refuse(why, git2::ErrorCode::Auth)),
            }
        });
        callbacks.certificate_check(move |cert, host| {
            let verdict = if let Some(hostkey) = cert.as_hostkey() {
                match hostkey.hostkey() {
                    Some(blob) => self.check_host_key(host, port.unwrap_or(22), blob),
                    None => Err("the SSH server's host key could not be read".to_string()),
                }
            } else {
                match (cert.as_x509(), &self.ca_bundle) {
                    (Some(x509), Some(bundle)) => verify_with_bundle(bundle, x509.data(), host)
                        .map(|()| CertificateCheckStatus::CertificateOk),
                    // No bundle: OpenSSL's verdict against the system's CAs.
                    _ => Ok(CertificateCheckStatus::CertificatePassthrough),
                }
            };
            verdict.map_err(|why| refuse(why, git2::ErrorCode::Certificate))
        });
        callbacks
    }

    fn check_host_key(
        &self,
        host: &str,
        port: u16,
        blob: &[u8],
    ) -> Result<CertificateCheckStatus, String> {
        let (file, configured) = match &self.known_hosts {
            Some(f) => (f.clone(), true),
            None => (default_known_hosts(), false),
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            // The default file may be absent: then every host is unknown.
            Err(e) if !configured && e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(format!(
                    "cannot read the known_hosts file {}: {e}",
                    file.display()
                ));
            }
        };
        let verdict = KnownHosts::parse(&text).check(host, port, blob);
        host_key_decision(&verdict, self.accept_unknown_host_key)
            .map(|()| CertificateCheckStatus::CertificateOk)
            .map_err(|why| {
                format!(
                    "{why} (known_hosts: {}; the server presented: {})",
                    file.display(),
                    known_hosts_line(host, port, blob)
                )
            })
    }
}

/// How long a read from a git server may wait (milliseconds), see
/// [`set_read_timeout`].
static READ_TIMEOUT_MS: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(120_000);

/// Sets how long a fetch waits for a silent server before it fails (default
/// 120 s). git2 keeps this process-wide and reads it once, at the first
/// fetch: call this before any (tests shorten it).
pub fn set_read_timeout(timeout: std::time::Duration) {
    let ms = i32::try_from(timeout.as_millis())
        .unwrap_or(i32::MAX)
        .max(1);
    READ_TIMEOUT_MS.store(ms, std::sync::atomic::Ordering::SeqCst);
}

/// The agent never waits on a silent server forever: a connection that does
/// not open in 30 s, or a read that waits [`set_read_timeout`] (a host that
/// vanished sends no FIN), fails the fetch; the next poll retries.
fn set_network_timeouts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let read = READ_TIMEOUT_MS.load(std::sync::atomic::Ordering::SeqCst);
        // SAFETY: git2's options are plain integers in libgit2, set once,
        // before the first fetch of this process reads them.
        unsafe {
            let _ = git2::opts::set_server_connect_timeout_in_milliseconds(30_000);
            let _ = git2::opts::set_server_timeout_in_milliseconds(read);
        }
    });
}

fn default_known_hosts() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
        .join(".ssh/known_hosts")
}

/// What was handed to git2 so far for one fetch.
#[derive(Debug, Default)]
struct Offered {
    username: bool,
    secret: bool,
}

/// The answer to one credential request.
#[derive(Debug, PartialEq, Eq)]
enum CredStep {
    Username(String),
    UserPass(String, String),
    SshKey {
        user: String,
        key: PathBuf,
        passphrase: Option<String>,
    },
    Refuse(String),
}

/// What to answer libgit2's credential request: each credential is offered
/// once; asked again, the server refused it.
fn credential_step(
    credentials: Option<&GitCredentials>,
    offered: &mut Offered,
    user_in_url: Option<&str>,
    allowed: CredentialType,
) -> CredStep {
    let Some(creds) = credentials else {
        return CredStep::Refuse(
            "the repository asks for credentials and none are configured for this URL (add a `gitCredentials` entry for it to the agent configuration)".into(),
        );
    };
    let user = match (user_in_url, creds.username.as_str()) {
        (Some(u), _) if !u.is_empty() => u.to_string(),
        (_, u) => u.to_string(),
    };
    if offered.secret {
        return CredStep::Refuse(
            "authentication failed: the repository refused the configured credentials".into(),
        );
    }
    if allowed.contains(CredentialType::USERNAME) && !allowed.contains(CredentialType::SSH_KEY) {
        if offered.username || user.is_empty() {
            return CredStep::Refuse(
                "the SSH server needs a user name: put it in the URL (ssh://git@host/...) or in the gitCredentials entry's `username`".into(),
            );
        }
        offered.username = true;
        return CredStep::Username(user);
    }
    match &creds.secret {
        GitSecret::Password(p) if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) => {
            offered.secret = true;
            CredStep::UserPass(user, p.clone())
        }
        GitSecret::SshKey {
            private_key,
            passphrase,
        } if allowed.contains(CredentialType::SSH_KEY) => {
            offered.secret = true;
            CredStep::SshKey {
                user,
                key: private_key.clone(),
                passphrase: passphrase.clone(),
            }
        }
        GitSecret::Password(_) => CredStep::Refuse(
            "the repository asks for another kind of credentials than the configured password (an SSH key for ssh:// URLs: `sshKey`)".into(),
        ),
        GitSecret::SshKey { .. } => CredStep::Refuse(
            "the repository asks for another kind of credentials than the configured SSH key (a password or token for https:// URLs: `passwordFile` or `passwordEnv`)".into(),
        ),
    }
}

/// Checks an HTTPS server's certificate (DER) for `host` against a CA
/// bundle only. The bundle's certificates also serve as intermediates.
fn verify_with_bundle(
    bundle: &[CertificateDer<'static>],
    der: &[u8],
    host: &str,
) -> Result<(), String> {
    use rustls::client::danger::ServerCertVerifier;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(bundle.iter().cloned());
    if added == 0 {
        return Err("the configured caBundle holds no usable CA certificate".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("cannot use the configured caBundle: {e}"))?;
    let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))
        .map_err(|_| format!("{host:?} is not a host name to check a certificate for"))?
        .to_owned();
    verifier
        .verify_server_cert(
            &CertificateDer::from(der.to_vec()),
            bundle,
            &name,
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
        .map_err(|e| {
            format!(
                "the server's TLS certificate for {host} is not trusted by the configured caBundle: {e} (check caBundle in the gitCredentials entry; it must hold the CA that issued the server's certificate)"
            )
        })
}

/// The result of looking a host key up in a `known_hosts` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyVerdict {
    /// The file lists this key for the host.
    Trusted,
    /// The file lists nothing for the host.
    Unknown,
    /// The file lists other keys of the same type for the host.
    Changed,
    /// The file lists the host with other key types only (these).
    OtherTypes(Vec<String>),
    /// The file marks the key `@revoked`.
    Revoked,
}

/// Whether to connect, given a verdict: only a listed key, or (when
/// configured, for development) a host the file does not know at all.
pub fn host_key_decision(verdict: &HostKeyVerdict, accept_unknown: bool) -> Result<(), String> {
    match verdict {
        HostKeyVerdict::Trusted => Ok(()),
        HostKeyVerdict::Unknown if accept_unknown => Ok(()),
        HostKeyVerdict::Unknown => Err(
            "the SSH host key of this server is unknown: add the server's key to the known_hosts file (`knownHosts` of the gitCredentials entry), after checking it with the host's operator".into(),
        ),
        HostKeyVerdict::Changed => Err(
            "the SSH host key of this server differs from the one known_hosts lists: someone may be intercepting the connection; if the host's operator changed the key, replace the line".into(),
        ),
        HostKeyVerdict::OtherTypes(types) => Err(format!(
            "known_hosts lists this server only with other key types ({}): add the key it presented, after checking it with the host's operator",
            types.join(", ")
        )),
        HostKeyVerdict::Revoked => Err("the SSH host key of this server is marked @revoked in known_hosts".into()),
    }
}

/// The `known_hosts` line that would trust `blob` for `host:port`.
pub fn known_hosts_line(host: &str, port: u16, blob: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "{} {} {}",
        host_name_for(host, port),
        key_type_of(blob).unwrap_or("?"),
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

/// How OpenSSH writes a host in `known_hosts`: `host`, or `[host]:port`
/// for another port than 22.
fn host_name_for(host: &str, port: u16) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The key type at the start of an SSH public key blob (a length-prefixed string).
fn key_type_of(blob: &[u8]) -> Option<&str> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    std::str::from_utf8(blob.get(4..4 + len)?).ok()
}

/// An OpenSSH `known_hosts` file: host patterns (plain, wildcard, negated,
/// `[host]:port`, hashed `|1|salt|hash`) and keys, `@revoked` markers.
/// Malformed lines are skipped, as OpenSSH skips them; `@cert-authority`
/// lines are skipped too (host certificates are not supported).
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<KnownHost>,
}

#[derive(Debug, Clone)]
struct KnownHost {
    revoked: bool,
    patterns: Vec<HostPattern>,
    key_type: String,
    key: Vec<u8>,
}

#[derive(Debug, Clone)]
enum HostPattern {
    Plain { negated: bool, pattern: String },
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
}

impl KnownHosts {
    pub fn parse(text: &str) -> KnownHosts {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut entries = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let mut first = fields.next().unwrap_or("");
            let mut revoked = false;
            if let Some(marker) = first.strip_prefix('@') {
                match marker {
                    "revoked" => revoked = true,
                    _ => continue,
                }
                first = fields.next().unwrap_or("");
            }
            let (Some(key_type), Some(key)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Ok(key) = b64.decode(key) else { continue };
            let mut patterns = Vec::new();
            for p in first.split(',').filter(|p| !p.is_empty()) {
                if let Some(hashed) = p.strip_prefix("|1|") {
                    let Some((salt, hash)) = hashed.split_once('|') else {
                        continue;
                    };
                    if let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) {
                        patterns.push(HostPattern::Hashed { salt, hash });
                    }
                } else {
                    let (negated, pattern) = match p.strip_prefix('!') {
                        Some(rest) => (true, rest),
                        None => (false, p),
                    };
                    patterns.push(HostPattern::Plain {
                        negated,
                        pattern: pattern.to_ascii_lowercase(),
                    });
                }
            }
            entries.push(KnownHost {
                revoked,
                patterns,
                key_type: key_type.to_string(),
                key,
            });
        }
        KnownHosts { entries }
    }

    /// Looks up the key `blob` (SSH wire format) presented by `host:port`.
    pub fn check(&self, host: &str, port: u16, blob: &[u8]) -> HostKeyVerdict {
        let name = host_name_for(&host.to_ascii_lowercase(), port);
        let key_type = key_type_of(blob).unwrap_or("");
        let mut known = false;
        let mut same_type = false;
        let mut other_types = Vec::new();
        for entry in self.entries.iter().filter(|e| e.matches(&name)) {
            if entry.revoked {
                if entry.key == blob {
                    return HostKeyVerdict::Revoked;
                }
                continue;
            }
            if entry.key == blob {
                known = true;
            } else if entry.key_type == key_type {
                same_type = true;
            } else if !other_types.contains(&entry.key_type) {
                other_types.push(entry.key_type.clone());
            }
        }
        match (known, same_type) {
            (true, _) => HostKeyVerdict::Trusted,
            (false, true) => HostKeyVerdict::Changed,
            (false, false) if !other_types.is_empty() => HostKeyVerdict::OtherTypes(other_types),
            _ => HostKeyVerdict::Unknown,
        }
    }
}

impl KnownHost {
    /// OpenSSH's rule: some pattern matches and no negated one does.
    fn matches(&self, name: &str) -> bool {
        let mut hit = false;
        for p in &self.patterns {
            match p {
                HostPattern::Plain { negated, pattern } if glob(pattern, name) => {
                    if *negated {
                        return false;
                    }
                    hit = true;
                }
                HostPattern::Plain { .. } => {}
                HostPattern::Hashed { salt, hash } => {
                    use hmac::Mac as _;
                    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(salt) else {
                        continue;
                    };
                    mac.update(name.as_bytes());
                    if mac.verify_slice(hash).is_ok() {
                        hit = true;
                    }
                }
            }
        }
        hit
    }
}

/// `*` (any run) and `?` (one character) wildcards, as in `known_hosts`.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `url` without user information (`https://user:token@host/x` →
/// `https://***@host/x`; `git@host:x` → `***@host:x`).
pub fn redact_url(url: &str) -> String {
    if !url.contains("://")
        && let Some(colon) = url.find(':')
        && let Some(at) = url[..colon].rfind('@')
        && !url[..colon].contains('/')
    {
        return format!("***@{}", &url[at + 1..]);
    }
    redact_userinfo(url)
}

/// `text` with the user information of every URL in it replaced by `***`
/// (`... https://user:token@host/x ...` → `... https://***@host/x ...`).
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        // The authority ends at the first '/', '?', '#' or whitespace.
        let end = rest
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            out.push_str("***@");
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> RemoteUrl {
        RemoteUrl::parse(s).unwrap_or_else(|| panic!("{s} does not parse"))
    }

    #[test]
    fn urls_are_taken_apart() {
        assert_eq!(
            url("HTTPS://Bob:pw@Git.Example.COM.:8443/team//cc.git?x#y"),
            RemoteUrl {
                scheme: "https".into(),
                user: Some("Bob".into()),
                host: "git.example.com".into(),
                port: Some(8443),
                path: vec!["team".into(), "cc.git".into()],
            }
        );
        let scp = url("git@github.com:org/spec.git");
        assert_eq!(
            (scp.scheme.as_str(), scp.user.as_deref(), scp.host.as_str()),
            ("ssh", Some("git"), "github.com")
        );
        assert_eq!(scp.path, ["org", "spec.git"]);
        assert_eq!(scp.effective_port(), Some(22));
        assert_eq!(url("git+ssh://h/x").scheme, "ssh");
        let v6 = url("ssh://git@[::1]:2222/srv/spec.git");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", Some(2222)));
        assert_eq!(url("file:///srv/spec.git").path, ["srv", "spec.git"]);
        for bad in [
            "https://h/team/../other",
            "https://h/team/%2E%2e/other",
            "https://h:notaport/x",
            "/local/path",
            "https:///x",
        ] {
            assert_eq!(RemoteUrl::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn prefixes_match_by_scheme_host_port_and_whole_segments() {
        let prefix = url("https://git.example.com/team");
        for yes in [
            "https://git.example.com/team/cc.git",
            "https://git.example.com/team",
            "https://GIT.example.com:443/team/sub/x.git",
            "https://ci:tok@git.example.com/team/x",
        ] {
            assert!(url(yes).is_under(&prefix), "{yes}");
        }
        for no in [
            "https://git.example.com.evil.io/team/cc.git",
            "https://evil.io/git.example.com/team/cc.git",
            "https://git.example.com/team-b/cc.git",
            "https://git.example.com/teamcc.git",
            "https://git.example.com:8443/team/cc.git",
            "http://git.example.com/team/cc.git",
            "ssh://git.example.com/team/cc.git",
            "https://git.example.com/",
        ] {
            assert!(!url(no).is_under(&prefix), "{no}");
        }
        // A user in the prefix must be the URL's user.
        let ssh = url("ssh://git@git.example.com/");
        assert!(url("ssh://git@git.example.com:22/x.git").is_under(&ssh));
        assert!(url("git@git.example.com:x.git").is_under(&ssh));
        assert!(!url("ssh://root@git.example.com/x.git").is_under(&ssh));
        assert!(!url("ssh://git.example.com/x.git").is_under(&ssh));
    }

    fn entry(prefix: &str, user: &str) -> GitCredentialConfig {
        GitCredentialConfig {
            url_prefix: prefix.into(),
            username: user.into(),
            password_env: Some("X".into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_most_specific_entry_wins_and_bad_prefixes_are_errors() {
        let entries = vec![
            entry("https://git.example.com", "a"),
            entry("https://git.example.com/team/", "b"),
            entry("https://git.example.com/team", "c"),
            entry("https://git.example.com.evil.io/", "d"),
        ];
        let who = |u: &str| {
            matching_entry(&entries, u)
                .unwrap()
                .map(|e| e.username.clone())
        };
        assert_eq!(who("https://git.example.com/x.git").as_deref(), Some("a"));
        // Equally specific: the first entry.
        assert_eq!(who("https://git.example.com/team/x").as_deref(), Some("b"));
        assert_eq!(
            who("https://git.example.com.evil.io/team/x").as_deref(),
            Some("d")
        );
        assert_eq!(who("https://example.com/x"), None);
        assert_eq!(who("https://git.example.com/team/../x"), None);
        let bad = vec![entry("git.example.com/team", "x")];
        let e = matching_entry(&bad, "https://git.example.com/team/x").unwrap_err();
        assert!(matches!(e, AccessError::BadPrefix { .. }), "{e}");
    }

    #[test]
    fn credentials_are_offered_once_each() {
        let pass = GitCredentials {
            username: "ci-bot".into(),
            secret: GitSecret::Password("tok".into()),
        };
        let key = GitCredentials {
            username: "git".into(),
            secret: GitSecret::SshKey {
                private_key: "/k".into(),
                passphrase: None,
            },
        };
        let mut o = Offered::default();
        assert_eq!(
            credential_step(
                Some(&pass),
                &mut o,
                None,
                CredentialType::USER_PASS_PLAINTEXT
            ),
            CredStep::UserPass("ci-bot".into(), "tok".into())
        );
        assert!(matches!(
            credential_step(Some(&pass), &mut o, None, CredentialType::USER_PASS_PLAINTEXT),
            CredStep::Refuse(why) if why.contains("refused the configured")
        ));
        // SSH without a user in the URL: the user name first, then the key.
        let mut o = Offered::default();
        assert_eq!(
            credential_step(Some(&key), &mut o, None, CredentialType::USERNAME),
            CredStep::Username("git".into())
        );
        assert_eq!(
            credential_step(Some(&key), &mut o, Some("git"), CredentialType::SSH_KEY),
            CredStep::SshKey {
                user: "git".into(),
                key: "/k".into(),
                passphrase: None
            }
        );
        assert!(matches!(
            credential_step(Some(&key), &mut o, Some("git"), CredentialType::SSH_KEY),
            CredStep::Refuse(_)
        ));
        // The wrong kind, or none at all: refused with what to configure.
        let mut o = Offered::default();
        assert!(matches!(
            credential_step(Some(&key), &mut o, None, CredentialType::USER_PASS_PLAINTEXT),
            CredStep::Refuse(why) if why.contains("passwordFile")
        ));
        assert!(matches!(
            credential_step(None, &mut o, None, CredentialType::USER_PASS_PLAINTEXT),
            CredStep::Refuse(why) if why.contains("gitCredentials")
        ));
    }

    /// An SSH public key blob of `kind` with `fill` as key bytes.
    fn blob(kind: &str, fill: u8) -> Vec<u8> {
        let mut b = (kind.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind.as_bytes());
        b.extend_from_slice(&32u32.to_be_bytes());
        b.extend_from_slice(&[fill; 32]);
        b
    }

    fn line(hosts: &str, key: &[u8]) -> String {
        use base64::Engine as _;
        format!(
            "{hosts} {} {}",
            key_type_of(key).unwrap(),
            base64::engine::general_purpose::STANDARD.encode(key)
        )
    }

    #[test]
    fn known_hosts_decide_by_host_port_and_key() {
        use base64::Engine as _;
        let (k1, k2, r) = (
            blob("ssh-ed25519", 1),
            blob("ssh-ed25519", 2),
            blob("ecdsa-sha2-nistp256", 3),
        );
        // A hashed entry for [10.0.0.9]:2222, as `ssh-keygen -H` writes it.
        let salt = [7u8; 20];
        let mut mac = <hmac::Hmac<sha1::Sha1> as hmac::Mac>::new_from_slice(&salt).unwrap();
        hmac::Mac::update(&mut mac, b"[10.0.0.9]:2222");
        let hash = hmac::Mac::finalize(mac).into_bytes();
        let b64 = base64::engine::general_purpose::STANDARD;
        let hashed = format!("|1|{}|{}", b64.encode(salt), b64.encode(hash));
        let text = [
            "# comment".to_string(),
            line("git.example.com,[127.0.0.1]:2222", &k1),
            line("*.corp.example,!bad.corp.example", &k1),
            line("other.example", &r),
            line(&hashed, &k2),
            format!("@revoked {}", line("*", &k2)),
            "@cert-authority *.example ssh-ed25519 AAAA".into(),
            "garbage".into(),
        ]
        .join("\n");
        let kh = KnownHosts::parse(&text);
        use HostKeyVerdict::*;
        assert_eq!(kh.check("git.example.com", 22, &k1), Trusted);
        assert_eq!(kh.check("GIT.example.com", 22, &k1), Trusted);
        assert_eq!(kh.check("127.0.0.1", 2222, &k1), Trusted);
        // The same host on another port is another host.
        assert_eq!(kh.check("127.0.0.1", 22, &k1), Unknown);
        assert_eq!(kh.check("git.example.com", 2222, &k1), Unknown);
        assert_eq!(kh.check("a.corp.example", 22, &k1), Trusted);
        assert_eq!(kh.check("bad.corp.example", 22, &k1), Unknown);
        assert_eq!(
            kh.check("git.example.com", 22, &blob("ssh-ed25519", 9)),
            Changed
        );
        assert_eq!(
            kh.check("other.example", 22, &k1),
            OtherTypes(vec!["ecdsa-sha2-nistp256".into()])
        );
        // k2 is trusted only through the hashed entry, but revoked everywhere.
        assert_eq!(kh.check("10.0.0.9", 2222, &k2), Revoked);
        let without_revocation = KnownHosts::parse(&line(&hashed, &k2));
        assert_eq!(without_revocation.check("10.0.0.9", 2222, &k2), Trusted);
        assert_eq!(without_revocation.check("10.0.0.9", 22, &k2), Unknown);

        assert!(host_key_decision(&Trusted, false).is_ok());
        assert!(host_key_decision(&Unknown, true).is_ok());
        for (v, accept) in [
            (Unknown, false),
            (Changed, true),
            (Revoked, true),
            (OtherTypes(vec!["x".into()]), true),
        ] {
            assert!(host_key_decision(&v, accept).is_err(), "{v:?} {accept}");
        }
        assert_eq!(
            known_hosts_line("127.0.0.1", 2222, &k1),
            line("[127.0.0.1]:2222", &k1)
        );
    }

    #[test]
    fn globs_match_like_openssh() {
        assert!(glob("*.example.com", "git.example.com"));
        assert!(!glob("*.example.com", "example.com"));
        assert!(glob("git?.example.com", "git1.example.com"));
        assert!(glob("*", ""));
        assert!(!glob("a*b", "acbd"));
        assert!(glob("a*b*", "acbd"));
    }

    #[test]
    fn urls_and_messages_lose_their_user_information() {
        assert_eq!(
            redact_url("https://bob:s3cret@git.example.com/cc.git"),
            "https://***@git.example.com/cc.git"
        );
        assert_eq!(
            redact_url("https://git.example.com/a@b"),
            "https://git.example.com/a@b"
        );
        assert_eq!(redact_url("deploy@host:org/x.git"), "***@host:org/x.git");
        assert_eq!(redact_url("file:///tmp/repo"), "file:///tmp/repo");
        assert_eq!(
            redact_userinfo(
                "failed to fetch https://bob:s3cret@h/x.git (via ssh://git@h:22/y) and http://h/z"
            ),
            "failed to fetch https://***@h/x.git (via ssh://***@h:22/y) and http://h/z"
        );
        assert_eq!(redact_userinfo("no url here: a@b"), "no url here: a@b");
        assert_eq!(redact_userinfo("https://u:p@h"), "https://***@h");
        let access = RemoteAccess {
            credentials: Some(GitCredentials {
                username: "bob".into(),
                secret: GitSecret::Password("s3cret".into()),
            }),
            ..Default::default()
        };
        assert_eq!(
            access.redact("bad token s3cret for deploy@h:x", "deploy@h:x"),
            "bad token *** for ***@h:x"
        );
        let shown = format!("{access:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("bob"),
            "{shown}"
        );
        let key = GitCredentials {
            username: "git".into(),
            secret: GitSecret::SshKey {
                private_key: "/keys/deploy".into(),
                passphrase: Some("open sesame".into()),
            },
        };
        let shown = format!("{key:?}");
        assert!(
            !shown.contains("open sesame") && shown.contains("ssh key"),
            "{shown}"
        );
    }
}
