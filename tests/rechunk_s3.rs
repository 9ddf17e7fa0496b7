//! `chunkctl info` and `chunkctl rechunk` with object storage on either
//! side, against a real local S3 server (moto): a rechunk into a bucket,
//! killed with `kill -9` and run again, ends with objects byte for byte
//! those of the same rechunk on disk, which zarr-python reads; a rechunk
//! from one bucket array to another; and each bad input (no journal, a
//! missing bucket, an endpoint that does not answer, refused credentials, a
//! prefix holding someone else's objects) is a clear error that writes
//! nothing.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/s3.rs"]
mod s3;
mod support;

use std::path::Path;
use std::process::{Command, Output};

use cli::{
    assert_same_values, chunkctl, kill_once_journaled_with, make_source, s, slow_job, store_files,
    two_array_group,
};
use ndchunk::io::zarr::ZarrFormat;
use ndchunk::io::DType;
use s3::{LatencyProxy, S3Server};

/// `chunkctl ARGS` with `env` (the server's AWS variables).
fn chunkctl_with(env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chunkctl"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("chunkctl runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `script` with the peer Python and `env`; its stdout.
fn python_with(env: &[(String, String)], script: &str, args: &[&str]) -> String {
    let python = support::python_peer().unwrap();
    String::from_utf8(support::run_python_with_env(&python, env, script, args)).unwrap()
}

/// Every object under `bucket/prefix/`, downloaded by boto3 into `into`
/// (keys as paths): to compare with a store on disk.
fn download(env: &[(String, String)], bucket: &str, prefix: &str, into: &Path) {
    let script = r#"
import os, sys, boto3
bucket, prefix, into = sys.argv[1:4]
s3 = boto3.client("s3")
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
    for o in page.get("Contents", []):
        path = os.path.join(into, o["Key"][len(prefix) + 1:])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        s3.download_file(bucket, o["Key"], path)
"#;
    python_with(env, script, &[bucket, prefix, s(into)]);
}

/// The keys under `bucket/prefix/`, listed by boto3.
fn keys(env: &[(String, String)], bucket: &str, prefix: &str) -> Vec<String> {
    let script = r#"
import sys, boto3
bucket, prefix = sys.argv[1:3]
pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
for page in pages:
    for o in page.get("Contents", []):
        print(o["Key"])
"#;
    python_with(env, script, &[bucket, prefix])
        .lines()
        .map(String::from)
        .collect()
}

/// Whether zarr-python reads the same values at `url` (through s3fs) as
/// in the array directory `local`.
const SAME_VALUES: &str = r#"
import json, sys, zarr, numpy as np
url, local, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
remote = zarr.open_array(url, mode="r", storage_options=options)
print(remote.chunks, np.array_equal(remote[:], zarr.open_array(local, mode="r")[:]))
"#;

#[test]
fn a_rechunk_into_s3_killed_and_resumed_is_the_local_one_and_zarr_python_reads_it() {
    let Some(server) = S3Server::start() else {
        return;
    };
    server.create_bucket("cli");
    let env = server.env();
    let dir = tempfile::tempdir().unwrap();
    let (src, local, args) = slow_job(dir.path(), 400, "local.zarr");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = chunkctl(&args);
    assert!(out.status.success(), "{}", stderr(&out));

    // The same job into the bucket, its journal here; killed mid-run.
    let journal = dir.path().join("journal");
    let url = "s3://cli/series.zarr";
    let mut remote_args = args.clone();
    remote_args[2] = url;
    remote_args.extend(["--journal", s(&journal)]);
    kill_once_journaled_with(&env, &remote_args, &journal, 3);
    // Killed, the prefix holds chunks but no array.
    let info = chunkctl_with(&env, &["info", url]);
    assert!(!info.status.success());
    assert!(stderr(&info).contains("no zarr.json"), "{}", stderr(&info));

    let out = chunkctl_with(&env, &remote_args);
    assert!(out.status.success(), "{}", stderr(&out));
    // The journal directory holds nothing of the job once it is done.
    assert_eq!(std::fs::read_dir(&journal).unwrap().count(), 0);

    // Byte for byte the local run's chunks and metadata.
    let fetched = dir.path().join("fetched");
    download(&env, "cli", "series.zarr", &fetched);
    assert!(fetched.join(".ndchunk-rechunk.json").is_file());
    assert_eq!(store_files(&fetched), store_files(&local));
    let same = python_with(
        &env,
        SAME_VALUES,
        &[url, s(&src), &server.storage_options_json()],
    );
    assert_eq!(same.trim(), "(400, 8, 8) True");

    // Run again: finished, nothing written.
    let out = chunkctl_with(&env, &remote_args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("finished by an earlier run"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // From the bucket into the bucket, back to the source's chunks.
    let back = "s3://cli/maps.zarr";
    let out = chunkctl_with(
        &env,
        &[
            "rechunk",
            url,
            back,
            "--chunks",
            "1,64,64",
            "--max-mem",
            "8MiB",
            "--journal",
            s(&journal),
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let same = python_with(
        &env,
        SAME_VALUES,
        &[back, s(&src), &server.storage_options_json()],
    );
    assert_eq!(same.trim(), "(1, 64, 64) True");
    let info = chunkctl_with(&env, &["info", back]);
    assert!(info.status.success(), "{}", stderr(&info));
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains("float64 (time: 400, lat: 64, lon: 64)"),
        "{text}"
    );
    assert!(text.contains("400 chunks (400 written)"), "{text}");

    // A job planned from the bucket sees its source change there: an
    // object rewritten with other bytes has another ETag.
    let plan = dir.path().join("plan.json");
    let out = chunkctl_with(
        &env,
        &[
            "rechunk",
            back,
            "s3://cli/again.zarr",
            "--chunks",
            "400,8,8",
            "--max-mem",
            "8MiB",
            "--journal",
            s(&journal),
            "--plan-out",
            s(&plan),
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    python_with(
        &env,
        r#"
import boto3
s3 = boto3.client("s3")
other = s3.get_object(Bucket="cli", Key="maps.zarr/c/1/0/0")["Body"].read()
s3.put_object(Bucket="cli", Key="maps.zarr/c/0/0/0", Body=other)
"#,
        &[],
    );
    let out = chunkctl_with(&env, &["run", s(&plan), "--stage", "1", "--shard", "0/1"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("has changed since the plan was made"),
        "{}",
        stderr(&out)
    );
    assert!(keys(&env, "cli", "again.zarr").is_empty());
    // That job is begun there: another one may not --restart over it (its
    // chunks would be left beside the new ones).
    let out = chunkctl_with(
        &env,
        &[
            "rechunk",
            back,
            "s3://cli/again.zarr",
            "--chunks",
            "200,8,8",
            "--journal",
            s(&journal),
            "--restart",
            "--quiet",
        ],
    );
    assert!(
        stderr(&out).contains("interrupted run of another job"),
        "{}",
        stderr(&out)
    );

    // The endpoint as a flag, as the AWS CLI takes it.
    let flagged: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k != "AWS_ENDPOINT_URL" && k != "AWS_ALLOW_HTTP")
        .cloned()
        .collect();
    let info = chunkctl_with(
        &flagged,
        &["info", back, "--endpoint-url", &server.endpoint()],
    );
    assert!(info.status.success(), "{}", stderr(&info));
}

/// A whole group into a bucket, killed with `kill -9` in its second array
/// and run again: the objects are byte for byte those of the same job on
/// disk, which zarr-python reads (through s3fs, consolidated); then
/// from the bucket back to disk and from bucket to bucket.
#[test]
fn a_group_into_s3_killed_and_resumed_is_the_local_one_and_zarr_python_reads_it() {
    let Some(server) = S3Server::start() else {
        return;
    };
    server.create_bucket("grp");
    let env = server.env();
    let dir = tempfile::tempdir().unwrap();
    let mut attributes = serde_json::Map::new();
    attributes.insert("title".into(), "two arrays".into());
    let group = two_array_group(dir.path(), [8, 300], &attributes);
    let job = |dst: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "rechunk",
            s(&group),
            dst,
            "--chunks",
            "time=-1,lat=8,lon=8",
            "--max-mem",
            "8MiB",
            "--threads",
            "1",
            "--quiet",
        ];
        args.extend(extra);
        args.into_iter().map(String::from).collect()
    };
    let local = dir.path().join("local.zarr");
    let out = chunkctl(
        &job(s(&local), &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let journal = dir.path().join("journal");
    let url = "s3://grp/out.zarr";
    let remote = job(url, &["--journal", s(&journal)]);
    let remote: Vec<&str> = remote.iter().map(String::as_str).collect();
    // The first array's journal is gone once it is finished: three tasks
    // journaled are the second's.
    kill_once_journaled_with(&env, &remote, &journal, 3);
    assert!(
        !keys(&env, "grp", "out.zarr/").contains(&"out.zarr/zarr.json".to_string()),
        "an interrupted group must not look finished"
    );
    // Someone else's object put under the interrupted group's prefix
    // meanwhile: the resume names it and writes nothing beside it.
    let put = |key: &str| {
        python_with(
            &env,
            "import boto3, sys; boto3.client('s3').put_object(Bucket='grp', Key=sys.argv[1], Body=b'x')",
            &[key],
        )
    };
    let remove = |key: &str| {
        python_with(
            &env,
            "import boto3, sys; boto3.client('s3').delete_object(Bucket='grp', Key=sys.argv[1])",
            &[key],
        )
    };
    for foreign in ["out.zarr/notes.txt", "out.zarr/c/elsewhere"] {
        put(foreign);
        let before = keys(&env, "grp", "out.zarr/");
        let out = chunkctl_with(&env, &remote);
        let shown = foreign
            .trim_start_matches("out.zarr/")
            .split('/')
            .next()
            .unwrap();
        assert!(
            stderr(&out).contains(&format!("holds {shown:?}, which this job did not write")),
            "{}",
            stderr(&out)
        );
        assert_eq!(keys(&env, "grp", "out.zarr/"), before);
        remove(foreign);
    }
    let out = chunkctl_with(&env, &remote);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/a: finished by an earlier run"), "{text}");
    assert!(text.contains("resumed"), "{text}");
    assert_eq!(std::fs::read_dir(&journal).unwrap().count(), 0);

    let fetched = dir.path().join("fetched");
    download(&env, "grp", "out.zarr", &fetched);
    assert_eq!(store_files(&fetched), store_files(&local));
    let same = python_with(
        &env,
        r#"
import json, sys, zarr, numpy as np
remote = zarr.open_consolidated(sys.argv[1], storage_options=json.loads(sys.argv[3]))
local = zarr.open_group(sys.argv[2], mode="r")
same = all(np.array_equal(remote[n][:], local[n][:]) for n in ("a", "b"))
print(remote.attrs["title"], remote["b"].chunks, same)
"#,
        &[url, s(&local), &server.storage_options_json()],
    );
    assert_eq!(same.trim(), "two arrays (300, 8, 8) True");

    // Run again: finished, nothing written.
    let out = chunkctl_with(&env, &remote);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("finished by an earlier run").count(),
        2,
        "{text}"
    );
    // --overwrite would have to delete it: refused, as for an array.
    let mut overwrite = remote.clone();
    overwrite.push("--overwrite");
    let out = chunkctl_with(&env, &overwrite);
    assert!(
        stderr(&out).contains("--overwrite does not delete from object storage"),
        "{}",
        stderr(&out)
    );

    // From the bucket back to disk, and from the bucket into the bucket.
    let back = dir.path().join("back.zarr");
    let out = chunkctl_with(
        &env,
        &[
            "rechunk",
            url,
            s(&back),
            "--chunks",
            "time=1,lat=64,lon=64",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["a", "b"] {
        assert_same_values(&group.join(name), &back.join(name));
    }
    let again = "s3://grp/again.zarr";
    let out = chunkctl_with(
        &env,
        &[
            "rechunk",
            url,
            again,
            "--chunks",
            "time=100,lat=32,lon=32",
            "--journal",
            s(&journal),
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let same = python_with(
        &env,
        r#"
import json, sys, zarr, numpy as np
remote = zarr.open_consolidated(sys.argv[1], storage_options=json.loads(sys.argv[3]))
local = zarr.open_group(sys.argv[2], mode="r")
same = all(np.array_equal(remote[n][:], local[n][:]) for n in ("a", "b"))
print(remote["b"].chunks, same)
"#,
        &[again, s(&local), &server.storage_options_json()],
    );
    assert_eq!(same.trim(), "(100, 32, 32) True");

    // Another group job may not write beside this one's objects, nor over
    // an interrupted run of another job.
    let other = job(again, &["--journal", s(&journal)]);
    let other: Vec<&str> = other.iter().map(String::as_str).collect();
    let out = chunkctl_with(&env, &other);
    assert!(
        stderr(&out).contains("holds the finished output of another job"),
        "{}",
        stderr(&out)
    );
    let halted = "s3://grp/halted.zarr";
    let first = job(halted, &["--journal", s(&journal)]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    kill_once_journaled_with(&env, &first, &journal, 3);
    let before = keys(&env, "grp", "halted.zarr/");
    for extra in [vec![], vec!["--restart"], vec!["--overwrite"]] {
        let mut args = vec![
            "rechunk",
            s(&group),
            halted,
            "--chunks",
            "time=50",
            "--journal",
            s(&journal),
        ];
        args.extend(extra);
        let out = chunkctl_with(&env, &args);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("interrupted run of another job"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(keys(&env, "grp", "halted.zarr/"), before);
    // Nor may an array job, with the same --journal: the group's marker
    // and lock are its own, apart from an array job's work directory.
    let out = chunkctl_with(
        &env,
        &[
            "rechunk",
            s(&group.join("a")),
            halted,
            "--chunks",
            "8,8,8",
            "--journal",
            s(&journal),
        ],
    );
    assert!(
        stderr(&out).contains("already holds objects"),
        "{}",
        stderr(&out)
    );
    assert_eq!(keys(&env, "grp", "halted.zarr/"), before);
    let marker = std::fs::read_dir(&journal)
        .unwrap()
        .flatten()
        .any(|e| e.path().join(".ndchunk-rechunk-group.json").is_file());
    assert!(marker, "the interrupted group keeps its marker");

    // Its prefix emptied by hand and filled by another job (another
    // journal): the interrupted job's marker is no claim on what is there
    // now.
    python_with(
        &env,
        r#"
import boto3
s3 = boto3.client("s3")
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="grp", Prefix="halted.zarr/"):
    for o in page.get("Contents", []):
        s3.delete_object(Bucket="grp", Key=o["Key"])
"#,
        &[],
    );
    let mut other = job(halted, &["--journal", s(&dir.path().join("other"))]);
    other[4] = "time=50".into();
    let other: Vec<&str> = other.iter().map(String::as_str).collect();
    let out = chunkctl_with(&env, &other);
    assert!(out.status.success(), "{}", stderr(&out));
    let theirs = keys(&env, "grp", "halted.zarr/");
    let out = chunkctl_with(&env, &first);
    assert!(
        stderr(&out).contains("finished output of another job"),
        "{}",
        stderr(&out)
    );
    assert_eq!(keys(&env, "grp", "halted.zarr/"), theirs);
}

/// Throttling (S3's `503 SlowDown`) is retried with backoff: a rechunk out
/// of a bucket through a proxy that sheds every third `GET` finishes, with
/// the source's values.
#[test]
fn throttled_requests_are_retried() {
    let Some(server) = S3Server::start() else {
        return;
    };
    server.create_bucket("busy");
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(
        dir.path(),
        DType::Float32,
        &[40, 32, 32],
        &[1, 32, 32],
        ZarrFormat::V3,
        "zstd:3",
    );
    let url = "s3://busy/src.zarr";
    let out = chunkctl_with(
        &server.env(),
        &[
            "rechunk",
            s(&src),
            url,
            "--chunks",
            "1,32,32",
            "--journal",
            s(&dir.path().join("journal")),
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let proxy = LatencyProxy::throttling(server.addr(), std::time::Duration::ZERO, 3);
    let back = dir.path().join("back.zarr");
    let out = chunkctl_with(
        &server.env_for(&proxy.endpoint()),
        &["rechunk", url, s(&back), "--chunks", "40,8,8", "--quiet"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(proxy.throttled() >= 10, "{} throttled", proxy.throttled());
    assert_same_values(&src, &back);
}

#[test]
fn bad_input_in_object_storage_is_refused_and_writes_nothing() {
    let Some(server) = S3Server::start() else {
        return;
    };
    server.create_bucket("bad");
    let env = server.env();
    let dir = tempfile::tempdir().unwrap();
    let (src, _, _) = slow_job(dir.path(), 4, "unused.zarr");
    let journal = dir.path().join("journal");
    let rechunk = |dst: &str, extra: &[&str], env: &[(String, String)]| {
        let mut args = vec!["rechunk", s(&src), dst, "--chunks", "4,8,8", "--quiet"];
        args.extend(extra);
        chunkctl_with(env, &args)
    };

    // No journal for a DST in a bucket.
    let out = rechunk("s3://bad/a.zarr", &[], &env);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("pass --journal DIR"),
        "{}",
        stderr(&out)
    );
    assert!(keys(&env, "bad", "a.zarr").is_empty());

    // A bucket that is not there.
    let out = rechunk(
        "s3://missing-bucket/a.zarr",
        &["--journal", s(&journal)],
        &env,
    );
    assert!(
        stderr(&out).contains("no bucket `missing-bucket`"),
        "{}",
        stderr(&out)
    );
    let out = chunkctl_with(&env, &["info", "s3://missing-bucket/a.zarr"]);
    assert!(
        stderr(&out).contains("no bucket `missing-bucket`"),
        "{}",
        stderr(&out)
    );
    // Nothing was made here for a bucket that could not be asked: a
    // journal would later pass for this job's own run in that prefix.
    assert!(std::fs::read_dir(&journal).map_or(true, |mut d| d.next().is_none()));

    // An endpoint nothing answers at.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let nowhere: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| match k.as_str() {
            "AWS_ENDPOINT_URL" => (k.clone(), format!("http://127.0.0.1:{port}")),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let out = chunkctl_with(&nowhere, &["info", "s3://bad/a.zarr"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("cannot reach http://127.0.0.1:{port}")),
        "{}",
        stderr(&out)
    );

    // A prefix holding someone else's objects is left alone, with or
    // without --overwrite.
    python_with(
        &env,
        "import boto3; boto3.client('s3').put_object(Bucket='bad', Key='theirs/notes.txt', Body=b'mine')",
        &[],
    );
    for extra in [vec![], vec!["--overwrite"]] {
        let mut args = vec!["--journal", s(&journal)];
        args.extend(extra);
        let out = rechunk("s3://bad/theirs", &args, &env);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("already holds objects"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(keys(&env, "bad", "theirs/"), ["theirs/notes.txt"]);

    // A --journal for a local DST is a mistake, said.
    let out = rechunk(
        s(&dir.path().join("local.zarr")),
        &["--journal", s(&journal)],
        &env,
    );
    assert!(
        stderr(&out).contains("--journal is for a DST in object storage"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("local.zarr").exists());
}

#[test]
fn refused_credentials_are_said_as_such() {
    let Some(server) = S3Server::start_with_auth() else {
        return;
    };
    server.create_bucket("locked");
    let good = server.env();
    let wrong: Vec<(String, String)> = good
        .iter()
        .map(|(k, v)| match k.as_str() {
            "AWS_SECRET_ACCESS_KEY" => (k.clone(), "not-the-secret".to_string()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (src, _, _) = slow_job(dir.path(), 4, "unused.zarr");
    let journal = dir.path().join("journal");
    let args = [
        "rechunk",
        s(&src),
        "s3://locked/a.zarr",
        "--chunks",
        "4,8,8",
        "--journal",
        s(&journal),
        "--quiet",
    ];
    let out = chunkctl_with(&wrong, &args);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("permission denied"), "{e}");
    assert!(e.contains("AWS_SECRET_ACCESS_KEY"), "{e}");
    assert!(keys(&good, "locked", "a.zarr").is_empty());
    // With the right ones, the same command works.
    let out = chunkctl_with(&good, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!keys(&good, "locked", "a.zarr").is_empty());
}
