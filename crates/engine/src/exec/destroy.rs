//! `down`: what is kept and why, and each node's delete (waited when AWS deletes
//! asynchronously).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use super::Engine;
use super::run::{Run, following};
use crate::ResourceError;
use crate::event::{EventKind, Outcome};
use crate::graph::Node;
use crate::resource::{Cx, Inputs, Observed, Owned, Retention, Status, check_owned};
use crate::retry::Retries;
use crate::state::Phase;

impl Engine<'_> {
    /// What `down` keeps, and why: retained resources, and what they sit in.
    pub fn kept_on_destroy(&self) -> BTreeMap<usize, String> {
        let g = self.graph;
        let mut kept = BTreeMap::new();
        let mut queue = Vec::new();
        for i in 0..g.len() {
            let reason = match g.node(i).resource.retention() {
                Retention::Delete | Retention::Lookup => continue,
                Retention::Data if self.opts.destroy_data => continue,
                Retention::Data => "holds data; `down --destroy-data` removes it",
                Retention::Always => "shared with the whole account",
                Retention::Borrowed => "yours, named in deploy.yaml: temporalctl never deletes it",
            };
            kept.insert(i, reason.to_string());
            queue.push(i);
        }
        while let Some(i) = queue.pop() {
            for holder in g.node(i).resource.placed_in() {
                let Some(j) = g.find(&holder) else { continue };
                if let std::collections::btree_map::Entry::Vacant(e) = kept.entry(j) {
                    e.insert(format!("{} sits in it", g.node(i).id));
                    queue.push(j);
                }
            }
        }
        kept
    }

    pub(super) async fn destroy_node(
        &self,
        i: usize,
        run: &Mutex<Run<'_>>,
        kept: &BTreeMap<usize, String>,
    ) -> Result<Outcome, ResourceError> {
        let node = self.graph.node(i);
        let r = &node.resource;
        // Deletes read by id or tags only: no inputs.
        let mut prepared = self.prepare(i, run);
        prepared.inputs = Inputs::default();
        let cx = prepared.cx(node, &self.opts.project);
        let recorded_id = prepared.recorded_id.clone();
        if let Some(reason) = kept.get(&i) {
            self.emit(EventKind::NodeKept { node: node.id.clone(), reason: reason.clone() });
            // Not ours to track: the next `up` finds it again by what deploy.yaml names
            // (borrowed), or by what it is (shared with the account: a service-linked
            // role, a certificate's validation records), so the state does not list it
            // as still to delete.
            if matches!(r.retention(), Retention::Borrowed | Retention::Always) {
                self.forget(run, node)?;
            }
            self.finished(node, Outcome::Kept, recorded_id);
            return Ok(Outcome::Kept);
        }
        if r.retention() == Retention::Lookup {
            self.forget(run, node)?;
            self.finished(node, Outcome::Forgotten, None);
            return Ok(Outcome::Forgotten);
        }
        self.started_doing(node, "reading");
        let (read, claimants) = self.read_first(node, &cx).await?;
        let outcome = match &read {
            None => Outcome::Absent,
            Some(observed) => {
                let ours = check_owned(&self.opts.project, &node.id, observed)?;
                self.delete_and_wait(node, &cx, &ours, run).await?;
                Outcome::Deleted
            }
        };
        let id = read.map(|o| o.id);
        let others: Vec<String> = claimants.into_iter().filter(|c| Some(c) != id.as_ref()).collect();
        if !others.is_empty() {
            self.emit(EventKind::NodeKept {
                node: node.id.clone(),
                reason: format!(
                    "not deleted, tagged for this node but not recorded in the state: {}; check and delete by hand",
                    others.join(", ")
                ),
            });
        }
        self.forget(run, node)?;
        self.finished(node, outcome, id);
        Ok(outcome)
    }

    pub(super) async fn delete_and_wait(
        &self,
        node: &Node,
        cx: &Cx<'_>,
        observed: &Owned<Observed>,
        run: &Mutex<Run<'_>>,
    ) -> Result<(), ResourceError> {
        self.started_doing(node, "deleting");
        self.changed.store(true, Ordering::Relaxed);
        self.record(run, node, observed, Phase::Deleting)?;
        let deleted = self
            .call(node, Retries::AlsoDependencies, self.opts.delete_deadline, || node.resource.delete(cx, observed))
            .await;
        match deleted {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => {}
        }
        if !node.resource.delete_is_async() {
            return Ok(());
        }
        let what = format!("{} {} to be deleted", node.resource.kind(), observed.id);
        self.wait_until(node, &following(cx, &observed.id), &what, node.resource.wait_deadline(), |o| {
            Ok(match o.map(|o| o.status) {
                None => Ok(()),
                Some(Status::Pending(s)) => Err(s),
                Some(Status::Ready) => Err("still there".to_string()),
            })
        })
        .await
    }
}
