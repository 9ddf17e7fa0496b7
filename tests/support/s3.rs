//! A real S3 endpoint for a test: moto's server (`moto[server]` in
//! [`PEER_REQUIREMENTS`](crate::support::PEER_REQUIREMENTS)), run from the
//! peer Python on 127.0.0.1 and a free port, stopped when dropped; and a
//! [`LatencyProxy`] to put in front of it, which delays each HTTP request.
//!
//! Skipped like every Python peer: [`S3Server::start`] returns `None` after
//! [`python_peer`](crate::support::python_peer)'s loud skip, and fails under
//! `NDCHUNK_REQUIRE_PYTHON=1`.
//!
//! Rust clients find the server through [`S3Server::env`] (the standard AWS
//! variables, and `AWS_ALLOW_HTTP=true` for other clients of the
//! `object_store` crate; ndchunk needs none for an `http://` endpoint).
//! Python ones (zarr-python through
//! s3fs) take [`S3Server::storage_options_json`] as an argument:
//!
//! ```ignore
//! let s3 = S3Server::start()?;            // in a test: `else { return }`
//! s3.create_bucket("b");
//! let script = r#"
//! import json, sys, zarr
//! a = zarr.open_array(sys.argv[1], mode="r", storage_options=json.loads(sys.argv[2]))
//! print(a[:].sum())
//! "#;
//! let python = support::python_peer().unwrap();
//! support::run_python(&python, script, &["s3://b/a.zarr".to_string(), s3.storage_options_json()]);
//! ```
//!
//! boto3 reads [`S3Server::env`] itself: run the script with
//! `Command::new(python).envs(s3.env())` and call `boto3.client("s3")`.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The credentials of a server without authentication (moto takes any), and
/// an unknown access key on one with it ([`S3Server::start_with_auth`]).
pub const TEST_KEY: &str = "testing";
/// The secret that goes with [`TEST_KEY`].
pub const TEST_SECRET: &str = "testing";
/// The region every client is told.
pub const REGION: &str = "us-east-1";

/// A running moto server.
pub struct S3Server {
    child: Child,
    addr: SocketAddr,
    python: PathBuf,
    /// Holds `moto.log`, the server's stdout and stderr.
    dir: tempfile::TempDir,
    key: String,
    secret: String,
    auth: bool,
}

/// `moto_server`, which also stops when the test process is gone (killed,
/// or aborted, with no `Drop` run): a thread watches for the parent to
/// change.
const MOTO_SERVER: &str = r#"
import os, sys, threading, time
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
"#;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl S3Server {
    /// Starts a server that takes any credentials (moto's default); `None`
    /// after a loud skip when the Python peers are unavailable.
    pub fn start() -> Option<S3Server> {
        let python = crate::support::python_peer()?;
        Some(Self::spawn(python))
    }

    /// Starts a server that checks credentials: an IAM user allowed
    /// everything is made while moto does not yet check, then moto's
    /// `POST /moto-api/reset-auth` with body `0` turns checking on for every
    /// later request. (It sets what moto reads at its start from the
    /// environment variable `INITIAL_NO_AUTH_ACTION_COUNT=N`: the first N
    /// actions go unchecked, every later one is checked; unset, none is.)
    /// [`env`](Self::env) and
    /// [`storage_options_json`](Self::storage_options_json) then carry that
    /// user's key. A request signed with an unknown key (such as
    /// [`TEST_KEY`]) gets `403 InvalidAccessKeyId`; the right key with a
    /// wrong secret gets `403 SignatureDoesNotMatch`. (An unsigned request
    /// gets moto's `500`, not a 403.)
    pub fn start_with_auth() -> Option<S3Server> {
        let python = crate::support::python_peer()?;
        let mut server = Self::spawn(python);
        let out = crate::support::run_python(
            &server.python,
            r#"
import json, sys, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
iam.create_user(UserName="ndchunk")
iam.put_user_policy(UserName="ndchunk", PolicyName="everything", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="ndchunk")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
"#,
            &[server.endpoint()],
        );
        let out = String::from_utf8(out).unwrap();
        let mut words = out.split_whitespace();
        server.key = words.next().expect("an access key id").to_string();
        server.secret = words.next().expect("a secret access key").to_string();
        let (status, body) = http_request(server.addr, "POST", "/moto-api/reset-auth", b"0")
            .unwrap_or_else(|e| panic!("reset-auth: {e}\n{}", server.logs()));
        assert_eq!(status, 200, "reset-auth: {body}\n{}", server.logs());
        server.auth = true;
        Some(server)
    }

    fn spawn(python: PathBuf) -> S3Server {
        use std::os::unix::process::CommandExt;
        // The port is free when asked for but may be taken before moto binds
        // it: a server that stops before it answers is started again.
        for attempt in 1..=3 {
            let dir = tempfile::tempdir().unwrap();
            let log = std::fs::File::create(dir.path().join("moto.log")).unwrap();
            let port = free_port();
            let child = Command::new(&python)
                .arg("-c")
                .arg(MOTO_SERVER)
                .args(["-H", "127.0.0.1", "-p"])
                .arg(port.to_string())
                .env_remove("INITIAL_NO_AUTH_ACTION_COUNT")
                .env_remove("MOTO_PORT")
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start moto with {}: {e}", python.display()));
            let mut server = S3Server {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                python: python.clone(),
                dir,
                key: TEST_KEY.to_string(),
                secret: TEST_SECRET.to_string(),
                auth: false,
            };
            let started = Instant::now();
            loop {
                if let Ok(Some(status)) = server.child.try_wait() {
                    assert!(
                        attempt < 3,
                        "moto stopped ({status}) before it answered:\n{}",
                        server.logs()
                    );
                    break;
                }
                // moto's dashboard, not whatever else may have taken the port.
                let answer = http_request(server.addr, "GET", "/moto-api/", b"");
                if matches!(answer, Ok((200, ref page)) if page.contains("Moto")) {
                    return server;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "waited 60 s for moto to answer:\n{}",
                    server.logs()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        unreachable!("the third attempt returns or fails")
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether credentials are checked ([`start_with_auth`](Self::start_with_auth)).
    pub fn auth(&self) -> bool {
        self.auth
    }

    /// The access key id clients are given.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The secret access key clients are given.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Makes a bucket (none exists at the start); making one that exists
    /// succeeds. A plain `PUT /name` when credentials are not checked, a
    /// signed one through boto3 when they are.
    pub fn create_bucket(&self, name: &str) {
        if self.auth {
            crate::support::run_python(
                &self.python,
                r#"
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
             aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3]
             ).create_bucket(Bucket=sys.argv[4])
"#,
                &[&self.endpoint(), &self.key, &self.secret, name],
            );
            return;
        }
        let (status, body) = http_request(self.addr, "PUT", &format!("/{name}"), b"")
            .unwrap_or_else(|e| panic!("PUT /{name}: {e}\n{}", self.logs()));
        assert_eq!(status, 200, "PUT /{name}: {body}\n{}", self.logs());
    }

    /// The environment a client needs: `AWS_ENDPOINT_URL`, the keys,
    /// `AWS_REGION` and `AWS_DEFAULT_REGION`, and `AWS_ALLOW_HTTP=true`.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env_for(&self.endpoint())
    }

    /// [`env`](Self::env) with another endpoint, such as a
    /// [`LatencyProxy`]'s.
    pub fn env_for(&self, endpoint: &str) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", &self.key),
            ("AWS_SECRET_ACCESS_KEY", &self.secret),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// fsspec's `storage_options` for s3fs, as JSON: `endpoint_url`, `key`,
    /// `secret` and `client_kwargs.region_name`. A Python script takes it as
    /// an argument and passes `json.loads(...)` to `zarr.open_array(url,
    /// storage_options=...)` (see the module's documentation).
    pub fn storage_options_json(&self) -> String {
        self.storage_options_json_for(&self.endpoint())
    }

    /// [`storage_options_json`](Self::storage_options_json) with another
    /// endpoint, such as a [`LatencyProxy`]'s.
    pub fn storage_options_json_for(&self, endpoint: &str) -> String {
        serde_json::json!({
            "endpoint_url": endpoint,
            "key": self.key,
            "secret": self.secret,
            "client_kwargs": {"region_name": REGION},
        })
        .to_string()
    }

    /// The server's process id (it leads its own process group).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of the server's log, for a failing test to show.
    pub fn logs(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        format!(
            "--- moto.log:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        // moto leads its own process group: TERM to all of it, KILL to
        // whatever is left after 5 s.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`: the status and the body
/// (with the headers; enough for a failure message).
fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
    Ok((status, response))
}

/// A TCP proxy on 127.0.0.1 that adds a fixed delay to each HTTP request, to
/// make a local server look like a remote one. A thread per connection
/// forwards both ways; the first bytes of a request (the first on the
/// connection, or the first the client sends after the response to its last
/// request began to come back) wait `delay` before they are forwarded, the
/// rest of the request does not. An interim `1xx` response (botocore sends
/// `Expect: 100-continue` with a PUT's body and waits for `100 Continue`)
/// does not count as the response beginning, so the body that follows it is
/// not delayed. Stops when dropped.
///
/// [`LatencyProxy::throttling`] also answers some `GET` requests itself
/// with S3's `503 SlowDown`, as a busy bucket does, to test retries.
pub struct LatencyProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    target: SocketAddr,
    delay: Duration,
    stop: AtomicBool,
    connections: AtomicUsize,
    requests: AtomicUsize,
    /// Every `throttle_every`th `GET` that opens a connection is answered
    /// `503 SlowDown` (0: none).
    throttle_every: usize,
    gets: AtomicUsize,
    throttled: AtomicUsize,
}

/// How often a blocked proxy thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);

impl LatencyProxy {
    /// Starts forwarding a free port to `target` (e.g. [`S3Server::addr`]).
    pub fn start(target: SocketAddr, delay: Duration) -> LatencyProxy {
        Self::throttling(target, delay, 0)
    }

    /// [`LatencyProxy::start`], answering every `every`th `GET` that opens a
    /// connection with `503 SlowDown` instead of forwarding it (moto closes
    /// each connection after its response, so with it that is every
    /// `every`th `GET`).
    pub fn throttling(target: SocketAddr, delay: Duration, every: usize) -> LatencyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared {
            target,
            delay,
            stop: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
            throttle_every: every,
            gets: AtomicUsize::new(0),
            throttled: AtomicUsize::new(0),
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::spawn(move || accept_loop(listener, shared))
        };
        LatencyProxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, to give clients in place of the target's.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// The requests delayed so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// The requests answered `503 SlowDown` so far.
    pub fn throttled(&self) -> usize {
        self.shared.throttled.load(Ordering::SeqCst)
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                workers.push(std::thread::spawn(move || connection(client, shared)));
            }
            // Nothing waiting (or a failed accept): look again shortly.
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
        workers.retain(|w| !w.is_finished());
    }
    for worker in workers {
        let _ = worker.join();
    }
}

/// Forwards one connection until either side closes it or the proxy stops.
fn connection(client: TcpStream, shared: Arc<Shared>) {
    if shared.throttle_every > 0 && throttle(&client, &shared) {
        return;
    }
    let Ok(upstream) = TcpStream::connect_timeout(&shared.target, Duration::from_secs(5)) else {
        return; // the client sees its connection closed
    };
    for s in [&client, &upstream] {
        let _ = s.set_nonblocking(false);
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(POLL));
        let _ = s.set_write_timeout(Some(Duration::from_secs(30)));
    }
    let (Ok(client2), Ok(upstream2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    // Set when response bytes flow back; the client's next bytes then start
    // a new request.
    let responded = Arc::new(AtomicBool::new(false));
    let back = {
        let shared = shared.clone();
        let responded = responded.clone();
        std::thread::spawn(move || {
            pump(&upstream2, &client2, &shared, |_, bytes| {
                if !interim_response(bytes) {
                    responded.store(true, Ordering::SeqCst)
                }
            })
        })
    };
    let mut first = true;
    pump(&client, &upstream, &shared, |shared, _| {
        if std::mem::take(&mut first) || responded.swap(false, Ordering::SeqCst) {
            shared.requests.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(shared.delay);
        }
    });
    let _ = back.join();
}

/// Answers the connection's first request `503 SlowDown` and closes it, if
/// it is a `GET` (no body to drain) whose turn it is.
fn throttle(client: &TcpStream, shared: &Shared) -> bool {
    let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = [0u8; 4];
    if client.peek(&mut head).ok() != Some(4) || &head != b"GET " {
        return false;
    }
    let turn = shared.gets.fetch_add(1, Ordering::SeqCst) + 1;
    if !turn.is_multiple_of(shared.throttle_every) {
        return false;
    }
    // Read the request's head, then answer as S3 does when it sheds load.
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    let mut reader = client;
    while !request.ends_with(b"\r\n\r\n") {
        match reader.read(&mut byte) {
            Ok(1) => request.push(byte[0]),
            _ => return true,
        }
    }
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                <Message>Please reduce your request rate.</Message></Error>";
    let response = format!(
        "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut writer = client;
    let _ = writer.write_all(response.as_bytes());
    let _ = client.shutdown(Shutdown::Both);
    shared.throttled.fetch_add(1, Ordering::SeqCst);
    true
}

/// Copies `from` to `to`, calling `before` with each read's bytes ahead of
/// writing them. At `from`'s
/// end `to` is half-closed, so the other direction goes on; at an error
/// both sockets are shut down, which ends the other direction too.
fn pump(from: &TcpStream, to: &TcpStream, shared: &Shared, mut before: impl FnMut(&Shared, &[u8])) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut reader = from;
    let mut writer = to;
    while !shared.stop.load(Ordering::SeqCst) {
        match reader.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                before(shared, &buf[..n]);
                if writer.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// Whether `bytes`, read from the server, are interim `1xx` responses such
/// as `HTTP/1.1 100 Continue` and nothing else (werkzeug, under moto, sends
/// `100 Continue` twice, often in one read). An interim response split
/// across reads, or read together with the final response, counts as the
/// response beginning.
fn interim_response(mut bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return false;
    }
    while !bytes.is_empty() {
        let interim = bytes.starts_with(b"HTTP/1.1 1") || bytes.starts_with(b"HTTP/1.0 1");
        match bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(end) if interim => bytes = &bytes[end + 4..],
            _ => return false,
        }
    }
    true
}
