//! A plan's shard stages: the parts of a run that separate processes
//! (on one machine, or as the tasks of a Slurm or HyperQueue job array)
//! can share. A shard stage's tasks are dealt out by index (task `t` to shard
//! `t mod count`), so any process can tell its share from the plan alone;
//! the shard stages run one after the other.
//!
//! Only a plan whose results between shard stages live on disk can be split
//! across processes: today, a plan of one stage writing the caller's
//! stores: a rechunk (each pass a shard stage; its intermediates live in the
//! run's journal directory), one blocks stage, or one reduction (one shard
//! stage each; a reduction's output blocks are dealt out whole). A plan that
//! keeps a result in memory for a later stage (a reduction read by
//! another operation) runs in one process.

use serde::{Deserialize, Serialize};

use super::{Plan, Residence, StageKind};
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
    /// [`ComputeOptions::shard`](crate::ComputeOptions::shard)), or, for a
    /// plan that keeps results in memory between its stages, an error
    /// saying so.
    pub fn shard_stages(&self) -> Result<Vec<ShardStage>> {
        let [stage] = self.stages() else {
            return Err(not_shardable(format!(
                "the plan has {} stages whose results pass through memory; \
                 only a plan of one stage writing its stores (a rechunk, or blockwise \
                 operations) runs as shards",
                self.stages().len()
            )));
        };
        if stage.residence != Residence::Sink {
            return Err(not_shardable(format!(
                "stage `{}` keeps its result in memory",
                stage.operation()
            )));
        }
        let name = stage.operation();
        match &stage.kind {
            StageKind::Blocks => Ok(vec![ShardStage {
                description: format!("blocks of {name}"),
                tasks: stage.tasks,
                task_bytes: stage.task_bytes,
            }]),
            StageKind::Rechunk { plan, pass_bytes } => Ok(plan
                .passes
                .iter()
                .zip(pass_bytes)
                .enumerate()
                .map(|(k, (pass, &task_bytes))| ShardStage {
                    description: format!("pass {}/{} of {name}", k + 1, plan.passes.len()),
                    tasks: pass.tasks(),
                    task_bytes,
                })
                .collect()),
            // A reduction's output block is made whole by one shard: its
            // leaves and its tree, in the same order as in one run.
            StageKind::Reduce { .. } => Ok(vec![ShardStage {
                description: format!("reduction {name}"),
                tasks: stage.grid().num_blocks(),
                task_bytes: stage.task_bytes,
            }]),
        }
    }
}

fn not_shardable(message: String) -> Error {
    Error::Invalid {
        operation: "shard".into(),
        message: format!("this plan cannot run as shards: {message}"),
    }
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

impl Plan {
    /// The journal logs of the plan's shard stages, in order (a plan that
    /// [`Plan::shard_stages`] accepts).
    pub(crate) fn shard_stage_logs(&self) -> Vec<String> {
        match self.stages().first().map(|s| &s.kind) {
            Some(StageKind::Blocks) => vec![blocks_log(0)],
            Some(StageKind::Reduce { .. }) => vec![reduce_log(0)],
            Some(StageKind::Rechunk { plan, .. }) => {
                (0..plan.passes.len()).map(|k| pass_log(0, k)).collect()
            }
            None => Vec::new(),
        }
    }
}
