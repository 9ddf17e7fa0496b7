//! The plan as text, polars-`explain`-style: one paragraph per stage, the
//! fused operations, tasks and projected bytes per task.

use std::fmt;

use super::{Plan, StageKind};
use ndchunk_chunking::format_bytes;

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.stages.len();
        writeln!(f, "PLAN: {n} stage{}", if n == 1 { "" } else { "s" })?;
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
            }
            writeln!(f, "    fused: {}", stage.fused.join(" -> "))?;
        }
        Ok(())
    }
}
