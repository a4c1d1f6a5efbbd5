//! The push-webhook receiver: a git host tells the agent that the spec
//! branch moved, and the agent runs a pass at once instead of at its next
//! poll.
//!
//! `POST /hooks/push` on the `pushWebhook.listen` address accepts three
//! formats, recognised by their headers:
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`,
//!   `X-GitHub-Event: push`;
//! - Gitea (and Forgejo): `X-Gitea-Signature: <hex HMAC-SHA256>`,
//!   `X-Gitea-Event: push`;
//! - GitLab: `X-Gitlab-Token: <the secret>`, `X-Gitlab-Event: Push Hook`.
//!
//! [`judge`] is the whole decision, a pure function of the request and the
//! secret: a request without a signature, or whose signature does not match
//! the secret (compared in constant time), is refused (401); a verified push
//! whose `ref` is the spec branch (or an approval under
//! `refs/opssc/approvals/`, consent the pass acts on as the poll does)
//! wakes the loop (202); any other verified event is acknowledged and
//! ignored (202).
//!
//! Key decision: the webhook only *wakes* the agent. It carries no spec and
//! no trust: the pass fetches the branch and verifies its signed commits as
//! after any poll, so a forged or replayed webhook costs at most one pass.
//! That is also why the receiver has its own address: it may face the git
//! host without exposing `/trigger` and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use opssc_schema::local::PushWebhookConfig;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

/// The path git hosts post to.
pub const HOOK_PATH: &str = "/hooks/push";

/// The largest body accepted. A push payload lists the pushed commits
/// (GitHub caps the list at 20 commits, GitLab at 20 by default); a megabyte
/// is far more than a push needs and little memory per connection.
pub const MAX_BODY: usize = 1024 * 1024;

/// The largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 16 * 1024;

/// How long a client may take to send its whole request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The git host a request comes from, by its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitHost {
    GitHub,
    GitLab,
    Gitea,
}

impl std::fmt::Display for GitHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GitHost::GitHub => "GitHub",
            GitHost::GitLab => "GitLab",
            GitHost::Gitea => "Gitea",
        })
    }
}

/// A request the receiver does not act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    #[error(
        "no webhook signature (expected X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token; set the webhook's secret on the git host)"
    )]
    Unsigned,
    #[error(
        "the {host} webhook signature does not match the secret (check that the git host and pushWebhook use the same secret)"
    )]
    BadSignature { host: GitHost },
    #[error(
        "the {host} webhook body is not a JSON push payload ({why}; set the content type to application/json)"
    )]
    BadPayload { host: GitHost, why: String },
    #[error("the request is not HTTP/1.x with a Content-Length ({0})")]
    BadRequest(String),
    #[error("the body is longer than {MAX_BODY} bytes")]
    TooLarge,
    #[error("only POST {HOOK_PATH} is served here")]
    NotFound,
    #[error("use POST {HOOK_PATH}")]
    Method,
    #[error("the webhook secret cannot be read: {0}")]
    Secret(String),
}

impl HookError {
    /// The HTTP status line part for this refusal.
    pub fn status(&self) -> &'static str {
        match self {
            HookError::Unsigned | HookError::BadSignature { .. } => "401 Unauthorized",
            HookError::BadPayload { .. } | HookError::BadRequest(_) => "400 Bad Request",
            HookError::TooLarge => "413 Content Too Large",
            HookError::NotFound => "404 Not Found",
            HookError::Method => "405 Method Not Allowed",
            HookError::Secret(_) => "500 Internal Server Error",
        }
    }
}

/// What a verified request means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A push to the spec branch (or an approval): run a pass.
    Wake { host: GitHost, git_ref: String },
    /// A verified event that does not concern the spec (another branch, a
    /// ping, a tag): acknowledged, nothing runs.
    Ignore { host: GitHost, why: String },
}

/// Request headers, names lower-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The request line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    pub path: String,
    pub headers: Headers,
    /// Bytes of `raw` the head took, the blank line included.
    pub len: usize,
}

impl Head {
    /// The body length the request announces.
    pub fn content_length(&self) -> Result<usize, HookError> {
        if self.headers.get("transfer-encoding").is_some() {
            return Err(HookError::BadRequest(
                "chunked bodies are not accepted".into(),
            ));
        }
        match self.headers.get("content-length") {
            None => Ok(0),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| HookError::BadRequest(format!("Content-Length {v:?}"))),
        }
    }
}

/// Parses the head of an HTTP/1.x request from the bytes read so far; None
/// while the blank line that ends it has not arrived.
pub fn parse_head(raw: &[u8]) -> Result<Option<Head>, HookError> {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        if raw.len() > MAX_HEAD {
            return Err(HookError::BadRequest("the headers are too long".into()));
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&raw[..end])
        .map_err(|_| HookError::BadRequest("the headers are not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut words = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (words.next(), words.next(), words.next())
    else {
        return Err(HookError::BadRequest(format!(
            "request line {request_line:?}"
        )));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HookError::BadRequest(format!("version {version:?}")));
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(HookError::BadRequest(format!("header line {line:?}")));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok(Some(Head {
        method: method.to_string(),
        path: target.split('?').next().unwrap_or_default().to_string(),
        headers: Headers(headers),
        len: end + 4,
    }))
}

/// Equality of two byte strings in time that does not depend on where they
/// differ: both are hashed first, so neither their contents nor (beyond the
/// hashing) their lengths steer the comparison.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    let diff = x
        .iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q));
    std::hint::black_box(diff) == 0
}

/// Whether `hex_signature` is the HMAC-SHA256 of `body` under `secret`
/// (the MAC's own constant-time check).
fn hmac_matches(secret: &[u8], body: &[u8], hex_signature: &str) -> bool {
    let Ok(given) = hex::decode(hex_signature.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// Checks the request's signature and says which host sent it.
pub fn verify(headers: &Headers, body: &[u8], secret: &[u8]) -> Result<GitHost, HookError> {
    if let Some(token) = headers.get("x-gitlab-token") {
        return if constant_time_eq(token.as_bytes(), secret) {
            Ok(GitHost::GitLab)
        } else {
            Err(HookError::BadSignature {
                host: GitHost::GitLab,
            })
        };
    }
    // Gitea also sends GitHub's header on some versions: its own first.
    let (host, signature) = if let Some(sig) = headers.get("x-gitea-signature") {
        (GitHost::Gitea, sig)
    } else if let Some(sig) = headers.get("x-hub-signature-256") {
        let Some(hex) = sig.strip_prefix("sha256=") else {
            return Err(HookError::BadSignature {
                host: GitHost::GitHub,
            });
        };
        (GitHost::GitHub, hex)
    } else {
        return Err(HookError::Unsigned);
    };
    if hmac_matches(secret, body, signature) {
        Ok(host)
    } else {
        Err(HookError::BadSignature { host })
    }
}

/// The whole decision about one request to [`HOOK_PATH`]: verified, then
/// a push to `branch` (or an approval) or not.
pub fn judge(
    headers: &Headers,
    body: &[u8],
    secret: &[u8],
    branch: &str,
) -> Result<Verdict, HookError> {
    let host = verify(headers, body, secret)?;
    let (event_header, push_event) = match host {
        GitHost::GitHub => ("x-github-event", "push"),
        GitHost::Gitea => ("x-gitea-event", "push"),
        GitHost::GitLab => ("x-gitlab-event", "Push Hook"),
    };
    let event = headers.get(event_header).unwrap_or_default();
    if event != push_event {
        return Ok(Verdict::Ignore {
            host,
            why: format!("event {event:?} is not a push"),
        });
    }
    #[derive(serde::Deserialize)]
    struct Push {
        #[serde(rename = "ref")]
        git_ref: String,
    }
    let push: Push = serde_json::from_slice(body).map_err(|e| HookError::BadPayload {
        host,
        why: e.to_string(),
    })?;
    let git_ref = push.git_ref;
    if git_ref == format!("refs/heads/{branch}")
        || git_ref.starts_with(crate::source::APPROVALS_REF_PREFIX)
    {
        Ok(Verdict::Wake { host, git_ref })
    } else {
        Ok(Verdict::Ignore {
            host,
            why: format!("{git_ref} is not the spec branch {branch}"),
        })
    }
}

/// The secret, read for each request so that a rotated secret applies
/// without a restart.
pub fn read_secret(config: &PushWebhookConfig) -> Result<Vec<u8>, HookError> {
    let secret = match (&config.secret_file, &config.secret_env) {
        (Some(file), _) => std::fs::read_to_string(file)
            .map_err(|e| HookError::Secret(format!("{}: {e}", file.display())))?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
        (None, Some(var)) => std::env::var(var)
            .map_err(|_| HookError::Secret(format!("environment variable {var} is not set")))?,
        (None, None) => return Err(HookError::Secret("pushWebhook names no secret".into())),
    };
    if secret.is_empty() {
        return Err(HookError::Secret("the secret is empty".into()));
    }
    Ok(secret.into_bytes())
}

/// Reads one request and decides; the status and body of the answer.
async fn answer(
    sock: &mut tokio::net::TcpStream,
    config: &PushWebhookConfig,
    branch: &str,
) -> Result<Verdict, HookError> {
    let mut raw = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head = loop {
        if let Some(head) = parse_head(&raw)? {
            break head;
        }
        let n = sock
            .read(&mut chunk)
            .await
            .map_err(|e| HookError::BadRequest(e.to_string()))?;
        if n == 0 {
            return Err(HookError::BadRequest("the request ended early".into()));
        }
        raw.extend_from_slice(&chunk[..n]);
    };
    if head.path != HOOK_PATH {
        return Err(HookError::NotFound);
    }
    if head.method != "POST" {
        return Err(HookError::Method);
    }
    let length = head.content_length()?;
    if length > MAX_BODY {
        return Err(HookError::TooLarge);
    }
    let mut body = raw.split_off(head.len);
    while body.len() < length {
        let n = sock
            .read(&mut chunk)
            .await
            .map_err(|e| HookError::BadRequest(e.to_string()))?;
        if n == 0 {
            return Err(HookError::BadRequest("the body ended early".into()));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let secret = read_secret(config)?;
    judge(&head.headers, &body, &secret, branch)
}

/// Serves [`HOOK_PATH`] on `config.listen` until the agent stops; a
/// verified push to `branch` wakes the loop through `wake`.
pub async fn serve(config: PushWebhookConfig, branch: String, wake: Arc<Notify>) {
    let listener = match tokio::net::TcpListener::bind(&config.listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(listen = %config.listen, error = %e, "cannot listen for push webhooks (check pushWebhook.listen); relying on the poll");
            return;
        }
    };
    tracing::info!(address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), path = HOOK_PATH, "receiving push webhooks");
    let config = Arc::new(config);
    let branch = Arc::new(branch);
    loop {
        let Ok((mut sock, peer)) = listener.accept().await else {
            continue;
        };
        let (config, branch, wake) = (config.clone(), branch.clone(), wake.clone());
        tokio::spawn(async move {
            let verdict =
                match tokio::time::timeout(READ_TIMEOUT, answer(&mut sock, &config, &branch)).await
                {
                    Ok(v) => v,
                    Err(_) => Err(HookError::BadRequest("the request took too long".into())),
                };
            let (status, text) = match &verdict {
                Ok(Verdict::Wake { host, git_ref }) => {
                    tracing::info!(%host, %git_ref, %peer, "push webhook: running a pass");
                    wake.notify_one();
                    ("202 Accepted", "a pass will run\n".to_string())
                }
                Ok(Verdict::Ignore { host, why }) => {
                    tracing::debug!(%host, %why, %peer, "push webhook ignored");
                    ("202 Accepted", format!("ignored: {why}\n"))
                }
                Err(e) => {
                    tracing::warn!(%peer, status = e.status(), reason = %e, "push webhook refused");
                    (e.status(), format!("{e}\n"))
                }
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

/// The headers and body of a GitHub-format signed push of `git_ref`, as a
/// git host sends it (for tests and `opssc` users checking their setup).
pub fn github_push(secret: &[u8], git_ref: &str) -> (Headers, Vec<u8>) {
    let body =
        serde_json::json!({"ref": git_ref, "before": "0".repeat(40), "after": "1".repeat(40)})
            .to_string()
            .into_bytes();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(&body);
    let sig = hex::encode(mac.finalize().into_bytes());
    (
        Headers(vec![
            ("x-github-event".into(), "push".into()),
            ("x-hub-signature-256".into(), format!("sha256={sig}")),
            ("content-type".into(), "application/json".into()),
        ]),
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"s3cret-for-tests";

    fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        Headers(
            pairs
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
                .collect(),
        )
    }

    fn push(r: &str) -> Vec<u8> {
        format!(r#"{{"ref":"{r}","commits":[]}}"#).into_bytes()
    }

    #[test]
    fn a_signed_github_push_to_the_branch_wakes() {
        let (h, body) = github_push(SECRET, "refs/heads/main");
        assert_eq!(
            judge(&h, &body, SECRET, "main"),
            Ok(Verdict::Wake {
                host: GitHost::GitHub,
                git_ref: "refs/heads/main".into()
            })
        );
        // Another branch is verified, then ignored.
        assert!(matches!(
            judge(&h, &body, SECRET, "release"),
            Ok(Verdict::Ignore { host: GitHost::GitHub, why }) if why.contains("not the spec branch release")
        ));
    }

    #[test]
    fn a_github_push_signed_with_another_secret_or_altered_is_refused() {
        let (h, body) = github_push(b"another secret", "refs/heads/main");
        assert_eq!(
            judge(&h, &body, SECRET, "main"),
            Err(HookError::BadSignature {
                host: GitHost::GitHub
            })
        );
        let (h, mut body) = github_push(SECRET, "refs/heads/main");
        body.push(b' ');
        assert_eq!(
            judge(&h, &body, SECRET, "main").unwrap_err().status(),
            "401 Unauthorized"
        );
        // The old SHA-1 header alone, or a signature without its prefix,
        // does not count.
        let body = push("refs/heads/main");
        let sig = hmac_hex(SECRET, &body);
        let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)]);
        assert!(matches!(
            judge(&h, &body, SECRET, "main"),
            Err(HookError::BadSignature { .. })
        ));
        let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature", "sha1=00")]);
        assert_eq!(judge(&h, &body, SECRET, "main"), Err(HookError::Unsigned));
    }

    #[test]
    fn an_unsigned_request_is_refused() {
        let body = push("refs/heads/main");
        let h = headers(&[("X-GitHub-Event", "push")]);
        let err = judge(&h, &body, SECRET, "main").unwrap_err();
        assert_eq!(err, HookError::Unsigned);
        assert_eq!(err.status(), "401 Unauthorized");
    }

    #[test]
    fn gitea_signs_with_a_bare_hex_hmac() {
        let body = push("refs/heads/main");
        let sig = hmac_hex(SECRET, &body);
        let h = headers(&[
            ("X-Gitea-Event", "push"),
            ("X-Gitea-Signature", &sig),
            // Gitea may send GitHub's header too; its own decides.
            ("X-Hub-Signature-256", "sha256=00"),
        ]);
        assert_eq!(
            judge(&h, &body, SECRET, "main"),
            Ok(Verdict::Wake {
                host: GitHost::Gitea,
                git_ref: "refs/heads/main".into()
            })
        );
        let h = headers(&[("X-Gitea-Event", "push"), ("X-Gitea-Signature", "zz")]);
        assert_eq!(
            judge(&h, &body, SECRET, "main"),
            Err(HookError::BadSignature {
                host: GitHost::Gitea
            })
        );
    }

    #[test]
    fn gitlab_sends_the_secret_itself() {
        let body = push("refs/heads/main");
        let secret = std::str::from_utf8(SECRET).unwrap();
        let h = headers(&[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", secret)]);
        assert!(matches!(
            judge(&h, &body, SECRET, "main"),
            Ok(Verdict::Wake {
                host: GitHost::GitLab,
                ..
            })
        ));
        let h = headers(&[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "guess")]);
        assert_eq!(
            judge(&h, &body, SECRET, "main"),
            Err(HookError::BadSignature {
                host: GitHost::GitLab
            })
        );
        // A tag push is verified and ignored.
        let h = headers(&[
            ("X-Gitlab-Event", "Tag Push Hook"),
            ("X-Gitlab-Token", secret),
        ]);
        assert!(matches!(
            judge(&h, &body, SECRET, "main"),
            Ok(Verdict::Ignore { .. })
        ));
    }

    #[test]
    fn a_ping_is_ignored_and_an_approval_wakes() {
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let sig = format!("sha256={}", hmac_hex(SECRET, body));
        let h = headers(&[("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", &sig)]);
        assert!(matches!(
            judge(&h, body, SECRET, "main"),
            Ok(Verdict::Ignore { why, .. }) if why.contains("\"ping\"")
        ));
        let (h, body) = github_push(SECRET, "refs/opssc/approvals/Org2MSP/abc");
        assert!(matches!(
            judge(&h, &body, SECRET, "main"),
            Ok(Verdict::Wake { .. })
        ));
    }

    #[test]
    fn a_form_encoded_or_refless_push_is_a_bad_payload() {
        let body = b"payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D";
        let sig = format!("sha256={}", hmac_hex(SECRET, body));
        let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)]);
        let err = judge(&h, body, SECRET, "main").unwrap_err();
        assert_eq!(err.status(), "400 Bad Request");
        assert!(err.to_string().contains("application/json"), "{err}");
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn the_head_is_parsed_once_complete() {
        assert_eq!(
            parse_head(b"POST /hooks/push HTTP/1.1\r\nHost: x"),
            Ok(None)
        );
        let raw = b"POST /hooks/push?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nX-GitHub-Event: push\r\n\r\n{\"ref\":\"r\"}";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.path, HOOK_PATH);
        assert_eq!(head.headers.get("x-github-event"), Some("push"));
        assert_eq!(head.content_length(), Ok(12));
        assert_eq!(&raw[head.len..], b"{\"ref\":\"r\"}");
        let chunked = parse_head(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(chunked.content_length().is_err());
        assert!(parse_head(b"GARBAGE\r\n\r\n").is_err());
        assert!(parse_head(&vec![b'a'; MAX_HEAD + 1]).is_err());
    }

    /// Sends `request` to the receiver and returns the whole answer.
    async fn ask(addr: std::net::SocketAddr, request: &[u8]) -> String {
        let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
        sock.write_all(request).await.unwrap();
        let mut out = String::new();
        sock.read_to_string(&mut out).await.unwrap();
        out
    }

    fn request(h: &Headers, body: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "POST {HOOK_PATH} HTTP/1.1\r\nHost: agent\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (n, v) in &h.0 {
            r.push_str(&format!("{n}: {v}\r\n"));
        }
        r.push_str("\r\n");
        let mut r = r.into_bytes();
        r.extend_from_slice(body);
        r
    }

    #[tokio::test]
    async fn the_receiver_wakes_only_on_a_verified_push() {
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, "s3cret-for-tests\n").unwrap();
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let wake = Arc::new(Notify::new());
        tokio::spawn(serve(
            PushWebhookConfig {
                listen: addr.to_string(),
                secret_file: Some(secret_file),
                secret_env: None,
            },
            "main".into(),
            wake.clone(),
        ));
        let mut tries = 0;
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            tries += 1;
            assert!(tries < 100, "the receiver did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let quiet = |wake: Arc<Notify>| async move {
            tokio::time::timeout(Duration::from_millis(200), wake.notified())
                .await
                .is_err()
        };

        let (h, body) = github_push(b"wrong", "refs/heads/main");
        let got = ask(addr, &request(&h, &body)).await;
        assert!(got.starts_with("HTTP/1.1 401"), "{got}");
        assert!(
            quiet(wake.clone()).await,
            "a badly signed push woke the loop"
        );

        let got = ask(
            addr,
            format!(
                "POST {HOOK_PATH} HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
                MAX_BODY + 1
            )
            .as_bytes(),
        )
        .await;
        assert!(got.starts_with("HTTP/1.1 413"), "{got}");
        let got = ask(addr, b"POST /trigger HTTP/1.1\r\n\r\n").await;
        assert!(got.starts_with("HTTP/1.1 404"), "{got}");

        let (h, body) = github_push(SECRET, "refs/heads/other");
        let got = ask(addr, &request(&h, &body)).await;
        assert!(got.starts_with("HTTP/1.1 202"), "{got}");
        assert!(got.contains("ignored"), "{got}");
        assert!(
            quiet(wake.clone()).await,
            "a push to another branch woke the loop"
        );

        let (h, body) = github_push(SECRET, "refs/heads/main");
        let got = ask(addr, &request(&h, &body)).await;
        assert!(got.starts_with("HTTP/1.1 202"), "{got}");
        tokio::time::timeout(Duration::from_secs(5), wake.notified())
            .await
            .expect("a verified push did not wake the loop");
    }
}
