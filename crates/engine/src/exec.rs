//! The walk: every node starts the moment its dependencies are done (reverse order for
//! destroy); at most `parallelism` AWS calls are in flight at once. When a node fails no
//! new node starts, in-flight ones finish, state is saved, and every failure is reported.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::event::{Event, EventKind, EventSink, Outcome};
use crate::graph::{Graph, Node};
use crate::resource::{
    Change, Cx, FieldDiff, Inputs, NodeId, Observed, Retention, Status, Tags, check_owned, decide, ownership_tags,
};
use crate::retry::{Retries, RetryPolicy, retry_when, wait_for};
use crate::state::{LockedState, Phase, Recorded, StateFile};
use crate::{CancelToken, ErrorClass, ResourceError};

/// How long a wait may find nothing at a known id before it means "gone": AWS's reads
/// can lag the create that issued the id.
const NEW_ID_GRACE: Duration = Duration::from_secs(120);

/// How long a read may lag an update before the difference counts as "did not take". IAM
/// and EC2 answer reads from replicas that catch up within seconds (AWS, "Eventual
/// consistency" in the IAM and EC2 references).
const UPDATE_SETTLE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub project: String,
    /// The user's tags, added to every resource.
    pub extra_tags: Tags,
    /// Most AWS calls in flight at once.
    pub parallelism: usize,
    pub retry: RetryPolicy,
    /// How long deletes retry `DependencyViolation`.
    pub delete_deadline: Duration,
    /// `down` also removes resources that keep data.
    pub destroy_data: bool,
    /// `up` may replace a data store (losing its data) when an immutable field changes.
    pub replace_data: bool,
}

/// What a walk did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub outcomes: BTreeMap<NodeId, Outcome>,
    pub failures: Vec<(NodeId, ResourceError)>,
    pub cancelled: bool,
    pub elapsed: Duration,
}

impl RunReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && !self.cancelled
    }
    pub fn count(&self, outcome: Outcome) -> usize {
        self.outcomes.values().filter(|o| **o == outcome).count()
    }
}

/// What `plan` found for one node.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Planned {
    pub node: NodeId,
    pub kind: &'static str,
    pub id: Option<String>,
    #[serde(flatten)]
    pub change: Change,
    /// What the read found for dependents (ids, ARNs, endpoints); empty when absent.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
}

/// The state a walk shares between its nodes. Only touched between awaits.
struct Run<'s> {
    outputs: BTreeMap<NodeId, BTreeMap<String, String>>,
    recorded: BTreeMap<NodeId, Recorded>,
    locked: Option<&'s mut LockedState>,
    planned: BTreeMap<NodeId, Planned>,
    /// `plan`'s reads, made before its walk.
    looks: BTreeMap<usize, Result<FirstLook, ResourceError>>,
}

impl<'s> Run<'s> {
    fn new(recorded: BTreeMap<NodeId, Recorded>, locked: Option<&'s mut LockedState>) -> Self {
        Run { outputs: BTreeMap::new(), recorded, locked, planned: BTreeMap::new(), looks: BTreeMap::new() }
    }
}

pub struct Engine<'a> {
    graph: &'a Graph,
    opts: EngineOptions,
    events: &'a dyn EventSink,
    cancel: CancelToken,
    permits: Semaphore,
    started: Instant,
    /// A create, update or delete has been sent: listings made before may be stale.
    changed: AtomicBool,
}

impl<'a> Engine<'a> {
    pub fn new(graph: &'a Graph, opts: EngineOptions, events: &'a dyn EventSink, cancel: CancelToken) -> Self {
        let permits = Semaphore::new(opts.parallelism.max(1));
        Self { graph, opts, events, cancel, permits, started: Instant::now(), changed: AtomicBool::new(false) }
    }

    /// Reconcile every node; state is saved after each change.
    pub async fn apply(&self, locked: &mut LockedState) -> RunReport {
        let run = Mutex::new(Run::new(locked.state().nodes.clone(), Some(locked)));
        self.walk(false, |i| self.apply_node(i, &run)).await
    }

    /// Reconcile only `targets` and everything they depend on; the other nodes are not
    /// read and not in the report. `up` uses it to put a new one-off task definition in
    /// place (and run its step) before the services roll to a new version.
    pub async fn apply_only(&self, locked: &mut LockedState, targets: &[&str]) -> RunReport {
        let wanted = self.graph.with_dependencies(targets);
        let run = Mutex::new(Run::new(locked.state().nodes.clone(), Some(locked)));
        let (run, wanted_ref) = (&run, &wanted);
        let mut report = self
            .walk(false, |i| async move {
                if wanted_ref.contains(&i) { self.apply_node(i, run).await } else { Ok(Outcome::Skipped) }
            })
            .await;
        report.outcomes.retain(|id, _| self.graph.find(id).is_some_and(|i| wanted.contains(&i)));
        report
    }

    /// Delete every node in reverse dependency order; state is saved after each delete.
    pub async fn destroy(&self, locked: &mut LockedState) -> RunReport {
        let run = Mutex::new(Run::new(locked.state().nodes.clone(), Some(locked)));
        let kept = self.kept_on_destroy();
        self.walk(true, |i| self.destroy_node(i, &run, &kept)).await
    }

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

    /// Read and diff every node; no mutating call. `status` renders the same result.
    pub async fn plan(&self, state: &StateFile) -> (Vec<Planned>, RunReport) {
        let run = Mutex::new(Run::new(state.nodes.clone(), None));
        // Reads use no inputs, so every node is looked at at once (within the parallelism)
        // and the walk then diffs in dependency order without a network wait per level.
        let looks = self.look_at_all(&run).await;
        lock(&run).looks = looks;
        let report = self.walk(false, |i| self.plan_node(i, &run)).await;
        let mut planned = run.into_inner().unwrap_or_else(|e| e.into_inner()).planned;
        let ordered = self.graph.topo().iter().filter_map(|i| planned.remove(&self.graph.node(*i).id)).collect();
        (ordered, report)
    }

    async fn walk<F, Fut>(&self, reverse: bool, work: F) -> RunReport
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = Result<Outcome, ResourceError>>,
    {
        let g = self.graph;
        let n = g.len();
        // Nodes that must finish before each node may start.
        let mut waiting_on: Vec<usize> =
            (0..n).map(|i| if reverse { g.dependents_of(i).len() } else { g.deps_of(i).count() }).collect();
        let order: Vec<usize> = if reverse { g.topo().iter().rev().copied().collect() } else { g.topo().to_vec() };
        let mut ready: Vec<usize> = order.iter().copied().filter(|i| waiting_on[*i] == 0).collect();
        ready.reverse(); // pop() takes them in order
        let mut report = RunReport::default();
        let mut in_flight = FuturesUnordered::new();
        let mut stopped = false;
        loop {
            if self.cancel.is_cancelled() && !stopped {
                stopped = true;
                report.cancelled = true;
            }
            while !stopped && let Some(i) = ready.pop() {
                let fut = work(i);
                in_flight.push(async move { (i, fut.await) });
            }
            let Some((i, result)) = in_flight.next().await else {
                break;
            };
            let id = g.node(i).id.clone();
            match result {
                Ok(outcome) => {
                    report.outcomes.insert(id, outcome);
                    let next: Vec<usize> = if reverse { g.deps_of(i).collect() } else { g.dependents_of(i).to_vec() };
                    for j in next {
                        waiting_on[j] -= 1;
                        if waiting_on[j] == 0 {
                            // Keep the graph's order among nodes that became ready together.
                            let pos = ready.partition_point(|r| order_pos(&order, *r) > order_pos(&order, j));
                            ready.insert(pos, j);
                        }
                    }
                }
                Err(e) => {
                    if e.class == ErrorClass::Cancelled {
                        report.cancelled = true;
                        report.outcomes.insert(id, Outcome::Skipped);
                    } else {
                        self.emit(EventKind::NodeFailed { node: id.clone(), error: e.to_string() });
                        report.outcomes.insert(id.clone(), Outcome::Failed);
                        report.failures.push((id, e));
                    }
                    stopped = true;
                }
            }
        }
        for i in order {
            report.outcomes.entry(g.node(i).id.clone()).or_insert(Outcome::Skipped);
        }
        report.elapsed = self.started.elapsed();
        report
    }

    async fn apply_node(&self, i: usize, run: &Mutex<Run<'_>>) -> Result<Outcome, ResourceError> {
        let node = self.graph.node(i);
        let r = &node.resource;
        let prepared = self.prepare(i, run);
        let cx = prepared.cx(node, &self.opts.project);
        let inputs = &prepared.inputs;
        let desired = r.desired(inputs)?;
        self.started_doing(node, "reading");
        let look = self.first_look(&cx);
        // Several resources claiming the node (`claim`) fail it here, before any change.
        let observed = self.call(node, Retries::Transient, self.opts.retry.deadline, || r.read(&look)).await?;
        let change = decide(&desired, &prepared.tags, observed.as_ref(), r.immutable());
        let (outcome, observed) = match (change, observed) {
            (Change::NoChange, Some(o)) => {
                let o = self.wait_ready(node, &cx, o).await?;
                (Outcome::Unchanged, o)
            }
            (Change::Update { diffs }, Some(o)) => {
                check_owned(&self.opts.project, &node.id, &o)?;
                let o = self.update(node, &cx, &o, &desired, &diffs).await?;
                (Outcome::Updated, o)
            }
            (Change::Replace { diffs }, Some(o)) => {
                check_owned(&self.opts.project, &node.id, &o)?;
                if r.retention() != Retention::Delete && !self.opts.replace_data {
                    return Err(ResourceError::fatal(format!(
                        "{} cannot change in place, and replacing {} would destroy the data it holds; revert the change, or pass --allow-data-replacement if losing the data is intended",
                        describe_diffs(&diffs),
                        node.id
                    )));
                }
                let dependents = self.graph.dependents_of(i);
                if !dependents.is_empty() {
                    return Err(ResourceError::fatal(format!(
                        "{} cannot change in place, so {} would have to be replaced, and {} other resource(s) depend on it ({}). temporalctl does not cascade replacements: revert the change, or run `down` and then `up`",
                        describe_diffs(&diffs),
                        node.id,
                        dependents.len(),
                        dependents
                            .iter()
                            .take(3)
                            .map(|d| self.graph.node(*d).id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                self.delete_and_wait(node, &cx, &o, run).await?;
                let o = self.create(node, &cx, &desired, &prepared.tags, run).await?;
                (Outcome::Replaced, o)
            }
            (_, _) => {
                self.refuse_data_recreation(node, &prepared)?;
                let o = self.create(node, &cx, &desired, &prepared.tags, run).await?;
                (Outcome::Created, o)
            }
        };
        self.record(run, node, &observed, Phase::Ready)?;
        self.finished(node, outcome, Some(observed.id.clone()));
        Ok(outcome)
    }

    async fn update(
        &self,
        node: &Node,
        cx: &Cx<'_>,
        observed: &Observed,
        desired: &crate::Attrs,
        diffs: &[FieldDiff],
    ) -> Result<Observed, ResourceError> {
        self.started_doing(node, "updating");
        self.changed.store(true, Ordering::Relaxed);
        let changed: Vec<String> = diffs.iter().map(|d| d.field.clone()).collect();
        self.call(node, Retries::Transient, self.opts.retry.deadline, || {
            node.resource.update(cx, observed, desired, &changed)
        })
        .await?;
        let cx = following(cx, &observed.id);
        let fresh = self.reread_ready(node, &cx).await?;
        self.converged(node, &cx, desired, fresh).await
    }

    /// An update is done only when a fresh read matches what was asked: a field the
    /// update left as it was is an error naming it, never an "updated" that repeats on
    /// every run. Reads may lag a write for a few seconds (eventual consistency), so a
    /// difference is read again for up to `UPDATE_SETTLE` first.
    async fn converged(
        &self,
        node: &Node,
        cx: &Cx<'_>,
        desired: &crate::Attrs,
        fresh: Observed,
    ) -> Result<Observed, ResourceError> {
        let immutable = node.resource.immutable();
        let still_differs = |o: &Observed| match decide(desired, cx.tags, Some(o), immutable) {
            Change::Update { diffs } | Change::Replace { diffs } => Some(
                diffs
                    .iter()
                    .map(|d| format!("{}: wanted {}, found {}", d.field, d.to, d.from.as_deref().unwrap_or("nothing")))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Change::NoChange | Change::Create | Change::Conflict { .. } => None,
        };
        if still_differs(&fresh).is_none() {
            return Ok(fresh);
        }
        let what = format!("{} {} to show the update", node.resource.kind(), fresh.id);
        let settled = wait_for(
            &self.opts.retry,
            &self.cancel,
            UPDATE_SETTLE,
            &what,
            |_| {},
            || async {
                let o = node.resource.read(cx).await?.ok_or_else(|| {
                    ResourceError::new(
                        ErrorClass::NotFound,
                        format!("{} disappeared right after it was changed", node.id),
                    )
                })?;
                Ok(match still_differs(&o) {
                    None => Ok(o),
                    Some(differs) => Err(differs),
                })
            },
        )
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
        desired: &crate::Attrs,
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
        if adopted {
            check_owned(&self.opts.project, &node.id, &made)?;
        }
        // Persist the id before waiting: a crash now leaves a known resource, not a leak.
        self.record(run, node, &made, Phase::Creating)?;
        let id = made.id.clone();
        let cx = following(cx, &id);
        if !adopted {
            return self.wait_ready(node, &cx, made).await;
        }
        match decide(desired, tags, Some(&made), node.resource.immutable()) {
            Change::NoChange | Change::Create | Change::Conflict { .. } => self.wait_ready(node, &cx, made).await,
            Change::Update { diffs } => self.update(node, &cx, &made, desired, &diffs).await,
            Change::Replace { diffs } => Err(ResourceError::fatal(format!(
                "an interrupted create left {} with {}; run `up` again to replace it, or delete it by hand",
                made.id,
                describe_diffs(&diffs)
            ))),
        }
    }

    async fn reread_ready(&self, node: &Node, cx: &Cx<'_>) -> Result<Observed, ResourceError> {
        let o = self.call(node, Retries::Transient, self.opts.retry.deadline, || node.resource.read(cx)).await?;
        let o = o.ok_or_else(|| {
            ResourceError::new(ErrorClass::NotFound, format!("{} disappeared right after it was changed", node.id))
        })?;
        self.wait_ready(node, cx, o).await
    }

    async fn wait_ready(&self, node: &Node, cx: &Cx<'_>, observed: Observed) -> Result<Observed, ResourceError> {
        if observed.status == Status::Ready {
            return Ok(observed);
        }
        let what = format!("{} {} to become ready", node.resource.kind(), observed.id);
        let cx = following(cx, &observed.id);
        let waiting_since = Instant::now();
        if let Status::Pending(state) = &observed.status {
            self.emit(EventKind::NodeWaiting { node: node.id.clone(), what: format!("{what} (now {state})") });
        }
        wait_for(
            &self.opts.retry,
            &self.cancel,
            node.resource.wait_deadline(),
            &what,
            |state| self.emit(EventKind::NodeWaiting { node: node.id.clone(), what: format!("{what} (now {state})") }),
            || async {
                let o =
                    self.call(node, Retries::Transient, self.opts.retry.deadline, || node.resource.read(&cx)).await?;
                Ok(match o {
                    // A new id can be unknown to reads for a while (EC2's eventual
                    // consistency): not yet visible, not gone.
                    None if waiting_since.elapsed() < NEW_ID_GRACE => Err("not visible yet".to_string()),
                    None => {
                        return Err(ResourceError::new(
                            ErrorClass::NotFound,
                            format!("{} disappeared while temporalctl waited for it", observed.id),
                        ));
                    }
                    Some(o) if o.status == Status::Ready => Ok(o),
                    Some(o) => Err(match o.status {
                        Status::Pending(s) => s,
                        Status::Ready => unreachable!(),
                    }),
                })
            },
        )
        .await
    }

    async fn destroy_node(
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
                check_owned(&self.opts.project, &node.id, observed)?;
                self.delete_and_wait(node, &cx, observed, run).await?;
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

    /// A data store the state records as made, and that is now missing, is not silently
    /// made again empty: AWS may show it as gone while it still holds data elsewhere (a
    /// renamed tag, another account's view), and a new empty one would hide the loss.
    fn refuse_data_recreation(&self, node: &Node, prepared: &Prepared) -> Result<(), ResourceError> {
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

    async fn delete_and_wait(
        &self,
        node: &Node,
        cx: &Cx<'_>,
        observed: &Observed,
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
        if node.resource.delete_is_async() {
            let cx = following(cx, &observed.id);
            let what = format!("{} {} to be deleted", node.resource.kind(), observed.id);
            wait_for(
                &self.opts.retry,
                &self.cancel,
                node.resource.wait_deadline(),
                &what,
                |state| {
                    self.emit(EventKind::NodeWaiting { node: node.id.clone(), what: format!("{what} (now {state})") })
                },
                || async {
                    let o = self
                        .call(node, Retries::Transient, self.opts.retry.deadline, || node.resource.read(&cx))
                        .await?;
                    Ok(match o {
                        None => Ok(()),
                        Some(o) => Err(match o.status {
                            Status::Pending(s) => s,
                            Status::Ready => "still there".to_string(),
                        }),
                    })
                },
            )
            .await?;
        }
        Ok(())
    }

    async fn look_at_all(&self, run: &Mutex<Run<'_>>) -> BTreeMap<usize, Result<FirstLook, ResourceError>> {
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
    async fn read_first(&self, node: &Node, cx: &Cx<'_>) -> Result<FirstLook, ResourceError> {
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

    async fn plan_node(&self, i: usize, run: &Mutex<Run<'_>>) -> Result<Outcome, ResourceError> {
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
        let missing_dep = node.deps.iter().find(|d| !inputs.has(d));
        let change = match (missing_dep, &observed) {
            _ if !claimants.is_empty() => Change::Conflict { claimants, recorded: prepared.recorded_id.clone() },
            (Some(_), None) => Change::Create,
            // Its dependency is new or replaced, so this one must be made again too.
            (Some(dep), Some(_)) => Change::Replace {
                diffs: vec![FieldDiff {
                    field: "depends-on".into(),
                    from: None,
                    to: format!("{dep} (new)"),
                    forces_replace: true,
                }],
            },
            (None, o) => decide(&r.desired(inputs)?, &prepared.tags, o.as_ref(), r.immutable()),
        };
        // A conflict names the recorded claimant; a node that is missing names none.
        let recorded = matches!(change, Change::Conflict { .. }).then(|| prepared.recorded_id.clone()).flatten();
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
                outputs: observed.map(|o| o.outputs).unwrap_or_default(),
            },
        );
        Ok(Outcome::Unchanged)
    }

    /// One AWS call: a parallelism permit per attempt, retries by class within `deadline`.
    async fn call<T, F, Fut>(
        &self,
        node: &Node,
        retries: Retries,
        deadline: Duration,
        op: F,
    ) -> Result<T, ResourceError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ResourceError>>,
    {
        retry_when(
            &self.opts.retry,
            &self.cancel,
            deadline,
            retries,
            |attempt, delay, e| {
                self.emit(EventKind::NodeRetrying { node: node.id.clone(), attempt, delay, error: e.to_string() })
            },
            || async {
                let _permit = self.permits.acquire().await.map_err(|_| ResourceError::fatal("engine closed"))?;
                op().await
            },
        )
        .await
    }

    /// The context for a node's first read: from a listing while nothing has changed.
    fn first_look<'c>(&self, cx: &Cx<'c>) -> Cx<'c> {
        Cx { may_read_from_listing: !self.changed.load(Ordering::Relaxed), ..*cx }
    }

    /// What a node's methods get: its dependencies' outputs, its recorded id, its tags.
    fn prepare(&self, i: usize, run: &Mutex<Run<'_>>) -> Prepared {
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

    fn record(&self, run: &Mutex<Run<'_>>, node: &Node, o: &Observed, phase: Phase) -> Result<(), ResourceError> {
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

    fn forget(&self, run: &Mutex<Run<'_>>, node: &Node) -> Result<(), ResourceError> {
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

    fn started_doing(&self, node: &Node, doing: &'static str) {
        self.emit(EventKind::NodeStarted { node: node.id.clone(), kind: node.resource.kind(), doing });
    }

    fn finished(&self, node: &Node, outcome: Outcome, id: Option<String>) {
        self.emit(EventKind::NodeFinished { node: node.id.clone(), outcome, id });
    }

    fn emit(&self, kind: EventKind) {
        self.events.emit(Event { elapsed: self.started.elapsed(), kind });
    }
}

/// What a first read found, and every resource claiming the node when there are several.
type FirstLook = (Option<Observed>, Vec<String>);

struct Prepared {
    inputs: Inputs,
    recorded_id: Option<String>,
    recorded_phase: Option<Phase>,
    tags: Tags,
}

impl Prepared {
    fn cx<'a>(&'a self, node: &'a Node, project: &'a str) -> Cx<'a> {
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
fn following<'c>(cx: &Cx<'c>, id: &'c str) -> Cx<'c> {
    Cx { recorded_id: Some(id), follow_id: true, may_read_from_listing: false, ..*cx }
}

fn lock<'m, 's>(run: &'m Mutex<Run<'s>>) -> std::sync::MutexGuard<'m, Run<'s>> {
    run.lock().unwrap_or_else(|e| e.into_inner())
}

fn order_pos(order: &[usize], i: usize) -> usize {
    order.iter().position(|o| *o == i).unwrap_or(usize::MAX)
}

fn describe_diffs(diffs: &[FieldDiff]) -> String {
    diffs
        .iter()
        .filter(|d| d.forces_replace)
        .map(|d| format!("{} ({} -> {})", d.field, d.from.as_deref().unwrap_or("unset"), d.to))
        .collect::<Vec<_>>()
        .join(", ")
}
