//! The engine against fake resources: an in-memory cloud with a call log, scripted
//! failures and a concurrency gauge.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use temporalctl_engine::*;

#[derive(Default)]
struct Cloud {
    objects: BTreeMap<String, Observed>, // by node
    log: Vec<(String, &'static str)>,
    /// For each read: its place in `log`, and whether it could come from a listing.
    reads: Vec<(usize, bool)>,
    scripted: BTreeMap<(String, &'static str), VecDeque<ErrorClass>>,
    pending_reads: BTreeMap<String, u32>,
    /// A second object carrying a node's tags (left by an earlier run, made by hand).
    twins: BTreeMap<String, Observed>,
    /// Reads that do not see a node's object yet (AWS's eventual consistency).
    invisible_reads: BTreeMap<String, u32>,
    /// A field a node's update leaves as it was (an update that does not take).
    ignored_by_update: BTreeMap<String, String>,
    /// Reads that still show a node as it was before its update (eventual consistency),
    /// with that old copy.
    stale_after_update: BTreeMap<String, u32>,
    stale: BTreeMap<String, (Observed, u32)>,
    /// Nodes whose object fails while still pending (a cluster that goes to FAILED).
    fails_while_pending: std::collections::BTreeSet<String>,
    in_flight: usize,
    max_in_flight: usize,
    next_id: u32,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Cloud>>);

impl Fake {
    fn cloud(&self) -> std::sync::MutexGuard<'_, Cloud> {
        self.0.lock().unwrap()
    }
    fn fail(&self, node: &str, op: &'static str, classes: &[ErrorClass]) {
        self.cloud().scripted.insert((node.into(), op), classes.iter().copied().collect());
    }
    fn mutating_calls(&self) -> Vec<(String, &'static str)> {
        self.cloud().log.iter().filter(|(_, op)| *op != "read").cloned().collect()
    }
    fn resource(&self, node: &str, parent: Option<&str>) -> FakeResource {
        FakeResource {
            fake: self.clone(),
            node: node.into(),
            parent: parent.map(String::from),
            delay: Duration::from_millis(10),
            retention: Retention::Delete,
            async_delete: false,
            irreversible_size: false,
            busy_refuses_changes: false,
        }
    }
}

struct FakeResource {
    fake: Fake,
    node: String,
    parent: Option<String>,
    delay: Duration,
    retention: Retention,
    async_delete: bool,
    /// A change of `size` cannot be undone (as an engine upgrade), and is noted in plans.
    irreversible_size: bool,
    /// Refuses a change while pending (an OpenSearch domain in a blue/green deployment).
    busy_refuses_changes: bool,
}

impl FakeResource {
    async fn enter(&self, op: &'static str) -> Result<(), ResourceError> {
        {
            let mut c = self.fake.cloud();
            c.log.push((self.node.clone(), op));
            c.in_flight += 1;
            c.max_in_flight = c.max_in_flight.max(c.in_flight);
        }
        tokio::time::sleep(self.delay).await;
        let mut c = self.fake.cloud();
        c.in_flight -= 1;
        if let Some(class) = c.scripted.get_mut(&(self.node.clone(), op)).and_then(VecDeque::pop_front) {
            return Err(ResourceError::new(class, format!("scripted {op} failure")));
        }
        Ok(())
    }
}

#[async_trait]
impl Resource for FakeResource {
    fn kind(&self) -> &'static str {
        "fake"
    }
    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        let mut a = Attrs::new();
        a.insert("size".into(), "small".into());
        if let Some(p) = &self.parent {
            a.insert("parent".into(), inputs.get(p, "id")?.to_string());
        }
        Ok(a)
    }
    fn forces_replace(&self, field: &str) -> bool {
        field == "parent"
    }
    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        {
            let mut c = self.fake.cloud();
            let at = c.log.len();
            c.reads.push((at, cx.may_read_from_listing));
        }
        self.enter("read").await?;
        let mut c = self.fake.cloud();
        if c.objects.contains_key(&self.node)
            && let Some(n) = c.invisible_reads.get_mut(&self.node).filter(|n| **n > 0)
        {
            *n -= 1;
            return Ok(None);
        }
        let pending = c.pending_reads.get_mut(&self.node).map(|n| {
            *n = n.saturating_sub(1);
            *n > 0
        });
        if let Some((old, n)) = c.stale.get_mut(&self.node).filter(|(_, n)| *n > 0) {
            *n -= 1;
            return Ok(Some(old.clone()));
        }
        if pending == Some(true) && c.objects.contains_key(&self.node) && c.fails_while_pending.contains(&self.node) {
            return Err(ResourceError::fatal(format!("{} went to FAILED while being created", self.node)));
        }
        let pend = |o: Observed| if pending == Some(true) { o.status(Status::Pending("pending".into())) } else { o };
        // As the AWS kinds read: by the recorded id, else by the node's tags.
        let mine = c.objects.get(&self.node).cloned().map(pend);
        let twin = c.twins.get(&self.node).cloned();
        let tagged: Vec<Observed> = mine.into_iter().chain(twin).collect();
        if let Some(id) = cx.recorded_id
            && let Some(found) = tagged.iter().find(|o| o.id == id)
        {
            if cx.may_read_from_listing && tagged.len() > 1 {
                return claim(tagged, "fake", cx, |o| Some(o.id.as_str()));
            }
            return Ok(Some(found.clone()));
        }
        if cx.follow_id {
            return Ok(None);
        }
        claim(tagged, "fake", cx, |o| Some(o.id.as_str()))
    }
    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        self.enter("create").await?;
        let mut c = self.fake.cloud();
        if c.objects.contains_key(&self.node) {
            return Err(ResourceError::new(ErrorClass::Conflict, "duplicate"));
        }
        c.next_id += 1;
        let mut o = Observed::new(format!("{}-{}", self.node, c.next_id)).tags(cx.tags.clone());
        o.attrs = desired.clone();
        // A create of two calls whose second fails: the object exists, half configured.
        if let Some(class) =
            c.scripted.get_mut(&(self.node.clone(), "create-second-call")).and_then(VecDeque::pop_front)
        {
            o.attrs.remove("size");
            c.objects.insert(self.node.clone(), o);
            return Err(ResourceError::new(class, "scripted failure of the create's second call"));
        }
        c.objects.insert(self.node.clone(), o.clone());
        // Async kinds come back from create still pending, as a NAT gateway does.
        let pending = c.pending_reads.get(&self.node).is_some_and(|n| *n > 0);
        Ok(if pending { o.status(Status::Pending("pending".into())) } else { o })
    }
    async fn update(
        &self,
        _cx: &Cx<'_>,
        _o: &Owned<Observed>,
        desired: &Attrs,
        _changed: &[String],
    ) -> Result<(), ResourceError> {
        self.enter("update").await?;
        let mut c = self.fake.cloud();
        if let Some(n) = c.stale_after_update.get(&self.node).copied() {
            let before = c.objects[&self.node].clone();
            c.stale.insert(self.node.clone(), (before, n));
        }
        let ignored = c.ignored_by_update.get(&self.node).cloned();
        let o = c.objects.get_mut(&self.node).unwrap();
        o.attrs.extend(desired.clone().into_iter().filter(|(k, _)| Some(k) != ignored.as_ref()));
        Ok(())
    }
    async fn retag(&self, cx: &Cx<'_>, _o: &Owned<Observed>) -> Result<(), ResourceError> {
        self.enter("retag").await?;
        self.fake.cloud().objects.get_mut(&self.node).unwrap().tags.extend(cx.tags.clone());
        Ok(())
    }
    fn retention(&self) -> Retention {
        self.retention
    }
    fn change_note(&self, _: &Observed, _: &Inputs, changed: &[String]) -> Option<String> {
        (self.irreversible_size && changed.iter().any(|f| f == "size")).then(|| "a long one-way change".to_string())
    }
    fn busy_refuses_changes(&self) -> bool {
        self.busy_refuses_changes
    }
    fn irreversible(&self, field: &str) -> Option<&'static str> {
        (self.irreversible_size && field == "size").then_some("cannot be undone; pass --allow-it")
    }
    fn delete_is_async(&self) -> bool {
        self.async_delete
    }

    /// Fakes read their parent's id.
    fn references(&self) -> Vec<NodeId> {
        self.parent.iter().cloned().collect()
    }

    /// Fakes sit in their parent.
    fn placed_in(&self) -> Vec<NodeId> {
        self.parent.iter().cloned().collect()
    }

    async fn delete(&self, _cx: &Cx<'_>, _o: &Owned<Observed>) -> Result<(), ResourceError> {
        self.enter("delete").await?;
        match self.fake.cloud().objects.remove(&self.node) {
            Some(_) => Ok(()),
            None => Err(ResourceError::new(ErrorClass::NotFound, "gone")),
        }
    }
}

/// a <- b <- c, a <- d; e stands alone.
fn graph(fake: &Fake) -> Graph {
    let mut g = GraphBuilder::default();
    g.add_after("a", "t-a", &[], fake.resource("a", None));
    g.add_after("b", "t-b", &["a"], fake.resource("b", Some("a")));
    g.add_after("c", "t-c", &["b"], fake.resource("c", Some("b")));
    g.add_after("d", "t-d", &["a"], fake.resource("d", Some("a")));
    g.add_after("e", "t-e", &[], fake.resource("e", None));
    g.build().unwrap()
}

fn opts(parallelism: usize) -> EngineOptions {
    EngineOptions {
        project: "t".into(),
        extra_tags: Tags::new(),
        parallelism,
        retry: RetryPolicy::default(),
        delete_deadline: Duration::from_secs(600),
        destroy_data: false,
        replace_data: false,
        allow_irreversible: false,
    }
}

fn store(name: &str) -> StateStore {
    let dir: PathBuf = std::env::temp_dir().join(format!("temporalctl-walk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    StateStore::new(dir, "t", "us-east-1")
}

async fn apply(g: &Graph, store: &StateStore, parallelism: usize) -> (RunReport, Recorder) {
    let events = Recorder::default();
    let mut locked = store.lock("up").unwrap();
    let report = Engine::new(g, opts(parallelism), &events, CancelToken::default()).apply(&mut locked).await;
    (report, events)
}

fn position(log: &[(String, &'static str)], node: &str, op: &str) -> usize {
    log.iter().position(|(n, o)| n == node && *o == op).unwrap_or_else(|| panic!("no {op} of {node} in {log:?}"))
}

#[tokio::test(start_paused = true)]
async fn creates_in_dependency_order_and_outputs_flow_to_dependents() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("order");
    let (report, _) = apply(&g, &s, 8).await;
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.count(Outcome::Created), 5);
    let log = fake.cloud().log.clone();
    assert!(position(&log, "a", "create") < position(&log, "b", "create"));
    assert!(position(&log, "b", "create") < position(&log, "c", "create"));
    let c = fake.cloud();
    assert_eq!(c.objects["b"].attrs["parent"], c.objects["a"].id);
    assert_eq!(c.objects["c"].tags[TAG_NODE], "c");
    let state = s.read().unwrap();
    assert_eq!(state.nodes.len(), 5);
    assert!(state.nodes.values().all(|r| r.phase == Phase::Ready));
}

#[tokio::test(start_paused = true)]
async fn a_second_apply_makes_no_mutating_call() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("noop");
    apply(&g, &s, 8).await;
    fake.cloud().log.clear();
    let (report, events) = apply(&g, &s, 8).await;
    assert_eq!(report.count(Outcome::Unchanged), 5);
    assert!(fake.mutating_calls().is_empty());
    assert!(!events.kinds().contains(&EventKind::StateSaved), "nothing changed, nothing written");
}

#[tokio::test(start_paused = true)]
async fn never_more_calls_in_flight_than_the_parallelism() {
    let fake = Fake::default();
    let mut g = GraphBuilder::default();
    for i in 0..12 {
        g.add_after(format!("n{i}"), format!("t-{i}"), &[], fake.resource(&format!("n{i}"), None));
    }
    let g = g.build().unwrap();
    apply(&g, &store("bound"), 3).await;
    assert_eq!(fake.cloud().max_in_flight, 3);
}

/// `slow` takes several reads to become ready; `policy` needs only its id (an IAM policy
/// naming an ARN), `user` needs it ready.
fn identity_graph(fake: &Fake) -> Graph {
    let mut g = GraphBuilder::default();
    g.add("slow", "t-slow", fake.resource("slow", None));
    g.add("policy", "t-policy", fake.resource("policy", Some("slow")));
    g.add("user", "t-user", fake.resource("user", Some("slow")));
    g.needs_identity_only("policy", &["slow"]);
    g.build().unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_identity_only_dependent_starts_when_the_create_returns_a_readiness_one_when_it_is_ready() {
    let fake = Fake::default();
    let g = identity_graph(&fake);
    fake.cloud().pending_reads.insert("slow".into(), 4);
    let s = store("identity");
    let (report, events) = apply(&g, &s, 8).await;
    assert!(report.ok(), "{:?}", report.failures);
    let log = fake.cloud().log.clone();
    let slow_ready = log.iter().rposition(|(n, o)| n == "slow" && *o == "read").unwrap();
    assert!(position(&log, "policy", "create") < slow_ready, "policy starts while slow is being made: {log:?}");
    assert!(position(&log, "user", "create") > slow_ready, "user waits for slow to be ready: {log:?}");
    // The identity-only dependent read the id the create returned.
    let slow_id = fake.cloud().objects["slow"].id.clone();
    assert_eq!(fake.cloud().objects["policy"].attrs["parent"], slow_id);
    let finished = |node: &str| {
        events.kinds().iter().position(|k| matches!(k, EventKind::NodeFinished { node: n, .. } if n == node)).unwrap()
    };
    assert!(finished("policy") < finished("slow"), "policy is done while slow is still being made");
    // Found still being made by an interrupted run of ours (the state says `Creating`):
    // its identity is known just the same.
    let (g, s) = (&g, &s);
    let rerun = |recorded_phase: Phase| {
        let fake = fake.clone();
        async move {
            fake.cloud().objects.remove("policy");
            fake.cloud().objects.remove("user");
            fake.cloud().pending_reads.insert("slow".into(), 4);
            let mut locked = s.lock("up").unwrap();
            let mut slow = locked.state().nodes["slow"].clone();
            slow.phase = recorded_phase;
            locked.record_node("slow", slow).unwrap();
            drop(locked);
            let from = fake.cloud().log.len();
            let (report, _) = apply(g, s, 8).await;
            assert!(report.ok(), "{:?}", report.failures);
            let log = fake.cloud().log[from..].to_vec();
            let slow_ready = log.iter().rposition(|(n, o)| n == "slow" && *o == "read").unwrap();
            assert!(position(&log, "user", "create") > slow_ready, "{log:?}");
            position(&log, "policy", "create") < slow_ready
        }
    };
    assert!(rerun(Phase::Creating).await, "policy starts while slow, ours, is still being made");
    // Pending for a reason of its own (a deletion under way), it hands out nothing.
    assert!(!rerun(Phase::Ready).await, "policy waits: slow was recorded as made and is pending again");
}

#[tokio::test(start_paused = true)]
async fn a_create_that_fails_after_handing_out_its_identity_fails_the_run_and_the_dependent_is_recorded() {
    let fake = Fake::default();
    let g = identity_graph(&fake);
    fake.cloud().pending_reads.insert("slow".into(), 4);
    fake.cloud().fails_while_pending.insert("slow".into());
    let s = store("identity-fails");
    let (report, _) = apply(&g, &s, 8).await;
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].0, "slow");
    assert!(report.failures[0].1.message.contains("went to FAILED"), "{}", report.failures[0].1);
    assert_eq!(report.outcomes["policy"], Outcome::Created, "the dependent's work is reported");
    assert_eq!(report.outcomes["user"], Outcome::Skipped);
    let state = s.read().unwrap();
    assert_eq!(state.nodes["slow"].phase, Phase::Creating, "slow's id is known, its readiness is not");
    assert_eq!(state.nodes["policy"].phase, Phase::Ready);
    assert_eq!(state.nodes["policy"].id, fake.cloud().objects["policy"].id);
    assert!(!state.nodes.contains_key("user"));
}

#[tokio::test(start_paused = true)]
async fn work_beside_the_walk_starts_when_its_nodes_are_ready_and_records_in_the_state() {
    let fake = Fake::default();
    let g = identity_graph(&fake);
    fake.cloud().pending_reads.insert("slow".into(), 6);
    let s = store("beside");
    let events = Recorder::default();
    let mut locked = s.lock("up").unwrap();
    let engine = Engine::new(&g, opts(8), &events, CancelToken::default());
    let (report, seen) = engine
        .apply_beside(&mut locked, async |walk| {
            let nodes = walk.ready(&["policy".to_string()]).await?;
            // What the step saw: slow's readiness had not come yet.
            let log_len = fake.cloud().log.len();
            walk.record_step("schema", "v1".into()).ok()?;
            Some((nodes.contains_key("policy"), log_len))
        })
        .await;
    assert!(report.ok(), "{:?}", report.failures);
    let (saw_policy, at) = seen.expect("the work beside ran");
    assert!(saw_policy, "the state it got records the node it waited for");
    let log = fake.cloud().log.clone();
    let slow_ready = log.iter().rposition(|(n, o)| n == "slow" && *o == "read").unwrap();
    assert!(at <= slow_ready, "it ran while slow was still being made: at {at}, slow ready at {slow_ready}");
    drop(locked);
    assert_eq!(s.read().unwrap().steps["schema"], "v1");
}

#[tokio::test(start_paused = true)]
async fn work_beside_a_walk_that_fails_gets_nothing_to_wait_for() {
    let fake = Fake::default();
    let g = identity_graph(&fake);
    fake.cloud().pending_reads.insert("slow".into(), 4);
    fake.cloud().fails_while_pending.insert("slow".into());
    let s = store("beside-fails");
    let events = Recorder::default();
    let mut locked = s.lock("up").unwrap();
    let engine = Engine::new(&g, opts(8), &events, CancelToken::default());
    let beside = async |walk: &Beside<'_, '_>| walk.ready(&["user".to_string()]).await.is_some();
    // A bound, so a walk that never said it stopped fails here instead of hanging.
    let run = engine.apply_beside(&mut locked, beside);
    let (report, seen) = tokio::time::timeout(Duration::from_secs(3600), run).await.expect("the walk ends");
    assert!(!report.ok());
    assert!(!seen, "user never became ready: the work beside gives up when the walk stops");
}

#[tokio::test(start_paused = true)]
async fn a_walk_after_another_on_the_same_engine_does_not_see_the_first_ones_end() {
    // `up` on a stack whose schema moved on: `apply_only` first, then the whole walk with
    // the steps beside it, on one engine.
    let fake = Fake::default();
    let g = identity_graph(&fake);
    fake.cloud().pending_reads.insert("slow".into(), 4);
    let s = store("beside-second");
    let events = Recorder::default();
    let mut locked = s.lock("up").unwrap();
    let engine = Engine::new(&g, opts(8), &events, CancelToken::default());
    assert!(engine.apply_only(&mut locked, &["slow"]).await.ok());
    let (report, seen) = engine.apply_beside(&mut locked, async |walk| walk.ready(&["user".to_string()]).await).await;
    assert!(report.ok(), "{:?}", report.failures);
    let nodes = seen.expect("user became ready in the second walk: the first one's end is not this one's");
    assert!(nodes.contains_key("user"));
}

#[test]
fn an_identity_only_edge_must_be_a_dependency() {
    let fake = Fake::default();
    let mut g = GraphBuilder::default();
    g.add("a", "t-a", fake.resource("a", None));
    g.add("b", "t-b", fake.resource("b", None));
    g.needs_identity_only("b", &["a"]);
    assert!(matches!(g.build(), Err(GraphError::UnknownDependency { .. })));
}

#[tokio::test(start_paused = true)]
async fn a_failure_stops_new_work_lets_in_flight_finish_and_saves_state() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("fail");
    fake.fail("b", "create", &[ErrorClass::Fatal]);
    let (report, events) = apply(&g, &s, 8).await;
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].0, "b");
    assert_eq!(report.outcomes["b"], Outcome::Failed);
    assert_eq!(report.outcomes["c"], Outcome::Skipped, "dependents of a failed node never start");
    assert!(events.kinds().iter().any(|k| matches!(k, EventKind::NodeFailed { node, .. } if node == "b")));
    // a and e were created before or alongside b; their ids are in the state file.
    let state = s.read().unwrap();
    assert!(state.nodes.contains_key("a") && state.nodes.contains_key("e"));
    // The next run continues from there.
    let (report, _) = apply(&g, &s, 8).await;
    assert!(report.ok());
    assert_eq!(report.count(Outcome::Unchanged), report.outcomes.len() - report.count(Outcome::Created));
    assert_eq!(fake.cloud().objects.len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_retried_create_adopts_what_its_failed_attempt_made_instead_of_duplicating_it() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("partial-create");
    fake.fail("b", "create-second-call", &[ErrorClass::Retryable(RetryReason::Throttling)]);
    let (report, _) = apply(&g, &s, 8).await;
    assert!(report.ok(), "{:?}", report.failures);
    let b: Vec<&'static str> = fake.cloud().log.iter().filter(|(n, _)| n == "b").map(|(_, op)| *op).collect::<Vec<_>>();
    // The retry looked, found the half-made b and finished it, with no second create.
    assert_eq!(b, ["read", "create", "read", "update", "read"]);
    let c = fake.cloud();
    assert_eq!(c.objects["b"].attrs["size"], "small", "the failed second call's work was done by the update");
    assert_eq!(c.objects["b"].id, s.read().unwrap().nodes["b"].id);
}

#[tokio::test(start_paused = true)]
async fn only_first_looks_before_any_change_may_come_from_a_listing() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("listing");
    fake.cloud().pending_reads.insert("e".into(), 3);
    apply(&g, &s, 8).await;
    {
        let c = fake.cloud();
        let first_change = c.log.iter().position(|(_, op)| *op != "read").unwrap();
        let listed: Vec<usize> = c.reads.iter().filter(|(_, listed)| *listed).map(|(at, _)| *at).collect();
        assert!(!listed.is_empty(), "the first looks, before any create, may be listed");
        assert!(listed.iter().all(|at| *at <= first_change), "none after the first change: {:?}", c.reads);
        // e's waits (reads after its create) are fresh.
        let e_reads = c.log.iter().enumerate().filter(|(_, (n, op))| n == "e" && *op == "read").count();
        assert!(e_reads >= 3 && c.reads.iter().filter(|(_, listed)| !*listed).count() >= 3);
    }
    // A walk that changes nothing: every read is a first look before any change.
    fake.cloud().reads.clear();
    let (report, _) = apply(&g, &s, 8).await;
    assert_eq!(report.count(Outcome::Unchanged), 5);
    assert_eq!(fake.cloud().reads.iter().filter(|(_, listed)| *listed).count(), 5);
}

#[tokio::test(start_paused = true)]
async fn destroy_walks_in_reverse_and_is_idempotent() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("destroy");
    apply(&g, &s, 8).await;
    fake.cloud().log.clear();
    let events = Recorder::default();
    let mut locked = s.lock("down").unwrap();
    let report = Engine::new(&g, opts(8), &events, CancelToken::default()).destroy(&mut locked).await;
    drop(locked);
    assert_eq!(report.count(Outcome::Deleted), 5);
    let log = fake.cloud().log.clone();
    assert!(position(&log, "c", "delete") < position(&log, "b", "delete"));
    assert!(position(&log, "b", "delete") < position(&log, "a", "delete"));
    assert!(position(&log, "d", "delete") < position(&log, "a", "delete"));
    assert!(s.read().unwrap().nodes.is_empty());
    let mut locked = s.lock("down").unwrap();
    let again = Engine::new(&g, opts(8), &events, CancelToken::default()).destroy(&mut locked).await;
    assert_eq!(again.count(Outcome::Absent), 5);
}

#[tokio::test(start_paused = true)]
async fn retryable_errors_are_retried_with_events_fatal_ones_are_not() {
    let fake = Fake::default();
    let g = graph(&fake);
    let throttled = ErrorClass::Retryable(RetryReason::Throttling);
    fake.fail("a", "create", &[throttled, ErrorClass::Retryable(RetryReason::Propagation)]);
    let (report, events) = apply(&g, &store("retry"), 8).await;
    assert!(report.ok());
    let retries =
        events.kinds().into_iter().filter(|k| matches!(k, EventKind::NodeRetrying { node, .. } if node == "a")).count();
    assert_eq!(retries, 2);
}

#[tokio::test(start_paused = true)]
async fn drift_is_repaired_and_only_drift() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("drift");
    apply(&g, &s, 8).await;
    fake.cloud().objects.get_mut("d").unwrap().attrs.insert("size".into(), "huge".into());
    fake.cloud().objects.remove("e");
    fake.cloud().log.clear();
    let (report, _) = apply(&g, &s, 8).await;
    assert_eq!(report.outcomes["d"], Outcome::Updated);
    assert_eq!(report.outcomes["e"], Outcome::Created);
    assert_eq!(report.count(Outcome::Unchanged), 3);
    let mut calls = fake.mutating_calls();
    calls.sort();
    assert_eq!(calls, vec![("d".to_string(), "update"), ("e".to_string(), "create")]);
}

#[tokio::test(start_paused = true)]
async fn lost_tags_go_to_the_retag_hook_and_a_changed_field_to_update_alone() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("retag");
    apply(&g, &s, 8).await;
    fake.cloud().objects.get_mut("b").unwrap().tags.remove("Name");
    fake.cloud().objects.get_mut("d").unwrap().attrs.insert("size".into(), "huge".into());
    // Both on one node: an update that leaves tags alone is followed by a retag.
    fake.cloud().objects.get_mut("c").unwrap().attrs.insert("size".into(), "huge".into());
    fake.cloud().objects.get_mut("c").unwrap().tags.remove("Name");
    fake.cloud().log.clear();
    let (report, _) = apply(&g, &s, 8).await;
    assert_eq!(report.outcomes["b"], Outcome::Updated);
    assert_eq!(report.outcomes["d"], Outcome::Updated);
    let mut calls = fake.mutating_calls();
    calls.sort();
    let expected = [("b", "retag"), ("c", "retag"), ("c", "update"), ("d", "update")];
    assert_eq!(calls, expected.map(|(n, op)| (n.to_string(), op)));
    assert!(fake.cloud().objects["c"].tags.contains_key("Name"));
    assert!(fake.cloud().objects["b"].tags.contains_key("Name"));
}

#[tokio::test(start_paused = true)]
async fn an_update_that_does_not_take_is_an_error_naming_the_field_not_an_update_every_run() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("no-take");
    apply(&g, &s, 8).await;
    fake.cloud().objects.get_mut("d").unwrap().attrs.insert("size".into(), "huge".into());
    fake.cloud().ignored_by_update.insert("d".into(), "size".into());
    let (report, _) = apply(&g, &s, 8).await;
    let (node, e) = &report.failures[0];
    assert_eq!(node, "d");
    assert!(e.message.contains("fake d: updated, but a fresh read still differs"), "{e}");
    assert!(e.message.contains("size: wanted small, found huge"), "{e}");
    assert_eq!(e.class, ErrorClass::Fatal);
}

#[tokio::test(start_paused = true)]
async fn a_read_that_lags_an_update_is_read_again_until_it_shows_it() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("lagging");
    apply(&g, &s, 8).await;
    fake.cloud().objects.get_mut("d").unwrap().attrs.insert("size".into(), "huge".into());
    fake.cloud().stale_after_update.insert("d".into(), 3);
    let (report, _) = apply(&g, &s, 8).await;
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.outcomes["d"], Outcome::Updated);
    let reads_of_d = fake.cloud().log.iter().filter(|(n, op)| n == "d" && *op == "read").count();
    assert!(reads_of_d >= 5, "the first look, three stale reads, one that shows the update: {reads_of_d}");
}

#[tokio::test(start_paused = true)]
async fn replacing_a_leaf_works_replacing_a_parent_is_refused_before_any_change() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("replace");
    apply(&g, &s, 8).await;
    // c's parent attribute is immutable: pretend it points elsewhere.
    fake.cloud().objects.get_mut("c").unwrap().attrs.insert("parent".into(), "b-old".into());
    let (report, _) = apply(&g, &s, 8).await;
    assert_eq!(report.outcomes["c"], Outcome::Replaced);

    fake.cloud().objects.get_mut("b").unwrap().attrs.insert("parent".into(), "a-old".into());
    let before = fake.cloud().objects["b"].id.clone();
    let (report, _) = apply(&g, &s, 8).await;
    assert_eq!(report.outcomes["b"], Outcome::Failed);
    let msg = report.failures[0].1.to_string();
    assert!(msg.contains("depend on it (c)") && msg.contains("`down`"), "{msg}");
    assert_eq!(fake.cloud().objects["b"].id, before, "b untouched");
}

#[tokio::test(start_paused = true)]
async fn resources_without_our_tags_are_never_modified_or_deleted() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("owner");
    apply(&g, &s, 8).await;
    fake.cloud().objects.get_mut("e").unwrap().tags.clear();
    fake.cloud().log.clear();
    let (report, _) = apply(&g, &s, 8).await;
    assert_eq!(report.outcomes["e"], Outcome::Failed);
    assert!(report.failures[0].1.to_string().contains("not owned by this deployment"));
    let mut locked = s.lock("down").unwrap();
    let events = Recorder::default();
    let report = Engine::new(&g, opts(8), &events, CancelToken::default()).destroy(&mut locked).await;
    assert_eq!(report.outcomes["e"], Outcome::Failed);
    assert!(fake.cloud().objects.contains_key("e"));
    assert!(!fake.mutating_calls().iter().any(|(n, _)| n == "e"));
}

#[tokio::test(start_paused = true)]
async fn async_resources_are_waited_until_ready() {
    let fake = Fake::default();
    let g = graph(&fake);
    fake.cloud().pending_reads.insert("a".into(), 4);
    let s = store("wait");
    let (report, events) = apply(&g, &s, 8).await;
    assert!(report.ok());
    let waits =
        events.kinds().into_iter().filter(|k| matches!(k, EventKind::NodeWaiting { node, .. } if node == "a")).count();
    assert!(waits >= 2, "{waits}");
    let log = fake.cloud().log.clone();
    let a_ready = log.iter().rposition(|(n, o)| n == "a" && *o == "read").unwrap();
    assert!(a_ready < position(&log, "b", "create"), "b waits for a to be ready");
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_run_stops_starting_work_and_the_next_converges() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("cancel");
    let cancel = CancelToken::default();
    fake.cloud().pending_reads.insert("a".into(), 1000);
    let events = Recorder::default();
    let mut locked = s.lock("up").unwrap();
    let engine = Engine::new(&g, opts(8), &events, cancel.clone());
    let (report, ()) = tokio::join!(engine.apply(&mut locked), async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        cancel.cancel();
    });
    drop(locked);
    assert!(report.cancelled);
    assert_eq!(report.outcomes["b"], Outcome::Skipped);
    assert_eq!(s.read().unwrap().nodes["a"].phase, Phase::Creating, "a's id was saved before the wait");
    fake.cloud().pending_reads.clear();
    let (report, _) = apply(&g, &s, 8).await;
    assert!(report.ok());
    assert_eq!(fake.cloud().objects.len(), 5);
    assert_eq!(fake.cloud().next_id, 5, "nothing created twice");
}

#[tokio::test(start_paused = true)]
async fn plan_makes_no_mutating_call_and_marks_dependents_of_new_nodes() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("plan");
    apply(&g, &s, 8).await;
    fake.cloud().objects.remove("a");
    fake.cloud().objects.get_mut("e").unwrap().attrs.insert("size".into(), "huge".into());
    fake.cloud().log.clear();
    fake.cloud().max_in_flight = 0;
    let events = Recorder::default();
    let (planned, report) = Engine::new(&g, opts(8), &events, CancelToken::default()).plan(&s.read().unwrap()).await;
    assert!(report.ok());
    assert!(fake.mutating_calls().is_empty());
    let by: BTreeMap<_, _> = planned.iter().map(|p| (p.node.as_str(), p.change.name())).collect();
    assert_eq!(by["a"], "create");
    assert_eq!(by["b"], "replace");
    assert_eq!(by["e"], "update");
    // Reads use no inputs: all five were in flight at once, not level by level (a and e
    // first, then b and d, then c), and each was a first look that a listing may answer.
    let c = fake.cloud();
    assert_eq!(c.log.len(), 5);
    assert_eq!(c.max_in_flight, 5, "a plan reads every node at once");
    assert!(c.reads.iter().rev().take(5).all(|(_, listed)| *listed));
}

#[test]
fn cycles_and_unknown_dependencies_are_caught_when_the_graph_is_built() {
    let fake = Fake::default();
    let mut g = GraphBuilder::default();
    g.add_after("x", "x", &["z"], fake.resource("x", None));
    g.add_after("y", "y", &["x"], fake.resource("y", None));
    g.add_after("z", "z", &["y"], fake.resource("z", None));
    let err = g.build().err().unwrap();
    assert!(matches!(&err, GraphError::Cycle(c) if c.len() == 4), "{err}");
    let mut g = GraphBuilder::default();
    g.add_after("x", "x", &["nope"], fake.resource("x", None));
    assert_eq!(g.build().err().unwrap(), GraphError::UnknownDependency { node: "x".into(), dep: "nope".into() });
}

#[tokio::test(start_paused = true)]
async fn down_keeps_data_and_what_it_sits_in_unless_told_to_destroy_data() {
    let fake = Fake::default();
    let mut g = GraphBuilder::default();
    g.add_after("a", "t-a", &[], fake.resource("a", None));
    g.add_after("b", "t-b", &["a"], fake.resource("b", Some("a")));
    g.add_after("c", "t-c", &["b"], FakeResource { retention: Retention::Data, ..fake.resource("c", Some("b")) });
    g.add_after("d", "t-d", &["a"], fake.resource("d", Some("a")));
    let g = g.build().unwrap();
    let s = store("keep");
    apply(&g, &s, 8).await;
    let events = Recorder::default();
    let mut locked = s.lock("down").unwrap();
    let report = Engine::new(&g, opts(8), &events, CancelToken::default()).destroy(&mut locked).await;
    drop(locked);
    assert!(report.ok());
    // c holds data; b and a hold c; d goes.
    assert_eq!(
        [report.outcomes["a"], report.outcomes["b"], report.outcomes["c"], report.outcomes["d"]],
        [Outcome::Kept, Outcome::Kept, Outcome::Kept, Outcome::Deleted]
    );
    assert!(
        events.kinds().iter().any(
            |k| matches!(k, EventKind::NodeKept { node, reason } if node == "b" && reason.contains("c sits in it"))
        )
    );
    let mut locked = s.lock("down").unwrap();
    let all = Engine::new(&g, EngineOptions { destroy_data: true, ..opts(8) }, &events, CancelToken::default())
        .destroy(&mut locked)
        .await;
    assert_eq!(all.count(Outcome::Deleted), 3);
    assert!(fake.cloud().objects.is_empty());
}

#[tokio::test(start_paused = true)]
async fn down_forgets_a_lookup_without_calling_delete_or_calling_it_kept() {
    let fake = Fake::default();
    let mut g = GraphBuilder::default();
    g.add_after("ami", "t-ami", &[], FakeResource { retention: Retention::Lookup, ..fake.resource("ami", None) });
    g.add_after("lt", "t-lt", &["ami"], fake.resource("lt", None));
    let g = g.build().unwrap();
    let s = store("lookup");
    apply(&g, &s, 8).await;
    assert!(s.read().unwrap().nodes.contains_key("ami"));
    let events = Recorder::default();
    let mut locked = s.lock("down").unwrap();
    let report = Engine::new(&g, opts(8), &events, CancelToken::default()).destroy(&mut locked).await;
    drop(locked);
    assert!(report.ok());
    assert_eq!([report.outcomes["ami"], report.outcomes["lt"]], [Outcome::Forgotten, Outcome::Deleted]);
    assert_eq!(report.count(Outcome::Kept), 0);
    let deletes: Vec<_> = fake.mutating_calls().into_iter().filter(|(_, op)| *op == "delete").collect();
    assert_eq!(deletes, [("lt".to_string(), "delete")], "the lookup is never deleted");
    assert!(s.read().unwrap().nodes.is_empty(), "and the state forgets it");
}

#[tokio::test(start_paused = true)]
async fn a_borrowed_resource_is_never_replaced_or_deleted_and_down_says_it_keeps_it() {
    let fake = Fake::default();
    let mut g = GraphBuilder::default();
    g.add_after("account", "t-account", &[], fake.resource("account", None));
    let borrowed = FakeResource { retention: Retention::Borrowed, ..fake.resource("vpc", Some("account")) };
    g.add_after("vpc", "t-vpc", &["account"], borrowed);
    g.add_after("sg", "t-sg", &["vpc"], fake.resource("sg", Some("vpc")));
    let g = g.build().unwrap();
    let s = store("borrowed");
    apply(&g, &s, 8).await;

    // Out of band, the user's resource changed in a way only a replacement would undo:
    // refused even where data replacement is allowed.
    fake.cloud().objects.get_mut("vpc").unwrap().attrs.insert("parent".into(), "elsewhere".into());
    fake.cloud().log.clear();
    let events = Recorder::default();
    let mut locked = s.lock("up").unwrap();
    let allowed = EngineOptions { replace_data: true, ..opts(8) };
    let report = Engine::new(&g, allowed, &events, CancelToken::default()).apply(&mut locked).await;
    drop(locked);
    let failure = &report.failures.iter().find(|(n, _)| n == "vpc").expect("refused").1;
    assert!(failure.message.contains("never replaces"), "{failure}");
    assert!(
        !fake.mutating_calls().iter().any(|(n, op)| n == "vpc" && *op == "delete"),
        "never deleted to replace it: {:?}",
        fake.mutating_calls()
    );

    let events = Recorder::default();
    let mut locked = s.lock("down").unwrap();
    let everything = EngineOptions { destroy_data: true, ..opts(8) };
    let report = Engine::new(&g, everything, &events, CancelToken::default()).destroy(&mut locked).await;
    drop(locked);
    assert!(report.ok(), "{:?}", report.failures);
    let outcomes = [report.outcomes["account"], report.outcomes["vpc"], report.outcomes["sg"]];
    // (The fake sits in its parent, so the account is kept with it.)
    assert_eq!(outcomes, [Outcome::Kept, Outcome::Kept, Outcome::Deleted]);
    assert!(events.kinds().iter().any(
        |k| matches!(k, EventKind::NodeKept { node, reason } if node == "vpc" && reason.contains("never deletes"))
    ));
    assert!(!fake.mutating_calls().iter().any(|(n, op)| n == "vpc" && *op == "delete"));
    assert!(fake.cloud().objects.contains_key("vpc"), "still there");
    let left: Vec<String> = s.read().unwrap().nodes.keys().cloned().collect();
    assert_eq!(left, ["account"], "the state forgets the borrowed one: the next `up` finds it by name");
}

#[tokio::test(start_paused = true)]
async fn apply_only_reconciles_the_targets_and_their_dependencies_and_nothing_else() {
    let fake = Fake::default();
    let mut g = GraphBuilder::default();
    g.add_after("net", "t-net", &[], fake.resource("net", None));
    g.add_after("role", "t-role", &[], fake.resource("role", None));
    g.add_after("tools", "t-tools", &["net", "role"], fake.resource("tools", Some("net")));
    g.add_after("svc", "t-svc", &["net"], fake.resource("svc", Some("net")));
    g.add_after("other", "t-other", &[], fake.resource("other", None));
    let g = g.build().unwrap();
    assert_eq!(g.with_dependencies(&["tools"]).len(), 3);
    let s = store("only");
    let events = Recorder::default();
    let mut locked = s.lock("up").unwrap();
    let engine = Engine::new(&g, opts(8), &events, CancelToken::default());
    let report = engine.apply_only(&mut locked, &["tools"]).await;
    assert!(report.ok());
    let touched: Vec<&str> = report.outcomes.keys().map(String::as_str).collect();
    assert_eq!(touched, ["net", "role", "tools"], "only the target and what it needs");
    let logged: Vec<String> = fake.cloud().log.iter().map(|(n, _)| n.clone()).collect();
    assert!(!logged.iter().any(|n| n == "svc" || n == "other"), "never read: {logged:?}");
    assert_eq!(locked.state().nodes.len(), 3, "and recorded");
    // The whole walk afterwards finds the first three in place and makes the rest.
    let all = engine.apply(&mut locked).await;
    drop(locked);
    assert_eq!((all.count(Outcome::Unchanged), all.count(Outcome::Created)), (3, 2), "{:?}", all.outcomes);
}

#[tokio::test(start_paused = true)]
async fn destroy_only_deletes_the_targets_dependents_first_and_nothing_else() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("destroy-only");
    apply(&g, &s, 8).await;
    fake.cloud().log.clear();
    let events = Recorder::default();
    let mut locked = s.lock("up").unwrap();
    let engine = Engine::new(&g, opts(8), &events, CancelToken::default());
    let report = engine.destroy_only(&mut locked, &["b", "c", "not-a-node"]).await;
    assert!(report.ok(), "{:?}", report.failures);
    let touched: Vec<(&str, Outcome)> = report.outcomes.iter().map(|(n, o)| (n.as_str(), *o)).collect();
    assert_eq!(touched, [("b", Outcome::Deleted), ("c", Outcome::Deleted)]);
    let log = fake.cloud().log.clone();
    assert!(position(&log, "c", "delete") < position(&log, "b", "delete"), "the dependent first: {log:?}");
    assert!(log.iter().all(|(n, _)| n == "b" || n == "c"), "nothing else read or deleted: {log:?}");
    let left: Vec<&str> = locked.state().nodes.keys().map(String::as_str).collect();
    assert_eq!(left, ["a", "d", "e"], "the state forgets exactly the deleted");
    let again = engine.destroy_only(&mut locked, &["b", "c"]).await;
    assert_eq!(again.count(Outcome::Absent), 2, "idempotent");
}

/// A fake holding data, deleted asynchronously, as the DSQL cluster is.
fn data_store(fake: &Fake, node: &str) -> FakeResource {
    FakeResource { retention: Retention::Data, async_delete: true, ..fake.resource(node, None) }
}

fn graph_of_one(resource: FakeResource) -> Graph {
    let mut g = GraphBuilder::default();
    let node = resource.node.clone();
    g.add_after(node.clone(), format!("t-{node}"), &[], resource);
    g.build().unwrap()
}

fn twin_of(fake: &Fake, node: &str) -> String {
    let mut c = fake.cloud();
    let tags = c.objects[node].tags.clone();
    let twin = Observed::new(format!("{node}-twin")).tags(tags);
    c.twins.insert(node.into(), twin);
    format!("{node}-twin")
}

#[tokio::test(start_paused = true)]
async fn a_delete_waits_on_the_id_it_deleted_never_on_another_claimant_of_the_node() {
    let fake = Fake::default();
    let g = graph_of_one(data_store(&fake, "db"));
    let s = store("twin-down");
    apply(&g, &s, 8).await;
    let recorded = s.read().unwrap().nodes["db"].id.clone();
    let twin = twin_of(&fake, "db");
    let events = Recorder::default();
    let mut locked = s.lock("down").unwrap();
    let destroy_data = EngineOptions { destroy_data: true, ..opts(8) };
    let report = Engine::new(&g, destroy_data, &events, CancelToken::default()).destroy(&mut locked).await;
    drop(locked);
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.outcomes["db"], Outcome::Deleted);
    // Without following the id, the wait's read falls back to the tags, finds the twin and
    // waits out the whole deadline "for db to be deleted".
    assert!(report.elapsed < Duration::from_secs(30), "waited {:?}", report.elapsed);
    let deletes: Vec<_> = fake.mutating_calls().into_iter().filter(|(_, op)| *op == "delete").collect();
    assert_eq!(deletes.len(), 1, "only the recorded one is deleted");
    assert!(fake.cloud().twins.contains_key("db"), "the twin stays");
    assert!(
        events
            .kinds()
            .iter()
            .any(|k| matches!(k, EventKind::NodeKept { node, reason } if node == "db" && reason.contains(&twin))),
        "the twin is reported: {:?}",
        events.kinds()
    );
    assert!(s.read().unwrap().nodes.is_empty(), "the recorded {recorded} is forgotten");
}

#[tokio::test(start_paused = true)]
async fn two_claimants_of_a_node_are_a_conflict_in_plan_and_stop_apply_before_any_change() {
    let fake = Fake::default();
    let g = graph(&fake);
    let s = store("twin-up");
    apply(&g, &s, 8).await;
    let twin = twin_of(&fake, "b");
    let recorded = s.read().unwrap().nodes["b"].id.clone();
    let events = Recorder::default();
    let (planned, report) = Engine::new(&g, opts(8), &events, CancelToken::default()).plan(&s.read().unwrap()).await;
    assert!(report.ok(), "{:?}", report.failures);
    let b = planned.iter().find(|p| p.node == "b").unwrap();
    assert_eq!(
        b.change,
        Change::Conflict { claimants: vec![recorded.clone(), twin.clone()], recorded: Some(recorded.clone()) }
    );
    let c = planned.iter().find(|p| p.node == "c").unwrap();
    assert_eq!(c.change, Change::NoChange, "the recorded one's outputs still reach its dependents");

    // Drift on b: apply must not repair it while the node is claimed twice.
    fake.cloud().objects.get_mut("b").unwrap().attrs.insert("size".into(), "large".into());
    fake.cloud().log.clear();
    let (report, _) = apply(&g, &s, 8).await;
    let failure = &report.failures.iter().find(|(n, _)| n == "b").expect("b fails").1;
    assert_eq!(failure.class, ErrorClass::Conflict);
    assert!(failure.message.contains(&twin) && failure.message.contains(&recorded), "{failure}");
    assert!(!fake.mutating_calls().iter().any(|(n, _)| n == "b"), "b untouched: {:?}", fake.mutating_calls());
}

#[tokio::test(start_paused = true)]
async fn a_recorded_data_store_that_is_gone_is_not_recreated_empty_unless_allowed() {
    let fake = Fake::default();
    let g = graph_of_one(data_store(&fake, "db"));
    let s = store("data-gone");
    apply(&g, &s, 8).await;
    fake.cloud().objects.clear();
    fake.cloud().log.clear();
    let (report, _) = apply(&g, &s, 8).await;
    let failure = &report.failures.first().expect("refused").1;
    assert!(failure.message.contains("--allow-data-replacement"), "{failure}");
    assert!(fake.mutating_calls().is_empty(), "no create");
    let events = Recorder::default();
    let mut locked = s.lock("up").unwrap();
    let allowed = EngineOptions { replace_data: true, ..opts(8) };
    let report = Engine::new(&g, allowed, &events, CancelToken::default()).apply(&mut locked).await;
    assert_eq!(report.outcomes["db"], Outcome::Created);
}

#[tokio::test(start_paused = true)]
async fn a_new_id_not_yet_visible_to_reads_is_waited_for_and_only_then_called_gone() {
    let fake = Fake::default();
    let g = graph_of_one(fake.resource("nat", None));
    fake.cloud().pending_reads.insert("nat".into(), 2);
    fake.cloud().invisible_reads.insert("nat".into(), 2);
    let (report, events) = apply(&g, &store("invisible"), 8).await;
    assert!(report.ok(), "{:?}", report.failures);
    assert!(
        events
            .kinds()
            .iter()
            .any(|k| matches!(k, EventKind::NodeWaiting { what, .. } if what.contains("not visible yet"))),
        "{:?}",
        events.kinds()
    );
    // Never visible: after the grace it is gone, and the run says so.
    let fake = Fake::default();
    let g = graph_of_one(fake.resource("nat", None));
    fake.cloud().pending_reads.insert("nat".into(), 2);
    fake.cloud().invisible_reads.insert("nat".into(), u32::MAX);
    let (report, _) = apply(&g, &store("never-visible"), 8).await;
    let failure = &report.failures.first().expect("fails").1;
    assert!(failure.message.contains("disappeared"), "{failure}");
    assert!(report.elapsed >= Duration::from_secs(120), "{:?}", report.elapsed);
}

#[tokio::test(start_paused = true)]
async fn an_irreversible_change_is_noted_in_the_plan_and_made_only_when_allowed() {
    let fake = Fake::default();
    let mut g = GraphBuilder::default();
    g.add_after("net", "t-net", &[], fake.resource("net", None));
    g.add_after("db", "t-db", &["net"], FakeResource { irreversible_size: true, ..fake.resource("db", Some("net")) });
    let g = g.build().unwrap();
    let s = store("irreversible");
    assert!(apply(&g, &s, 8).await.0.ok());
    for node in ["net", "db"] {
        fake.cloud().objects.get_mut(node).unwrap().attrs.insert("size".into(), "large".into());
    }

    let events = Recorder::default();
    let (planned, _) = Engine::new(&g, opts(8), &events, CancelToken::default()).plan(&s.read().unwrap()).await;
    let notes: Vec<_> = planned.iter().map(|p| (p.node.as_str(), p.note.as_deref())).collect();
    assert_eq!(notes, [("net", None), ("db", Some("a long one-way change"))]);

    fake.cloud().log.clear();
    let (report, _) = apply(&g, &s, 8).await;
    let failure = &report.failures.iter().find(|(n, _)| n == "db").expect("refused").1;
    assert_eq!(failure.message, "db was not changed: size: large -> small: cannot be undone; pass --allow-it");
    assert_eq!(fake.mutating_calls(), [("net".to_string(), "update")], "only the reversible change is made");

    let events = Recorder::default();
    let mut locked = s.lock("up").unwrap();
    let allowed = EngineOptions { allow_irreversible: true, ..opts(8) };
    let report = Engine::new(&g, allowed, &events, CancelToken::default()).apply(&mut locked).await;
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.outcomes["db"], Outcome::Updated);
    assert!(
        events.kinds().iter().any(|k| matches!(k, EventKind::Note { text } if text == "db: a long one-way change")),
        "the update says what it starts"
    );
}

#[tokio::test(start_paused = true)]
async fn a_busy_resource_that_refuses_changes_is_waited_for_before_a_change_and_before_an_irreversible_refusal() {
    let fake = Fake::default();
    let mut g = GraphBuilder::default();
    let busy = FakeResource { busy_refuses_changes: true, irreversible_size: true, ..fake.resource("db", None) };
    g.add_after("db", "t-db", &[], busy);
    let g = g.build().unwrap();
    let s = store("busy");
    assert!(apply(&g, &s, 8).await.0.ok());
    fake.cloud().objects.get_mut("db").unwrap().attrs.insert("size".into(), "large".into());

    // The change found running may be the irreversible one itself (an upgrade an
    // interrupted run started): waited out first, refused only if it still differs.
    fake.cloud().pending_reads.insert("db".into(), 4);
    fake.cloud().log.clear();
    let (report, _) = apply(&g, &s, 8).await;
    assert!(report.failures[0].1.message.contains("cannot be undone"), "{:?}", report.failures);
    assert!(fake.cloud().log.len() >= 3, "waited before refusing: {:?}", fake.cloud().log);
    assert!(fake.mutating_calls().is_empty());

    // Allowed: read until ready, then changed.
    fake.cloud().pending_reads.insert("db".into(), 4);
    fake.cloud().log.clear();
    let events = Recorder::default();
    let mut locked = s.lock("up").unwrap();
    let allowed = EngineOptions { allow_irreversible: true, ..opts(8) };
    let report = Engine::new(&g, allowed, &events, CancelToken::default()).apply(&mut locked).await;
    assert!(report.ok(), "{:?}", report.failures);
    let log = fake.cloud().log.clone();
    let reads_before_update = log.iter().take_while(|(_, op)| *op != "update").count();
    assert!(reads_before_update >= 3, "waited until ready before the change: {log:?}");
    assert_eq!(fake.mutating_calls(), [("db".to_string(), "update")]);
}

#[tokio::test(start_paused = true)]
async fn a_busy_resource_that_is_not_ours_is_refused_before_any_wait() {
    let fake = Fake::default();
    let mut g = GraphBuilder::default();
    g.add_after("db", "t-db", &[], FakeResource { busy_refuses_changes: true, ..fake.resource("db", None) });
    let g = g.build().unwrap();
    let s = store("busy-foreign");
    assert!(apply(&g, &s, 8).await.0.ok());
    {
        let mut cloud = fake.cloud();
        let db = cloud.objects.get_mut("db").unwrap();
        db.attrs.insert("size".into(), "large".into());
        db.tags.insert(TAG_PROJECT.into(), "someone-else".into());
        cloud.pending_reads.insert("db".into(), 40);
        cloud.log.clear();
    }
    let (report, _) = apply(&g, &s, 8).await;
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(fake.cloud().log.len(), 1, "one read, no wait: {:?}", fake.cloud().log);
}

#[tokio::test(start_paused = true)]
async fn plan_replaces_only_what_reads_a_new_dependency_in_a_field_that_cannot_change() {
    let fake = Fake::default();
    let mut g = GraphBuilder::default();
    g.add_after("db", "t-db", &[], fake.resource("db", None));
    g.add_after("app", "t-app", &[], fake.resource("app", None));
    let s = store("new-dependency");
    assert!(apply(&g.build().unwrap(), &s, 8).await.0.ok());

    // `db` now comes after a new node it does not read; `app` reads the new node's id in
    // a field that forces replacement.
    let mut g = GraphBuilder::default();
    g.add_after("logs", "t-logs", &[], fake.resource("logs", None));
    g.add_after("db", "t-db", &["logs"], fake.resource("db", None));
    g.add_after("app", "t-app", &["logs"], fake.resource("app", Some("logs")));
    let g = g.build().unwrap();
    let events = Recorder::default();
    let (planned, report) = Engine::new(&g, opts(8), &events, CancelToken::default()).plan(&s.read().unwrap()).await;
    assert!(report.ok(), "{:?}", report.failures);
    let change = |n: &str| planned.iter().find(|p| p.node == n).unwrap().change.clone();
    assert_eq!(change("logs"), Change::Create);
    assert_eq!(change("db"), Change::NoChange, "only ordered after it");
    let Change::Replace { diffs } = change("app") else { panic!("{:?}", change("app")) };
    assert_eq!((diffs[0].field.as_str(), diffs[0].to.as_str()), ("parent", KNOWN_AFTER_CREATE));
}
