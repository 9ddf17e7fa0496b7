//! Timing a contender in its own process under GNU time (wall, CPU,
//! peak RSS): shared by the workload benches through `#[path]`.

#![allow(dead_code)] // each bench uses its own part of this module

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// One contender's measurements.
pub struct Row {
    pub name: String,
    pub wall: f64,
    pub cpu: Option<f64>,
    pub rss: Option<u64>,
    /// What the contender printed on stdout.
    pub output: String,
}

/// Writes back what the previous row left dirty in the page cache, so
/// that its writeback is not billed to the next row.
pub fn settle() {
    let _ = Command::new("sync").status();
}

/// Runs a command under GNU time.
pub fn timed(name: &str, command: &mut Command) -> Row {
    timed_within(name, command, None).expect("no time limit")
}

/// Runs a command under GNU time, stopped after `limit` seconds if given
/// (`None` then, said on stdout): for peers that may take very long.
pub fn timed_within(name: &str, command: &mut Command, limit: Option<u64>) -> Option<Row> {
    let report = tempfile::NamedTempFile::new().unwrap();
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
    settle();
    let t = Instant::now();
    let mut time = Command::new("/usr/bin/time");
    time.args(["-f", "%e %U %S %M", "-o"]).arg(report.path());
    if let Some(limit) = limit {
        time.args(["timeout", &limit.to_string()]);
    }
    let run = time
        .arg(program)
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap();
    let wall = t.elapsed().as_secs_f64();
    // GNU timeout's status when it stopped the command.
    if limit.is_some() && run.status.code() == Some(124) {
        println!(
            "{name}: did not finish within {} s, stopped",
            limit.unwrap_or(0)
        );
        return None;
    }
    assert!(run.status.success(), "{name} failed");
    let (cpu, rss) = cpu_and_rss(report.path());
    Some(Row {
        name: name.into(),
        wall,
        cpu,
        rss,
        output: String::from_utf8_lossy(&run.stdout).into_owned(),
    })
}

/// The rows as a table, each against the first.
pub fn print_rows(rows: &[Row]) {
    let Some(first) = rows.first() else { return };
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(8);
    println!(
        "{:<width$} {:>8} {:>8} {:>10} {:>12}",
        "", "wall s", "CPU s", "peak RSS", "vs first"
    );
    for r in rows {
        println!(
            "{:<width$} {:>8.2} {:>8} {:>10} {:>11.2}x",
            r.name,
            r.wall,
            r.cpu.map_or("-".into(), |c| format!("{c:.1}")),
            r.rss
                .map_or("-".into(), |b| format!("{:.2} GB", b as f64 / 1e9)),
            r.wall / first.wall
        );
    }
}

/// The CPU seconds (user + system) and peak RSS bytes of GNU time's
/// report `-f "%e %U %S %M"` at `path`.
pub fn cpu_and_rss(path: &Path) -> (Option<f64>, Option<u64>) {
    let text = std::fs::read_to_string(path).unwrap();
    let f: Vec<f64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    (
        f.get(1).zip(f.get(2)).map(|(u, s)| u + s),
        f.get(3).map(|kb| (*kb as u64) * 1024),
    )
}
