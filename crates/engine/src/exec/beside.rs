//! Work beside a walk: `up`'s one-off steps start the moment the nodes they need are
//! ready, while the rest of the graph (OpenSearch's 15 minutes) goes on being built.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use tokio::sync::watch;

use super::run::{Run, lock};
use crate::resource::NodeId;
use crate::state::{Recorded, StateError, StepLog};

/// How far a walk is, for the work beside it.
#[derive(Debug, Clone, Default)]
pub(super) struct WalkProgress {
    /// Nodes this walk finished (created, updated or found as wanted, and ready).
    pub(super) ready: BTreeSet<NodeId>,
    /// The walk stopped starting work (a failure, an interrupt) or ended.
    pub(super) over: bool,
}

/// What work beside a walk sees of it: which nodes are ready, and the state file to
/// record its own results in (the walk holds the lock).
pub struct Beside<'r, 's> {
    pub(super) run: &'r Mutex<Run<'s>>,
    pub(super) progress: watch::Receiver<WalkProgress>,
}

impl Beside<'_, '_> {
    /// Wait until every node of `needs` is ready in this walk, then what the state file
    /// records of every node. `None` when the walk stops or ends first: a failure or an
    /// interrupt, or a node the walk does not reconcile.
    pub async fn ready(&self, needs: &[NodeId]) -> Option<BTreeMap<NodeId, Recorded>> {
        let all_ready = |p: &WalkProgress| needs.iter().all(|n| p.ready.contains(n));
        let mut progress = self.progress.clone();
        let seen = progress.wait_for(|p| p.over || all_ready(p)).await.ok()?;
        if !all_ready(&seen) {
            return None;
        }
        drop(seen);
        Some(lock(self.run).recorded.clone())
    }
}

impl Beside<'_, '_> {
    /// What a step applied, saved in the state file the walk holds.
    pub fn record_step(&self, step: &str, applied: String) -> Result<(), StateError> {
        match lock(self.run).locked.as_deref_mut() {
            Some(locked) => locked.record_step(step, applied),
            None => Ok(()),
        }
    }
}

impl StepLog for &Beside<'_, '_> {
    fn record_step(&mut self, step: &str, applied: String) -> Result<(), StateError> {
        Beside::record_step(self, step, applied)
    }
}
