//! The S3 test harness itself (`support/s3.rs`): moto answers boto3 and
//! zarr-python (through s3fs) with the credentials and storage options the
//! harness hands out, checks credentials when asked to, and the latency
//! proxy delays each request once, not each read of a request's body.

#[path = "support/s3.rs"]
mod s3;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use s3::{LatencyProxy, S3Server};

/// Runs `script` with the peer Python, `env` and `args`; its stdout.
fn python_with_env(python: &Path, env: &[(String, String)], script: &str, args: &[&str]) -> String {
    String::from_utf8(support::run_python_with_env(python, env, script, args)).unwrap()
}

#[test]
fn moto_through_the_latency_proxy_and_zarr_through_s3fs() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let python = support::python_peer().unwrap();
    server.create_bucket("harness");

    // Written straight to the server by boto3, configured by `env()` alone.
    let put = r#"
import boto3
boto3.client("s3").put_object(Bucket="harness", Key="small", Body=b"hello")
"#;
    python_with_env(&python, &server.env(), put, &[]);

    // Through the proxy: one 2 MiB PUT (its body comes in many reads, after
    // a `100 Continue`: the request is delayed once), then 5 sequential
    // GETs, each delayed. (moto's server closes every connection after its
    // response, so each request comes on a connection of its own; the test
    // below has a keep-alive one.)
    let delay = Duration::from_millis(20);
    let proxy = LatencyProxy::start(server.addr(), delay);
    let through = r#"
import time, boto3
s3 = boto3.client("s3")
s3.put_object(Bucket="harness", Key="big", Body=b"x" * (2 << 20))
start = time.perf_counter()
for _ in range(5):
    assert s3.get_object(Bucket="harness", Key="small")["Body"].read() == b"hello"
print(time.perf_counter() - start)
"#;
    let out = python_with_env(&python, &server.env_for(&proxy.endpoint()), through, &[]);
    let seconds: f64 = out.trim().parse().unwrap();
    assert!(
        seconds >= 5.0 * delay.as_secs_f64(),
        "5 GETs took {seconds} s through a proxy delaying each by {delay:?}"
    );
    assert_eq!(proxy.requests(), 6, "1 PUT and 5 GETs delayed");

    // zarr-python writes an array straight to the server and reads it back
    // through the proxy, given the harness's storage options.
    let write = r#"
import json, sys, numpy as np, zarr
a = zarr.create_array(sys.argv[1], shape=(10, 7), chunks=(4, 3), dtype="<f8",
                      storage_options=json.loads(sys.argv[2]))
a[:] = np.arange(70.0).reshape(10, 7)
"#;
    let read = r#"
import json, sys, zarr
a = zarr.open_array(sys.argv[1], mode="r", storage_options=json.loads(sys.argv[2]))
print(a.shape, a[:].sum(), a[3, 4])
"#;
    let url = "s3://harness/a.zarr";
    support::run_python(&python, write, &[url, &server.storage_options_json()]);
    let before = proxy.requests();
    let out = support::run_python(
        &python,
        read,
        &[url, &server.storage_options_json_for(&proxy.endpoint())],
    );
    assert_eq!(
        String::from_utf8(out).unwrap().trim(),
        "(10, 7) 2415.0 25.0"
    );
    assert!(
        proxy.requests() > before,
        "zarr-python read through the proxy"
    );
}

#[test]
fn a_server_with_auth_refuses_unknown_keys() {
    let Some(server) = S3Server::start_with_auth() else {
        return;
    };
    let python = support::python_peer().unwrap();
    server.create_bucket("guarded");
    // The server's own key works; the default test key and a wrong secret
    // get a 403 each.
    let script = r#"
import sys, boto3, botocore
def client(key, secret):
    return boto3.client("s3", aws_access_key_id=key, aws_secret_access_key=secret)
client(sys.argv[1], sys.argv[2]).put_object(Bucket="guarded", Key="k", Body=b"v")
for key, secret in [("testing", "testing"), (sys.argv[1], "wrong")]:
    try:
        client(key, secret).get_object(Bucket="guarded", Key="k")
        print("allowed")
    except botocore.exceptions.ClientError as e:
        print(e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
"#;
    let out = python_with_env(
        &python,
        &server.env(),
        script,
        &[server.key(), server.secret()],
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["403 InvalidAccessKeyId", "403 SignatureDoesNotMatch"],
        "{}",
        server.logs()
    );
}

/// Serves one keep-alive connection: answers each request (a request line,
/// headers with a `Content-Length`, the body) with `200` and the body's
/// length, until the client closes it.
fn keep_alive_server() -> (std::net::SocketAddr, std::thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut served = 0;
        loop {
            let mut length = 0;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap() == 0 {
                    return served; // the client closed the connection
                }
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let answer = length.to_string();
            write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{answer}",
                answer.len()
            )
            .unwrap();
            served += 1;
        }
    });
    (addr, server)
}

/// Sends a request on `stream` (its body in `pieces`, written apart) and
/// reads the response's body.
fn exchange(stream: &mut BufReader<TcpStream>, pieces: &[&[u8]]) -> String {
    let length: usize = pieces.iter().map(|p| p.len()).sum();
    let head = format!("PUT /x HTTP/1.1\r\nHost: test\r\nContent-Length: {length}\r\n\r\n");
    stream.get_mut().write_all(head.as_bytes()).unwrap();
    for piece in pieces {
        std::thread::sleep(Duration::from_millis(5));
        stream.get_mut().write_all(piece).unwrap();
    }
    let mut length = 0;
    let mut line = String::new();
    loop {
        line.clear();
        stream.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

#[test]
fn the_latency_proxy_delays_each_request_on_a_keep_alive_connection() {
    let (addr, server) = keep_alive_server();
    let delay = Duration::from_millis(20);
    let proxy = LatencyProxy::start(addr, delay);
    let mut stream = BufReader::new(TcpStream::connect(proxy.addr()).unwrap());
    let start = Instant::now();
    for _ in 0..5 {
        assert_eq!(exchange(&mut stream, &[b"hello"]), "5");
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed >= 5 * delay,
        "5 requests took {elapsed:?} through a proxy delaying each by {delay:?}"
    );
    // A body written in pieces: one request, one delay.
    let piece = [b'x'; 1000];
    assert_eq!(exchange(&mut stream, &[&piece[..]; 10]), "10000");
    assert_eq!(proxy.requests(), 6);
    assert_eq!(proxy.connections(), 1);
    drop(stream);
    assert_eq!(server.join().unwrap(), 6);
    // Dropping the proxy stops its threads.
    let dropped = Instant::now();
    drop(proxy);
    assert!(dropped.elapsed() < Duration::from_secs(2));
}
