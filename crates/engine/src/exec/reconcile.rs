//! `up`'s work on one node: read, compare, then create, update or replace, and prove
//! that an update took.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use super::run::{Prepared, Run, following};
use super::{Engine, UPDATE_SETTLE};
use crate::event::{EventKind, Outcome};
use crate::graph::Node;
use crate::resource::{
    Attrs, Cx, Difference, FieldDiff, Observed, Owned, Retention, Status, Subject, Tags, check_owned, compare,
    missing_tags,
};
use crate::retry::Retries;
use crate::state::Phase;
use crate::{ErrorClass, ResourceError};

impl Engine<'_> {
    pub(super) async fn apply_node(&self, i: usize, run: &Mutex<Run<'_>>) -> Result<Outcome, ResourceError> {
        let node = self.graph.node(i);
        let r = &node.resource;
        let prepared = self.prepare(i, run);
        let cx = prepared.cx(node, &self.opts.project);
        let desired = r.desired(&prepared.inputs)?;
        self.started_doing(node, "reading");
        let look = self.first_look(&cx);
        // Several resources claiming the node (`claim`) fail it here, before any change.
        let observed = self.call(node, Retries::Transient, self.opts.retry.deadline, || r.read(&look)).await?;
        let Some(o) = observed else {
            self.refuse_data_recreation(node, &prepared)?;
            let made = self.create(node, &cx, &desired, &prepared.tags, run).await?;
            return self.done(run, node, Outcome::Created, made);
        };
        // Found busy and not being made by us: a change still running (an earlier run's),
        // waited as long as a change; one we were making, as long as a create.
        let deadline = match prepared.recorded_phase {
            Some(Phase::Creating) => r.wait_deadline(),
            _ => r.change_deadline(),
        };
        let differs = |o: &Observed| compare(&desired, &prepared.tags, o, |f| r.forces_replace(f));
        // A kind that refuses a change while it applies another (an OpenSearch domain in a
        // blue/green deployment) is waited for first, then compared again. What would be
        // refused whatever the wait brings (not ours, a replacement not allowed) is
        // refused before it; an irreversible change after it, since the change found
        // running may be that very one (an upgrade an interrupted run started).
        let busy = o.status != Status::Ready && r.busy_refuses_changes();
        let o = match differs(&o) {
            Difference::InPlace(_) if busy => {
                check_owned(&self.opts.project, &node.id, &o)?;
                self.wait_ready(node, &cx, o, deadline).await?
            }
            Difference::Replace(diffs) if busy => {
                self.refuse(i, &o, &diffs, true)?;
                self.wait_ready(node, &cx, o, deadline).await?
            }
            _ => o,
        };
        let (outcome, o) = match differs(&o) {
            Difference::None => {
                // Still being made by an interrupted run of ours: its identity is known,
                // whatever the wait brings. (Pending for another reason, a deletion, it
                // hands out nothing.)
                if o.status != Status::Ready && prepared.recorded_phase == Some(Phase::Creating) {
                    self.share_outputs(run, node, &o);
                    self.identify(node);
                }
                (Outcome::Unchanged, self.wait_ready(node, &cx, o, deadline).await?)
            }
            Difference::InPlace(diffs) => {
                let ours = self.refuse(i, &o, &diffs, false)?;
                (Outcome::Updated, self.update(node, &cx, &ours, &desired, &diffs).await?)
            }
            Difference::Replace(diffs) => {
                let ours = self.refuse(i, &o, &diffs, true)?;
                self.delete_and_wait(node, &cx, &ours, run).await?;
                (Outcome::Replaced, self.create(node, &cx, &desired, &prepared.tags, run).await?)
            }
        };
        self.done(run, node, outcome, o)
    }

    fn done(&self, run: &Mutex<Run<'_>>, node: &Node, outcome: Outcome, o: Observed) -> Result<Outcome, ResourceError> {
        self.record(run, node, &o, Phase::Ready)?;
        self.finished(node, outcome, Some(o.id));
        Ok(outcome)
    }

    /// Every refusal before a change: not ours, a change that cannot be undone, or a
    /// replacement that is not allowed. The resource, proven ours, when none applies.
    fn refuse(
        &self,
        i: usize,
        o: &Observed,
        diffs: &[FieldDiff],
        replace: bool,
    ) -> Result<Owned<Observed>, ResourceError> {
        let node = self.graph.node(i);
        let ours = check_owned(&self.opts.project, &node.id, o)?;
        match replace {
            true => self.refuse_replacement(i, diffs)?,
            false => self.refuse_irreversible(node, diffs)?,
        }
        Ok(ours)
    }

    /// A replacement that would lose data without being allowed, or that would have to
    /// cascade to dependents, is refused before anything changes.
    fn refuse_replacement(&self, i: usize, diffs: &[FieldDiff]) -> Result<(), ResourceError> {
        let node = self.graph.node(i);
        if node.resource.retention() == Retention::Borrowed {
            return Err(ResourceError::fatal(format!(
                "{} cannot change in place, and {} is yours (deploy.yaml names it): temporalctl never replaces it; change it yourself or name another in deploy.yaml",
                describe_diffs(diffs),
                node.id
            )));
        }
        if node.resource.retention() != Retention::Delete && !self.opts.replace_data {
            return Err(ResourceError::fatal(format!(
                "{} cannot change in place, and replacing {} would destroy the data it holds; revert the change, or pass --allow-data-replacement if losing the data is intended",
                describe_diffs(diffs),
                node.id
            )));
        }
        let dependents = self.graph.dependents_of(i);
        if dependents.is_empty() {
            return Ok(());
        }
        Err(ResourceError::fatal(format!(
            "{} cannot change in place, so {} would have to be replaced, and {} other resource(s) depend on it ({}). temporalctl does not cascade replacements: revert the change, or run `down` and then `up`",
            describe_diffs(diffs),
            node.id,
            dependents.len(),
            dependents.iter().take(3).map(|d| self.graph.node(*d).id.as_str()).collect::<Vec<_>>().join(", ")
        )))
    }

    /// A change that cannot be undone (an engine upgrade) is made only when the run
    /// allows it, and refused before this node changes otherwise.
    fn refuse_irreversible(&self, node: &Node, diffs: &[FieldDiff]) -> Result<(), ResourceError> {
        if self.opts.allow_irreversible {
            return Ok(());
        }
        let refused: Vec<String> = diffs
            .iter()
            .filter(|d| d.subject == Subject::Field)
            .filter_map(|d| node.resource.irreversible(&d.field).map(|why| (d, why)))
            .map(|(d, why)| format!("{}: {} -> {}: {why}", d.field, d.from.as_deref().unwrap_or("(unset)"), d.to))
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        Err(ResourceError::fatal(format!("{} was not changed: {}", node.id, refused.join("; "))))
    }

    async fn update(
        &self,
        node: &Node,
        cx: &Cx<'_>,
        observed: &Owned<Observed>,
        desired: &Attrs,
        diffs: &[FieldDiff],
    ) -> Result<Observed, ResourceError> {
        self.started_doing(node, "updating");
        self.changed.store(true, Ordering::Relaxed);
        let changed = changed_fields(diffs);
        if let Some(note) = node.resource.change_note(observed, cx.inputs, &changed) {
            self.emit(EventKind::Note { text: format!("{}: {note}", node.id) });
        }
        let follow = following(cx, &observed.id);
        let mut fresh = None;
        if !changed.is_empty() {
            self.call(node, Retries::Transient, self.opts.retry.deadline, || {
                node.resource.update(cx, observed, desired, &changed)
            })
            .await?;
            fresh = Some(self.reread_ready(node, &follow).await?);
        }
        // Tags go to the retag hook, unless the update already wrote them (a kind whose
        // update rewrites its tags with what it applied): decided again on the fresh read.
        let tags_missing = |o: &Observed| !missing_tags(cx.tags, o).is_empty();
        if diffs.iter().any(|d| d.subject == Subject::Tags) && fresh.as_ref().is_none_or(tags_missing) {
            let target = match fresh.take() {
                Some(current) => observed.after_update(current),
                None => observed.clone(),
            };
            self.call(node, Retries::Transient, self.opts.retry.deadline, || node.resource.retag(cx, &target)).await?;
        }
        let fresh = match fresh {
            Some(o) => o,
            None => self.reread_ready(node, &follow).await?,
        };
        self.converged(node, &follow, desired, fresh).await
    }

    /// An update is done only when a fresh read matches what was asked: a field the
    /// update left as it was is an error naming it, never an "updated" that repeats on
    /// every run. Reads may lag a write for a few seconds (eventual consistency), so a
    /// difference is read again for up to `UPDATE_SETTLE` first.
    async fn converged(
        &self,
        node: &Node,
        cx: &Cx<'_>,
        desired: &Attrs,
        fresh: Observed,
    ) -> Result<Observed, ResourceError> {
        let still_differs = |o: &Observed| match compare(desired, cx.tags, o, |f| node.resource.forces_replace(f)) {
            Difference::None => None,
            Difference::InPlace(diffs) | Difference::Replace(diffs) => Some(
                diffs
                    .iter()
                    .map(|d| format!("{}: wanted {}, found {}", d.field, d.to, d.from.as_deref().unwrap_or("nothing")))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        };
        if still_differs(&fresh).is_none() {
            return Ok(fresh);
        }
        let what = format!("{} {} to show the update", node.resource.kind(), fresh.id);
        let settled = self
            .wait_until(node, cx, &what, UPDATE_SETTLE, |read| {
                let o = read.ok_or_else(|| {
                    ResourceError::new(
                        ErrorClass::NotFound,
                        format!("{} disappeared right after it was changed", node.id),
                    )
                })?;
                Ok(match still_differs(&o) {
                    None => Ok(o),
                    Some(differs) => Err(differs),
                })
            })
            .await;
        settled.map_err(|e| match e.class {
            ErrorClass::Timeout => ResourceError::fatal(format!(
                "{} {}: updated, but a fresh read still differs after {}s ({}); the update does not take, so every run would repeat it",
                node.resource.kind(),
                node.id,
                UPDATE_SETTLE.as_secs(),
                e.message.rsplit("last state: ").next().unwrap_or_default()
            )),
            _ => e,
        })
    }

    /// Creates the node. A create can be several calls (a security group, then its
    /// rules); when a later one fails, the first may already have made the resource.
    /// So every retry looks first, and adopts what an earlier attempt left (it carries
    /// our tags) and brings it to the desired state, instead of making a duplicate.
    async fn create(
        &self,
        node: &Node,
        cx: &Cx<'_>,
        desired: &Attrs,
        tags: &Tags,
        run: &Mutex<Run<'_>>,
    ) -> Result<Observed, ResourceError> {
        self.started_doing(node, "creating");
        self.changed.store(true, Ordering::Relaxed);
        let attempts = AtomicU32::new(0);
        let (made, adopted) = self
            .call(node, Retries::Transient, self.opts.retry.deadline, || async {
                if attempts.fetch_add(1, Ordering::Relaxed) > 0
                    && let Some(left_by_earlier_attempt) = node.resource.read(cx).await?
                {
                    return Ok((left_by_earlier_attempt, true));
                }
                node.resource.create(cx, desired).await.map(|o| (o, false))
            })
            .await?;
        // What an earlier attempt left is changed below only once it shows our tags.
        let ours = if adopted { Some(check_owned(&self.opts.project, &node.id, &made)?) } else { None };
        // Persist the id before waiting: a crash now leaves a known resource, not a leak.
        self.record(run, node, &made, Phase::Creating)?;
        self.identify(node);
        let id = made.id.clone();
        let cx = following(cx, &id);
        let Some(ours) = ours else {
            return self.wait_ready(node, &cx, made, node.resource.wait_deadline()).await;
        };
        match compare(desired, tags, &made, |f| node.resource.forces_replace(f)) {
            Difference::None => self.wait_ready(node, &cx, made, node.resource.wait_deadline()).await,
            Difference::InPlace(diffs) => self.update(node, &cx, &ours, desired, &diffs).await,
            Difference::Replace(diffs) => Err(ResourceError::fatal(format!(
                "an interrupted create left {} with {}; run `up` again to replace it, or delete it by hand",
                made.id,
                describe_diffs(&diffs)
            ))),
        }
    }

    /// A data store the state records as made, and that is now missing, is not silently
    /// made again empty: AWS may show it as gone while it still holds data elsewhere (a
    /// renamed tag, another account's view), and a new empty one would hide the loss.
    pub(super) fn refuse_data_recreation(&self, node: &Node, prepared: &Prepared) -> Result<(), ResourceError> {
        let made_before = prepared.recorded_phase.is_some_and(|p| p != Phase::Creating);
        if node.resource.retention() != Retention::Data || !made_before || self.opts.replace_data {
            return Ok(());
        }
        Err(ResourceError::fatal(format!(
            "{} was recorded as {} but is gone now; temporalctl does not make a new, empty {} in its place. Check the account (a deleted or renamed resource, lost tags); pass --allow-data-replacement to create a new one",
            node.id,
            prepared.recorded_id.as_deref().unwrap_or("?"),
            node.resource.kind()
        )))
    }
}

/// The differences that force a replacement, for messages.
fn describe_diffs(diffs: &[FieldDiff]) -> String {
    diffs
        .iter()
        .filter(|d| d.forces_replace)
        .map(|d| format!("{} ({} -> {})", d.field, d.from.as_deref().unwrap_or("unset"), d.to))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The attributes among `diffs` (tags aside).
pub(super) fn changed_fields(diffs: &[FieldDiff]) -> Vec<String> {
    diffs.iter().filter(|d| d.subject == Subject::Field).map(|d| d.field.clone()).collect()
}
