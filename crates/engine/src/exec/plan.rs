//! `plan` (and `status`): every node read at once, then diffed in dependency order.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::reconcile::changed_fields;
use super::run::{FirstLook, Run, following, lock};
use super::{Engine, Planned};
use crate::ResourceError;
use crate::event::{EventKind, Outcome};
use crate::graph::Node;
use crate::resource::{Change, Cx, FieldDiff, decide};
use crate::retry::Retries;

impl Engine<'_> {
    pub(super) async fn look_at_all(&self, run: &Mutex<Run<'_>>) -> BTreeMap<usize, Result<FirstLook, ResourceError>> {
        let mut reads: FuturesUnordered<_> = (0..self.graph.len())
            .map(|i| async move {
                let node = self.graph.node(i);
                let prepared = self.prepare(i, run);
                self.started_doing(node, "reading");
                (i, self.read_first(node, &prepared.cx(node, &self.opts.project)).await)
            })
            .collect();
        let mut looks = BTreeMap::new();
        while let Some((i, read)) = reads.next().await {
            looks.insert(i, read);
        }
        looks
    }

    /// A node's first read, from a listing while nothing has changed. When several
    /// resources carry the node's tags and the state records one of them, that one is read
    /// by its id alone and returned with every claimant; otherwise the conflict stands.
    pub(super) async fn read_first(&self, node: &Node, cx: &Cx<'_>) -> Result<FirstLook, ResourceError> {
        let look = self.first_look(cx);
        let read = self.call(node, Retries::Transient, self.opts.retry.deadline, || node.resource.read(&look)).await;
        match (read, cx.recorded_id) {
            (Err(e), Some(recorded)) if e.claimants.iter().any(|c| c == recorded) => {
                let by_id = following(cx, recorded);
                let o = self
                    .call(node, Retries::Transient, self.opts.retry.deadline, || node.resource.read(&by_id))
                    .await?;
                Ok((o, e.claimants))
            }
            (read, _) => Ok((read?, Vec::new())),
        }
    }

    pub(super) async fn plan_node(&self, i: usize, run: &Mutex<Run<'_>>) -> Result<Outcome, ResourceError> {
        let node = self.graph.node(i);
        let r = &node.resource;
        let prepared = self.prepare(i, run);
        let inputs = &prepared.inputs;
        let looked = lock(run).looks.remove(&i);
        let looked = looked.unwrap_or_else(|| Err(ResourceError::fatal(format!("{} was not read (a bug)", node.id))));
        let (observed, claimants) = match looked {
            Err(e) if !e.claimants.is_empty() => (None, e.claimants),
            other => other?,
        };
        // Dependencies yet to be made (or remade): their outputs read as unknown.
        let missing: Vec<&String> = node.deps.iter().filter(|d| !inputs.has(d)).collect();
        let mut unknown = inputs.clone();
        missing.iter().for_each(|d| unknown.unknown(d));
        let change = match (missing.first(), &observed) {
            _ if !claimants.is_empty() => Change::Conflict { claimants, recorded: prepared.recorded_id.clone() },
            (Some(_), None) => Change::Create,
            // A dependency is yet to be made: what this one would be, with each output of
            // the new ones unknown. A field that reads one differs, and is replaced or
            // updated as that field is; one that only comes after it changes nothing.
            (Some(dep), Some(o)) => {
                match r.desired(&unknown) {
                    Ok(desired) => decide(&desired, &prepared.tags, Some(o), |f| r.forces_replace(f)),
                    // A desired state that cannot be worked out without the values: the
                    // dependency's replacement is assumed to cascade.
                    Err(_) => Change::Replace { diffs: vec![FieldDiff::dependency(dep)] },
                }
            }
            (None, o) => decide(&r.desired(inputs)?, &prepared.tags, o.as_ref(), |f| r.forces_replace(f)),
        };
        // A conflict names the recorded claimant; a node that is missing names none.
        let recorded = matches!(change, Change::Conflict { .. }).then(|| prepared.recorded_id.clone()).flatten();
        let note = match (&change, &observed) {
            (Change::Update { diffs }, Some(o)) => r.change_note(o, &unknown, &changed_fields(diffs)),
            _ => None,
        };
        let mut guard = lock(run);
        if let (Change::NoChange | Change::Update { .. } | Change::Conflict { .. }, Some(o)) = (&change, &observed) {
            guard.outputs.insert(node.id.clone(), o.outputs.clone());
        }
        self.emit(EventKind::NodePlanned { node: node.id.clone(), kind: r.kind(), change: change.clone() });
        guard.planned.insert(
            node.id.clone(),
            Planned {
                node: node.id.clone(),
                kind: r.kind(),
                id: observed.as_ref().map(|o| o.id.clone()).or(recorded),
                change,
                note,
                outputs: observed.map(|o| o.outputs).unwrap_or_default(),
            },
        );
        Ok(Outcome::Unchanged)
    }
}
