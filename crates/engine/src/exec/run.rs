//! What a walk shares between its nodes, and the state file's updates it makes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{Engine, Planned};
use crate::ResourceError;
use crate::event::EventKind;
use crate::graph::Node;
use crate::resource::{Cx, Inputs, NodeId, Observed, Tags, ownership_tags};
use crate::state::{LockedState, Phase, Recorded};

/// The state a walk shares between its nodes. Only touched between awaits.
pub(super) struct Run<'s> {
    pub(super) outputs: BTreeMap<NodeId, BTreeMap<String, String>>,
    pub(super) recorded: BTreeMap<NodeId, Recorded>,
    pub(super) locked: Option<&'s mut LockedState>,
    pub(super) planned: BTreeMap<NodeId, Planned>,
    /// `plan`'s reads, made before its walk.
    pub(super) looks: BTreeMap<usize, Result<FirstLook, ResourceError>>,
}

impl<'s> Run<'s> {
    pub(super) fn new(recorded: BTreeMap<NodeId, Recorded>, locked: Option<&'s mut LockedState>) -> Self {
        Run { outputs: BTreeMap::new(), recorded, locked, planned: BTreeMap::new(), looks: BTreeMap::new() }
    }
}

impl Engine<'_> {
    /// What a node's methods get: its dependencies' outputs, its recorded id, its tags.
    pub(super) fn prepare(&self, i: usize, run: &Mutex<Run<'_>>) -> Prepared {
        let guard = lock(run);
        let mut inputs = Inputs::default();
        for d in self.graph.deps_of(i) {
            let id = &self.graph.node(d).id;
            if let Some(o) = guard.outputs.get(id) {
                inputs.insert(id, o.clone());
            }
        }
        let node = self.graph.node(i);
        let recorded = guard.recorded.get(&node.id);
        let (recorded_id, recorded_phase) = (recorded.map(|r| r.id.clone()), recorded.map(|r| r.phase));
        let tags = ownership_tags(&self.opts.project, &node.id, &node.name, &self.opts.extra_tags);
        Prepared { inputs, recorded_id, recorded_phase, tags }
    }

    pub(super) fn record(
        &self,
        run: &Mutex<Run<'_>>,
        node: &Node,
        o: &Observed,
        phase: Phase,
    ) -> Result<(), ResourceError> {
        let rec = Recorded { kind: node.resource.kind().into(), id: o.id.clone(), phase, outputs: o.outputs.clone() };
        let mut guard = lock(run);
        guard.outputs.insert(node.id.clone(), o.outputs.clone());
        if guard.recorded.get(&node.id) == Some(&rec) {
            return Ok(());
        }
        guard.recorded.insert(node.id.clone(), rec.clone());
        if let Some(locked) = guard.locked.as_deref_mut() {
            locked.record_node(&node.id, rec).map_err(|e| ResourceError::fatal(e.to_string()))?;
            self.emit(EventKind::StateSaved);
        }
        Ok(())
    }

    /// What a node's dependents read of it, before it is recorded (a resource found
    /// still being made, whose identity-only dependents may start).
    pub(super) fn share_outputs(&self, run: &Mutex<Run<'_>>, node: &Node, o: &Observed) {
        lock(run).outputs.insert(node.id.clone(), o.outputs.clone());
    }

    pub(super) fn forget(&self, run: &Mutex<Run<'_>>, node: &Node) -> Result<(), ResourceError> {
        let mut guard = lock(run);
        if guard.recorded.remove(&node.id).is_none() {
            return Ok(());
        }
        if let Some(locked) = guard.locked.as_deref_mut() {
            locked.forget_node(&node.id).map_err(|e| ResourceError::fatal(e.to_string()))?;
            self.emit(EventKind::StateSaved);
        }
        Ok(())
    }
}

/// What a first read found, and every resource claiming the node when there are several.
pub(super) type FirstLook = (Option<Observed>, Vec<String>);

pub(super) struct Prepared {
    pub(super) inputs: Inputs,
    pub(super) recorded_id: Option<String>,
    pub(super) recorded_phase: Option<Phase>,
    pub(super) tags: Tags,
}

impl Prepared {
    pub(super) fn cx<'a>(&'a self, node: &'a Node, project: &'a str) -> Cx<'a> {
        Cx {
            node: &node.id,
            project,
            recorded_id: self.recorded_id.as_deref(),
            inputs: &self.inputs,
            tags: &self.tags,
            may_read_from_listing: false,
            follow_id: false,
        }
    }
}

/// The context for reading `id` alone (see [`Cx::follow_id`]).
pub(super) fn following<'c>(cx: &Cx<'c>, id: &'c str) -> Cx<'c> {
    Cx { recorded_id: Some(id), follow_id: true, may_read_from_listing: false, ..*cx }
}

pub(super) fn lock<'m, 's>(run: &'m Mutex<Run<'s>>) -> std::sync::MutexGuard<'m, Run<'s>> {
    run.lock().unwrap_or_else(|e| e.into_inner())
}
