//! `chunkctl submit`: a plan file's stages as the jobs of a batch system
//! that already runs on the cluster: Slurm job arrays chained by
//! `--dependency=afterok`, or one HyperQueue job whose tasks depend on
//! every task of the stage before. Each task is `chunkctl run PLAN
//! --stage S --shards N`, which takes its shard's index from the batch
//! system; memory and CPUs are the plan's (`chunkctl run
//! --print-resources`).

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;

use crate::job::plan_file::PlanStage;
use crate::job::PlanFile;

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The plan file (`chunkctl rechunk … --plan-out PLAN`).
    plan: PathBuf,
    /// Write Slurm batch scripts, one job array per stage.
    #[arg(long, conflicts_with = "hq", required_unless_present = "hq")]
    slurm: bool,
    /// Write a HyperQueue job (a Python script for the `hyperqueue`
    /// package): one task per shard, each depending on every task of the
    /// stage before.
    #[arg(long)]
    hq: bool,
    /// Shards per stage (at most the stage's tasks).
    #[arg(long, default_value_t = 4)]
    shards: u64,
    /// Slurm partition.
    #[arg(long)]
    partition: Option<String>,
    /// Where the scripts go (default: beside PLAN, in PLAN's name with
    /// `.slurm` or `.hq`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Submit them too (`sbatch`, or `python3` with the `hyperqueue`
    /// package and a running server), printing the job ids.
    #[arg(long)]
    submit: bool,
    /// HyperQueue: ask for CPUs only, not the plan's memory. For workers
    /// without a `mem` resource (`hq worker start` detects one by itself;
    /// the Python package's `LocalCluster` workers have none, and a task
    /// asking for memory there would wait forever).
    #[arg(long, requires = "hq")]
    no_memory_request: bool,
}

/// Shards of `stage` for `wanted` shards: no more than its tasks, and one
/// for the publish stage.
fn shards_of(stage: &PlanStage, wanted: u64, last: usize) -> u64 {
    if stage.stage == last {
        1
    } else {
        wanted.clamp(1, stage.tasks.max(1))
    }
}

/// A path as a shell word.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

pub fn run(args: &SubmitArgs) -> Result<(), Box<dyn Error>> {
    let plan_path = std::path::absolute(&args.plan)?;
    let plan = PlanFile::read(&plan_path)?;
    let chunkctl = std::env::current_exe()?;
    let kind = if args.slurm { "slurm" } else { "hq" };
    let out = match &args.out {
        Some(out) => std::path::absolute(out)?,
        None => plan_path.with_extension(kind),
    };
    let (src_file, _) = ndchunk_io::info::split_array_path(&plan.job.src.to_string_lossy());
    if !crate::job::places::is_url(&plan.job.src)
        && ndchunk_io::owned_paths::is_within(&out, &src_file)?
    {
        return Err(format!("{}: the scripts would be written into SRC", out.display()).into());
    }
    std::fs::create_dir_all(&out)?;
    if args.slurm {
        slurm(args, &plan, &plan_path, &chunkctl, &out)
    } else {
        hyperqueue(args, &plan, &plan_path, &chunkctl, &out)
    }
}

fn slurm(
    args: &SubmitArgs,
    plan: &PlanFile,
    plan_path: &Path,
    chunkctl: &Path,
    out: &Path,
) -> Result<(), Box<dyn Error>> {
    // `#SBATCH` lines are not shell: a path is written bare, and Slurm
    // expands `%` in it.
    let bare = out.display().to_string();
    if bare
        .chars()
        .any(|c| c.is_whitespace() || "%\"'\\#".contains(c))
    {
        return Err(format!(
            "{bare}: Slurm's #SBATCH lines cannot carry a path with spaces, quotes, `%`, `#` \
             or backslashes; choose another --out"
        )
        .into());
    }
    let last = plan.publish_stage();
    let mut scripts = Vec::new();
    for stage in &plan.stages {
        let shards = shards_of(stage, args.shards, last);
        let mut script = String::from("#!/bin/bash\n");
        writeln!(
            script,
            "# Stage {} of {last} of an ndchunk plan (`chunkctl submit --slurm`).",
            stage.stage
        )?;
        writeln!(script, "#SBATCH --job-name=ndchunk-stage-{}", stage.stage)?;
        if stage.stage != last {
            writeln!(script, "#SBATCH --array=0-{}", shards - 1)?;
        }
        writeln!(script, "#SBATCH --cpus-per-task={}", stage.cpus)?;
        writeln!(script, "#SBATCH --mem={}M", stage.memory_mib())?;
        let log = if stage.stage == last {
            format!("stage-{}.log", stage.stage)
        } else {
            format!("stage-{}-%a.log", stage.stage)
        };
        writeln!(script, "#SBATCH --output={}", out.join(log).display())?;
        if let Some(partition) = &args.partition {
            writeln!(script, "#SBATCH --partition={partition}")?;
        }
        let share = if stage.stage == last {
            String::new()
        } else {
            format!(" --shards {shards}")
        };
        writeln!(
            script,
            "exec {} run {} --stage {}{share}",
            quoted(chunkctl),
            quoted(plan_path),
            stage.stage
        )?;
        let path = out.join(format!("stage-{}.sbatch", stage.stage));
        std::fs::write(&path, script)?;
        scripts.push(path);
    }
    // The chain, as a script a person can run later.
    let mut chain = String::from("#!/bin/bash\nset -euo pipefail\n");
    for (k, script) in scripts.iter().enumerate() {
        let dependency = if k == 0 {
            String::new()
        } else {
            format!("--dependency=afterok:$job{k} ")
        };
        // `--parsable` prints `id` or `id;cluster`: the id alone.
        writeln!(
            chain,
            "job{n}=$(sbatch --parsable {dependency}{})\njob{n}=${{job{n}%%;*}}",
            quoted(script),
            n = k + 1
        )?;
        writeln!(chain, "echo \"stage {}: job $job{}\"", k + 1, k + 1)?;
    }
    let chain_path = out.join("submit.sh");
    std::fs::write(&chain_path, chain)?;
    println!(
        "Slurm scripts in {}; submit with: bash {}",
        out.display(),
        quoted(&chain_path)
    );
    if !args.submit {
        return Ok(());
    }
    let mut previous: Option<String> = None;
    for (k, script) in scripts.iter().enumerate() {
        let mut sbatch = Command::new("sbatch");
        sbatch.arg("--parsable");
        if let Some(job) = &previous {
            sbatch.arg(format!("--dependency=afterok:{job}"));
        }
        let output = sbatch
            .arg(script)
            .output()
            .map_err(|e| format!("cannot run sbatch: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "sbatch {} failed: {}",
                script.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into());
        }
        // `--parsable` prints `id` or `id;cluster`.
        let text = String::from_utf8_lossy(&output.stdout);
        let job = text
            .trim()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        println!("stage {}: Slurm job {job}", k + 1);
        previous = Some(job);
    }
    Ok(())
}

/// A Python string literal of `text`.
fn python_str(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn hyperqueue(
    args: &SubmitArgs,
    plan: &PlanFile,
    plan_path: &Path,
    chunkctl: &Path,
    out: &Path,
) -> Result<(), Box<dyn Error>> {
    let last = plan.publish_stage();
    let mut script = String::new();
    writeln!(
        script,
        "\"\"\"HyperQueue job of an ndchunk plan (PLAN below)."
    )?;
    writeln!(script)?;
    writeln!(
        script,
        "Made by `chunkctl submit --hq`. `python3 THIS [SERVER_DIR]` submits it to a"
    )?;
    writeln!(
        script,
        "running HyperQueue server (the `hyperqueue` package); `build()` gives the"
    )?;
    writeln!(
        script,
        "job, one task per shard, each depending on every task of the stage before."
    )?;
    writeln!(script, "\"\"\"")?;
    writeln!(script, "import sys\n\nfrom hyperqueue import Client, Job")?;
    writeln!(
        script,
        "from hyperqueue.ffi.protocol import ResourceRequest\n"
    )?;
    writeln!(
        script,
        "CHUNKCTL = {}",
        python_str(&chunkctl.display().to_string())
    )?;
    writeln!(
        script,
        "PLAN = {}",
        python_str(&plan_path.display().to_string())
    )?;
    writeln!(script, "LOGS = {}", python_str(&out.display().to_string()))?;
    writeln!(
        script,
        "# Ask for each stage's memory as HyperQueue's `mem` resource (MiB), which"
    )?;
    writeln!(
        script,
        "# `hq worker start` detects; False for workers without one."
    )?;
    writeln!(
        script,
        "REQUEST_MEMORY = {}",
        if args.no_memory_request {
            "False"
        } else {
            "True"
        }
    )?;
    writeln!(
        script,
        "# (stage, shards, cpus, memory in MiB: `chunkctl run --print-resources`)"
    )?;
    write!(script, "STAGES = [")?;
    for stage in &plan.stages {
        let shards = shards_of(stage, args.shards, last);
        write!(
            script,
            "({}, {shards}, {}, {}), ",
            stage.stage,
            stage.cpus,
            stage.memory_mib()
        )?;
    }
    writeln!(script, "]\n")?;
    script.push_str(HQ_BODY);
    let path = out.join("job.py");
    std::fs::write(&path, script)?;
    println!(
        "HyperQueue job in {}; submit with: python3 {}",
        out.display(),
        quoted(&path)
    );
    if args.submit {
        let status = Command::new("python3")
            .arg(&path)
            .status()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        if !status.success() {
            return Err(format!("submitting {} failed ({status})", path.display()).into());
        }
    }
    Ok(())
}

/// The generated HyperQueue script's code.
const HQ_BODY: &str = r#"
def build():
    job = Job()
    before = []
    for stage, shards, cpus, memory in STAGES:
        tasks = []
        request = {"mem": memory} if REQUEST_MEMORY else {}
        for index in range(shards):
            tasks.append(
                job.program(
                    [CHUNKCTL, "run", PLAN, "--stage", str(stage), "--shard", f"{index}/{shards}"],
                    deps=before,
                    resources=ResourceRequest(cpus=cpus, resources=dict(request)),
                    stdout=f"{LOGS}/stage-{stage}-{index}.log",
                    stderr=f"{LOGS}/stage-{stage}-{index}.err",
                )
            )
        before = tasks
    return job


if __name__ == "__main__":
    client = Client(sys.argv[1] if len(sys.argv) > 1 else None)
    submitted = client.submit(build())
    print(f"HyperQueue job {submitted.id}")
"#;
