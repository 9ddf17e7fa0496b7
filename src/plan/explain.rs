//! The plan as text, polars-`explain`-style: one paragraph per stage, the
//! fused operations, tasks and projected bytes per task.

use std::fmt;

use super::shared_reads::group_of;
use super::{Plan, Residence, StageKind};
use ndchunk_chunking::format_bytes;
use ndchunk_chunking::rechunk::ArrayRef;

/// A pass's input or output, as `explain` names it.
fn pass_name(array: ArrayRef) -> String {
    match array {
        ArrayRef::Source => "input".into(),
        ArrayRef::Intermediate(k) => format!("intermediate {} (disk)", k + 1),
        ArrayRef::Target => "new chunks".into(),
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.stages.len();
        writeln!(f, "PLAN: {n} stage{}", if n == 1 { "" } else { "s" })?;
        // A run of several outputs says which stage makes which.
        let several = self.stages.iter().map(|s| s.outputs.len()).sum::<usize>() > 1;
        for (i, stage) in self.stages.iter().enumerate() {
            let node = &stage.node;
            let grid = node.grid();
            writeln!(
                f,
                "  STAGE {}/{n}: {} -> shape {:?} {} in {} blocks of up to {:?}",
                i + 1,
                node.name(),
                grid.shape(),
                node.block_type().dtype().name(),
                grid.num_blocks(),
                grid.axes()
                    .iter()
                    .map(|a| a.max_chunk())
                    .collect::<Vec<_>>(),
            )?;
            match &stage.kind {
                StageKind::Blocks => writeln!(
                    f,
                    "    tasks: {} (one per output block), {} per task",
                    stage.tasks,
                    format_bytes(stage.task_bytes)
                )?,
                StageKind::Reduce {
                    leaves_per_block,
                    split_every,
                    depth,
                    held_bytes,
                    ..
                } => writeln!(
                    f,
                    "    tasks: {} ({leaves_per_block} per output block, each folding up to {split_every} input blocks), {} per task; tree: split_every {split_every}, depth {depth}, up to {} of partials held",
                    stage.tasks,
                    format_bytes(stage.task_bytes),
                    format_bytes(*held_bytes),
                )?,
                StageKind::Rechunk { plan, pass_bytes } => {
                    writeln!(
                        f,
                        "    tasks: {} in {} pass{} (rechunk planner), up to {} per task",
                        stage.tasks,
                        plan.passes.len(),
                        if plan.passes.len() == 1 { "" } else { "es" },
                        format_bytes(stage.task_bytes)
                    )?;
                    for (k, (pass, bytes)) in plan.passes.iter().zip(pass_bytes).enumerate() {
                        writeln!(
                            f,
                            "      pass {}: {} -> {}: {} tasks over blocks of up to {:?}, {} per task; {} chunk reads ({}), {} chunk writes",
                            k + 1,
                            pass_name(pass.input),
                            pass_name(pass.output),
                            pass.tasks(),
                            pass.blocks.chunk_shape(),
                            format_bytes(*bytes),
                            pass.reads,
                            format_bytes(pass.read_bytes),
                            pass.writes,
                        )?;
                    }
                }
            }
            writeln!(f, "    fused: {}", stage.fused.join(" -> "))?;
            if stage.joint {
                let group = group_of(&self.stages, i);
                let names: Vec<String> =
                    stage.shares.iter().map(|s| s.name().to_string()).collect();
                writeln!(
                    f,
                    "    runs with stage{} {}: each chunk of {} read once for {} stages",
                    if i - group.start == 1 { "" } else { "s" },
                    (group.start..i)
                        .map(|k| (k + 1).to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    names.join(", "),
                    group.len(),
                )?;
            }
            if stage.cache_bytes > 0 {
                writeln!(
                    f,
                    "    cache: {} of blocks kept for other tasks that read them (counted in max_mem)",
                    format_bytes(stage.cache_bytes)
                )?;
            }
            let freed = stage
                .freed_after
                .map_or(String::new(), |j| format!(", freed after stage {}", j + 1));
            match stage.residence {
                Residence::Sink if several => {
                    let outputs: Vec<String> =
                        stage.outputs.iter().map(|o| o.index.to_string()).collect();
                    writeln!(f, "    result: to output {}", outputs.join(", "))?
                }
                Residence::Sink => writeln!(f, "    result: to the output")?,
                Residence::Memory { bytes } => writeln!(
                    f,
                    "    result: kept in memory ({}, counted in max_mem){freed}",
                    format_bytes(bytes)
                )?,
                Residence::Spilled { bytes } => writeln!(
                    f,
                    "    result: spilled to disk ({}, beyond what max_mem can keep){freed}",
                    format_bytes(bytes)
                )?,
            }
        }
        Ok(())
    }
}
