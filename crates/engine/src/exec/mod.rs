//! The walk: every node starts the moment its dependencies are done, or, where it needs
//! only a dependency's identity, the moment that dependency's create returned (reverse
//! order, every edge waited, for destroy); at most `parallelism` AWS calls are in flight
//! at once. When a node fails no new node starts, in-flight ones finish, state is saved,
//! and every failure is reported.
//!
//! This file holds the scheduler and the one call wrapper; each job of a walk has its
//! own file: `reconcile` (apply), `destroy`, `plan`, `wait` (the one wait helper) and
//! `run` (what a walk shares, and its persistence).

mod beside;
mod destroy;
mod plan;
mod reconcile;
mod run;
mod wait;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::{Either, select};
use futures_util::stream::FuturesUnordered;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;

use crate::event::{Event, EventKind, EventSink, Outcome};
use crate::graph::{Graph, Need, Node};
use crate::resource::{Change, Cx, NodeId, Tags};
use crate::retry::{Retries, RetryPolicy, Retrying};
use crate::state::{LockedState, StateFile};
use crate::{CancelToken, ErrorClass, ResourceError};
pub use beside::Beside;
use beside::WalkProgress;
use run::{Run, lock};

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
    /// `up` may make changes that cannot be undone ([`crate::Resource::irreversible`]).
    pub allow_irreversible: bool,
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
    /// What to know before an update (a long deployment AWS runs, a step that cannot be
    /// undone): the kind's [`crate::Resource::change_note`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the read found for dependents (ids, ARNs, endpoints); empty when absent.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
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
    /// Nodes whose identity is known (created, or found) before they are ready: the walk
    /// starts their identity-only dependents.
    identified: Mutex<Vec<usize>>,
    identified_news: Notify,
    /// Which nodes the current walk finished, for work beside it.
    progress: watch::Sender<WalkProgress>,
}

impl<'a> Engine<'a> {
    pub fn new(graph: &'a Graph, opts: EngineOptions, events: &'a dyn EventSink, cancel: CancelToken) -> Self {
        let permits = Semaphore::new(opts.parallelism.max(1));
        Self {
            graph,
            opts,
            events,
            cancel,
            permits,
            started: Instant::now(),
            changed: AtomicBool::new(false),
            identified: Mutex::new(Vec::new()),
            identified_news: Notify::new(),
            progress: watch::Sender::new(WalkProgress::default()),
        }
    }

    /// Reconcile every node; state is saved after each change.
    pub async fn apply(&self, locked: &mut LockedState) -> RunReport {
        let run = Mutex::new(Run::new(locked.state().nodes.clone(), Some(locked)));
        self.walk(false, |i| self.apply_node(i, &run)).await
    }

    /// Reconcile every node, with `beside` running alongside: it waits (through
    /// [`Beside::ready`]) for the nodes it needs and acts while the rest is built, as
    /// `up`'s schema step runs on DSQL while OpenSearch is still being made. The walk
    /// goes on whatever `beside` does; both results are returned.
    pub async fn apply_beside<T>(
        &self,
        locked: &mut LockedState,
        beside: impl AsyncFnOnce(&Beside<'_, '_>) -> T,
    ) -> (RunReport, T) {
        let run = Mutex::new(Run::new(locked.state().nodes.clone(), Some(locked)));
        // A fresh start, before the work beside subscribes: an earlier walk's end is not this one's.
        self.progress.send_replace(WalkProgress::default());
        let side = Beside { run: &run, progress: self.progress.subscribe() };
        futures_util::future::join(self.walk(false, |i| self.apply_node(i, &run)), beside(&side)).await
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

    /// Delete only `targets`, in reverse dependency order among them; nothing else is read
    /// or deleted. `up` uses it to retire what deploy.yaml no longer asks for (the nodes
    /// the state records and the current graph lacks), on a graph that still has them.
    pub async fn destroy_only(&self, locked: &mut LockedState, targets: &[&str]) -> RunReport {
        let wanted: std::collections::BTreeSet<usize> = targets.iter().filter_map(|t| self.graph.find(t)).collect();
        let run = Mutex::new(Run::new(locked.state().nodes.clone(), Some(locked)));
        let kept = self.kept_on_destroy();
        let (run, kept, wanted_ref) = (&run, &kept, &wanted);
        let mut report = self
            .walk(true, |i| async move {
                if wanted_ref.contains(&i) { self.destroy_node(i, run, kept).await } else { Ok(Outcome::Skipped) }
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
        // Whose identity-only dependents were released already (forward walks only).
        let mut released = vec![false; n];
        lock_vec(&self.identified).clear();
        self.progress.send_replace(WalkProgress::default());
        let mut release = |i: usize, finished: bool, waiting_on: &mut Vec<usize>, ready: &mut Vec<usize>| {
            if reverse {
                for j in g.deps_of(i).collect::<Vec<_>>() {
                    unblock(waiting_on, ready, &order, j);
                }
                return;
            }
            let first_time = !std::mem::replace(&mut released[i], true);
            for &j in g.dependents_of(i) {
                let counts = match g.need(j, i) {
                    Need::Identity => first_time,
                    Need::Ready => finished,
                };
                if counts {
                    unblock(waiting_on, ready, &order, j);
                }
            }
        };
        loop {
            if self.cancel.is_cancelled() && !stopped {
                stopped = true;
                report.cancelled = true;
            }
            if stopped {
                self.progress.send_if_modified(|p| !std::mem::replace(&mut p.over, true));
            }
            for i in std::mem::take(&mut *lock_vec(&self.identified)) {
                release(i, false, &mut waiting_on, &mut ready);
            }
            while !stopped && let Some(i) = ready.pop() {
                let fut = work(i);
                in_flight.push(async move { (i, fut.await) });
            }
            if in_flight.is_empty() {
                break;
            }
            let news = std::pin::pin!(self.identified_news.notified());
            let Either::Left((Some((i, result)), _)) = select(in_flight.next(), news).await else {
                continue;
            };
            let id = g.node(i).id.clone();
            match result {
                Ok(outcome) => {
                    if outcome != Outcome::Skipped {
                        self.progress.send_modify(|p| {
                            p.ready.insert(id.clone());
                        });
                    }
                    report.outcomes.insert(id, outcome);
                    release(i, true, &mut waiting_on, &mut ready);
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
        self.progress.send_modify(|p| p.over = true);
        for i in order {
            report.outcomes.entry(g.node(i).id.clone()).or_insert(Outcome::Skipped);
        }
        report.elapsed = self.started.elapsed();
        report
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
        let report = |kind| self.emit(kind);
        let retrying = Retrying { policy: &self.opts.retry, cancel: &self.cancel, report: Some(&report) };
        retrying
            .call(&node.id, retries, deadline, || async {
                let _permit = self.permits.acquire().await.map_err(|_| ResourceError::fatal("engine closed"))?;
                op().await
            })
            .await
    }

    /// The context for a node's first read: from a listing while nothing has changed.
    fn first_look<'c>(&self, cx: &Cx<'c>) -> Cx<'c> {
        Cx { may_read_from_listing: !self.changed.load(Ordering::Relaxed), ..*cx }
    }

    fn started_doing(&self, node: &Node, doing: &'static str) {
        self.emit(EventKind::NodeStarted { node: node.id.clone(), kind: node.resource.kind(), doing });
    }

    fn finished(&self, node: &Node, outcome: Outcome, id: Option<String>) {
        self.emit(EventKind::NodeFinished { node: node.id.clone(), outcome, id });
    }

    /// `node`'s identity is known before it is ready: its identity-only dependents may
    /// start (their inputs hold what the create or the read returned).
    fn identify(&self, node: &Node) {
        if let Some(i) = self.graph.find(&node.id) {
            lock_vec(&self.identified).push(i);
            self.identified_news.notify_one();
        }
    }

    fn emit(&self, kind: EventKind) {
        self.events.emit(Event { elapsed: self.started.elapsed(), kind });
    }
}

/// One dependency of `j` is met; when none is left, `j` joins the ready nodes, in the
/// graph's order among those that became ready together.
fn unblock(waiting_on: &mut [usize], ready: &mut Vec<usize>, order: &[usize], j: usize) {
    waiting_on[j] -= 1;
    if waiting_on[j] == 0 {
        let pos = ready.partition_point(|r| order_pos(order, *r) > order_pos(order, j));
        ready.insert(pos, j);
    }
}

fn lock_vec(v: &Mutex<Vec<usize>>) -> std::sync::MutexGuard<'_, Vec<usize>> {
    v.lock().unwrap_or_else(|e| e.into_inner())
}

fn order_pos(order: &[usize], i: usize) -> usize {
    order.iter().position(|o| *o == i).unwrap_or(usize::MAX)
}
