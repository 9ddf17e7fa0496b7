//! The plan as text, polars-`explain`-style: one paragraph per stage, the
//! fused operations, tasks and projected bytes per task.

use std::fmt;

use super::{Plan, StageKind};

/// Bytes in binary units, as a human reads a budget.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

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
                    human_bytes(stage.task_bytes)
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
                    human_bytes(stage.task_bytes),
                    human_bytes(*held_bytes),
                )?,
            }
            writeln!(f, "    fused: {}", stage.fused.join(" -> "))?;
        }
        Ok(())
    }
}
