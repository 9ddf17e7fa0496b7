//! A plan's shard stages: the parts of a run that separate processes
//! (on one machine, or as the tasks of a Slurm or HyperQueue job array)
//! can share. Every stage of the plan is a shard stage, in plan order (a
//! rechunk's passes one each, their intermediates in the run's journal
//! directory; a reduction's output blocks are dealt out whole, each with
//! its leaves and tree). A shard stage's tasks are dealt out by index (task
//! `t` to shard `t mod count`), so any process can tell its share from the
//! plan alone; the shard stages run one after the other.
//!
//! A result kept for later stages (a mean an anomaly subtracts) lives, when
//! the plan runs as shards, in the journal directory (`scratch-stage-{i}-result`),
//! each shard writing the whole blocks of its own tasks there. A shard of
//! a later stage starts only once every task of every earlier shard stage
//! is journaled done, and reads those results from disk, region by region,
//! instead of computing them again.

use serde::{Deserialize, Serialize};

use super::{Plan, StageKind};
use crate::error::{Error, Result};

/// One shard stage of a plan: a part of the run that shards share, after
/// the shard stage before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ShardStage {
    /// What it does, e.g. `pass 1/2 of rechunk`.
    pub description: String,
    /// Its tasks, dealt out by index: task `t` belongs to shard
    /// `t mod count`. (A reduction's are its output blocks, each with
    /// every leaf and combine that makes it.)
    pub tasks: u64,
    /// Projected peak bytes of one task.
    pub task_bytes: u64,
}

impl Plan {
    /// The plan's shard stages (see
    /// [`ComputeOptions::shard`](crate::ComputeOptions::shard)): each
    /// stage's, in plan order, a rechunk's one per pass.
    pub fn shard_stages(&self) -> Vec<ShardStage> {
        self.shard_parts()
            .into_iter()
            .map(|part| {
                let stage = &self.stages()[part.stage];
                let name = stage.operation();
                match (&stage.kind, part.pass) {
                    (StageKind::Rechunk { plan, pass_bytes }, Some(k)) => ShardStage {
                        description: format!("pass {}/{} of {name}", k + 1, plan.passes.len()),
                        tasks: plan.passes[k].tasks(),
                        task_bytes: pass_bytes[k],
                    },
                    // A reduction's output block is made whole by one
                    // shard: its leaves and its tree, in the same order as
                    // in one run.
                    (StageKind::Reduce { .. }, _) => ShardStage {
                        description: format!("reduction {name}"),
                        tasks: stage.grid().num_blocks(),
                        task_bytes: stage.task_bytes,
                    },
                    _ => ShardStage {
                        description: format!("blocks of {name}"),
                        tasks: stage.tasks,
                        task_bytes: stage.task_bytes,
                    },
                }
            })
            .collect()
    }

    /// The plan's shard stages as the executor runs them, in order.
    pub(crate) fn shard_parts(&self) -> Vec<Part> {
        let mut parts = Vec::new();
        for (index, stage) in self.stages().iter().enumerate() {
            match &stage.kind {
                StageKind::Blocks => parts.push(Part {
                    stage: index,
                    pass: None,
                    log: blocks_log(index),
                }),
                StageKind::Reduce { .. } => parts.push(Part {
                    stage: index,
                    pass: None,
                    log: reduce_log(index),
                }),
                StageKind::Rechunk { plan, .. } => {
                    parts.extend((0..plan.passes.len()).map(|k| Part {
                        stage: index,
                        pass: Some(k),
                        log: pass_log(index, k),
                    }))
                }
            }
        }
        parts
    }

    /// The journal logs of the plan's shard stages, in order.
    pub(crate) fn shard_stage_logs(&self) -> Vec<String> {
        self.shard_parts()
            .into_iter()
            .map(|part| part.log)
            .collect()
    }
}

/// One shard stage as the executor runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// The plan's stage (from 0).
    pub(crate) stage: usize,
    /// For a rechunk, its pass (from 0).
    pub(crate) pass: Option<usize>,
    /// The journal log of its tasks.
    pub(crate) log: String,
}

/// Which share of which shard stage a run does: tasks `t` of shard stage `stage`
/// (1-based) with `t % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) stage: usize,
    pub(crate) index: u64,
    pub(crate) count: u64,
}

impl Shard {
    /// Refuses a shard outside the plan's `stages` shard stages.
    pub(crate) fn check(&self, stages: usize) -> Result<()> {
        let invalid = |message: String| Error::Invalid {
            operation: "shard".into(),
            message,
        };
        if self.count == 0 {
            return Err(invalid("the number of shards must be at least 1".into()));
        }
        if self.index >= self.count {
            return Err(invalid(format!(
                "shard index {} is out of range: shards of {} are numbered 0 to {}",
                self.index,
                self.count,
                self.count - 1
            )));
        }
        if self.stage == 0 || self.stage > stages {
            return Err(invalid(format!(
                "stage {} does not exist: the plan has stages 1 to {stages}",
                self.stage
            )));
        }
        Ok(())
    }

    /// Whether task `task` of the shard stage is this shard's.
    pub(crate) fn takes(&self, task: u64) -> bool {
        task % self.count == self.index
    }

    /// How many of a shard stage's `tasks` are this shard's.
    pub(crate) fn share(&self, tasks: u64) -> u64 {
        tasks / self.count + u64::from(self.index < tasks % self.count)
    }

    /// The journal log of this shard's part of the shard stage whose log is `log`.
    pub(crate) fn log(&self, log: &str) -> String {
        format!("{log}{}", shard_suffix(self.index, self.count))
    }
}

/// What a shard's log adds to its shard stage's.
pub(crate) fn shard_suffix(index: u64, count: u64) -> String {
    format!("-shard-{index}-of-{count}")
}

/// The journal log of stage `index`'s blocks.
pub(crate) fn blocks_log(index: usize) -> String {
    format!("stage-{index}-blocks")
}

/// The journal log of reduction stage `index`'s output blocks.
pub(crate) fn reduce_log(index: usize) -> String {
    format!("stage-{index}-reduce")
}

/// The journal log of pass `k` of rechunk stage `index`.
pub(crate) fn pass_log(index: usize, k: usize) -> String {
    format!("stage-{index}-pass-{k}")
}

/// The journal's scratch array of the result stage `index` keeps for later
/// stages, when the plan runs as shards.
pub(crate) fn result_scratch(index: usize) -> String {
    format!("stage-{index}-result")
}
