//! Real git servers on loopback, for tests: git's smart HTTP behind TLS and
//! an OpenSSH `sshd`, each serving bare repositories from a directory.
//!
//! [`HttpsGitServer`] is a small HTTP/1.1 server (tokio + tokio-rustls, on
//! its own thread) with a certificate from a test CA it generates
//! ([`HttpsGitServer::ca_pem`]); it demands HTTP basic authentication and
//! hands each authorized request to `git http-backend` as CGI, as a git host
//! would. [`SshGitServer`] runs Debian's `sshd` as a foreground process on a
//! free 127.0.0.1 port with its own configuration, a generated host key
//! ([`SshGitServer::known_hosts_line`]) and an `AuthorizedKeysFile` with the
//! test's key; git's `git-upload-pack` runs through the login shell, as on
//! any ssh git host.
//!
//! Both can "disappear" in the middle of the next pack they send
//! (`cut_next_pack_after`): after that many bytes of the pack, the HTTPS
//! server drops the connection (a crashed server), the ssh server goes
//! silent on an open connection (a host gone from the network). Key decision: a
//! missing `sshd` is an error that says how to install it
//! ([`GitServerError::SshdMissing`]), never a silent skip, so a test that
//! needs it fails on a machine that lacks it.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Why a test git server could not start.
#[derive(Debug, thiserror::Error)]
pub enum GitServerError {
    #[error(
        "sshd (OpenSSH server) is not installed: install it with `apt-get update && apt-get install -y openssh-server` (scripts/test.sh does this on Debian)"
    )]
    SshdMissing,
    #[error("cannot {action}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
}

fn io_err(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> GitServerError {
    let action = action.into();
    move |source| GitServerError::Io { action, source }
}

/// A test CA and a server certificate it issued for 127.0.0.1 and localhost.
struct TestTls {
    ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

fn test_tls() -> Result<TestTls, GitServerError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
    let failed =
        |e: rcgen::Error| GitServerError::Failed(format!("cannot make test TLS material: {e}"));
    let ca_key = KeyPair::generate().map_err(failed)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "opssc test git CA");
    let ca_cert = ca.self_signed(&ca_key).map_err(failed)?;
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = KeyPair::generate().map_err(failed)?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).map_err(failed)?;
    server
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    server
        .distinguished_name
        .push(DnType::CommonName, "git.test");
    let cert = server.signed_by(&key, &issuer).map_err(failed)?;
    Ok(TestTls {
        ca_pem: ca_cert.pem(),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    })
}

/// State shared by the HTTPS server's connections.
struct HttpsState {
    root: PathBuf,
    authorization: String,
    cut_next_pack: AtomicUsize,
    requests: AtomicUsize,
}

/// git's smart HTTP protocol over TLS with basic authentication, on
/// 127.0.0.1. Stops when dropped.
pub struct HttpsGitServer {
    addr: SocketAddr,
    ca_pem: String,
    state: Arc<HttpsState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpsGitServer {
    /// Serves the bare repositories under `root` (`https://.../<name>.git`)
    /// to `user`:`password`.
    pub fn start(
        root: &Path,
        user: &str,
        password: &str,
    ) -> Result<HttpsGitServer, GitServerError> {
        use base64::Engine as _;
        let tls = test_tls()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth().with_single_cert(
                    vec![tls.cert_der.into()],
                    rustls_pki_types::PrivateKeyDer::Pkcs8(tls.key_der.into()),
                )
            })
            .map_err(|e| GitServerError::Failed(format!("cannot configure TLS: {e}")))?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").map_err(io_err("bind 127.0.0.1:0"))?;
        listener
            .set_nonblocking(true)
            .map_err(io_err("make the listener non-blocking"))?;
        let addr = listener
            .local_addr()
            .map_err(io_err("read the listener's address"))?;
        let state = Arc::new(HttpsState {
            root: root.to_path_buf(),
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
            cut_next_pack: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
        });
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io_err("start a runtime for the git server"))?;
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = &mut stopped => return,
                        accepted = listener.accept() => {
                            let Ok((sock, _)) = accepted else { continue };
                            let (acceptor, state) = (acceptor.clone(), shared.clone());
                            tokio::spawn(async move {
                                if let Ok(tls) = acceptor.accept(sock).await {
                                    let _ = serve_one(tls, &state).await;
                                }
                            });
                        }
                    }
                }
            });
        });
        Ok(HttpsGitServer {
            addr,
            ca_pem: tls.ca_pem,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `https://127.0.0.1:<port>/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("https://{}/{}", self.addr, name.trim_start_matches('/'))
    }

    /// The PEM of the test CA that issued the server's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The next pack response stops after `bytes` bytes and the connection
    /// closes, as if the server died mid-fetch.
    pub fn cut_next_pack_after(&self, bytes: usize) {
        self.state.cut_next_pack.store(bytes, Ordering::SeqCst);
    }

    /// Requests answered so far (authorized or not).
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

impl Drop for HttpsGitServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One HTTP request: method, target, headers (lower-case names), body.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// Reads one request (a body by `Content-Length` or chunked).
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Request> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return Err(bad("request head too large"));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed before the request"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut rest = buf[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("/").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            // A chunk: its size in hex, CRLF, the data, CRLF; size 0 ends.
            let line_end = loop {
                if let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                let mut chunk = [0u8; 4096];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(bad("connection closed inside a chunk"));
                }
                rest.extend_from_slice(&chunk[..n]);
            };
            let size_text = String::from_utf8_lossy(&rest[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            rest.drain(..line_end + 2);
            while rest.len() < size + 2 {
                let mut chunk = [0u8; 4096];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(bad("connection closed inside a chunk"));
                }
                rest.extend_from_slice(&chunk[..n]);
            }
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest.drain(..size + 2);
        }
        body
    } else {
        let len: usize = find("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while rest.len() < len {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(bad("connection closed inside the body"));
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len);
        rest
    };
    Ok(Request {
        method,
        target,
        headers,
        body,
    })
}

/// Answers one request on `stream` and closes it.
async fn serve_one<S>(mut stream: S, state: &HttpsState) -> std::io::Result<()>
where
    S: AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let request = read_request(&mut stream).await?;
    state.requests.fetch_add(1, Ordering::SeqCst);
    if request.header("authorization") != state.authorization {
        stream
            .write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
        return stream.shutdown().await;
    }
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", &state.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &request.method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", request.header("content-type"))
        .env("CONTENT_LENGTH", request.body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", request.header("content-encoding"))
        .env("GIT_PROTOCOL", request.header("git-protocol"))
        .env("REMOTE_USER", "tester")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    let body = request.body.clone();
    let feed = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let out = child.wait_with_output().await?;
    let _ = feed.await;
    let text = out.stdout;
    // CGI output: header lines, an empty line, the body.
    let (head_len, sep) = text
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| text.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)))
        .unwrap_or((0, 0));
    let head = String::from_utf8_lossy(&text[..head_len]).into_owned();
    let content = &text[head_len + sep..];
    let mut status = "200 OK".to_string();
    let mut headers = String::new();
    for line in head.lines() {
        match line.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => headers.push_str(&format!("{}\r\n", line.trim_end())),
            None => {}
        }
    }
    stream
        .write_all(
            format!(
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                content.len()
            )
            .as_bytes(),
        )
        .await?;
    let is_pack = request.method == "POST" && path.ends_with("/git-upload-pack");
    let cut = if is_pack {
        state.cut_next_pack.swap(0, Ordering::SeqCst)
    } else {
        0
    };
    if cut > 0 && cut < content.len() {
        // The server "dies": part of the pack, then the connection drops
        // without a TLS close_notify.
        stream.write_all(&content[..cut]).await?;
        stream.flush().await?;
        return Ok(());
    }
    stream.write_all(content).await?;
    stream.shutdown().await
}

/// OpenSSH's `sshd` on 127.0.0.1, serving git over ssh to one key. Stops
/// (by its PID) when dropped.
pub struct SshGitServer {
    child: Child,
    port: u16,
    user: String,
    dir: PathBuf,
    host_key_line: String,
}

/// Where Debian installs sshd.
fn find_sshd() -> Option<PathBuf> {
    ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn run(command: &mut Command, what: &str) -> Result<String, GitServerError> {
    let out = command.output().map_err(io_err(format!("run {what}")))?;
    if !out.status.success() {
        return Err(GitServerError::Failed(format!(
            "{what} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Generates an ed25519 key pair at `path` (and `path.pub`) with
/// `ssh-keygen`; returns the public key line.
pub fn generate_ssh_key(path: &Path) -> Result<String, GitServerError> {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    run(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "opssc-test", "-f"])
            .arg(path),
        "ssh-keygen",
    )?;
    let public = format!("{}.pub", path.display());
    std::fs::read_to_string(&public)
        .map(|s| s.trim().to_string())
        .map_err(io_err(format!("read {public}")))
}

impl SshGitServer {
    /// Starts `sshd` with its files under `dir`, accepting `authorized_key`
    /// (a public key line) for the current user.
    pub fn start(dir: &Path, authorized_key: &str) -> Result<SshGitServer, GitServerError> {
        let sshd = find_sshd().ok_or(GitServerError::SshdMissing)?;
        std::fs::create_dir_all(dir).map_err(io_err(format!("create {}", dir.display())))?;
        let dir = dir
            .canonicalize()
            .map_err(io_err(format!("resolve {}", dir.display())))?;
        let user = run(Command::new("id").arg("-un"), "id -un")?;
        // sshd started by root separates privileges into this directory,
        // which the system's service manager creates at boot.
        if run(Command::new("id").arg("-u"), "id -u")? == "0" && !Path::new("/run/sshd").is_dir() {
            std::fs::create_dir_all("/run/sshd").map_err(io_err("create /run/sshd"))?;
        }
        let host_key = dir.join("ssh_host_ed25519_key");
        let host_public = generate_ssh_key(&host_key)?;
        let authorized = dir.join("authorized_keys");
        std::fs::write(&authorized, format!("{}\n", authorized_key.trim()))
            .map_err(io_err(format!("write {}", authorized.display())))?;
        // The login shell runs this for every session: git's command, or,
        // when a cut is armed, its first N bytes and then silence on an open
        // connection (a host that vanished from the network sends no FIN).
        let serve = dir.join("serve.sh");
        let cut = dir.join("cut");
        std::fs::write(
            &serve,
            format!(
                "#!/bin/sh\nif [ -f '{cut}' ]; then\n  n=$(cat '{cut}'); rm -f '{cut}'\n  sh -c \"$SSH_ORIGINAL_COMMAND\" | head -c \"$n\"\n  exec sleep 3600\nfi\nexec sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
                cut = cut.display()
            ),
        )
        .map_err(io_err(format!("write {}", serve.display())))?;
        set_mode(&serve, 0o755)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(io_err("find a free port"))?
            .port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1:{port}\nHostKey {host_key}\nPidFile {pid}\nAuthorizedKeysFile {authorized}\nAllowUsers {user}\nPubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nForceCommand {serve}\nLogLevel VERBOSE\n",
                host_key = host_key.display(),
                pid = dir.join("sshd.pid").display(),
                authorized = authorized.display(),
                serve = serve.display(),
            ),
        )
        .map_err(io_err(format!("write {}", config.display())))?;
        let log = dir.join("sshd.log");
        let log_file =
            std::fs::File::create(&log).map_err(io_err(format!("create {}", log.display())))?;
        let mut child = Command::new(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(io_err(format!("start {}", sshd.display())))?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(GitServerError::Failed(format!(
                    "sshd did not start on 127.0.0.1:{port}:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let mut fields = host_public.split_whitespace();
        let host_key_line = format!(
            "[127.0.0.1]:{port} {} {}",
            fields.next().unwrap_or(""),
            fields.next().unwrap_or("")
        );
        Ok(SshGitServer {
            child,
            port,
            user,
            dir,
            host_key_line,
        })
    }

    /// `ssh://<user>@127.0.0.1:<port><absolute path of repo>`.
    pub fn url(&self, repo: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            repo.display()
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `known_hosts` line for this server's host key.
    pub fn known_hosts_line(&self) -> &str {
        &self.host_key_line
    }

    /// What sshd logged so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// The next session sends `bytes` bytes of git's answer and then
    /// nothing more, its connection left open: the host vanished mid-fetch
    /// (the client notices through its read timeout).
    pub fn cut_next_pack_after(&self, bytes: usize) -> Result<(), GitServerError> {
        let path = self.dir.join("cut");
        let mut f =
            std::fs::File::create(&path).map_err(io_err(format!("write {}", path.display())))?;
        write!(f, "{bytes}").map_err(io_err(format!("write {}", path.display())))
    }
}

impl Drop for SshGitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), GitServerError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_err(format!("chmod {}", path.display())))
}
