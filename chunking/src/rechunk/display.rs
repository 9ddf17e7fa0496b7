//! The human-readable form of a plan (`chunkctl rechunk --dry-run`).

use std::fmt;

use super::{ArrayRef, RechunkPlan, Strategy};
use crate::bytesize::format_bytes;
use crate::grid::ChunkGrid;

/// The chunk shape of a grid, marked when irregular.
fn shape_of(grid: &ChunkGrid) -> String {
    let dims: Vec<String> = grid.chunk_shape().iter().map(u64::to_string).collect();
    let irregular = if grid.is_regular() {
        ""
    } else {
        " (irregular, largest)"
    };
    format!("({}){irregular}", dims.join(", "))
}

fn name(array: ArrayRef) -> String {
    match array {
        ArrayRef::Source => "source".into(),
        ArrayRef::Intermediate(k) => format!("intermediate {}", k + 1),
        ArrayRef::Target => "target".into(),
    }
}

fn strategy(s: Strategy) -> String {
    match s {
        Strategy::Direct => "direct (no intermediate store)".into(),
        Strategy::Intermediate { stages: 1 } => "through 1 intermediate store".into(),
        Strategy::Intermediate { stages } => format!("through {stages} intermediate stores"),
    }
}

impl fmt::Display for RechunkPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape: Vec<String> = self.source.shape().iter().map(u64::to_string).collect();
        let total = self.passes.first().map(|p| p.write_bytes).unwrap_or(0);
        writeln!(
            f,
            "rechunk ({}) x {} B = {}: chunks {} -> {}",
            shape.join(", "),
            self.itemsize,
            format_bytes(total),
            shape_of(&self.source),
            shape_of(&self.target)
        )?;
        writeln!(
            f,
            "strategy: {} (projected cost {:.3e})",
            strategy(self.strategy),
            self.cost
        )?;
        for (s, cost) in &self.candidates {
            if *s != self.strategy {
                writeln!(
                    f,
                    "  rejected: {} (projected cost {cost:.3e})",
                    strategy(*s)
                )?;
            }
        }
        for (k, stage) in self.stages.iter().enumerate() {
            write!(f, "stage {}: read blocks {}", k + 1, shape_of(&stage.read))?;
            if let Some(int) = &stage.intermediate {
                write!(
                    f,
                    ", intermediate chunks {} ({} chunks)",
                    shape_of(int),
                    int.num_blocks()
                )?;
            }
            writeln!(
                f,
                ", write blocks {}; {} reads, {} writes, {} per task",
                shape_of(&stage.write),
                stage.reads,
                stage.writes,
                format_bytes(stage.task_peak_bytes)
            )?;
        }
        for (k, pass) in self.passes.iter().enumerate() {
            writeln!(
                f,
                "pass {}: {} -> {}: {} tasks over blocks {}, {} reads ({} decoded{}), {} writes, {} per task",
                k + 1,
                name(pass.input),
                name(pass.output),
                pass.tasks(),
                shape_of(&pass.blocks),
                pass.reads,
                format_bytes(pass.read_bytes),
                if pass.aligned { "" } else { ", chunks re-read" },
                pass.writes,
                format_bytes(pass.task_peak_bytes)
            )?;
        }
        if self.intermediate_bytes > 0 {
            writeln!(
                f,
                "intermediate store: up to {} (decoded)",
                format_bytes(self.intermediate_bytes)
            )?;
        }
        write!(
            f,
            "projected peak: {} tasks x {} = {} of max_mem {}",
            self.concurrency,
            format_bytes(self.task_peak_bytes),
            format_bytes(self.peak_bytes),
            format_bytes(self.max_mem)
        )
    }
}
