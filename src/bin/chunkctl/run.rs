//! `chunkctl run`: one shard of one stage of a plan file made by
//! `chunkctl rechunk --plan-out`, as one task of a cluster job array.

use std::error::Error;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::job::{PlanFile, ShardOf};
use crate::rechunk::{peak_rss_bytes, summary};
use ndchunk::chunking::format_bytes;

/// Where batch systems put the index of a job array's task, in the order
/// they are looked for.
pub const INDEX_VARIABLES: [&str; 3] =
    ["SLURM_ARRAY_TASK_ID", "HQ_TASK_ID", "JOB_COMPLETION_INDEX"];

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plan file (`chunkctl rechunk … --plan-out PLAN`).
    plan: PathBuf,
    /// The stage to run, from 1; each stage starts once every shard of the
    /// stage before it has finished. The last stage publishes DST.
    #[arg(long)]
    stage: usize,
    /// This process's share of the stage: shard I of N (from 0), e.g.
    /// `0/4`. Without it, `--shards N` takes I from the job array's index
    /// (`SLURM_ARRAY_TASK_ID`, `HQ_TASK_ID` or `JOB_COMPLETION_INDEX`);
    /// without either, the whole stage.
    #[arg(long, value_name = "I/N", conflicts_with = "shards")]
    shard: Option<String>,
    /// The number of shards of the stage, this one's index taken from the
    /// environment (see --shard).
    #[arg(long, value_name = "N")]
    shards: Option<u64>,
    /// Print the CPUs and memory one shard of the stage needs (from the
    /// plan's projected peak), and run nothing.
    #[arg(long)]
    print_resources: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// The shard asked for, on the command line or by the environment.
fn shard_of(args: &RunArgs) -> Result<(u64, u64), Box<dyn Error>> {
    if let Some(text) = &args.shard {
        let parsed = text
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        return parsed.ok_or_else(|| format!("--shard `{text}`: expected I/N, e.g. 0/4").into());
    }
    let count = match args.shards {
        None | Some(1) => return Ok((0, args.shards.unwrap_or(1))),
        Some(count) => count,
    };
    for variable in INDEX_VARIABLES {
        if let Ok(value) = std::env::var(variable) {
            let index = value
                .trim()
                .parse()
                .map_err(|_| format!("{variable}=`{value}` is not a shard index"))?;
            return Ok((index, count));
        }
    }
    Err(format!(
        "--shards {count} takes this shard's index from {}, and none is set: pass --shard I/{count}",
        INDEX_VARIABLES.join(", ")
    )
    .into())
}

pub fn run(args: &RunArgs) -> Result<(), Box<dyn Error>> {
    let plan = PlanFile::read(&args.plan)?;
    let (index, count) = shard_of(args)?;
    let last = plan.publish_stage();
    let Some(stage) = plan.stages.iter().find(|s| s.stage == args.stage) else {
        return Err(format!(
            "{}: stage {} does not exist: the plan has stages 1 to {last}",
            args.plan.display(),
            args.stage
        )
        .into());
    };
    if count == 0 || index >= count {
        return Err(format!(
            "shard {index}/{count} is out of range: shards of {count} are numbered 0 to {}",
            count.saturating_sub(1)
        )
        .into());
    }
    if args.print_resources {
        if args.json {
            println!(
                "{}",
                json!({"stage": stage.stage, "cpus": stage.cpus, "memory_bytes": stage.memory_bytes})
            );
        } else {
            let mib = stage.memory_mib();
            println!("stage {}: {}", stage.stage, stage.does);
            println!("cpus: {}", stage.cpus);
            println!("memory: {} ({mib} MiB)", format_bytes(stage.memory_bytes));
            println!("slurm: --cpus-per-task={} --mem={mib}M", stage.cpus);
            println!("hyperqueue: --cpus={} --resource mem={mib}", stage.cpus);
        }
        return Ok(());
    }
    let mut job = plan.job.to_job()?;
    job.progress = false;
    let prepared = job.prepare()?;
    prepared.check_plan(&plan, &args.plan)?;
    if args.stage == last {
        if count != 1 {
            return Err(format!("stage {last} publishes DST: it runs as one shard (0/1)").into());
        }
        let outcome = prepared.publish()?;
        if args.json {
            let mut out = serde_json::to_value(&outcome)?;
            out["peak_rss_bytes"] = json!(peak_rss_bytes());
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            let src = plan.job.src.display().to_string();
            println!(
                "{}",
                summary(&src, &outcome, peak_rss_bytes(), plan.job.max_mem)
            );
        }
        return Ok(());
    }
    let report = prepared.run_shard(ShardOf {
        stage: args.stage,
        index,
        count,
    })?;
    let rss = peak_rss_bytes();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "stage": args.stage,
                "shard": index,
                "shards": count,
                "report": report,
                "peak_rss_bytes": rss,
            }))?
        );
    } else {
        println!(
            "stage {}/{last} ({}), shard {index}/{count}: {} tasks run, {} found done, in {:.2} s; \
             executor accounting peak {}; peak RSS {} (budget {})",
            args.stage,
            stage.does,
            report.tasks_run,
            report.tasks_resumed,
            report.seconds,
            format_bytes(report.peak_bytes),
            rss.map_or("unknown".into(), format_bytes),
            format_bytes(plan.job.max_mem),
        );
    }
    Ok(())
}
